/* SPDX-License-Identifier: Apache-2.0 */
/* The ciphertext blob format (blob.h): layout, round trips, and that every
 * change of header, nonce, ciphertext, tag or encryption context fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state/blob.h"

static const uint8_t KEY[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t KID[16] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

static json_t *ctx(const char *k1, const char *v1, const char *k2, const char *v2)
{
    json_t *o = json_object();
    if (k1)
        json_object_set_new(o, k1, json_string(v1));
    if (k2)
        json_object_set_new(o, k2, json_string(v2));
    return o;
}

static void test_layout_and_round_trip(void **state)
{
    (void)state;
    json_t *c = ctx("b", "2", "a", "1");
    uint8_t *blob = NULL, *pt = NULL;
    size_t len = 0, n = 0;
    assert_int_equal(blob_seal(KEY, KID, 7, c, (const uint8_t *)"hello", 5, &blob, &len, NULL), 0);
    assert_int_equal(len, BLOB_OVERHEAD + 5);
    assert_int_equal(blob[0], 1);
    assert_memory_equal(blob + 1, KID, 16);
    assert_memory_equal(blob + 17, "\x00\x00\x00\x07", 4);
    uint8_t id[16];
    uint32_t ver;
    assert_int_equal(blob_peek(blob, len, id, &ver, NULL), 0);
    assert_memory_equal(id, KID, 16);
    assert_int_equal(ver, 7);
    /* the context's member order does not matter */
    json_t *c2 = ctx("a", "1", "b", "2");
    assert_int_equal(blob_open(KEY, c2, blob, len, &pt, &n, NULL), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(pt, "hello", 5);
    free(pt);
    /* two seals of the same plaintext differ (random nonce) */
    uint8_t *blob2 = NULL;
    size_t len2 = 0;
    assert_int_equal(blob_seal(KEY, KID, 7, c, (const uint8_t *)"hello", 5, &blob2, &len2, NULL),
                     0);
    assert_memory_not_equal(blob + 21, blob2 + 21, 12);
    free(blob2);
    free(blob);
    json_decref(c);
    json_decref(c2);
}

