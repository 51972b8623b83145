/* SPDX-License-Identifier: Apache-2.0 */
/* image_layer: plain, gzip and zstd layers applied in order with OCI
 * whiteouts and opaque directories, symlinks resolved inside the tree,
 * hard links, and every refused input with its exact error; nothing is
 * ever written to the host. */
#include <unistd.h>

#include "image/image_layer.h"
#include "image/image_tree.h"
#include "tar_build.h"

#define F    TAR_FILE
#define D    TAR_DIR
#define L    TAR_SYMLINK
#define H    TAR_HARDLINK
#define C    TAR_CHR
#define B    TAR_BLK
#define P    TAR_FIFO
#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t tarbuf[1 << 20];

static int apply_as(struct image_tree *t, const struct tar_entry *e, size_t n,
                    enum tar_filter filter, unsigned layer, struct cl_error *err)
{
    size_t len = tar_build(e, n, filter, tarbuf, sizeof(tarbuf));
    return image_layer_apply_buffer(t, tarbuf, len, layer, err);
}

static int apply(struct image_tree *t, const struct tar_entry *e, size_t n, unsigned layer,
                 struct cl_error *err)
{
    return apply_as(t, e, n, TAR_PLAIN, layer, err);
}

/* The node at a '/'-separated path (no symlink following), or NULL. */
static struct image_node *at(struct image_tree *t, const char *path)
{
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", path);
    struct image_node *n = image_tree_root(t);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c && n; c = strtok_r(NULL, "/", &save))
        n = image_node_child(n, c);
    return n;
}

struct listing {
    char *out;
    size_t cap;
};

static int list_visit(void *ctx, const char *path, const struct image_node *n,
                      struct cl_error *err)
{
    (void)n;
    (void)err;
    struct listing *l = ctx;
    if (l->out[0])
        strcat(l->out, " ");
    strncat(l->out, path, l->cap - strlen(l->out) - 2);
    return 0;
}

/* All paths of the tree in walk order, joined with ' '. */
static void listing(struct image_tree *t, char *out, size_t cap)
{
    struct listing l = { out, cap };
    out[0] = '\0';
    assert_int_equal(image_tree_walk(t, list_visit, &l, NULL), 0);
}

static int cat_fn(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    (void)err;
    strncat(ctx, buf, len);
    return 0;
}

static void content_of(struct image_tree *t, const char *path, const char *want)
{
    struct image_node *n = at(t, path);
    assert_non_null(n);
    assert_int_equal(n->type, IMAGE_REG);
    assert_int_equal(n->content->size, strlen(want));
    char got[256] = { 0 };
    assert_int_equal(image_content_stream(t, n->content, cat_fn, got, NULL), 0);
    assert_string_equal(got, want);
}

static struct image_tree *tree(void)
{
    struct image_tree *t = NULL;
    assert_int_equal(image_tree_new(NULL, &t, NULL), 0);
    return t;
}

