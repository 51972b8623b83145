/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NSM wire protocol: every request and response byte for byte against the
 * encodings of docs/nsm.md "Protocol" (serde_cbor's rules), and
 * every rejection with the error the module answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"
#include "nsm/nsm_proto.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    char clean[2 * 16384 + 1];
    size_t n = 0;
    for (; *h; h++)
        if (*h != ' ')
            clean[n++] = *h;
    clean[n] = '\0';
    size_t len = 0;
    assert_int_equal(hex_decode(out, cap, &len, clean, NULL), 0);
    return len;
}

static void assert_bytes_hex(const uint8_t *got, size_t got_len, const char *expected_hex)
{
    uint8_t exp[16384];
    size_t n = unhex(expected_hex, exp, sizeof(exp));
    if (got_len != n || memcmp(got, exp, n) != 0) {
        char g[2 * 16384 + 1];
        hex_encode(g, got, got_len);
        fail_msg("got %s\nexpected %s", g, expected_hex);
    }
}

static void check_request(const struct nsm_request *req, const char *hex)
{
    uint8_t out[NSM_REQUEST_MAX];
    size_t len = 0;
    assert_int_equal(nsm_request_encode(req, out, sizeof(out), &len), 0);
    assert_bytes_hex(out, len, hex);

    /* and back */
    struct nsm_request back;
    assert_int_equal(nsm_request_decode(out, len, &back), NSM_E_SUCCESS);
    assert_int_equal(back.op, req->op);
    assert_int_equal(back.index, req->index);
    assert_int_equal(back.range, req->range);
}

static void check_response(const struct nsm_response *resp, const char *hex)
{
    uint8_t out[NSM_RESPONSE_MAX];
    size_t len = 0;
    assert_int_equal(nsm_response_encode(resp, out, sizeof(out), &len), 0);
    assert_bytes_hex(out, len, hex);
    struct nsm_response back;
    assert_int_equal(nsm_response_decode(out, len, &back), NSM_E_SUCCESS);
    assert_int_equal(back.op, resp->op);
    assert_int_equal(back.error, resp->error);
}

/* ---- requests: the exact encodings of docs/nsm.md ---- */

static void test_request_vectors(void **state)
{
    (void)state;
    struct nsm_request r = {.op = NSM_OP_DESCRIBE_PCR, .index = 0};
    check_request(&r, "a16b4465736372696265504352a165696e64657800");

    static const uint8_t d[] = {1, 2, 3};
    r = (struct nsm_request){.op = NSM_OP_EXTEND_PCR, .index = 16, .data = {d, 3}};
    check_request(&r, "a169457874656e64504352a265696e64657810646461746143010203");

    r = (struct nsm_request){.op = NSM_OP_LOCK_PCR, .index = 16};
    check_request(&r, "a1674c6f636b504352a165696e64657810");

    r = (struct nsm_request){.op = NSM_OP_LOCK_PCRS, .range = 32};
    check_request(&r, "a1684c6f636b50435273a16572616e67651820");

    r = (struct nsm_request){.op = NSM_OP_DESCRIBE_NSM};
    check_request(&r, "6b44657363726962654e534d");

    r = (struct nsm_request){.op = NSM_OP_GET_RANDOM};
    check_request(&r, "6947657452616e646f6d");

    r = (struct nsm_request){.op = NSM_OP_ATTESTATION};
    check_request(&r, "a16b4174746573746174696f6ea369757365725f64617461f6656e6f6e6365f66a"
                      "7075626c69635f6b6579f6");
}

static void test_request_attestation_fields(void **state)
{
    (void)state;
    static const uint8_t ud[] = {0xaa}, pk[] = {0x30, 0x00};
    static const uint8_t empty[1] = {0};
    struct nsm_request r = {.op = NSM_OP_ATTESTATION,
                            .user_data = {ud, 1},
                            .nonce = {empty, 0},
                            .public_key = {pk, 2}};
    /* user_data h'aa', nonce h'' (present but empty), public_key h'3000' */
    check_request(&r, "a16b4174746573746174696f6ea369757365725f6461746141aa656e6f6e636540"
                      "6a7075626c69635f6b6579423000");
    uint8_t out[256];
    size_t len;
    assert_int_equal(nsm_request_encode(&r, out, sizeof(out), &len), 0);
    struct nsm_request back;
    assert_int_equal(nsm_request_decode(out, len, &back), NSM_E_SUCCESS);
    assert_int_equal(back.user_data.len, 1);
    assert_int_equal(back.user_data.data[0], 0xaa);
    assert_non_null(back.nonce.data); /* empty, not absent */
    assert_int_equal(back.nonce.len, 0);
    assert_int_equal(back.public_key.len, 2);
}

