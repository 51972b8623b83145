/* SPDX-License-Identifier: Apache-2.0 */
/* image_tree, image_layer and image: layers applied with whiteouts, every
 * rejection with its exact reason, the config rules (Cmd over Entrypoint),
 * --cmd/--env, the metadata JSON and the bzImage.config parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "image/image.h"
#include "image/image_layer.h"
#include "image/image_tree.h"

/* ---- a tar in memory ---- */

enum kind { F, D, L, H, C, B, P };
struct ent {
    enum kind k;
    const char *name;
    const char *data; /* file content, or link target */
    unsigned mode;
};

static size_t make_tar(const struct ent *e, size_t n, uint8_t *buf, size_t cap)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    struct archive_entry *ae = archive_entry_new();
    for (size_t i = 0; i < n; i++) {
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0644);
        size_t len = 0;
        switch (e[i].k) {
        case F:
            archive_entry_set_filetype(ae, AE_IFREG);
            len = strlen(e[i].data);
            archive_entry_set_size(ae, (la_int64_t)len);
            break;
        case D:
            archive_entry_set_filetype(ae, AE_IFDIR);
            break;
        case L:
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_symlink(ae, e[i].data);
            break;
        case H:
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, e[i].data);
            break;
        case C:
            archive_entry_set_filetype(ae, AE_IFCHR);
            archive_entry_set_rdev(ae, 0x0103);
            break;
        case B:
            archive_entry_set_filetype(ae, AE_IFBLK);
            archive_entry_set_rdev(ae, 0x0801);
            break;
        case P:
            archive_entry_set_filetype(ae, AE_IFIFO);
            break;
        }
        assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
        if (len)
            assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
    }
    archive_entry_free(ae);
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

static uint8_t tarbuf[1 << 20];

static int apply(struct image_tree *t, const struct ent *e, size_t n, unsigned layer,
                 struct cl_error *err)
{
    size_t len = make_tar(e, n, tarbuf, sizeof(tarbuf));
    return image_layer_apply_buffer(t, tarbuf, len, layer, err);
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

/* All paths of the tree, sorted, joined with ' '. */
static void listing(struct image_tree *t, char *out, size_t cap)
{
    struct image_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(image_tree_list(t, &e, &n, NULL), 0);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, e[i].path, cap - strlen(out) - 2);
        if (i + 1 < n)
            strcat(out, " ");
    }
    image_entries_free(e, n);
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
    char got[256] = {0};
    assert_int_equal(image_content_stream(t, n->content, cat_fn, got, NULL), 0);
    assert_string_equal(got, want);
}

static struct image_tree *tree(void)
{
    struct image_tree *t = NULL;
    assert_int_equal(image_tree_new(NULL, &t, NULL), 0);
    return t;
}

/* ---- layers ---- */

static void layers_apply_in_order_with_whiteouts(void **state)
{
    (void)state;
    struct image_tree *t = tree();
    const struct ent l1[] = {
        {D, "./", NULL, 0755},          {F, "./bin/app", "v1", 0755}, /* parent implied */
        {D, "data", NULL, 0700},        {F, "data/old", "old", 0},
        {D, "data/sub", NULL, 0},       {F, "data/sub/deep", "deep", 0},
        {F, "del", "x", 0},             {D, "usr/lib", NULL, 0},
        {L, "lib", "usr/lib", 0},       {L, "abs", "/usr", 0},
        {P, "fifo", NULL, 0600},        {F, "swap", "file", 0},
    };
    struct cl_error err = {0};
    assert_int_equal(apply(t, l1, sizeof(l1) / sizeof(l1[0]), 1, &err), 0);
    const struct ent l2[] = {
        {F, "data/early", "kept", 0},   /* same layer, before the marker */
        {F, "data/.wh..wh..opq", "", 0},
        {F, "data/new", "new", 0},      {F, ".wh.del", "", 0},
        {F, ".wh.nothere", "", 0},      {F, "bin/app", "v2", 0755},
        {H, "bin/app2", "bin/app", 0755},
        {F, "lib/libx.so", "via lib", 0},
        {F, "abs/lib/liby.so", "via abs", 0},
        {F, "usr/.wh..wh.plnk", "", 0}, /* aufs bookkeeping: ignored */
        {D, "swap", NULL, 0711},        /* a directory replaces a file */
    };
    assert_int_equal(apply(t, l2, sizeof(l2) / sizeof(l2[0]), 2, &err), 0);
    char out[1024];
    listing(t, out, sizeof(out));
    assert_string_equal(out, "abs bin bin/app bin/app2 data data/early data/new fifo lib swap usr "
                             "usr/lib usr/lib/libx.so usr/lib/liby.so");
    content_of(t, "bin/app", "v2");
    content_of(t, "bin/app2", "v2");
    assert_ptr_equal(at(t, "bin/app")->content, at(t, "bin/app2")->content);
    assert_int_equal(at(t, "bin/app")->content->refs, 2);
    content_of(t, "data/early", "kept");
    content_of(t, "usr/lib/libx.so", "via lib");
    assert_int_equal(at(t, "data")->mode, 0700);
    assert_int_equal(at(t, "swap")->type, IMAGE_DIR);
    assert_int_equal(at(t, "swap")->mode, 0711);
    assert_int_equal(at(t, "fifo")->type, IMAGE_FIFO);
    assert_int_equal(at(t, "bin")->mode, 0755); /* implied parent */
    assert_int_equal(image_tree_count(t), 14);
    image_tree_free(t);
}

