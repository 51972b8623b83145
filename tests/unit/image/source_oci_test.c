/* SPDX-License-Identifier: Apache-2.0 */
/* source_oci: an OCI image layout as a directory and as a tar read the
 * same; PATH:TAG; nested indexes lead to this host's platform; sha512
 * digests; and each refusal (layout version, media type, digests, nesting,
 * several images without a tag) with its exact error. */
#include "image/image.h"
#include "image/image_layer.h"
#include "tar_build.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX    "application/vnd.oci.image.index.v1+json"
#define MT_LAYER    "application/vnd.oci.image.layer.v1.tar"

#if defined(__aarch64__)
#define HOST_ARCH  "arm64"
#define OTHER_ARCH "amd64"
#else
#define HOST_ARCH  "amd64"
#define OTHER_ARCH "arm64"
#endif

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = temp_dir("source-oci");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_dir(dir);
    return 0;
}

/* A layer holding bin/<name>, its config running /bin/<name>, and the
 * manifest naming both (layer_mt: the layer's media type); digest gets the
 * manifest's. */
static void add_image(struct tar_files *f, const char *name, const char *layer_mt,
                      char digest[static 80], char config_digest[static 80])
{
    static uint8_t layer[16384];
    char path[64], json[1024], layer_digest[80];
    snprintf(path, sizeof(path), "bin/%s", name);
    const struct tar_entry e[] = { { TAR_FILE, path, "#!/bin/sh\n", 0755, 0 } };
    size_t len = tar_build(e, 1, TAR_PLAIN, layer, sizeof(layer));
    files_add_blob(f, layer, len, layer_digest);
    snprintf(json, sizeof(json),
             "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/%s\"]}}",
             HOST_ARCH, name);
    files_add_blob(f, json, 0, config_digest);
    snprintf(json, sizeof(json),
             "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\",\"config\":{\"mediaType\":"
             "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":1},"
             "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
             config_digest, layer_mt, layer_digest, len);
    files_add_blob(f, json, 0, digest);
}

/* oci-layout and index.json over the given descriptors (JSON text). */
static void add_index(struct tar_files *f, const char *descriptors)
{
    char json[4096];
    files_add(f, TAR_FILE, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 0);
    snprintf(json, sizeof(json), "{\"schemaVersion\":2,\"manifests\":[%s]}", descriptors);
    files_add(f, TAR_FILE, "index.json", json, 0);
}