static void test_request_index_widths(void **state)
{
    (void)state;
    /* u16 on the wire: 1-, 2- and 3-byte heads all mean an index, as serde
     * accepts any width; 65535 is the largest. */
    struct nsm_request r;
    uint8_t b[64];
    size_t n = unhex("a16b4465736372696265504352a165696e6465781a00000005", b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.index, 5);
    n = unhex("a16b4465736372696265504352a165696e64657819ffff", b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.index, 65535);
    /* encoding uses the shortest form */
    r = (struct nsm_request){.op = NSM_OP_DESCRIBE_PCR, .index = 300};
    check_request(&r, "a16b4465736372696265504352a165696e64657819012c");
}

static void test_request_any_order_indefinite(void **state)
{
    (void)state;
    struct nsm_request r;
    uint8_t b[128];
    /* ExtendPCR with data before index, in an indefinite inner map */
    size_t n = unhex("a169457874656e64504352bf646461746142aabb65696e64657811ff", b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_EXTEND_PCR);
    assert_int_equal(r.index, 17);
    assert_int_equal(r.data.len, 2);
    /* an indefinite outer map with one entry */
    n = unhex("bf674c6f636b504352a165696e64657810ff", b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_LOCK_PCR);
    /* text where bytes are expected (serde_bytes' visit_str, QEMU) */
    n = unhex("a169457874656e64504352a265696e6465781064646174616161", b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.data.len, 1);
    assert_int_equal(r.data.data[0], 'a');
    /* Attestation: missing Option fields are None, empty map is fine */
    n = unhex("a16b4174746573746174696f6ea0", b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_ATTESTATION);
    assert_null(r.user_data.data);
    assert_null(r.nonce.data);
    assert_null(r.public_key.data);
    /* ExtendPCR with empty data */
    n = unhex("a169457874656e64504352a265696e646578106464617461 40", b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_non_null(r.data.data);
    assert_int_equal(r.data.len, 0);
}

struct bad {
    const char *hex;
    int expect;
    const char *why;
};

static void test_request_rejections(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"", NSM_E_INVALID_OPERATION, "empty"},
        {"ff", NSM_E_INVALID_OPERATION, "a lone break"},
        {"1c", NSM_E_INVALID_OPERATION, "reserved additional information"},
        {"6b4465736372696265", NSM_E_INVALID_OPERATION, "truncated text"},
        {"6b44657363726962654e534d00", NSM_E_INVALID_OPERATION, "trailing byte"},
        {"6b44657363726962654e534e", NSM_E_INVALID_OPERATION, "unknown unit variant"},
        {"6b4465736372696265504352", NSM_E_INVALID_OPERATION, "struct variant as text"},
        {"a16b44657363726962654e534df6", NSM_E_INVALID_OPERATION, "unit variant as map"},
        {"a16c44657363726962655043525aa0", NSM_E_INVALID_OPERATION, "unknown struct variant"},
        {"a2674c6f636b504352a165696e64657810674c6f636b504352a165696e64657810",
         NSM_E_INVALID_OPERATION, "outer map of two entries"},
        {"a0", NSM_E_INVALID_OPERATION, "empty outer map"},
        {"a101a0", NSM_E_INVALID_OPERATION, "integer variant key"},
        {"826b44657363726962654e534da0", NSM_E_INVALID_OPERATION, "legacy array enum form"},
        {"d8186b44657363726962654e534d", NSM_E_INVALID_OPERATION, "tagged"},
        {"00", NSM_E_INVALID_OPERATION, "an integer"},
        {"bf674c6f636b504352a165696e64657810", NSM_E_INVALID_OPERATION,
         "indefinite outer map without break"},
        {"bf674c6f636b504352a165696e64657810674c6f636b504352a165696e64657810ff",
         NSM_E_INVALID_OPERATION, "indefinite outer map of two entries"},
        {"7f6b44657363726962654e534dff", NSM_E_INVALID_OPERATION, "chunked variant name"},
        /* field-level: InvalidArgument */
        {"a16b4465736372696265504352a0", NSM_E_INVALID_ARGUMENT, "missing index"},
        {"a16b4465736372696265504352f6", NSM_E_INVALID_ARGUMENT, "body not a map"},
        {"a16b446573637269626550435280", NSM_E_INVALID_ARGUMENT, "body an array"},
        {"a16b4465736372696265504352a165696e6465781a00010000", NSM_E_INVALID_ARGUMENT,
         "index above u16"},
        {"a16b4465736372696265504352a165696e64657820", NSM_E_INVALID_ARGUMENT,
         "negative index"},
        {"a16b4465736372696265504352a165696e6465784100", NSM_E_INVALID_ARGUMENT,
         "index as bytes"},
        {"a16b4465736372696265504352a265696e6465780065696e64657801",
         NSM_E_INVALID_ARGUMENT, "repeated index"},
        {"a16b4465736372696265504352a265696e646578006578747261730f",
         NSM_E_INVALID_ARGUMENT, "unknown field"},
        {"a16b4465736372696265504352a165696e64657800ff", NSM_E_INVALID_OPERATION,
         "trailing break"},
        {"a16b4465736372696265504352a265696e646578006572616e676501",
         NSM_E_INVALID_ARGUMENT, "field of another variant"},
        {"a16b4465736372696265504352a101f6", NSM_E_INVALID_ARGUMENT, "integer field key"},
        {"a169457874656e64504352a165696e64657810", NSM_E_INVALID_ARGUMENT,
         "ExtendPCR without data"},
        {"a169457874656e64504352a265696e646578106464617461f6", NSM_E_INVALID_ARGUMENT,
         "ExtendPCR data null"},
        {"a169457874656e64504352a265696e64657810646461746101", NSM_E_INVALID_ARGUMENT,
         "ExtendPCR data integer"},
        {"a169457874656e64504352a265696e6465781064646174615f4101ff", NSM_E_INVALID_ARGUMENT,
         "ExtendPCR chunked data"},
        {"a1684c6f636b50435273a0", NSM_E_INVALID_ARGUMENT, "LockPCRs without range"},
        {"a1684c6f636b50435273a165696e64657810", NSM_E_INVALID_ARGUMENT,
         "LockPCRs with index"},
        {"a16b4174746573746174696f6ea169757365725f6461746101", NSM_E_INVALID_ARGUMENT,
         "user_data integer"},
        {"a16b4174746573746174696f6ea2656e6f6e6365f6656e6f6e6365f6", NSM_E_INVALID_ARGUMENT,
         "repeated nonce"},
        {"a16b4174746573746174696f6ea169757365725f64617461f7", NSM_E_INVALID_ARGUMENT,
         "user_data undefined"},
        {"a16b4174746573746174696f6ebf656e6f6e6365f6", NSM_E_INVALID_ARGUMENT,
         "indefinite body without break"},
        {"a16b4174746573746174696f6ea3656e6f6e6365f6", NSM_E_INVALID_ARGUMENT,
         "definite body shorter than declared"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[256];
        size_t n = unhex(cases[i].hex, b, sizeof(b));
        struct nsm_request r;
        int rc = nsm_request_decode(b, n, &r);
        if (rc != cases[i].expect)
            fail_msg("%s: got %d, expected %d", cases[i].why, rc, cases[i].expect);
        assert_int_equal(r.op, NSM_OP_NONE); /* nothing half-decoded */
    }
}

