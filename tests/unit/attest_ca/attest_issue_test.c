/* SPDX-License-Identifier: Apache-2.0 */
/* Issuing attestation documents: the exact NSM layout, the chain, the
 * rejections, and issue -> verify round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <cbor.h>
#include <openssl/x509v3.h>

#include <cloister/attestation.h>

#include "attest_ca/attest_issue.h"
#include "cose/cose.h"

static uint8_t pcrs[32][48];

static void fill_pcrs(void)
{
    for (int i = 0; i < 32; i++)
        memset(pcrs[i], i + 1, 48);
}

static struct attest_doc_fields base_fields(void)
{
    return (struct attest_doc_fields){
        .module_id = "i-0123456789abcdef0-enc0123456789abcdef",
        .timestamp_ms = (uint64_t)time(NULL) * 1000 + 123,
        .pcrs = (const uint8_t(*)[48])pcrs,
        .pcr_mask = 0xffff,
    };
}

static struct attest_signer *signer(void)
{
    struct attest_signer *s = NULL;
    struct cl_error err = { 0 };
    if (attest_signer_new_ephemeral(&s, &err) < 0)
        fail_msg("ephemeral signer: %s", err.reason);
    return s;
}

static struct attest_verifier *verifier_for(const struct attest_signer *s)
{
    struct attest_verifier *v = NULL;
    char *pem = NULL;
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_signer_root_pem(s, &pem, NULL), 0);
    assert_int_equal(attest_verifier_add_root_pem(v, pem, strlen(pem), NULL), 0);
    free(pem);
    return v;
}

/* The payload of a document, decoded with libcbor. */
static cbor_item_t *payload_of(const uint8_t *doc, size_t len, const uint8_t **raw, size_t *raw_len)
{
    struct cose_sign1 *m = NULL;
    assert_int_equal(cose_sign1_parse(doc, len, &m, NULL), 0);
    size_t n = 0;
    const uint8_t *p = cose_sign1_payload(m, &n);
    static uint8_t copy[16384];
    assert_true(n <= sizeof(copy));
    memcpy(copy, p, n);
    cose_sign1_free(m);
    struct cbor_load_result r;
    cbor_item_t *item = cbor_load(copy, n, &r);
    assert_non_null(item);
    if (raw) {
        *raw = copy;
        *raw_len = n;
    }
    return item;
}

static bool key_is(const cbor_item_t *k, const char *s)
{
    return cbor_isa_string(k) && cbor_string_length(k) == strlen(s) &&
           !memcmp(cbor_string_handle(k), s, strlen(s));
}

static void layout_is_the_nsm_layout(void **state)
{
    (void)state;
    struct attest_signer *s = signer();
    struct attest_doc_fields f = base_fields();
    static const uint8_t ud[] = { 1, 2, 3 };
    f.user_data = ud;
    f.user_data_len = sizeof(ud);
    f.public_key = (const uint8_t *)""; /* present but empty: h'' */
    f.public_key_len = 0;
    f.pcr_mask = 0x1ffff; /* 0-15 and a locked PCR16 */
    uint8_t *doc = NULL;
    size_t len = 0;
    assert_int_equal(attest_doc_issue(s, &f, &doc, &len, NULL), 0);
    /* untagged COSE_Sign1, protected {1: -35}, {} , payload bstr with a 2-byte length */
    static const uint8_t head[] = { 0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, 0x59 };
    assert_memory_equal(doc, head, sizeof(head));
    /* signature: bstr(96) at the end */
    assert_int_equal(doc[len - 98], 0x58);
    assert_int_equal(doc[len - 97], 0x60);

    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    cbor_item_t *map = payload_of(doc, len, &raw, &raw_len);
    assert_int_equal(raw[0], 0xa9); /* definite map of 9 */
    static const char *const order[] = { "module_id", "digest", "timestamp", "pcrs", "certificate",
                                         "cabundle", "public_key", "user_data", "nonce" };
    assert_int_equal(cbor_map_size(map), 9);
    struct cbor_pair *kv = cbor_map_handle(map);
    for (size_t i = 0; i < 9; i++)
        assert_true(key_is(kv[i].key, order[i]));
    assert_true(key_is(kv[0].value, f.module_id));
    assert_true(key_is(kv[1].value, "SHA384"));
    assert_int_equal(cbor_int_get_width(kv[2].value), CBOR_INT_64); /* 0x1b + 8 bytes */
    assert_int_equal(cbor_get_int(kv[2].value), f.timestamp_ms);
    assert_int_equal(cbor_map_size(kv[3].value), 17);
    struct cbor_pair *p = cbor_map_handle(kv[3].value);
    for (size_t i = 0; i < 17; i++) {
        assert_int_equal(cbor_get_int(p[i].key), i); /* ascending */
        assert_int_equal(cbor_bytestring_length(p[i].value), 48);
        assert_memory_equal(cbor_bytestring_handle(p[i].value), pcrs[i], 48);
    }
    size_t leaf_len = 0;
    const uint8_t *leaf = attest_signer_leaf_der(s, &leaf_len);
    assert_int_equal(cbor_bytestring_length(kv[4].value), leaf_len);
    assert_memory_equal(cbor_bytestring_handle(kv[4].value), leaf, leaf_len);
    assert_int_equal(cbor_array_size(kv[5].value), 2);
    assert_true(cbor_isa_bytestring(kv[6].value));
    assert_int_equal(cbor_bytestring_length(kv[6].value), 0);
    assert_int_equal(cbor_bytestring_length(kv[7].value), 3);
    assert_true(cbor_is_null(kv[8].value)); /* absent nonce: null */
    cbor_decref(&map);
    free(doc);
    attest_signer_free(s);
}

