/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations on emulated vsock sockets (docs/vsock.md, "Flows"): what
 * socket(), bind(), listen(), connect(), accept() and close() do on a
 * socket of the emulation, on the host (mailboxes directly) and inside an
 * enclave (through the monitor's broker).
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

/* ---- operations on emulated sockets ---------------------------------------- */

/* Replaces fd by newfd (closing newfd), keeping fd's O_NONBLOCK and
 * close-on-exec. */
static int replace_fd(int fd, int newfd)
{
    int fl = sys_fcntl(fd, F_GETFL, 0);
    int fdfl = sys_fcntl(fd, F_GETFD, 0);
    if (fl < 0 || fdfl < 0) {
        vcore_sys_close(newfd);
        return fl < 0 ? fl : fdfl;
    }
    if (fl & O_NONBLOCK) {   /* new sockets are blocking */
        int nfl = sys_fcntl(newfd, F_GETFL, 0);
        if (nfl >= 0)
            sys_fcntl(newfd, F_SETFL, nfl | O_NONBLOCK);
    }
    int rc = sys_dup3(newfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
    vcore_sys_close(newfd);
    return rc < 0 ? rc : 0;
}

static bool is_nonblocking(int fd)
{
    int fl = sys_fcntl(fd, F_GETFL, 0);
    return fl >= 0 && (fl & O_NONBLOCK);
}

/* One request to the enclave's broker; *resp_fd gets a returned fd. */
static int broker_call(const struct vsock_request *req, int pass_fd, struct vsock_response *resp,
                       int *resp_fd, const char **why)
{
    *resp_fd = -1;
    struct sockaddr_un sa;
    socklen_t salen;
    int dirfd = -1;
    const char *path = vcore_broker_path();
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash || (size_t)(slash - path) >= sizeof(dir))
        return *why = "bad broker path", -EINVAL;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    int rc = vcore_sun_of(slash == path ? "/" : dir, slash + 1, &sa, &salen, &dirfd);
    if (rc < 0)
        return *why = "broker path too long", rc;
    int s = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0) {
        if (dirfd >= 0)
            vcore_sys_close(dirfd);
        return *why = "cannot create a socket", s;
    }
    do
        rc = sys_connect(s, &sa, salen);
    while (rc == -EINTR);
    if (dirfd >= 0)
        vcore_sys_close(dirfd);
    if (rc < 0) {
        vcore_sys_close(s);
        *why = "cannot reach the enclave's vsock broker";
        return rc;
    }
    uint8_t msg[VSOCK_MSG_LEN + 1];
    vsock_request_encode(req, msg);
    rc = vcore_send_msg(s, msg, VSOCK_MSG_LEN, pass_fd, 0);
    if (rc < 0) {
        vcore_sys_close(s);
        return *why = "cannot send to the vsock broker", rc;
    }
    int n = vcore_recv_msg(s, msg, sizeof(msg), resp_fd, 0);
    vcore_sys_close(s);
    if (n < 0)
        return *why = "no answer from the vsock broker", n == -EPROTO ? -EPROTO : n;
    if (vsock_response_decode(msg, (size_t)n, resp, why) < 0 || resp->op != req->op) {
        if (*resp_fd >= 0)
            vcore_sys_close(*resp_fd);
        *resp_fd = -1;
        *why = "malformed answer from the vsock broker";
        return -EPROTO;
    }
    if (resp->status != 0) {
        if (*resp_fd >= 0)
            vcore_sys_close(*resp_fd);
        *resp_fd = -1;
        switch (resp->status) {
        case EHOSTUNREACH: *why = "an enclave may connect only to its parent (CID 3)"; break;
        case ECONNRESET: *why = "nothing listens at that address"; break;
        case EADDRINUSE: *why = "address already in use"; break;
        case EADDRNOTAVAIL: *why = "not this enclave's CID"; break;
        case EAGAIN: *why = "the listener's queue is full"; break;
        default: *why = "refused by the vsock broker"; break;
        }
        return -(int)resp->status;
    }
    return 0;
}

/* This enclave's CID, asked of the broker once. */
static uint32_t cached_cid = VMADDR_CID_ANY;

void vcore_forget_local_cid(void)
{
    cached_cid = VMADDR_CID_ANY;
}

