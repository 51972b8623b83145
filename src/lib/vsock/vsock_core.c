/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cloister's emulated vsock engine; the design and the confinement argument
 * are in docs/vsock.md. In short:
 *  - a listener is a "mailbox", a SOCK_DGRAM Unix socket bound at
 *    $RUN/vsock/<cid>/<port> (on the host) or made by the enclave's monitor
 *    (inside an enclave, which never sees $RUN);
 *  - a connector makes a socketpair, keeps one end and posts the other end
 *    to the mailbox with a 24-byte hello naming both addresses; the data then
 *    flows over the socketpair, directly between the two processes;
 *  - inside an enclave the connector asks its monitor's broker instead,
 *    which stamps the true source address and refuses any destination but
 *    the parent.
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

/* ---- raw system calls: never the (possibly interposed) libc symbols ---- */

static int sys_ret(long r)
{
    return r < 0 ? -errno : (int)r;
}

static int sys_socket(int domain, int type, int proto)
{
    return sys_ret(syscall(SYS_socket, domain, type, proto));
}

static int sys_socketpair(int domain, int type, int proto, int sv[2])
{
    return sys_ret(syscall(SYS_socketpair, domain, type, proto, sv));
}

static int sys_connect(int fd, const void *addr, socklen_t len)
{
    return sys_ret(syscall(SYS_connect, fd, addr, len));
}

static int sys_bind(int fd, const void *addr, socklen_t len)
{
    return sys_ret(syscall(SYS_bind, fd, addr, len));
}

static int sys_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    return sys_ret(syscall(SYS_setsockopt, fd, level, name, val, len));
}

static int sys_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    return sys_ret(syscall(SYS_getsockopt, fd, level, name, val, len));
}

static ssize_t sys_sendmsg(int fd, const struct msghdr *m, int flags)
{
    return syscall(SYS_sendmsg, fd, m, flags) < 0 ? -errno : 0;
}

static ssize_t sys_recvmsg(int fd, struct msghdr *m, int flags)
{
    long r = syscall(SYS_recvmsg, fd, m, flags);
    return r < 0 ? -errno : r;
}

static int sys_fcntl(int fd, int cmd, long arg)
{
    return sys_ret(syscall(SYS_fcntl, fd, cmd, arg));
}

static int sys_dup3(int oldfd, int newfd, int flags)
{
    return sys_ret(syscall(SYS_dup3, oldfd, newfd, flags));
}

int vcore_sys_close(int fd)
{
    return sys_ret(syscall(SYS_close, fd));
}

static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    return sys_ret(syscall(SYS_openat, dirfd, path, flags, mode));
}

/* File operations as raw system calls too: no glibc symbol newer than its
 * 64-bit baseline, so the preload library loads into old images. */
static int sys_stat(const char *path, struct stat *st, bool follow)
{
    return sys_ret(syscall(SYS_newfstatat, AT_FDCWD, path, st, follow ? 0 : AT_SYMLINK_NOFOLLOW));
}

static int sys_mkdir(const char *path, mode_t mode)
{
    return sys_ret(syscall(SYS_mkdirat, AT_FDCWD, path, mode));
}

static int sys_chmod(const char *path, mode_t mode)
{
    return sys_ret(syscall(SYS_fchmodat, AT_FDCWD, path, mode, 0));
}

static int sys_unlink(const char *path)
{
    return sys_ret(syscall(SYS_unlinkat, AT_FDCWD, path, 0));
}

static int sys_flock(int fd, int op)
{
    return sys_ret(syscall(SYS_flock, fd, op));
}

static long sys_getrandom(void *buf, size_t len)
{
    long r = syscall(SYS_getrandom, buf, len, 0);
    return r < 0 ? -errno : r;
}

/* ---- the address table: pages of entries, never freed ------------------ */

#define PAGE_ENTRIES 1024
#define PAGE_COUNT 4096              /* fds below 4 Mi are tracked */

static struct vcore_entry *pages[PAGE_COUNT];
static volatile int table_lock;

static void lock(void)
{
    while (__atomic_test_and_set(&table_lock, __ATOMIC_ACQUIRE))
        sched_yield();
}

static void unlock(void)
{
    __atomic_clear(&table_lock, __ATOMIC_RELEASE);
}

