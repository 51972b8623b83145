/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcloister-preload.so: makes AWS's libnsm work unmodified in a Cloister
 * enclave (docs/nsm.md, docs/vsock.md §6). The monitor loads it into
 * dynamically linked enclave programs with LD_PRELOAD.
 *
 * Under Cloister /dev/nsm is the monitor's NSM endpoint, a Unix socket, not
 * the Nitro driver's character device: open() cannot open a socket, and
 * ioctl() has no driver behind it. So open() of /dev/nsm (or
 * $CLOISTER_NSM_DEVICE) connects to it, and ioctl(fd, NSM_IOCTL =
 * 0xC0200A00, struct nsm_message *) on such a connection is one framed
 * exchange (src/lib/nsm/nsm_frame.h: 4-byte big-endian length + CBOR).
 *
 * vsock is not here any more: the monitor's seccomp supervisor serves
 * AF_VSOCK for every program, static ones too (lib/vsock_notify). This
 * library stays because a seccomp notification could serve the ioctl but
 * not the open() of a socket without being sent every open() of the
 * enclave.
 *
 * It calls the kernel directly (raw system calls), never dlsym, and needs no
 * glibc symbol newer than the 64-bit baseline: it loads into old images.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cloister/error.h>

#include "nsm/nsm_frame.h"
#include "nsm/nsm_ioctl.h"

#define EXPORT __attribute__((visibility("default")))

/* uapi linux/nsm.h: NSM_REQUEST_MAX_SIZE, NSM_RESPONSE_MAX_SIZE. */
#define NSM_REQUEST_MAX 0x1000
#define NSM_RESPONSE_MAX 0x3000

static int fail(int negerrno)
{
    errno = -negerrno;
    return -1;
}

/* ---- open: /dev/nsm -------------------------------------------------------- */

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

/* A connection to the NSM endpoint when path is it, or -2 if not. */
static int special_open(const char *path, int flags)
{
    if (!path || strcmp(path, nsm_path()) != 0 || !is_socket_file(path))
        return -2;
    int fd = nsm_frame_connect(path);   /* close-on-exec */
    if (fd < 0)
        return fd == CL_EINVAL ? fail(-ENAMETOOLONG) : -1;
    if (!(flags & O_CLOEXEC))
        syscall(SYS_fcntl, fd, F_SETFD, 0);
    return fd;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    if (path && (path[0] == '/' || dirfd == AT_FDCWD)) {
        int fd = special_open(path, flags);
        if (fd != -2)
            return fd;
    }
    return (int)syscall(SYS_openat, dirfd, path, flags, mode);
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

/* Is fd a connected Unix stream socket (what open() of /dev/nsm gave)? */
static bool is_nsm_connection(int fd)
{
    int type = 0, domain = 0;
    socklen_t l = sizeof(type), m = sizeof(domain);
    return syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 &&
           syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &domain, &m) == 0 &&
           type == SOCK_STREAM && domain == AF_UNIX;
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    /* No other device answers NSM_IOCTL: on anything else it is ENOTTY. */
    if (req == (unsigned long)NSM_IOCTL && is_nsm_connection(fd))
        return nsm_ioctl(fd, arg);
    return (int)syscall(SYS_ioctl, fd, req, arg);
}