int vcore_local_cid(uint32_t *cid, const char **why)
{
    int t = vcore_transport();
    if (t == VCORE_HOST) {
        *cid = VCORE_PARENT_CID;
        return 0;
    }
    if (t == VCORE_REAL) {
        int fd = sys_openat(AT_FDCWD, "/dev/vsock", O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            return *why = "cannot open /dev/vsock", fd;
        unsigned int c = 0;
        int rc = sys_ret(syscall(SYS_ioctl, fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &c));
        vcore_sys_close(fd);
        if (rc < 0)
            return *why = "IOCTL_VM_SOCKETS_GET_LOCAL_CID failed", rc;
        *cid = c;
        return 0;
    }
    uint32_t c = __atomic_load_n(&cached_cid, __ATOMIC_ACQUIRE);
    if (c != VMADDR_CID_ANY) {
        *cid = c;
        return 0;
    }
    struct vsock_request req = { .op = VSOCK_OP_LOCAL_CID };
    struct vsock_response resp;
    int fd;
    int rc = broker_call(&req, -1, &resp, &fd, why);
    if (rc < 0)
        return rc;
    if (fd >= 0)
        vcore_sys_close(fd);
    __atomic_store_n(&cached_cid, resp.cid, __ATOMIC_RELEASE);
    *cid = resp.cid;
    return 0;
}

int vcore_socket(int flags, const char **why)
{
    int fd = sys_socket(AF_UNIX, SOCK_STREAM | (flags & (SOCK_NONBLOCK | SOCK_CLOEXEC)), 0);
    if (fd < 0)
        return *why = "cannot create a socket", fd;
    struct vcore_entry e;
    vcore_entry_init(&e);
    int rc = vcore_set(fd, &e);
    if (rc < 0) {
        vcore_sys_close(fd);
        return *why = "out of memory", rc;
    }
    return fd;
}

int vcore_bind(int fd, uint32_t cid, uint32_t port, const char **why)
{
    struct vcore_entry e;
    if (!vcore_get(fd, &e) || e.kind != VCORE_KIND_VSOCK)
        return *why = "not a vsock socket", -ENOTSOCK;
    if (e.state != VCORE_NEW)
        return *why = "socket already bound", -EINVAL;
    if (cid != VMADDR_CID_ANY) {
        uint32_t own;
        int rc = vcore_local_cid(&own, why);
        if (rc < 0)
            return rc;
        /* The parent also serves the hypervisor's CID 0 (the console). */
        bool ok = cid == own || (vcore_transport() == VCORE_HOST && cid == 0);
        if (!ok)
            return *why = "not a local CID", -EADDRNOTAVAIL;
    }
    e.state = VCORE_BOUND;
    e.lcid = cid;
    e.lport = port;
    return vcore_set(fd, &e);
}

int vcore_listen(int fd, const char **why)
{
    struct vcore_entry e;
    if (!vcore_get(fd, &e) || e.kind != VCORE_KIND_VSOCK)
        return *why = "not a vsock socket", -ENOTSOCK;
    if (e.state == VCORE_LISTENING)
        return 0;   /* listen() again only changes the backlog */
    if (e.state != VCORE_NEW && e.state != VCORE_BOUND)
        return *why = "socket is connected", -EINVAL;
    int mbox = -1, rc;
    if (vcore_transport() == VCORE_ENCLAVE) {
        /*
         * The mailbox is made here, in the enclave's network namespace, and
         * only bound by the broker: a socket made by the monitor would carry
         * the host's network namespace and could reach the host's abstract
         * Unix sockets.
         */
        mbox = sys_socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (mbox < 0)
            return *why = "cannot create a socket", mbox;
        struct vsock_request req = { .op = VSOCK_OP_LISTEN, .cid = e.lcid, .port = e.lport };
        struct vsock_response resp;
        int extra;
        rc = broker_call(&req, mbox, &resp, &extra, why);
        if (extra >= 0)
            vcore_sys_close(extra);
        if (rc < 0) {
            vcore_sys_close(mbox);
            return rc;
        }
        e.lcid = resp.cid;
        e.lport = resp.port;
        e.has_path = false;
    } else {
        const char *run = vcore_run_dir();
        if ((rc = vcore_ensure_host_dirs(run, why)) < 0)
            return rc;
        uint32_t cid = e.lcid == VMADDR_CID_ANY ? VCORE_PARENT_CID : e.lcid;
        char dir[PATH_MAX];
        if (vcore_cid_dir(run, cid, dir, sizeof(dir)) < 0)
            return *why = "run directory path too long", -ENAMETOOLONG;
        if (cid != VCORE_PARENT_CID && (rc = vcore_mkdir_mode(dir, 0755)) < 0)
            return *why = "cannot create the vsock directory", rc;
        uint32_t port = e.lport;
        rc = vcore_mailbox_open(dir, &port, &mbox, &e.path_dev, &e.path_ino, why);
        if (rc < 0)
            return rc;
        e.lcid = cid;
        e.lport = port;
        e.has_path = true;
        e.owner = getpid();
    }
    rc = replace_fd(fd, mbox);
    if (rc < 0)
        return *why = "cannot install the listener", rc;
    e.state = VCORE_LISTENING;
    return vcore_set(fd, &e);
}

int vcore_connect(int fd, uint32_t cid, uint32_t port, const char **why)
{
    struct vcore_entry e;
    if (!vcore_get(fd, &e) || e.kind != VCORE_KIND_VSOCK)
        return *why = "not a vsock socket", -ENOTSOCK;
    if (e.state == VCORE_CONNECTED)
        return *why = "socket is already connected", -EISCONN;
    if (e.state == VCORE_LISTENING)
        return *why = "socket is listening", -EINVAL;
    if (cid == VMADDR_CID_ANY || port == VMADDR_PORT_ANY)
        return *why = "cannot connect to a wildcard address", -EINVAL;
    bool nonblock = is_nonblocking(fd);
    int sv[2];
    int rc;
    uint32_t lcid, lport;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        rc = sys_socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
        if (rc < 0)
            return *why = "cannot create a socket pair", rc;
        if (vcore_transport() == VCORE_ENCLAVE) {
            /* The broker stamps our address and checks the destination. */
            struct vsock_request req = { .op = VSOCK_OP_CONNECT, .cid = cid, .port = port,
                                         .src_port = e.lport };
            struct vsock_response resp;
            int extra;
            rc = broker_call(&req, sv[1], &resp, &extra, why);
            if (extra >= 0)
                vcore_sys_close(extra);
            lcid = resp.cid;
            lport = resp.port;
        } else {
            char dir[PATH_MAX];
            lcid = VCORE_PARENT_CID;
            lport = e.lport == VMADDR_PORT_ANY ? vcore_random_port() : e.lport;
            struct vsock_hello h = { .src_cid = lcid, .src_port = lport, .dst_cid = cid,
                                     .dst_port = port };
            if (cid > VCORE_PARENT_CID) {
                /*
                 * The end handed to an enclave was made in the host's network
                 * namespace: autobind it now, so that the enclave cannot bind
                 * it to (and so squat) an abstract name of the host's.
                 */
                sa_family_t fam = AF_UNIX;
                sys_bind(sv[1], &fam, sizeof(fam));
            }
            if (vcore_cid_dir(vcore_run_dir(), cid, dir, sizeof(dir)) < 0)
                rc = -ENAMETOOLONG, *why = "run directory path too long";
            else
                rc = vcore_send_hello(dir, port, &h, sv[1], nonblock ? MSG_DONTWAIT : 0,
                                      e.connect_timeout_us, why);
        }
        vcore_sys_close(sv[1]);
        if (rc == -EAGAIN && !nonblock && vcore_transport() == VCORE_ENCLAVE) {
            /* The broker never blocks; a blocking connect waits for room,
             * up to the connect timeout (2 s by default, as Linux vsock). */
            vcore_sys_close(sv[0]);
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            uint64_t spent = (uint64_t)(now.tv_sec - start.tv_sec) * 1000000 +
                             (uint64_t)((now.tv_nsec - start.tv_nsec) / 1000);
            if (e.connect_timeout_us && spent >= e.connect_timeout_us) {
                *why = "the listener did not take the connection in time";
                return -ETIMEDOUT;
            }
            struct timespec ts = { 0, 5 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        break;
    }
    if (rc < 0) {
        vcore_sys_close(sv[0]);
        return rc;
    }
    rc = replace_fd(fd, sv[0]);
    if (rc < 0)
        return *why = "cannot install the connection", rc;
    e.state = VCORE_CONNECTED;
    e.lcid = lcid;
    e.lport = lport;
    e.pcid = cid;
    e.pport = port;
    e.has_path = false;
    return vcore_set(fd, &e);
}

/* May a hello claiming to come from src_cid be believed? (docs/vsock.md §4) */
static bool claim_ok(const struct vsock_hello *h, uid_t uid)
{
    if (vcore_transport() == VCORE_ENCLAVE)
        return h->src_cid == VCORE_PARENT_CID;   /* only the parent reaches an enclave */
    if (h->src_cid == VCORE_PARENT_CID)
        return true;                                   /* any host process is the parent */
    if (h->src_cid < 4 || h->src_cid == VMADDR_CID_ANY)
        return false;
    /* An enclave's CID is vouched for by its monitor alone: the sender must
     * be the owner of that enclave's mailbox directory, which the monitor
     * made (the kernel checked the sender's uid, SCM_CREDENTIALS). */
    char dir[PATH_MAX];
    struct stat st;
    if (vcore_cid_dir(vcore_run_dir(), h->src_cid, dir, sizeof(dir)) < 0 ||
        sys_stat(dir, &st, false) < 0)
        return false;
    return S_ISDIR(st.st_mode) && st.st_uid == uid;
}

int vcore_accept(int fd, int flags, uint32_t *peer_cid, uint32_t *peer_port, const char **why)
{
    struct vcore_entry e;
    if (!vcore_get(fd, &e) || e.kind != VCORE_KIND_VSOCK)
        return *why = "not a vsock socket", -ENOTSOCK;
    if (e.state != VCORE_LISTENING)
        return *why = "socket is not listening", -EINVAL;
    bool nonblock = (flags & VCORE_DONTWAIT) || is_nonblocking(fd);
    for (;;) {
        struct vsock_hello h;
        int conn;
        uid_t uid;
        int rc = vcore_recv_hello(fd, nonblock ? MSG_DONTWAIT : 0, &h, &conn, &uid, NULL, why);
        if (rc == -EPROTO)
            continue;   /* drop it; the next one may be good */
        if (rc < 0)
            return rc;
        if (h.dst_cid != e.lcid || h.dst_port != e.lport || h.src_port == VMADDR_PORT_ANY ||
            !claim_ok(&h, uid)) {
            vcore_sys_close(conn);
            continue;
        }
        if (flags & SOCK_NONBLOCK)
            sys_fcntl(conn, F_SETFL, O_NONBLOCK);
        if (!(flags & SOCK_CLOEXEC))
            sys_fcntl(conn, F_SETFD, 0);
        struct vcore_entry c = { .kind = VCORE_KIND_VSOCK, .state = VCORE_CONNECTED,
                                 .lcid = e.lcid, .lport = e.lport, .pcid = h.src_cid,
                                 .pport = h.src_port, .buf_size = e.buf_size,
                                 .buf_min = e.buf_min, .buf_max = e.buf_max,
                                 .connect_timeout_us = e.connect_timeout_us };
        if ((rc = vcore_set(conn, &c)) < 0) {
            vcore_sys_close(conn);
            return *why = "out of memory", rc;
        }
        if (peer_cid)
            *peer_cid = h.src_cid;
        if (peer_port)
            *peer_port = h.src_port;
        return conn;
    }
}

void vcore_remove_listener_file(const struct vcore_entry *e)
{
    if (e->state != VCORE_LISTENING || !e->has_path || e->owner != getpid())
        return;
    char dir[PATH_MAX], path[PATH_MAX];
    struct stat st;
    /* Remove the socket file only if it is still ours. */
    if (vcore_cid_dir(vcore_run_dir(), e->lcid, dir, sizeof(dir)) == 0 &&
        snprintf(path, sizeof(path), "%s/%u", dir, e->lport) < (int)sizeof(path) &&
        sys_stat(path, &st, false) == 0 && (uint64_t)st.st_dev == e->path_dev &&
        (uint64_t)st.st_ino == e->path_ino)
        sys_unlink(path);
}

int vcore_close(int fd)
{
    struct vcore_entry e;
    if (vcore_get(fd, &e)) {
        vcore_forget(fd);
        vcore_remove_listener_file(&e);
    }
    return vcore_sys_close(fd);
}