static size_t build_attestation(uint8_t *b, size_t cap, size_t ud, size_t nonce, size_t pk)
{
    static uint8_t fill[NSM_REQUEST_MAX];
    memset(fill, 0x5a, sizeof(fill));
    struct nsm_request r = {.op = NSM_OP_ATTESTATION,
                            .user_data = {fill, ud},
                            .nonce = {fill, nonce},
                            .public_key = {fill, pk}};
    size_t len = 0;
    assert_int_equal(nsm_request_encode(&r, b, cap, &len), 0);
    return len;
}

static void test_request_limits(void **state)
{
    (void)state;
    static uint8_t b[3 * NSM_REQUEST_MAX];
    struct nsm_request r;
    /* 1024 of each fits the request (nsm-check does exactly this) */
    size_t n = build_attestation(b, sizeof(b), 1024, 1024, 1024);
    assert_true(n <= NSM_REQUEST_MAX);
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.user_data.len, 1024);
    /* 1025 of any one is too large */
    n = build_attestation(b, sizeof(b), 1025, 0, 0);
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_INPUT_TOO_LARGE);
    n = build_attestation(b, sizeof(b), 0, 1025, 0);
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_INPUT_TOO_LARGE);
    n = build_attestation(b, sizeof(b), 0, 0, 1025);
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_INPUT_TOO_LARGE);
    /* a request over 0x1000 bytes, whatever it holds */
    n = build_attestation(b, sizeof(b), 0, 0, 0);
    assert_int_equal(nsm_request_decode(b, NSM_REQUEST_MAX + 1, &r), NSM_E_INPUT_TOO_LARGE);
    /* ExtendPCR data as large as the request allows */
    static uint8_t big[NSM_REQUEST_MAX];
    struct nsm_request e = {.op = NSM_OP_EXTEND_PCR, .index = 16, .data = {big, 4000}};
    assert_int_equal(nsm_request_encode(&e, b, sizeof(b), &n), 0);
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.data.len, 4000);
    e.data.len = NSM_REQUEST_MAX;
    assert_int_equal(nsm_request_encode(&e, b, sizeof(b), &n), 0);
    assert_true(n > NSM_REQUEST_MAX);
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_INPUT_TOO_LARGE);
    /* a declared length past the input is truncation, not an allocation */
    n = unhex("a169457874656e64504352a265696e646578106464617461 5bffffffffffffffff",
              b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_INVALID_ARGUMENT);
    /* a map declaring 2^64-1 entries */
    n = unhex("a169457874656e64504352bbffffffffffffffff", b, sizeof(b));
    assert_int_equal(nsm_request_decode(b, n, &r), NSM_E_INVALID_ARGUMENT);
}

