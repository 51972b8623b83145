/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcloister-preload.so: makes unmodified, dynamically linked programs that
 * use AF_VSOCK and AWS's libnsm work on Cloister's emulation (docs/vsock.md
 * §5). Loaded with LD_PRELOAD, in an enclave (the monitor sets it up) or on
 * the parent.
 *
 * - AF_VSOCK stream sockets: socket, bind, listen, accept, accept4,
 *   connect, getsockname, getpeername, getsockopt, setsockopt with struct
 *   sockaddr_vm are mapped onto the emulation (vsock_core.c); the fds are
 *   real Unix sockets, so read/write/send/recv/poll/epoll/shutdown need no
 *   interposition. close, dup, dup2, dup3 and fcntl(F_DUPFD*) keep the
 *   address table right.
 * - /dev/nsm: when it (or $CLOISTER_NSM_DEVICE) is a Unix socket (the
 *   monitor's emulated NSM endpoint), open() connects to it and
 *   ioctl(fd, NSM_IOCTL = 0xC0200A00, struct nsm_message *) is one framed
 *   exchange (src/lib/nsm_frame.h: 4-byte big-endian length + CBOR).
 * - /dev/vsock: open() gives a stand-in on which
 *   IOCTL_VM_SOCKETS_GET_LOCAL_CID answers the emulated CID.
 *
 * With the real transport (a Nitro enclave or parent) everything passes
 * through untouched. Pass-through and the emulation use raw system calls,
 * not the next definitions in the link chain: the library then needs no
 * dlsym and no glibc symbol newer than the 64-bit baseline, and loads into
 * old images. Only the interposed functions are exported.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cloister/error.h>

#include "nsm/nsm_frame.h"
#include "nsm/nsm_ioctl.h"
#include "vsock/vsock_core.h"

#define EXPORT __attribute__((visibility("default")))

/* uapi linux/nsm.h: NSM_REQUEST_MAX_SIZE, NSM_RESPONSE_MAX_SIZE. */
#define NSM_REQUEST_MAX 0x1000
#define NSM_RESPONSE_MAX 0x3000

/* ---- helpers -------------------------------------------------------------- */

static long ret(long r)
{
    return r;   /* syscall() already set errno and returned -1 */
}

static int fail(int negerrno)
{
    errno = -negerrno;
    return -1;
}

static bool emulating(void)
{
    int t = vcore_transport();
    return t == VCORE_HOST || t == VCORE_ENCLAVE;
}

/*
 * A descriptor the kernel just handed out cannot be an emulated socket: forget
 * whatever the table still says about its number (the previous holder may have
 * been closed behind our back, e.g. by fclose() or a raw close system call).
 */
static int fresh(int fd)
{
    if (fd >= 0)
        vcore_forget(fd);
    return fd;
}

/* The tracked vsock entry of fd, if any (cheap for untracked fds). */
static bool vsock_entry(int fd, struct vcore_entry *e)
{
    return vcore_get(fd, e) && e->kind == VCORE_KIND_VSOCK;
}

/* Writes a sockaddr_vm into a caller's (addr, *len) as the kernel does:
 * truncated to the buffer, *len set to the full size. */
static void put_addr(struct sockaddr *addr, socklen_t *len, uint32_t cid, uint32_t port)
{
    if (!addr || !len)
        return;
    struct sockaddr_vm sa;
    memset(&sa, 0, sizeof(sa));
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = cid;
    sa.svm_port = port;
    memcpy(addr, &sa, *len < sizeof(sa) ? *len : sizeof(sa));
    *len = sizeof(sa);
}

/* Reads a caller's sockaddr_vm; -EINVAL / -EAFNOSUPPORT as Linux vsock does. */
static int get_addr(const struct sockaddr *addr, socklen_t len, uint32_t *cid, uint32_t *port)
{
    if (!addr || len < sizeof(struct sockaddr_vm))
        return -EINVAL;
    struct sockaddr_vm sa;
    memcpy(&sa, addr, sizeof(sa));
    if (sa.svm_family != AF_VSOCK)
        return -EAFNOSUPPORT;
    *cid = sa.svm_cid;
    *port = sa.svm_port;
    return 0;
}

/* ---- sockets ------------------------------------------------------------- */

EXPORT int socket(int domain, int type, int protocol)
{
    if (domain == AF_VSOCK && emulating()) {
        int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (base != SOCK_STREAM)
            return fail(-ESOCKTNOSUPPORT);   /* Nitro carries streams only */
        if (protocol != 0 && protocol != PF_VSOCK)
            return fail(-EPROTONOSUPPORT);
        const char *why;
        int fd = vcore_socket(type, &why);
        return fd < 0 ? fail(fd) : fd;
    }
    return fresh((int)syscall(SYS_socket, domain, type, protocol));
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct vcore_entry e;
    if (!vsock_entry(fd, &e))
        return (int)ret(syscall(SYS_bind, fd, addr, len));
    uint32_t cid, port;
    int rc = get_addr(addr, len, &cid, &port);
    const char *why;
    if (rc == 0)
        rc = vcore_bind(fd, cid, port, &why);
    return rc < 0 ? fail(rc) : 0;
}

EXPORT int listen(int fd, int backlog)
{
    struct vcore_entry e;
    if (!vsock_entry(fd, &e))
        return (int)ret(syscall(SYS_listen, fd, backlog));
    const char *why;
    int rc = vcore_listen(fd, &why);
    return rc < 0 ? fail(rc) : 0;
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    struct vcore_entry e;
    if (!vsock_entry(fd, &e))
        return fresh((int)syscall(SYS_accept4, fd, addr, len, flags));
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return fail(-EINVAL);
    uint32_t cid, port;
    const char *why;
    int c = vcore_accept(fd, flags, &cid, &port, &why);
    if (c < 0)
        return fail(c);
    put_addr(addr, len, cid, port);
    return c;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct vcore_entry e;
    if (!vsock_entry(fd, &e))
        return (int)ret(syscall(SYS_connect, fd, addr, len));
    uint32_t cid, port;
    int rc = get_addr(addr, len, &cid, &port);
    const char *why;
    if (rc == 0)
        rc = vcore_connect(fd, cid, port, &why);
    return rc < 0 ? fail(rc) : 0;
}

EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct vcore_entry e;
    if (!vsock_entry(fd, &e))
        return (int)ret(syscall(SYS_getsockname, fd, addr, len));
    put_addr(addr, len, e.lcid, e.lport);
    return 0;
}

EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct vcore_entry e;
    if (!vsock_entry(fd, &e))
        return (int)ret(syscall(SYS_getpeername, fd, addr, len));
    if (e.state != VCORE_CONNECTED)
        return fail(-ENOTCONN);
    put_addr(addr, len, e.pcid, e.pport);
    return 0;
}

static int put_opt(void *val, socklen_t *len, const void *v, socklen_t vlen)
{
    if (!val || !len || *len < vlen)
        return fail(-EINVAL);
    memcpy(val, v, vlen);
    *len = vlen;
    return 0;
}

/* SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW carries a 64-bit timeval (kernel >= 5.1). */
struct timeval64 {
    int64_t tv_sec, tv_usec;
};

#ifndef SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW
#define SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW 8
#endif
#ifndef SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD
#define SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD 6
#endif

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct vcore_entry e;
    if (!vsock_entry(fd, &e))
        return (int)ret(syscall(SYS_getsockopt, fd, level, name, val, len));
    if (level == SOL_SOCKET) {
        int v;
        switch (name) {
        case SO_DOMAIN: v = AF_VSOCK; return put_opt(val, len, &v, sizeof(v));
        case SO_TYPE: v = SOCK_STREAM; return put_opt(val, len, &v, sizeof(v));
        case SO_PROTOCOL: v = 0; return put_opt(val, len, &v, sizeof(v));
        case SO_ACCEPTCONN:
            v = e.state == VCORE_LISTENING;
            return put_opt(val, len, &v, sizeof(v));
        }
        return (int)ret(syscall(SYS_getsockopt, fd, level, name, val, len));
    }
    if (level == AF_VSOCK) {
        uint64_t u;
        switch (name) {
        case SO_VM_SOCKETS_BUFFER_SIZE: u = e.buf_size; return put_opt(val, len, &u, sizeof(u));
        case SO_VM_SOCKETS_BUFFER_MIN_SIZE: u = e.buf_min; return put_opt(val, len, &u, sizeof(u));
        case SO_VM_SOCKETS_BUFFER_MAX_SIZE: u = e.buf_max; return put_opt(val, len, &u, sizeof(u));
        case SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD: {
            struct timeval tv = { .tv_sec = (time_t)(e.connect_timeout_us / 1000000),
                                  .tv_usec = (suseconds_t)(e.connect_timeout_us % 1000000) };
            return put_opt(val, len, &tv, sizeof(tv));
        }
        case SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW: {
            struct timeval64 tv = { (int64_t)(e.connect_timeout_us / 1000000),
                                    (int64_t)(e.connect_timeout_us % 1000000) };
            return put_opt(val, len, &tv, sizeof(tv));
        }
        }
        return fail(-ENOPROTOOPT);
    }
    return fail(-EOPNOTSUPP);
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct vcore_entry e;
    if (!vsock_entry(fd, &e))
        return (int)ret(syscall(SYS_setsockopt, fd, level, name, val, len));
    if (level == SOL_SOCKET)
        return (int)ret(syscall(SYS_setsockopt, fd, level, name, val, len));
    if (level != AF_VSOCK)
        return fail(-EOPNOTSUPP);
    uint64_t u;
    switch (name) {
    case SO_VM_SOCKETS_BUFFER_SIZE:
    case SO_VM_SOCKETS_BUFFER_MIN_SIZE:
    case SO_VM_SOCKETS_BUFFER_MAX_SIZE:
        if (!val || len < sizeof(u))
            return fail(-EINVAL);
        memcpy(&u, val, sizeof(u));
        if (name == SO_VM_SOCKETS_BUFFER_SIZE)
            e.buf_size = u;
        else if (name == SO_VM_SOCKETS_BUFFER_MIN_SIZE)
            e.buf_min = u;
        else
            e.buf_max = u;
        /* Linux keeps min <= size <= max by moving the bounds. */
        if (e.buf_min > e.buf_size)
            e.buf_min = e.buf_size;
        if (e.buf_max < e.buf_size)
            e.buf_max = e.buf_size;
        break;
    case SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD: {
        struct timeval tv;
        if (!val || len < sizeof(tv))
            return fail(-EINVAL);
        memcpy(&tv, val, sizeof(tv));
        if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
            return fail(-EDOM);
        e.connect_timeout_us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
        break;
    }
    case SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW: {
        struct timeval64 tv;
        if (!val || len < sizeof(tv))
            return fail(-EINVAL);
        memcpy(&tv, val, sizeof(tv));
        if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
            return fail(-EDOM);
        e.connect_timeout_us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
        break;
    }
    default:
        return fail(-ENOPROTOOPT);
    }
    int rc = vcore_set(fd, &e);
    return rc < 0 ? fail(rc) : 0;
}

