/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cl_fail_openssl() (src/lib/base/error_openssl.c): OpenSSL's reason for
 * its most recent error is appended, the thread's error queue is cleared
 * on every path (also with a NULL context and when an earlier failure is
 * kept), and an empty queue or an unregistered reason still give a
 * reason. The rest of the error idiom is tested in error_test.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cloister/error.h>

static void openssl_reason_is_appended_and_queue_cleared(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    /* Provoke a real OpenSSL error: an unknown digest name. */
    EVP_MD *md = EVP_MD_fetch(NULL, "NO-SUCH-DIGEST", NULL);
    assert_null(md);
    cl_fail_openssl(&err, CL_ECRYPTO, "fetching digest");
    assert_int_equal(err.code, CL_ECRYPTO);
    assert_true(strncmp(err.reason, "fetching digest: ", 17) == 0);
    assert_true(strlen(err.reason) > 17);
    assert_int_equal(ERR_peek_error(), 0);
}

static void reason_of_the_most_recent_error(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
    assert_int_equal(cl_fail_openssl(&err, CL_EINVAL, "checking key %d", 2), CL_EINVAL);
    assert_int_equal(err.code, CL_EINVAL);
    assert_string_equal(err.reason, "checking key 2: key values mismatch");
    assert_int_equal(ERR_peek_error(), 0);
    /* two queued: the last one is the reason, both are cleared */
    cl_error_clear(&err);
    ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
    ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
    cl_fail_openssl(&err, CL_ECRYPTO, "adding");
    assert_string_equal(err.reason, "adding: cert already in hash table");
    assert_int_equal(ERR_peek_error(), 0);
}

static void empty_queue_still_gives_a_reason(void **state)
{
    (void)state;
    ERR_clear_error();
    struct cl_error err = { 0 };
    cl_fail_openssl(&err, CL_ECRYPTO, "signing");
    assert_string_equal(err.reason, "signing: unknown OpenSSL error");
}

/* A reason code OpenSSL has no string for: its generic error string. */
static void unregistered_reason(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    ERR_raise(ERR_LIB_USER, 12345);
    cl_fail_openssl(&err, CL_ECRYPTO, "ctx");
    assert_int_equal(strncmp(err.reason, "ctx: error:", 11), 0);
    assert_non_null(strstr(err.reason, "reason(12345)"));
    assert_int_equal(ERR_peek_error(), 0);
}

static void queue_cleared_without_a_context(void **state)
{
    (void)state;
    ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
    assert_int_equal(cl_fail_openssl(NULL, CL_ECRYPTO, "x"), CL_ECRYPTO);
    assert_int_equal(ERR_peek_error(), 0);
}

/* The first failure is the root cause; the queue is cleared anyway, so the
 * stale error cannot surface in a later, unrelated message. */
static void first_failure_is_kept_and_queue_cleared(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    cl_fail(&err, CL_EIO, "root cause");
    ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
    assert_int_equal(cl_fail_openssl(&err, CL_ECRYPTO, "consequence"), CL_ECRYPTO);
    assert_int_equal(err.code, CL_EIO);
    assert_string_equal(err.reason, "root cause");
    assert_int_equal(ERR_peek_error(), 0);
}

static void long_reasons_are_cut(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    char big[CL_ERROR_REASON_MAX];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
    cl_fail_openssl(&err, CL_ECRYPTO, "%s", big);
    assert_int_equal(strlen(err.reason), CL_ERROR_REASON_MAX - 1);
    assert_int_equal(err.reason[0], 'b');
    assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(openssl_reason_is_appended_and_queue_cleared),
        cmocka_unit_test(reason_of_the_most_recent_error),
        cmocka_unit_test(empty_queue_still_gives_a_reason),
        cmocka_unit_test(unregistered_reason),
        cmocka_unit_test(queue_cleared_without_a_context),
        cmocka_unit_test(first_failure_is_kept_and_queue_cleared),
        cmocka_unit_test(long_reasons_are_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
