/* SPDX-License-Identifier: Apache-2.0 */
/* Verifying attestation documents: every real AWS vector, the bad and
 * derived ones, every malformed field, the chain, the policy checks, the
 * chain cache and high-S signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cloister/attestation.h>

#include "attest_ca/attest_ca.h"
#include "cose/cose.h"
#include "base/fileio.h"
#include "base/hex.h"
#include "testlib/testlib.h"

/* ---------------------------------------------------------------- helpers */

static uint8_t *read_shared_att(const char *rel, size_t *len)
{
    char *p = NULL;
    assert_true(asprintf(&p, "testdata/attestation/%s", rel) > 0);
    uint8_t *d = tl_read_shared(p, len);
    free(p);
    return d;
}

static struct attest_verifier *aws_verifier(void)
{
    struct attest_verifier *v = NULL;
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_verifier_add_aws_root(v, NULL), 0);
    return v;
}

static const struct real {
    const char *file, *module_id;
    uint64_t ts;
    bool debug;
} reals[] = {
    { "2021-03-17_anjuna_sample_prod_doc.cose", "i-078824548edcf6519-enc01784234ec227b58", 1616018515685ULL, false },
    { "2022-10-12_evervault_debug.cose", "i-03ad7cdb817437eeb-enc0183cc7569b3f6e1", 1665582606081ULL, true },
    { "2022-10-13_evervault_pcr8.cose", "i-020b6af9246d90e92-enc0183d09086c24190", 1665651482136ULL, false },
    { "2022-11-09_veracruz-go.cose", "i-04fd167167daacf3b-enc01845e97d0b3eb4e", 1668034320696ULL, false },
    { "2024-09-09_eternis_example_debug.cose", "i-0bbf1bfe232b8c2ce-enc0191ba35c9d1b77a", 1725911352400ULL, true },
    { "2024-11-25_base-nitro-validator_reconstructed.cose", "i-0ffabdd86626daf1f-enc019332852aac8430", 1732575521167ULL, false },
};
#define N_REALS (sizeof(reals) / sizeof(reals[0]))

static int verify_at(struct attest_verifier *v, const uint8_t *d, size_t n, int64_t at,
                     struct cl_error *err)
{
    struct attest_verify_opts o = { .at = at };
    return attest_verify(v, d, n, &o, NULL, err);
}

/* A throwaway root -> intermediate -> leaf chain for signing any payload. */
struct chain {
    EVP_PKEY *rkey, *ikey, *lkey;
    X509 *root, *inter, *leaf;
    uint8_t *root_der, *inter_der, *leaf_der;
    size_t root_len, inter_len, leaf_len;
};

static void make_chain(struct chain *c, const char *leaf_curve)
{
    int64_t now = (int64_t)time(NULL);
    memset(c, 0, sizeof(*c));
    assert_int_equal(attest_ca_generate_key(&c->rkey, NULL), 0);
    assert_int_equal(attest_ca_make_root(c->rkey, "test-root", now, 86400, &c->root, NULL), 0);
    assert_int_equal(attest_ca_generate_key(&c->ikey, NULL), 0);
    assert_int_equal(attest_ca_make_intermediate(c->ikey, "test-inter", c->rkey, c->root, now, 86400,
                                                 &c->inter, NULL), 0);
    c->lkey = EVP_EC_gen(leaf_curve);
    assert_non_null(c->lkey);
    assert_int_equal(attest_ca_make_leaf(c->lkey, "test-leaf", c->ikey, c->inter, now, 3 * 3600,
                                         &c->leaf, NULL), 0);
    c->root_len = (size_t)i2d_X509(c->root, &c->root_der);
    c->inter_len = (size_t)i2d_X509(c->inter, &c->inter_der);
    c->leaf_len = (size_t)i2d_X509(c->leaf, &c->leaf_der);
}

static void free_chain(struct chain *c)
{
    EVP_PKEY_free(c->rkey);
    EVP_PKEY_free(c->ikey);
    EVP_PKEY_free(c->lkey);
    X509_free(c->root);
    X509_free(c->inter);
    X509_free(c->leaf);
    OPENSSL_free(c->root_der);
    OPENSSL_free(c->inter_der);
    OPENSSL_free(c->leaf_der);
}

