/* SPDX-License-Identifier: Apache-2.0 */
/* image_tree: insertion and replacement, attributes (a regular file's are
 * its content's, shared by hard links), pruning below a layer (opaque
 * whiteouts), the walk in filepath.Walk order and its path limit, the three
 * kinds of content streamed back, the checks made while streaming a host
 * file, and each error's exact reason. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image_tree.h"
#include "tar_build.h"

static struct image_tree *new_tree(void)
{
    struct image_tree *t = NULL;
    assert_int_equal(image_tree_new(NULL, &t, NULL), 0);
    return t;
}

static struct image_node *put(struct image_tree *t, struct image_node *dir, const char *name,
                              enum image_node_type type, unsigned layer)
{
    struct image_node *n = image_node_put(t, dir, name, type, &(struct image_attrs){ .mode = 0755 }, layer, NULL);
    assert_non_null(n);
    return n;
}

static struct image_content *memory(const char *text)
{
    struct image_content *c = NULL;
    assert_int_equal(image_content_new_memory(text, strlen(text), &c, NULL), 0);
    return c;
}

static void put_file(struct image_tree *t, struct image_node *dir, const char *name,
                     const char *text, unsigned layer)
{
    image_node_set_content(put(t, dir, name, IMAGE_REG, layer), memory(text));
}

struct listing {
    char *out;
    size_t cap;
    size_t count;
    const struct image_node *second; /* the second node visited */
    size_t longest;
};

static int list_visit(void *ctx, const char *path, const struct image_node *n,
                      struct cl_error *err)
{
    (void)err;
    struct listing *l = ctx;
    assert_true(strlen(l->out) + strlen(path) + 2 < l->cap);
    if (l->count++)
        strcat(l->out, " ");
    strcat(l->out, path);
    if (l->count == 2)
        l->second = n;
    if (strlen(path) > l->longest)
        l->longest = strlen(path);
    return 0;
}

/* The walk, paths joined with ' '. */
static void listing(const struct image_tree *t, char *out, size_t cap)
{
    struct listing l = { out, cap };
    out[0] = '\0';
    assert_int_equal(image_tree_walk(t, list_visit, &l, NULL), 0);
}

static int append_fn(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    (void)err;
    strncat(ctx, buf, len);
    return 0;
}

/* Streams c and compares it with want. */
static void streams(const struct image_tree *t, const struct image_content *c, const char *want)
{
    char got[256] = "";
    struct cl_error err = { 0 };
    assert_int_equal(image_content_stream(t, c, append_fn, got, &err), 0);
    assert_string_equal(got, want);
}

static void insertion_and_replacement(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    struct image_node *root = image_tree_root(t);
    assert_string_equal(root->name, "");
    assert_int_equal(root->type, IMAGE_DIR);
    assert_int_equal(root->attrs.mode, 0755);

    struct image_node *etc = put(t, root, "etc", IMAGE_DIR, 1);
    put_file(t, etc, "passwd", "root", 1);
    put_file(t, etc, "group", "wheel", 1);
    assert_int_equal(image_tree_count(t), 3);
    assert_ptr_equal(image_node_child(root, "etc"), etc);
    assert_null(image_node_child(root, "nope"));
    assert_null(image_node_child(image_node_child(etc, "passwd"), "x")); /* not a directory */

    /* a directory over a directory keeps its children, takes mode and layer */
    struct image_node *again = image_node_put(t, root, "etc", IMAGE_DIR, &(struct image_attrs){ .mode = 0700 }, 2, NULL);
    assert_ptr_equal(again, etc);
    assert_int_equal(etc->attrs.mode, 0700);
    assert_int_equal(etc->layer, 2);
    assert_int_equal(image_tree_count(t), 3);

    /* anything else replaces what was there, subtree and all */
    struct image_node *link = put(t, root, "etc", IMAGE_SYMLINK, 2);
    link->symlink = strdup("/usr/etc");
    assert_int_equal(image_tree_count(t), 1);
    struct image_node *dir = put(t, root, "etc", IMAGE_DIR, 3);
    assert_null(image_node_child(dir, "passwd"));
    put_file(t, root, "f", "one", 1);
    put_file(t, root, "f", "two", 2); /* a file over a file */
    streams(t, image_node_child(root, "f")->content, "two");
    assert_int_equal(image_tree_count(t), 2);

    /* modes keep permission bits only */
    struct image_node *m = image_node_put(t, root, "m", IMAGE_FIFO, &(struct image_attrs){ .mode = 0107777 }, 1, NULL);
    assert_int_equal(m->attrs.mode, 07777);

    image_node_remove(t, image_node_child(root, "etc"));
    image_node_remove(t, root); /* the root stays */
    assert_int_equal(image_tree_count(t), 2);
    char out[256];
    listing(t, out, sizeof(out));
    assert_string_equal(out, "f m");
    image_tree_free(t);
}

