/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-enclave vsock broker (docs/vsock.md §3-4). One epoll fd holds the
 * broker's listening SOCK_SEQPACKET socket and the request connections that
 * have not sent their request yet; every request is one 24-byte message,
 * answered by one 24-byte message, then the connection is closed. Nothing
 * here blocks: a slow or silent enclave only delays its own requests.
 */
#include "vsock_broker/vsock_broker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vsock/vsock_core.h"

#define MAX_PENDING 64       /* request connections waiting for their request */

struct vsock_broker {
    uint32_t cid;
    char *run_dir;
    char *mbox_dir;          /* run/vsock/<cid> */
    char *ctl_dir;           /* run/vsock/ctl/<cid> */
    char *ctl_path;          /* run/vsock/ctl/<cid>/broker */
    char *parent_dir;        /* run/vsock/3 */
    int listen_fd;
    int epfd;
    int hb_tx, hb_rx;        /* heartbeat mailbox: a SOCK_DGRAM pair */
    bool hb_routed;          /* (3, 9000) still comes to the monitor */
    int pending[MAX_PENDING];
    size_t npending;
    struct vsock_broker_stats stats;
};

static char *join(const char *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *join(const char *a, const char *fmt, ...)
{
    char tail[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    size_t n = strlen(a) + strlen(tail) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, tail);
    return s;
}

static int mkdir_exact(const char *path, mode_t mode, struct cl_error *err)
{
    if (mkdir(path, mode) < 0) {
        if (errno != EEXIST)
            return cl_fail_errno(err, CL_EIO, "cannot create %s", path);
        struct stat st;
        if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            return cl_fail(err, CL_EIO, "%s exists and is not a directory", path);
    }
    if (chmod(path, mode) < 0)
        return cl_fail_errno(err, CL_EIO, "cannot set the mode of %s", path);
    return 0;
}

/* Removes every entry of dir (a flat directory of sockets and a lock file). */
static void purge_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

static void remove_dir(const char *dir)
{
    purge_dir(dir);
    rmdir(dir);
}

/* Does a live broker answer at path? */
static bool broker_alive(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return false;
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return false;
    bool alive = connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(s);
    return alive;
}

static int check_cid(uint32_t cid, struct cl_error *err)
{
    if (cid < 4 || cid == VSOCK_CID_ANY)
        return cl_fail(err, CL_EINVAL, "enclave CID %u out of range (4 to 4294967294)", cid);
    return 0;
}

static const char *run_dir_or_default(const char *run_dir)
{
    return run_dir && *run_dir ? run_dir : vcore_run_dir();
}

int vsock_broker_new(const char *run_dir, uint32_t cid, struct vsock_broker **out,
                     struct cl_error *err)
{
    *out = NULL;
    int rc = check_cid(cid, err);
    if (rc < 0)
        return rc;
    run_dir = run_dir_or_default(run_dir);
    struct vsock_broker *b = calloc(1, sizeof(*b));
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    b->cid = cid;
    b->listen_fd = b->epfd = b->hb_tx = b->hb_rx = -1;
    b->hb_routed = true;
    char *ctl_root = NULL;
    b->run_dir = strdup(run_dir);
    b->mbox_dir = join(run_dir, VCORE_DIR "/%u", cid);
    b->parent_dir = join(run_dir, VCORE_DIR "/%u", VCORE_PARENT_CID);
    ctl_root = join(run_dir, "%s", VCORE_CTL_DIR);
    b->ctl_dir = join(run_dir, VCORE_CTL_DIR "/%u", cid);
    b->ctl_path = b->ctl_dir ? join(b->ctl_dir, "broker") : NULL;
    if (!b->run_dir || !b->mbox_dir || !b->parent_dir || !ctl_root || !b->ctl_dir ||
        !b->ctl_path) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto fail;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(b->ctl_path) >= sizeof(sa.sun_path)) {
        rc = cl_fail(err, CL_ELIMIT, "broker socket path too long (%zu bytes, at most %zu): %s",
                     strlen(b->ctl_path), sizeof(sa.sun_path) - 1, b->ctl_path);
        goto fail;
    }
    strcpy(sa.sun_path, b->ctl_path);

    const char *why = NULL;
    if ((rc = vcore_ensure_host_dirs(run_dir, &why)) < 0) {
        errno = -rc;
        rc = cl_fail_errno(err, CL_EIO, "%s (%s)", why, run_dir);
        goto fail;
    }
    /* 0700: no other host user can reach (and so speak as) an enclave's broker. */
    if ((rc = mkdir_exact(ctl_root, 0700, err)) < 0)
        goto fail;
    if (broker_alive(b->ctl_path)) {
        rc = cl_fail(err, CL_EEXIST, "a vsock broker already serves CID %u", cid);
        goto fail;
    }
    if ((rc = mkdir_exact(b->ctl_dir, 0755, err)) < 0 ||
        (rc = mkdir_exact(b->mbox_dir, 0755, err)) < 0)
        goto fail;
    purge_dir(b->ctl_dir);    /* leftovers of an enclave that had this CID */
    purge_dir(b->mbox_dir);

    b->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (b->listen_fd < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot create the broker socket");
        goto fail;
    }
    if (bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot bind the broker socket %s", b->ctl_path);
        goto fail;
    }
    /* The enclave's processes run as an unprivileged, mapped uid. */
    if (chmod(b->ctl_path, 0666) < 0 || listen(b->listen_fd, MAX_PENDING) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot set up the broker socket %s", b->ctl_path);
        goto fail;
    }
    int hb[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, hb) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot create the heartbeat mailbox");
        goto fail;
    }
    b->hb_tx = hb[0];
    b->hb_rx = hb[1];
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = b->listen_fd };
    if (b->epfd < 0 || epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->listen_fd, &ev) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot set up the broker's epoll");
        goto fail;
    }
    free(ctl_root);
    *out = b;
    return 0;
