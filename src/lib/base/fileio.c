/* SPDX-License-Identifier: Apache-2.0 */
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max, uint8_t **data, size_t *len,
                  struct cl_error *err)
{
    int rc = 0;
    uint8_t *buf = NULL;
    *data = NULL;
    *len = 0;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "cannot open '%s'",
                             path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot stat '%s'", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cl_fail(err, CL_EINVAL, "'%s' is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = cl_fail(err, CL_ELIMIT, "'%s' is %lld bytes, at most %zu allowed", path,
                     (long long)st.st_size, max);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size + 1);
    if (!buf) {
        rc = cl_fail(err, CL_ENOMEM, "cannot allocate %zu bytes for '%s'", size + 1, path);
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot read '%s'", path);
            goto out;
        }
        if (n == 0)
            break; /* the file shrank under us: take what is there */
        got += (size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

int fd_write_all(int fd, const void *buf, size_t len, struct cl_error *err)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cl_fail_errno(err, CL_EIO, "write failed");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fd_pread_exact(int fd, void *buf, size_t len, off_t offset, struct cl_error *err)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cl_fail_errno(err, CL_EIO, "read at offset %lld failed", (long long)offset);
        if (n == 0)
            return cl_fail(err, CL_EFORMAT, "unexpected end of file at offset %lld",
                           (long long)offset);
        p += n;
        len -= (size_t)n;
        offset += n;
    }
    return 0;
}

int atomic_file_open(struct atomic_file *af, const char *path, mode_t mode,
                     struct cl_error *err)
{
    af->fd = -1;
    af->path = strdup(path);
    af->tmp_path = NULL;
    if (!af->path || asprintf(&af->tmp_path, "%s.tmp.XXXXXX", path) < 0) {
        af->tmp_path = NULL;
        atomic_file_abort(af);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    af->fd = mkostemp(af->tmp_path, O_CLOEXEC);
    if (af->fd < 0) {
        int rc = cl_fail_errno(err, CL_EIO, "cannot create '%s'", af->tmp_path);
        free(af->tmp_path);
        af->tmp_path = NULL;
        atomic_file_abort(af);
        return rc;
    }
    if (fchmod(af->fd, mode) < 0) {
        int rc = cl_fail_errno(err, CL_EIO, "cannot set the mode of '%s'", af->tmp_path);
        atomic_file_abort(af);
        return rc;
    }
    return 0;
}

static void fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

int atomic_file_commit(struct atomic_file *af, struct cl_error *err)
{
    int rc = 0;
    if (fsync(af->fd) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot flush '%s'", af->tmp_path);
        goto out;
    }
    if (close(af->fd) < 0) {
        af->fd = -1;
        rc = cl_fail_errno(err, CL_EIO, "cannot close '%s'", af->tmp_path);
        goto out;
    }
    af->fd = -1;
    if (rename(af->tmp_path, af->path) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot rename '%s' to '%s'", af->tmp_path, af->path);
        goto out;
    }
    fsync_parent_dir(af->path);
    free(af->tmp_path);
    af->tmp_path = NULL;
out:
    atomic_file_abort(af);
    return rc;
}

void atomic_file_abort(struct atomic_file *af)
{
    if (af->fd >= 0)
        close(af->fd);
    af->fd = -1;
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    af->tmp_path = NULL;
    af->path = NULL;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                      struct cl_error *err)
{
    struct atomic_file af;
    int rc = atomic_file_open(&af, path, mode, err);
    if (rc < 0)
        return rc;
    rc = fd_write_all(af.fd, data, len, err);
    if (rc < 0) {
        cl_error_prefix(err, "writing '%s'", path);
        atomic_file_abort(&af);
        return rc;
    }
    return atomic_file_commit(&af, err);
}
