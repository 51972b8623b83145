/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int rt_path(char *buf, size_t cap, struct cl_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return cl_fail(err, CL_ELIMIT, "path too long");
    return 0;
}

int rt_mkdir_p(const char *path, mode_t mode, struct cl_error *err)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp))
        return cl_fail(err, CL_EINVAL, "bad directory path");
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                return cl_fail_errno(err, CL_EIO, "cannot create %s", tmp);
            *p = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return cl_fail(err, CL_EIO, "%s is not a directory", path);
    return 0;
}

int rt_write_str(const char *path, const char *s, struct cl_error *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return cl_fail_errno(err, CL_EIO, "cannot open %s", path);
    size_t len = strlen(s);
    ssize_t w = write(fd, s, len);
    int saved = errno;
    close(fd);
    if (w < 0 || (size_t)w != len) {
        errno = w < 0 ? saved : EIO;
        return cl_fail_errno(err, CL_EIO, "cannot write '%s' to %s", s, path);
    }
    return 0;
}

int rt_read_str(const char *path, char *buf, size_t cap, struct cl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cl_fail_errno(err, CL_EIO, "cannot open %s", path);
    size_t off = 0;
    for (;;) {
        if (off + 1 >= cap) {
            char extra;
            ssize_t r = read(fd, &extra, 1);
            close(fd);
            if (r == 0)
                break;
            return cl_fail(err, CL_ELIMIT, "%s is larger than %zu bytes", path, cap - 1);
        }
        ssize_t r = read(fd, buf + off, cap - 1 - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return cl_fail_errno(err, CL_EIO, "cannot read %s", path);
        }
        if (r == 0) {
            close(fd);
            break;
        }
        off += (size_t)r;
    }
    buf[off] = '\0';
    while (off > 0 && (buf[off - 1] == '\n' || buf[off - 1] == ' '))
        buf[--off] = '\0';
    return 0;
}

static int rm_at(int dirfd, const char *name, dev_t dev, int depth)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
    if (st.st_dev != dev || depth > 64) {
        /* Another mount below (never cross it), or absurd depth: try rmdir only. */
        return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -1 : 0;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (rm_at(fd, de->d_name, dev, depth + 1) < 0)
            rc = -1;
    }
    closedir(d);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

int rt_rm_rf(const char *path, struct cl_error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return cl_fail_errno(err, CL_EIO, "cannot stat %s", path);
    }
    if (rm_at(AT_FDCWD, path, st.st_dev, 0) < 0)
        return cl_fail_errno(err, CL_EIO, "cannot remove %s", path);
    return 0;
}

unsigned long long rt_proc_start_time(pid_t pid)
{
    char path[64], buf[1024];
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (rt_read_str(path, buf, sizeof(buf), NULL) < 0)
        return 0;
    /* The command name may contain anything: fields restart after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    /* After ')' come field 3 (state) ... field 22 (starttime): skip 19 fields. */
    for (int field = 3; field < 22; field++) {
        while (*p == ' ')
            p++;
        if (field == 3 && *p == 'Z')
            return 0;  /* a zombie is gone for our purposes */
        while (*p && *p != ' ')
            p++;
        if (!*p)
            return 0;
    }
    while (*p == ' ')
        p++;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno || end == p)
        return 0;
    return v;
}

bool rt_proc_alive(pid_t pid, unsigned long long start_time)
{
    unsigned long long now = rt_proc_start_time(pid);
    return now != 0 && now == start_time;
}

long long rt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fills sa for path; *dirfd is an O_PATH fd to close afterwards (or -1). */
static int unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd, struct cl_error *err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    *dirfd = -1;
    if (strlen(path) < sizeof(sa->sun_path)) {
        strcpy(sa->sun_path, path);
        return 0;
    }
    const char *slash = strrchr(path, '/');
    if (!slash || strlen(slash + 1) + 32 >= sizeof(sa->sun_path))
        return cl_fail(err, CL_ELIMIT, "socket path too long: %s", path);
    char dir[4096];
    size_t dlen = (size_t)(slash - path);
    if (dlen == 0 || dlen >= sizeof(dir))
        return cl_fail(err, CL_ELIMIT, "socket path too long: %s", path);
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0)
        return cl_fail_errno(err, CL_EIO, "cannot open %s", dir);
    snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dirfd, slash + 1);
    return 0;
}

/*
 * A stream socket on path: listening (non-blocking, mode applied, a stale
 * socket file replaced) or connected. Returns the fd or a negative code.
 */
static int unix_socket(const char *path, bool listening, mode_t mode, struct cl_error *err)
{
    struct sockaddr_un sa;
    int dirfd;
    int rc = unix_addr(path, &sa, &dirfd, err);
    if (rc < 0)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (listening ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        rc = cl_fail_errno(err, CL_EIO, "socket");
        goto out;
    }
    if (listening) {
        unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
            listen(fd, 64) < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot listen on %s", path);
            close(fd);
            goto out;
        }
    } else if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot connect to %s", path);
        close(fd);
        goto out;
    }
    rc = fd;
out:
    if (dirfd >= 0)
        close(dirfd);
    return rc;
}

int rt_unix_listen(const char *path, mode_t mode, struct cl_error *err)
{
    return unix_socket(path, true, mode, err);
}

int rt_unix_connect(const char *path, struct cl_error *err)
{
    return unix_socket(path, false, 0, err);
}

bool rt_peer_is_enclave_or_root(int fd, uid_t uid_base, uid_t range)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof(cr))
        return false;
    if (cr.uid == 0)
        return true;  /* host root is trusted throughout (docs/runtime.md) */
    return cr.uid >= uid_base && cr.uid - uid_base < range;
}
