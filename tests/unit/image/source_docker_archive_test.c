/* SPDX-License-Identifier: Apache-2.0 */
/* source_docker_archive: `docker save` tarballs in the legacy layout and
 * Docker 25's, FILE:TAG and the default ImageName/ImageVersion it gives,
 * layer members linked to one another inside the archive, and each
 * refusal with its exact error. */
#include "image/image.h"
#include "tar_build.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = temp_dir("source-docker-archive");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_dir(dir);
    return 0;
}

/* A layer tar holding bin/<name>; *len its size. */
static const uint8_t *layer_with(const char *name, size_t *len)
{
    static uint8_t layer[16384];
    char path[64];
    snprintf(path, sizeof(path), "bin/%s", name);
    const struct tar_entry e[] = { { TAR_FILE, path, "#!/bin/sh\n", 0755, 0 } };
    *len = tar_build(e, 1, TAR_PLAIN, layer, sizeof(layer));
    return layer;
}

static char *archive_path(const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static void runs(const struct image *img, const char *name)
{
    char want[64];
    snprintf(want, sizeof(want), "/bin/%s", name);
    assert_int_equal(img->ncmd, 1);
    assert_string_equal(img->cmd[0], want);
    struct image_node *bin = image_node_child(image_tree_root(img->tree), "bin");
    assert_non_null(image_node_child(bin, name));
}

/* Two images in the legacy layout (<id>.json, <dir>/layer.tar). */
static char *two_images(char config_sha[2][65])
{
    struct tar_files f = { 0 };
    static const char *const names[] = { "a", "b" };
    char manifest[2048] = "[";
    for (int i = 0; i < 2; i++) {
        char cfg[256], digest[80], member[128];
        snprintf(cfg, sizeof(cfg),
                 "{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"/bin/%s\"]}}", names[i]);
        struct tar_files scratch = { 0 };
        files_add_blob(&scratch, cfg, 0, digest); /* only to learn its sha256 */
        files_free(&scratch);
        memcpy(config_sha[i], digest + 7, 65);
        snprintf(member, sizeof(member), "%.64s.json", config_sha[i]);
        files_add(&f, TAR_FILE, member, cfg, 0);
        size_t len;
        const uint8_t *layer = layer_with(names[i], &len);
        snprintf(member, sizeof(member), "layer-%s/layer.tar", names[i]);
        files_add(&f, TAR_FILE, member, layer, len);
    }
    /* "latest" matches a's second tag and two of b's; "2" two of b's */
    snprintf(manifest + 1, sizeof(manifest) - 1,
             "{\"Config\":\"%s.json\",\"RepoTags\":[\"a:1\",\"x/a:latest\"],"
             "\"Layers\":[\"layer-a/layer.tar\"]},"
             "{\"Config\":\"%s.json\",\"RepoTags\":[\"b:2\",\"reg/b:latest\",\"b:latest\",\"mirror/"
             "b:2\"],"
             "\"Layers\":[\"layer-a/layer.tar\",\"layer-b/layer.tar\"]}]",
             config_sha[0], config_sha[1]);
    files_add(&f, TAR_FILE, "manifest.json", manifest, 0);
    char *p = archive_path("two.tar");
    files_write_tar(&f, p);
    files_free(&f);
    return p;
}

static void tags_pick_an_image_and_name_it(void **state)
{
    (void)state;
    char sha[2][65], ref[1024], want[2048];
    char *p = two_images(sha);
    struct image *img = NULL;
    struct cl_error err = { 0 };

    snprintf(ref, sizeof(ref), "%s:2", p);
    assert_int_equal(image_from_docker_archive(ref, NULL, &img, &err), 0);
    runs(img, "b");
    assert_non_null(image_node_child(image_node_child(image_tree_root(img->tree), "bin"), "a"));
    assert_string_equal(img->default_name, "mirror/b"); /* the last tag that matches */
    assert_string_equal(img->default_version, sha[1]);
    image_free(img);

    /* the first image with a matching tag; the name from its last match */
    snprintf(ref, sizeof(ref), "%s:latest", p);
    assert_int_equal(image_from_docker_archive(ref, NULL, &img, &err), 0);
    runs(img, "a");
    assert_string_equal(img->default_name, "x/a");
    assert_string_equal(img->default_version, sha[0]);
    image_free(img);

    snprintf(ref, sizeof(ref), "%s:reg/b:latest", p); /* the last ':' splits: no such file */
    assert_int_equal(image_from_docker_archive(ref, NULL, &img, &err), CL_ENOTFOUND);
    snprintf(want, sizeof(want), "'%s:reg/b' is not a file", p);
    assert_string_equal(err.reason, want);

    cl_error_clear(&err);
    assert_int_equal(image_from_docker_archive(p, NULL, &img, &err), CL_EINVAL);
    snprintf(want, sizeof(want),
             "docker archive '%s': the archive holds 2 images; name one as FILE:TAG", p);
    assert_string_equal(err.reason, want);

    cl_error_clear(&err);
    snprintf(ref, sizeof(ref), "%s:3", p);
    assert_int_equal(image_from_docker_archive(ref, NULL, &img, &err), CL_ENOTFOUND);
    snprintf(want, sizeof(want), "docker archive '%s': no image tagged '3' in manifest.json", p);
    assert_string_equal(err.reason, want);
    assert_null(img);
    free(p);
}

/* Docker 25: blobs/sha256/<hex> for the config and the layers, both
 * checked against the digest their name carries; no RepoTags. */
static void docker_25_layout_checks_digests(void **state)
{
    (void)state;
    struct tar_files f = { 0 };
    char cfg_digest[80], layer_digest[80], manifest[1024];
    size_t len;
    const uint8_t *layer = layer_with("app", &len);
    files_add_blob(&f, layer, len, layer_digest);
    files_add_blob(&f, "{\"config\":{\"Entrypoint\":[\"/bin/app\"]}}", 0, cfg_digest);
    snprintf(manifest, sizeof(manifest),
             "[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":null,"
             "\"Layers\":[\"blobs/sha256/%s\"]}]",
             cfg_digest + 7, layer_digest + 7);
    files_add(&f, TAR_FILE, "manifest.json", manifest, 0);
    char *p = archive_path("app.tar");
    files_write_tar(&f, p);
    struct image *img = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(image_from_docker_archive(p, NULL, &img, &err), 0);
    runs(img, "app");
    assert_string_equal(img->default_name, "app"); /* the file's name without .tar */
    assert_string_equal(img->default_version, cfg_digest + 7);
    image_free(img);

    /* the layer's bytes changed under its name */
    f.data[0][len - 1] ^= 1;
    files_write_tar(&f, p);
    char want[2048];
    assert_int_equal(image_from_docker_archive(p, NULL, &img, &err), CL_ECHECKSUM);
    snprintf(want, sizeof(want),
             "docker archive '%s': layer 1 ('blobs/sha256/%s'): 'blobs/sha256/%s' does not match "
             "its digest",
             p, layer_digest + 7, layer_digest + 7);
    assert_string_equal(err.reason, want);
    /* and the config's */
    f.data[0][len - 1] ^= 1;
    f.data[1][0] = ' ';
    files_write_tar(&f, p);
    cl_error_clear(&err);
    assert_int_equal(image_from_docker_archive(p, NULL, &img, &err), CL_ECHECKSUM);
    snprintf(want, sizeof(want), "docker archive '%s': 'blobs/sha256/%s' does not match its digest",
             p, cfg_digest + 7);
    assert_string_equal(err.reason, want);
    files_free(&f);
    free(p);
}

/* A one-image archive whose layer members are given, as docker save links
 * identical layers: members and Layers as JSON text. */
static char *with_layers(const char *name, struct tar_files *f, const char *layers_json)
{
    char manifest[1024];
    files_add(f, TAR_FILE, "c.json", "{\"config\":{\"Cmd\":[\"/bin/app\"]}}", 0);
    snprintf(manifest, sizeof(manifest),
             "[{\"Config\":\"c.json\",\"RepoTags\":[\"app:1\"],\"Layers\":%s}]", layers_json);
    files_add(f, TAR_FILE, "manifest.json", manifest, 0);
    char *p = archive_path(name);
    files_write_tar(f, p);
    files_free(f);
    return p;
}

static void linked_members_stay_inside(void **state)
{
    (void)state;
    struct tar_files f = { 0 };
    size_t len;
    const uint8_t *layer = layer_with("app", &len);
    files_add(&f, TAR_FILE, "one/layer.tar", layer, len);
    files_add(&f, TAR_SYMLINK, "two/layer.tar", "../one/layer.tar", 0);
    files_add(&f, TAR_HARDLINK, "three/layer.tar", "one/layer.tar", 0);
    char *p = with_layers("linked.tar", &f,
                          "[\"one/layer.tar\",\"two/layer.tar\",\"./three//layer.tar\"]");
    struct image *img = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(image_from_docker_archive(p, NULL, &img, &err), 0);
    runs(img, "app");
    image_free(img);
    free(p);

    static const struct {
        const char *file;
        enum tar_kind kind;
        const char *target;
        const char *layers;
        int code;
        const char *reason; /* after "docker archive '<p>': "; a layer member that
                               cannot be opened is named by the member alone */
    } bad[] = {
        { "climb.tar", TAR_SYMLINK, "../../etc/passwd", "[\"l/layer.tar\"]", CL_EFORMAT,
          "member 'l/layer.tar' links out of the archive" },
        { "abs.tar", TAR_SYMLINK, "/etc/passwd", "[\"l/layer.tar\"]", CL_EFORMAT,
          "member 'l/layer.tar' links out of the archive" },
        { "loop.tar", TAR_SYMLINK, "layer.tar", "[\"l/layer.tar\"]", CL_EFORMAT,
          "member 'l/layer.tar': too many links" },
        { "dir.tar", TAR_DIR, NULL, "[\"l/layer.tar\"]", CL_EFORMAT,
          "member 'l/layer.tar' is not a file" },
        { "missing.tar", TAR_DIR, NULL, "[\"m/layer.tar\"]", CL_ENOTFOUND,
          "'m/layer.tar' is not in the archive" },
        { "notstr.tar", TAR_DIR, NULL, "[7]", CL_EFORMAT,
          "manifest.json: Layers[0] is not a string" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        files_add(&f, bad[i].kind, "l/layer.tar", bad[i].target, 0);
        p = with_layers(bad[i].file, &f, bad[i].layers);
        char want[2048];
        cl_error_clear(&err);
        assert_int_equal(image_from_docker_archive(p, NULL, &img, &err), bad[i].code);
        snprintf(want, sizeof(want), "docker archive '%s': %s", p, bad[i].reason);
        assert_string_equal(err.reason, want);
        assert_null(img);
        free(p);
    }
}

static void manifest_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *manifest; /* NULL: no manifest.json */
        int code;
        const char *reason;
    } bad[] = {
        { NULL, CL_EFORMAT, "not a docker save archive (no manifest.json)" },
        { "{}", CL_EFORMAT, "manifest.json is not a non-empty array" },
        { "[]", CL_EFORMAT, "manifest.json is not a non-empty array" },
        { "[{\"Layers\":[]}]", CL_EFORMAT, "manifest.json: an entry needs Config and Layers" },
        { "[{\"Config\":\"c.json\",\"Layers\":{}}]", CL_EFORMAT,
          "manifest.json: an entry needs Config and Layers" },
        { "[{\"Config\":\"nope.json\",\"Layers\":[]}]", CL_ENOTFOUND,
          "'nope.json' is not in the archive" },
        { "[{\"Config\":\"bad.json\",\"Layers\":[]}]", CL_EFORMAT,
          "'bad.json' is not JSON: '[' or '{' expected near 'not' (line 1)" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tar_files f = { 0 };
        files_add(&f, TAR_FILE, "c.json", "{}", 0);
        files_add(&f, TAR_FILE, "bad.json", "not json", 0);
        if (bad[i].manifest)
            files_add(&f, TAR_FILE, "manifest.json", bad[i].manifest, 0);
        char *p = archive_path("m.tar");
        files_write_tar(&f, p);
        files_free(&f);
        struct image *img = NULL;
        struct cl_error err = { 0 };
        char want[2048];
        assert_int_equal(image_from_docker_archive(p, NULL, &img, &err), bad[i].code);
        snprintf(want, sizeof(want), "docker archive '%s': %s", p, bad[i].reason);
        assert_string_equal(err.reason, want);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tags_pick_an_image_and_name_it),
        cmocka_unit_test(docker_25_layout_checks_digests),
        cmocka_unit_test(linked_members_stay_inside),
        cmocka_unit_test(manifest_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