static void put_under_a_non_directory_fails(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    put_file(t, image_tree_root(t), "file", "x", 1);
    struct cl_error err = { 0 };
    assert_null(image_node_put(t, image_node_child(image_tree_root(t), "file"), "x", IMAGE_REG,
                               &(struct image_attrs){ .mode = 0644 }, 1, &err));
    assert_int_equal(err.code, CL_EINVAL);
    assert_string_equal(err.reason, "'x': parent is not a directory");
    cl_error_clear(&err);
    assert_null(image_node_put(t, NULL, "y", IMAGE_DIR, &(struct image_attrs){ .mode = 0755 }, 1, &err));
    assert_string_equal(err.reason, "'y': parent is not a directory");
    image_tree_free(t);
}

static void prune_below_keeps_the_upper_layers(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    struct image_node *d = put(t, image_tree_root(t), "d", IMAGE_DIR, 1);
    put_file(t, d, "old", "1", 1);
    struct image_node *sub = put(t, d, "sub", IMAGE_DIR, 1);
    put_file(t, sub, "old", "1", 1);
    put_file(t, sub, "new", "2", 2);
    struct image_node *kept = put(t, d, "kept", IMAGE_DIR, 2);
    put_file(t, kept, "x", "2", 2);
    put_file(t, image_tree_root(t), "outside", "1", 1);
    image_node_prune_below(t, d, 2);
    char out[256];
    listing(t, out, sizeof(out));
    /* sub came from layer 1: it goes with what layer 2 put inside it */
    assert_string_equal(out, "d d/kept d/kept/x outside");
    assert_int_equal(image_tree_count(t), 4);
    image_node_prune_below(t, NULL, 9); /* nothing to prune */
    image_tree_free(t);
}

static void walk_is_filepath_walk_order(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    struct image_node *r = image_tree_root(t);
    put_file(t, r, "a.c", "", 1);
    struct image_node *a = put(t, r, "a", IMAGE_DIR, 1);
    put_file(t, a, "file", "", 1);
    put_file(t, r, "a-b", "", 1);
    put_file(t, r, "B", "", 1);
    put(t, a, "z", IMAGE_DIR, 1);
    char out[256];
    struct listing l = { out, sizeof(out) };
    out[0] = '\0';
    assert_int_equal(image_tree_walk(t, list_visit, &l, NULL), 0);
    /* each directory's names in byte order, a directory's contents right
     * after it: a/ before a-b and a.c although '-' < '.' < '/' */
    assert_string_equal(out, "B a a/file a/z a-b a.c");
    assert_int_equal(l.count, 6);
    assert_ptr_equal(l.second, a);
    image_tree_free(t);
}

static int stop_at_second(void *ctx, const char *path, const struct image_node *n,
                          struct cl_error *err)
{
    (void)path;
    (void)n;
    int *seen = ctx;
    return ++*seen == 2 ? cl_fail(err, CL_ECHECKSUM, "stop") : 0;
}

static void walk_stops_on_the_callbacks_error(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    put_file(t, image_tree_root(t), "a", "", 1);
    put_file(t, image_tree_root(t), "b", "", 1);
    put_file(t, image_tree_root(t), "c", "", 1);
    int seen = 0;
    struct cl_error err = { 0 };
    assert_int_equal(image_tree_walk(t, stop_at_second, &seen, &err), CL_ECHECKSUM);
    assert_int_equal(seen, 2);
    assert_string_equal(err.reason, "stop");
    image_tree_free(t);
}