fail:
    free(ctl_root);
    vsock_broker_free(b);
    return rc;
}

void vsock_broker_free(struct vsock_broker *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->npending; i++)
        close(b->pending[i]);
    if (b->listen_fd >= 0) {
        close(b->listen_fd);
        if (b->ctl_path)
            unlink(b->ctl_path);
    }
    if (b->ctl_dir && b->listen_fd >= 0)
        remove_dir(b->ctl_dir);
    if (b->mbox_dir && b->listen_fd >= 0)
        remove_dir(b->mbox_dir);
    if (b->epfd >= 0)
        close(b->epfd);
    if (b->hb_tx >= 0)
        close(b->hb_tx);
    if (b->hb_rx >= 0)
        close(b->hb_rx);
    free(b->run_dir);
    free(b->mbox_dir);
    free(b->parent_dir);
    free(b->ctl_dir);
    free(b->ctl_path);
    free(b);
}

uint32_t vsock_broker_cid(const struct vsock_broker *b)
{
    return b->cid;
}

const char *vsock_broker_host_dir(const struct vsock_broker *b)
{
    return b->ctl_dir;
}

int vsock_broker_fd(const struct vsock_broker *b)
{
    return b->epfd;
}

int vsock_broker_heartbeat_fd(const struct vsock_broker *b)
{
    return b->hb_rx;
}

void vsock_broker_get_stats(const struct vsock_broker *b, struct vsock_broker_stats *st)
{
    *st = b->stats;
}

/* ---- requests ---------------------------------------------------------- */

static void drop_pending(struct vsock_broker *b, int fd)
{
    for (size_t i = 0; i < b->npending; i++) {
        if (b->pending[i] == fd) {
            b->pending[i] = b->pending[--b->npending];
            break;
        }
    }
    close(fd);   /* also leaves the epoll set */
}

static void reply(int conn, uint16_t op, uint32_t status, uint32_t cid, uint32_t port, int fd)
{
    struct vsock_response r = { .op = op, .status = status, .cid = cid, .port = port };
    uint8_t msg[VSOCK_MSG_LEN];
    vsock_response_encode(&r, msg);
    /* The client waits for exactly this one message; its buffer is empty. */
    vcore_send_msg(conn, msg, sizeof(msg), fd, MSG_DONTWAIT);
}