int vcore_get(int fd, struct vcore_entry *e)
{
    if (fd < 0 || fd / PAGE_ENTRIES >= PAGE_COUNT)
        return 0;
    /*
     * Untracked fds, by far the most common (every close() in a preloaded
     * program), are answered without the lock: pages are never freed, and
     * a signal handler's close() then cannot deadlock on a lock its own
     * thread holds.
     */
    struct vcore_entry *page = __atomic_load_n(&pages[fd / PAGE_ENTRIES], __ATOMIC_ACQUIRE);
    if (!page || __atomic_load_n(&page[fd % PAGE_ENTRIES].kind, __ATOMIC_RELAXED) == VCORE_KIND_NONE)
        return 0;
    int found = 0;
    lock();
    struct vcore_entry *p = pages[fd / PAGE_ENTRIES];
    if (p && p[fd % PAGE_ENTRIES].kind != VCORE_KIND_NONE) {
        *e = p[fd % PAGE_ENTRIES];
        found = 1;
    }
    unlock();
    return found;
}

int vcore_set(int fd, const struct vcore_entry *e)
{
    if (fd < 0)
        return -EBADF;
    if (fd / PAGE_ENTRIES >= PAGE_COUNT)
        return -ENOMEM;
    int rc = 0;
    lock();
    struct vcore_entry **slot = &pages[fd / PAGE_ENTRIES];
    if (!*slot)
        __atomic_store_n(slot, calloc(PAGE_ENTRIES, sizeof(struct vcore_entry)), __ATOMIC_RELEASE);
    if (*slot)
        (*slot)[fd % PAGE_ENTRIES] = *e;
    else
        rc = -ENOMEM;
    unlock();
    return rc;
}

void vcore_forget(int fd)
{
    if (fd < 0 || fd / PAGE_ENTRIES >= PAGE_COUNT)
        return;
    struct vcore_entry *page = __atomic_load_n(&pages[fd / PAGE_ENTRIES], __ATOMIC_ACQUIRE);
    if (!page || __atomic_load_n(&page[fd % PAGE_ENTRIES].kind, __ATOMIC_RELAXED) == VCORE_KIND_NONE)
        return;   /* the common case, without the lock */
    lock();
    struct vcore_entry *p = pages[fd / PAGE_ENTRIES];
    if (p)
        memset(&p[fd % PAGE_ENTRIES], 0, sizeof(*p));
    unlock();
}

void vcore_dup(int oldfd, int newfd)
{
    struct vcore_entry e;
    if (vcore_get(oldfd, &e)) {
        e.has_path = false;   /* only the original removes the socket file */
        vcore_set(newfd, &e);
    } else {
        vcore_forget(newfd);
    }
}

/* ---- transport detection ------------------------------------------------ */

static int cached_transport;          /* 0: not yet detected */
static uint32_t cached_cid = VMADDR_CID_ANY;

void vcore_reset(void)
{
    cached_transport = 0;
    cached_cid = VMADDR_CID_ANY;
}

static const char *broker_path(void)
{
    const char *p = getenv("CLOISTER_VSOCK_BROKER");
    return p && *p ? p : "/dev/cloister-vsock/broker";
}

static bool is_chr(const char *path)
{
    struct stat st;
    return sys_stat(path, &st, true) == 0 && S_ISCHR(st.st_mode);
}

static bool af_vsock_works(void)
{
    int fd = sys_socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    vcore_sys_close(fd);
    return true;
}

static int detect(void)
{
    const char *force = getenv("CLOISTER_VSOCK_TRANSPORT");
    if (force && strcmp(force, "real") == 0)
        return VCORE_REAL;
    bool emulate = force && strcmp(force, "emulated") == 0;
    /*
     * Real AF_VSOCK only on Nitro: inside an enclave the NSM driver makes
     * /dev/nsm a character device; on a parent the Nitro Enclaves driver
     * makes /dev/nitro_enclaves one. /dev/vsock alone proves nothing (any
     * VM guest or KVM host has it), and under Cloister host AF_VSOCK would
     * escape the enclave's confinement.
     */
    if (!emulate && (is_chr("/dev/nsm") || is_chr("/dev/nitro_enclaves")) && af_vsock_works())
        return VCORE_REAL;
    struct stat st;
    if (sys_stat(broker_path(), &st, true) == 0 && S_ISSOCK(st.st_mode))
        return VCORE_ENCLAVE;
    return VCORE_HOST;
}

int vcore_transport(void)
{
    int t = __atomic_load_n(&cached_transport, __ATOMIC_ACQUIRE);
    if (t == 0) {
        t = detect();
        __atomic_store_n(&cached_transport, t, __ATOMIC_RELEASE);
    }
    return t;
}

