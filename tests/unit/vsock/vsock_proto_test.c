/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wire formats of Cloister's emulated vsock (src/lib/vsock/vsock_proto.c):
 * the exact 24 bytes of each message, round trips at the fields' limits,
 * and every refusal with its reason (length, magic, version, flags,
 * reserved fields, operations, LOCAL_CID's arguments, status range). The
 * decoders get buffers of exactly the length they are told, so a read past
 * it is caught by AddressSanitizer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cloister/vsock.h>

#include "vsock/vsock_proto.h"

static void test_proto_roundtrip(void **state)
{
    (void)state;
    uint8_t m[VSOCK_MSG_LEN];
    const char *why = NULL;
    struct vsock_hello h = { 16, 1234, 3, 5000 }, h2;
    vsock_hello_encode(&h, m);
    assert_memory_equal(m, "CLVS\0\1\0\0\0\0\0\x10\0\0\x04\xd2\0\0\0\3\0\0\x13\x88", 24);
    assert_int_equal(vsock_hello_decode(m, sizeof(m), &h2, &why), 0);
    assert_memory_equal(&h, &h2, sizeof(h));

    struct vsock_request q = { VSOCK_OP_CONNECT, 3, 8000, VSOCK_PORT_ANY }, q2;
    vsock_request_encode(&q, m);
    assert_int_equal(vsock_request_decode(m, sizeof(m), &q2, &why), 0);
    assert_int_equal(q2.op, VSOCK_OP_CONNECT);
    assert_int_equal(q2.port, 8000);
    assert_int_equal(q2.src_port, VSOCK_PORT_ANY);

    struct vsock_response r = { VSOCK_OP_LISTEN, 0, 16, 7000 }, r2;
    vsock_response_encode(&r, m);
    assert_int_equal(vsock_response_decode(m, sizeof(m), &r2, &why), 0);
    assert_int_equal(r2.cid, 16);
    assert_int_equal(r2.port, 7000);
}

/* The call first, then its reason (argument order is unspecified in C). */
#define expect_reject(call, why, expected)                                                   \
    do {                                                                                     \
        why = NULL;                                                                          \
        assert_int_equal((call), -1);                                                        \
        assert_non_null(why);                                                                \
        assert_string_equal(why, (expected));                                                \
    } while (0)

static void test_proto_rejects(void **state)
{
    (void)state;
    uint8_t m[VSOCK_MSG_LEN + 1] = { 0 };
    const char *why = NULL;
    struct vsock_hello h;
    struct vsock_request q;
    struct vsock_response r;
    struct vsock_hello good = { 3, 1, 16, 2 };
    vsock_hello_encode(&good, m);
    expect_reject(vsock_hello_decode(m, 23, &h, &why), why, "message too short");
    expect_reject(vsock_hello_decode(m, 25, &h, &why), why, "message too long");
    expect_reject(vsock_hello_decode(m, 0, &h, &why), why, "message too short");
    m[0] = 'X';
    expect_reject(vsock_hello_decode(m, 24, &h, &why), why, "bad magic");
    m[0] = 'C';
    m[5] = 2;
    expect_reject(vsock_hello_decode(m, 24, &h, &why), why, "unsupported version");
    m[5] = 1;
    m[7] = 1;
    expect_reject(vsock_hello_decode(m, 24, &h, &why), why, "unknown flags");
    /* A hello is not a request and vice versa. */
    vsock_hello_encode(&good, m);
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "bad magic");

    struct vsock_request req = { VSOCK_OP_LISTEN, VSOCK_CID_ANY, 80, 0 };
    vsock_request_encode(&req, m);
    m[23] = 1;
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "nonzero reserved field");
    req.src_port = 5;
    vsock_request_encode(&req, m);
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "nonzero src_port in LISTEN");
    req = (struct vsock_request){ 9, 0, 0, 0 };
    vsock_request_encode(&req, m);
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "unknown operation");
    req = (struct vsock_request){ VSOCK_OP_LOCAL_CID, 3, 0, 0 };
    vsock_request_encode(&req, m);
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "arguments in LOCAL_CID");

    struct vsock_response resp = { VSOCK_OP_CONNECT, 4096, 16, 1 };
    vsock_response_encode(&resp, m);
    expect_reject(vsock_response_decode(m, 24, &r, &why), why, "status out of range");
    resp = (struct vsock_response){ 0, 0, 16, 1 };
    vsock_response_encode(&resp, m);
    expect_reject(vsock_response_decode(m, 24, &r, &why), why, "unknown operation");
}

