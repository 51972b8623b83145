/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <cloister/error.h>

static void fail_records_code_and_reason(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    assert_int_equal(cl_fail(&err, CL_EFORMAT, "bad magic %d", 7), CL_EFORMAT);
    assert_int_equal(err.code, CL_EFORMAT);
    assert_string_equal(err.reason, "bad magic 7");
}

static void first_failure_is_kept(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    cl_fail(&err, CL_EIO, "root cause");
    assert_int_equal(cl_fail(&err, CL_EFORMAT, "consequence"), CL_EFORMAT);
    assert_int_equal(err.code, CL_EIO);
    assert_string_equal(err.reason, "root cause");
}

static void null_context_is_allowed(void **state)
{
    (void)state;
    assert_int_equal(cl_fail(NULL, CL_EINVAL, "x"), CL_EINVAL);
    assert_int_equal(cl_fail_errno(NULL, CL_EIO, "x"), CL_EIO);
    cl_error_prefix(NULL, "y");
}

static void errno_reason_is_appended_and_errno_kept(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    errno = ENOENT;
    cl_fail_errno(&err, CL_EIO, "cannot open '%s'", "f");
    assert_int_equal(errno, ENOENT);
    assert_string_equal(err.reason, "cannot open 'f': No such file or directory");
}

static void prefix_adds_context(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    cl_fail(&err, CL_EFORMAT, "truncated");
    cl_error_prefix(&err, "reading '%s'", "a.eif");
    assert_string_equal(err.reason, "reading 'a.eif': truncated");
    cl_error_clear(&err);
    assert_int_equal(err.code, 0);
    cl_error_prefix(&err, "ignored without a failure");
    assert_string_equal(err.reason, "");
}

static void long_reasons_are_truncated_safely(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cl_fail(&err, CL_EINVAL, "%s", big);
    assert_int_equal(strlen(err.reason), CL_ERROR_REASON_MAX - 1);
    cl_error_prefix(&err, "ctx");
    assert_int_equal(strlen(err.reason), CL_ERROR_REASON_MAX - 1);
}

static void every_code_has_a_name(void **state)
{
    (void)state;
    for (int c = 0; c >= CL_ESTALE; c--)
        assert_non_null(cl_code_name(c));
    assert_string_equal(cl_code_name(CL_ESIGNATURE), "bad signature");
    assert_string_equal(cl_code_name(-999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fail_records_code_and_reason),
        cmocka_unit_test(first_failure_is_kept),
        cmocka_unit_test(null_context_is_allowed),
        cmocka_unit_test(errno_reason_is_appended_and_errno_kept),
        cmocka_unit_test(prefix_adds_context),
        cmocka_unit_test(long_reasons_are_truncated_safely),
        cmocka_unit_test(every_code_has_a_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
