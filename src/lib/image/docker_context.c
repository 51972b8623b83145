/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker_context_write() (docker_context.h): DIR walked in name order,
 * each entry written through libarchive as it is met, file data streamed
 * from the open file. What nitro-cli would send and why some of it is
 * refused is in the header and in docs/build-enclave.md ("--docker-dir").
 */
#include "image/docker_context.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct walk {
    struct archive *a;
    int rootfd;
    char *rootreal;      /* realpath of DIR */
    char path[PATH_MAX]; /* the entry's name in the context */
    struct {
        dev_t dev;
        ino_t ino;
    } chain[DOCKER_CONTEXT_DEPTH_MAX + 1]; /* DIR and the directories being walked */
    size_t depth;
    char buf[64 * 1024];
};

static int archive_fail(struct walk *w, struct cl_error *err)
{
    return cl_fail(err, CL_EIO, "'%s': %s", w->path, archive_error_string(w->a));
}

/* The names in dirfd, sorted (byte order), without . and ..; *names and
 * each name malloc'd. */
static int list_dir(int dirfd, char ***names, size_t *n, struct cl_error *err)
{
    *names = NULL;
    *n = 0;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return cl_fail_errno(err, CL_EIO, "cannot list a directory");
    }
    size_t cap = 0;
    int rc = 0;
    errno = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(*names, cap * sizeof(*nn));
            if (!nn) {
                rc = cl_fail(err, CL_ENOMEM, "out of memory");
                break;
            }
            *names = nn;
        }
        if (!((*names)[*n] = strdup(de->d_name)))
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
        else
            (*n)++;
    }
    if (rc == 0 && errno)
        rc = cl_fail_errno(err, CL_EIO, "cannot list a directory");
    closedir(d);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Opens rel (no symlink in it: a realpath's tail) below rootfd, one
 * component at a time, following nothing. */
static int open_beneath(int rootfd, const char *rel)
{
    char part[NAME_MAX + 1];
    int cur = rootfd;
    while (*rel) {
        size_t l = strcspn(rel, "/");
        bool last = rel[l] == '\0';
        if (l == 0 || l > NAME_MAX) {
            errno = EINVAL;
            break;
        }
        memcpy(part, rel, l);
        part[l] = '\0';
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (last ? 0 : O_DIRECTORY);
        int next = openat(cur, part, flags);
        if (cur != rootfd)
            close(cur);
        if (next < 0)
            return -1;
        cur = next;
        rel += l + !last;
    }
    if (cur == rootfd) {
        errno = EINVAL;
        return -1;
    }
    return cur;
}

/* A symbolic link at w->path (named name in dirfd): its target (as the
 * link says it, into target) opened, if it is inside DIR, into *fd, *st. */
static int follow(struct walk *w, int dirfd, const char *name, char target[static PATH_MAX],
                  int *fd, struct stat *st, struct cl_error *err)
{
    char full[2 * PATH_MAX + 2];
    ssize_t tl = readlinkat(dirfd, name, target, PATH_MAX - 1);
    if (tl < 0)
        return cl_fail_errno(err, CL_EIO, "cannot read symlink '%s'", w->path);
    target[tl] = '\0';
    snprintf(full, sizeof(full), "%s/%s", w->rootreal, w->path);
    char *real = realpath(full, NULL);
    if (!real)
        return cl_fail_errno(err, CL_ENOTFOUND, "symlink '%s' -> '%s' cannot be followed", w->path,
                             target);
    size_t rl = strlen(w->rootreal);
    int rc = 0;
    const char *rel = NULL;
    if (rl == 1) /* DIR is / */
        rel = real + 1;
    else if (!strncmp(real, w->rootreal, rl) && (real[rl] == '/' || real[rl] == '\0'))
        rel = real + rl + (real[rl] == '/');
    if (!rel)
        rc = cl_fail(err, CL_EPERM, "symlink '%s' -> '%s' points out of the context", w->path,
                     target);
    else if (!*rel) /* DIR itself */
        rc = cl_fail(err, CL_EFORMAT, "symlink '%s' -> '%s' makes a loop", w->path, target);
    else if ((*fd = open_beneath(w->rootfd, rel)) < 0 || fstat(*fd, st) < 0)
        rc = cl_fail_errno(err, CL_EIO, "symlink '%s' -> '%s': cannot open its target", w->path,
                           target);
    free(real);
    return rc;
}

static const char *kind_name(mode_t m)
{
    return S_ISFIFO(m)   ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
                         : "of an unknown type";
}

static int put_header(struct walk *w, const struct stat *st, struct cl_error *err)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    bool dir = S_ISDIR(st->st_mode);
    char name[PATH_MAX + 2];
    snprintf(name, sizeof(name), "%s%s", w->path, dir ? "/" : "");
    archive_entry_copy_pathname(e, name);
    archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, st->st_mode & 07777);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_mtime(e, st->st_mtime, 0);
    archive_entry_set_size(e, dir ? 0 : st->st_size);
    int rc = archive_write_header(w->a, e) == ARCHIVE_OK ? 0 : archive_fail(w, err);
    archive_entry_free(e);
    return rc;
}