static void expect_rejected(const struct ent *e, size_t n, int code, const char *reason)
{
    struct image_tree *t = tree();
    struct cl_error err = {0};
    assert_int_equal(apply(t, e, n, 1, &err), code);
    assert_string_equal(err.reason, reason);
    image_tree_free(t);
}

#define REJECT(code, reason, ...)                                                          \
    do {                                                                                   \
        const struct ent e_[] = {__VA_ARGS__};                                             \
        expect_rejected(e_, sizeof(e_) / sizeof(e_[0]), code, reason);                     \
    } while (0)

static void every_rejection_has_its_reason(void **state)
{
    (void)state;
    REJECT(CL_EPERM, "'a/../../x': path contains '..'", {F, "a/../../x", "x", 0});
    REJECT(CL_EPERM, "'../': path contains '..'", {D, "..", NULL, 0});
    REJECT(CL_EPERM, "'/etc/passwd': absolute path", {F, "/etc/passwd", "x", 0});
    REJECT(CL_EPERM, "'esc/x': symlink 'esc' -> '../..' points out of the root",
           {L, "esc", "../..", 0}, {F, "esc/x", "x", 0});
    REJECT(CL_EPERM, "'d/e/x': symlink 'd/e' -> '../../etc' points out of the root",
           {D, "d", NULL, 0}, {L, "d/e", "../../etc", 0}, {F, "d/e/x", "x", 0});
    REJECT(CL_EPERM, "'d/w/x': symlink 'd/w' -> 'up/..' points out of the root",
           {D, "d", NULL, 0}, {L, "d/up", "..", 0}, {L, "d/w", "up/..", 0},
           {L, "up", "d/up/..", 0}, {F, "d/w/x", "x", 0});
    REJECT(CL_EFORMAT, "'a/x': too many levels of symbolic links at 'a'",
           {L, "a", "b", 0}, {L, "b", "a", 0}, {F, "a/x", "x", 0});
    REJECT(CL_EFORMAT, "'f/x': 'f' is not a directory", {F, "f", "x", 0}, {F, "f/x", "x", 0});
    REJECT(CL_EFORMAT, "'l/x': symlink 'l' -> 'nowhere' leads nowhere", {L, "l", "nowhere", 0},
           {F, "l/x", "x", 0});
    REJECT(CL_EPERM, "'h': hard link to '../etc/shadow' points out of the tree",
           {H, "h", "../etc/shadow", 0});
    REJECT(CL_EPERM, "'h': hard link to '/etc/shadow' points out of the tree",
           {H, "h", "/etc/shadow", 0});
    REJECT(CL_EFORMAT, "'h': hard link to 'missing', which is not in the tree",
           {H, "h", "missing", 0});
    REJECT(CL_EFORMAT, "'h': hard link to 'd', which is not a regular file", {D, "d", NULL, 0},
           {H, "h", "d", 0});
    REJECT(CL_EPERM, "'dev/null': device node", {C, "dev/null", NULL, 0});
    REJECT(CL_EPERM, "'dev/sda': device node", {B, "dev/sda", NULL, 0});
    REJECT(CL_EFORMAT, "'.wh.': invalid whiteout", {F, ".wh.", "", 0});
    REJECT(CL_EFORMAT, "'l': symlink without a target", {L, "l", "", 0});
}

static void nothing_is_written_to_the_host(void **state)
{
    (void)state;
    /* A hostile layer that would write /tmp/cloister-escape-test through a
     * symlink if extraction followed it on the host. */
    unlink("/tmp/cloister-escape-test");
    struct image_tree *t = tree();
    const struct ent e[] = {{D, "real", NULL, 0}, {L, "tmp", "/real", 0},
                            {F, "tmp/cloister-escape-test", "x", 0}};
    assert_int_equal(apply(t, e, 3, 1, NULL), 0); /* inside the image: /real */
    assert_int_equal(access("/tmp/cloister-escape-test", F_OK), -1);
    content_of(t, "real/cloister-escape-test", "x");
    assert_int_equal(at(t, "tmp")->type, IMAGE_SYMLINK);
    image_tree_free(t);
}