static void do_connect(struct vsock_broker *b, int conn, const struct vsock_request *req,
                       int fd)
{
    uint32_t status = 0;
    uint32_t sport = req->src_port == VSOCK_PORT_ANY ? vcore_random_port() : req->src_port;
    const char *why = NULL;
    if (fd < 0 || vcore_check_stream(fd) < 0) {
        status = EINVAL;
    } else if (req->cid != VSOCK_CID_PARENT) {
        /* Confinement: an enclave reaches its parent and nothing else. */
        status = EHOSTUNREACH;
    } else if (req->port == VSOCK_PORT_ANY) {
        status = EINVAL;
    } else {
        struct vsock_hello h = { .src_cid = b->cid, .src_port = sport,
                                 .dst_cid = VSOCK_CID_PARENT, .dst_port = req->port };
        int rc;
        if (req->port == VSOCK_HEARTBEAT_PORT && b->hb_routed) {
            uint8_t msg[VSOCK_MSG_LEN];
            vsock_hello_encode(&h, msg);
            rc = vcore_send_msg(b->hb_tx, msg, sizeof(msg), fd, MSG_DONTWAIT);
        } else {
            rc = vcore_send_hello(b->parent_dir, req->port, &h, fd, MSG_DONTWAIT, 0, &why);
        }
        if (rc < 0)
            status = (uint32_t)-rc;
    }
    if (status == 0)
        b->stats.connects++;
    else
        b->stats.refused++;
    reply(conn, VSOCK_OP_CONNECT, status, b->cid, sport, -1);
}

/* LISTEN carries the enclave's own unbound SOCK_DGRAM socket, made in the
 * enclave's network namespace; the broker only binds it under the enclave's
 * mailbox directory, where the parent (and no one else) can reach it. */
static void do_listen(struct vsock_broker *b, int conn, const struct vsock_request *req, int fd)
{
    if (fd < 0 || vcore_check_unbound_dgram(fd) < 0) {
        reply(conn, VSOCK_OP_LISTEN, EINVAL, b->cid, req->port, -1);
        return;
    }
    if (req->cid != VSOCK_CID_ANY && req->cid != b->cid) {
        reply(conn, VSOCK_OP_LISTEN, EADDRNOTAVAIL, b->cid, req->port, -1);
        return;
    }
    uint32_t port = req->port;
    uint64_t dev, ino;
    const char *why = NULL;
    int rc = vcore_mailbox_bind(b->mbox_dir, fd, &port, &dev, &ino, &why);
    if (rc < 0) {
        reply(conn, VSOCK_OP_LISTEN, (uint32_t)-rc, b->cid, req->port, -1);
        return;
    }
    b->stats.listens++;
    reply(conn, VSOCK_OP_LISTEN, 0, b->cid, port, -1);
}

/* Reads and answers the request on conn; false while it has not arrived. */
static bool handle_request(struct vsock_broker *b, int conn)
{
    uint8_t msg[VSOCK_MSG_LEN + 1];
    int fd = -1;
    int n = vcore_recv_msg(conn, msg, sizeof(msg), &fd, MSG_DONTWAIT);
    if (n == -EAGAIN)
        return false;
    struct vsock_request req;
    const char *why = NULL;
    if (n <= 0 || vsock_request_decode(msg, (size_t)n, &req, &why) < 0) {
        if (n != 0)
            b->stats.malformed++;
        if (fd >= 0)
            close(fd);
        return true;
    }
    switch (req.op) {
    case VSOCK_OP_CONNECT:
        do_connect(b, conn, &req, fd);
        break;
    case VSOCK_OP_LISTEN:
        do_listen(b, conn, &req, fd);
        break;
    case VSOCK_OP_LOCAL_CID:
        reply(conn, req.op, fd >= 0 ? EINVAL : 0, b->cid, 0, -1);
        break;
    }
    if (fd >= 0)
        close(fd);   /* handed on (SCM_RIGHTS duplicated it) or refused */
    return true;
}

static void accept_all(struct vsock_broker *b)
{
    for (;;) {
        int c = accept4(b->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return;   /* EAGAIN, or a transient failure: epoll will tell again */
        if (b->npending >= MAX_PENDING) {
            b->stats.malformed++;
            close(c);
            continue;
        }
        /* Usually the request is already there. */
        if (handle_request(b, c)) {
            close(c);
            continue;
        }
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = c };
        if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, c, &ev) < 0) {
            close(c);
            continue;
        }
        b->pending[b->npending++] = c;
    }
}

int vsock_broker_dispatch(struct vsock_broker *b, struct cl_error *err)
{
    struct epoll_event evs[16];
    for (;;) {
        int n = epoll_wait(b->epfd, evs, 16, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cl_fail_errno(err, CL_EIO, "vsock broker: epoll_wait");
        }
        if (n == 0)
            return 0;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == b->listen_fd)
                accept_all(b);
            else if (handle_request(b, fd) || (evs[i].events & (EPOLLHUP | EPOLLERR)))
                drop_pending(b, fd);
        }
    }
}

/* ---- heartbeat --------------------------------------------------------- */

