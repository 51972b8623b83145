/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded CBOR loading (src/lib/cose/cbor_bounded.c): the well-formedness
 * walk that runs before libcbor allocates anything (truncation at every
 * point of a document, trailing bytes, declared sizes beyond the input, the
 * nesting limit, indefinite lengths and their chunks, reserved and
 * unassigned encodings), each rejection with its exact reason, and every
 * accessor on definite and chunked strings and on integers at their limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cbor.h>

#include "base/hex.h"
#include "cose/cbor_bounded.h"
#include "testlib/testlib.h"

/* ---------------------------------------------------------------- helpers */

/* Decodes hex into a static buffer. */
static const uint8_t *unhex(const char *hex, size_t *len)
{
    static uint8_t b[8192];
    assert_int_equal(hex_decode(b, sizeof(b), len, hex, NULL), 0);
    return b;
}

static void expect_ok(const char *hex)
{
    size_t len;
    const uint8_t *b = unhex(hex, &len);
    struct cl_error err = { 0 };
    if (cbor_bounded_check(b, len, &err) != 0)
        fail_msg("%s refused: %s", hex, err.reason);
    cbor_item_t *it = NULL;
    if (cbor_bounded_load(b, len, &it, &err) != 0)
        fail_msg("%s not loaded: %s", hex, err.reason);
    assert_non_null(it);
    cbor_decref(&it);
}

/* Both the walk and the loader refuse buf with code and reason. */
static void expect_error_bytes(const uint8_t *b, size_t len, int code, const char *reason)
{
    struct cl_error err = { 0 };
    int rc = cbor_bounded_check(b, len, &err);
    if (rc != code || strcmp(err.reason, reason) != 0)
        fail_msg("check: got %d '%s', want %d '%s'", rc, err.reason, code, reason);
    cl_error_clear(&err);
    cbor_item_t *it = (cbor_item_t *)&it;
    rc = cbor_bounded_load(b, len, &it, &err);
    if (rc != code || strcmp(err.reason, reason) != 0)
        fail_msg("load: got %d '%s', want %d '%s'", rc, err.reason, code, reason);
    assert_null(it);
}

static void expect_error(const char *hex, const char *reason)
{
    size_t len;
    const uint8_t *b = unhex(hex, &len);
    expect_error_bytes(b, len, CL_EFORMAT, reason);
}

/* A loaded item; the caller cbor_decref()s it. */
static cbor_item_t *load(const char *hex)
{
    size_t len;
    const uint8_t *b = unhex(hex, &len);
    cbor_item_t *it = NULL;
    struct cl_error err = { 0 };
    if (cbor_bounded_load(b, len, &it, &err) != 0)
        fail_msg("%s: %s", hex, err.reason);
    return it;
}

/* ------------------------------------------------------------- the walk */

static void accepts_every_major_type(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "00", "17", "1818", "18ff", "190100", "1a00010000", "1bffffffffffffffff", /* uint */
        "20", "3bffffffffffffffff",                                             /* negint */
        "40", "43616263", "5fff", "5f4161420102ff",                             /* bytes */
        "60", "63616263", "7fff", "7f6161626263ff",                             /* text */
        "80", "83010203", "9fff", "9f0102ff", "8401010101",                     /* arrays */
        "a0", "a10102", "bfff", "bf0102ff", "a201010201",                     /* maps */
        "c001", "d8184101", "dbffffffffffffffff00", "c1c201",                   /* tags */
        "f4", "f5", "f6", "f7", "f93c00", "fa3f800000", "fb3ff0000000000000",   /* simple, floats */
        "6180",                                                                 /* bad UTF-8 is well-formed */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t len;
        const uint8_t *b = unhex(ok[i], &len);
        struct cl_error err = { 0 };
        if (cbor_bounded_check(b, len, &err) != 0)
            fail_msg("%s refused: %s", ok[i], err.reason);
    }
    expect_ok("a3636b6579826176a26162f5616380f6616ef9c40000");
}