static void test_request_encode_limits(void **state)
{
    (void)state;
    uint8_t small[8];
    size_t n = 0;
    struct nsm_request r = {.op = NSM_OP_DESCRIBE_PCR, .index = 1};
    assert_int_equal(nsm_request_encode(&r, small, sizeof(small), &n), CL_ELIMIT);
    r.op = NSM_OP_NONE;
    assert_int_equal(nsm_request_encode(&r, small, sizeof(small), &n), CL_EINVAL);
    r.op = NSM_OP_ERROR;
    assert_int_equal(nsm_request_encode(&r, small, sizeof(small), &n), CL_EINVAL);
}

/* ---- responses ---- */

static void test_response_vectors(void **state)
{
    (void)state;
    struct nsm_response r = {.op = NSM_OP_LOCK_PCR};
    check_response(&r, "674c6f636b504352");
    r = (struct nsm_response){.op = NSM_OP_LOCK_PCRS};
    check_response(&r, "684c6f636b50435273");
    r = (struct nsm_response){.op = NSM_OP_ERROR, .error = NSM_E_INVALID_INDEX};
    check_response(&r, "a1654572726f726c496e76616c6964496e646578");
    r = (struct nsm_response){.op = NSM_OP_ERROR, .error = NSM_E_READ_ONLY_INDEX};
    check_response(&r, "a1654572726f726d526561644f6e6c79496e646578");

    static const uint8_t zero[48];
    r = (struct nsm_response){.op = NSM_OP_DESCRIBE_PCR, .lock = true, .data = {zero, 48}};
    check_response(&r, "a16b4465736372696265504352a2646c6f636bf564646174615830"
                       "000000000000000000000000000000000000000000000000"
                       "000000000000000000000000000000000000000000000000");

    r = (struct nsm_response){.op = NSM_OP_EXTEND_PCR, .data = {zero, 48}};
    check_response(&r, "a169457874656e64504352a164646174615830"
                       "000000000000000000000000000000000000000000000000"
                       "000000000000000000000000000000000000000000000000");

    static const uint8_t doc[] = {0x84, 0x40, 0xa0, 0x40, 0x40};
    r = (struct nsm_response){.op = NSM_OP_ATTESTATION, .document = {doc, sizeof(doc)}};
    check_response(&r, "a16b4174746573746174696f6ea168646f63756d656e74458440a04040");
}