static struct attest_verifier *verifier_for(const struct chain *c)
{
    struct attest_verifier *v = NULL;
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_verifier_add_root_x509(v, c->root, NULL), 0);
    return v;
}

static const uint8_t pcr_value[48] = { 0x11 };

/* Ways to spoil the payload. */
enum mut {
    M_NONE, M_MODULE_ID_INT, M_MODULE_ID_EMPTY, M_DIGEST_SHA256, M_DIGEST_BYTES, M_TS_ZERO,
    M_TS_NEG, M_PCRS_EMPTY, M_PCR_INDEX_32, M_PCR_LEN_47, M_PCR_TEXT_KEY, M_PCR_DUP, M_PCRS_ARRAY,
    M_CERT_TEXT, M_CERT_TOO_BIG, M_CABUNDLE_EMPTY, M_CABUNDLE_ENTRY_TEXT, M_PUBKEY_TEXT,
    M_USERDATA_1025, M_NONCE_INT, M_DUP_NONCE, M_DUP_UNKNOWN, M_UNKNOWN_KEY, M_INT_KEY,
    M_MISSING_CERT, M_NOT_MAP, M_OPTIONALS_ABSENT, M_INDEFINITE, M_CERT_GARBAGE, M_TRAILING,
    M_PCR_32_BYTES, M_COUNT
};

static void build_payload(struct tl_cbor *b, const struct chain *c, enum mut m, uint64_t ts)
{
    static uint8_t big[1025];
    b->n = 0;
    if (m == M_NOT_MAP) {
        tl_put1(b, 0x80);
        return;
    }
    size_t entries = 9;
    if (m == M_DUP_NONCE || m == M_UNKNOWN_KEY || m == M_INT_KEY)
        entries = 10;
    if (m == M_DUP_UNKNOWN)
        entries = 11;
    if (m == M_MISSING_CERT)
        entries = 8;
    if (m == M_OPTIONALS_ABSENT)
        entries = 6;
    if (m == M_INDEFINITE)
        tl_put1(b, 0xbf);
    else
        tl_put_map(b, entries);

    tl_put_text(b, "module_id");
    if (m == M_MODULE_ID_INT)
        tl_put_uint(b, 5);
    else if (m == M_MODULE_ID_EMPTY)
        tl_put_text(b, "");
    else if (m == M_INDEFINITE) {
        tl_put1(b, 0x7f), tl_put_text(b, "i-0123"), tl_put_text(b, "-enc0"), tl_put1(b, 0xff);
    } else
        tl_put_text(b, "i-0123-enc0");
    tl_put_text(b, "digest");
    if (m == M_DIGEST_SHA256)
        tl_put_text(b, "SHA256");
    else if (m == M_DIGEST_BYTES)
        tl_put_bytes(b, (const uint8_t *)"SHA384", 6);
    else
        tl_put_text(b, "SHA384");
    tl_put_text(b, "timestamp");
    if (m == M_TS_ZERO)
        tl_put_uint(b, 0);
    else if (m == M_TS_NEG)
        tl_put1(b, 0x20);
    else
        tl_put_uint(b, ts);
    tl_put_text(b, "pcrs");
    if (m == M_PCRS_EMPTY) {
        tl_put1(b, 0xa0);
    } else if (m == M_PCRS_ARRAY) {
        tl_put1(b, 0x81), tl_put_bytes(b, pcr_value, 48);
    } else {
        tl_put1(b, 0xa2);
        tl_put_uint(b, 0);
        tl_put_bytes(b, pcr_value, m == M_PCR_LEN_47 ? 47 : m == M_PCR_32_BYTES ? 32 : 48);
        if (m == M_PCR_INDEX_32)
            tl_put_uint(b, 32);
        else if (m == M_PCR_TEXT_KEY)
            tl_put_text(b, "1");
        else if (m == M_PCR_DUP)
            tl_put_uint(b, 0);
        else
            tl_put_uint(b, 1);
        tl_put_bytes(b, pcr_value, 48);
    }
    if (m != M_MISSING_CERT) {
        tl_put_text(b, "certificate");
        if (m == M_CERT_TEXT)
            tl_put_text(b, "cert");
        else if (m == M_CERT_TOO_BIG)
            tl_put_bytes(b, big, 1025);
        else if (m == M_CERT_GARBAGE)
            tl_put_bytes(b, (const uint8_t *)"abc", 3);
        else
            tl_put_bytes(b, c->leaf_der, c->leaf_len);
    }
    tl_put_text(b, "cabundle");
    if (m == M_CABUNDLE_EMPTY) {
        tl_put1(b, 0x80);
    } else if (m == M_CABUNDLE_ENTRY_TEXT) {
        tl_put1(b, 0x81), tl_put_text(b, "root");
    } else {
        tl_put1(b, 0x82);
        tl_put_bytes(b, c->root_der, c->root_len);
        tl_put_bytes(b, c->inter_der, c->inter_len);
    }
    if (m != M_OPTIONALS_ABSENT) {
        tl_put_text(b, "public_key");
        if (m == M_PUBKEY_TEXT)
            tl_put_text(b, "key");
        else
            tl_put1(b, 0xf6);
        tl_put_text(b, "user_data");
        if (m == M_USERDATA_1025)
            tl_put_bytes(b, big, 1025);
        else
            tl_put_bytes(b, (const uint8_t *)"ud", 2);
        tl_put_text(b, "nonce");
        if (m == M_NONCE_INT)
            tl_put_uint(b, 1);
        else
            tl_put_bytes(b, (const uint8_t *)"nonce", 5);
    }
    if (m == M_DUP_NONCE)
        tl_put_text(b, "nonce"), tl_put1(b, 0xf6);
    if (m == M_UNKNOWN_KEY || m == M_DUP_UNKNOWN)
        tl_put_text(b, "extra"), tl_put_uint(b, 1);
    if (m == M_DUP_UNKNOWN)
        tl_put_text(b, "extra"), tl_put_uint(b, 2);
    if (m == M_INT_KEY)
        tl_put_uint(b, 1), tl_put_uint(b, 1);
    if (m == M_INDEFINITE)
        tl_put1(b, 0xff);
    if (m == M_TRAILING)
        tl_put1(b, 0x00);
}

