/* SPDX-License-Identifier: Apache-2.0 */
/* Vectors: ../shared/testdata/eif/README.md (AWS user guide PCR3/PCR4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"
#include "eif/pcr.h"

static void check(const uint8_t pcr[PCR_SIZE], const char *want)
{
    char hex[2 * PCR_SIZE + 1];
    hex_encode(hex, pcr, PCR_SIZE);
    assert_string_equal(hex, want);
}

static void pcr3_of_role_arn(void **state)
{
    (void)state;
    const char *arn = "arn:aws:iam::123456789012:role/Webserver";
    uint8_t pcr[PCR_SIZE];
    assert_int_equal(pcr_from_zero(pcr, arn, strlen(arn), NULL), 0);
    check(pcr, "78fce75db17cd4e0a3fb8dad3ad128ca5e77edbb2b2c7f75329dccd99aa5f6ef"
               "4fc1f1a452e315b9e98f9e312e6921e6");
}

static void pcr4_of_instance_id(void **state)
{
    (void)state;
    const char *id = "i-1234567890abcdef0";
    uint8_t pcr[PCR_SIZE];
    assert_int_equal(pcr_from_zero(pcr, id, strlen(id), NULL), 0);
    check(pcr, "08f996b5d43e047a9eb51e7f548bfee7e164fd7dc8f65541f2ac09d6545ac812"
               "719327281c401a67a10fcba87ae79ce0");
}

static void pcr_of_empty_content(void **state)
{
    (void)state;
    uint8_t pcr[PCR_SIZE];
    assert_int_equal(pcr_of_content(pcr, "", 0, NULL), 0);
    check(pcr, "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c"
               "10edb30948c90ba67310f7b964fc500a");
}

static void extend_chains(void **state)
{
    (void)state;
    uint8_t a[PCR_SIZE] = { 0 }, b[PCR_SIZE];
    assert_int_equal(pcr_extend(a, "x", 1, NULL), 0);
    assert_int_equal(pcr_from_zero(b, "x", 1, NULL), 0);
    assert_memory_equal(a, b, PCR_SIZE);
    assert_int_equal(pcr_extend(a, "y", 1, NULL), 0);
    assert_memory_not_equal(a, b, PCR_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pcr3_of_role_arn),
        cmocka_unit_test(pcr4_of_instance_id),
        cmocka_unit_test(pcr_of_empty_content),
        cmocka_unit_test(extend_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