static void walk_refuses_a_path_over_the_limit(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    char name[IMAGE_NAME_MAX + 1];
    memset(name, 'n', IMAGE_NAME_MAX);
    name[IMAGE_NAME_MAX] = '\0';
    /* 16 levels of 255-byte names: 16 * 256 - 1 = 4095 bytes, the limit */
    struct image_node *d = image_tree_root(t);
    for (int i = 0; i < 16; i++)
        d = put(t, d, name, IMAGE_DIR, 1);
    static char out[65536];
    struct listing l = { out, sizeof(out) };
    out[0] = '\0';
    assert_int_equal(image_tree_walk(t, list_visit, &l, NULL), 0);
    assert_int_equal(l.count, 16);
    assert_int_equal(l.longest, IMAGE_PATH_MAX);

    put(t, d, "x", IMAGE_REG, 1);
    struct cl_error err = { 0 };
    l = (struct listing){ out, sizeof(out) };
    out[0] = '\0';
    assert_int_equal(image_tree_walk(t, list_visit, &l, &err), CL_ELIMIT);
    /* the message names the full path: 16 names joined by '/' */
    char want[8192], path[IMAGE_PATH_MAX + 1] = "";
    for (int i = 0; i < 16; i++) {
        strcat(path, i ? "/" : "");
        strcat(path, name);
    }
    snprintf(want, sizeof(want), "'%s/x': path longer than %d bytes", path, IMAGE_PATH_MAX);
    want[CL_ERROR_REASON_MAX - 1] = '\0'; /* the reason is cut to its buffer */
    assert_string_equal(err.reason, want);
    image_tree_free(t);
}

static void hard_links_share_one_content(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    struct image_node *r = image_tree_root(t);
    struct image_content *c = memory("shared");
    assert_int_equal(c->refs, 0);
    image_node_set_content(put(t, r, "a", IMAGE_REG, 1), c);
    image_node_set_content(put(t, r, "b", IMAGE_REG, 1), c);
    assert_int_equal(c->refs, 2);
    /* one inode: the attributes of the last node given the content are
     * every name's */
    struct image_node *x = image_node_put(t, r, "x", IMAGE_REG,
                                          &(struct image_attrs){ .mode = 04711, .uid = 7,
                                                                 .gid = 8, .mtime = 9 },
                                          1, NULL);
    image_node_set_content(x, c);
    const struct image_attrs *aa = image_node_attrs(image_node_child(r, "a"));
    assert_int_equal(aa->mode, 04711);
    assert_int_equal(aa->uid, 7);
    assert_int_equal(aa->gid, 8);
    assert_int_equal(aa->mtime, 9);
    assert_ptr_equal(image_node_attrs(x), aa);
    image_node_remove(t, x);
    image_node_remove(t, image_node_child(r, "a"));
    assert_int_equal(c->refs, 1);
    streams(t, image_node_child(r, "b")->content, "shared");
    /* replacing the last link frees the content (ASan checks) */
    put_file(t, r, "b", "other", 2);
    image_tree_free(t);
}

static ssize_t read_from(void *ctx, void *buf, size_t len, struct cl_error *err)
{
    (void)err;
    const char **src = ctx;
    size_t n = strlen(*src) < len ? strlen(*src) : len;
    memcpy(buf, *src, n);
    *src += n;
    return (ssize_t)n;
}

static ssize_t read_fails(void *ctx, void *buf, size_t len, struct cl_error *err)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return cl_fail(err, CL_EFORMAT, "truncated gzip");
}

