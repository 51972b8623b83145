/* SPDX-License-Identifier: Apache-2.0 */
#include "image/ramdisk.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"

struct writer {
    struct archive *a;
    ramdisk_sink_fn sink;
    void *sink_ctx;
    struct cl_error *err;
    int sink_rc;
    const struct ramdisk_opts *o;
    uint64_t done, total;
};

/*
 * A sink failure is remembered and the bytes are swallowed rather than
 * reported to libarchive: libarchive 3.6 leaks its output filter when a
 * write callback fails (the archive goes FATAL and is never closed). The
 * caller checks sink_rc after every libarchive call and stops.
 */
static la_ssize_t write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
    (void)a;
    struct writer *w = ctx;
    if (w->sink_rc == 0)
        w->sink_rc = w->sink(w->sink_ctx, buf, len, w->err);
    return (la_ssize_t)len;
}

static int archive_failed(struct writer *w, const char *what)
{
    if (w->sink_rc < 0)
        return w->sink_rc; /* the sink's reason is already in err */
    return cl_fail(w->err, CL_EIO, "%s: %s", what,
                   archive_error_string(w->a) ? archive_error_string(w->a) : "cpio writer failed");
}

static int data_cb(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    struct writer *w = ctx;
    (void)err;
    const uint8_t *p = buf;
    while (len > 0) {
        la_ssize_t n = archive_write_data(w->a, p, len);
        if (n <= 0 || w->sink_rc < 0)
            return archive_failed(w, "cannot write file data");
        p += n;
        len -= (size_t)n;
        w->done += (uint64_t)n;
    }
    if (w->o && w->o->progress)
        w->o->progress(w->o->progress_ctx, w->done, w->total);
    return 0;
}

int ramdisk_write(const struct image_tree *t, const struct ramdisk_opts *o, ramdisk_sink_fn sink,
                  void *ctx, struct cl_error *err)
{
    int rc = 0;
    struct image_entry *list = NULL;
    size_t count = 0;
    struct archive_entry *ae = NULL;
    struct writer w = { .sink = sink, .sink_ctx = ctx, .err = err, .o = o };

    rc = image_tree_list(t, &list, &count, err);
    if (rc < 0)
        return rc;
    w.total = image_entries_content_size(list, count);
    for (size_t i = 0; i < count; i++)
        if (list[i].node->content) {
            list[i].node->content->emitted = 0;
            list[i].node->content->ino = 0;
        }

    w.a = archive_write_new();
    ae = archive_entry_new();
    if (!w.a || !ae) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    /* newc (the "070701" format the kernel's initramfs unpacker reads),
     * unblocked: no padding past the trailer, writes go straight through. */
    if (archive_write_set_format_cpio_newc(w.a) != ARCHIVE_OK ||
        archive_write_add_filter_none(w.a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w.a, 0) != ARCHIVE_OK ||
        archive_write_open2(w.a, &w, NULL, write_cb, NULL, NULL) != ARCHIVE_OK) {
        rc = archive_failed(&w, "cannot start the cpio archive");
        goto out;
    }

    int64_t mtime = o ? o->mtime : 0;
    uint32_t next_ino = 1;
    for (size_t i = 0; i < count; i++) {
        const struct image_node *n = list[i].node;
        struct image_content *c = n->content;
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, list[i].path);
        archive_entry_set_uid(ae, 0);
        archive_entry_set_gid(ae, 0);
        archive_entry_set_mtime(ae, mtime, 0);
        archive_entry_set_dev(ae, 0);
        archive_entry_set_rdev(ae, 0);
        bool with_data = false;
        switch (n->type) {
        case IMAGE_DIR:
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_nlink(ae, 2);
            archive_entry_set_ino(ae, next_ino++);
            archive_entry_set_size(ae, 0);
            break;
        case IMAGE_SYMLINK:
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_symlink(ae, n->symlink);
            /* newc stores the target as the body; libarchive sizes it itself */
            archive_entry_set_size(ae, 0);
            archive_entry_set_nlink(ae, 1);
            archive_entry_set_ino(ae, next_ino++);
            break;
        case IMAGE_FIFO:
            archive_entry_set_filetype(ae, AE_IFIFO);
            archive_entry_set_nlink(ae, 1);
            archive_entry_set_ino(ae, next_ino++);
            archive_entry_set_size(ae, 0);
            break;
        case IMAGE_REG:
            archive_entry_set_filetype(ae, AE_IFREG);
            if (!c) {
                rc = cl_fail(err, CL_ESTATE, "'%s' has no content", list[i].path);
                goto out;
            }
            if (c->refs > 1) {
                /* A hard-link group: one inode, data on the last link. */
                if (!c->ino)
                    c->ino = next_ino++;
                archive_entry_set_ino(ae, c->ino);
                archive_entry_set_nlink(ae, c->refs);
                with_data = ++c->emitted == c->refs;
            } else {
                archive_entry_set_ino(ae, next_ino++);
                archive_entry_set_nlink(ae, 1);
                with_data = true;
            }
            archive_entry_set_size(ae, with_data ? (la_int64_t)c->size : 0);
            break;
        }
        archive_entry_set_perm(ae, n->type == IMAGE_SYMLINK ? 0777 : (n->mode & 07777));
        if (archive_write_header(w.a, ae) < ARCHIVE_WARN || w.sink_rc < 0) {
            rc = archive_failed(&w, "cannot write a cpio header");
            cl_error_prefix(err, "'%s'", list[i].path);
            goto out;
        }
        if (with_data && c->size > 0) {
            rc = image_content_stream(t, c, data_cb, &w, err);
            if (rc < 0)
                goto out;
        }
    }
    if (archive_write_close(w.a) != ARCHIVE_OK || w.sink_rc < 0) {
        rc = archive_failed(&w, "cannot finish the cpio archive");
        goto out;
    }
