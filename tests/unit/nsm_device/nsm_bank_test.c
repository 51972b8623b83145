/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NSM's PCR bank (src/lib/nsm_device/nsm_bank.c): extend is
 * SHA384(old || data) checked against OpenSSL, chained; set, lock and
 * lock ranges; a locked register never changes again; index bounds on
 * every call; each refusal with its exact NSM error code and the bank left
 * as it was.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "nsm_device/nsm_bank.h"
#include "testlib/testlib.h"

/* SHA384(old || data), computed here. */
static void expected_extend(const uint8_t old[48], const void *data, size_t len, uint8_t out[48])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_sha384(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(c, old, 48), 1);
    assert_int_equal(EVP_DigestUpdate(c, data, len), 1);
    assert_int_equal(EVP_DigestFinal_ex(c, out, NULL), 1);
    EVP_MD_CTX_free(c);
}

static void describe(const struct nsm_bank *b, unsigned i, bool want_lock, const uint8_t want[48])
{
    bool lock = !want_lock;
    uint8_t v[48];
    assert_int_equal(nsm_bank_describe(b, i, &lock, v), NSM_E_SUCCESS);
    assert_int_equal(lock, want_lock);
    assert_memory_equal(v, want, 48);
}

static const uint8_t zero[48];

static void starts_zero_and_unlocked(void **state)
{
    (void)state;
    struct nsm_bank b;
    memset(&b, 0xee, sizeof(b));
    nsm_bank_init(&b);
    for (unsigned i = 0; i < PCR_COUNT; i++) {
        describe(&b, i, false, zero);
        assert_false(nsm_bank_is_locked(&b, i));
    }
    assert_int_equal(nsm_bank_locked_mask(&b), 0);
}

static void extend_is_sha384_of_old_and_data(void **state)
{
    (void)state;
    struct nsm_bank b;
    nsm_bank_init(&b);
    uint8_t want[48], out[48];
    expected_extend(zero, "abc", 3, want);
    assert_int_equal(nsm_bank_extend(&b, 16, (const uint8_t *)"abc", 3, out), NSM_E_SUCCESS);
    assert_memory_equal(out, want, 48);
    describe(&b, 16, false, want);
    /* the known value libnsm's tests print for [1, 2, 3] from zero */
    uint8_t v[48];
    bool lock;
    assert_int_equal(nsm_bank_extend(&b, 17, (const uint8_t *)"\1\2\3", 3, NULL), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_describe(&b, 17, &lock, v), NSM_E_SUCCESS);
    tl_check_hex(v, 48, "cb178fcd3f328244c05c6248723fd068b3a1dda878e1ab8be911098f199958ad"
                        "d55d0c27f04826d27b44d949a650694e");
    /* chained: the second extend starts from the first's result */
    uint8_t second[48];
    expected_extend(want, "defg", 4, second);
    assert_int_equal(nsm_bank_extend(&b, 16, (const uint8_t *)"defg", 4, out), NSM_E_SUCCESS);
    assert_memory_equal(out, second, 48);
    /* empty data (NULL, 0) still extends: SHA384(old) */
    uint8_t third[48];
    expected_extend(second, "", 0, third);
    assert_int_equal(nsm_bank_extend(&b, 16, NULL, 0, out), NSM_E_SUCCESS);
    assert_memory_equal(out, third, 48);
    /* other registers are untouched */
    describe(&b, 15, false, zero);
    describe(&b, 18, false, zero);
}

static void extend_refuses_missing_data(void **state)
{
    (void)state;
    struct nsm_bank b;
    nsm_bank_init(&b);
    uint8_t out[48];
    memset(out, 0x77, sizeof(out));
    assert_int_equal(nsm_bank_extend(&b, 16, NULL, 1, out), NSM_E_INVALID_ARGUMENT);
    describe(&b, 16, false, zero);
    for (int i = 0; i < 48; i++)
        assert_int_equal(out[i], 0x77);
}

static void set_writes_a_register(void **state)
{
    (void)state;
    struct nsm_bank b;
    nsm_bank_init(&b);
    uint8_t v[48];
    for (int i = 0; i < 48; i++)
        v[i] = (uint8_t)(i + 1);
    assert_int_equal(nsm_bank_set(&b, 4, v), NSM_E_SUCCESS);
    describe(&b, 4, false, v);
    uint8_t want[48], out[48];
    expected_extend(v, "x", 1, want);
    assert_int_equal(nsm_bank_extend(&b, 4, (const uint8_t *)"x", 1, out), NSM_E_SUCCESS);
    assert_memory_equal(out, want, 48);
}

