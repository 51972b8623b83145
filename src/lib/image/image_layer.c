/* SPDX-License-Identifier: Apache-2.0 */
#include "image/image_layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* OCI image-spec layer.md, "Whiteouts". */
#define WH_PREFIX      ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE      ".wh..wh..opq"

struct archive *image_tar_reader_new(bool empty_ok)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (empty_ok)
        archive_read_support_format_empty(a);
    return a;
}

/* A path split into components, validated. */
struct split {
    char *buf;
    char *comp[IMAGE_PATH_MAX / 2 + 1];
    size_t n;
};

/*
 * Splits a tar entry name: leading "./" and empty or "." components go,
 * ".." and absolute names are refused (never resolved: a layer has no
 * business climbing), names and paths are bounded.
 */
static int split_path(const char *path, struct split *s, const char *what, struct cl_error *err)
{
    s->n = 0;
    s->buf = NULL;
    size_t len = strlen(path);
    if (len > IMAGE_PATH_MAX)
        return cl_fail(err, CL_ELIMIT, "'%.64s...': %s longer than %d bytes", path, what,
                       IMAGE_PATH_MAX);
    if (path[0] == '/')
        return cl_fail(err, CL_EPERM, "'%s': absolute path", path);
    s->buf = strdup(path);
    if (!s->buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    char *save = NULL;
    for (char *c = strtok_r(s->buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, ".."))
            return cl_fail(err, CL_EPERM, "'%s': path contains '..'", path);
        if (strlen(c) > IMAGE_NAME_MAX)
            return cl_fail(err, CL_ELIMIT, "'%s': a name is longer than %d bytes", path,
                           IMAGE_NAME_MAX);
        s->comp[s->n++] = c;
    }
    return 0;
}

/* The path of a node, for messages. */
static void node_path(const struct image_node *n, char *out, size_t cap)
{
    const struct image_node *chain[IMAGE_PATH_MAX / 2 + 1];
    size_t k = 0;
    for (; n && n->parent && k < sizeof(chain) / sizeof(chain[0]); n = n->parent)
        chain[k++] = n;
    size_t len = 0;
    out[0] = '\0';
    while (k-- > 0) {
        int w = snprintf(out + len, cap - len, "%s%s", len ? "/" : "", chain[k]->name);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

struct walker {
    struct image_tree *t;
    const char *entry; /* the entry's name, for messages */
    unsigned layer;
    unsigned follows;
};

static int follow(struct walker *w, struct image_node *link, struct image_node **out,
                  struct cl_error *err);

/*
 * One step of a lookup: the child `name` of dir, with a symlink followed
 * (it leads a path's directory part, so extraction would follow it).
 * create: a missing directory is made (tar streams may omit parents).
 */
static int step(struct walker *w, struct image_node *dir, const char *name, bool create,
                struct image_node **out, struct cl_error *err)
{
    struct image_node *c = image_node_child(dir, name);
    if (!c) {
        if (!create) {
            *out = NULL;
            return 0;
        }
        if (image_tree_count(w->t) >= IMAGE_MAX_NODES) /* cheap enough: only on creation */
            return cl_fail(err, CL_ELIMIT, "'%s': more than %u files", w->entry, IMAGE_MAX_NODES);
        /* as Docker's extraction makes a missing parent: 0755, root's; its
         * time is the extraction's there, 0 here (docs/build-enclave.md) */
        c = image_node_put(w->t, dir, name, IMAGE_DIR, &(struct image_attrs){ .mode = 0755 },
                           w->layer, err);
        if (!c)
            return CL_ENOMEM;
    }
    if (c->type == IMAGE_SYMLINK)
        return follow(w, c, out, err);
    if (c->type != IMAGE_DIR) {
        char p[IMAGE_PATH_MAX + 1];
        node_path(c, p, sizeof(p));
        return cl_fail(err, CL_EFORMAT, "'%s': '%s' is not a directory", w->entry, p);
    }
    *out = c;
    return 0;
}

/* Resolves a symlink that a path goes through, inside the image root. */
static int follow(struct walker *w, struct image_node *link, struct image_node **out,
                  struct cl_error *err)
{
    char lp[IMAGE_PATH_MAX + 1];
    if (++w->follows > IMAGE_MAX_SYMLINK_FOLLOW) {
        node_path(link, lp, sizeof(lp));
        return cl_fail(err, CL_EFORMAT, "'%s': too many levels of symbolic links at '%s'", w->entry,
                       lp);
    }
    const char *target = link->symlink;
    struct image_node *cur = target[0] == '/' ? image_tree_root(w->t) : link->parent;
    char *copy = strdup(target);
    if (!copy)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c && cur; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            if (!cur->parent) {
                node_path(link, lp, sizeof(lp));
                rc = cl_fail(err, CL_EPERM, "'%s': symlink '%s' -> '%s' points out of the root",
                             w->entry, lp, target);
                goto out;
            }
            cur = cur->parent;
            continue;
        }
        struct image_node *next = NULL;
        rc = step(w, cur, c, false, &next, err);
        if (rc < 0)
            goto out;
        if (!next) {
            node_path(link, lp, sizeof(lp));
            rc = cl_fail(err, CL_EFORMAT, "'%s': symlink '%s' -> '%s' leads nowhere", w->entry, lp,
                         target);
            goto out;
        }
        cur = next;
    }
    *out = cur;
out:
    free(copy);
    return rc;
}

