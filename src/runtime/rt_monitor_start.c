/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting an enclave (rt_monitor.h): the EIF opened from a stable copy and
 * re-measured, a CID, a name and a uid range taken under the runtime
 * directory's lock, cgroups, the NSM module and endpoint, the console, the
 * vsock broker, and init started in the sandbox; and the teardown that
 * undoes all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <cloister/eif.h>
#include <cloister/vsock.h>

#include "attest_ca/attest_issue.h"
#include "base/log.h"
#include "base/num.h"
#include "nitro_cli/nitro_errors.h"
#include "nsm_device/nsm_endpoint.h"
#include "nsm_device/nsm_module.h"
#include "rt_allocator.h"
#include "rt_cgroup.h"
#include "rt_console.h"
#include "rt_cpus.h"
#include "rt_proc_view.h"
#include "rt_sandbox.h"
#include "rt_vsock_supervisor.h"
#include "rt_state.h"
#include "rt_util.h"
#include "vsock/vsock_core.h"
#include "vsock_broker/vsock_broker.h"

#include "rt_monitor_internal.h"

/* ---- start ------------------------------------------------------------- */

static const char *exe_dir(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    return buf;
}

int mon_boot_timeout_ms(struct monitor *m)
{
    const char *env = getenv("CLOISTER_BOOT_TIMEOUT_MS");
    if (env && *env) {
        uint64_t v;
        if (num_parse_u64(env, 24ll * 3600 * 1000, &v) == 0 && v > 0)
            return (int)v;
    }
    /* nitro-cli's calculate_necessary_timeout: 90 s per started 6 GiB of
     * EIF plus 90 s per started 100 GiB of memory. */
    uint64_t size = eif_file_size(m->eif);
    uint64_t a = (size + (6ull << 30) - 1) / (6ull << 30);
    uint64_t b = (m->memory_mib + 100 * 1024 - 1) / (100 * 1024);
    if (a == 0)
        a = 1;
    if (b == 0)
        b = 1;
    return (int)(90000 * (a + b));
}

/*
 * The bytes measured must be the bytes unpacked. eif_open() measures the
 * file now and the sandbox reads the ramdisks from it again later: whoever
 * can write the file (its owner when run-enclave is run for them by root, a
 * group, FUSE) could swap the ramdisks in between, and the enclave would
 * run code its PCRs do not describe (security review S3). A file only root
 * can change is used in place (through our descriptor, so a rename of the
 * path changes nothing); any other is first copied into a sealed memfd,
 * which nobody can write any more. Writes *path_out ("/proc/self/fd/N")
 * and *fd_out (kept open for the monitor's life); leaves them alone when
 * the file cannot be opened (eif_open then reports it).
 */
static bool only_root_can_write(int fd, const struct stat *st)
{
    if (st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)))
        return false;
    /* an access ACL may grant write to others */
    if (fgetxattr(fd, "system.posix_acl_access", NULL, 0) >= 0 || errno == ERANGE)
        return false;
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0)
        return false;
    /* file systems whose content another party serves */
    switch ((unsigned long)fs.f_type) {
    case 0x65735546UL: /* FUSE */
    case 0x6969UL:     /* NFS */
    case 0xFF534D42UL: /* CIFS */
    case 0xFE534D42UL: /* SMB2 */
    case 0x01021997UL: /* 9P */
        return false;
    default:
        return true;
    }
}