static uint8_t *sign_payload(const struct chain *c, const struct tl_cbor *p, size_t *len)
{
    uint8_t *doc = NULL;
    assert_int_equal(cose_sign1_sign(c->lkey, p->b, p->n, &doc, len, NULL), 0);
    return doc;
}

/* ------------------------------------------------------------------ tests */

static void aws_root_fingerprint(void **state)
{
    (void)state;
    const char *pem = attest_aws_root_g1_pem();
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    uint8_t md[32];
    unsigned n = 0;
    assert_true(X509_digest(x, EVP_sha256(), md, &n));
    char hex[65];
    hex_encode(hex, md, 32);
    assert_string_equal(hex, ATTEST_AWS_ROOT_G1_SHA256);
    assert_string_equal(hex, "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
    /* and it is the DER in the test data */
    size_t len = 0;
    uint8_t *der = tl_read_shared("testdata/attestation/aws_nitro_root_g1.der", &len);
    uint8_t *mine = NULL;
    int mlen = i2d_X509(x, &mine);
    assert_int_equal((size_t)mlen, len);
    assert_memory_equal(mine, der, len);
    OPENSSL_free(mine);
    free(der);
    X509_free(x);
    BIO_free(b);
}

static void no_trust_anchor_fails_closed(void **state)
{
    (void)state;
    struct attest_verifier *v = NULL;
    size_t len = 0;
    uint8_t *d = tl_read_shared("testdata/attestation/real/2022-11-09_veracruz-go.cose", &len);
    struct cl_error err = { 0 };
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_verifier_root_count(v), 0);
    assert_int_equal(verify_at(v, d, len, 1668034320, &err), CL_EINVAL);
    assert_string_equal(err.reason, "no trusted root: add one before verifying");
    attest_verifier_free(v);
    free(d);
}

