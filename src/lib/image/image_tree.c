/* SPDX-License-Identifier: Apache-2.0 */
#include "image/image_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct image_tree {
    struct image_node *root;
    char *spool_dir;
    int spool_fd; /* -1 until the first spooled content */
    uint64_t spool_size;
    int host_root_fd; /* -1 when unset */
    size_t nodes;     /* nodes but the root */
};

static size_t count_nodes(const struct image_node *n);

#define STREAM_CHUNK (256 * 1024)

static void node_free(struct image_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nchildren; i++)
        node_free(n->children[i]);
    free(n->children);
    if (n->content && --n->content->refs == 0)
        image_content_discard(n->content);
    free(n->symlink);
    free(n->name);
    free(n);
}

static struct image_node *node_new(const char *name, enum image_node_type type,
                                   const struct image_attrs *a, unsigned layer)
{
    struct image_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->name = strdup(name);
    if (!n->name) {
        free(n);
        return NULL;
    }
    n->type = type;
    n->attrs = *a;
    n->attrs.mode &= 07777;
    n->layer = layer;
    return n;
}

int image_tree_new(const char *spool_dir, struct image_tree **out, struct cl_error *err)
{
    *out = NULL;
    struct image_tree *t = calloc(1, sizeof(*t));
    if (!t)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    t->spool_fd = -1;
    t->host_root_fd = -1;
    if (!spool_dir) {
        spool_dir = getenv("TMPDIR");
        if (!spool_dir || !*spool_dir)
            spool_dir = "/tmp";
    }
    t->spool_dir = strdup(spool_dir);
    t->root = node_new("", IMAGE_DIR, &(struct image_attrs){ .mode = 0755 }, 0);
    if (!t->spool_dir || !t->root) {
        image_tree_free(t);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    *out = t;
    return 0;
}

void image_tree_free(struct image_tree *t)
{
    if (!t)
        return;
    node_free(t->root);
    if (t->spool_fd >= 0)
        close(t->spool_fd);
    if (t->host_root_fd >= 0)
        close(t->host_root_fd);
    free(t->spool_dir);
    free(t);
}

struct image_node *image_tree_root(struct image_tree *t)
{
    return t->root;
}

void image_tree_set_host_root(struct image_tree *t, int dirfd)
{
    if (t->host_root_fd >= 0)
        close(t->host_root_fd);
    t->host_root_fd = dirfd;
}

/* Children are kept sorted by name: binary search. *found tells an exact hit. */
static size_t child_index(const struct image_node *dir, const char *name, bool *found)
{
    size_t lo = 0, hi = dir->nchildren;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(dir->children[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

struct image_node *image_node_child(const struct image_node *dir, const char *name)
{
    if (!dir || dir->type != IMAGE_DIR)
        return NULL;
    bool found;
    size_t i = child_index(dir, name, &found);
    return found ? dir->children[i] : NULL;
}

static void detach(struct image_node *node)
{
    struct image_node *p = node->parent;
    if (!p)
        return;
    bool found;
    size_t i = child_index(p, node->name, &found);
    if (found && p->children[i] == node) {
        memmove(&p->children[i], &p->children[i + 1],
                (p->nchildren - i - 1) * sizeof(p->children[0]));
        p->nchildren--;
    }
    node->parent = NULL;
}

static int attach(struct image_node *dir, struct image_node *child)
{
    bool found;
    size_t i = child_index(dir, child->name, &found);
    if (found)
        return CL_EEXIST;
    if (dir->nchildren == dir->cap) {
        size_t cap = dir->cap ? dir->cap * 2 : 8;
        struct image_node **c = realloc(dir->children, cap * sizeof(*c));
        if (!c)
            return CL_ENOMEM;
        dir->children = c;
        dir->cap = cap;
    }
    memmove(&dir->children[i + 1], &dir->children[i],
            (dir->nchildren - i) * sizeof(dir->children[0]));
    dir->children[i] = child;
    dir->nchildren++;
    child->parent = dir;
    return 0;
}

struct image_node *image_node_put(struct image_tree *t, struct image_node *dir, const char *name,
                                  enum image_node_type type, const struct image_attrs *a,
                                  unsigned layer, struct cl_error *err)
{
    if (!dir || dir->type != IMAGE_DIR) {
        cl_fail(err, CL_EINVAL, "'%s': parent is not a directory", name);
        return NULL;
    }
    struct image_node *old = image_node_child(dir, name);
    if (old && old->type == IMAGE_DIR && type == IMAGE_DIR) {
        old->attrs = *a;
        old->attrs.mode &= 07777;
        old->layer = layer;
        return old;
    }
    if (old)
        image_node_remove(t, old);
    struct image_node *n = node_new(name, type, a, layer);
    if (!n || attach(dir, n) < 0) {
        node_free(n);
        cl_fail(err, CL_ENOMEM, "out of memory");
        return NULL;
    }
    t->nodes++;
    return n;
}

void image_node_remove(struct image_tree *t, struct image_node *node)
{
    if (!node || node == t->root)
        return;
    t->nodes -= 1 + count_nodes(node);
    detach(node);
    node_free(node);
}

void image_node_prune_below(struct image_tree *t, struct image_node *dir, unsigned layer)
{
    if (!dir || dir->type != IMAGE_DIR)
        return;
    for (size_t i = dir->nchildren; i-- > 0;) {
        struct image_node *c = dir->children[i];
        if (c->layer < layer)
            image_node_remove(t, c);
        else
            image_node_prune_below(t, c, layer);
    }
}

int image_content_new_host(const char *path, bool relative, uint64_t size,
                           struct image_content **out, struct cl_error *err)
{
    *out = NULL;
    struct image_content *c = calloc(1, sizeof(*c));
    if (!c || !(c->host_path = strdup(path))) {
        free(c);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    c->kind = IMAGE_CONTENT_HOST;
    c->host_relative = relative;
    c->size = size;
    *out = c;
    return 0;
}

int image_content_new_memory(const void *data, size_t len, struct image_content **out,
                             struct cl_error *err)
{
    *out = NULL;
    struct image_content *c = calloc(1, sizeof(*c));
    if (!c || !(c->data = malloc(len ? len : 1))) {
        free(c);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    if (len)
        memcpy(c->data, data, len);
    c->kind = IMAGE_CONTENT_MEMORY;
    c->size = len;
    *out = c;
    return 0;
}

static int spool_open(struct image_tree *t, struct cl_error *err)
{
    if (t->spool_fd >= 0)
        return 0;
    char *path = NULL;
    if (asprintf(&path, "%s/cloister-spool.XXXXXX", t->spool_dir) < 0)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        int rc = cl_fail_errno(err, CL_EIO, "cannot create a spool file in '%s'", t->spool_dir);
        free(path);
        return rc;
    }
    /* Unlinked at once: the spool disappears however the process ends. */
    unlink(path);
    free(path);
    t->spool_fd = fd;
    t->spool_size = 0;
    return 0;
}

int image_content_new_spool(struct image_tree *t, image_read_fn read, void *ctx, uint64_t size,
                            struct image_content **out, struct cl_error *err)
{
    *out = NULL;
    int rc = spool_open(t, err);
    if (rc < 0)
        return rc;
    uint8_t *buf = malloc(STREAM_CHUNK);
    if (!buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    uint64_t start = t->spool_size, done = 0;
    while (done < size) {
        size_t want = size - done < STREAM_CHUNK ? (size_t)(size - done) : STREAM_CHUNK;
        ssize_t n = read(ctx, buf, want, err);
        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        if (n == 0) {
            rc = cl_fail(err, CL_EFORMAT, "file data ends after %llu of %llu bytes",
                         (unsigned long long)done, (unsigned long long)size);
            goto out;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            ssize_t w =
                pwrite(t->spool_fd, buf + off, (size_t)n - off, (off_t)(start + done + off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = cl_fail_errno(err, CL_EIO, "cannot write the spool file");
                goto out;
            }
            off += (size_t)w;
        }
        done += (uint64_t)n;
    }
    struct image_content *c = calloc(1, sizeof(*c));
    if (!c) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    c->kind = IMAGE_CONTENT_SPOOL;
    c->size = size;
    c->spool_offset = start;
    t->spool_size = start + size;
    *out = c;
out:
    free(buf);
    return rc;
}

void image_node_set_content(struct image_node *node, struct image_content *c)
{
    if (node->content && --node->content->refs == 0)
        image_content_discard(node->content);
    node->content = c;
    if (c) {
        c->refs++;
        c->attrs = node->attrs;
    }
}

const struct image_attrs *image_node_attrs(const struct image_node *n)
{
    return n->type == IMAGE_REG && n->content ? &n->content->attrs : &n->attrs;
}

void image_content_discard(struct image_content *c)
{
    if (!c)
        return;
    free(c->host_path);
    free(c->data);
    free(c);
}

/* ---- the walk ---- */

struct walk_ctx {
    image_visit_fn fn;
    void *ctx;
    char path[IMAGE_PATH_MAX + 1];
};

static int walk_dir(struct walk_ctx *W, const struct image_node *dir, size_t plen,
                    struct cl_error *err)
{
    /* children are kept sorted by name (child_index): byte order */
    for (size_t i = 0; i < dir->nchildren; i++) {
        const struct image_node *c = dir->children[i];
        size_t nlen = strlen(c->name);
        size_t len = plen + (plen ? 1 : 0) + nlen;
        if (len > IMAGE_PATH_MAX)
            return cl_fail(err, CL_ELIMIT, "'%.*s/%s': path longer than %d bytes", (int)plen,
                           W->path, c->name, IMAGE_PATH_MAX);
        if (plen)
            W->path[plen] = '/';
        memcpy(W->path + plen + (plen ? 1 : 0), c->name, nlen + 1);
        int rc = W->fn(W->ctx, W->path, c, err);
        if (rc == 0 && c->type == IMAGE_DIR)
            rc = walk_dir(W, c, len, err);
        if (rc < 0)
            return rc;
        W->path[plen] = '\0';
    }
    return 0;
}

int image_tree_walk(const struct image_tree *t, image_visit_fn fn, void *ctx,
                    struct cl_error *err)
{
    struct walk_ctx *W = calloc(1, sizeof(*W));
    if (!W)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    W->fn = fn;
    W->ctx = ctx;
    int rc = walk_dir(W, t->root, 0, err);
    free(W);
    return rc;
}

/* Opens path below rootfd one component at a time, never following a
 * symbolic link (the tree was walked with lstat; a link swapped in since
 * must not lead the build outside the root). */
static int open_beneath(int rootfd, const char *path, struct cl_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int dfd = rootfd, fd = -1;
    char *save = NULL;
    char *comp = strtok_r(copy, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (next ? O_DIRECTORY : 0);
        fd = openat(dfd, comp, flags);
        if (dfd != rootfd)
            close(dfd);
        if (fd < 0) {
            int rc = cl_fail_errno(err, CL_ESTATE, "'%s' changed while building", path);
            free(copy);
            return rc;
        }
        dfd = fd;
        comp = next;
    }
    free(copy);
    if (fd < 0)
        return cl_fail(err, CL_EINVAL, "empty path");
    return fd;
}

int image_content_stream(const struct image_tree *t, const struct image_content *c,
                         image_write_fn fn, void *ctx, struct cl_error *err)
{
    int rc = 0, fd = -1;
    uint8_t *buf = NULL;
    if (c->kind == IMAGE_CONTENT_MEMORY)
        return c->size ? fn(ctx, c->data, (size_t)c->size, err) : 0;

    if (c->kind == IMAGE_CONTENT_HOST) {
        if (c->host_relative) {
            if (t->host_root_fd < 0)
                return cl_fail(err, CL_ESTATE, "no host root for '%s'", c->host_path);
            fd = open_beneath(t->host_root_fd, c->host_path, err);
            if (fd < 0)
                return fd;
        } else {
            fd = open(c->host_path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                return cl_fail_errno(err, CL_EIO, "cannot open '%s'", c->host_path);
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != c->size) {
            rc = cl_fail(err, CL_ESTATE, "'%s' changed while building", c->host_path);
            goto out;
        }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    } else {
        fd = t->spool_fd;
    }
    buf = malloc(STREAM_CHUNK);
    if (!buf) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    uint64_t done = 0;
    while (done < c->size) {
        size_t want = c->size - done < STREAM_CHUNK ? (size_t)(c->size - done) : STREAM_CHUNK;
        ssize_t n = c->kind == IMAGE_CONTENT_SPOOL
                        ? pread(fd, buf, want, (off_t)(c->spool_offset + done))
                        : read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot read '%s'",
                               c->kind == IMAGE_CONTENT_HOST ? c->host_path : "spool");
            goto out;
        }
        if (n == 0) {
            rc = cl_fail(err, CL_ESTATE, "'%s' changed while building",
                         c->kind == IMAGE_CONTENT_HOST ? c->host_path : "spool");
            goto out;
        }
        rc = fn(ctx, buf, (size_t)n, err);
        if (rc < 0)
            goto out;
        done += (uint64_t)n;
    }
out:
    free(buf);
    if (fd >= 0 && c->kind == IMAGE_CONTENT_HOST)
        close(fd);
    return rc;
}

static size_t count_nodes(const struct image_node *n)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nchildren; i++)
        k += 1 + count_nodes(n->children[i]);
    return k;
}

size_t image_tree_count(const struct image_tree *t)
{
    return t->nodes;
}