static void refuses_empty_input(void **state)
{
    (void)state;
    expect_error_bytes(NULL, 0, CL_EFORMAT, "empty CBOR input");
    expect_error_bytes((const uint8_t *)"\x00", 0, CL_EFORMAT, "empty CBOR input");
    struct cl_error err = { 0 };
    assert_int_equal(cbor_bounded_check(NULL, 5, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "empty CBOR input");
}

/* Every prefix of [h'616263', {"k": 256}] is refused, where it breaks. */
static void refuses_every_truncation(void **state)
{
    (void)state;
    static const uint8_t doc[] = "\x82\x43" "abc" "\xa1\x61k\x19\x01\x00";
    static const char *const why[] = {
        [1] = "malformed CBOR: array size exceeds the input (at byte 0)",
        [2] = "truncated CBOR at byte 1",
        [3] = "truncated CBOR at byte 1",
        [4] = "truncated CBOR at byte 1",
        [5] = "truncated CBOR at byte 5",
        [6] = "malformed CBOR: map size exceeds the input (at byte 5)",
        [7] = "truncated CBOR at byte 6",
        [8] = "truncated CBOR at byte 8",
        [9] = "truncated CBOR at byte 8",
        [10] = "truncated CBOR at byte 8",
    };
    for (size_t k = 1; k < sizeof(doc) - 1; k++)
        expect_error_bytes(doc, k, CL_EFORMAT, why[k]);
    struct cl_error err = { 0 };
    assert_int_equal(cbor_bounded_check(doc, sizeof(doc) - 1, &err), 0);
    /* inside indefinite containers and behind tags */
    expect_error("9f", "truncated CBOR at byte 1");
    expect_error("9f01", "truncated CBOR at byte 2");
    expect_error("bf0102", "truncated CBOR at byte 3");
    expect_error("5f41", "truncated CBOR at byte 1");
    expect_error("c0", "truncated CBOR at byte 1");
    expect_error("c0c0", "truncated CBOR at byte 2");
    expect_error("d8", "truncated CBOR at byte 0");
    expect_error("f900", "truncated CBOR at byte 0");
}

static void refuses_trailing_bytes(void **state)
{
    (void)state;
    expect_error("0000", "1 trailing bytes after the CBOR item");
    expect_error("8101ffffff", "3 trailing bytes after the CBOR item");
    expect_error("9f01ff00", "1 trailing bytes after the CBOR item");
    expect_error("a0a0", "1 trailing bytes after the CBOR item");
}

/* Declared sizes are checked against the bytes left before anything is
 * allocated: an element takes at least one byte, a map entry two. */
static void refuses_sizes_beyond_the_input(void **state)
{
    (void)state;
    expect_error("9affffffff", "malformed CBOR: array size exceeds the input (at byte 0)");
    expect_error("9bffffffffffffffff00",
                 "malformed CBOR: array size exceeds the input (at byte 0)");
    expect_error("bb000000010000000000", "malformed CBOR: map size exceeds the input (at byte 0)");
    expect_error("819affffffff", "malformed CBOR: array size exceeds the input (at byte 1)");
    /* at the limit the size check passes and the walk finds the end */
    expect_error("8601010101", "malformed CBOR: array size exceeds the input (at byte 0)");
    expect_error("8501010101", "truncated CBOR at byte 5");
    expect_error("a301010101", "malformed CBOR: map size exceeds the input (at byte 0)");
    expect_error("a2010101", "truncated CBOR at byte 4");
    /* strings: the content must be there */
    expect_error("446162", "truncated CBOR at byte 0");
    expect_error("5a00010000", "truncated CBOR at byte 0");
    expect_error("7a00010000", "truncated CBOR at byte 0");
    expect_error("825bffffffffffffffff", "truncated CBOR at byte 1");
}

/* n nested containers, each opened with open (a 1-byte header), around 0. */
static uint8_t *nest(size_t n, uint8_t open, bool indefinite, size_t *len)
{
    uint8_t *b = malloc(3 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        b[k++] = open;
        if (open == 0xa1 || open == 0xbf)
            b[k++] = 0x00; /* the key; the value is the next level */
    }
    b[k++] = 0x00;
    for (size_t i = 0; indefinite && i < n; i++)
        b[k++] = 0xff;
    *len = k;
    return b;
}

static void nesting_limit(void **state)
{
    (void)state;
    static const struct { uint8_t open; bool indef; size_t header; } kinds[] = {
        { 0x81, false, 1 }, { 0x9f, true, 1 }, { 0xa1, false, 2 }, { 0xbf, true, 2 },
    };
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        uint8_t *b = nest(CBOR_BOUNDED_MAX_DEPTH, kinds[i].open, kinds[i].indef, &len);
        struct cl_error err = { 0 };
        cbor_item_t *it = NULL;
        if (cbor_bounded_load(b, len, &it, &err) != 0)
            fail_msg("depth 16 of %02x refused: %s", kinds[i].open, err.reason);
        cbor_decref(&it);
        free(b);
        b = nest(CBOR_BOUNDED_MAX_DEPTH + 1, kinds[i].open, kinds[i].indef, &len);
        char want[64];
        snprintf(want, sizeof(want), "CBOR nesting too deep (at byte %zu)",
                 CBOR_BOUNDED_MAX_DEPTH * kinds[i].header);
        expect_error_bytes(b, len, CL_EFORMAT, want);
        free(b);
    }
    /* depth is nesting, not size: a wide item at depth 1 is fine */
    expect_ok("8f000102030405060708090a0b0c0d0e");
}

