/* SPDX-License-Identifier: Apache-2.0 */
/* eif/eif_json: nitro-cli's Measurements object and the metadata section as
 * describe-eif and describe-enclaves show it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cloister/eif.h>

#include "base/fileio.h"
#include "eif/eif_json.h"

static char dir[64], kernel[128], ramdisk[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/cloister-eifjson-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(kernel, sizeof(kernel), "%s/kernel", dir);
    snprintf(ramdisk, sizeof(ramdisk), "%s/rd", dir);
    return file_write_atomic(kernel, "kernel", 6, 0644, NULL) ||
           file_write_atomic(ramdisk, "ramdisk", 7, 0644, NULL);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* An EIF with the given metadata section, opened. */
static struct eif *eif_with_metadata(const char *meta)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/x.eif", dir);
    const char *rds[1] = { ramdisk };
    struct eif_build_params p = {
        .kernel_path = kernel,
        .cmdline = (const uint8_t *)"console=ttyS0",
        .cmdline_len = 13,
        .metadata_json = meta,
        .ramdisk_paths = rds,
        .ramdisk_count = 1,
    };
    struct cl_error err = { 0 };
    if (eif_write(path, &p, NULL, &err) != 0)
        fail_msg("eif_write: %s", err.reason);
    struct eif *e = NULL;
    if (eif_open(path, &e, &err) != 0)
        fail_msg("eif_open: %s", err.reason);
    return e;
}

#define META_HEAD                                                                          \
    "{\"ImageName\":\"app\",\"ImageVersion\":\"1.0\",\"BuildMetadata\":{\"BuildTime\":\"t\"," \
    "\"BuildTool\":\"cloister\",\"BuildToolVersion\":\"0.1\",\"OperatingSystem\":\"linux\","  \
    "\"KernelVersion\":\"6\"},\"DockerInfo\":{\"Id\":\"sha256:1\"},\"CustomMetadata\":"

static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(s);
    return s;
}

static void expect_describe(const char *custom, const char *want_metadata)
{
    char meta[1024];
    snprintf(meta, sizeof(meta), META_HEAD "%s}", custom);
    struct eif *e = eif_with_metadata(meta);
    json_t *out = NULL;
    assert_int_equal(eif_metadata_describe_json(e, &out, NULL), 0);
    assert_non_null(out);
    char *got = dump(out);
    char want[2048];
    snprintf(want, sizeof(want),
             "{\"ImageName\":\"app\",\"ImageVersion\":\"1.0\",\"Metadata\":{\"BuildTime\":\"t\","
             "\"BuildTool\":\"cloister\",\"BuildToolVersion\":\"0.1\",\"OperatingSystem\":"
             "\"linux\",\"KernelVersion\":\"6\",\"DockerInfo\":{\"Id\":\"sha256:1\"}%s}}",
             want_metadata);
    assert_string_equal(got, want);
    free(got);
    json_decref(out);
    eif_free(e);
}

static void custom_metadata_is_flattened(void **state)
{
    (void)state;
    expect_describe("{\"team\":\"blue\",\"n\":{\"x\":7}}", ",\"team\":\"blue\",\"n\":{\"x\":7}");
}

static void built_in_fields_win_over_custom_ones(void **state)
{
    (void)state;
    expect_describe("{\"BuildTool\":\"evil\",\"DockerInfo\":null,\"z\":1}", ",\"z\":1");
}

static void null_custom_metadata_adds_nothing(void **state)
{
    (void)state;
    expect_describe("null", "");
}

static void non_object_custom_metadata_is_shown_as_it_is(void **state)
{
    (void)state;
    expect_describe("[1,2]", ",\"CustomMetadata\":[1,2]");
    expect_describe("\"text\"", ",\"CustomMetadata\":\"text\"");
}

static void no_metadata_section_gives_null(void **state)
{
    (void)state;
    const char *src = getenv("CLOISTER_SOURCE_DIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/eif/v3.eif", src ? src : ".");
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    if (eif_open(path, &e, &err) != 0)
        fail_msg("%s", err.reason);
    json_t *out = (json_t *)1;
    assert_int_equal(eif_metadata_describe_json(e, &out, NULL), 0);
    assert_null(out);
    eif_free(e);
}

/* 48 times the hex of one byte, as a PCR of that byte prints. */
static void repeat(char out[97], const char *byte_hex)
{
    for (int i = 0; i < 48; i++)
        memcpy(out + 2 * i, byte_hex, 2);
    out[96] = '\0';
}

static void measurements_in_nitro_clis_order(void **state)
{
    (void)state;
    struct eif_measurements m = { 0 };
    memset(m.pcr0, 0x01, sizeof(m.pcr0));
    memset(m.pcr1, 0xab, sizeof(m.pcr1));
    memset(m.pcr2, 0xff, sizeof(m.pcr2));
    json_t *j = eif_measurements_json(&m);
    char *got = dump(j);
    char want[512], h0[97], h1[97], h2[97];
    repeat(h0, "01");
    repeat(h1, "ab");
    repeat(h2, "ff");
    snprintf(want, sizeof(want),
             "{\"HashAlgorithm\":\"Sha384 { ... }\",\"PCR0\":\"%s\",\"PCR1\":\"%s\",\"PCR2\":\"%s\"}",
             h0, h1, h2);
    assert_string_equal(got, want);
    free(got);
    json_decref(j);

    m.has_pcr8 = true;
    memset(m.pcr8, 0x08, sizeof(m.pcr8));
    json_t *b = eif_build_info_json(&m);
    json_t *inner = json_object_get(b, "Measurements");
    assert_int_equal(json_object_size(b), 1);
    assert_int_equal(json_object_size(inner), 5);
    char h8[97];
    repeat(h8, "08");
    assert_string_equal(json_string_value(json_object_get(inner, "PCR8")), h8);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(measurements_in_nitro_clis_order),
        cmocka_unit_test(custom_metadata_is_flattened),
        cmocka_unit_test(built_in_fields_win_over_custom_ones),
        cmocka_unit_test(null_custom_metadata_adds_nothing),
        cmocka_unit_test(non_object_custom_metadata_is_shown_as_it_is),
        cmocka_unit_test(no_metadata_section_gives_null),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
