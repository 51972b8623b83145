/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base64.h"

static void round_trips(void **state)
{
    (void)state;
    /* RFC 4648 §10 test vectors. */
    const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (size_t i = 0; i < 7; i++) {
        char *e = base64_encode((const uint8_t *)plain[i], strlen(plain[i]));
        assert_string_equal(e, coded[i]);
        free(e);
        uint8_t *d;
        size_t n;
        assert_int_equal(base64_decode(coded[i], strlen(coded[i]), 64, &d, &n, NULL), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(d);
    }
}

static void expect(const char *in, size_t max, int code, const char *reason)
{
    uint8_t *d = (uint8_t *)"x";
    size_t n = 7;
    struct cl_error err = { 0 };
    assert_int_equal(base64_decode(in, strlen(in), max, &d, &n, &err), code);
    assert_string_equal(err.reason, reason);
    assert_null(d);
    assert_int_equal(n, 0);
}

static void rejects_non_canonical_input(void **state)
{
    (void)state;
    expect("Zm9", 64, CL_EFORMAT, "base64 length 3 is not a multiple of 4");
    expect("Zm9v\n", 64, CL_EFORMAT, "base64 length 5 is not a multiple of 4");
    expect("Zm 9", 64, CL_EFORMAT, "invalid base64 character at offset 2");
    expect("Zh==", 64, CL_EFORMAT, "non-canonical base64 padding");
    expect("Zm9=", 64, CL_EFORMAT, "non-canonical base64 padding");
    expect("Zm9vYmFy", 5, CL_ELIMIT, "decoded blob of 6 bytes exceeds 5");
    expect("Z===", 64, CL_EFORMAT, "invalid base64 character at offset 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trips),
        cmocka_unit_test(rejects_non_canonical_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
