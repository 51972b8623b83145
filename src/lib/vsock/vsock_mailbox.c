/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated vsock's mailboxes (docs/vsock.md, "Wire formats" and
 * "Flows"): a listener's SOCK_DGRAM Unix socket, the hello a connector posts
 * to it with its end of a socketpair, and the one-fd messages that carry
 * them, with the sender's credentials.
 */
#include "vsock/vsock_core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vsock/vsock_core_internal.h"
#include "vsock/vsock_sys.h"

/* ---- messages with one fd ------------------------------------------------ */

int vcore_send_msg(int sock, const uint8_t *buf, size_t len, int fd, int flags)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    for (;;) {
        ssize_t r = sys_sendmsg(sock, &m, flags | MSG_NOSIGNAL);
        if (r == -EINTR)
            continue;
        return (int)r;
    }
}

/* Receives one message; collects at most one fd and the sender's credentials. */
static int recv_full(int sock, uint8_t *buf, size_t len, int *fd, struct ucred *cred, int flags)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union {
        char buf[CMSG_SPACE(sizeof(int) * 8) + CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } ctl;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf) };
    ssize_t r;
    do
        r = sys_recvmsg(sock, &m, flags | MSG_CMSG_CLOEXEC);
    while (r == -EINTR);
    *fd = -1;
    if (cred)
        cred->pid = 0, cred->uid = (uid_t)-1, cred->gid = (gid_t)-1;
    if (r < 0)
        return (int)r;
    int nfds = 0;
    bool bad = (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < n; i++) {
                int f;
                memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (nfds++ == 0)
                    *fd = f;
                else
                    vcore_sys_close(f);   /* only one fd per message */
            }
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && cred &&
                   c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            memcpy(cred, CMSG_DATA(c), sizeof(*cred));
        }
    }
    if (nfds > 1)
        bad = true;
    if (bad) {
        if (*fd >= 0)
            vcore_sys_close(*fd);
        *fd = -1;
        return -EPROTO;
    }
    return (int)r;
}

int vcore_recv_msg(int sock, uint8_t *buf, size_t len, int *fd, int flags)
{
    return recv_full(sock, buf, len, fd, NULL, flags);
}

int vcore_check_stream(int fd)
{
    int v = 0;
    socklen_t l = sizeof(v);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) < 0 || v != AF_UNIX)
        return -EPROTO;
    l = sizeof(v);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) < 0 || v != SOCK_STREAM)
        return -EPROTO;
    l = sizeof(v);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) < 0 || v != 0)
        return -EPROTO;
    return 0;
}

int vcore_check_unbound_dgram(int fd)
{
    int v = 0;
    socklen_t l = sizeof(v);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) < 0 || v != AF_UNIX)
        return -EPROTO;
    l = sizeof(v);
    if (sys_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) < 0 || v != SOCK_DGRAM)
        return -EPROTO;
    struct sockaddr_un sa;
    socklen_t salen = sizeof(sa);
    if (sys_ret(syscall(SYS_getsockname, fd, &sa, &salen)) < 0 || salen != sizeof(sa_family_t))
        return -EPROTO;   /* already bound (a name, or autobound) */
    return 0;
}

/* ---- mailboxes ------------------------------------------------------------ */

/* Is something bound at the socket file sa? 1 yes, 0 stale (or not a socket). */
static int alive(const struct sockaddr_un *sa, socklen_t salen)
{
    int p = sys_socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (p < 0)
        return 1;   /* cannot tell: assume in use, never remove */
    int r = sys_connect(p, sa, salen);
    vcore_sys_close(p);
    return r == -ECONNREFUSED ? 0 : 1;
}

