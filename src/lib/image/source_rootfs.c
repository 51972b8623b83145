/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --rootfs DIR: a directory taken as the image's tree as it is. It is
 * listed with lstat and never followed through a symbolic link; file
 * contents stay on the host (opened again, below the root, when the
 * ramdisk is written: image_tree.h). Each entry keeps what lstat() says of
 * it (mode with the setuid, setgid and sticky bits, owner, mtime, device
 * numbers), as an image's merged filesystem would (docs/build-enclave.md);
 * hard links inside the directory stay hard links.
 */
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "image/image_layer.h"

/* What lstat() says of an entry besides its type. */
static struct image_attrs stat_attrs(const struct stat *st)
{
    return (struct image_attrs){
        .mode = st->st_mode & 07777,
        .uid = st->st_uid,
        .gid = st->st_gid,
        .mtime = (int64_t)st->st_mtim.tv_sec,
        .rdev_major = major(st->st_rdev),
        .rdev_minor = minor(st->st_rdev),
    };
}

/* (dev, ino) -> content, so that the links of one file share its content. */
struct link_map {
    dev_t *dev;
    ino_t *ino;
    struct image_content **c;
    size_t n, cap;
};

static struct image_content *link_find(struct link_map *m, dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < m->n; i++) /* few files have nlink > 1 */
        if (m->dev[i] == dev && m->ino[i] == ino)
            return m->c[i];
    return NULL;
}

static int link_add(struct link_map *m, dev_t dev, ino_t ino, struct image_content *c)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        dev_t *d = realloc(m->dev, cap * sizeof(*d));
        if (d)
            m->dev = d;
        ino_t *i = realloc(m->ino, cap * sizeof(*i));
        if (i)
            m->ino = i;
        struct image_content **cc = realloc(m->c, cap * sizeof(*cc));
        if (cc)
            m->c = cc;
        if (!d || !i || !cc)
            return CL_ENOMEM;
        m->cap = cap;
    }
    m->dev[m->n] = dev;
    m->ino[m->n] = ino;
    m->c[m->n] = c;
    m->n++;
    return 0;
}

struct rootfs_walk {
    struct image *img;
    struct link_map links;
    char path[IMAGE_PATH_MAX + 1]; /* of the entry being added, for contents and messages */
};

static int walk_dir(struct rootfs_walk *w, int dfd, struct image_node *dir, size_t plen,
                    struct cl_error *err);

