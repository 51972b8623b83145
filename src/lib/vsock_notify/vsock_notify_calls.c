/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vsock system calls, served for the target (docs/vsock.md §6). A
 * call on a descriptor is served only when that descriptor is a socket of
 * the table; anything else continues in the kernel unchanged. The work
 * itself is the vsock engine's (vsock_ops.c), done on the supervisor's copy
 * of the target's socket; a socket that changes (listen makes it a mailbox,
 * connect a connected pair) is put back at the target's fd number.
 */
#include "vsock_notify/vsock_notify_internal.h"
#include "vsock_notify/vsock_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- arguments ------------------------------------------------------------- */

/* Reads the sockaddr_vm a program passed; -EINVAL / -EAFNOSUPPORT as Linux. */
static int read_addr(const struct vn_call *c, uint64_t addr, uint64_t len, uint32_t *cid,
                     uint32_t *port)
{
    struct sockaddr_vm sa;
    if ((uint32_t)len < sizeof(sa))
        return -EINVAL;
    int rc = vn_read(c, addr, &sa, sizeof(sa));
    if (rc < 0)
        return rc;
    if (sa.svm_family != AF_VSOCK)
        return -EAFNOSUPPORT;
    *cid = sa.svm_cid;
    *port = sa.svm_port;
    return 0;
}

/* Writes an address to a program's (addr, *len), as the kernel does:
 * truncated to its buffer, *len set to the full size. */
static int write_addr(const struct vn_call *c, uint64_t addr, uint64_t lenp, uint32_t cid,
                      uint32_t port)
{
    int len;
    int rc = vn_read(c, lenp, &len, sizeof(len));
    if (rc < 0)
        return rc;
    if (len < 0)
        return -EINVAL;
    struct sockaddr_vm sa;
    memset(&sa, 0, sizeof(sa));
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = cid;
    sa.svm_port = port;
    size_t n = (size_t)len < sizeof(sa) ? (size_t)len : sizeof(sa);
    int full = sizeof(sa);
    if ((rc = vn_write(c, addr, &sa, n)) < 0)
        return rc;
    return vn_write(c, lenp, &full, sizeof(full));
}

static bool nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK);
}

static uint64_t inode_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* local (the engine's result) replaces the target's fd: at its number, with
 * its close-on-exec; the table follows. */
static int install(struct vn_call *c, int fd, uint64_t old_ino, int local)
{
    struct vcore_entry e;
    if (!vcore_get(local, &e))
        return -EINVAL;
    int rc = vn_table_put(c->s->table, local, true, &e);
    if (rc < 0)
        return rc;
    rc = vn_addfd(c, local, fd, vn_cloexec(c, fd), false);
    if (rc < 0) {
        vn_table_del(c->s->table, inode_of(local));
        return rc;
    }
    vn_table_del(c->s->table, old_ino);
    return 0;
}

/* ---- socket and ioctl: not about one of the table's sockets ---------------- */

static void on_socket(struct vn_call *c)
{
    int type = (int)c->args[1], proto = (int)c->args[2];
    int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) & ~0xf)
        return vn_reply(c, 0, -EINVAL);
    if ((type & 0xf) != SOCK_STREAM)
        return vn_reply(c, 0, -ESOCKTNOSUPPORT);   /* Nitro carries streams only */
    if (proto != 0 && proto != AF_VSOCK)
        return vn_reply(c, 0, -EPROTONOSUPPORT);
    /* Made here, in the supervisor's network namespace (the enclave's). */
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (flags & SOCK_NONBLOCK), 0);
    if (sock < 0)
        return vn_reply(c, 0, -errno);
    struct vcore_entry e;
    vcore_entry_init(&e);
    int rc = vn_table_put(c->s->table, sock, true, &e);
    if (rc == 0 && (rc = vn_addfd(c, sock, -1, flags & SOCK_CLOEXEC, true)) < 0)
        vn_table_del(c->s->table, inode_of(sock));
    close(sock);
    if (rc < 0)
        vn_reply(c, 0, rc);   /* e.g. EMFILE; a gone target ignores it */
}