const char *vcore_run_dir(void)
{
    const char *d = getenv("CLOISTER_RUN_DIR");
    return d && *d ? d : VCORE_DEFAULT_RUN_DIR;
}

uint32_t vcore_random_port(void)
{
    uint32_t r = 0;
    if (sys_getrandom(&r, sizeof(r)) != (long)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u;
    }
    /* Linux vsock_auto_bind: LAST_RESERVED_PORT + 1 + random below U32_MAX - 1023. */
    return 1024u + r % (0xFFFFFFFFu - 1024u);
}

/* ---- paths --------------------------------------------------------------- */

int vcore_cid_dir(const char *run_dir, uint32_t cid, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/" VCORE_DIR "/%u", run_dir, cid);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * The sockaddr_un of dir/name. sun_path holds 107 characters; a longer path
 * goes through /proc/self/fd/<dirfd>/name, which the kernel resolves like
 * any path (the caller closes *dirfd when it is not -1).
 */
static int sun_of(const char *dir, const char *name, struct sockaddr_un *sa, socklen_t *salen,
                  int *dirfd)
{
    *dirfd = -1;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, name);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(sa->sun_path)) {
        int d = sys_openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (d < 0)
            return d;
        n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", d, name);
        if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
            vcore_sys_close(d);
            return -ENAMETOOLONG;
        }
        *dirfd = d;
    }
    *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    return 0;
}

static int mkdir_mode(const char *path, mode_t mode)
{
    int rc = sys_mkdir(path, mode);
    if (rc == 0)
        return sys_chmod(path, mode);  /* mkdir's mode is filtered by the umask */
    if (rc != -EEXIST)
        return rc;
    struct stat st;
    if ((rc = sys_stat(path, &st, false)) < 0)
        return rc;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int vcore_ensure_host_dirs(const char *run_dir, const char **why)
{
    char path[PATH_MAX];
    int rc = mkdir_mode(run_dir, 0755);
    if (rc < 0) {
        *why = "cannot create the run directory";
        return rc;
    }
    if (snprintf(path, sizeof(path), "%s/" VCORE_DIR, run_dir) >= (int)sizeof(path))
        return *why = "run directory path too long", -ENAMETOOLONG;
    if ((rc = mkdir_mode(path, 0755)) < 0) {
        *why = "cannot create the vsock directory";
        return rc;
    }
    if (vcore_cid_dir(run_dir, 3, path, sizeof(path)) < 0)
        return *why = "run directory path too long", -ENAMETOOLONG;
    /* Parent programs of every user listen here; sticky like /tmp. */
    if ((rc = mkdir_mode(path, 01777)) < 0) {
        *why = "cannot create the parent's vsock directory";
        return rc;
    }
    return 0;
}

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
        if ((rc = sun_of(dir, name, &sa, &salen, &dirfd)) < 0) {
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
    int rc = sun_of(dir, name, &sa, &salen, &dirfd);
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
    const char *path = broker_path();
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash || (size_t)(slash - path) >= sizeof(dir))
        return *why = "bad broker path", -EINVAL;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    int rc = sun_of(slash == path ? "/" : dir, slash + 1, &sa, &salen, &dirfd);
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
    struct vcore_entry e = { .kind = VCORE_KIND_VSOCK, .state = VCORE_NEW,
                             .lcid = VMADDR_CID_ANY, .lport = VMADDR_PORT_ANY,
                             .buf_size = 262144, .buf_min = 128, .buf_max = 262144,
                             .connect_timeout_us = 2000000 };
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
        if (cid != VCORE_PARENT_CID && (rc = mkdir_mode(dir, 0755)) < 0)
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
    bool nonblock = is_nonblocking(fd);
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

int vcore_close(int fd)
{
    struct vcore_entry e;
    if (vcore_get(fd, &e)) {
        vcore_forget(fd);
        if (e.state == VCORE_LISTENING && e.has_path && e.owner == getpid()) {
            char dir[PATH_MAX], path[PATH_MAX];
            struct stat st;
            /* Remove the socket file only if it is still ours. */
            if (vcore_cid_dir(vcore_run_dir(), e.lcid, dir, sizeof(dir)) == 0 &&
                snprintf(path, sizeof(path), "%s/%u", dir, e.lport) < (int)sizeof(path) &&
                sys_stat(path, &st, false) == 0 && (uint64_t)st.st_dev == e.path_dev &&
                (uint64_t)st.st_ino == e.path_ino)
                sys_unlink(path);
        }
    }
    return vcore_sys_close(fd);
}