static int add_regular(struct rootfs_walk *w, struct image_node *dir, const char *name,
                       const struct stat *st, struct cl_error *err)
{
    struct image_content *c = NULL;
    if (st->st_nlink > 1)
        c = link_find(&w->links, st->st_dev, st->st_ino);
    if (!c) {
        int rc = image_content_new_host(w->path, true, (uint64_t)st->st_size, &c, err);
        if (rc < 0)
            return rc;
        if (st->st_nlink > 1 && link_add(&w->links, st->st_dev, st->st_ino, c) < 0) {
            image_content_discard(c);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
    }
    struct image_node *n =
        image_node_put(w->img->tree, dir, name, IMAGE_REG, &(struct image_attrs){ 0 }, 0, err);
    if (!n) {
        if (c->refs == 0 && st->st_nlink <= 1)
            image_content_discard(c);
        return CL_ENOMEM;
    }
    n->attrs = stat_attrs(st);
    image_node_set_content(n, c);
    return 0;
}

/* Stored, never followed: inside the enclave it resolves in its root. */
static int add_symlink(struct rootfs_walk *w, int dfd, struct image_node *dir, const char *name,
                       const struct stat *st, struct cl_error *err)
{
    char target[IMAGE_SYMLINK_MAX + 2];
    ssize_t tl = readlinkat(dfd, name, target, sizeof(target));
    if (tl < 0)
        return cl_fail_errno(err, CL_EIO, "cannot read symlink '%s'", w->path);
    if (tl == 0 || (size_t)tl > IMAGE_SYMLINK_MAX)
        return cl_fail(err, CL_ELIMIT, "'%s': symlink target empty or too long", w->path);
    target[tl] = '\0';
    char *copy = strdup(target);
    struct image_attrs a = stat_attrs(st); /* 0777: a symbolic link's own mode on Linux */
    struct image_node *n =
        copy ? image_node_put(w->img->tree, dir, name, IMAGE_SYMLINK, &a, 0, err) : NULL;
    if (!n) {
        free(copy);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    n->symlink = copy;
    return 0;
}

/* Adds the entry `name` of directory dfd, whose path is w->path (len bytes). */
static int add_entry(struct rootfs_walk *w, int dfd, struct image_node *dir, const char *name,
                     size_t len, struct cl_error *err)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return cl_fail_errno(err, CL_EIO, "cannot stat '%s'", w->path);
    struct image_attrs a = stat_attrs(&st);
    if (S_ISDIR(st.st_mode)) {
        struct image_node *n = image_node_put(w->img->tree, dir, name, IMAGE_DIR, &a, 0, err);
        if (!n)
            return CL_ENOMEM;
        int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return cl_fail_errno(err, CL_EIO, "cannot open directory '%s'", w->path);
        return walk_dir(w, sub, n, len, err);
    }
    if (S_ISREG(st.st_mode))
        return add_regular(w, dir, name, &st, err);
    if (S_ISLNK(st.st_mode))
        return add_symlink(w, dfd, dir, name, &st, err);
    enum image_node_type type = S_ISFIFO(st.st_mode)  ? IMAGE_FIFO
                                : S_ISCHR(st.st_mode) ? IMAGE_CHR
                                : S_ISBLK(st.st_mode) ? IMAGE_BLK
                                                      : 0;
    if (!type) /* a socket: no image layer can hold one */
        return cl_fail(err, CL_EUNSUPPORTED, "'%s': unsupported file type", w->path);
    return image_node_put(w->img->tree, dir, name, type, &a, 0, err) ? 0 : CL_ENOMEM;
}

/* Adds every entry of directory dfd (closed here) below dir; w->path holds
 * the directory's path (plen bytes, 0 for the root). */
static int walk_dir(struct rootfs_walk *w, int dfd, struct image_node *dir, size_t plen,
                    struct cl_error *err)
{
    int rc = 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return cl_fail_errno(err, CL_EIO, "cannot read directory '%s'", plen ? w->path : ".");
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        size_t nlen = strlen(name);
        if (plen + 1 + nlen > IMAGE_PATH_MAX) {
            rc = cl_fail(err, CL_ELIMIT, "'%s/%s': path longer than %d bytes", w->path, name,
                         IMAGE_PATH_MAX);
            goto out;
        }
        size_t len = plen ? plen + 1 + nlen : nlen;
        if (plen)
            w->path[plen] = '/';
        memcpy(w->path + (plen ? plen + 1 : 0), name, nlen + 1);
        if (image_tree_count(w->img->tree) >= IMAGE_MAX_NODES) {
            rc = cl_fail(err, CL_ELIMIT, "'%s': more than %u files", w->path, IMAGE_MAX_NODES);
            goto out;
        }
        rc = add_entry(w, dirfd(d), dir, name, len, err);
        if (rc < 0)
            goto out;
        w->path[plen] = '\0';
        errno = 0;
    }
    if (errno)
        rc = cl_fail_errno(err, CL_EIO, "cannot read directory '%s'", plen ? w->path : ".");
out:
    closedir(d);
    return rc;
}

int image_from_rootfs(const char *dir, struct image **out, struct cl_error *err)
{
    *out = NULL;
    struct image *img = NULL;
    int rc = image_new(NULL, &img, err);
    if (rc < 0)
        return rc;
    struct rootfs_walk *w = calloc(1, sizeof(*w));
    if (!w) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    w->img = img;
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        rc = cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
                           "cannot open the rootfs directory '%s'", dir);
        goto out;
    }
    int walkfd = dup(root);
    image_tree_set_host_root(img->tree, root);
    if (walkfd < 0) {
        rc = cl_fail_errno(err, CL_EIO, "dup");
        goto out;
    }
    rc = walk_dir(w, walkfd, image_tree_root(img->tree), 0, err);
    if (rc < 0) {
        cl_error_prefix(err, "rootfs '%s'", dir);
        goto out;
    }
    char *real = realpath(dir, NULL);
    img->default_name = image_base_name(real ? real : dir, NULL);
    free(real);
    img->default_version = strdup("1.0");
    if (!img->default_name || !img->default_version)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
out:
    if (w) {
        free(w->links.dev);
        free(w->links.ino);
        free(w->links.c);
        free(w);
    }
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}
