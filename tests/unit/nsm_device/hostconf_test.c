/* SPDX-License-Identifier: Apache-2.0 */
/* The host configuration file: values, defaults and every rejection with
 * its exact message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nsm_device/hostconf.h"

static int parse(const char *text, struct hostconf *hc, struct cl_error *err)
{
    return hostconf_parse(text, strlen(text), "host.conf", hc, err);
}

static void test_defaults(void **state)
{
    (void)state;
    struct hostconf hc;
    struct cl_error err = {0};
    assert_int_equal(parse("", &hc, &err), 0);
    assert_string_equal(hc.instance_id, "i-0000000000000000");
    assert_string_equal(hc.parent_role_arn, "");
    assert_int_equal(parse("# only a comment\n\n   \n\t# indented comment\n", &hc, &err), 0);
    assert_string_equal(hc.instance_id, "i-0000000000000000");
}

static void test_values(void **state)
{
    (void)state;
    struct hostconf hc;
    struct cl_error err = {0};
    assert_int_equal(parse("instance_id = i-0123456789abcdef0\n"
                           "  parent_role_arn\t=   arn:aws:iam::123456789012:role/Webserver  \r\n",
                           &hc, &err), 0);
    assert_string_equal(hc.instance_id, "i-0123456789abcdef0");
    assert_string_equal(hc.parent_role_arn, "arn:aws:iam::123456789012:role/Webserver");
    /* no trailing newline, no spaces, a role path, another partition */
    assert_int_equal(parse("parent_role_arn=arn:aws-cn:iam::000000000000:role/path/to/R+=,.@_-1\n"
                           "instance_id=i-1", &hc, &err), 0);
    assert_string_equal(hc.instance_id, "i-1");
    assert_string_equal(hc.parent_role_arn, "arn:aws-cn:iam::000000000000:role/path/to/R+=,.@_-1");
    /* an empty role says "none" */
    assert_int_equal(parse("parent_role_arn =\n", &hc, &err), 0);
    assert_string_equal(hc.parent_role_arn, "");
}

struct bad {
    const char *text;
    const char *reason;
};