static void chain_is_root_first_and_leaf_like_aws(void **state)
{
    (void)state;
    struct attest_signer *s = signer();
    struct attest_doc_fields f = base_fields();
    uint8_t *doc = NULL;
    size_t len = 0;
    assert_int_equal(attest_doc_issue(s, &f, &doc, &len, NULL), 0);
    struct attest_doc *d = NULL;
    assert_int_equal(attest_doc_parse_unverified(doc, len, &d, NULL), 0);
    assert_int_equal(attest_doc_cabundle_count(d), 2);
    size_t n = 0;
    const uint8_t *der = attest_doc_cabundle_cert(d, 0, &n);
    X509 *root = d2i_X509(NULL, &der, (long)n);
    der = attest_doc_cabundle_cert(d, 1, &n);
    X509 *inter = d2i_X509(NULL, &der, (long)n);
    der = attest_doc_certificate(d, &n);
    X509 *leaf = d2i_X509(NULL, &der, (long)n);
    assert_non_null(root);
    assert_non_null(inter);
    assert_non_null(leaf);
    assert_int_equal(X509_check_issued(root, root), X509_V_OK);   /* self-signed root first */
    assert_int_equal(X509_check_issued(root, inter), X509_V_OK);
    assert_int_equal(X509_check_issued(inter, leaf), X509_V_OK);
    assert_int_equal(X509_check_ca(leaf), 0);
    assert_true(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE);
    assert_null(X509_get_ext_d2i(leaf, NID_authority_key_identifier, NULL, NULL));
    assert_null(X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL));
    int days = 0, secs = 0;
    assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf), X509_get0_notAfter(leaf)));
    assert_int_equal(days * 86400 + secs, 3 * 3600 + 3);
    EVP_PKEY *pk = X509_get0_pubkey(leaf);
    assert_int_equal(EVP_PKEY_get_bits(pk), 384);
    assert_int_equal(attest_signer_not_after(s) - (int64_t)time(NULL) <= 3 * 3600, 1);
    X509_free(root);
    X509_free(inter);
    X509_free(leaf);
    attest_doc_free(d);
    free(doc);
    attest_signer_free(s);
}

static void issue_verify_round_trip(void **state)
{
    (void)state;
    struct attest_signer *s = signer();
    struct attest_verifier *v = verifier_for(s);
    static const uint8_t nonce[] = { 0xde, 0xad, 0xbe, 0xef };
    static const uint8_t pk[] = { 0x30, 0x59, 0x30, 0x13 };
    for (int indef = 0; indef < 2; indef++) {
        struct attest_doc_fields f = base_fields();
        f.nonce = nonce;
        f.nonce_len = sizeof(nonce);
        f.public_key = pk;
        f.public_key_len = sizeof(pk);
        f.indefinite_map = indef;
        uint8_t *doc = NULL;
        size_t len = 0;
        assert_int_equal(attest_doc_issue(s, &f, &doc, &len, NULL), 0);
        const uint8_t *raw = NULL;
        size_t raw_len = 0;
        cbor_item_t *map = payload_of(doc, len, &raw, &raw_len);
        assert_int_equal(raw[0], indef ? 0xbf : 0xa9);
        assert_int_equal(raw[raw_len - 1] == 0xff, indef);
        cbor_decref(&map);

        struct attest_expected_pcr want[2] = { { 0, pcrs[0], 48 }, { 15, pcrs[15], 48 } };
        struct attest_verify_opts o = { .pcrs = want, .pcr_count = 2, .nonce = nonce,
                                        .nonce_len = sizeof(nonce), .max_age = 60,
                                        .require_production = true };
        struct attest_doc *d = NULL;
        struct cl_error err = { 0 };
        if (attest_verify(v, doc, len, &o, &d, &err) < 0)
            fail_msg("verify: %s", err.reason);
        assert_true(attest_doc_verified(d));
        assert_string_equal(attest_doc_module_id(d), f.module_id);
        assert_string_equal(attest_doc_digest(d), "SHA384");
        assert_int_equal(attest_doc_timestamp_ms(d), f.timestamp_ms);
        assert_int_equal(attest_doc_pcr_mask(d), 0xffff);
        size_t n = 0;
        assert_memory_equal(attest_doc_pcr(d, 7, &n), pcrs[7], 48);
        assert_null(attest_doc_pcr(d, 16, &n));
        assert_memory_equal(attest_doc_nonce(d, &n), nonce, sizeof(nonce));
        assert_memory_equal(attest_doc_public_key(d, &n), pk, sizeof(pk));
        assert_null(attest_doc_user_data(d, &n));
        assert_false(attest_doc_is_debug(d));
        attest_doc_free(d);
        free(doc);
    }
    attest_verifier_free(v);
    attest_signer_free(s);
}