/* ---- fd bookkeeping -------------------------------------------------------- */

EXPORT int close(int fd)
{
    struct vcore_entry e;
    if (!vcore_get(fd, &e))
        return (int)ret(syscall(SYS_close, fd));
    int rc = vcore_close(fd);   /* forgets, removes a listener's file, closes */
    return rc < 0 ? fail(rc) : 0;
}

EXPORT int dup(int fd)
{
    int n = (int)syscall(SYS_dup, fd);
    if (n >= 0)
        vcore_dup(fd, n);
    return n;
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
    int n = (int)syscall(SYS_dup3, oldfd, newfd, flags);
    if (n >= 0)
        vcore_dup(oldfd, n);
    return n;
}

EXPORT int dup2(int oldfd, int newfd)
{
    if (oldfd == newfd) {
        /* dup2 returns newfd if oldfd is valid, without doing anything. */
        if (syscall(SYS_fcntl, oldfd, F_GETFD) < 0)
            return -1;
        return newfd;
    }
    return dup3(oldfd, newfd, 0);
}

static int do_fcntl(int fd, int cmd, long arg)
{
    int r = (int)syscall(SYS_fcntl, fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        vcore_dup(fd, r);
    return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);   /* an int or a pointer; unused if none was passed */
    va_end(ap);
    return do_fcntl(fd, cmd, arg);
}

/* glibc >= 2.28 redirects fcntl to fcntl64 under _FILE_OFFSET_BITS=64. */
EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return do_fcntl(fd, cmd, arg);
}

/* ---- /dev/nsm and /dev/vsock ------------------------------------------------ */

static const char *nsm_path(void)
{
    const char *p = getenv(NSM_DEV_ENV);
    return p && *p ? p : NSM_DEV_PATH;
}

static bool is_socket_file(const char *path)
{
    struct stat st;
    return syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0 && S_ISSOCK(st.st_mode);
}