/* Two layers, the second compressed as given (the first plain). */
static void two_layers_with_whiteouts(enum tar_filter filter)
{
    struct image_tree *t = tree();
    const struct tar_entry l1[] = {
        { D, "./", NULL, 0755 },    { F, "./bin/app", "v1", 0755 }, /* parent implied */
        { D, "data", NULL, 0700 },  { F, "data/old", "old", 0 },
        { D, "data/sub", NULL, 0 }, { F, "data/sub/deep", "deep", 0 },
        { F, "del", "x", 0 },       { D, "usr/lib", NULL, 0 },
        { L, "lib", "usr/lib", 0 }, { L, "abs", "/usr", 0 },
        { P, "fifo", NULL, 0600 },  { F, "swap", "file", 0 },
        { D, "gone", NULL, 0 },     { F, "gone/inside", "x", 0 },
    };
    struct cl_error err = { 0 };
    assert_int_equal(apply(t, l1, N(l1), 1, &err), 0);
    const struct tar_entry l2[] = {
        { F, "data/early", "kept", 0 }, /* same layer, before the marker */
        { F, "data/.wh..wh..opq", "", 0 },
        { F, "data/new", "new", 0 },
        { F, ".wh.del", "", 0 },
        { F, ".wh.gone", "", 0 }, /* a directory goes with what it holds */
        { F, ".wh.nothere", "", 0 },
        { F, "bin/app", "v2", 04755 },
        { H, "bin/app2", "bin/app", 0755 },
        { F, "lib/libx.so", "via lib", 0 },
        { F, "abs/lib/liby.so", "via abs", 0 },
        { F, "usr/.wh..wh.plnk", "", 0 }, /* aufs bookkeeping: ignored */
        { D, "swap", NULL, 0711 },        /* a directory replaces a file */
    };
    assert_int_equal(apply_as(t, l2, N(l2), filter, 2, &err), 0);
    char out[1024];
    listing(t, out, sizeof(out));
    assert_string_equal(out, "abs bin bin/app bin/app2 data data/early data/new fifo lib swap usr "
                             "usr/lib usr/lib/libx.so usr/lib/liby.so");
    content_of(t, "bin/app", "v2");
    content_of(t, "bin/app2", "v2");
    assert_ptr_equal(at(t, "bin/app")->content, at(t, "bin/app2")->content);
    assert_int_equal(at(t, "bin/app")->content->refs, 2);
    assert_int_equal(at(t, "bin/app")->attrs.mode, 04755);
    content_of(t, "data/early", "kept");
    content_of(t, "usr/lib/libx.so", "via lib");
    content_of(t, "usr/lib/liby.so", "via abs");
    assert_int_equal(at(t, "data")->attrs.mode, 0700);
    assert_int_equal(at(t, "data")->layer, 2);
    assert_int_equal(at(t, "swap")->type, IMAGE_DIR);
    assert_int_equal(at(t, "swap")->attrs.mode, 0711);
    assert_int_equal(at(t, "fifo")->type, IMAGE_FIFO);
    assert_int_equal(at(t, "fifo")->attrs.mode, 0600);
    assert_string_equal(at(t, "lib")->symlink, "usr/lib");
    assert_int_equal(at(t, "bin")->attrs.mode, 0755); /* implied parent */
    assert_int_equal(image_tree_count(t), 14);
    image_tree_free(t);
}

static void plain_layers(void **state)
{
    (void)state;
    two_layers_with_whiteouts(TAR_PLAIN);
}

static void gzip_layers(void **state)
{
    (void)state;
    two_layers_with_whiteouts(TAR_GZIP);
}

static void zstd_layers(void **state)
{
    (void)state;
    two_layers_with_whiteouts(TAR_ZSTD);
}

static void hard_links(void **state)
{
    (void)state;
    struct image_tree *t = tree();
    const struct tar_entry l1[] = {
        { F, "a", "first", 0 },
        { H, "b", "a", 0600 },
        { H, "./c", "./a", 0 },
        { H, "a", "a", 0640, .uid = 5 }, /* a link to itself: only the inode changes */
    };
    assert_int_equal(apply(t, l1, N(l1), 1, NULL), 0);
    assert_int_equal(at(t, "a")->content->refs, 3);
    /* one inode: the last entry that named it set its attributes, as
     * extraction chmods and chowns each name it links */
    for (const char *const *p = (const char *const[]){ "a", "b", "c", NULL }; *p; p++) {
        assert_int_equal(image_node_attrs(at(t, *p))->mode, 0640);
        assert_int_equal(image_node_attrs(at(t, *p))->uid, 5);
    }
    /* a later layer replacing one name leaves its links the old content */
    const struct tar_entry l2[] = { { F, "a", "second", 0 }, { F, ".wh.c", "", 0 } };
    assert_int_equal(apply(t, l2, N(l2), 2, NULL), 0);
    content_of(t, "a", "second");
    content_of(t, "b", "first");
    assert_int_equal(at(t, "b")->content->refs, 1);
    assert_null(at(t, "c"));
    /* a link made over the name of its own group's other member */
    const struct tar_entry l3[] = { { H, "b", "a", 0 } };
    assert_int_equal(apply(t, l3, N(l3), 3, NULL), 0);
    content_of(t, "b", "second");
    assert_int_equal(at(t, "a")->content->refs, 2);
    image_tree_free(t);
}