/* IOCTL_VM_SOCKETS_GET_LOCAL_CID on the /dev/vsock stand-in. */
static void on_ioctl(struct vn_call *c)
{
    int local = vn_getfd(c, (int)c->args[0]);
    if (local == -ENOENT)
        return;
    struct stat st;
    bool ours = local >= 0 && fstat(local, &st) == 0 && S_ISCHR(st.st_mode) &&
                major(st.st_rdev) == VSOCK_NOTIFY_DEV_MAJOR &&
                minor(st.st_rdev) == VSOCK_NOTIFY_DEV_MINOR;
    if (local >= 0)
        close(local);
    if (!ours)
        return vn_continue(c);
    uint32_t cid;
    const char *why;
    int rc = vcore_local_cid(&cid, &why);
    if (rc == 0)
        rc = vn_write(c, c->args[2], &cid, sizeof(cid));
    vn_reply(c, 0, rc);
}

/* ---- calls on one of the table's sockets ----------------------------------- */

static void on_bind(struct vn_call *c, int local)
{
    uint32_t cid, port;
    const char *why;
    int rc = read_addr(c, c->args[1], c->args[2], &cid, &port);
    if (rc == 0)
        rc = vcore_bind(local, cid, port, &why);
    struct vcore_entry e;
    if (rc == 0 && vcore_get(local, &e))
        rc = vn_table_put(c->s->table, local, true, &e);
    vn_reply(c, 0, rc);
}

static void on_listen(struct vn_call *c, int *local)
{
    uint64_t old = inode_of(*local);
    const char *why;
    int rc = vcore_listen(*local, &why);
    if (rc == 0 && inode_of(*local) != old) {
        rc = install(c, (int)c->args[0], old, *local);
        if (rc < 0) {
            vcore_close(*local);   /* removes the mailbox's socket file */
            *local = -1;
        }
    }
    vn_reply(c, 0, rc);
}

/*
 * As Linux vsock: a blocking connect returns when connected or refused; a
 * non-blocking one returns EINPROGRESS and the outcome is read with
 * SO_ERROR once the socket is writable. The emulation knows the outcome at
 * once: a connection is in place (writable) when EINPROGRESS is returned; a
 * refusal leaves the socket unconnected (writable and hung up, as an
 * unconnected stream socket polls) with SO_ERROR to report.
 */
static void on_connect(struct vn_call *c, int local)
{
    uint32_t cid, port;
    const char *why;
    int rc = read_addr(c, c->args[1], c->args[2], &cid, &port);
    if (rc < 0)
        return vn_reply(c, 0, rc);
    bool nonblock = nonblocking(local);
    uint64_t old = inode_of(local);
    rc = vcore_connect(local, cid, port, &why);
    if (rc == 0 && (rc = install(c, (int)c->args[0], old, local)) == 0)
        return vn_reply(c, 0, nonblock ? -EINPROGRESS : 0);
    if (nonblock && (rc == -ECONNRESET || rc == -ETIMEDOUT)) {
        struct vcore_entry *e = vn_table_get(c->s->table, old);
        if (e)
            e->so_error = -rc;
        return vn_reply(c, 0, -EINPROGRESS);
    }
    vn_reply(c, 0, rc);
}

/* 1: nothing to accept and the listener blocks (the caller parks the call). */
int vn_retry_accept(struct vn_call *c, int mbox)
{
    int flags = c->nr == SYS_accept4 ? (int)c->args[3] : 0;
    uint32_t pcid = 0, pport = 0;
    const char *why;
    int conn = vcore_accept(mbox, (flags & SOCK_NONBLOCK) | SOCK_CLOEXEC | VCORE_DONTWAIT, &pcid,
                            &pport, &why);
    if (conn == -EAGAIN && !nonblocking(mbox))
        return 1;
    if (conn < 0) {
        vn_reply(c, 0, conn);
        return 0;
    }
    struct vcore_entry e;
    int rc = vcore_get(conn, &e) ? 0 : -EINVAL;
    vcore_forget(conn);
    if (rc == 0 && c->args[1])
        rc = write_addr(c, c->args[1], c->args[2], pcid, pport);
    /* made by the connector, maybe in another network namespace */
    if (rc == 0 && (rc = vn_table_put(c->s->table, conn, false, &e)) == 0 &&
        (rc = vn_addfd(c, conn, -1, flags & SOCK_CLOEXEC, true)) < 0)
        vn_table_del(c->s->table, inode_of(conn));
    close(conn);
    if (rc < 0)
        vn_reply(c, 0, rc);
    return 0;
}