static void truncated_and_garbage_layers(void **state)
{
    (void)state;
    struct image_tree *t = tree();
    struct cl_error err = {0};
    const struct ent e[] = {{F, "big", "0123456789abcdef0123456789abcdef", 0}};
    size_t len = make_tar(e, 1, tarbuf, sizeof(tarbuf));
    assert_true(image_layer_apply_buffer(t, tarbuf, 520, 1, &err) < 0);
    cl_error_clear(&err);
    assert_int_equal(image_layer_apply_buffer(t, "not a tar at all, surely", 24, 1, &err),
                     CL_EFORMAT);
    assert_non_null(strstr(err.reason, "not a readable tar stream"));
    assert_int_equal(image_layer_apply_buffer(t, tarbuf, len, 0, NULL), CL_ELIMIT);
    /* an empty stream is an empty layer */
    assert_int_equal(image_layer_apply_buffer(t, "", 0, 1, NULL), 0);
    image_tree_free(t);
}

/* ---- config, --cmd, --env ---- */

static struct image *blank(void)
{
    struct image *img = calloc(1, sizeof(*img));
    assert_non_null(img);
    return img;
}

static json_t *J(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static void cmd_wins_over_entrypoint(void **state)
{
    (void)state;
    struct image *img = blank();
    json_t *c = J("{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"a\",\"b\"],"
                  "\"Entrypoint\":[\"ep\"],\"Env\":[\"K=V\"],\"WorkingDir\":\"/w\",\"User\":\"u\"}}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_int_equal(img->ncmd, 2);
    assert_string_equal(img->cmd[0], "a");
    assert_string_equal(img->cmd[1], "b");
    assert_true(img->has_cmd);
    assert_int_equal(img->nenv, 1);
    assert_int_equal(img->eif_flags, 0);
    json_decref(c);

    c = J("{\"architecture\":\"arm64\",\"config\":{\"Cmd\":null,\"Entrypoint\":[\"ep\",\"x\"]}}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_int_equal(img->ncmd, 2);
    assert_string_equal(img->cmd[0], "ep");
    assert_int_equal(img->nenv, 0);
    assert_int_equal(img->eif_flags, 1);
    json_decref(c);

    c = J("{\"config\":{}}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_false(img->has_cmd);
    json_decref(c);

    struct cl_error err = {0};
    c = J("{\"architecture\":\"s390x\"}");
    assert_int_equal(image_apply_config(img, c, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason, "unsupported image architecture 's390x' (amd64 or arm64)");
    json_decref(c);
    cl_error_clear(&err);
    c = J("{\"config\":{\"Cmd\":[\"a\",1]}}");
    assert_int_equal(image_apply_config(img, c, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "image config: Cmd[1] is not a string");
    json_decref(c);
    image_free(img);
}

static void cmd_and_env_overrides(void **state)
{
    (void)state;
    struct image *img = blank();
    struct cl_error err = {0};
    assert_int_equal(image_set_cmd(img, "  /bin/sh  -c\tx ", NULL), 0);
    assert_int_equal(img->ncmd, 3);
    assert_string_equal(img->cmd[2], "x");
    assert_int_equal(image_set_cmd(img, "[\"/bin/sh\", \"-c\", \"echo a b\"]", NULL), 0);
    assert_int_equal(img->ncmd, 3);
    assert_string_equal(img->cmd[2], "echo a b");
    assert_int_equal(image_set_cmd(img, "   ", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--cmd: empty command");
    cl_error_clear(&err);
    assert_int_equal(image_set_cmd(img, "[1]", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--cmd: the JSON array must hold strings only");
    cl_error_clear(&err);
    assert_int_equal(image_set_env(img, "A=1", NULL), 0);
    assert_int_equal(image_set_env(img, "AB=2", NULL), 0);
    assert_int_equal(image_set_env(img, "A=3=4", NULL), 0);
    assert_int_equal(img->nenv, 2);
    assert_string_equal(img->env[0], "A=3=4");
    assert_int_equal(image_set_env(img, "=x", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--env '=x': expected KEY=VALUE");
    image_free(img);
}

/* ---- metadata ---- */

static void metadata_json_is_nitro_clis(void **state)
{
    (void)state;
    char when[40];
    assert_int_equal(image_rfc3339(0, when, NULL), 0);
    assert_string_equal(when, "1970-01-01T00:00:00+00:00");
    assert_int_equal(image_rfc3339(1700000000, when, NULL), 0);
    assert_string_equal(when, "2023-11-14T22:13:20+00:00");
    json_t *info = J("{\"z\":1,\"a\":{\"y\":2,\"b\":[3,{\"d\":1,\"c\":0}]}}");
    json_t *custom = J("{\"owner\":\"me/\\u00e9\"}");
    struct image_meta m = {.name = "n\"q", .version = "1.0", .build_time = when,
                           .build_tool = "cloister", .build_tool_version = "0.1.0",
                           .os = "Cloister", .kernel_version = "0.1.0", .docker_info = info,
                           .custom = custom};
    char *out = NULL;
    assert_int_equal(image_metadata_json(&m, &out, NULL), 0);
    assert_string_equal(out, "{\"ImageName\":\"n\\\"q\",\"ImageVersion\":\"1.0\",\"BuildMetadata\":"
                             "{\"BuildTime\":\"2023-11-14T22:13:20+00:00\",\"BuildTool\":\"cloister\","
                             "\"BuildToolVersion\":\"0.1.0\",\"OperatingSystem\":\"Cloister\","
                             "\"KernelVersion\":\"0.1.0\"},\"DockerInfo\":{\"a\":{\"b\":[3,{\"c\":0,"
                             "\"d\":1}],\"y\":2},\"z\":1},\"CustomMetadata\":{\"owner\":\"me/\xc3\xa9\"}}");
    free(out);
    m.docker_info = m.custom = NULL;
    assert_int_equal(image_metadata_json(&m, &out, NULL), 0);
    assert_non_null(strstr(out, ",\"DockerInfo\":null,\"CustomMetadata\":null}"));
    free(out);
    json_decref(info);
    json_decref(custom);
}

static char *tmpfile_with(const char *content)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/cloister-image-test.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void kernel_info_from_line_3(void **state)
{
    (void)state;
    char *os = NULL, *ver = NULL;
    char *p = tmpfile_with("#\n# Automatically generated file; DO NOT EDIT.\n"
                           "# Linux/x86_64 4.14.256-209.484.amzn2.x86_64 Kernel Configuration\n");
    assert_int_equal(image_kernel_info(p, &os, &ver, NULL), 0);
    assert_string_equal(os, "Linux");
    assert_string_equal(ver, "4.14.256");
    free(os);
    free(ver);
    unlink(p);
    p = tmpfile_with("a\nb\n# Cloister/x86_64 0.1.0 Kernel Configuration\n");
    assert_int_equal(image_kernel_info(p, &os, &ver, NULL), 0);
    assert_string_equal(os, "Cloister");
    assert_string_equal(ver, "0.1.0");
    free(os);
    free(ver);
    unlink(p);
    struct cl_error err = {0};
    p = tmpfile_with("only\ntwo lines\n");
    assert_int_equal(image_kernel_info(p, &os, &ver, &err), CL_EFORMAT);
    char want[256];
    snprintf(want, sizeof(want),
             "blob '%s': line 3 is not '# <OS>/<arch> <version> Kernel Configuration'", p);
    assert_string_equal(err.reason, want);
    unlink(p);
    cl_error_clear(&err);
    assert_int_equal(image_kernel_info("/nonexistent/bzImage.config", &os, &ver, &err),
                     CL_ENOTFOUND);
    assert_string_equal(err.reason, "missing blob '/nonexistent/bzImage.config'");
}

static void custom_metadata_limits(void **state)
{
    (void)state;
    char big[4200];
    memset(big, ' ', sizeof(big));
    memcpy(big, "{}", 2);
    big[4096] = '\0';
    json_t *j = NULL;
    char *p = tmpfile_with(big);
    assert_int_equal(image_custom_metadata(p, &j, NULL), 0); /* exactly 4096 */
    json_decref(j);
    unlink(p);
    big[4096] = ' ';
    big[4097] = '\0';
    p = tmpfile_with(big);
    struct cl_error err = {0};
    assert_int_equal(image_custom_metadata(p, &j, &err), CL_ELIMIT);
    char want[256];
    snprintf(want, sizeof(want), "metadata file '%s' is 4097 bytes, at most 4096 allowed", p);
    assert_string_equal(err.reason, want);
    unlink(p);
    p = tmpfile_with("{\"a\":1,\"a\":2}");
    cl_error_clear(&err);
    assert_int_equal(image_custom_metadata(p, &j, &err), CL_EFORMAT);
    assert_non_null(strstr(err.reason, "is not JSON: duplicate object key"));
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layers_apply_in_order_with_whiteouts),
        cmocka_unit_test(every_rejection_has_its_reason),
        cmocka_unit_test(nothing_is_written_to_the_host),
        cmocka_unit_test(truncated_and_garbage_layers),
        cmocka_unit_test(cmd_wins_over_entrypoint),
        cmocka_unit_test(cmd_and_env_overrides),
        cmocka_unit_test(metadata_json_is_nitro_clis),
        cmocka_unit_test(kernel_info_from_line_3),
        cmocka_unit_test(custom_metadata_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