/* What a tar entry says of an inode is kept: setuid, setgid and sticky
 * bits, owner, time, device numbers; a symbolic link's mode is 0777. */
static void attributes(void **state)
{
    (void)state;
    struct image_tree *t = tree();
    const struct tar_entry l[] = {
        { D, "d", NULL, 01777, .uid = 1000, .gid = 1001, .mtime = 1700000001 },
        { F, "d/su", "x", 04755, .mtime = 1700000002 },
        { F, "d/sg", "x", 02711, .uid = 7, .gid = 8 },
        { L, "d/l", "su", 0644, .uid = 3, .mtime = 1700000003 },
        { C, "dev/null", NULL, 0666 },
        { B, "dev/sda", NULL, 0660, .gid = 6 },
        { P, "fifo", NULL, 0600 },
    };
    assert_int_equal(apply(t, l, N(l), 1, NULL), 0);
    const struct image_attrs *a = image_node_attrs(at(t, "d"));
    assert_int_equal(a->mode, 01777);
    assert_int_equal(a->uid, 1000);
    assert_int_equal(a->gid, 1001);
    assert_int_equal(a->mtime, 1700000001);
    assert_int_equal(image_node_attrs(at(t, "d/su"))->mode, 04755);
    assert_int_equal(image_node_attrs(at(t, "d/su"))->mtime, 1700000002);
    a = image_node_attrs(at(t, "d/sg"));
    assert_int_equal(a->mode, 02711);
    assert_int_equal(a->uid, 7);
    assert_int_equal(a->gid, 8);
    a = image_node_attrs(at(t, "d/l"));
    assert_int_equal(at(t, "d/l")->type, IMAGE_SYMLINK);
    assert_int_equal(a->mode, 0777);
    assert_int_equal(a->uid, 3);
    assert_int_equal(a->mtime, 1700000003);
    a = image_node_attrs(at(t, "dev/null"));
    assert_int_equal(at(t, "dev/null")->type, IMAGE_CHR);
    assert_int_equal(a->rdev_major, 1);
    assert_int_equal(a->rdev_minor, 3);
    assert_int_equal(a->mode, 0666);
    assert_int_equal(at(t, "dev/sda")->type, IMAGE_BLK);
    assert_int_equal(image_node_attrs(at(t, "dev/sda"))->gid, 6);
    assert_int_equal(at(t, "fifo")->type, IMAGE_FIFO);
    /* a parent the layer did not list is made as Docker makes it */
    a = image_node_attrs(at(t, "dev"));
    assert_int_equal(a->mode, 0755);
    assert_int_equal(a->uid, 0);
    assert_int_equal(a->mtime, 0);
    image_tree_free(t);
}

static void expect_rejected(const struct tar_entry *e, size_t n, int code, const char *reason)
{
    struct image_tree *t = tree();
    struct cl_error err = { 0 };
    assert_int_equal(apply(t, e, n, 1, &err), code);
    assert_string_equal(err.reason, reason);
    image_tree_free(t);
}

#define REJECT(code, reason, ...)                                      \
    do {                                                               \
        const struct tar_entry e_[] = { __VA_ARGS__ };                 \
        expect_rejected(e_, sizeof(e_) / sizeof(e_[0]), code, reason); \
    } while (0)

