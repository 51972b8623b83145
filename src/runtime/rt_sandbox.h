/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starts an enclave's init inside its sandbox. Called by the monitor, which
 * is host root and stays outside.
 *
 * The child is cloned into new mount, PID, network, IPC and UTS
 * namespaces (all owned by the host's user namespace, so that nothing the
 * enclave's own user namespace grants has power over them). While it is
 * still host root, the child:
 *   1. waits until the monitor has put it into the enclave's cgroups, then
 *      enters a new cgroup namespace (so the ramdisk pages it unpacks are
 *      charged to the enclave's memory limit);
 *   2. mounts a private tmpfs (size = the enclave's memory) on mount_dir,
 *      visible in its mount namespace only, and unpacks every ramdisk of
 *      the EIF there (rt_unpack.h) -- bootstrap (init, nsm.ko, dev) and
 *      customer (rootfs/, cmd, env) as nitro-cli lays them out;
 *   3. builds the root from rootfs/: /dev as a read-only tmpfs holding
 *      null, zero, full, random, urandom and tty bind-mounted from the host,
 *      nsm = the monitor's NSM endpoint socket, the binds of the vsock
 *      emulation, fd/stdin/stdout/stderr links and a tmpfs /dev/shm; proc
 *      (with the host-revealing files masked); tmpfs /tmp (nosuid, nodev,
 *      noexec, as AWS's init) and /run; /cmd and /env copied from the
 *      ramdisk for init to read (extra_env lines appended to /env);
 *   4. brings the loopback interface up (the only one in its network
 *      namespace), sets the host name, pivot_root()s into the root and
 *      detaches the old one;
 *   5. unshares a user namespace, in which the monitor maps uids and gids
 *      0-65535 to uid_base..uid_base+65535 (unprivileged on the host), and
 *      becomes its root;
 *   6. drops every capability (bounding, ambient, permitted, effective,
 *      inheritable; securebits NOROOT locked), sets no_new_privs and
 *      PR_SET_PDEATHSIG (SIGKILL when the monitor dies), loads the seccomp
 *      filter (rt_seccomp.h), and executes init with stdin, stdout and
 *      stderr on console_fd and its status pipe as fd 3
 *      (CLOISTER_STATUS_FD=3 in its environment).
 * Init is the image's /init when it is Cloister's (cloister-init); AWS's
 * init (or any other) needs privileges the sandbox never grants, so
 * cloister-init from the blobs directory (init_blob) runs instead. The
 * PCRs are the image's either way: the monitor measured the file.
 */
#ifndef CLOISTER_RT_SANDBOX_H
#define CLOISTER_RT_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cloister/eif.h>
#include <cloister/error.h>

#include "rt_cgroup.h"

/* A bind mount into the enclave: host path -> path inside the enclave root. */
struct rt_bind {
    const char *host;
    const char *enclave;   /* absolute; under /dev or /run, or a file of the image's tree
                              (created without following the image's links) */
    bool readonly;
};

struct rt_sandbox_config {
    const struct eif *eif;          /* ramdisks come from here */
    const char *mount_dir;          /* empty host directory: the private tmpfs's mount point */
    uint64_t memory_mib;            /* bound of the tmpfs mounts */
    uid_t uid_base;                 /* enclave uid 0 = this host uid */
    const char *nsm_socket;         /* host path of the NSM endpoint -> /dev/nsm */
    const char *init_blob;          /* cloister-init, when the image's init is not Cloister's */
    const struct rt_bind *binds;    /* more binds (vsock emulation, preload library) */
    size_t nbinds;
    const char *const *extra_env;   /* NULL-terminated lines appended to /env; may be NULL */
    const char *hostname;
    int console_fd;                 /* init's stdin, stdout and stderr (the console's terminal) */
    int status_fd;                  /* init's status pipe, its fd $CLOISTER_STATUS_FD; -1: none */
    int timeout_ms;                 /* for the whole preparation */
    const char *proc_view;          /* lxcfs's proc/ directory, whose files replace the
                                       host-wide ones of /proc (rt_proc_view.h); NULL: none */
    const char *boot_id;            /* a file holding the enclave's own boot_id */
};

/*
 * Starts the enclave; returns once init has been executed (or failed).
 * On success *pid is init's host pid (the monitor's child) and *notify_fd
 * the listener of its seccomp filter's vsock notifications, which must be
 * served at once (lib/vsock_notify): init's first vsock call waits for it.
 * On failure the child is gone and err says why (CL_EFORMAT: the image;
 * others: the host).
 */
CL_MUST_USE int rt_sandbox_start(const struct rt_sandbox_config *cfg, struct rt_cgroup *cg,
                                 pid_t *pid, int *notify_fd, struct cl_error *err);

/* Whether the image's init is used (1) or the blob (0); set by the last start. */
extern int rt_sandbox_used_image_init;

#endif