static void on_accept(struct vn_call *c, int *local, const struct vcore_entry *e)
{
    int flags = c->nr == SYS_accept4 ? (int)c->args[3] : 0;
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return vn_reply(c, 0, -EINVAL);
    if (e->state != VCORE_LISTENING)
        return vn_reply(c, 0, -EINVAL);
    if (vn_retry_accept(c, *local) == 1) {
        vn_park(c, *local);   /* takes the mailbox copy */
        *local = -1;
    }
}

static void on_name(struct vn_call *c, const struct vcore_entry *e)
{
    bool peer = c->nr == SYS_getpeername;
    if (peer && e->state != VCORE_CONNECTED)
        return vn_reply(c, 0, -ENOTCONN);
    int rc = write_addr(c, c->args[1], c->args[2], peer ? e->pcid : e->lcid,
                        peer ? e->pport : e->lport);
    vn_reply(c, 0, rc);
}

static void on_getsockopt(struct vn_call *c, struct vcore_entry *e)
{
    int level = (int)c->args[1], name = (int)c->args[2];
    if (level == SOL_SOCKET && name == SO_ERROR && e->so_error == 0)
        return vn_continue(c);   /* the Unix socket's own pending error, if any */
    int len;
    int rc = vn_read(c, c->args[4], &len, sizeof(len));
    if (rc < 0)
        return vn_reply(c, 0, rc);
    if (len < 0)
        return vn_reply(c, 0, -EINVAL);
    unsigned char buf[64];
    socklen_t n = (socklen_t)len < sizeof(buf) ? (socklen_t)len : sizeof(buf);
    rc = vcore_sockopt_get(e, level, name, buf, &n);
    if (rc == 1)
        return vn_continue(c);
    if (rc == 0 && (rc = vn_write(c, c->args[3], buf, n)) == 0) {
        int out = (int)n;
        rc = vn_write(c, c->args[4], &out, sizeof(out));
    }
    if (rc == 0 && level == SOL_SOCKET && name == SO_ERROR)
        e->so_error = 0;   /* reported once, as the kernel clears sk_err */
    vn_reply(c, 0, rc);
}

static void on_setsockopt(struct vn_call *c, struct vcore_entry *e)
{
    unsigned char buf[64];
    uint32_t len = (uint32_t)c->args[4];
    socklen_t n = len < sizeof(buf) ? len : sizeof(buf);
    int rc = vn_read(c, c->args[3], buf, n);
    if (rc < 0)
        return vn_reply(c, 0, rc);
    struct vcore_entry next = *e;
    rc = vcore_sockopt_set(&next, (int)c->args[1], (int)c->args[2], buf, n);
    if (rc == 1)
        return vn_continue(c);
    if (rc == 0)
        *e = next;
    vn_reply(c, 0, rc);
}

void vn_handle(struct vn_call *c)
{
    if (c->nr == SYS_socket)
        return on_socket(c);
    if (c->nr == SYS_ioctl)
        return on_ioctl(c);
    int local = vn_getfd(c, (int)c->args[0]);
    if (local == -ENOENT)
        return;               /* the call is gone */
    if (local < 0)
        return vn_continue(c);   /* e.g. EBADF: the kernel says it */
    struct stat st;
    struct vcore_entry *e = NULL;
    if (fstat(local, &st) == 0 && S_ISSOCK(st.st_mode))
        e = vn_table_get(c->s->table, st.st_ino);
    if (!e) {
        if (!(c->nr == SYS_connect && vn_redirected(c, local)))
            vn_continue(c);
        close(local);
        return;
    }
    /* The engine works on the supervisor's copy, with the table's entry. */
    vcore_set(local, e);
    switch (c->nr) {
    case SYS_bind: on_bind(c, local); break;
    case SYS_listen: on_listen(c, &local); break;
    case SYS_connect: on_connect(c, local); break;
    case SYS_accept:
    case SYS_accept4: on_accept(c, &local, e); break;
    case SYS_getsockname:
    case SYS_getpeername: on_name(c, e); break;
    case SYS_getsockopt: on_getsockopt(c, e); break;
    case SYS_setsockopt: on_setsockopt(c, e); break;
    default: vn_continue(c); break;
    }
    if (local >= 0) {
        vcore_forget(local);
        close(local);
    }
}