/* Directory holding the last component of s (created as needed). */
static int parent_dir(struct walker *w, const struct split *s, bool create, struct image_node **out,
                      struct cl_error *err)
{
    struct image_node *cur = image_tree_root(w->t);
    for (size_t i = 0; i + 1 < s->n && cur; i++) {
        struct image_node *next = NULL;
        int rc = step(w, cur, s->comp[i], create, &next, err);
        if (rc < 0)
            return rc;
        cur = next;
    }
    *out = cur;
    return 0;
}

struct data_ctx {
    struct archive *a;
};

static ssize_t read_entry_data(void *ctx, void *buf, size_t len, struct cl_error *err)
{
    struct data_ctx *d = ctx;
    la_ssize_t n = archive_read_data(d->a, buf, len);
    if (n < 0)
        return cl_fail(err, CL_EFORMAT, "%s",
                       archive_error_string(d->a) ? archive_error_string(d->a)
                                                  : "cannot read file data");
    return (ssize_t)n;
}

static int apply_hardlink(struct walker *w, struct image_node *dir, const char *name,
                          const char *target, const struct image_attrs *a, struct cl_error *err)
{
    struct split ts;
    struct cl_error tmp = { 0 };
    int rc = split_path(target, &ts, "link target", &tmp);
    if (rc == CL_EPERM) {
        rc = cl_fail(err, CL_EPERM, "'%s': hard link to '%s' points out of the tree", w->entry,
                     target);
        goto out;
    }
    if (rc < 0) {
        rc = cl_fail(err, rc, "'%s': %s", w->entry, tmp.reason);
        goto out;
    }
    struct image_node *tdir = NULL, *tn = NULL;
    if (ts.n > 0) {
        rc = parent_dir(w, &ts, false, &tdir, err);
        if (rc < 0)
            goto out;
        tn = tdir ? image_node_child(tdir, ts.comp[ts.n - 1]) : NULL;
    }
    if (!tn) {
        rc = cl_fail(err, CL_EFORMAT, "'%s': hard link to '%s', which is not in the tree", w->entry,
                     target);
        goto out;
    }
    if (tn->type != IMAGE_REG) {
        rc = cl_fail(err, CL_EFORMAT, "'%s': hard link to '%s', which is not a regular file",
                     w->entry, target);
        goto out;
    }
    struct image_content *c = tn->content;
    if (tn->parent == dir && !strcmp(tn->name, name)) {
        c->attrs = *a; /* a link to itself: only the inode's attributes change */
        c->attrs.mode &= 07777;
        goto out;
    }
    c->refs++; /* keep it alive while a node at `name` may be replaced */
    /* the link entry's attributes become the inode's, as extraction
     * chmods, chowns and times the new name (image_node_set_content) */
    struct image_node *n = image_node_put(w->t, dir, name, IMAGE_REG, a, w->layer, err);
    if (n)
        image_node_set_content(n, c);
    if (--c->refs == 0)
        image_content_discard(c);
    if (!n)
        rc = CL_ENOMEM;
out:
    free(ts.buf);
    return rc;
}