static int stable_eif(struct monitor *m, char *path_out, size_t cap, int *fd_out)
{
    int fd = open(m->eif_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    if (!only_root_can_write(fd, &st)) {
        int mfd = memfd_create("cloister-eif", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0) {
            close(fd);
            return mon_status_error(m, E_FILE_OPERATION, "cannot copy '%s': memfd: %s", m->eif_path,
                                strerror(errno));
        }
        for (;;) {
            ssize_t n = sendfile(mfd, fd, NULL, 1 << 30);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                int e = errno;
                close(fd);
                close(mfd);
                return mon_status_error(m, E_FILE_OPERATION, "cannot copy '%s': %s", m->eif_path,
                                    strerror(e));
            }
            if (n == 0)
                break;
        }
        close(fd);
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
            int e = errno;
            close(mfd);
            return mon_status_error(m, E_FILE_OPERATION, "cannot seal the copy of '%s': %s",
                                m->eif_path, strerror(e));
        }
        fd = mfd;
    }
    snprintf(path_out, cap, "/proc/self/fd/%d", fd);
    *fd_out = fd;
    return 0;
}

int mon_open_and_check_eif(struct monitor *m)
{
    struct cl_error err = { 0 };
    char stable[64];
    int stable_fd = -1, src;
    if ((src = stable_eif(m, stable, sizeof(stable), &stable_fd)) != 0)
        return src;
    int orc = eif_open(stable_fd >= 0 ? stable : m->eif_path, &m->eif, &err);
    if (stable_fd >= 0)
        close(stable_fd);  /* eif_open holds its own descriptor of the same file */
    if (orc < 0)
        return mon_status_error(m, nitro_errno_of_eif_open(err.code), "%s", err.reason);
    if (!eif_crc_ok(m->eif))
        return mon_status_error(m, E_EIF_PARSING,
                            "the CRC of '%s' does not match (stored %08x, computed %08x)",
                            m->eif_path, eif_crc_stored(m->eif), eif_crc_computed(m->eif));
    if (eif_check_signature(m->eif, time(NULL), &err) < 0)
        return mon_status_error(m, E_EIF_SIGNATURE_CHECKER, "%s", err.reason);
    /* nitro-cli (PR #198): memory >= 4 x the EIF's size. */
    uint64_t size = eif_file_size(m->eif);
    uint64_t min_mib = (4 * size + MIB - 1) / MIB;
    if (m->memory_mib < min_mib)
        return mon_status_error(m, E_INSUFFICIENT_MEMORY_REQUESTED,
                            "User provided `memory` is %" PRIu64 " MB, but based on the EIF file "
                            "size, the minimum memory should be %" PRIu64 " MB",
                            m->memory_mib, min_mib);
    if (eif_ramdisk_count(m->eif) == 0)
        return mon_status_error(m, E_EIF_PARSING, "the EIF has no ramdisk");
    return 0;
}

static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".eif"))
        len -= 4;
    return strndup(base, len);
}

/* The CPUs (--cpu-ids, or --cpu-count picked among the least used of the
 * pool) and the memory, within what the allocator file gives all enclaves
 * (rt_allocator.h): E21, E22 and E27 as nitro-cli answers them. Called
 * under the runtime directory's lock; 0 or the E-number reported. */
static int check_pool(struct monitor *m, json_t *records)
{
    struct cl_error err = { 0 };
    const struct rt_cpuset *pool = &m->alloc.pool;
    if (rt_allocator_check_cpus(&m->alloc, m->cpu_count, m->cpu_ids.n ? m->cpu_ids.ids : NULL,
                                m->cpu_ids.n, &err) < 0)
        return mon_status_error(m, err.code == CL_ELIMIT ? E_INSUFFICIENT_CPUS : E_NO_SUCH_CPU_AVAILABLE,
                                "%s", err.reason);
    if (m->cpu_ids.n) {
        m->ncpus = m->cpu_ids.n;
        memcpy(m->cpus, m->cpu_ids.ids, m->ncpus * sizeof(uint32_t));
    } else {
        if (rt_state_pick_cpus(records, pool->ids, pool->n, m->cpu_count, m->cpus, &err) < 0)
            return mon_status_error(m, E_INSUFFICIENT_CPUS, "%s", err.reason);
        m->ncpus = m->cpu_count;
    }
    uint64_t used = 0;
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        json_t *mib = json_object_get(r, "MemoryMiB");
        if (json_is_integer(mib) && json_integer_value(mib) > 0)
            used += (uint64_t)json_integer_value(mib);
    }
    if (used + m->memory_mib > m->alloc.memory_mib)
        return mon_status_error(m, E_INSUFFICIENT_MEMORY_AVAILABLE,
                                "User provided `memory` is %" PRIu64 " MB, but the enclaves' memory pool "
                                "has %" PRIu64 " MB left (memory_mib %" PRIu64 " in %s, %" PRIu64
                                " MB used by running enclaves)", m->memory_mib,
                                m->alloc.memory_mib > used ? m->alloc.memory_mib - used : 0,
                                m->alloc.memory_mib, m->alloc.path[0] ? m->alloc.path : "the defaults",
                                used);
    return 0;
}