static void real_documents_verify_at_their_time_only(void **state)
{
    (void)state;
    struct attest_verifier *v = aws_verifier();
    for (size_t i = 0; i < N_REALS; i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "real/%s", reals[i].file);
        size_t len = 0;
        uint8_t *d = read_shared_att(rel, &len);
        int64_t at = (int64_t)(reals[i].ts / 1000);
        struct attest_verify_opts o = { .at = at };
        struct attest_doc *doc = NULL;
        struct cl_error err = { 0 };
        if (attest_verify(v, d, len, &o, &doc, &err) < 0)
            fail_msg("%s: %s", reals[i].file, err.reason);
        assert_string_equal(attest_doc_module_id(doc), reals[i].module_id);
        assert_int_equal(attest_doc_timestamp_ms(doc), reals[i].ts);
        assert_int_equal(attest_doc_is_debug(doc), reals[i].debug);
        assert_true((attest_doc_pcr_mask(doc) & 0xffff) == 0xffff);
        size_t n = 0;
        const uint8_t *root = attest_doc_cabundle_cert(doc, 0, &n);
        assert_int_equal(n, 533); /* cabundle[0] is the AWS root */
        assert_non_null(root);
        attest_doc_free(doc);

        /* four hours later the 3-hour leaf has expired */
        char want[160];
        snprintf(want, sizeof(want),
                 "certificate chain is not valid at %lld: certificate has expired (depth 0)",
                 (long long)(at + 4 * 3600));
        assert_int_equal(verify_at(v, d, len, at + 4 * 3600, &err), CL_EEXPIRED);
        assert_string_equal(err.reason, want);
        cl_error_clear(&err);
        /* and a day before, the leaf did not exist yet */
        assert_int_equal(verify_at(v, d, len, at - 86400, &err), CL_EEXPIRED);
        cl_error_clear(&err);
        free(d);
    }
    attest_verifier_free(v);
}

static void bad_and_derived_vectors(void **state)
{
    (void)state;
    static const struct { const char *file; int64_t at; int code; const char *reason; } cases[] = {
        { "bad/2022-11-09_veracruz-go_bad_sig.cose", 1668034320, CL_ESIGNATURE, "COSE signature does not verify" },
        { "bad/2024-07-23_eternis_invalid_signature.cose", 1721770180, CL_ESIGNATURE, "COSE signature does not verify" },
        { "derived/2024-11-25_sig-bitflip.cose", 1732575521, CL_ESIGNATURE, "COSE signature does not verify" },
        { "derived/2024-11-25_truncated.cose", 1732575521, CL_EFORMAT, "COSE_Sign1: truncated CBOR at byte 4428" },
        { "derived/2024-11-25_trailing-byte.cose", 1732575521, CL_EFORMAT, "COSE_Sign1: 1 trailing bytes after the CBOR item" },
        { "derived/2024-11-25_tagged18.cose", 1732575521, 0, "" },
    };
    struct attest_verifier *v = aws_verifier();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        uint8_t *d = read_shared_att(cases[i].file, &len);
        struct cl_error err = { 0 };
        int rc = verify_at(v, d, len, cases[i].at, &err);
        if (rc != cases[i].code)
            fail_msg("%s: got %d (%s)", cases[i].file, rc, err.reason);
        assert_string_equal(err.reason, cases[i].reason);
        free(d);
    }
    attest_verifier_free(v);
}

static void wrong_root_is_a_chain_error(void **state)
{
    (void)state;
    struct chain c;
    make_chain(&c, "P-384");
    struct attest_verifier *v = verifier_for(&c);
    size_t len = 0;
    uint8_t *d = tl_read_shared("testdata/attestation/real/2022-11-09_veracruz-go.cose", &len);
    struct cl_error err = { 0 };
    assert_int_equal(verify_at(v, d, len, 1668034320, &err), CL_ECHAIN);
    assert_string_equal(err.reason, "certificate chain does not lead to a trusted root: "
                                    "self-signed certificate in certificate chain (depth 4)");
    free(d);
    attest_verifier_free(v);
    free_chain(&c);
}

/* Every real signature and its malleable twin (r, n - s) verify: about half
 * of the real ones are high-S already. */
static void high_s_twins_verify(void **state)
{
    (void)state;
    struct attest_verifier *v = aws_verifier();
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
    BIGNUM *n = BN_new(), *half = BN_new();
    assert_true(EC_GROUP_get_order(g, n, NULL));
    assert_true(BN_rshift1(half, n));
    int high = 0;
    for (size_t i = 0; i < N_REALS; i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "real/%s", reals[i].file);
        size_t len = 0;
        uint8_t *d = read_shared_att(rel, &len);
        /* the signature is the last 96 bytes */
        BIGNUM *s = BN_bin2bn(d + len - 48, 48, NULL), *s2 = BN_new();
        if (BN_cmp(s, half) > 0)
            high++;
        assert_true(BN_sub(s2, n, s));
        assert_int_equal(BN_bn2binpad(s2, d + len - 48, 48), 48);
        struct cl_error err = { 0 };
        if (verify_at(v, d, len, (int64_t)(reals[i].ts / 1000), &err) != 0)
            fail_msg("%s twin: %s", reals[i].file, err.reason);
        BN_free(s);
        BN_free(s2);
        free(d);
    }
    assert_true(high > 0 && high < (int)N_REALS);
    BN_free(n);
    BN_free(half);
    EC_GROUP_free(g);
    attest_verifier_free(v);
}