out:
    if (w.a)
        archive_write_free(w.a);
    archive_entry_free(ae);
    image_entries_free(list, count);
    return rc;
}

/* ---- a buffered file sink ---- */

#define FD_BUF (1 << 20)

struct fd_sink {
    int fd;
    uint8_t *buf;
    size_t len;
    uint64_t total;
};

static int fd_sink_flush(struct fd_sink *s, struct cl_error *err)
{
    if (s->len == 0)
        return 0;
    int rc = fd_write_all(s->fd, s->buf, s->len, err);
    s->len = 0;
    return rc;
}

static int fd_sink_write(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    struct fd_sink *s = ctx;
    s->total += len;
    if (s->len + len <= FD_BUF) {
        memcpy(s->buf + s->len, buf, len);
        s->len += len;
        return 0;
    }
    int rc = fd_sink_flush(s, err);
    if (rc < 0)
        return rc;
    if (len >= FD_BUF)
        return fd_write_all(s->fd, buf, len, err);
    memcpy(s->buf, buf, len);
    s->len = len;
    return 0;
}

int ramdisk_write_fd(const struct image_tree *t, const struct ramdisk_opts *o, int fd,
                     uint64_t *size, struct cl_error *err)
{
    struct fd_sink s = { .fd = fd, .buf = malloc(FD_BUF) };
    if (!s.buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = ramdisk_write(t, o, fd_sink_write, &s, err);
    if (rc == 0)
        rc = fd_sink_flush(&s, err);
    if (rc == 0 && size)
        *size = s.total;
    free(s.buf);
    return rc;
}

/* ---- the two trees ---- */

static int add_blob(struct image_tree *t, const char *dir, const char *name, bool required,
                    struct cl_error *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = 0;
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT && !required)
            goto out;
        rc = cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "missing blob '%s'", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cl_fail(err, CL_EINVAL, "blob '%s' is not a regular file", path);
        goto out;
    }
    struct image_content *c = NULL;
    rc = image_content_new_host(path, false, (uint64_t)st.st_size, &c, err);
    if (rc < 0)
        goto out;
    /* nitro-cli's bootstrap YAML gives both files mode 0755. */
    struct image_node *n = image_node_put(t, image_tree_root(t), name, IMAGE_REG, 0755, 0, err);
    if (!n) {
        image_content_discard(c);
        rc = CL_ENOMEM;
        goto out;
    }
    image_node_set_content(n, c);
out:
    free(path);
    return rc;
}

int ramdisk_bootstrap_tree(const char *blobs_dir, struct image_tree **out, struct cl_error *err)
{
    struct image_tree *t = NULL;
    *out = NULL;
    int rc = image_tree_new(NULL, &t, err);
    if (rc < 0)
        return rc;
    if (!image_node_put(t, image_tree_root(t), "dev", IMAGE_DIR, 0755, 0, err)) {
        rc = CL_ENOMEM;
        goto out;
    }
    rc = add_blob(t, blobs_dir, "init", true, err);
    if (rc == 0)
        rc = add_blob(t, blobs_dir, "nsm.ko", false, err);
out:
    if (rc < 0)
        image_tree_free(t);
    else
        *out = t;
    return rc;
}

static int lines_file(struct image_tree *t, const char *name, char *const *items, size_t n,
                      const char *what, struct cl_error *err)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (strchr(items[i], '\n'))
            return cl_fail(err, CL_EINVAL,
                           "%s '%s' contains a newline, which the %s file cannot hold", what,
                           items[i], name);
        len += strlen(items[i]) + 1;
    }
    char *buf = malloc(len + 1);
    if (!buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        memcpy(buf + off, items[i], l);
        buf[off + l] = '\n';
        off += l + 1;
    }
    struct image_content *c = NULL;
    int rc = image_content_new_memory(buf, len, &c, err);
    free(buf);
    if (rc < 0)
        return rc;
    struct image_node *node = image_node_put(t, image_tree_root(t), name, IMAGE_REG, 0644, 0, err);
    if (!node) {
        image_content_discard(c);
        return CL_ENOMEM;
    }
    image_node_set_content(node, c);
    return 0;
}

int ramdisk_customer_tree(struct image_tree *image, char *const *cmd, size_t ncmd, char *const *env,
                          size_t nenv, struct image_tree **out, struct cl_error *err)
{
    static const char *const dirs[] = { "dev", "run", "sys", "var", "proc", "tmp" };
    struct image_tree *t = NULL;
    *out = NULL;
    int rc = image_tree_new(NULL, &t, err);
    if (rc < 0)
        return rc;
    rc = image_tree_graft(t, "rootfs", image, err);
    if (rc < 0)
        goto out;
    struct image_node *rootfs = image_node_child(image_tree_root(t), "rootfs");
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        /* The image's own entry wins (a 1777 tmp, a var symlink). */
        if (image_node_child(rootfs, dirs[i]))
            continue;
        if (!image_node_put(t, rootfs, dirs[i], IMAGE_DIR, 0755, 0, err)) {
            rc = CL_ENOMEM;
            goto out;
        }
    }
    rc = lines_file(t, "cmd", cmd, ncmd, "command argument", err);
    if (rc == 0)
        rc = lines_file(t, "env", env, nenv, "environment entry", err);
out:
    if (rc < 0)
        image_tree_free(t);
    else
        *out = t;
    return rc;
}