static void every_rejection_has_its_reason(void **state)
{
    (void)state;
    REJECT(CL_EPERM, "'a/../../x': path contains '..'", { F, "a/../../x", "x", 0 });
    REJECT(CL_EPERM, "'../': path contains '..'", { D, "..", NULL, 0 });
    REJECT(CL_EPERM, "'/etc/passwd': absolute path", { F, "/etc/passwd", "x", 0 });
    REJECT(CL_EPERM, "'esc/x': symlink 'esc' -> '../..' points out of the root",
           { L, "esc", "../..", 0 }, { F, "esc/x", "x", 0 });
    REJECT(CL_EPERM, "'d/e/x': symlink 'd/e' -> '../../etc' points out of the root",
           { D, "d", NULL, 0 }, { L, "d/e", "../../etc", 0 }, { F, "d/e/x", "x", 0 });
    REJECT(CL_EPERM, "'d/w/x': symlink 'd/w' -> 'up/..' points out of the root",
           { D, "d", NULL, 0 }, { L, "d/up", "..", 0 }, { L, "d/w", "up/..", 0 },
           { L, "up", "d/up/..", 0 }, { F, "d/w/x", "x", 0 });
    REJECT(CL_EFORMAT, "'a/x': too many levels of symbolic links at 'a'", { L, "a", "b", 0 },
           { L, "b", "a", 0 }, { F, "a/x", "x", 0 });
    REJECT(CL_EFORMAT, "'f/x': 'f' is not a directory", { F, "f", "x", 0 }, { F, "f/x", "x", 0 });
    REJECT(CL_EFORMAT, "'l/x': symlink 'l' -> 'nowhere' leads nowhere", { L, "l", "nowhere", 0 },
           { F, "l/x", "x", 0 });
    REJECT(CL_EPERM, "'h': hard link to '../etc/shadow' points out of the tree",
           { H, "h", "../etc/shadow", 0 });
    REJECT(CL_EPERM, "'h': hard link to '/etc/shadow' points out of the tree",
           { H, "h", "/etc/shadow", 0 });
    REJECT(CL_EFORMAT, "'h': hard link to 'missing', which is not in the tree",
           { H, "h", "missing", 0 });
    REJECT(CL_EFORMAT, "'h': hard link to 'd', which is not a regular file", { D, "d", NULL, 0 },
           { H, "h", "d", 0 });
    REJECT(CL_EFORMAT, "'h': hard link to 'l/x', which is not in the tree", { L, "l", "/", 0 },
           { H, "h", "l/x", 0 });
    REJECT(CL_EFORMAT, "'.wh.': invalid whiteout", { F, ".wh.", "", 0 });
    REJECT(CL_EFORMAT, "'d/.wh..': invalid whiteout", { F, "d/.wh..", "", 0 });
    REJECT(CL_EFORMAT, "'l': symlink without a target", { L, "l", "", 0 });
    REJECT(CL_EFORMAT, "'./': not a valid path", { F, "a", "x", 0 }, { H, "./", "a", 0 });
}