static void test_every_byte_is_authenticated(void **state)
{
    (void)state;
    uint8_t *blob = NULL, *pt = NULL;
    size_t len = 0, n = 0;
    assert_int_equal(
        blob_seal(KEY, KID, 1, NULL, (const uint8_t *)"0123456789", 10, &blob, &len, NULL), 0);
    for (size_t i = 1; i < len; i++) {
        blob[i] ^= 0x80;
        struct cl_error err = { 0 };
        assert_int_equal(blob_open(KEY, NULL, blob, len, &pt, &n, &err), CL_ECRYPTO);
        assert_string_equal(err.reason, "authentication failed");
        assert_null(pt);
        blob[i] ^= 0x80;
    }
    blob[0] = 3;
    struct cl_error err = { 0 };
    assert_int_equal(blob_open(KEY, NULL, blob, len, &pt, &n, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "unknown ciphertext blob version 3");
    blob[0] = 1;
    cl_error_clear(&err);
    assert_int_equal(blob_open(KEY, NULL, blob, BLOB_OVERHEAD - 1, &pt, &n, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "ciphertext blob of 48 bytes is shorter than 49");
    uint8_t other[32];
    memcpy(other, KEY, 32);
    other[31] ^= 1;
    assert_int_equal(blob_open(other, NULL, blob, len, &pt, &n, NULL), CL_ECRYPTO);
    assert_int_equal(blob_open(KEY, NULL, blob, len, &pt, &n, NULL), 0);
    free(pt);
    free(blob);
}

static void test_context_binding(void **state)
{
    (void)state;
    json_t *c = ctx("k", "v", NULL, NULL);
    uint8_t *blob = NULL, *pt = NULL;
    size_t len = 0, n = 0;
    assert_int_equal(blob_seal(KEY, KID, 1, c, (const uint8_t *)"x", 1, &blob, &len, NULL), 0);
    json_t *wrong[] = { NULL, ctx("k", "w", NULL, NULL), ctx("K", "v", NULL, NULL),
                        ctx("k", "v", "l", "w"), ctx("kv", "", NULL, NULL) };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        assert_int_equal(blob_open(KEY, wrong[i], blob, len, &pt, &n, NULL), CL_ECRYPTO);
        json_decref(wrong[i]);
    }
    free(blob);
    json_decref(c);
}

static void test_context_serialization_unambiguous(void **state)
{
    (void)state;
    /* {"ab": "c"} and {"a": "bc"} must not serialize alike (moto's and
     * local-kms's key||value concatenation would make them equal) */
    json_t *a = ctx("ab", "c", NULL, NULL), *b = ctx("a", "bc", NULL, NULL);
    uint8_t *sa = NULL, *sb = NULL;
    size_t la = 0, lb = 0;
    assert_int_equal(blob_context_aad(a, &sa, &la, NULL), 0);
    assert_int_equal(blob_context_aad(b, &sb, &lb, NULL), 0);
    assert_int_equal(la, lb);
    assert_memory_not_equal(sa, sb, la);
    static const uint8_t expect[] = { 0, 0, 0, 1, 0, 0, 0, 2, 'a', 'b', 0, 0, 0, 1, 'c' };
    assert_int_equal(la, sizeof(expect));
    assert_memory_equal(sa, expect, sizeof(expect));
    free(sa);
    free(sb);
    json_decref(a);
    json_decref(b);
    uint8_t *e = NULL;
    size_t le = 0;
    assert_int_equal(blob_context_aad(NULL, &e, &le, NULL), 0);
    assert_int_equal(le, 4);
    assert_memory_equal(e, "\0\0\0\0", 4);
    free(e);
}

/* Version 2 names a multi-Region key id; a UUID key id stays version 1. */
static void test_key_id_forms(void **state)
{
    (void)state;
    const char *mrk = "mrk-00112233445566778899aabbccddeeff";
    uint8_t *blob = NULL, *pt = NULL;
    size_t len = 0, n = 0;
    char id[37];
    uint32_t ver = 0;
    assert_int_equal(blob_seal_key(KEY, mrk, 3, NULL, (const uint8_t *)"x", 1, &blob, &len, NULL),
                     0);
    assert_int_equal(blob[0], BLOB_VERSION_MRK);
    assert_int_equal(blob[1], 0x00);
    assert_int_equal(blob[16], 0xff);
    assert_int_equal(blob_peek_key(blob, len, id, &ver, NULL), 0);
    assert_string_equal(id, mrk);
    assert_int_equal(ver, 3);
    assert_int_equal(blob_open(KEY, NULL, blob, len, &pt, &n, NULL), 0);
    assert_memory_equal(pt, "x", 1);
    free(pt);
    free(blob);
    const char *uuid = "deadbeef-0001-4203-8405-060708090a0b";
    assert_int_equal(blob_seal_key(KEY, uuid, 1, NULL, (const uint8_t *)"y", 1, &blob, &len, NULL),
                     0);
    assert_int_equal(blob[0], BLOB_VERSION);
    assert_int_equal(blob_peek_key(blob, len, id, &ver, NULL), 0);
    assert_string_equal(id, uuid);
    free(blob);
    struct cl_error err = { 0 };
    assert_int_equal(
        blob_seal_key(KEY, "mrk-0011", 1, NULL, (const uint8_t *)"y", 1, &blob, &len, &err),
        CL_EFORMAT);
}

static void test_gcm_wrap(void **state)
{
    (void)state;
    uint8_t *w = NULL, *u = NULL;
    size_t wl = 0, ul = 0;
    assert_int_equal(blob_gcm_seal(KEY, (const uint8_t *)"aad", 3, (const uint8_t *)"material", 8,
                                   &w, &wl, NULL),
                     0);
    assert_int_equal(wl, 12 + 8 + 16);
    assert_int_equal(blob_gcm_open(KEY, (const uint8_t *)"aad", 3, w, wl, &u, &ul, NULL), 0);
    assert_memory_equal(u, "material", 8);
    free(u);
    assert_int_equal(blob_gcm_open(KEY, (const uint8_t *)"aae", 3, w, wl, &u, &ul, NULL),
                     CL_ECRYPTO);
    struct cl_error err = { 0 };
    assert_int_equal(blob_gcm_open(KEY, NULL, 0, w, 27, &u, &ul, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "wrapped value too short");
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_round_trip),
        cmocka_unit_test(test_every_byte_is_authenticated),
        cmocka_unit_test(test_context_binding),
        cmocka_unit_test(test_context_serialization_unambiguous),
        cmocka_unit_test(test_key_id_forms),
        cmocka_unit_test(test_gcm_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