static void malformed_fields(void **state)
{
    (void)state;
    static const struct { enum mut m; int code; const char *reason; } cases[] = {
        { M_NONE, 0, "" },
        { M_UNKNOWN_KEY, 0, "" },
        { M_OPTIONALS_ABSENT, 0, "" },
        { M_INDEFINITE, 0, "" },
        { M_PCR_32_BYTES, 0, "" },
        { M_MODULE_ID_INT, CL_EFORMAT, "module_id is not a text string" },
        { M_MODULE_ID_EMPTY, CL_EFORMAT, "module_id is 0 bytes, expected 1..256" },
        { M_DIGEST_SHA256, CL_EALGORITHM, "digest is 'SHA256', expected 'SHA384'" },
        { M_DIGEST_BYTES, CL_EFORMAT, "digest is not a text string" },
        { M_TS_ZERO, CL_EFORMAT, "timestamp is zero" },
        { M_TS_NEG, CL_EFORMAT, "timestamp is not an unsigned integer" },
        { M_PCRS_EMPTY, CL_EFORMAT, "pcrs has 0 entries, expected 1..32" },
        { M_PCR_INDEX_32, CL_EFORMAT, "pcrs has index 32, expected 0..31" },
        { M_PCR_LEN_47, CL_EFORMAT, "PCR0 is 47 bytes, expected 32, 48 or 64" },
        { M_PCR_TEXT_KEY, CL_EFORMAT, "pcrs has a key that is not an unsigned integer" },
        { M_PCR_DUP, CL_EFORMAT, "pcrs has index 0 twice" },
        { M_PCRS_ARRAY, CL_EFORMAT, "pcrs is not a map" },
        { M_CERT_TEXT, CL_EFORMAT, "certificate is not a byte string" },
        { M_CERT_TOO_BIG, CL_EFORMAT, "certificate is 1025 bytes, expected 1..1024" },
        { M_CABUNDLE_EMPTY, CL_EFORMAT, "cabundle has 0 certificates, expected 1..16" },
        { M_CABUNDLE_ENTRY_TEXT, CL_EFORMAT, "cabundle[0] is not a byte string" },
        { M_PUBKEY_TEXT, CL_EFORMAT, "public_key is not a byte string" },
        { M_USERDATA_1025, CL_EFORMAT, "user_data is 1025 bytes, expected 0..1024" },
        { M_NONCE_INT, CL_EFORMAT, "nonce is not a byte string" },
        { M_DUP_NONCE, CL_EFORMAT, "attestation payload has the key 'nonce' twice" },
        { M_DUP_UNKNOWN, CL_EFORMAT, "attestation payload has the key 'extra' twice" },
        { M_INT_KEY, CL_EFORMAT, "attestation payload has a key that is not text" },
        { M_MISSING_CERT, CL_EFORMAT, "attestation document has no certificate" },
        { M_NOT_MAP, CL_EFORMAT, "attestation payload is not a map" },
        { M_CERT_GARBAGE, CL_EFORMAT, "certificate is not a DER X.509 certificate" },
        { M_TRAILING, CL_EFORMAT, "attestation payload: 1 trailing bytes after the CBOR item" },
    };
    struct chain c;
    make_chain(&c, "P-384");
    struct attest_verifier *v = verifier_for(&c);
    uint64_t ts = (uint64_t)time(NULL) * 1000;
    static struct tl_cbor p;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        build_payload(&p, &c, cases[i].m, ts);
        size_t len = 0;
        uint8_t *doc = sign_payload(&c, &p, &len);
        struct cl_error err = { 0 };
        struct attest_doc *d = NULL;
        int rc = attest_verify(v, doc, len, NULL, &d, &err);
        if (rc != cases[i].code)
            fail_msg("mutation %d: got %d (%s)", cases[i].m, rc, err.reason);
        assert_string_equal(err.reason, cases[i].reason);
        if (rc == 0) {
            size_t n = 0;
            assert_string_equal(attest_doc_module_id(d), "i-0123-enc0");
            assert_int_equal(attest_doc_pcr_mask(d), 0x3);
            attest_doc_pcr(d, 0, &n);
            assert_int_equal(n, cases[i].m == M_PCR_32_BYTES ? 32 : 48);
            if (cases[i].m == M_OPTIONALS_ABSENT)
                assert_null(attest_doc_nonce(d, &n));
            else
                assert_memory_equal(attest_doc_nonce(d, &n), "nonce", 5);
        } else {
            assert_null(d);
        }
        attest_doc_free(d);
        free(doc);
    }
    attest_verifier_free(v);
    free_chain(&c);
}

