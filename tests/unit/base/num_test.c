/* SPDX-License-Identifier: Apache-2.0 */
/* base/num: the one decimal parser of every program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/num.h"

static void accepts_digits_up_to_max(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(num_parse_u64("0", 0, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(num_parse_u64("42", 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(num_parse_u64("100", 100, &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(num_parse_u64("007", 7, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(num_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
}

static void refuses_above_max_without_writing(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(num_parse_u64("101", 100, &v), CL_ELIMIT);
    assert_int_equal(num_parse_u64("1", 0, &v), CL_ELIMIT);
    assert_int_equal(num_parse_u64("18446744073709551616", UINT64_MAX, &v), CL_ELIMIT);
    assert_int_equal(num_parse_u64("99999999999999999999999999", UINT64_MAX, &v), CL_ELIMIT);
    assert_int_equal(v, 7);
}

static void refuses_anything_but_digits(void **state)
{
    (void)state;
    uint64_t v = 7;
    const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1x", "0x10", "1.0", "1e3", "１" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(num_parse_u64(bad[i], UINT64_MAX, &v), CL_EFORMAT);
    assert_int_equal(num_parse_u64(NULL, UINT64_MAX, &v), CL_EFORMAT);
    /* junk after an overflow is still junk */
    assert_int_equal(num_parse_u64("99999999999999999999999x", UINT64_MAX, &v), CL_EFORMAT);
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_digits_up_to_max),
        cmocka_unit_test(refuses_above_max_without_writing),
        cmocka_unit_test(refuses_anything_but_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