int mon_allocate(struct monitor *m)
{
    struct cl_error err = { 0 };
    json_t *records = NULL;
    int rc = 0;
    if (rt_allocator_load(&m->alloc, &err) < 0)
        return mon_status_error(m, err.code == CL_EFORMAT ? E_INVALID_CPU_CONFIGURATION : E_FILE_OPERATION,
                                "%s", err.reason);
    char *base = m->want_name ? strdup(m->want_name) : default_name(m->eif_path);
    char name[300];
    if (!base)
        return mon_status_error(m, E_UNSPECIFIED, "out of memory");
    if (rt_state_open(true, &m->st, &err) < 0) {
        free(base);
        return mon_status_error(m, E_FILE_OPERATION, "%s", err.reason);
    }
    if (rt_state_lock(m->st, &err) < 0) {
        free(base);
        return mon_status_error(m, E_LOCK_ACQUIRE, "%s", err.reason);
    }
    if (rt_state_list(m->st, &records, &err) < 0) {
        rc = mon_status_error(m, E_READ_FROM_DISK, "%s", err.reason);
        goto out;
    }
    uint32_t slot;
    if (rt_state_allocate(records, m->want_cid, base, &m->cid, name, sizeof(name), &slot, &err) < 0) {
        if (err.code == CL_EEXIST)
            rc = mon_status_error(m, E_IOCTL_ENCLAVE_START, "%s", err.reason);
        else
            rc = mon_status_error(m, E_ENCLAVE_NAMING, "%s", err.reason);
        goto out;
    }
    m->uid_base = RT_UID_BASE + slot * RT_UID_RANGE;
    if ((rc = check_pool(m, records)) != 0)
        goto out;
    m->enclave_uid = nsm_module_new_enclave_id();
    nsm_module_format_id(m->id, m->host.instance_id, m->enclave_uid);
    m->rec = mon_new_record(m, name);
    if (rt_state_enclave_dir(m->st, m->id, m->dir, sizeof(m->dir), &err) < 0 ||
        rt_state_write(m->st, m->rec, &err) < 0) {
        json_decref(m->rec);
        m->rec = NULL;
        rc = mon_status_error(m, E_FILE_OPERATION, "%s", err.reason);
        goto out;
    }
out:
    rt_state_unlock(m->st);
    json_decref(records);
    free(base);
    return rc;
}