static void test_response_get_random(void **state)
{
    (void)state;
    uint8_t rnd[NSM_RANDOM_LEN];
    memset(rnd, 0x11, sizeof(rnd));
    struct nsm_response r = {.op = NSM_OP_GET_RANDOM, .random = {rnd, sizeof(rnd)}};
    uint8_t out[512];
    size_t n;
    assert_int_equal(nsm_response_encode(&r, out, sizeof(out), &n), 0);
    /* the kernel's hwrng parser hard-codes this prefix (drivers/misc/nsm.c) */
    uint8_t prefix[32];
    size_t pn = unhex("a16947657452616e646f6da16672616e646f6d590100", prefix, sizeof(prefix));
    assert_int_equal(n, pn + 256);
    assert_memory_equal(out, prefix, pn);
    struct nsm_response back;
    assert_int_equal(nsm_response_decode(out, n, &back), NSM_E_SUCCESS);
    assert_int_equal(back.random.len, 256);
}

static void test_response_describe_nsm(void **state)
{
    (void)state;
    struct nsm_response r = {.op = NSM_OP_DESCRIBE_NSM};
    r.describe.version_major = 1;
    r.describe.module_id = "i-0123-enc0f";
    r.describe.module_id_len = 12;
    r.describe.max_pcrs = 32;
    for (int i = 0; i < 16; i++)
        r.describe.locked_pcrs[i] = (uint16_t)i;
    r.describe.locked_pcrs_len = 16;
    r.describe.digest = NSM_DIGEST_SHA384;
    /* keys in nsm-api's declaration order (not QEMU's) */
    check_response(&r,
                   "a16b44657363726962654e534d a7"
                   "6d76657273696f6e5f6d616a6f7201"
                   "6d76657273696f6e5f6d696e6f7200"
                   "6d76657273696f6e5f706174636800"
                   "696d6f64756c655f69646c692d303132332d656e633066"
                   "686d61785f706372731820"
                   "6b6c6f636b65645f70637273 90 000102030405060708090a0b0c0d0e0f"
                   "66646967657374665348413338 34");
    uint8_t out[512];
    size_t n;
    assert_int_equal(nsm_response_encode(&r, out, sizeof(out), &n), 0);
    struct nsm_response back;
    assert_int_equal(nsm_response_decode(out, n, &back), NSM_E_SUCCESS);
    assert_int_equal(back.describe.version_major, 1);
    assert_int_equal(back.describe.max_pcrs, 32);
    assert_int_equal(back.describe.locked_pcrs_len, 16);
    assert_int_equal(back.describe.locked_pcrs[15], 15);
    assert_int_equal(back.describe.digest, NSM_DIGEST_SHA384);
    assert_int_equal(back.describe.module_id_len, 12);
    assert_memory_equal(back.describe.module_id, "i-0123-enc0f", 12);
}

static void test_response_tolerance(void **state)
{
    (void)state;
    uint8_t b[256];
    struct nsm_response r;
    /* fields in another order, an unknown field skipped, QEMU's DescribePCR */
    size_t n = unhex("a16b4465736372696265504352a36464617461 5830"
                     "000000000000000000000000000000000000000000000000"
                     "000000000000000000000000000000000000000000000000"
                     "656578747261a10182039f00ff 646c6f636bf4",
                     b, sizeof(b));
    assert_int_equal(nsm_response_decode(b, n, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_DESCRIBE_PCR);
    assert_false(r.lock);
    assert_int_equal(r.data.len, 48);
}

static void test_response_rejections(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "",
        "674c6f636b504352 00",                      /* trailing */
        "6b44657363726962654e534d",                 /* DescribeNSM as text */
        "a1654572726f726753756363657373",           /* Error(Success) */
        "a1654572726f72674e6f7468696e67",           /* unknown error name */
        "a1654572726f7201",                         /* error as integer */
        "a16b4465736372696265504352a1646c6f636bf5", /* no data */
        "a16b4465736372696265504352a2646c6f636bf5646461746141 00", /* 1-byte PCR */
        "a16b4465736372696265504352a3646c6f636bf5646c6f636bf5646461746140", /* repeated */
        "a169457874656e64504352a1646461746101",     /* data integer */
        "a16947657452616e646f6da0",                 /* random missing */
        "a1674c6f636b504352a0",                     /* LockPCR as map */
        "a16b44657363726962654e534da0",             /* DescribeNSM empty */
        "a16b4465736372696265504352a2646c6f636bf564646174615830", /* truncated */
        /* an unknown field holding an indefinite map of one item (odd) */
        "a16b4465736372696265504352a36464617461 5830"
        "000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000"
        "656578747261 bf00ff 646c6f636bf4",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[256];
        size_t n = unhex(cases[i], b, sizeof(b));
        struct nsm_response r;
        if (nsm_response_decode(b, n, &r) != NSM_E_INTERNAL_ERROR)
            fail_msg("case %zu (%s) accepted", i, cases[i]);
        assert_int_equal(r.op, NSM_OP_NONE);
    }
}