static void algorithm_checks(void **state)
{
    (void)state;
    static struct tl_cbor p;
    struct cl_error err = { 0 };
    /* an ES256 document from a P-256 leaf */
    struct chain c;
    make_chain(&c, "P-256");
    struct attest_verifier *v = verifier_for(&c);
    build_payload(&p, &c, M_NONE, (uint64_t)time(NULL) * 1000);
    size_t len = 0;
    uint8_t *doc = sign_payload(&c, &p, &len);
    assert_int_equal(attest_verify(v, doc, len, NULL, NULL, &err), CL_EALGORITHM);
    assert_string_equal(err.reason, "COSE algorithm -7, attestation documents use ES384 (-35)");
    cl_error_clear(&err);
    /* the same P-256 leaf under a protected header claiming ES384 */
    struct tl_cbor b = { .n = 0 };
    tl_put1(&b, 0x84);
    tl_put_bytes(&b, (const uint8_t *)"\xa1\x01\x38\x22", 4);
    tl_put1(&b, 0xa0);
    tl_put_bytes(&b, p.b, p.n);
    static const uint8_t sig[96] = { 1 };
    tl_put_bytes(&b, sig, 96);
    assert_int_equal(attest_verify(v, b.b, b.n, NULL, NULL, &err), CL_EALGORITHM);
    assert_string_equal(err.reason, "the leaf certificate's key is not ECDSA P-384");
    cl_error_clear(&err);
    free(doc);
    attest_verifier_free(v);
    free_chain(&c);
}