/*
 * BUG (reported, src/lib/cose/cbor_bounded.c, cbor_bounded_check/cb_tag):
 * tags do not count toward the nesting limit, so 2049 nested tags (2050
 * bytes: c0 x 2049, then 00) pass the walk; libcbor's cbor_load() then
 * runs out of its 2048-entry stack (CBOR_MAX_STACK_SIZE) and
 * cbor_bounded_load() answers CL_ENOMEM "out of memory decoding CBOR": a
 * hostile input reported as out of memory. Expected: refused by the walk as
 * malformed, CL_EFORMAT "CBOR nesting too deep (...)". Fails until fixed.
 */
static void nested_tags_are_refused_as_malformed(void **state)
{
    (void)state;
    size_t n = 2049;
    uint8_t *b = malloc(n + 1);
    memset(b, 0xc0, n);
    b[n] = 0x00;
    cbor_item_t *it = NULL;
    struct cl_error err = { 0 };
    int rc = cbor_bounded_load(b, n + 1, &it, &err);
    if (it)
        cbor_decref(&it);
    free(b);
    if (rc != CL_EFORMAT || strncmp(err.reason, "CBOR nesting too deep", 21) != 0)
        fail_msg("got %d '%s', want %d 'CBOR nesting too deep (...)'", rc, err.reason,
                 CL_EFORMAT);
}

static void indefinite_lengths_and_chunks(void **state)
{
    (void)state;
    expect_ok("5fff");
    expect_ok("5f40ff");
    expect_ok("5f41614162ff");
    expect_ok("7f6161ff");
    expect_ok("9f9fffbfffff");
    expect_error("5f5fffff",
                 "malformed CBOR: nested indefinite-length item in a string (at byte 1)");
    expect_error("7f7fffff",
                 "malformed CBOR: nested indefinite-length item in a string (at byte 1)");
    expect_error("5f6161ff",
                 "malformed CBOR: chunk of the wrong type in an indefinite-length string (at byte 1)");
    expect_error("7f4161ff",
                 "malformed CBOR: chunk of the wrong type in an indefinite-length string (at byte 1)");
    expect_error("5f01ff",
                 "malformed CBOR: non-string chunk in an indefinite-length string (at byte 1)");
    expect_error("7ff6ff",
                 "malformed CBOR: non-string chunk in an indefinite-length string (at byte 1)");
    expect_error("5f80ff", "malformed CBOR: array inside an indefinite-length string (at byte 1)");
    expect_error("5f9fffff",
                 "malformed CBOR: nested indefinite-length item in a string (at byte 1)");
    expect_error("5fa0ff", "malformed CBOR: map inside an indefinite-length string (at byte 1)");
    expect_error("5fc040ff", "malformed CBOR: tag inside an indefinite-length string (at byte 1)");
    expect_error("bf01ff", "malformed CBOR: map with a key and no value (at byte 2)");
    expect_error("bf010203ff", "malformed CBOR: map with a key and no value (at byte 4)");
    expect_error("9fc0ff", "malformed CBOR: tag without content (at byte 2)");
}

static void refuses_breaks_and_reserved_encodings(void **state)
{
    (void)state;
    expect_error("ff", "malformed CBOR: unexpected break (at byte 0)");
    expect_error("81ff", "malformed CBOR: unexpected break (at byte 1)");
    expect_error("a101ff", "malformed CBOR: unexpected break (at byte 2)");
    expect_error("9f01ffff", "1 trailing bytes after the CBOR item");
    /* additional information 28-30 is reserved; 31 is not a length for ints */
    static const char *const bad[] = { "1c", "1d", "1e", "1f", "3c", "3f", "5c", "7d", "9e", "be",
                                       "dc", "df", "fc", "fd", "fe" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], "malformed CBOR at byte 0");
    expect_error("821c00", "malformed CBOR at byte 1");
    /* Stricter than RFC 8949's well-formedness (libcbor 0.8's decoder):
     * unassigned simple values are refused. */
    expect_error("e0", "malformed CBOR at byte 0");
    expect_error("f3", "malformed CBOR at byte 0");
    expect_error("f820", "malformed CBOR at byte 0");
    /* ... and so are the one-byte heads of tags 6 to 20 (libcbor 0.8; cose.c
     * takes COSE_Sign1's 0xd2 off itself); their two-byte forms pass. */
    expect_error("c601", "malformed CBOR at byte 0");
    expect_error("d201", "malformed CBOR at byte 0");
    expect_error("d401", "malformed CBOR at byte 0");
    expect_ok("d501");
    expect_ok("d81201");
}