/* An fd for a path this library serves itself, or -2 if the path is not one. */
static int special_open(const char *path, int flags)
{
    if (!path)
        return -2;
    if (strcmp(path, nsm_path()) == 0 && is_socket_file(path)) {
        int fd = nsm_frame_connect(path);   /* close-on-exec */
        if (fd < 0)
            return fd == CL_EINVAL ? fail(-ENAMETOOLONG) : -1;
        if (!(flags & O_CLOEXEC))
            syscall(SYS_fcntl, fd, F_SETFD, 0);
        struct vcore_entry e = { .kind = VCORE_KIND_NSM };
        if (vcore_set(fd, &e) < 0) {
            syscall(SYS_close, fd);
            return fail(-ENOMEM);
        }
        return fd;
    }
    if (strcmp(path, "/dev/vsock") == 0 && emulating()) {
        /* Programs open /dev/vsock to ask their CID (IOCTL_VM_SOCKETS_GET_LOCAL_CID). */
        int fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null",
                              O_RDONLY | (flags & O_CLOEXEC), 0);
        if (fd < 0)
            return -1;
        struct vcore_entry e = { .kind = VCORE_KIND_VSOCKDEV };
        if (vcore_set(fd, &e) < 0) {
            syscall(SYS_close, fd);
            return fail(-ENOMEM);
        }
        return fd;
    }
    return -2;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    if (path && (path[0] == '/' || dirfd == AT_FDCWD)) {
        int fd = special_open(path, flags);
        if (fd != -2)
            return fd;
    }
    return fresh((int)syscall(SYS_openat, dirfd, path, flags, mode));
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(AT_FDCWD, path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(dirfd, path, flags | O_LARGEFILE, mode);
}

/* _FORTIFY_SOURCE builds call these when the flags are not constant. */
EXPORT int __open_2(const char *path, int flags)
{
    return do_openat(AT_FDCWD, path, flags, 0);
}

EXPORT int __open64_2(const char *path, int flags)
{
    return do_openat(AT_FDCWD, path, flags | O_LARGEFILE, 0);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    return do_openat(dirfd, path, flags, 0);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    return do_openat(dirfd, path, flags | O_LARGEFILE, 0);
}

static volatile int nsm_lock;

/* One NSM exchange for libnsm's ioctl (aws-nitro-enclaves-nsm-api
 * src/driver/mod.rs nsm_process_request: request <= 0x1000 bytes, a
 * response buffer of 0x3000 whose length the driver updates). */
static int nsm_ioctl(int fd, struct nsm_message *m)
{
    if (!m)
        return fail(-EFAULT);
    if (m->request.iov_len > NSM_REQUEST_MAX)
        return fail(-EMSGSIZE);
    static uint8_t resp[NSM_RESPONSE_MAX];
    size_t rlen = 0;
    /* Serialised, as the kernel driver serialises its requests. */
    while (__atomic_test_and_set(&nsm_lock, __ATOMIC_ACQUIRE))
        syscall(SYS_sched_yield);
    int rc = nsm_frame_transact(fd, m->request.iov_base, m->request.iov_len, resp, sizeof(resp),
                                &rlen);
    int saved = errno;
    if (rc == 0) {
        size_t n = rlen < m->response.iov_len ? rlen : m->response.iov_len;
        memcpy(m->response.iov_base, resp, n);
        m->response.iov_len = n;
    }
    __atomic_clear(&nsm_lock, __ATOMIC_RELEASE);
    if (rc == 0)
        return 0;
    if (rc == CL_EIO)
        return fail(-(saved ? saved : EIO));
    return fail(rc == CL_ELIMIT ? -EMSGSIZE : -EIO);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    struct vcore_entry e;
    if (vcore_get(fd, &e)) {
        if (e.kind == VCORE_KIND_NSM && req == (unsigned long)NSM_IOCTL)
            return nsm_ioctl(fd, arg);
        if (e.kind == VCORE_KIND_VSOCKDEV && req == IOCTL_VM_SOCKETS_GET_LOCAL_CID) {
            uint32_t cid;
            const char *why;
            int rc = vcore_local_cid(&cid, &why);
            if (rc < 0)
                return fail(rc);
            if (!arg)
                return fail(-EFAULT);
            memcpy(arg, &cid, sizeof(cid));
            return 0;
        }
    }
    return (int)syscall(SYS_ioctl, fd, req, arg);
}