static void other_signer_root_is_not_trusted(void **state)
{
    (void)state;
    struct attest_signer *s = signer(), *other = signer();
    struct attest_verifier *v = verifier_for(other);
    struct attest_doc_fields f = base_fields();
    uint8_t *doc = NULL;
    size_t len = 0;
    struct cl_error err = { 0 };
    assert_int_equal(attest_doc_issue(s, &f, &doc, &len, NULL), 0);
    assert_int_equal(attest_verify(v, doc, len, NULL, NULL, &err), CL_ECHAIN);
    assert_string_equal(err.reason, "certificate chain does not lead to a trusted root: "
                                    "self-signed certificate in certificate chain (depth 2)");
    free(doc);
    attest_verifier_free(v);
    attest_signer_free(s);
    attest_signer_free(other);
}

static void issue_rejects_bad_fields(void **state)
{
    (void)state;
    struct attest_signer *s = signer();
    static uint8_t big[ATTEST_DOC_MAX_OPTIONAL + 1];
    uint8_t *doc = NULL;
    size_t len = 0;
    struct {
        struct attest_doc_fields f;
        int code;
        const char *reason;
    } cases[7];
    for (int i = 0; i < 7; i++)
        cases[i].f = base_fields();
    cases[0].f.module_id = "";
    cases[0].code = CL_EINVAL, cases[0].reason = "module_id is empty";
    cases[1].f.timestamp_ms = 0;
    cases[1].code = CL_EINVAL, cases[1].reason = "timestamp is zero";
    cases[2].f.pcr_mask = 0;
    cases[2].code = CL_EINVAL, cases[2].reason = "no PCRs for the document";
    cases[3].f.user_data = big, cases[3].f.user_data_len = sizeof(big);
    cases[3].code = CL_ELIMIT, cases[3].reason = "user_data of 1025 bytes, at most 1024 allowed";
    cases[4].f.nonce = big, cases[4].f.nonce_len = sizeof(big);
    cases[4].code = CL_ELIMIT, cases[4].reason = "nonce of 1025 bytes, at most 1024 allowed";
    cases[5].f.public_key = big, cases[5].f.public_key_len = sizeof(big);
    cases[5].code = CL_ELIMIT, cases[5].reason = "public_key of 1025 bytes, at most 1024 allowed";
    cases[6].f.timestamp_ms = ((uint64_t)time(NULL) + 4 * 3600) * 1000;
    cases[6].code = CL_ESTATE;
    cases[6].reason = "the signer's leaf certificate is not valid at the document's timestamp";
    for (int i = 0; i < 7; i++) {
        struct cl_error err = { 0 };
        assert_int_equal(attest_doc_issue(s, &cases[i].f, &doc, &len, &err), cases[i].code);
        assert_null(doc);
        assert_string_equal(err.reason, cases[i].reason);
    }
    /* exactly 1024 bytes is fine */
    struct attest_doc_fields f = base_fields();
    f.user_data = big, f.user_data_len = 1024;
    assert_int_equal(attest_doc_issue(s, &f, &doc, &len, NULL), 0);
    free(doc);
    attest_signer_free(s);
}

int main(void)
{
    fill_pcrs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_is_the_nsm_layout),
        cmocka_unit_test(chain_is_root_first_and_leaf_like_aws),
        cmocka_unit_test(issue_verify_round_trip),
        cmocka_unit_test(other_signer_root_is_not_trusted),
        cmocka_unit_test(issue_rejects_bad_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