/* The walk accepts invalid UTF-8 (well-formed, not valid); libcbor's loader
 * refuses it: still CL_EFORMAT. */
static void load_refuses_invalid_utf8(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *b = unhex("826180f6", &len);
    struct cl_error err = { 0 };
    assert_int_equal(cbor_bounded_check(b, len, &err), 0);
    cbor_item_t *it = (cbor_item_t *)&it;
    assert_int_equal(cbor_bounded_load(b, len, &it, &err), CL_EFORMAT);
    assert_null(it);
    assert_string_equal(err.reason, "malformed CBOR at byte 3");
}

/* --------------------------------------------------------- the accessors */

static void bytes_accessor(void **state)
{
    (void)state;
    static const struct { const char *hex; const char *want; size_t len; } c[] = {
        { "43616263", "abc", 3 },
        { "40", "", 0 },
        { "5f41614042bc63ff", "a\xbc" "c", 3 },
        { "5fff", "", 0 },
    };
    for (size_t i = 0; i < 4; i++) {
        cbor_item_t *it = load(c[i].hex);
        uint8_t *out = NULL;
        size_t len = 99;
        assert_int_equal(cbor_bounded_bytes(it, &out, &len, NULL), 0);
        assert_non_null(out); /* also for an empty string */
        assert_int_equal(len, c[i].len);
        assert_memory_equal(out, c[i].want, c[i].len);
        assert_int_equal(cbor_bounded_string_len(it), c[i].len);
        free(out);
        cbor_decref(&it);
    }
    cbor_item_t *t = load("63616263");
    uint8_t *out = (uint8_t *)&out;
    size_t len = 99;
    struct cl_error err = { 0 };
    assert_int_equal(cbor_bounded_bytes(t, &out, &len, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "expected a byte string");
    assert_null(out);
    assert_int_equal(len, 0);
    cbor_decref(&t);
}

static void text_accessors(void **state)
{
    (void)state;
    char out[5];
    struct cl_error err = { 0 };
    cbor_item_t *it = load("7f626162616363646566ff"); /* "ab" "c" "def" */
    assert_int_equal(cbor_bounded_string_len(it), 6);
    assert_true(cbor_bounded_text_eq(it, "abcdef"));
    assert_false(cbor_bounded_text_eq(it, "abcdeg"));
    assert_false(cbor_bounded_text_eq(it, "abcde"));
    assert_false(cbor_bounded_text_eq(it, "abcdefg"));
    assert_int_equal(cbor_bounded_text(it, out, sizeof(out), &err), CL_ELIMIT);
    assert_string_equal(err.reason, "text string of 6 bytes, at most 4 allowed");
    cbor_decref(&it);

    it = load("6461626364"); /* "abcd": exactly fits 5 bytes with its NUL */
    memset(out, 'x', sizeof(out));
    assert_int_equal(cbor_bounded_text(it, out, sizeof(out), NULL), 0);
    assert_string_equal(out, "abcd");
    assert_true(cbor_bounded_text_eq(it, "abcd"));
    cbor_decref(&it);
    it = load("656162636465");
    cl_error_clear(&err);
    assert_int_equal(cbor_bounded_text(it, out, sizeof(out), &err), CL_ELIMIT);
    assert_string_equal(err.reason, "text string of 5 bytes, at most 4 allowed");
    cbor_decref(&it);

    it = load("7f60ff"); /* chunked, empty */
    assert_int_equal(cbor_bounded_text(it, out, sizeof(out), NULL), 0);
    assert_string_equal(out, "");
    assert_true(cbor_bounded_text_eq(it, ""));
    cbor_decref(&it);

    /* bytes are not text, even with the same content */
    it = load("43616263");
    assert_false(cbor_bounded_text_eq(it, "abc"));
    cl_error_clear(&err);
    assert_int_equal(cbor_bounded_text(it, out, sizeof(out), &err), CL_EFORMAT);
    assert_string_equal(err.reason, "expected a text string");
    cbor_decref(&it);
    it = load("01");
    assert_int_equal(cbor_bounded_string_len(it), 0);
    assert_false(cbor_bounded_text_eq(it, ""));
    cbor_decref(&it);
}

static void expect_int(const char *hex, int code, int64_t want, const char *reason)
{
    cbor_item_t *it = load(hex);
    int64_t v = 12345;
    struct cl_error err = { 0 };
    int rc = cbor_bounded_int(it, &v, &err);
    cbor_decref(&it);
    if (rc != code)
        fail_msg("%s: got %d '%s', want %d", hex, rc, err.reason, code);
    if (code == 0)
        assert_true(v == want);
    else
        assert_string_equal(err.reason, reason);
}

static void int_accessor(void **state)
{
    (void)state;
    expect_int("00", 0, 0, NULL);
    expect_int("17", 0, 23, NULL);
    expect_int("18ff", 0, 255, NULL);
    expect_int("190100", 0, 256, NULL);
    expect_int("1a80000000", 0, 0x80000000LL, NULL);
    expect_int("1b7fffffffffffffff", 0, INT64_MAX, NULL);
    expect_int("1b8000000000000000", CL_ELIMIT, 0, "integer out of range");
    expect_int("1bffffffffffffffff", CL_ELIMIT, 0, "integer out of range");
    expect_int("20", 0, -1, NULL);
    expect_int("3822", 0, -35, NULL);
    expect_int("3b7fffffffffffffff", 0, INT64_MIN, NULL);
    expect_int("3b8000000000000000", CL_ELIMIT, 0, "integer out of range");
    expect_int("f93c00", CL_EFORMAT, 0, "expected an integer");
    expect_int("6131", CL_EFORMAT, 0, "expected an integer");
    expect_int("c101", CL_EFORMAT, 0, "expected an integer");
}

static void key_equality(void **state)
{
    (void)state;
    static const struct { const char *a, *b; bool eq; } c[] = {
        { "01", "01", true },
        { "01", "1801", true },          /* the same value in another width */
        { "01", "02", false },
        { "01", "21", false },           /* 1 and -2: the same raw value, not the same key */
        { "20", "3800", true },
        { "616b", "616b", true },
        { "616b", "7f616bff", true },    /* definite and chunked text */
        { "7f6161616bff", "62616b", true },
        { "616b", "416b", false },       /* text and bytes */
        { "416b", "5f416bff", true },
        { "62616b", "616b", false },
        { "62616b", "62616c", false },
        { "60", "7fff", true },
        { "80", "80", false },           /* not a key type */
        { "f6", "f6", false },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        cbor_item_t *a = load(c[i].a), *b = load(c[i].b);
        if (cbor_bounded_key_eq(a, b) != c[i].eq || cbor_bounded_key_eq(b, a) != c[i].eq)
            fail_msg("%s vs %s: want %s", c[i].a, c[i].b, c[i].eq ? "equal" : "different");
        cbor_decref(&a);
        cbor_decref(&b);
    }
}

static void null_check(void **state)
{
    (void)state;
    static const struct { const char *hex; bool null; } c[] = {
        { "f6", true }, { "f7", false }, { "f4", false }, { "00", false }, { "40", false },
        { "c1f6", false },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        cbor_item_t *it = load(c[i].hex);
        assert_int_equal(cbor_bounded_is_null(it), c[i].null);
        cbor_decref(&it);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_every_major_type),
        cmocka_unit_test(refuses_empty_input),
        cmocka_unit_test(refuses_every_truncation),
        cmocka_unit_test(refuses_trailing_bytes),
        cmocka_unit_test(refuses_sizes_beyond_the_input),
        cmocka_unit_test(nesting_limit),
        cmocka_unit_test(nested_tags_are_refused_as_malformed),
        cmocka_unit_test(indefinite_lengths_and_chunks),
        cmocka_unit_test(refuses_breaks_and_reserved_encodings),
        cmocka_unit_test(load_refuses_invalid_utf8),
        cmocka_unit_test(bytes_accessor),
        cmocka_unit_test(text_accessors),
        cmocka_unit_test(int_accessor),
        cmocka_unit_test(key_equality),
        cmocka_unit_test(null_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