static void exact_bytes_of_requests_and_responses(void **state)
{
    (void)state;
    uint8_t m[VSOCK_MSG_LEN];
    struct vsock_request q = { VSOCK_OP_LISTEN, VSOCK_CID_ANY, 0x01020304, 0 };
    vsock_request_encode(&q, m);
    assert_memory_equal(m, "CLVQ\0\1\0\2\xff\xff\xff\xff\1\2\3\4\0\0\0\0\0\0\0\0", 24);
    struct vsock_response r = { VSOCK_OP_LOCAL_CID, 4095, 16, 0xfffffffe };
    vsock_response_encode(&r, m);
    assert_memory_equal(m, "CLVR\0\1\0\3\0\0\x0f\xff\0\0\0\x10\xff\xff\xff\xfe\0\0\0\0", 24);
    struct vsock_hello h = { 0xffffffff, 0, 0, 0xffffffff };
    vsock_hello_encode(&h, m);
    assert_memory_equal(m, "CLVS\0\1\0\0\xff\xff\xff\xff\0\0\0\0\0\0\0\0\xff\xff\xff\xff", 24);
}

/* Decodes from a heap block of exactly len bytes. */
static int decode_exact(int kind, const uint8_t *src, size_t len, const char **why)
{
    uint8_t *b = malloc(len ? len : 1);
    memcpy(b, src, len);
    struct vsock_hello h;
    struct vsock_request q;
    struct vsock_response r;
    int rc = kind == 0 ? vsock_hello_decode(b, len, &h, why)
           : kind == 1 ? vsock_request_decode(b, len, &q, why)
                       : vsock_response_decode(b, len, &r, why);
    free(b);
    return rc;
}

/* Every message is refused by the other two decoders, and by its own at
 * any other length. */
static void each_decoder_takes_only_its_message(void **state)
{
    (void)state;
    uint8_t m[3][VSOCK_MSG_LEN + 8] = { { 0 } };
    struct vsock_hello h = { 3, 1, 16, 2 };
    struct vsock_request q = { VSOCK_OP_CONNECT, 3, 80, 1 };
    struct vsock_response r = { VSOCK_OP_CONNECT, 0, 16, 1 };
    vsock_hello_encode(&h, m[0]);
    vsock_request_encode(&q, m[1]);
    vsock_response_encode(&r, m[2]);
    const char *why = NULL;
    for (int msg = 0; msg < 3; msg++) {
        for (int dec = 0; dec < 3; dec++) {
            if (dec == msg) {
                assert_int_equal(decode_exact(dec, m[msg], VSOCK_MSG_LEN, &why), 0);
                continue;
            }
            expect_reject(decode_exact(dec, m[msg], VSOCK_MSG_LEN, &why), why, "bad magic");
        }
        for (size_t len = 0; len < VSOCK_MSG_LEN; len++)
            expect_reject(decode_exact(msg, m[msg], len, &why), why, "message too short");
        for (size_t len = VSOCK_MSG_LEN + 1; len <= VSOCK_MSG_LEN + 8; len++)
            expect_reject(decode_exact(msg, m[msg], len, &why), why, "message too long");
    }
}

