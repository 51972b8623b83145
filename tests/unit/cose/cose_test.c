/* SPDX-License-Identifier: Apache-2.0 */
/* COSE_Sign1: signing, parsing (every rejection), verification, the
 * Sig_structure of a real Nitro document, high-S and indefinite lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "cose/cose.h"
#include "base/fileio.h"
#include "testlib/testlib.h"

/* ---------------------------------------------------------------- helpers */

/* The parts of a signed message, for re-assembling variants of it. */
struct parts {
    uint8_t prot[16]; size_t prot_len;
    uint8_t payload[256]; size_t payload_len;
    uint8_t sig[160]; size_t sig_len;
};

static void split(const uint8_t *msg, size_t len, struct parts *p)
{
    struct cose_sign1 *m = NULL;
    assert_int_equal(cose_sign1_parse(msg, len, &m, NULL), 0);
    const uint8_t *x;
    x = cose_sign1_protected(m, &p->prot_len);
    memcpy(p->prot, x, p->prot_len);
    x = cose_sign1_payload(m, &p->payload_len);
    memcpy(p->payload, x, p->payload_len);
    x = cose_sign1_signature(m, &p->sig_len);
    memcpy(p->sig, x, p->sig_len);
    cose_sign1_free(m);
}

static EVP_PKEY *ec_key(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    assert_non_null(k);
    return k;
}

static const uint8_t hello[] = "hello, enclave";

/* Parses buf and expects failure with code and reason. */
static void expect_parse_error(const uint8_t *buf, size_t len, int code, const char *reason)
{
    struct cose_sign1 *m = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(cose_sign1_parse(buf, len, &m, &err), code);
    assert_null(m);
    assert_string_equal(err.reason, reason);
}

/* ------------------------------------------------------------------ tests */

static void sign_verify_each_curve(void **state)
{
    (void)state;
    static const struct { const char *curve; int alg; size_t sig; uint8_t prot[4]; size_t prot_len; } c[] = {
        { "P-256", COSE_ALG_ES256, 64, { 0xa1, 0x01, 0x26 }, 3 },
        { "P-384", COSE_ALG_ES384, 96, { 0xa1, 0x01, 0x38, 0x22 }, 4 },
        { "P-521", COSE_ALG_ES512, 132, { 0xa1, 0x01, 0x38, 0x23 }, 4 },
    };
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *k = ec_key(c[i].curve);
        uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(cose_sign1_sign(k, hello, sizeof(hello), &msg, &len, NULL), 0);
        /* untagged array(4), protected bstr, empty map */
        assert_int_equal(msg[0], 0x84);
        assert_int_equal(msg[1], 0x40 + c[i].prot_len);
        assert_memory_equal(msg + 2, c[i].prot, c[i].prot_len);
        assert_int_equal(msg[2 + c[i].prot_len], 0xa0);
        struct cose_sign1 *m = NULL;
        assert_int_equal(cose_sign1_parse(msg, len, &m, NULL), 0);
        assert_int_equal(cose_sign1_alg(m), c[i].alg);
        size_t n = 0;
        assert_memory_equal(cose_sign1_payload(m, &n), hello, sizeof(hello));
        assert_int_equal(n, sizeof(hello));
        cose_sign1_signature(m, &n);
        assert_int_equal(n, c[i].sig);
        assert_int_equal(cose_sign1_verify(m, k, NULL), 0);
        cose_sign1_free(m);
        free(msg);
        EVP_PKEY_free(k);
    }
}

static void empty_payload_round_trips(void **state)
{
    (void)state;
    EVP_PKEY *k = ec_key("P-384");
    uint8_t *msg = NULL;
    size_t len = 0;
    struct cose_sign1 *m = NULL;
    assert_int_equal(cose_sign1_sign(k, NULL, 0, &msg, &len, NULL), 0);
    assert_int_equal(cose_sign1_parse(msg, len, &m, NULL), 0);
    size_t n = 1;
    cose_sign1_payload(m, &n);
    assert_int_equal(n, 0);
    assert_int_equal(cose_sign1_verify(m, k, NULL), 0);
    cose_sign1_free(m);
    free(msg);
    EVP_PKEY_free(k);
}