static void limits(void **state)
{
    (void)state;
    char name[IMAGE_NAME_MAX + 2], path[IMAGE_PATH_MAX + 2], want[8192];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(want, sizeof(want), "'%s': a name is longer than %d bytes", name, IMAGE_NAME_MAX);
    want[CL_ERROR_REASON_MAX - 1] = '\0';
    REJECT(CL_ELIMIT, want, { F, name, "x", 0 });
    memset(path, 'p', sizeof(path) - 1);
    for (size_t i = 100; i < sizeof(path) - 1; i += 100)
        path[i] = '/';
    path[sizeof(path) - 1] = '\0';
    snprintf(want, sizeof(want), "'%.64s...': path longer than %d bytes", path, IMAGE_PATH_MAX);
    REJECT(CL_ELIMIT, want, { F, path, "x", 0 });
    snprintf(want, sizeof(want), "'h': '%.64s...': link target longer than %d bytes", path,
             IMAGE_PATH_MAX);
    REJECT(CL_ELIMIT, want, { H, "h", path, 0 });
    snprintf(want, sizeof(want), "'h': symlink target longer than %d bytes", IMAGE_SYMLINK_MAX);
    REJECT(CL_ELIMIT, want, { L, "h", path, 0 });

    struct image_tree *t = tree();
    struct cl_error err = { 0 };
    assert_int_equal(image_layer_apply_buffer(t, "", 0, 0, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "layer number 0 out of range");
    cl_error_clear(&err);
    assert_int_equal(image_layer_apply_buffer(t, "", 0, IMAGE_MAX_LAYERS + 1, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "layer number 1025 out of range");
    assert_int_equal(image_layer_apply_buffer(t, "", 0, IMAGE_MAX_LAYERS, NULL), 0);
    image_tree_free(t);
}

static void nothing_is_written_to_the_host(void **state)
{
    (void)state;
    /* A hostile layer that would write /tmp/cloister-escape-test through a
     * symlink if extraction followed it on the host. */
    unlink("/tmp/cloister-escape-test");
    struct image_tree *t = tree();
    const struct tar_entry e[] = { { D, "real", NULL, 0 },
                                   { L, "tmp", "/real", 0 },
                                   { F, "tmp/cloister-escape-test", "x", 0 } };
    assert_int_equal(apply(t, e, N(e), 1, NULL), 0); /* inside the image: /real */
    assert_int_equal(access("/tmp/cloister-escape-test", F_OK), -1);
    content_of(t, "real/cloister-escape-test", "x");
    assert_int_equal(at(t, "tmp")->type, IMAGE_SYMLINK);
    image_tree_free(t);
}

static void truncated_and_garbage_layers(void **state)
{
    (void)state;
    struct image_tree *t = tree();
    struct cl_error err = { 0 };
    const struct tar_entry e[] = { { F, "big", "0123456789abcdef0123456789abcdef", 0 } };
    size_t len = tar_build(e, 1, TAR_PLAIN, tarbuf, sizeof(tarbuf));
    assert_true(len > 1024);
    assert_true(image_layer_apply_buffer(t, tarbuf, 520, 1, &err) < 0);
    cl_error_clear(&err);
    assert_int_equal(image_layer_apply_buffer(t, "not a tar at all, surely", 24, 1, &err),
                     CL_EFORMAT);
    assert_non_null(strstr(err.reason, "not a readable tar stream"));
    /* a gzip stream cut short */
    len = tar_build(e, 1, TAR_GZIP, tarbuf, sizeof(tarbuf));
    cl_error_clear(&err);
    assert_true(image_layer_apply_buffer(t, tarbuf, len / 2, 1, &err) < 0);
    assert_int_equal(err.code, CL_EFORMAT);
    /* an empty stream is an empty layer */
    assert_int_equal(image_layer_apply_buffer(t, "", 0, 1, NULL), 0);
    image_tree_free(t);
}

static void the_reader_reads_images_too(void **state)
{
    (void)state;
    /* the same set-up, without the empty format, refuses an empty stream */
    struct archive *a = image_tar_reader_new(false);
    assert_non_null(a);
    assert_int_equal(archive_read_open_memory(a, "", 0), ARCHIVE_FATAL);
    assert_string_equal(archive_error_string(a), "Unrecognized archive format");
    archive_read_free(a);
    struct archive_entry *e = NULL;
    a = image_tar_reader_new(true);
    assert_int_equal(archive_read_open_memory(a, "", 0), ARCHIVE_OK);
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_EOF);
    archive_read_free(a);
    /* and reads zstd */
    const struct tar_entry z[] = { { F, "z", "zstd", 0 } };
    size_t len = tar_build(z, 1, TAR_ZSTD, tarbuf, sizeof(tarbuf));
    a = image_tar_reader_new(false);
    assert_int_equal(archive_read_open_memory(a, tarbuf, len), ARCHIVE_OK);
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
    assert_string_equal(archive_entry_pathname(e), "z");
    archive_read_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_layers),
        cmocka_unit_test(gzip_layers),
        cmocka_unit_test(zstd_layers),
        cmocka_unit_test(hard_links),
        cmocka_unit_test(attributes),
        cmocka_unit_test(every_rejection_has_its_reason),
        cmocka_unit_test(limits),
        cmocka_unit_test(nothing_is_written_to_the_host),
        cmocka_unit_test(truncated_and_garbage_layers),
        cmocka_unit_test(the_reader_reads_images_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