int vsock_broker_accept_heartbeat(struct vsock_broker *b, int *fd, struct cl_error *err)
{
    *fd = -1;
    for (;;) {
        struct vsock_hello h;
        int c;
        const char *why = NULL;
        int rc = vcore_recv_hello(b->hb_rx, MSG_DONTWAIT, &h, &c, NULL, NULL, &why);
        if (rc == -EAGAIN)
            return 0;
        if (rc == -EPROTO)
            continue;
        if (rc < 0) {
            errno = -rc;
            return cl_fail_errno(err, CL_EIO, "heartbeat: %s", why);
        }
        b->hb_routed = false;   /* one heartbeat per boot, as on Nitro */
        *fd = c;
        return 0;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t r = deadline - now_ms();
    return r < 0 ? 0 : (int)(r > 1000000 ? 1000000 : r);
}

int vsock_broker_wait_heartbeat(struct vsock_broker *b, int timeout_ms, struct cl_error *err)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int conn = -1, rc;
    while (conn < 0) {
        if ((rc = vsock_broker_dispatch(b, err)) < 0)
            return rc;
        if ((rc = vsock_broker_accept_heartbeat(b, &conn, err)) < 0)
            return rc;
        if (conn >= 0)
            break;
        struct pollfd p[2] = { { .fd = b->epfd, .events = POLLIN },
                               { .fd = b->hb_rx, .events = POLLIN } };
        int t = remaining(deadline);
        if (t == 0)
            return cl_fail(err, CL_ETIMEOUT, "no heartbeat from enclave %u within %d ms",
                           b->cid, timeout_ms);
        if (poll(p, 2, t) < 0 && errno != EINTR)
            return cl_fail_errno(err, CL_EIO, "heartbeat: poll");
    }
    uint8_t byte = 0;
    ssize_t n;
    for (;;) {
        struct pollfd p = { .fd = conn, .events = POLLIN };
        int t = remaining(deadline);
        int pr = poll(&p, 1, t);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            rc = cl_fail(err, CL_ETIMEOUT, "enclave %u connected but sent no heartbeat within "
                         "%d ms", b->cid, timeout_ms);
            goto out;
        }
        n = recv(conn, &byte, 1, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        break;
    }
    if (n != 1 || byte != VSOCK_HEARTBEAT_BYTE) {
        rc = n == 1 ? cl_fail(err, CL_EFORMAT, "enclave %u sent heartbeat byte 0x%02x, not 0x%02x",
                              b->cid, byte, VSOCK_HEARTBEAT_BYTE)
                    : cl_fail(err, CL_EFORMAT, "enclave %u closed the heartbeat connection",
                              b->cid);
        goto out;
    }
    byte = VSOCK_HEARTBEAT_BYTE;
    if (send(conn, &byte, 1, MSG_NOSIGNAL) != 1) {
        rc = cl_fail_errno(err, CL_EIO, "cannot answer enclave %u's heartbeat", b->cid);
        goto out;
    }
    rc = 0;
out:
    close(conn);
    return rc;
}

int vsock_broker_run(struct vsock_broker *b, int stop_fd, struct cl_error *err)
{
    for (;;) {
        struct pollfd p[2] = { { .fd = b->epfd, .events = POLLIN },
                               { .fd = stop_fd, .events = POLLIN } };
        int n = poll(p, stop_fd >= 0 ? 2 : 1, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cl_fail_errno(err, CL_EIO, "vsock broker: poll");
        }
        if (stop_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            return 0;
        int rc = vsock_broker_dispatch(b, err);
        if (rc < 0)
            return rc;
    }
}

int vsock_broker_cleanup(const char *run_dir, uint32_t cid, struct cl_error *err)
{
    int rc = check_cid(cid, err);
    if (rc < 0)
        return rc;
    run_dir = run_dir_or_default(run_dir);
    char *ctl_dir = join(run_dir, VCORE_CTL_DIR "/%u", cid);
    char *mbox_dir = join(run_dir, VCORE_DIR "/%u", cid);
    char *ctl_path = ctl_dir ? join(ctl_dir, "broker") : NULL;
    if (!ctl_dir || !mbox_dir || !ctl_path) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    if (broker_alive(ctl_path)) {
        rc = cl_fail(err, CL_EEXIST, "a vsock broker still serves CID %u", cid);
        goto out;
    }
    remove_dir(ctl_dir);
    remove_dir(mbox_dir);
    rc = 0;
out:
    free(ctl_dir);
    free(mbox_dir);
    free(ctl_path);
    return rc;
}