/* Everything the enclave used goes; the record last. */
void mon_teardown(struct monitor *m, bool remove_record)
{
    if (m->init_pid > 0) {
        kill(m->init_pid, SIGKILL);
        while (waitpid(m->init_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        m->init_pid = -1;
    }
    vsock_broker_free(m->vsock);
    m->vsock = NULL;
    rt_cgroup_free(m->cg);
    m->cg = NULL;
    if (m->console)
        rt_console_close_clients(m->console);
    if (m->init_status_rd >= 0)
        close(m->init_status_rd);
    m->init_status_rd = -1;
    if (remove_record && m->st && m->id[0])
        rt_state_remove(m->st, m->id, NULL);
}


/* init's heartbeat is its first vsock call: the supervisor serves them
 * from now on (rt_vsock_supervisor.h). Takes notify_fd. */
static int start_vsock_supervisor(struct monitor *m, int notify_fd)
{
    struct cl_error err = { 0 };
    char broker[4200];
    snprintf(broker, sizeof(broker), "%s/broker", vsock_broker_host_dir(m->vsock));
    int rc = rt_vsock_supervisor_start(notify_fd, m->init_pid, broker, &m->vsock_pid, &err);
    close(notify_fd);
    if (rc < 0)
        return mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "vsock: %s", err.reason);
    return 0;
}

/* The console's terminal and socket, and init's status pipe (its write
 * end in *status_wr, for the sandbox). 0 or the E-number reported. */
static int open_console(struct monitor *m, int *status_wr)
{
    struct cl_error err = { 0 };
    char path[4200];
    /* The console: a terminal, as /dev/console is on Nitro (rt_console.h). */
    m->console = rt_console_new();
    if (!m->console)
        return mon_status_error(m, E_UNSPECIFIED, "console: out of memory");
    if (rt_console_open_pty(m->uid_base, &m->console_rd, &m->console_wr, m->console_path,
                            sizeof(m->console_path), &err) < 0)
        return mon_status_error(m, E_UNSPECIFIED, "console: %s", err.reason);
    /* Init reports how its command ended on this pipe (docs/runtime.md). */
    int sp[2];
    if (pipe2(sp, O_CLOEXEC) < 0)
        return mon_status_error(m, E_UNSPECIFIED, "init status pipe: %s", strerror(errno));
    m->init_status_rd = sp[0];
    *status_wr = sp[1];
    fcntl(sp[0], F_SETFL, O_NONBLOCK);
    if (m->debug && (rt_path(path, sizeof(path), &err, "%s/console.sock", m->dir) < 0 ||
                     (m->console_listen = rt_unix_listen(path, 0600, &err)) < 0)) {
        close(sp[1]);
        *status_wr = -1;
        return mon_status_error(m, E_SOCKET, "%s", err.reason);
    }
    return 0;
}

/*
 * Everything the enclave gets from the host by a bind mount comes from a
 * tmpfs of the monitor's own, so that no host path shows in the enclave's
 * /proc/self/mountinfo (the kernel prints a bind's source as its path in
 * its file system). The monitor moves into a mount namespace of its own
 * (host mounts still reach it; its own reach nobody) and mounts a small
 * tmpfs over $RUN/vsock/ctl, which holds the NSM endpoint ("nsm"), the
 * preload library's copy and the vsock broker's directory (<cid>/broker).
 * Host root reaches them through /proc/<monitor>/root; other host users
 * cannot reach them at all. Writes the tmpfs's path; 0 or the E-number.
 */
static int private_doors(struct monitor *m, char *doors, size_t cap)
{
    struct cl_error err = { 0 };
    const char *run = rt_state_dir(m->st);
    const char *why = NULL;
    int rc = vcore_ensure_host_dirs(run, &why);
    if (rc < 0)
        return mon_status_error(m, E_FILE_OPERATION, "%s (%s): %s", why, run, strerror(-rc));
    if (rt_path(doors, cap, &err, "%s/" VCORE_CTL_DIR, run) < 0)
        return mon_status_error(m, E_FILE_OPERATION, "%s", err.reason);
    if (mkdir(doors, 0700) < 0 && errno != EEXIST)
        return mon_status_error(m, E_FILE_OPERATION, "cannot create %s: %s", doors, strerror(errno));
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "cannot make the monitor's mount namespace: %s",
                                strerror(errno));
    if (mount("tmpfs", doors, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0700,size=4m,nr_inodes=64") < 0)
        return mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "cannot mount the monitor's tmpfs on %s: %s",
                                doors, strerror(errno));
    return 0;
}

/* src copied to a new file dst (0644); 0 or -1. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = in < 0 || out < 0 ? -1 : 0;
    while (rc == 0) {
        ssize_t n = sendfile(out, in, NULL, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = n < 0 ? -1 : 1;
    }
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0)
        rc = -1;
    return rc == 1 ? 0 : -1;
}

/* The enclave's cgroups, with the monitor in its leaf; 0 or the E-number. */
static int start_cgroups(struct monitor *m)
{
    struct cl_error err = { 0 };
    if (rt_cgroup_create(m->id, m->cpus, m->ncpus, m->memory_mib * MIB, &m->alloc, &m->cg, &err) < 0)
        return mon_status_error(m, E_UNSPECIFIED, "cgroups: %s", err.reason);
    /* From here on the monitor's work for this enclave is the enclave's. */
    rt_cgroup_enter_monitor(m->cg);
    json_object_set_new(json_object_get(m->rec, "Internal"), "Cgroups", rt_cgroup_paths_json(m->cg));
    json_t *na = rt_cgroup_not_applied_json(m->cg);
    if (json_array_size(na))
        json_object_set_new(m->rec, "LimitsNotApplied", na);
    else
        json_decref(na);
    mon_save_record(m);
    m->oom_base = rt_cgroup_oom_kills(m->cg);
    return 0;
}

/* The NSM module of this enclave; 0 or the E-number. */
static int start_nsm_module(struct monitor *m)
{
    struct cl_error err = { 0 };
    /* The NSM of this enclave, from our own measurement. The CA's reasons
     * name its directory or files, and a missing CA says how to make one
     * (run-enclave made it if there was none: attest_ca_ensure()). */
    struct attest_signer *signer = NULL;
    if (mon_signer_take(m, &signer, &err) < 0)
        return mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "%s", err.reason);
    struct nsm_enclave_config ncfg = {
        .measurements = eif_measurements(m->eif),
        .debug_mode = m->debug,
        .host = &m->host,
        .enclave_id = m->enclave_uid,
    };
    if (nsm_module_new_enclave(&ncfg, signer, &m->nsm, &err) < 0)
        return mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "NSM: %s", err.reason);
    if (nsm_module_set_rotation(m->nsm, m->ca_dir, &err) < 0)
        return mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "NSM: %s", err.reason);
    return 0;
}