int vcore_mailbox_bind(const char *dir, int s, uint32_t *port, uint64_t *dev, uint64_t *ino,
                       const char **why)
{
    int rc, lockfd = -1, dirfd = -1;
    char lockpath[PATH_MAX];
    if (snprintf(lockpath, sizeof(lockpath), "%s/" VCORE_LOCK_NAME, dir) >= (int)sizeof(lockpath))
        return *why = "path too long", -ENAMETOOLONG;
    int one = 1;
    if ((rc = sys_setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) < 0)
        return *why = "cannot set SO_PASSCRED", rc;
    lockfd = sys_openat(AT_FDCWD, lockpath, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (lockfd < 0) {
        *why = "cannot open the vsock directory's lock";
        return lockfd;
    }
    /* Serialises probe-remove-bind among binders of this directory. */
    while ((rc = sys_flock(lockfd, LOCK_EX)) < 0) {
        if (rc != -EINTR) {
            *why = "cannot lock the vsock directory";
            goto out;
        }
    }
    /* Linux vsock: ports up to LAST_RESERVED_PORT (1023) need
     * CAP_NET_BIND_SERVICE; here, root (the parent's privileged services). */
    if (*port <= VCORE_LAST_RESERVED_PORT && geteuid() != 0) {
        *why = "ports below 1024 are reserved for root";
        rc = -EACCES;
        goto out;
    }
    bool any = *port == VMADDR_PORT_ANY;
    rc = -EADDRINUSE;
    for (int attempt = 0; attempt < (any ? 64 : 1); attempt++) {
        uint32_t p = any ? vcore_random_port() : *port;
        char name[16];
        snprintf(name, sizeof(name), "%u", p);
        struct sockaddr_un sa;
        socklen_t salen;
        if (dirfd >= 0)
            vcore_sys_close(dirfd);
        if ((rc = vcore_sun_of(dir, name, &sa, &salen, &dirfd)) < 0) {
            *why = "socket path too long";
            goto out;
        }
        rc = sys_bind(s, &sa, salen);
        if (rc == -EADDRINUSE && !alive(&sa, salen)) {
            /* A listener that went away without removing its file. */
            int u = sys_unlink(sa.sun_path);
            if (u == 0 || u == -ENOENT)
                rc = sys_bind(s, &sa, salen);
        }
        if (rc == -EADDRINUSE)
            continue;
        if (rc < 0) {
            *why = rc == -EINVAL ? "socket already bound" : "cannot bind the listener's socket";
            goto out;
        }
        /* Any host process may connect (the parent is the whole host). */
        struct stat st;
        if ((rc = sys_chmod(sa.sun_path, 0666)) < 0 ||
            (rc = sys_stat(sa.sun_path, &st, false)) < 0) {
            sys_unlink(sa.sun_path);
            *why = "cannot set up the listener's socket file";
            goto out;
        }
        *dev = (uint64_t)st.st_dev;
        *ino = (uint64_t)st.st_ino;
        *port = p;
        rc = 0;
        goto out;
    }
    *why = "address already in use";
out:
    if (dirfd >= 0)
        vcore_sys_close(dirfd);
    if (lockfd >= 0)
        vcore_sys_close(lockfd);   /* releases the flock */
    return rc;
}

int vcore_mailbox_open(const char *dir, uint32_t *port, int *fd_out, uint64_t *dev,
                       uint64_t *ino, const char **why)
{
    *fd_out = -1;
    int s = sys_socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return *why = "cannot create a socket", s;
    int rc = vcore_mailbox_bind(dir, s, port, dev, ino, why);
    if (rc < 0) {
        vcore_sys_close(s);
        return rc;
    }
    *fd_out = s;
    return 0;
}

int vcore_send_hello(const char *dir, uint32_t port, const struct vsock_hello *h, int conn_fd,
                     int flags, uint64_t timeout_us, const char **why)
{
    char name[16];
    snprintf(name, sizeof(name), "%u", port);
    struct sockaddr_un sa;
    socklen_t salen;
    int dirfd = -1;
    int rc = vcore_sun_of(dir, name, &sa, &salen, &dirfd);
    if (rc < 0) {
        if (rc == -ENOENT) {
            *why = "no such CID";
            return -ECONNRESET;
        }
        *why = "socket path too long";
        return rc;
    }
    if (port <= VCORE_LAST_RESERVED_PORT) {
        /*
         * The listeners' directory is world-writable (any host program may
         * listen as the parent), so the library's own refusal to bind a
         * reserved port without root is not enough: a program could make the
         * socket file itself. Only root's file counts for a reserved port; in
         * the sticky directory nobody else can replace it after this check.
         */
        struct stat st;
        if (sys_stat(sa.sun_path, &st, false) == 0 && st.st_uid != 0) {
            if (dirfd >= 0)
                vcore_sys_close(dirfd);
            *why = "the listener of a reserved port (below 1024) is not root's";
            return -ECONNRESET;
        }
    }
    int s = sys_socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        if (dirfd >= 0)
            vcore_sys_close(dirfd);
        *why = "cannot create a socket";
        return s;
    }
    if (!(flags & MSG_DONTWAIT) && timeout_us > 0) {
        /* A full mailbox is a listener that does not accept: give up as a
         * vsock connect gives up (SO_VM_SOCKETS_CONNECT_TIMEOUT). */
        struct timeval tv = { .tv_sec = (time_t)(timeout_us / 1000000),
                              .tv_usec = (suseconds_t)(timeout_us % 1000000) };
        sys_setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    uint8_t msg[VSOCK_MSG_LEN];
    vsock_hello_encode(h, msg);
    struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr m = { .msg_name = &sa, .msg_namelen = salen, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &conn_fd, sizeof(int));
    do
        rc = (int)sys_sendmsg(s, &m, flags | MSG_NOSIGNAL);
    while (rc == -EINTR);
    vcore_sys_close(s);
    if (dirfd >= 0)
        vcore_sys_close(dirfd);
    if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENOTDIR) {
        /* Linux vsock answers a connect nobody listens for with a reset. */
        *why = "nothing listens at that address";
        return -ECONNRESET;
    }
    if (rc == -EAGAIN && !(flags & MSG_DONTWAIT)) {
        *why = "the listener did not take the connection in time";
        return -ETIMEDOUT;
    }
    if (rc == -EAGAIN)
        *why = "the listener's queue is full";
    else if (rc < 0)
        *why = "cannot reach the listener";
    return rc;
}

int vcore_recv_hello(int mbox, int flags, struct vsock_hello *h, int *conn_fd, uid_t *uid,
                     pid_t *pid, const char **why)
{
    uint8_t msg[VSOCK_MSG_LEN + 1];   /* one more: a longer message is refused */
    struct ucred cred;
    int fd = -1;
    int n = recv_full(mbox, msg, sizeof(msg), &fd, &cred, flags);
    *conn_fd = -1;
    if (n == -EPROTO) {
        *why = "malformed message (truncated or several fds)";
        return n;
    }
    if (n < 0) {
        *why = n == -EAGAIN ? "no pending connection" : "cannot receive from the mailbox";
        return n;
    }
    if (vsock_hello_decode(msg, (size_t)n, h, why) < 0) {
        if (fd >= 0)
            vcore_sys_close(fd);
        return -EPROTO;
    }
    if (fd < 0 || vcore_check_stream(fd) < 0) {
        if (fd >= 0)
            vcore_sys_close(fd);
        *why = "hello without a stream socket";
        return -EPROTO;
    }
    *conn_fd = fd;
    if (uid)
        *uid = cred.uid;
    if (pid)
        *pid = cred.pid;
    return 0;
}