static void policy_checks(void **state)
{
    (void)state;
    struct chain c;
    make_chain(&c, "P-384");
    struct attest_verifier *v = verifier_for(&c);
    int64_t now = (int64_t)time(NULL);
    static struct tl_cbor p;
    build_payload(&p, &c, M_NONE, (uint64_t)now * 1000);
    size_t len = 0;
    uint8_t *doc = sign_payload(&c, &p, &len);
    uint8_t other[48];
    memset(other, 0x22, 48);
    struct attest_expected_pcr good = { 1, pcr_value, 48 }, bad = { 0, other, 48 },
                               missing = { 8, pcr_value, 48 }, shortv = { 0, pcr_value, 32 };
    struct {
        struct attest_verify_opts o;
        int code;
        const char *reason;
    } cases[] = {
        { { .pcrs = &good, .pcr_count = 1 }, 0, "" },
        { { .pcrs = &bad, .pcr_count = 1 }, CL_EPCR, "PCR0 does not match the expected value" },
        { { .pcrs = &shortv, .pcr_count = 1 }, CL_EPCR, "PCR0 does not match the expected value" },
        { { .pcrs = &missing, .pcr_count = 1 }, CL_EPCR, "PCR8 is not in the document" },
        { { .nonce = (const uint8_t *)"nonce", .nonce_len = 5 }, 0, "" },
        { { .nonce = (const uint8_t *)"nonc3", .nonce_len = 5 }, CL_ENONCE, "nonce does not match the expected value" },
        { { .nonce = (const uint8_t *)"nonce", .nonce_len = 4 }, CL_ENONCE, "nonce does not match the expected value" },
        { { .user_data = (const uint8_t *)"ud", .user_data_len = 2 }, 0, "" },
        { { .user_data = (const uint8_t *)"UD", .user_data_len = 2 }, CL_EUSERDATA, "user_data does not match the expected value" },
        { { .max_age = 60, .at = now + 30 }, 0, "" },
        { { .max_age = 60, .at = now + 3600 }, CL_ESTALE, "document is 3600 s old, at most 60 s allowed" },
        { { .at = now + 3600 }, 0, "" }, /* without max_age the timestamp is not judged */
        { { .require_production = true }, 0, "" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cl_error err = { 0 };
        int rc = attest_verify(v, doc, len, &cases[i].o, NULL, &err);
        if (rc != cases[i].code)
            fail_msg("case %zu: got %d (%s)", i, rc, err.reason);
        if (cases[i].reason)
            assert_string_equal(err.reason, cases[i].reason);
    }
    /* a timestamp ahead of the clock by more than 5 minutes */
    build_payload(&p, &c, M_NONE, (uint64_t)(now + 600) * 1000);
    free(doc);
    doc = sign_payload(&c, &p, &len);
    struct attest_verify_opts fut = { .at = now, .max_age = 60 };
    struct cl_error ferr = { 0 };
    char want[96];
    snprintf(want, sizeof(want), "document timestamp %llu is in the future",
             (unsigned long long)(now + 600) * 1000);
    assert_int_equal(attest_verify(v, doc, len, &fut, NULL, &ferr), CL_ESTALE);
    assert_string_equal(ferr.reason, want);
    fut.max_age = 0;
    assert_int_equal(attest_verify(v, doc, len, &fut, NULL, NULL), 0);

    /* a document without nonce and user_data */
    build_payload(&p, &c, M_OPTIONALS_ABSENT, (uint64_t)now * 1000);
    free(doc);
    doc = sign_payload(&c, &p, &len);
    struct attest_verify_opts o = { .nonce = (const uint8_t *)"n", .nonce_len = 1 };
    struct cl_error err = { 0 };
    assert_int_equal(attest_verify(v, doc, len, &o, NULL, &err), CL_ENONCE);
    assert_string_equal(err.reason, "document has no nonce");
    cl_error_clear(&err);
    o = (struct attest_verify_opts){ .user_data = (const uint8_t *)"", .user_data_len = 0 };
    assert_int_equal(attest_verify(v, doc, len, &o, NULL, &err), CL_EUSERDATA);
    assert_string_equal(err.reason, "document has no user_data");
    free(doc);
    attest_verifier_free(v);
    free_chain(&c);
}

static void debug_documents_and_require_production(void **state)
{
    (void)state;
    struct attest_verifier *v = aws_verifier();
    for (size_t i = 0; i < N_REALS; i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "real/%s", reals[i].file);
        size_t len = 0;
        uint8_t *d = read_shared_att(rel, &len);
        struct attest_verify_opts o = { .at = (int64_t)(reals[i].ts / 1000), .require_production = true };
        struct cl_error err = { 0 };
        int rc = attest_verify(v, d, len, &o, NULL, &err);
        if (reals[i].debug) {
            assert_int_equal(rc, CL_EDEBUG);
            assert_string_equal(err.reason, "debug-mode document (PCR0 is zero), production required");
        } else {
            assert_int_equal(rc, 0);
        }
        free(d);
    }
    /* the signed-EIF document carries PCR8 */
    size_t len = 0;
    uint8_t *d = tl_read_shared("testdata/attestation/real/2022-10-13_evervault_pcr8.cose", &len);
    struct attest_doc *doc = NULL;
    assert_int_equal(attest_doc_parse_unverified(d, len, &doc, NULL), 0);
    assert_false(attest_doc_verified(doc));
    size_t n = 0;
    const uint8_t *pcr8 = attest_doc_pcr(doc, 8, &n);
    assert_int_equal(n, 48);
    uint8_t copy[48];
    memcpy(copy, pcr8, 48);
    attest_doc_free(doc);
    struct attest_expected_pcr want = { 8, copy, 48 };
    struct attest_verify_opts o = { .at = 1665651482, .pcrs = &want, .pcr_count = 1 };
    assert_int_equal(attest_verify(v, d, len, &o, NULL, NULL), 0);
    copy[47] ^= 1;
    assert_int_equal(attest_verify(v, d, len, &o, NULL, NULL), CL_EPCR);
    free(d);
    attest_verifier_free(v);
}

/* The chain result is cached, but time is still checked and the document
 * signature is checked on every call. */