/* A whiteout entry (OCI image-spec layer.md): never stored itself. */
static int apply_whiteout(struct walker *w, const struct split *s, const char *base,
                          struct cl_error *err)
{
    struct image_node *dir = NULL;
    if (!strcmp(base, WH_OPAQUE)) {
        int rc = parent_dir(w, s, true, &dir, err);
        if (rc < 0)
            return rc;
        image_node_prune_below(w->t, dir, w->layer);
        if (dir->parent)
            dir->layer = w->layer;
        return 0;
    }
    if (!strncmp(base, WH_META_PREFIX, strlen(WH_META_PREFIX)))
        return 0; /* aufs bookkeeping (.wh..wh.plnk ...): ignored, as runtimes do */
    const char *victim = base + strlen(WH_PREFIX);
    if (!*victim || !strcmp(victim, ".") || !strcmp(victim, ".."))
        return cl_fail(err, CL_EFORMAT, "'%s': invalid whiteout", w->entry);
    int rc = parent_dir(w, s, false, &dir, err);
    if (rc < 0)
        return rc;
    struct image_node *v = dir ? image_node_child(dir, victim) : NULL;
    if (v)
        image_node_remove(w->t, v);
    return 0;
}

static int apply_symlink(struct walker *w, struct archive_entry *e, struct image_node *dir,
                         const char *base, const struct image_attrs *a, struct cl_error *err)
{
    const char *target = archive_entry_symlink(e);
    if (!target)
        target = archive_entry_symlink_utf8(e);
    if (!target || !*target)
        return cl_fail(err, CL_EFORMAT, "'%s': symlink without a target", w->entry);
    if (strlen(target) > IMAGE_SYMLINK_MAX)
        return cl_fail(err, CL_ELIMIT, "'%s': symlink target longer than %d bytes", w->entry,
                       IMAGE_SYMLINK_MAX);
    char *copy = strdup(target);
    if (!copy)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    /* a symbolic link's own mode is always 0777 on Linux, whatever the tar says */
    struct image_attrs la = *a;
    la.mode = 0777;
    struct image_node *n = image_node_put(w->t, dir, base, IMAGE_SYMLINK, &la, w->layer, err);
    if (!n) {
        free(copy);
        return CL_ENOMEM;
    }
    n->symlink = copy;
    return 0;
}

/* A regular file: its data goes to the tree's spool as it streams. */
static int apply_regular(struct walker *w, struct archive *a, struct archive_entry *e,
                         struct image_node *dir, const char *base, const struct image_attrs *attrs,
                         struct cl_error *err)
{
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
        return cl_fail(err, CL_EFORMAT, "'%s': regular file without a size", w->entry);
    struct data_ctx d = { a };
    struct image_content *c = NULL;
    int rc = image_content_new_spool(w->t, read_entry_data, &d, (uint64_t)archive_entry_size(e), &c,
                                     err);
    if (rc < 0) {
        cl_error_prefix(err, "'%s'", w->entry);
        return rc;
    }
    struct image_node *n = image_node_put(w->t, dir, base, IMAGE_REG, attrs, w->layer, err);
    if (!n) {
        image_content_discard(c);
        return CL_ENOMEM;
    }
    image_node_set_content(n, c);
    return 0;
}

/* The node type of a tar entry's file type; 0 for one a tar cannot hold
 * (sockets) or does not name. */
static enum image_node_type node_type(mode_t ft)
{
    switch (ft) {
    case AE_IFREG: return IMAGE_REG;
    case AE_IFDIR: return IMAGE_DIR;
    case AE_IFLNK: return IMAGE_SYMLINK;
    case AE_IFIFO: return IMAGE_FIFO;
    case AE_IFCHR: return IMAGE_CHR;
    case AE_IFBLK: return IMAGE_BLK;
    default: return 0;
    }
}

/* The inode attributes a tar entry sets: mode with the setuid, setgid and
 * sticky bits, numeric owner, mtime in whole seconds, device numbers. */
