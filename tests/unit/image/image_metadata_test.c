/* SPDX-License-Identifier: Apache-2.0 */
/* image_metadata: the metadata section's JSON in nitro-cli's key order,
 * BuildTime as chrono prints it, the bzImage.config parsing and the
 * --metadata file's limits, with each error's exact reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "testlib/testlib.h"

static json_t *J(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

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
    struct image_meta m = { .name = "n\"q",
                            .version = "1.0",
                            .build_time = when,
                            .build_tool = "cloister",
                            .build_tool_version = "0.1.0",
                            .os = "Cloister",
                            .kernel_version = "0.1.0",
                            .docker_info = info,
                            .custom = custom };
    char *out = NULL;
    assert_int_equal(image_metadata_json(&m, &out, NULL), 0);
    assert_string_equal(
        out, "{\"ImageName\":\"n\\\"q\",\"ImageVersion\":\"1.0\",\"BuildMetadata\":"
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
    struct cl_error err = { 0 };
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
    struct cl_error err = { 0 };
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

static void metadata_refusals(void **state)
{
    (void)state;
    char when[40];
    struct cl_error err = { 0 };
    assert_int_equal(image_rfc3339(253402300799, when, NULL), 0);
    assert_string_equal(when, "9999-12-31T23:59:59+00:00");
    assert_int_equal(image_rfc3339(253402300800, when, &err), CL_EINVAL);
    assert_string_equal(err.reason, "build time 253402300800 is out of range");
    struct image_meta m = { .name = "bad \xff name",
                            .version = "1",
                            .build_time = "t",
                            .build_tool = "cloister",
                            .build_tool_version = "0",
                            .os = "o",
                            .kernel_version = "k" };
    char *out = NULL;
    cl_error_clear(&err);
    assert_int_equal(image_metadata_json(&m, &out, &err), CL_EINVAL);
    assert_string_equal(err.reason, "metadata strings must be UTF-8");
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metadata_json_is_nitro_clis),
        cmocka_unit_test(kernel_info_from_line_3),
        cmocka_unit_test(custom_metadata_limits),
        cmocka_unit_test(metadata_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