static void chain_cache(void **state)
{
    (void)state;
    struct attest_verifier *v = aws_verifier();
    size_t len = 0;
    uint8_t *d = tl_read_shared("testdata/attestation/real/2024-11-25_base-nitro-validator_reconstructed.cose", &len);
    int64_t at = 1732575521;
    struct cl_error err = { 0 };
    for (int i = 0; i < 3; i++)
        assert_int_equal(verify_at(v, d, len, at, NULL), 0);
    assert_int_equal(verify_at(v, d, len, at + 4 * 3600, &err), CL_EEXPIRED);
    cl_error_clear(&err);
    d[len - 1] ^= 0x01; /* same chain, broken signature */
    assert_int_equal(verify_at(v, d, len, at, &err), CL_ESIGNATURE);
    d[len - 1] ^= 0x01;
    assert_int_equal(verify_at(v, d, len, at, NULL), 0);
    free(d);
    attest_verifier_free(v);
}

static void root_loading(void **state)
{
    (void)state;
    struct chain a, b;
    make_chain(&a, "P-384");
    make_chain(&b, "P-384");
    struct attest_verifier *v = NULL;
    struct cl_error err = { 0 };
    char path[] = "/tmp/attest_verify_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    PEM_write_X509(f, a.root);
    PEM_write_X509(f, b.root);
    fclose(f);
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_verifier_add_root_file(v, path, NULL), 0);
    assert_int_equal(attest_verifier_root_count(v), 2);
    assert_int_equal(attest_verifier_add_root_der(v, a.root_der, a.root_len, NULL), 0);
    assert_int_equal(attest_verifier_root_count(v), 2); /* already there */
    attest_verifier_free(v);

    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, b.root);
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_verifier_add_roots_from_store(v, store, NULL), 0);
    assert_int_equal(attest_verifier_root_count(v), 1);
    static struct tl_cbor p;
    build_payload(&p, &b, M_NONE, (uint64_t)time(NULL) * 1000);
    size_t len = 0;
    uint8_t *doc = sign_payload(&b, &p, &len);
    assert_int_equal(attest_verify(v, doc, len, NULL, NULL, NULL), 0);
    free(doc);
    build_payload(&p, &a, M_NONE, (uint64_t)time(NULL) * 1000);
    doc = sign_payload(&a, &p, &len);
    assert_int_equal(attest_verify(v, doc, len, NULL, NULL, &err), CL_ECHAIN);
    cl_error_clear(&err);
    free(doc);
    attest_verifier_free(v);
    X509_STORE_free(store);

    f = fopen(path, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_verifier_add_root_file(v, path, &err), CL_EFORMAT);
    char want[128];
    snprintf(want, sizeof(want), "'%s': no PEM certificate found", path);
    assert_string_equal(err.reason, want);
    cl_error_clear(&err);
    assert_int_equal(attest_verifier_add_root_der(v, (const uint8_t *)"\x30\x00", 2, &err), CL_EFORMAT);
    attest_verifier_free(v);
    unlink(path);
    free_chain(&a);
    free_chain(&b);
}

static void document_size_limit(void **state)
{
    (void)state;
    struct attest_verifier *v = aws_verifier();
    static uint8_t big[ATTEST_MAX_DOCUMENT + 1];
    struct cl_error err = { 0 };
    assert_int_equal(attest_verify(v, big, sizeof(big), NULL, NULL, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "attestation document of 32769 bytes, at most 32768 allowed");
    cl_error_clear(&err);
    assert_int_equal(attest_verify(v, big, 0, NULL, NULL, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "attestation document is empty");
    attest_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aws_root_fingerprint),
        cmocka_unit_test(no_trust_anchor_fails_closed),
        cmocka_unit_test(real_documents_verify_at_their_time_only),
        cmocka_unit_test(bad_and_derived_vectors),
        cmocka_unit_test(wrong_root_is_a_chain_error),
        cmocka_unit_test(high_s_twins_verify),
        cmocka_unit_test(malformed_fields),
        cmocka_unit_test(algorithm_checks),
        cmocka_unit_test(policy_checks),
        cmocka_unit_test(debug_documents_and_require_production),
        cmocka_unit_test(chain_cache),
        cmocka_unit_test(root_loading),
        cmocka_unit_test(document_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
