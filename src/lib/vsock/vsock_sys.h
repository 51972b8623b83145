/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vsock engine's system calls, made raw: never libc symbols that a
 * program's own LD_PRELOAD could interpose, and none newer than glibc's
 * 64-bit baseline (the static init links them). Each returns the result or
 * -errno. Internal to vsock/.
 */
#ifndef CLOISTER_VSOCK_SYS_H
#define CLOISTER_VSOCK_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int sys_ret(long r)
{
    return r < 0 ? -errno : (int)r;
}

static inline int sys_socket(int domain, int type, int proto)
{
    return sys_ret(syscall(SYS_socket, domain, type, proto));
}

static inline int sys_socketpair(int domain, int type, int proto, int sv[2])
{
    return sys_ret(syscall(SYS_socketpair, domain, type, proto, sv));
}

static inline int sys_connect(int fd, const void *addr, socklen_t len)
{
    return sys_ret(syscall(SYS_connect, fd, addr, len));
}

static inline int sys_bind(int fd, const void *addr, socklen_t len)
{
    return sys_ret(syscall(SYS_bind, fd, addr, len));
}

static inline int sys_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    return sys_ret(syscall(SYS_setsockopt, fd, level, name, val, len));
}

static inline int sys_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    return sys_ret(syscall(SYS_getsockopt, fd, level, name, val, len));
}

static inline ssize_t sys_sendmsg(int fd, const struct msghdr *m, int flags)
{
    return syscall(SYS_sendmsg, fd, m, flags) < 0 ? -errno : 0;
}

static inline ssize_t sys_recvmsg(int fd, struct msghdr *m, int flags)
{
    long r = syscall(SYS_recvmsg, fd, m, flags);
    return r < 0 ? -errno : r;
}

static inline int sys_fcntl(int fd, int cmd, long arg)
{
    return sys_ret(syscall(SYS_fcntl, fd, cmd, arg));
}

static inline int sys_dup3(int oldfd, int newfd, int flags)
{
    return sys_ret(syscall(SYS_dup3, oldfd, newfd, flags));
}


static inline int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    return sys_ret(syscall(SYS_openat, dirfd, path, flags, mode));
}

static inline int sys_stat(const char *path, struct stat *st, bool follow)
{
    return sys_ret(syscall(SYS_newfstatat, AT_FDCWD, path, st, follow ? 0 : AT_SYMLINK_NOFOLLOW));
}

static inline int sys_mkdir(const char *path, mode_t mode)
{
    return sys_ret(syscall(SYS_mkdirat, AT_FDCWD, path, mode));
}

static inline int sys_chmod(const char *path, mode_t mode)
{
    return sys_ret(syscall(SYS_fchmodat, AT_FDCWD, path, mode, 0));
}

static inline int sys_unlink(const char *path)
{
    return sys_ret(syscall(SYS_unlinkat, AT_FDCWD, path, 0));
}

static inline int sys_flock(int fd, int op)
{
    return sys_ret(syscall(SYS_flock, fd, op));
}

static inline long sys_getrandom(void *buf, size_t len)
{
    long r = syscall(SYS_getrandom, buf, len, 0);
    return r < 0 ? -errno : r;
}

#endif