static void every_header_byte_is_checked(void **state)
{
    (void)state;
    uint8_t m[VSOCK_MSG_LEN];
    const char *why = NULL;
    struct vsock_hello h = { 3, 1, 16, 2 }, out;
    for (int i = 0; i < 4; i++) {
        vsock_hello_encode(&h, m);
        m[i] ^= 0x20;
        expect_reject(vsock_hello_decode(m, sizeof(m), &out, &why), why, "bad magic");
    }
    static const uint8_t versions[][2] = { { 0, 0 }, { 0, 2 }, { 1, 1 }, { 0xff, 0xff } };
    for (int i = 0; i < 4; i++) {
        vsock_hello_encode(&h, m);
        memcpy(m + 4, versions[i], 2);
        expect_reject(vsock_hello_decode(m, sizeof(m), &out, &why), why, "unsupported version");
    }
    for (int i = 6; i < 8; i++) {
        vsock_hello_encode(&h, m);
        m[i] = 0x80;
        expect_reject(vsock_hello_decode(m, sizeof(m), &out, &why), why, "unknown flags");
    }
    /* the reserved word of requests and responses, byte by byte */
    struct vsock_request q = { VSOCK_OP_CONNECT, 3, 80, 1 }, qo;
    struct vsock_response r = { VSOCK_OP_CONNECT, 0, 16, 1 }, ro;
    for (int i = 20; i < 24; i++) {
        vsock_request_encode(&q, m);
        m[i] = 1;
        expect_reject(vsock_request_decode(m, sizeof(m), &qo, &why), why, "nonzero reserved field");
        vsock_response_encode(&r, m);
        m[i] = 1;
        expect_reject(vsock_response_decode(m, sizeof(m), &ro, &why), why, "nonzero reserved field");
    }
}

static void operations_and_their_arguments(void **state)
{
    (void)state;
    uint8_t m[VSOCK_MSG_LEN];
    const char *why = NULL;
    struct vsock_request q, out;
    /* CONNECT may name any destination and source port: policy is the broker's */
    q = (struct vsock_request){ VSOCK_OP_CONNECT, VSOCK_CID_ANY, VSOCK_PORT_ANY, 7 };
    vsock_request_encode(&q, m);
    assert_int_equal(vsock_request_decode(m, sizeof(m), &out, &why), 0);
    assert_int_equal(out.op, q.op);
    assert_int_equal(out.cid, q.cid);
    assert_int_equal(out.port, q.port);
    assert_int_equal(out.src_port, q.src_port);
    q = (struct vsock_request){ VSOCK_OP_LOCAL_CID, 0, 0, 0 };
    vsock_request_encode(&q, m);
    assert_int_equal(vsock_request_decode(m, sizeof(m), &out, &why), 0);
    assert_int_equal(out.op, VSOCK_OP_LOCAL_CID);
    static const struct vsock_request args[] = {
        { VSOCK_OP_LOCAL_CID, 1, 0, 0 }, { VSOCK_OP_LOCAL_CID, 0, 1, 0 },
        { VSOCK_OP_LOCAL_CID, 0, 0, 1 },
    };
    for (int i = 0; i < 3; i++) {
        vsock_request_encode(&args[i], m);
        expect_reject(vsock_request_decode(m, sizeof(m), &out, &why), why, "arguments in LOCAL_CID");
    }
    static const uint16_t unknown[] = { 0, 4, 0xffff };
    for (int i = 0; i < 3; i++) {
        q = (struct vsock_request){ unknown[i], 0, 0, 0 };
        vsock_request_encode(&q, m);
        expect_reject(vsock_request_decode(m, sizeof(m), &out, &why), why, "unknown operation");
    }
    /* responses: op 1..3, status 0..4095 */
    struct vsock_response r, ro;
    for (uint16_t op = VSOCK_OP_CONNECT; op <= VSOCK_OP_LOCAL_CID; op++) {
        r = (struct vsock_response){ op, 4095, 16, 1 };
        vsock_response_encode(&r, m);
        assert_int_equal(vsock_response_decode(m, sizeof(m), &ro, &why), 0);
        assert_int_equal(ro.op, op);
        assert_int_equal(ro.status, 4095);
        assert_int_equal(ro.cid, 16);
        assert_int_equal(ro.port, 1);
    }
    r = (struct vsock_response){ 4, 0, 16, 1 };
    vsock_response_encode(&r, m);
    expect_reject(vsock_response_decode(m, sizeof(m), &ro, &why), why, "unknown operation");
    r = (struct vsock_response){ VSOCK_OP_CONNECT, 0xffffffff, 16, 1 };
    vsock_response_encode(&r, m);
    expect_reject(vsock_response_decode(m, sizeof(m), &ro, &why), why, "status out of range");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_roundtrip),
        cmocka_unit_test(test_proto_rejects),
        cmocka_unit_test(exact_bytes_of_requests_and_responses),
        cmocka_unit_test(each_decoder_takes_only_its_message),
        cmocka_unit_test(every_header_byte_is_checked),
        cmocka_unit_test(operations_and_their_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