static void test_rejections(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"instance_id\n", "host.conf:1: expected 'key = value'"},
        {"\n# c\ninstance_id i-1\n", "host.conf:3: expected 'key = value'"},
        {"colour = blue\n", "host.conf:1: unknown key 'colour'"},
        {"= i-1\n", "host.conf:1: unknown key ''"},
        {"Instance_id = i-1\n", "host.conf:1: unknown key 'Instance_id'"},
        {"instance_id = i-1\ninstance_id = i-2\n", "host.conf:2: instance_id is set twice"},
        {"parent_role_arn =\nparent_role_arn =\n", "host.conf:2: parent_role_arn is set twice"},
        {"instance_id =\n", "host.conf:1: invalid instance_id '' (expected i- and 1 to 32 "
                            "lowercase hex digits)"},
        {"instance_id = i-\n", "host.conf:1: invalid instance_id 'i-' (expected i- and 1 to 32 "
                               "lowercase hex digits)"},
        {"instance_id = i-0123ABC\n", "host.conf:1: invalid instance_id 'i-0123ABC' (expected "
                                      "i- and 1 to 32 lowercase hex digits)"},
        {"instance_id = \"i-1\"\n", "host.conf:1: invalid instance_id '\"i-1\"' (expected i- and "
                                    "1 to 32 lowercase hex digits)"},
        {"instance_id = i-1 # comment\n", "host.conf:1: invalid instance_id 'i-1 # comment' "
                                          "(expected i- and 1 to 32 lowercase hex digits)"},
        {"instance_id = i-000000000000000000000000000000000\n",
         "host.conf:1: invalid instance_id (expected i- and 1 to 32 lowercase hex digits)"},
        {"parent_role_arn = role/Webserver\n",
         "host.conf:1: invalid parent_role_arn (expected "
         "arn:<partition>:iam::<12-digit account>:role/<name>)"},
        {"parent_role_arn = arn:aws:iam::12345678901:role/W\n",
         "host.conf:1: invalid parent_role_arn (expected "
         "arn:<partition>:iam::<12-digit account>:role/<name>)"},
        {"parent_role_arn = arn:aws:iam::123456789012:user/W\n",
         "host.conf:1: invalid parent_role_arn (expected "
         "arn:<partition>:iam::<12-digit account>:role/<name>)"},
        {"parent_role_arn = arn:aws:iam::123456789012:role/\n",
         "host.conf:1: invalid parent_role_arn (expected "
         "arn:<partition>:iam::<12-digit account>:role/<name>)"},
        {"parent_role_arn = arn:aws:iam::123456789012:role/a b\n",
         "host.conf:1: invalid parent_role_arn (expected "
         "arn:<partition>:iam::<12-digit account>:role/<name>)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hostconf hc;
        struct cl_error err = {0};
        assert_int_equal(parse(cases[i].text, &hc, &err), CL_EFORMAT);
        assert_string_equal(err.reason, cases[i].reason);
        /* a failed parse leaves the defaults, never half a configuration */
        assert_string_equal(hc.instance_id, "i-0000000000000000");
        assert_string_equal(hc.parent_role_arn, "");
    }
    /* a NUL byte */
    struct hostconf hc;
    struct cl_error err = {0};
    assert_int_equal(hostconf_parse("instance_id = i-1\0x", 19, "h", &hc, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "h: contains a NUL byte");
    /* an ARN over 2048 bytes */
    char *big = malloc(4200);
    assert_non_null(big);
    strcpy(big, "parent_role_arn = arn:aws:iam::123456789012:role/");
    size_t n = strlen(big);
    memset(big + n, 'a', 2100);
    big[n + 2100] = '\0';
    cl_error_clear(&err);
    assert_int_equal(parse(big, &hc, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "host.conf:1: parent_role_arn is longer than 2048 bytes");
    free(big);
}

static char tmpdir[64];

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_load(void **state)
{
    (void)state;
    struct hostconf hc;
    struct cl_error err = {0};
    char path[128];
    snprintf(path, sizeof(path), "%s/host.conf", tmpdir);
    assert_int_equal(write_file(path, "instance_id = i-0abc\n"), 0);
    assert_int_equal(setenv("CLOISTER_HOST_CONFIG", path, 1), 0);
    const char *used = NULL;
    assert_int_equal(hostconf_load(&hc, &used, &err), 0);
    assert_string_equal(used, path);
    assert_string_equal(hc.instance_id, "i-0abc");

    /* errors name the file */
    assert_int_equal(write_file(path, "instance_id = x\n"), 0);
    assert_int_equal(hostconf_load(&hc, NULL, &err), CL_EFORMAT);
    char expect[256];
    snprintf(expect, sizeof(expect),
             "%s:1: invalid instance_id 'x' (expected i- and 1 to 32 lowercase hex digits)",
             path);
    assert_string_equal(err.reason, expect);

    /* a file named by the environment must exist */
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/nope.conf", tmpdir);
    assert_int_equal(setenv("CLOISTER_HOST_CONFIG", missing, 1), 0);
    cl_error_clear(&err);
    assert_int_equal(hostconf_load(&hc, NULL, &err), CL_ENOTFOUND);
    snprintf(expect, sizeof(expect),
             "host configuration: cannot open '%s': No such file or directory", missing);
    assert_string_equal(err.reason, expect);
    unsetenv("CLOISTER_HOST_CONFIG");
}

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/hostconf_test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/host.conf", tmpdir);
    unlink(path);
    return rmdir(tmpdir);
}

static void test_validators(void **state)
{
    (void)state;
    assert_true(hostconf_instance_id_valid("i-0000000000000000"));
    assert_true(hostconf_instance_id_valid("i-0123456789abcdef0"));
    assert_false(hostconf_instance_id_valid("0123"));
    assert_false(hostconf_instance_id_valid("i-g"));
    assert_true(hostconf_role_arn_valid("arn:aws:iam::123456789012:role/Webserver"));
    assert_true(hostconf_role_arn_valid("arn:aws-us-gov:iam::123456789012:role/a/b"));
    assert_false(hostconf_role_arn_valid("arn:aws:iam::123456789012:role/a/"));
    assert_false(hostconf_role_arn_valid("arn::iam::123456789012:role/a"));
    assert_false(hostconf_role_arn_valid("arn:aws:sts::123456789012:role/a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_validators),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