static void test_response_describe_rejections(void **state)
{
    (void)state;
    struct nsm_response r = {.op = NSM_OP_DESCRIBE_NSM};
    r.describe.module_id = "m";
    r.describe.module_id_len = 1;
    r.describe.max_pcrs = 32;
    r.describe.digest = NSM_DIGEST_SHA384;
    r.describe.locked_pcrs[0] = 3;
    r.describe.locked_pcrs[1] = 3;
    r.describe.locked_pcrs_len = 2; /* not a set */
    uint8_t out[512];
    size_t n;
    assert_int_equal(nsm_response_encode(&r, out, sizeof(out), &n), 0);
    struct nsm_response back;
    assert_int_equal(nsm_response_decode(out, n, &back), NSM_E_INTERNAL_ERROR);
    r.describe.locked_pcrs_len = NSM_LOCKED_PCRS_MAX + 1;
    assert_int_equal(nsm_response_encode(&r, out, sizeof(out), &n), CL_EINVAL);
    r.describe.locked_pcrs_len = 0;
    r.describe.digest = (enum nsm_digest)7;
    assert_int_equal(nsm_response_encode(&r, out, sizeof(out), &n), CL_EINVAL);
    r.describe.digest = NSM_DIGEST_SHA512;
    assert_int_equal(nsm_response_encode(&r, out, sizeof(out), &n), 0);
    assert_int_equal(nsm_response_decode(out, n, &back), NSM_E_SUCCESS);
    assert_int_equal(back.describe.digest, NSM_DIGEST_SHA512);
    /* an error code that is not an error cannot be encoded */
    struct nsm_response e = {.op = NSM_OP_ERROR, .error = NSM_E_SUCCESS};
    assert_int_equal(nsm_response_encode(&e, out, sizeof(out), &n), CL_EINVAL);
    /* too small an output */
    struct nsm_response lk = {.op = NSM_OP_LOCK_PCR};
    assert_int_equal(nsm_response_encode(&lk, out, 4, &n), CL_ELIMIT);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(nsm_error_name(NSM_E_INVALID_ARGUMENT), "InvalidArgument");
    assert_string_equal(nsm_error_name(NSM_E_INVALID_RESPONSE), "InvalidResponse");
    assert_string_equal(nsm_error_name(NSM_E_INTERNAL_ERROR), "InternalError");
    assert_null(nsm_error_name(NSM_E_SUCCESS));
    assert_null(nsm_error_name(9));
    assert_null(nsm_error_name(-1));
    assert_string_equal(nsm_op_name(NSM_OP_ATTESTATION), "Attestation");
    assert_null(nsm_op_name(NSM_OP_ERROR));
    /* every error code round-trips through the wire */
    for (int e = NSM_E_INVALID_ARGUMENT; e <= NSM_E_INTERNAL_ERROR; e++) {
        struct nsm_response r = {.op = NSM_OP_ERROR, .error = (enum nsm_error_code)e}, back;
        uint8_t out[64];
        size_t n;
        assert_int_equal(nsm_response_encode(&r, out, sizeof(out), &n), 0);
        assert_int_equal(nsm_response_decode(out, n, &back), NSM_E_SUCCESS);
        assert_int_equal(back.op, NSM_OP_ERROR);
        assert_int_equal(back.error, e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_vectors),
        cmocka_unit_test(test_request_attestation_fields),
        cmocka_unit_test(test_request_index_widths),
        cmocka_unit_test(test_request_any_order_indefinite),
        cmocka_unit_test(test_request_rejections),
        cmocka_unit_test(test_request_limits),
        cmocka_unit_test(test_request_encode_limits),
        cmocka_unit_test(test_response_vectors),
        cmocka_unit_test(test_response_get_random),
        cmocka_unit_test(test_response_describe_nsm),
        cmocka_unit_test(test_response_tolerance),
        cmocka_unit_test(test_response_rejections),
        cmocka_unit_test(test_response_describe_rejections),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