/* A regular file: its header and exactly st_size bytes. */
static int put_file(struct walk *w, int fd, const struct stat *st, struct cl_error *err)
{
    int rc = put_header(w, st, err);
    uint64_t left = (uint64_t)st->st_size;
    while (rc == 0) {
        size_t want = left < sizeof(w->buf) ? (size_t)left : sizeof(w->buf);
        ssize_t n = read(fd, w->buf, left ? want : 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cl_fail_errno(err, CL_EIO, "cannot read '%s'", w->path);
        if ((n == 0) != (left == 0))
            return cl_fail(err, CL_ESTATE, "'%s' changed while it was read", w->path);
        if (n == 0)
            break;
        if (archive_write_data(w->a, w->buf, (size_t)n) != n)
            return archive_fail(w, err);
        left -= (uint64_t)n;
    }
    return rc;
}

static int walk_dir(struct walk *w, int dirfd, struct cl_error *err);

/* One entry of dirfd, whose name in the context is w->path. */
static int put_entry(struct walk *w, int dirfd, const char *name, struct cl_error *err)
{
    struct stat st;
    int fd = -1, rc = 0;
    char target[PATH_MAX] = { 0 }; /* a symlink's */
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return cl_fail_errno(err, CL_EIO, "cannot stat '%s'", w->path);
    if (S_ISLNK(st.st_mode)) {
        rc = follow(w, dirfd, name, target, &fd, &st, err);
    } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
        struct stat again;
        if ((fd = openat(dirfd, name, flags)) < 0 || fstat(fd, &again) < 0)
            rc = cl_fail_errno(err, CL_EIO, "cannot open '%s'", w->path);
        else if (again.st_ino != st.st_ino || again.st_dev != st.st_dev)
            rc = cl_fail(err, CL_ESTATE, "'%s' changed while it was read", w->path);
    }
    if (rc == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        rc = cl_fail(err, CL_EUNSUPPORTED,
                     "'%s' is %s (a context holds files, directories and symbolic links)", w->path,
                     kind_name(st.st_mode));
    for (size_t i = 0; rc == 0 && S_ISDIR(st.st_mode) && i <= w->depth; i++)
        if (w->chain[i].dev == st.st_dev && w->chain[i].ino == st.st_ino)
            rc = *target ? cl_fail(err, CL_EFORMAT, "symlink '%s' -> '%s' makes a loop", w->path,
                                   target)
                         : cl_fail(err, CL_EFORMAT, "'%s' is one of its own parent directories",
                                   w->path);
    if (rc == 0 && S_ISDIR(st.st_mode) && w->depth == DOCKER_CONTEXT_DEPTH_MAX)
        rc = cl_fail(err, CL_ELIMIT, "'%s' is more than %d directories deep", w->path,
                     DOCKER_CONTEXT_DEPTH_MAX);
    if (rc == 0 && S_ISREG(st.st_mode)) {
        rc = put_file(w, fd, &st, err);
    } else if (rc == 0) {
        rc = put_header(w, &st, err);
        w->depth++;
        w->chain[w->depth].dev = st.st_dev;
        w->chain[w->depth].ino = st.st_ino;
        if (rc == 0)
            rc = walk_dir(w, fd, err);
        w->depth--;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

static int walk_dir(struct walk *w, int dirfd, struct cl_error *err)
{
    char **names;
    size_t n;
    int rc = list_dir(dirfd, &names, &n, err);
    if (rc == 0 && n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    size_t plen = strlen(w->path);
    for (size_t i = 0; i < n && rc == 0; i++) {
        int l = snprintf(w->path + plen, sizeof(w->path) - plen, "%s%s", plen ? "/" : "", names[i]);
        if (l < 0 || (size_t)l >= sizeof(w->path) - plen)
            rc = cl_fail(err, CL_ELIMIT, "a path under '%s' is too long", w->path);
        else
            rc = put_entry(w, dirfd, names[i], err);
        w->path[plen] = '\0';
    }
    free_names(names, n);
    return rc;
}

int docker_context_write(const char *dir, int fd, struct cl_error *err)
{
    struct walk *w = calloc(1, sizeof(*w));
    if (!w)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    struct stat st;
    int rc = 0;
    w->rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->rootfd < 0 || fstat(w->rootfd, &st) < 0 || !(w->rootreal = realpath(dir, NULL))) {
        rc = cl_fail_errno(err, CL_ENOTFOUND, "cannot open '%s' as a directory", dir);
        goto out;
    }
    w->chain[0].dev = st.st_dev;
    w->chain[0].ino = st.st_ino;
    w->a = archive_write_new();
    if (!w->a || archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
        archive_write_set_format_option(w->a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
        archive_write_open_fd(w->a, fd) != ARCHIVE_OK) {
        rc = cl_fail(err, CL_EIO, "cannot start the tar: %s",
                     w->a ? archive_error_string(w->a) : "out of memory");
        goto out;
    }
    rc = walk_dir(w, w->rootfd, err);
    if (archive_write_close(w->a) != ARCHIVE_OK && rc == 0)
        rc = cl_fail(err, CL_EIO, "cannot finish the tar: %s", archive_error_string(w->a));
    if (rc < 0)
        cl_error_prefix(err, "build context '%s'", dir);
out:
    if (w->a)
        archive_write_free(w->a);
    if (w->rootfd >= 0)
        close(w->rootfd);
    free(w->rootreal);
    free(w);
    return rc;
}