static char *layout_path(const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

/* The image's command, after checking its tree holds bin/<cmd>. */
static void runs(const struct image *img, const char *name)
{
    char want[64];
    snprintf(want, sizeof(want), "/bin/%s", name);
    assert_true(img->has_cmd);
    assert_int_equal(img->ncmd, 1);
    assert_string_equal(img->cmd[0], want);
    struct image_node *bin = image_node_child(image_tree_root(img->tree), "bin");
    assert_non_null(image_node_child(bin, name));
}

static void layout_and_archive_read_the_same(void **state)
{
    (void)state;
    struct tar_files f = { 0 };
    char m1[80], c1[80], m2[80], c2[80], desc[1024];
    add_image(&f, "one", MT_LAYER, m1, c1);
    add_image(&f, "two", MT_LAYER "+gzip", m2, c2); /* the media type names it; the bytes decide */
    snprintf(desc, sizeof(desc),
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":1,\"annotations\":"
             "{\"org.opencontainers.image.ref.name\":\"v1\"}},"
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":1,\"annotations\":"
             "{\"org.opencontainers.image.ref.name\":\"v2\"}}",
             m1, m2);
    add_index(&f, desc);
    char *layout = layout_path("img"), *archive = layout_path("img.tar");
    assert_int_equal(mkdir(layout, 0755), 0);
    files_write_dir(&f, layout);
    files_write_tar(&f, archive);

    char ref[1024];
    struct image *img = NULL;
    struct cl_error err = { 0 };
    snprintf(ref, sizeof(ref), "%s:v2", layout);
    assert_int_equal(image_from_oci_layout(ref, NULL, &img, &err), 0);
    runs(img, "two");
    assert_string_equal(img->default_name, "img");
    assert_string_equal(img->default_version, c2 + 7);
    assert_non_null(json_object_get(img->config, "config"));
    image_free(img);
    snprintf(ref, sizeof(ref), "%s:v1", archive);
    assert_int_equal(image_from_oci_archive(ref, NULL, &img, &err), 0);
    runs(img, "one");
    assert_string_equal(img->default_name, "img");
    assert_string_equal(img->default_version, c1 + 7);
    image_free(img);

    /* two images and no tag; a tag that is not there */
    char want[2048];
    assert_int_equal(image_from_oci_layout(layout, NULL, &img, &err), CL_EINVAL);
    snprintf(want, sizeof(want), "OCI layout '%s': the index holds 2 images; name one as PATH:TAG",
             layout);
    assert_string_equal(err.reason, want);
    assert_null(img);
    cl_error_clear(&err);
    snprintf(ref, sizeof(ref), "%s:v3", archive);
    assert_int_equal(image_from_oci_archive(ref, NULL, &img, &err), CL_ENOTFOUND);
    snprintf(want, sizeof(want), "OCI archive '%s': no image tagged 'v3' in the index", archive);
    assert_string_equal(err.reason, want);
    cl_error_clear(&err);
    assert_int_equal(image_from_oci_archive(layout, NULL, &img, &err), CL_ENOTFOUND);
    snprintf(want, sizeof(want), "'%s' is not a file", layout);
    assert_string_equal(err.reason, want);
    files_free(&f);
    free(layout);
    free(archive);
}

static void nested_indexes_lead_to_this_platform(void **state)
{
    (void)state;
    struct tar_files f = { 0 };
    char mine[80], other[80], c[80], nested[80], json[2048];
    add_image(&f, "mine", MT_LAYER, mine, c);
    add_image(&f, "other", MT_LAYER, other, c);
    snprintf(json, sizeof(json),
             "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":["
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"" OTHER_ARCH "\",\"os\":\"linux\"}},"
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"" HOST_ARCH "\",\"os\":\"linux\"}}]}",
             other, mine);
    files_add_blob(&f, json, 0, nested);
    snprintf(json, sizeof(json), "{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"%s\",\"size\":1}",
             nested);
    add_index(&f, json);
    char *layout = layout_path("multi");
    assert_int_equal(mkdir(layout, 0755), 0);
    files_write_dir(&f, layout);
    struct image *img = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(image_from_oci_layout(layout, NULL, &img, &err), 0);
    runs(img, "mine");
    image_free(img);
    files_free(&f);

    /* a platform list without this host's platform */
    add_image(&f, "other", MT_LAYER, other, c);
    snprintf(json, sizeof(json),
             "{\"schemaVersion\":2,\"manifests\":["
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"" OTHER_ARCH "\",\"os\":\"linux\"}},"
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"" HOST_ARCH "\",\"os\":\"windows\"}}]}",
             other, other);
    files_add_blob(&f, json, 0, nested);
    snprintf(json, sizeof(json),
             "{\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
             "\"digest\":\"%s\",\"size\":1}",
             nested);
    add_index(&f, json);
    char *elsewhere = layout_path("elsewhere");
    assert_int_equal(mkdir(elsewhere, 0755), 0);
    files_write_dir(&f, elsewhere);
    assert_int_equal(image_from_oci_layout(elsewhere, NULL, &img, &err), CL_ENOTFOUND);
    char want[2048];
    snprintf(want, sizeof(want), "OCI layout '%s': no linux/" HOST_ARCH " image in the index",
             elsewhere);
    assert_string_equal(err.reason, want);
    files_free(&f);

    /* five indexes deep */
    char next[80];
    add_image(&f, "deep", MT_LAYER, next, c);
    for (int i = 0; i < 5; i++) {
        snprintf(json, sizeof(json),
                 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
                 "\"size\":1}]}",
                 i ? MT_INDEX : MT_MANIFEST, next);
        files_add_blob(&f, json, 0, next);
    }
    snprintf(json, sizeof(json), "{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"%s\",\"size\":1}",
             next);
    add_index(&f, json);
    char *deep = layout_path("deep");
    assert_int_equal(mkdir(deep, 0755), 0);
    files_write_dir(&f, deep);
    cl_error_clear(&err);
    assert_int_equal(image_from_oci_layout(deep, NULL, &img, &err), CL_ELIMIT);
    snprintf(want, sizeof(want), "OCI layout '%s': indexes nested too deep", deep);
    assert_string_equal(err.reason, want);
    files_free(&f);
    free(layout);
    free(elsewhere);
    free(deep);
}

/* A layout whose index.json points at a manifest with the given config
 * and layer descriptors (JSON text); returns its directory. */
static char *layout_with(const char *name, const char *version, const char *config,
                         const char *layer)
{
    struct tar_files f = { 0 };
    char json[2048], m[80];
    snprintf(json, sizeof(json), "{\"schemaVersion\":2,\"config\":%s,\"layers\":[%s]}", config,
             layer);
    files_add_blob(&f, json, 0, m);
    snprintf(json, sizeof(json), "{\"imageLayoutVersion\":\"%s\"}", version);
    files_add(&f, TAR_FILE, "oci-layout", json, 0);
    snprintf(json, sizeof(json),
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_MANIFEST
             "\",\"digest\":\"%s\",\"size\":1}]}",
             m);
    files_add(&f, TAR_FILE, "index.json", json, 0);
    /* a good config and layer, for the descriptors that name them */
    char c[80], l[80];
    files_add_blob(&f, "{\"config\":{\"Cmd\":[\"/x\"]}}", 0, c);
    files_add_blob(&f, "", 1, l); /* a NUL byte: not a tar */
    char *p = layout_path(name);
    assert_int_equal(mkdir(p, 0755), 0);
    files_write_dir(&f, p);
    files_free(&f);
    return p;
}

static void expect_refused(const char *layout, int code, const char *reason_after_label)
{
    struct image *img = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(image_from_oci_layout(layout, NULL, &img, &err), code);
    assert_null(img);
    char want[2048];
    snprintf(want, sizeof(want), "OCI layout '%s': %s", layout, reason_after_label);
    assert_string_equal(err.reason, want);
}

static void refusals(void **state)
{
    (void)state;
    /* sha256 of {"config":{"Cmd":["/x"]}} */
    char good_config[256], want[2048];
    struct tar_files f = { 0 };
    char cd[80];
    files_add_blob(&f, "{\"config\":{\"Cmd\":[\"/x\"]}}", 0, cd);
    files_free(&f);
    snprintf(good_config, sizeof(good_config), "{\"digest\":\"%s\"}", cd);

    char *p = layout_with("v2", "2.0.0", good_config, "");
    expect_refused(p, CL_EUNSUPPORTED, "unsupported imageLayoutVersion");
    free(p);

    p = layout_with("mt", "1.0.0", good_config,
                    "{\"mediaType\":\"application/x-foo\",\"digest\":\"sha256:00\"}");
    expect_refused(p, CL_EUNSUPPORTED, "layer 1: unsupported media type 'application/x-foo'");
    free(p);

    p = layout_with("short", "1.0.0", good_config,
                    "{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"sha256:abc\"}");
    expect_refused(p, CL_EFORMAT, "bad digest 'sha256:abc'");
    free(p);

    p = layout_with("md5", "1.0.0", good_config,
                    "{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"md5:abc\"}");
    expect_refused(p, CL_EUNSUPPORTED, "unsupported digest algorithm in 'md5:abc'");
    free(p);

    p = layout_with("cfg", "1.0.0", "{\"digest\":\"sha256\"}", "");
    expect_refused(p, CL_EFORMAT, "manifest config: bad digest 'sha256'");
    free(p);

    /* a descriptor whose blob is not there */
    char absent[160];
    snprintf(absent, sizeof(absent), "{\"digest\":\"sha512:%0128d\"}", 0);
    p = layout_with("absent", "1.0.0", absent, "");
    snprintf(want, sizeof(want), "cannot open 'blobs/sha512/%0128d': No such file or directory", 0);
    expect_refused(p, CL_ENOTFOUND, want);
    free(p);

    /* a layer that is not a tar (a NUL byte, whose digest is right) */
    char nul[80];
    files_add_blob(&f, "", 1, nul);
    files_free(&f);
    char layer[256];
    snprintf(layer, sizeof(layer), "{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\"}", nul);
    p = layout_with("notar", "1.0.0", good_config, layer);
    struct image *img = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(image_from_oci_layout(p, NULL, &img, &err), CL_EFORMAT);
    snprintf(want, sizeof(want), "OCI layout '%s': layer 1 ('blobs/sha256/%s'): ", p, nul + 7);
    assert_memory_equal(err.reason, want, strlen(want));
    free(p);

    /* a blob whose bytes do not match its name */
    p = layout_with("tampered", "1.0.0", good_config, "");
    char blob[1024];
    snprintf(blob, sizeof(blob), "%s/blobs/sha256/%s", p, cd + 7);
    write_text(blob, "{\"config\":{\"Cmd\":[\"/y\"]}}");
    snprintf(want, sizeof(want), "'blobs/sha256/%s' does not match its digest", cd + 7);
    expect_refused(p, CL_ECHECKSUM, want);
    free(p);

    /* not a layout at all */
    p = layout_path("");
    expect_refused(p, CL_EFORMAT, "not an OCI image layout (no oci-layout file)");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_and_archive_read_the_same),
        cmocka_unit_test(nested_indexes_lead_to_this_platform),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