static void spooled_contents(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    const char *src = "firstsecond";
    struct image_content *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(image_content_new_spool(t, read_from, &src, 5, &a, NULL), 0);
    assert_int_equal(image_content_new_spool(t, read_from, &src, 6, &b, NULL), 0);
    assert_int_equal(a->kind, IMAGE_CONTENT_SPOOL);
    assert_int_equal(a->spool_offset, 0);
    assert_int_equal(b->spool_offset, 5);
    streams(t, b, "second");
    streams(t, a, "first");

    struct cl_error err = { 0 };
    src = "abc";
    assert_int_equal(image_content_new_spool(t, read_from, &src, 10, &c, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "file data ends after 3 of 10 bytes");
    assert_null(c);
    cl_error_clear(&err);
    assert_int_equal(image_content_new_spool(t, read_fails, NULL, 10, &c, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "truncated gzip");
    streams(t, b, "second"); /* a failed spooling leaves the others intact */
    image_content_discard(a);
    image_content_discard(b);
    image_tree_free(t);

    /* the spool directory must exist */
    assert_int_equal(image_tree_new("/nonexistent-spool", &t, NULL), 0);
    cl_error_clear(&err);
    src = "x";
    assert_int_equal(image_content_new_spool(t, read_from, &src, 1, &c, &err), CL_EIO);
    assert_string_equal(err.reason,
                        "cannot create a spool file in '/nonexistent-spool': No such file or "
                        "directory");
    image_tree_free(t);
}

static void host_contents_are_checked_when_streamed(void **state)
{
    (void)state;
    char *dir = temp_dir("image-tree");
    char p[512];
    snprintf(p, sizeof(p), "%s/sub", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/sub/f", dir);
    write_text(p, "host data");
    struct image_tree *t = new_tree();
    struct image_content *rel = NULL, *abs = NULL, *gone = NULL;
    assert_int_equal(image_content_new_host("sub/f", true, 9, &rel, NULL), 0);
    assert_int_equal(image_content_new_host(p, false, 9, &abs, NULL), 0);

    /* a relative content needs the tree's host root */
    struct cl_error err = { 0 };
    assert_int_equal(image_content_stream(t, rel, append_fn, NULL, &err), CL_ESTATE);
    assert_string_equal(err.reason, "no host root for 'sub/f'");
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(root >= 0);
    image_tree_set_host_root(t, root);
    streams(t, rel, "host data");
    streams(t, abs, "host data");

    /* the file must still be a regular file of the listed size */
    write_text(p, "longer host data");
    cl_error_clear(&err);
    assert_int_equal(image_content_stream(t, rel, append_fn, NULL, &err), CL_ESTATE);
    assert_string_equal(err.reason, "'sub/f' changed while building");
    /* and no symbolic link swapped in on the way is followed */
    char moved[512];
    snprintf(moved, sizeof(moved), "%s/real", dir);
    snprintf(p, sizeof(p), "%s/sub", dir);
    assert_int_equal(rename(p, moved), 0);
    assert_int_equal(symlink("real", p), 0);
    cl_error_clear(&err);
    assert_int_equal(image_content_stream(t, rel, append_fn, NULL, &err), CL_ESTATE);
    assert_string_equal(err.reason, "'sub/f' changed while building: Not a directory");

    assert_int_equal(image_content_new_host("/nonexistent/f", false, 1, &gone, NULL), 0);
    cl_error_clear(&err);
    assert_int_equal(image_content_stream(t, gone, append_fn, NULL, &err), CL_EIO);
    assert_string_equal(err.reason, "cannot open '/nonexistent/f': No such file or directory");
    image_content_discard(rel);
    image_content_discard(abs);
    image_content_discard(gone);
    image_tree_free(t);
    remove_dir(dir);
}

static int failing_fn(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return cl_fail(err, CL_EIO, "disk full");
}

static void a_failing_writer_stops_the_stream(void **state)
{
    (void)state;
    struct image_tree *t = new_tree();
    struct image_content *c = memory("data");
    struct cl_error err = { 0 };
    assert_int_equal(image_content_stream(t, c, failing_fn, NULL, &err), CL_EIO);
    assert_string_equal(err.reason, "disk full");
    image_content_discard(c);
    image_tree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(insertion_and_replacement),
        cmocka_unit_test(put_under_a_non_directory_fails),
        cmocka_unit_test(prune_below_keeps_the_upper_layers),
        cmocka_unit_test(walk_is_filepath_walk_order),
        cmocka_unit_test(walk_stops_on_the_callbacks_error),
        cmocka_unit_test(walk_refuses_a_path_over_the_limit),
        cmocka_unit_test(hard_links_share_one_content),
        cmocka_unit_test(spooled_contents),
        cmocka_unit_test(host_contents_are_checked_when_streamed),
        cmocka_unit_test(a_failing_writer_stops_the_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
