/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"

static void encode_is_lowercase(void **state)
{
    (void)state;
    const uint8_t in[] = { 0x00, 0xab, 0xCD, 0xff };
    char out[9];
    hex_encode(out, in, sizeof(in));
    assert_string_equal(out, "00abcdff");
}

static void decode_round_trips_either_case(void **state)
{
    (void)state;
    uint8_t out[4];
    size_t n = 0;
    assert_int_equal(hex_decode(out, sizeof(out), &n, "00AbcDfF", NULL), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\x00\xab\xcd\xff", 4);
    assert_int_equal(hex_decode(out, sizeof(out), &n, "", NULL), 0);
    assert_int_equal(n, 0);
}

static void decode_rejects_bad_input(void **state)
{
    (void)state;
    uint8_t out[2];
    size_t n = 0;
    struct cl_error err = { 0 };
    assert_int_equal(hex_decode(out, sizeof(out), &n, "abc", &err), CL_EFORMAT);
    assert_string_equal(err.reason, "hex string has an odd number of digits (3)");
    cl_error_clear(&err);
    assert_int_equal(hex_decode(out, sizeof(out), &n, "0g", &err), CL_EFORMAT);
    assert_string_equal(err.reason, "invalid hex digit at position 1");
    cl_error_clear(&err);
    assert_int_equal(hex_decode(out, sizeof(out), &n, "001122", &err), CL_ELIMIT);
    assert_string_equal(err.reason, "hex string decodes to 3 bytes, at most 2 allowed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_is_lowercase),
        cmocka_unit_test(decode_round_trips_either_case),
        cmocka_unit_test(decode_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