int mon_start(struct monitor *m)
{
    struct cl_error err = { 0 };
    char path[4200], exe[4096], blob[4200];

    /* cgroups first: the sandbox puts init there before it unpacks. */
    int rc = start_cgroups(m);
    if (rc != 0 || (rc = start_nsm_module(m)) != 0)
        return rc;
    json_t *in = json_object_get(m->rec, "Internal");

    char doors[4200];
    if ((rc = private_doors(m, doors, sizeof(doors))) != 0)
        return rc;

    /* vsock: this enclave's broker (docs/vsock.md); the heartbeat comes to it. */
    if (vsock_broker_new(rt_state_dir(m->st), m->cid, &m->vsock, &err) < 0)
        return mon_status_error(m, E_SOCKET, "vsock: %s", err.reason);
    m->heartbeat_fd = vsock_broker_heartbeat_fd(m->vsock);

    char nsm_path[4200];
    if (rt_path(nsm_path, sizeof(nsm_path), &err, "%s/nsm", doors) < 0 ||
        (m->nsm_listen = rt_unix_listen(nsm_path, 0666, &err)) < 0)
        return mon_status_error(m, E_SOCKET, "%s", err.reason);

    /* The machine as the enclave sees it (rt_proc_view.h). */
    char view[4200], boot_id[4200];
    struct cl_error why = { 0 };
    bool have_view = rt_proc_view_find(view, sizeof(view), &why) == 0;
    if (!have_view)
        log_warn("%s: %s", m->id, why.reason);
    json_object_set_new(json_object_get(m->rec, "Internal"), "ProcView",
                        json_string(have_view ? view : why.reason));
    if (rt_path(boot_id, sizeof(boot_id), &err, "%s/boot_id", doors) < 0 ||
        rt_proc_view_boot_id(boot_id, &err) < 0)
        return mon_status_error(m, E_FILE_OPERATION, "%s", err.reason);

    int status_wr = -1;
    if ((rc = open_console(m, &status_wr)) != 0)
        return rc;

    /* init: $CLOISTER_INIT_BLOB, else the blobs beside this program. */
    const char *init_blob = getenv("CLOISTER_INIT_BLOB");
    if (!init_blob || !*init_blob) {
        if (!exe_dir(exe, sizeof(exe)))
            return mon_status_error(m, E_BLOBS_PATH_NOT_SET, "cannot find the monitor's directory");
        snprintf(blob, sizeof(blob), "%s/../share/cloister/blobs/init", exe);
        init_blob = blob;
    }
    if (access(init_blob, R_OK) < 0)
        return mon_status_error(m, E_BLOBS_PATH_NOT_SET, "the init blob '%s' is missing", init_blob);

    if (rt_path(path, sizeof(path), &err, "%s/root", m->dir) < 0)
        return mon_status_error(m, E_FILE_OPERATION, "%s", err.reason);
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return mon_status_error(m, E_FILE_OPERATION, "cannot create %s: %s", path, strerror(errno));

    /* The broker's directory, and the preload library that maps AF_VSOCK
     * onto it for unmodified dynamically linked programs. */
    struct rt_bind binds[3];
    size_t nbinds = 0;
    const char *extra_env[2] = { NULL, NULL };
    binds[nbinds++] = (struct rt_bind){ m->console_path, "/dev/console", false };
    binds[nbinds++] = (struct rt_bind){ vsock_broker_host_dir(m->vsock), VSOCK_ENCLAVE_DIR, true };
    char preload[4200], preload_copy[4200];
    if (exe_dir(exe, sizeof(exe)) &&
        snprintf(preload, sizeof(preload), "%s/../lib/%s", exe, RT_PRELOAD_LIBRARY) < (int)sizeof(preload) &&
        snprintf(preload_copy, sizeof(preload_copy), "%s/%s", doors, RT_PRELOAD_LIBRARY) <
            (int)sizeof(preload_copy) &&
        copy_file(preload, preload_copy) == 0) {
        snprintf(preload, sizeof(preload), "%s", preload_copy);
        binds[nbinds++] = (struct rt_bind){ preload, RT_PRELOAD_ENCLAVE_PATH, true };
        extra_env[0] = "LD_PRELOAD=" RT_PRELOAD_ENCLAVE_PATH;
    }

    struct rt_sandbox_config cfg = {
        .eif = m->eif,
        .mount_dir = path,
        .memory_mib = m->memory_mib,
        .uid_base = m->uid_base,
        .nsm_socket = nsm_path,
        .init_blob = init_blob,
        .binds = binds,
        .nbinds = nbinds,
        .extra_env = extra_env,
        .hostname = "enclave",
        .console_fd = m->console_wr,
        .status_fd = status_wr,
        .timeout_ms = mon_boot_timeout_ms(m),
        .proc_view = have_view ? view : NULL,
        .boot_id = boot_id,
    };
    pid_t pid;
    int notify_fd;
    int started = rt_sandbox_start(&cfg, m->cg, &pid, &notify_fd, &err);
    close(status_wr);
    if (started < 0) {
        if (err.code == CL_EFORMAT)
            return mon_status_error(m, E_EIF_PARSING, "%s", err.reason);
        return mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "%s", err.reason);
    }
    m->init_pid = pid;
    if ((rc = start_vsock_supervisor(m, notify_fd)) != 0)
        return rc;
    close(m->console_wr);
    m->console_wr = -1;
    json_object_set_new(in, "EnclavePID", json_integer(pid));
    json_object_set_new(in, "EnclaveStartTime", json_integer((json_int_t)rt_proc_start_time(pid)));
    json_object_set_new(in, "ImageInit", json_boolean(rt_sandbox_used_image_init));
    mon_save_record(m);
    return 0;
}