static int entry_attrs(const struct walker *w, struct archive_entry *e, struct image_attrs *a,
                       struct cl_error *err)
{
    la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
        return cl_fail(err, CL_EFORMAT, "'%s': owner %lld:%lld out of range", w->entry,
                       (long long)uid, (long long)gid);
    *a = (struct image_attrs){
        .mode = (uint32_t)archive_entry_perm(e) & 07777,
        .uid = (uint32_t)uid,
        .gid = (uint32_t)gid,
        .mtime = (int64_t)archive_entry_mtime(e),
        .rdev_major = (uint32_t)archive_entry_rdevmajor(e),
        .rdev_minor = (uint32_t)archive_entry_rdevminor(e),
    };
    return 0;
}

static int apply_entry(struct walker *w, struct archive *a, struct archive_entry *e,
                       struct cl_error *err)
{
    struct split s;
    int rc = split_path(w->entry, &s, "path", err);
    if (rc < 0)
        goto out;
    mode_t ft = archive_entry_filetype(e);
    const char *hardlink = archive_entry_hardlink(e);
    enum image_node_type type = node_type(ft);
    struct image_attrs attrs;
    if (!hardlink && !type) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "'%s': unsupported file type", w->entry);
        goto out;
    }
    if ((rc = entry_attrs(w, e, &attrs, err)) < 0)
        goto out;
    if (s.n == 0) {
        /* "./" itself: the root keeps its fixed mode. */
        if (ft != AE_IFDIR || hardlink)
            rc = cl_fail(err, CL_EFORMAT, "'%s': not a valid path", w->entry);
        goto out;
    }
    const char *base = s.comp[s.n - 1];
    if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX))) {
        rc = apply_whiteout(w, &s, base, err);
        goto out;
    }
    struct image_node *dir = NULL;
    rc = parent_dir(w, &s, true, &dir, err);
    if (rc < 0)
        goto out;
    if (!image_node_child(dir, base) && image_tree_count(w->t) >= IMAGE_MAX_NODES) {
        rc = cl_fail(err, CL_ELIMIT, "'%s': more than %u files", w->entry, IMAGE_MAX_NODES);
        goto out;
    }
    if (hardlink)
        rc = apply_hardlink(w, dir, base, hardlink, &attrs, err);
    else if (type == IMAGE_SYMLINK)
        rc = apply_symlink(w, e, dir, base, &attrs, err);
    else if (type == IMAGE_REG)
        rc = apply_regular(w, a, e, dir, base, &attrs, err);
    else /* a directory, a FIFO or a device node: attributes only */
        rc = image_node_put(w->t, dir, base, type, &attrs, w->layer, err) ? 0 : CL_ENOMEM;
out:
    free(s.buf);
    return rc;
}

int image_layer_apply(struct image_tree *t, struct archive *a, unsigned layer, struct cl_error *err)
{
    if (layer == 0 || layer > IMAGE_MAX_LAYERS)
        return cl_fail(err, CL_ELIMIT, "layer number %u out of range", layer);
    for (;;) {
        struct archive_entry *e = NULL;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r == ARCHIVE_RETRY)
            continue;
        if (r < ARCHIVE_WARN)
            return cl_fail(err, CL_EFORMAT, "not a readable tar stream: %s",
                           archive_error_string(a) ? archive_error_string(a) : "unknown error");
        const char *name = archive_entry_pathname(e);
        if (!name)
            name = archive_entry_pathname_utf8(e);
        if (!name || !*name)
            return cl_fail(err, CL_EFORMAT, "an entry without a name");
        struct walker w = { .t = t, .entry = name, .layer = layer };
        int rc = apply_entry(&w, a, e, err);
        if (rc < 0)
            return rc;
    }
}

int image_layer_apply_buffer(struct image_tree *t, const void *buf, size_t len, unsigned layer,
                             struct cl_error *err)
{
    struct archive *a = image_tar_reader_new(true);
    if (!a)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc;
    if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK)
        rc = cl_fail(err, CL_EFORMAT, "not a readable tar stream: %s",
                     archive_error_string(a) ? archive_error_string(a) : "unknown error");
    else
        rc = image_layer_apply(t, a, layer, err);
    archive_read_free(a);
    return rc;
}