static void a_locked_register_never_changes(void **state)
{
    (void)state;
    struct nsm_bank b;
    nsm_bank_init(&b);
    uint8_t v[48], out[48];
    memset(v, 0xab, sizeof(v));
    assert_int_equal(nsm_bank_set(&b, 8, v), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_lock(&b, 8), NSM_E_SUCCESS);
    assert_true(nsm_bank_is_locked(&b, 8));
    assert_int_equal(nsm_bank_locked_mask(&b), 1u << 8);
    memset(out, 0x77, sizeof(out));
    assert_int_equal(nsm_bank_extend(&b, 8, (const uint8_t *)"x", 1, out), NSM_E_READ_ONLY_INDEX);
    assert_int_equal(out[0], 0x77);
    assert_int_equal(nsm_bank_set(&b, 8, zero), NSM_E_READ_ONLY_INDEX);
    /* locking again is refused as QEMU's module refuses it */
    assert_int_equal(nsm_bank_lock(&b, 8), NSM_E_READ_ONLY_INDEX);
    describe(&b, 8, true, v);
    /* the neighbours are still free */
    assert_int_equal(nsm_bank_extend(&b, 7, (const uint8_t *)"x", 1, NULL), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_extend(&b, 9, (const uint8_t *)"x", 1, NULL), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_locked_mask(&b), 1u << 8);
}

static void lock_ranges(void **state)
{
    (void)state;
    struct nsm_bank b;
    nsm_bank_init(&b);
    assert_int_equal(nsm_bank_lock_range(&b, 0), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_locked_mask(&b), 0);
    assert_int_equal(nsm_bank_lock(&b, 20), NSM_E_SUCCESS);
    /* what a module does when its enclave starts: 0-15 */
    assert_int_equal(nsm_bank_lock_range(&b, 16), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_locked_mask(&b), 0x0010ffffu);
    /* already locked registers in the range are fine */
    assert_int_equal(nsm_bank_lock_range(&b, 16), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_lock_range(&b, 21), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_locked_mask(&b), 0x001fffffu);
    assert_int_equal(nsm_bank_extend(&b, 15, (const uint8_t *)"x", 1, NULL), NSM_E_READ_ONLY_INDEX);
    assert_int_equal(nsm_bank_extend(&b, 21, (const uint8_t *)"x", 1, NULL), NSM_E_SUCCESS);
    /* nsm-check: 33 fails, 32 succeeds */
    assert_int_equal(nsm_bank_lock_range(&b, 33), NSM_E_INVALID_INDEX);
    assert_int_equal(nsm_bank_locked_mask(&b), 0x001fffffu);
    assert_int_equal(nsm_bank_lock_range(&b, UINT_MAX), NSM_E_INVALID_INDEX);
    assert_int_equal(nsm_bank_lock_range(&b, 32), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_locked_mask(&b), 0xffffffffu);
    assert_int_equal(nsm_bank_lock_range(&b, 32), NSM_E_SUCCESS);
}

static void indexes_past_the_bank(void **state)
{
    (void)state;
    struct nsm_bank b;
    nsm_bank_init(&b);
    static const unsigned bad[] = { PCR_COUNT, PCR_COUNT + 1, 1000, UINT_MAX };
    uint8_t v[48], out[48];
    memset(v, 1, sizeof(v));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool lock = true;
        assert_int_equal(nsm_bank_describe(&b, bad[i], &lock, out), NSM_E_INVALID_INDEX);
        assert_int_equal(nsm_bank_extend(&b, bad[i], v, 1, out), NSM_E_INVALID_INDEX);
        assert_int_equal(nsm_bank_set(&b, bad[i], v), NSM_E_INVALID_INDEX);
        assert_int_equal(nsm_bank_lock(&b, bad[i]), NSM_E_INVALID_INDEX);
        assert_false(nsm_bank_is_locked(&b, bad[i]));
    }
    /* index checks come first: a locked bank still says INVALID_INDEX */
    assert_int_equal(nsm_bank_lock_range(&b, 32), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_extend(&b, 32, v, 1, out), NSM_E_INVALID_INDEX);
    assert_false(nsm_bank_is_locked(&b, 32));
    /* the last register is a register */
    nsm_bank_init(&b);
    assert_int_equal(nsm_bank_extend(&b, 31, v, 1, NULL), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_lock(&b, 31), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_locked_mask(&b), 0x80000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_zero_and_unlocked),
        cmocka_unit_test(extend_is_sha384_of_old_and_data),
        cmocka_unit_test(extend_refuses_missing_data),
        cmocka_unit_test(set_writes_a_register),
        cmocka_unit_test(a_locked_register_never_changes),
        cmocka_unit_test(lock_ranges),
        cmocka_unit_test(indexes_past_the_bank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
