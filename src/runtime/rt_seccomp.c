/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_seccomp.h"

#include "vsock_notify/vsock_notify.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/socket.h>

#include <linux/netlink.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Refused outright, whatever the arguments. */
const char *const rt_seccomp_denied[] = {
    /* file systems and namespaces */
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    /* tracing and other processes' memory */
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    /* the kernel itself */
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "bpf", "perf_event_open", "userfaultfd", "iopl", "ioperm", "syslog",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "lookup_dcookie", "nfsservctl", "vhangup", "uselib",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "fanotify_init",
    /* keyrings */
    "add_key", "request_key", "keyctl",
    /* io_uring: its SQEs open sockets and files without passing this filter */
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    NULL,
};

static const int ns_flags[] = {
    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
    CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME,
};

int rt_seccomp_load(int *notify_fd, struct cl_error *err)
{
    int rc = 0;
    *notify_fd = -1;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return cl_fail(err, CL_ENOMEM, "seccomp_init failed");
    /* Other architectures' syscall numbers mean other things: kill. */
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0) {
        rc = cl_fail(err, CL_EIO, "seccomp: cannot set the bad-architecture action");
        goto out;
    }
    for (size_t i = 0; rt_seccomp_denied[i]; i++) {
        int nr = seccomp_syscall_resolve_name(rt_seccomp_denied[i]);
        if (nr == __NR_SCMP_ERROR)
            continue;  /* not on this architecture */
        int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        if (r < 0 && r != -EEXIST) {
            rc = cl_fail(err, CL_EIO, "seccomp: cannot refuse %s: %d", rt_seccomp_denied[i], r);
            goto out;
        }
    }
    /* clone with any namespace flag (the flags are clone's first argument
     * on x86_64 and aarch64). clone3 passes them in memory, out of a
     * filter's reach: it gets ENOSYS, so that libc falls back to clone. */
    for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, (scmp_datum_t)ns_flags[i],
                                     (scmp_datum_t)ns_flags[i])) < 0) {
            rc = cl_fail(err, CL_EIO, "seccomp: cannot filter clone");
            goto out;
        }
    }
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0) {
        rc = cl_fail(err, CL_EIO, "seccomp: cannot filter clone3");
        goto out;
    }
    /* vsock: served by the monitor's supervisor on the emulation, never the
     * host's AF_VSOCK (docs/vsock.md §6). */
    if ((rc = vsock_notify_add_rules(ctx, err)) < 0)
        goto out;
    /* Sockets: no packet sockets; no raw sockets but netlink's (glibc's
     * getifaddrs and iproute2 open NETLINK_ROUTE as SOCK_RAW); of netlink,
     * NETLINK_ROUTE alone: the enclave's own links, addresses and routes
     * (its network namespace). Every other protocol can observe or act on
     * the host beyond the namespace (KOBJECT_UEVENT receives the host's
     * device events, SOCK_DIAG, AUDIT, CONNECTOR, GENERIC's families...),
     * and an enclave needs none: EPERM (docs/runtime.md, "Netlink").
     * The family is an `int`: the kernel truncates the 64-bit register to
     * its low 32 bits (SYSCALL_DEFINE's casts) while a filter sees all 64,
     * so an equality must mask the high half off, or
     * socket(AF_VSOCK | 1ULL << 32, ...) passes the filter and still makes
     * an AF_VSOCK socket (security review, docs/security-review.md S2).
     * An inequality compares all 64 bits on purpose: a value with high bits
     * set is "not AF_NETLINK" (refused if raw) and "not NETLINK_ROUTE"
     * (refused), failing closed. */
    struct scmp_arg_cmp is_packet = { 0, SCMP_CMP_MASKED_EQ, 0xffffffffu, AF_PACKET };
    struct scmp_arg_cmp is_netlink = { 0, SCMP_CMP_MASKED_EQ, 0xffffffffu, AF_NETLINK };
    struct scmp_arg_cmp not_netlink = { 0, SCMP_CMP_NE, AF_NETLINK, 0 };
    struct scmp_arg_cmp is_raw = { 1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW };
    struct scmp_arg_cmp is_sock_packet = { 1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_PACKET };
    struct scmp_arg_cmp not_route = { 2, SCMP_CMP_NE, NETLINK_ROUTE, 0 };
    struct { unsigned n; struct scmp_arg_cmp cmp[2]; } sock_rules[] = {
        { 1, { is_packet } },
        { 2, { not_netlink, is_raw } },
        { 1, { is_sock_packet } },
        { 2, { is_netlink, not_route } },
    };
    for (size_t i = 0; i < sizeof(sock_rules) / sizeof(sock_rules[0]); i++) {
        if (seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), sock_rules[i].n,
                                   sock_rules[i].cmp) < 0 ||
            seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socketpair),
                                   sock_rules[i].n, sock_rules[i].cmp) < 0) {
            rc = cl_fail(err, CL_EIO, "seccomp: cannot filter socket");
            goto out;
        }
    }
    int r = seccomp_load(ctx);
    if (r < 0) {
        errno = -r;
        rc = cl_fail_errno(err, CL_EIO, "seccomp: cannot load the filter");
    } else if ((*notify_fd = seccomp_notify_fd(ctx)) < 0) {
        rc = cl_fail(err, CL_EIO, "seccomp: the filter has no notification descriptor");
    }
out:
    seccomp_release(ctx);
    return rc;
}