static void sign_rejects_non_ec_keys(void **state)
{
    (void)state;
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *k256k1 = ec_key("secp256k1");
    uint8_t *msg = NULL;
    size_t len = 0;
    struct cl_error err = { 0 };
    assert_int_equal(cose_sign1_sign(rsa, hello, 3, &msg, &len, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason, "COSE signing key must be an EC key on P-256, P-384 or P-521");
    cl_error_clear(&err);
    assert_int_equal(cose_sign1_sign(k256k1, hello, 3, &msg, &len, &err), CL_EUNSUPPORTED);
    assert_null(msg);
    cl_error_clear(&err);
    assert_int_equal(cose_sign1_sign(NULL, hello, 3, &msg, &len, &err), CL_EINVAL);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(k256k1);
}

static void verify_rejects_wrong_key_and_curve(void **state)
{
    (void)state;
    EVP_PKEY *k = ec_key("P-384"), *other = ec_key("P-384"), *p256 = ec_key("P-256");
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    uint8_t *msg = NULL;
    size_t len = 0;
    struct cose_sign1 *m = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(cose_sign1_sign(k, hello, sizeof(hello), &msg, &len, NULL), 0);
    assert_int_equal(cose_sign1_parse(msg, len, &m, NULL), 0);
    assert_int_equal(cose_sign1_verify(m, other, &err), CL_ESIGNATURE);
    assert_string_equal(err.reason, "COSE signature does not verify");
    cl_error_clear(&err);
    assert_int_equal(cose_sign1_verify(m, p256, &err), CL_EALGORITHM);
    assert_string_equal(err.reason, "COSE algorithm ES384 does not match the P-256 key");
    cl_error_clear(&err);
    assert_int_equal(cose_sign1_verify(m, rsa, &err), CL_EALGORITHM);
    assert_string_equal(err.reason, "COSE verification key is not an EC key on P-256, P-384 or P-521");
    cose_sign1_free(m);
    free(msg);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(rsa);
}

static void payload_change_breaks_signature(void **state)
{
    (void)state;
    EVP_PKEY *k = ec_key("P-384");
    uint8_t *msg = NULL;
    size_t len = 0;
    struct cose_sign1 *m = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(cose_sign1_sign(k, hello, sizeof(hello), &msg, &len, NULL), 0);
    /* the payload starts after 84 44 a1013822 a0 4f */
    msg[8] ^= 1;
    assert_int_equal(cose_sign1_parse(msg, len, &m, NULL), 0);
    assert_int_equal(cose_sign1_verify(m, k, &err), CL_ESIGNATURE);
    cose_sign1_free(m);
    free(msg);
    EVP_PKEY_free(k);
}

/* ECDSA (r, s) and (r, n - s) are both valid; the NSM produces either. */
static void high_s_is_accepted(void **state)
{
    (void)state;
    EVP_PKEY *k = ec_key("P-384");
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(cose_sign1_sign(k, hello, sizeof(hello), &msg, &len, NULL), 0);
    struct parts p;
    split(msg, len, &p);
    BIGNUM *s = BN_bin2bn(p.sig + 48, 48, NULL), *n = BN_new(), *s2 = BN_new();
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
    assert_true(EC_GROUP_get_order(g, n, NULL));
    assert_true(BN_sub(s2, n, s));
    assert_int_not_equal(BN_cmp(s, s2), 0);
    uint8_t twin[96];
    memcpy(twin, p.sig, 48);
    assert_int_equal(BN_bn2binpad(s2, twin + 48, 48), 48);

    struct tl_cbor b = { .n = 0 };
    tl_put1(&b, 0x84);
    tl_put_bytes(&b, p.prot, p.prot_len);
    tl_put1(&b, 0xa0);
    tl_put_bytes(&b, p.payload, p.payload_len);
    tl_put_bytes(&b, twin, 96);
    struct cose_sign1 *m = NULL;
    assert_int_equal(cose_sign1_parse(b.b, b.n, &m, NULL), 0);
    assert_int_equal(cose_sign1_verify(m, k, NULL), 0);
    cose_sign1_free(m);
    BN_free(s);
    BN_free(n);
    BN_free(s2);
    EC_GROUP_free(g);
    free(msg);
    EVP_PKEY_free(k);
}

/* Tag 18, indefinite-length array and chunked byte strings all parse to the
 * same content, so the signature still verifies. */
static void tagged_and_indefinite_forms_verify(void **state)
{
    (void)state;
    EVP_PKEY *k = ec_key("P-384");
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(cose_sign1_sign(k, hello, sizeof(hello), &msg, &len, NULL), 0);
    struct parts p;
    split(msg, len, &p);

    struct tl_cbor forms[4];
    memset(forms, 0, sizeof(forms));
    /* 0: tag 18, one-byte head */
    tl_put1(&forms[0], 0xd2);
    tl_put(&forms[0], msg, len);
    /* 1: tag 18, two-byte head */
    tl_put1(&forms[1], 0xd8);
    tl_put1(&forms[1], 0x12);
    tl_put(&forms[1], msg, len);
    /* 2: indefinite array, indefinite (empty) map */
    tl_put1(&forms[2], 0x9f);
    tl_put_bytes(&forms[2], p.prot, p.prot_len);
    tl_put1(&forms[2], 0xbf);
    tl_put1(&forms[2], 0xff);
    tl_put_bytes(&forms[2], p.payload, p.payload_len);
    tl_put_bytes(&forms[2], p.sig, p.sig_len);
    tl_put1(&forms[2], 0xff);
    /* 3: payload and signature as chunked byte strings */
    tl_put1(&forms[3], 0x84);
    tl_put_bytes(&forms[3], p.prot, p.prot_len);
    tl_put1(&forms[3], 0xa0);
    tl_put1(&forms[3], 0x5f);
    tl_put_bytes(&forms[3], p.payload, 5);
    tl_put_bytes(&forms[3], p.payload + 5, 0);
    tl_put_bytes(&forms[3], p.payload + 5, p.payload_len - 5);
    tl_put1(&forms[3], 0xff);
    tl_put1(&forms[3], 0x5f);
    tl_put_bytes(&forms[3], p.sig, 50);
    tl_put_bytes(&forms[3], p.sig + 50, p.sig_len - 50);
    tl_put1(&forms[3], 0xff);
    for (size_t i = 0; i < 4; i++) {
        struct cose_sign1 *m = NULL;
        struct cl_error err = { 0 };
        if (cose_sign1_parse(forms[i].b, forms[i].n, &m, &err) != 0)
            fail_msg("form %zu: %s", i, err.reason);
        size_t n = 0;
        assert_memory_equal(cose_sign1_payload(m, &n), hello, sizeof(hello));
        assert_int_equal(cose_sign1_verify(m, k, NULL), 0);
        cose_sign1_free(m);
    }
    free(msg);
    EVP_PKEY_free(k);
}

static void parse_rejects_wrong_shapes(void **state)
{
    (void)state;
    static const uint8_t sig[96] = { 1 };
    static const uint8_t prot[] = { 0xa1, 0x01, 0x38, 0x22 };
    struct tl_cbor b;

    expect_parse_error(NULL, 0, CL_EFORMAT, "COSE_Sign1 message is empty");
    /* array of 3 */
    b.n = 0;
    tl_put1(&b, 0x83); tl_put_bytes(&b, prot, 4); tl_put1(&b, 0xa0); tl_put_bytes(&b, sig, 96);
    expect_parse_error(b.b, b.n, CL_EFORMAT, "COSE_Sign1 is not an array of 4 items");
    /* a map */
    expect_parse_error((const uint8_t *)"\xa0", 1, CL_EFORMAT, "COSE_Sign1 is not an array of 4 items");
    /* protected as text */
    b.n = 0;
    tl_put1(&b, 0x84); tl_put1(&b, 0x61); tl_put1(&b, 'x'); tl_put1(&b, 0xa0); tl_put_bytes(&b, sig, 2); tl_put_bytes(&b, sig, 96);
    expect_parse_error(b.b, b.n, CL_EFORMAT, "COSE_Sign1 protected header is not a byte string");
    /* unprotected is an array */
    b.n = 0;
    tl_put1(&b, 0x84); tl_put_bytes(&b, prot, 4); tl_put1(&b, 0x80); tl_put_bytes(&b, sig, 2); tl_put_bytes(&b, sig, 96);
    expect_parse_error(b.b, b.n, CL_EFORMAT, "COSE_Sign1 unprotected header is not a map");
    /* unprotected is not empty: {4: h''} (kid) */
    b.n = 0;
    tl_put1(&b, 0x84); tl_put_bytes(&b, prot, 4); tl_put1(&b, 0xa1); tl_put1(&b, 0x04); tl_put1(&b, 0x40);
    tl_put_bytes(&b, sig, 2); tl_put_bytes(&b, sig, 96);
    expect_parse_error(b.b, b.n, CL_EFORMAT, "COSE_Sign1 unprotected header is not empty");
    /* detached payload (null) */
    b.n = 0;
    tl_put1(&b, 0x84); tl_put_bytes(&b, prot, 4); tl_put1(&b, 0xa0); tl_put1(&b, 0xf6); tl_put_bytes(&b, sig, 96);
    expect_parse_error(b.b, b.n, CL_EFORMAT,
                       "COSE_Sign1 payload is not a byte string (detached payloads are not supported)");
    /* signature as an array */
    b.n = 0;
    tl_put1(&b, 0x84); tl_put_bytes(&b, prot, 4); tl_put1(&b, 0xa0); tl_put_bytes(&b, sig, 2); tl_put1(&b, 0x80);
    expect_parse_error(b.b, b.n, CL_EFORMAT, "COSE_Sign1 signature is not a byte string");
    /* other tags */
    b.n = 0;
    tl_put1(&b, 0xd8); tl_put1(&b, 0x11); tl_put1(&b, 0x84); tl_put_bytes(&b, prot, 4); tl_put1(&b, 0xa0);
    tl_put_bytes(&b, sig, 2); tl_put_bytes(&b, sig, 96);
    expect_parse_error(b.b, b.n, CL_EFORMAT, "COSE_Sign1: unexpected CBOR tag 17");
    b.b[0] = 0xd2;
    b.b[1] = 0xd2;
    expect_parse_error(b.b, b.n, CL_EFORMAT, "COSE_Sign1: malformed CBOR at byte 0");
    b.n = 0;
    tl_put1(&b, 0xd2); tl_put1(&b, 0xd8); tl_put1(&b, 0x12); tl_put1(&b, 0x84); tl_put_bytes(&b, prot, 4);
    tl_put1(&b, 0xa0); tl_put_bytes(&b, sig, 2); tl_put_bytes(&b, sig, 96);
    expect_parse_error(b.b, b.n, CL_EFORMAT, "COSE_Sign1: nested CBOR tags");
    expect_parse_error((const uint8_t *)"\xd2", 1, CL_EFORMAT, "COSE_Sign1: empty CBOR input");
}

static void parse_rejects_bad_protected_headers(void **state)
{
    (void)state;
    static const uint8_t sig[96] = { 1 };
    static const struct { const uint8_t *prot; size_t len; const char *reason; } cases[] = {
        { (const uint8_t *)"", 0, "COSE protected header is empty (no alg)" },
        { (const uint8_t *)"\xa1\x04\x40", 3, "COSE protected header has no alg" },
        { (const uint8_t *)"\xa2\x01\x38\x22\x01\x38\x22", 7, "COSE protected header has a duplicate label" },
        { (const uint8_t *)"\xa2\x01\x38\x22\x02\x81\x01", 7, "COSE protected header has critical parameters (crit)" },
        { (const uint8_t *)"\xa1\x01\x38\x22\x00", 5, "COSE protected header: 1 trailing bytes after the CBOR item" },
        { (const uint8_t *)"\x80", 1, "COSE protected header is not a map" },
        { (const uint8_t *)"\xa1\x40\x01", 3, "COSE protected header has a label of the wrong type" },
        { (const uint8_t *)"\xa1\x01", 2, "COSE protected header: truncated CBOR at byte 2" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tl_cbor b = { .n = 0 };
        tl_put1(&b, 0x84);
        tl_put_bytes(&b, cases[i].prot, cases[i].len);
        tl_put1(&b, 0xa0);
        tl_put_bytes(&b, sig, 2);
        tl_put_bytes(&b, sig, 96);
        expect_parse_error(b.b, b.n, CL_EFORMAT, cases[i].reason);
    }
}

/* alg given as text ("ES384", as some tools write it) parses, but no key
 * verifies it; an unknown integer alg likewise. */
static void unsupported_algorithms_fail_verification(void **state)
{
    (void)state;
    static const uint8_t sig[96] = { 1 };
    EVP_PKEY *k = ec_key("P-384");
    static const struct { const uint8_t *prot; size_t len; int alg; const char *reason; } cases[] = {
        { (const uint8_t *)"\xa1\x01\x65" "ES384", 8, 0, "unsupported COSE algorithm 0" },
        { (const uint8_t *)"\xa1\x01\x20", 3, -1, "unsupported COSE algorithm -1" },
        { (const uint8_t *)"\xa1\x01\x26", 3, -7, "COSE algorithm ES256 does not match the P-384 key" },
    };
    for (size_t i = 0; i < 3; i++) {
        struct tl_cbor b = { .n = 0 };
        tl_put1(&b, 0x84);
        tl_put_bytes(&b, cases[i].prot, cases[i].len);
        tl_put1(&b, 0xa0);
        tl_put_bytes(&b, sig, 2);
        tl_put_bytes(&b, sig, 96);
        struct cose_sign1 *m = NULL;
        struct cl_error err = { 0 };
        assert_int_equal(cose_sign1_parse(b.b, b.n, &m, NULL), 0);
        assert_int_equal(cose_sign1_alg(m), cases[i].alg);
        assert_int_equal(cose_sign1_verify(m, k, &err), CL_EALGORITHM);
        assert_string_equal(err.reason, cases[i].reason);
        cose_sign1_free(m);
    }
    EVP_PKEY_free(k);
}

static void verify_rejects_wrong_signature_length(void **state)
{
    (void)state;
    EVP_PKEY *k = ec_key("P-384");
    static const uint8_t sig[95] = { 1 };
    struct tl_cbor b = { .n = 0 };
    tl_put1(&b, 0x84);
    tl_put_bytes(&b, (const uint8_t *)"\xa1\x01\x38\x22", 4);
    tl_put1(&b, 0xa0);
    tl_put_bytes(&b, hello, 3);
    tl_put_bytes(&b, sig, 95);
    struct cose_sign1 *m = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(cose_sign1_parse(b.b, b.n, &m, NULL), 0);
    assert_int_equal(cose_sign1_verify(m, k, &err), CL_ESIGNATURE);
    assert_string_equal(err.reason, "COSE signature is 95 bytes, ES384 needs 96");
    cose_sign1_free(m);
    EVP_PKEY_free(k);
}

static void parse_rejects_malformed_cbor(void **state)
{
    (void)state;
    /* an array claiming 2^32 - 1 items in 5 bytes */
    expect_parse_error((const uint8_t *)"\x9a\xff\xff\xff\xff", 5, CL_EFORMAT,
                       "COSE_Sign1: malformed CBOR: array size exceeds the input (at byte 0)");
    expect_parse_error((const uint8_t *)"\xbb\x00\x00\x00\x01\x00\x00\x00\x00\x00", 10, CL_EFORMAT,
                       "COSE_Sign1: malformed CBOR: map size exceeds the input (at byte 0)");
    uint8_t deep[40];
    memset(deep, 0x81, sizeof(deep));
    deep[39] = 0x00;
    expect_parse_error(deep, sizeof(deep), CL_EFORMAT,
                       "COSE_Sign1: CBOR nesting too deep (at byte 16)");
    expect_parse_error((const uint8_t *)"\xff", 1, CL_EFORMAT,
                       "COSE_Sign1: malformed CBOR: unexpected break (at byte 0)");
    expect_parse_error((const uint8_t *)"\x84\x40\xa0\x40", 4, CL_EFORMAT,
                       "COSE_Sign1: truncated CBOR at byte 4");
    expect_parse_error((const uint8_t *)"\x9f\x40\xa0\x40\x40", 5, CL_EFORMAT,
                       "COSE_Sign1: truncated CBOR at byte 5");
    expect_parse_error((const uint8_t *)"\x5f\x61\x61\xff", 4, CL_EFORMAT,
                       "COSE_Sign1: malformed CBOR: chunk of the wrong type in an indefinite-length string (at byte 1)");
    expect_parse_error((const uint8_t *)"\xbf\x01\xff", 3, CL_EFORMAT,
                       "COSE_Sign1: malformed CBOR: map with a key and no value (at byte 2)");
    expect_parse_error((const uint8_t *)"\x1c", 1, CL_EFORMAT, "COSE_Sign1: malformed CBOR at byte 0");
    expect_parse_error((const uint8_t *)"\x5a\x00\x01\x00\x00\x00", 6, CL_EFORMAT,
                       "COSE_Sign1: truncated CBOR at byte 0");
    static uint8_t huge[COSE_MAX_MESSAGE + 1];
    expect_parse_error(huge, sizeof(huge), CL_ELIMIT,
                       "COSE_Sign1 message of 1048577 bytes, at most 1048576 allowed");
}

/* The real 2024-11-25 document and the derived vectors. */
static void real_document_sig_structure(void **state)
{
    (void)state;
    size_t len = 0, want_len = 0, got_len = 0;
    uint8_t *doc = tl_read_shared("testdata/attestation/real/2024-11-25_base-nitro-validator_reconstructed.cose", &len);
    uint8_t *want = tl_read_shared("testdata/attestation/real/2024-11-25_base-nitro-validator_sig_structure.cbor", &want_len);
    struct cose_sign1 *m = NULL;
    uint8_t *got = NULL;
    assert_int_equal(cose_sign1_parse(doc, len, &m, NULL), 0);
    assert_int_equal(cose_sign1_alg(m), COSE_ALG_ES384);
    size_t n = 0;
    cose_sign1_signature(m, &n);
    assert_int_equal(n, 96);
    assert_int_equal(cose_sign1_sig_structure(m, &got, &got_len, NULL), 0);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
    cose_sign1_free(m);
    free(doc);
    free(want);
}

static void derived_vectors(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *d = tl_read_shared("testdata/attestation/derived/2024-11-25_trailing-byte.cose", &len);
    expect_parse_error(d, len, CL_EFORMAT, "COSE_Sign1: 1 trailing bytes after the CBOR item");
    free(d);
    d = tl_read_shared("testdata/attestation/derived/2024-11-25_truncated.cose", &len);
    expect_parse_error(d, len, CL_EFORMAT, "COSE_Sign1: truncated CBOR at byte 4428");
    free(d);
    d = tl_read_shared("testdata/attestation/derived/2024-11-25_tagged18.cose", &len);
    struct cose_sign1 *m = NULL;
    assert_int_equal(cose_sign1_parse(d, len, &m, NULL), 0);
    assert_int_equal(cose_sign1_alg(m), COSE_ALG_ES384);
    cose_sign1_free(m);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_verify_each_curve),
        cmocka_unit_test(empty_payload_round_trips),
        cmocka_unit_test(sign_rejects_non_ec_keys),
        cmocka_unit_test(verify_rejects_wrong_key_and_curve),
        cmocka_unit_test(payload_change_breaks_signature),
        cmocka_unit_test(high_s_is_accepted),
        cmocka_unit_test(tagged_and_indefinite_forms_verify),
        cmocka_unit_test(parse_rejects_wrong_shapes),
        cmocka_unit_test(parse_rejects_bad_protected_headers),
        cmocka_unit_test(unsupported_algorithms_fail_verification),
        cmocka_unit_test(verify_rejects_wrong_signature_length),
        cmocka_unit_test(parse_rejects_malformed_cbor),
        cmocka_unit_test(real_document_sig_structure),
        cmocka_unit_test(derived_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
