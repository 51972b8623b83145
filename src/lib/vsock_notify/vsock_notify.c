/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's filter rules and its loop (vsock_notify.h). One thread
 * serves every notification in turn; a blocking accept that has nothing to
 * take is parked, with the supervisor's copy of the listener in the epoll
 * set, and served when a connection arrives, so it holds up nobody.
 */
#include "vsock_notify/vsock_notify.h"
#include "vsock_notify/vsock_notify_internal.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- the rules ------------------------------------------------------------- */

/* An int argument compared on its low 32 bits: the kernel truncates the
 * register, a filter sees all 64 (docs/security-review.md S2). */
#define ARG32(n, v) SCMP_CMP64((n), SCMP_CMP_MASKED_EQ, 0xffffffffu, (scmp_datum_t)(v))

int vsock_notify_add_rules(scmp_filter_ctx ctx, struct cl_error *err)
{
    static const int always[] = {
        SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept),
        SCMP_SYS(accept4), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
    };
    /* The SOL_SOCKET options an emulated socket answers differently. */
    static const int sol_socket_opts[] = { SO_TYPE, SO_ERROR, SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN };
    int r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(socket), 1, ARG32(0, AF_VSOCK));
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), SCMP_SYS(socketpair), 1,
                             ARG32(0, AF_VSOCK));
    for (size_t i = 0; r == 0 && i < sizeof(always) / sizeof(always[0]); i++)
        r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, always[i], 0);
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getsockopt), 1, ARG32(1, AF_VSOCK));
    for (size_t i = 0; r == 0 && i < sizeof(sol_socket_opts) / sizeof(sol_socket_opts[0]); i++)
        r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getsockopt), 2, ARG32(1, SOL_SOCKET),
                             ARG32(2, sol_socket_opts[i]));
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(setsockopt), 1, ARG32(1, AF_VSOCK));
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(ioctl), 1,
                             ARG32(1, IOCTL_VM_SOCKETS_GET_LOCAL_CID));
    if (r < 0)
        return cl_fail(err, CL_EIO, "seccomp: cannot add the vsock rules: %s", strerror(-r));
    return 0;
}

/* ---- parked accepts -------------------------------------------------------- */

struct vn_parked {
    struct vn_parked *next;
    struct vn_call call;
    int mbox;
};

#define SWEEP_MS 200   /* how often parked calls are checked for having gone */

void vn_park(struct vn_call *c, int mbox)
{
    struct vn_parked *p = malloc(sizeof(*p));
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
    if (!p || epoll_ctl(c->s->ep, EPOLL_CTL_ADD, mbox, &ev) < 0) {
        int e = p ? -errno : -ENOMEM;
        free(p);
        vcore_forget(mbox);
        close(mbox);
        vn_reply(c, 0, e);
        return;
    }
    p->call = *c;
    p->mbox = mbox;
    c->pidfd = -1;   /* the parked call keeps it */
    p->next = c->s->parked;
    c->s->parked = p;
}

static void unpark(struct vn_server *s, struct vn_parked *p)
{
    for (struct vn_parked **pp = &s->parked; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    epoll_ctl(s->ep, EPOLL_CTL_DEL, p->mbox, NULL);
    vcore_forget(p->mbox);
    close(p->mbox);
    if (p->call.pidfd >= 0)
        close(p->call.pidfd);
    free(p);
}

/* Calls that were interrupted (a signal: the kernel restarts them as new
 * notifications) or whose process died. */
static void sweep(struct vn_server *s)
{
    struct vn_parked *p = s->parked;
    while (p) {
        struct vn_parked *next = p->next;
        if (!vn_valid(&p->call))
            unpark(s, p);
        p = next;
    }
}

/* ---- the loop -------------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receives and serves one notification; -1 when the listener failed. */
static int serve_one(struct vn_server *s, struct seccomp_notif *req, size_t req_size)
{
    memset(req, 0, req_size);   /* the kernel requires it */
    if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
        return errno == ENOENT || errno == EINTR ? 0 : -1;
    struct vn_call c = { .s = s, .id = req->id, .pid = (pid_t)req->pid, .pidfd = -1,
                         .nr = req->data.nr };
    memcpy(c.args, req->data.args, sizeof(c.args));
    vn_handle(&c);
    if (c.pidfd >= 0)
        close(c.pidfd);
    return 0;
}

int vsock_notify_serve(int listener, const struct vsock_notify_redirect *redirects, size_t n_redirects,
                       struct cl_error *err)
{
    struct seccomp_notif_sizes sizes;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return cl_fail_errno(err, CL_EIO, "seccomp: cannot read the notification sizes");
    size_t req_size = sizes.seccomp_notif > sizeof(struct seccomp_notif)
                          ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
    struct vn_server s = { .listener = listener, .ep = epoll_create1(EPOLL_CLOEXEC),
                           .table = vn_table_new(), .redirects = redirects, .n_redirects = n_redirects };
    struct seccomp_notif *req = calloc(1, req_size);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    int rc = 0;
    if (s.ep < 0 || !s.table || !req || epoll_ctl(s.ep, EPOLL_CTL_ADD, listener, &ev) < 0) {
        rc = cl_fail(err, CL_ENOMEM, "vsock supervisor: cannot start");
        goto out;
    }
    long long last_sweep = now_ms();
    for (bool done = false; !done;) {
        struct epoll_event evs[16];
        int n = epoll_wait(s.ep, evs, 16, s.parked ? SWEEP_MS : -1);
        if (n < 0 && errno != EINTR) {
            rc = cl_fail_errno(err, CL_EIO, "vsock supervisor: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            struct vn_parked *p = evs[i].data.ptr;
            if (p) {
                if (vn_retry_accept(&p->call, p->mbox) == 0)
                    unpark(&s, p);
                continue;
            }
            if ((evs[i].events & EPOLLIN) && serve_one(&s, req, req_size) < 0) {
                rc = cl_fail_errno(err, CL_EIO, "vsock supervisor: cannot receive a notification");
                done = true;
            } else if (!(evs[i].events & EPOLLIN) && (evs[i].events & (EPOLLHUP | EPOLLERR))) {
                done = true;   /* no process uses the filter any more */
            }
        }
        if (s.parked && now_ms() - last_sweep >= SWEEP_MS) {
            sweep(&s);
            last_sweep = now_ms();
        }
        vn_table_prune(s.table, false);
    }
out:
    while (s.parked)
        unpark(&s, s.parked);
    if (s.table) {
        vn_table_prune(s.table, true);
        vn_table_free(s.table);
    }
    if (s.ep >= 0)
        close(s.ep);
    free(req);
    return rc;
}
