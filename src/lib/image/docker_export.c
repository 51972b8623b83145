/* SPDX-License-Identifier: Apache-2.0 */
/* `docker export` of an image's container, without Docker; see docker_export.h. */
#include "image/docker_export.h"

#include <stdlib.h>
#include <string.h>

/* ---- the init layer ---- */

enum init_kind { INIT_FILE, INIT_DIR, INIT_SYMLINK };

static const struct {
    const char *path;
    enum init_kind kind;
} INIT_PATHS[] = {
    { "dev/pts", INIT_DIR },         { "dev/shm", INIT_DIR },      { "proc", INIT_DIR },
    { "sys", INIT_DIR },             { ".dockerenv", INIT_FILE },  { "etc/resolv.conf", INIT_FILE },
    { "etc/hosts", INIT_FILE },      { "etc/hostname", INIT_FILE }, { "dev/console", INIT_FILE },
    { "etc/mtab", INIT_SYMLINK },
};
#define MTAB_TARGET "/proc/mounts"

/* Root's, 0755, as the daemon (umask 022) creates them. */
static const struct image_attrs INIT_ATTRS = { .mode = 0755 };

static int create_init_node(struct image_tree *t, struct image_node *dir, const char *name,
                            enum init_kind kind, struct cl_error *err)
{
    enum image_node_type type = kind == INIT_DIR    ? IMAGE_DIR
                                : kind == INIT_FILE ? IMAGE_REG
                                                    : IMAGE_SYMLINK;
    struct image_attrs a = INIT_ATTRS;
    if (kind == INIT_SYMLINK)
        a.mode = 0777;
    struct image_node *n = image_node_put(t, dir, name, type, &a, 0, err);
    if (!n)
        return err ? err->code : CL_ENOMEM;
    if (kind == INIT_SYMLINK && !(n->symlink = strdup(MTAB_TARGET)))
        return cl_fail(err, CL_ENOMEM, "out of memory");
    if (kind == INIT_FILE) {
        struct image_content *c = NULL;
        int rc = image_content_new_memory("", 0, &c, err);
        if (rc < 0)
            return rc;
        image_node_set_content(n, c);
    }
    return 0;
}

/*
 * One path of the init layer: every component that is not a directory is
 * unlinked (a directory cannot be), then what is missing is created: the
 * parents as directories (MkdirAll), the last component as its kind.
 */
static int init_path(struct image_tree *t, const char *path, enum init_kind kind,
                     struct cl_error *err)
{
    char buf[64];
    strcpy(buf, path);
    char *comps[4];
    size_t n = 0;
    for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save))
        comps[n++] = c;
    struct image_node *cur = image_tree_root(t);
    for (size_t i = 0; i < n; i++) {
        struct image_node *c = image_node_child(cur, comps[i]);
        if (c && c->type != IMAGE_DIR) {
            image_node_remove(t, c);
            c = NULL;
        }
        if (c) {
            cur = c;
            continue;
        }
        int rc = create_init_node(t, cur, comps[i], i + 1 < n ? INIT_DIR : kind, err);
        if (rc < 0)
            return rc;
        cur = image_node_child(cur, comps[i]);
    }
    return 0;
}

int docker_init_layer(struct image_tree *t, struct cl_error *err)
{
    for (size_t i = 0; i < sizeof(INIT_PATHS) / sizeof(INIT_PATHS[0]); i++) {
        int rc = init_path(t, INIT_PATHS[i].path, INIT_PATHS[i].kind, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- the walk ---- */

/* The first name of each file with several links: open addressing on the
 * content's address. */
struct link_names {
    const struct image_content **key;
    char **name;
    size_t cap, n;
};

static size_t slot_of(const struct link_names *m, const struct image_content *c)
{
    size_t h = ((uintptr_t)c >> 4) * 0x9e3779b97f4a7c15ull;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
        if (!m->key[i] || m->key[i] == c)
            return i;
}

static int names_grow(struct link_names *m)
{
    struct link_names bigger = { .cap = m->cap ? m->cap * 2 : 64 };
    bigger.key = calloc(bigger.cap, sizeof(*bigger.key));
    bigger.name = calloc(bigger.cap, sizeof(*bigger.name));
    if (!bigger.key || !bigger.name) {
        free(bigger.key);
        free(bigger.name);
        return CL_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->key[i]) {
            size_t s = slot_of(&bigger, m->key[i]);
            bigger.key[s] = m->key[i];
            bigger.name[s] = m->name[i];
        }
    bigger.n = m->n;
    free(m->key);
    free(m->name);
    *m = bigger;
    return 0;
}

/* The name a content was first met under, or NULL after recording name. */
static int first_name(struct link_names *m, const struct image_content *c, const char *name,
                      const char **out, struct cl_error *err)
{
    *out = NULL;
    if (2 * (m->n + 1) > m->cap && names_grow(m) < 0)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    size_t s = slot_of(m, c);
    if (m->key[s]) {
        *out = m->name[s];
        return 0;
    }
    if (!(m->name[s] = strdup(name)))
        return cl_fail(err, CL_ENOMEM, "out of memory");
    m->key[s] = c;
    m->n++;
    return 0;
}

static void names_free(struct link_names *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->name[i]);
    free(m->key);
    free(m->name);
}

struct export_walk {
    export_fn fn;
    void *ctx;
    struct link_names links;
    char name[IMAGE_PATH_MAX + 2];
    uint64_t data; /* docker_export_data_size() */
};

static int visit(void *ctx, const char *path, const struct image_node *n, struct cl_error *err)
{
    struct export_walk *w = ctx;
    struct export_entry e = { .name = path, .node = n, .attrs = image_node_attrs(n) };
    if (n->type == IMAGE_DIR) {
        size_t len = strlen(path);
        memcpy(w->name, path, len);
        memcpy(w->name + len, "/", 2);
        e.name = w->name;
    } else if (n->type == IMAGE_REG && n->content && n->content->refs > 1) {
        int rc = first_name(&w->links, n->content, path, &e.hardlink, err);
        if (rc < 0)
            return rc;
    }
    if (n->type == IMAGE_REG && n->content && !e.hardlink)
        w->data += n->content->size;
    return w->fn ? w->fn(w->ctx, &e, err) : 0;
}

int docker_export_walk(const struct image_tree *t, export_fn fn, void *ctx, struct cl_error *err)
{
    struct export_walk *w = calloc(1, sizeof(*w));
    if (!w)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    w->fn = fn;
    w->ctx = ctx;
    int rc = image_tree_walk(t, visit, w, err);
    names_free(&w->links);
    free(w);
    return rc;
}

uint64_t docker_export_data_size(const struct image_tree *t)
{
    struct export_walk *w = calloc(1, sizeof(*w));
    if (!w)
        return 0;
    uint64_t total = image_tree_walk(t, visit, w, NULL) == 0 ? w->data : 0;
    names_free(&w->links);
    free(w);
    return total;
}
