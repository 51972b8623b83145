/* SPDX-License-Identifier: Apache-2.0 */
/* Recipient verification: documents from an ephemeral attestation chain
 * (attest_doc.h), accepted and refused, condition keys, audit, wrapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cloister/attestation.h>

#include "attest_ca/attest_issue.h"
#include "cms/cms.h"
#include "call/context.h"
#include "call/recipient.h"
#include "policy/policy.h"

static struct attest_signer *g_signer, *g_other_signer;
static struct attest_verifier *g_verifier, *g_other_verifier;
static EVP_PKEY *g_rsa;

static int setup(void **state)
{
    (void)state;
    char *pem = NULL;
    if (attest_signer_new_ephemeral(&g_signer, NULL) < 0 ||
        attest_signer_new_ephemeral(&g_other_signer, NULL) < 0 ||
        attest_verifier_new(&g_verifier, NULL) < 0 ||
        attest_verifier_new(&g_other_verifier, NULL) < 0)
        return -1;
    if (attest_signer_root_pem(g_signer, &pem, NULL) < 0 ||
        attest_verifier_add_root_pem(g_verifier, pem, strlen(pem), NULL) < 0)
        return -1;
    free(pem);
    if (attest_signer_root_pem(g_other_signer, &pem, NULL) < 0 ||
        attest_verifier_add_root_pem(g_other_verifier, pem, strlen(pem), NULL) < 0)
        return -1;
    free(pem);
    g_rsa = EVP_RSA_gen(2048);
    return g_rsa ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    attest_signer_free(g_signer);
    attest_signer_free(g_other_signer);
    attest_verifier_free(g_verifier);
    attest_verifier_free(g_other_verifier);
    EVP_PKEY_free(g_rsa);
    return 0;
}

static uint64_t now_ms(void)
{
    return (uint64_t)time(NULL) * 1000;
}

/* A document with PCR0..15; debug: PCR0-2 and 8 zero. key: SPKI of key, or
 * NULL for a null public_key. */
static uint8_t *make_doc(EVP_PKEY *key, bool debug, uint64_t ts_ms, size_t *len)
{
    static uint8_t pcrs[32][48];
    memset(pcrs, 0, sizeof(pcrs));
    if (!debug)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 48; j++)
                pcrs[i][j] = (uint8_t)(0xa0 + i + j);
    pcrs[4][0] = 0x44;
    unsigned char *spki = NULL;
    int spki_len = key ? i2d_PUBKEY(key, &spki) : 0;
    struct attest_doc_fields f = {
        .module_id = "i-0123456789abcdef0-enc0123456789abcdef",
        .timestamp_ms = ts_ms,
        .pcrs = (const uint8_t(*)[48])pcrs,
        .pcr_mask = 0xffff,
        .public_key = spki,
        .public_key_len = (size_t)(spki_len > 0 ? spki_len : 0),
    };
    uint8_t *doc = NULL;
    struct cl_error err = {0};
    if (attest_doc_issue(g_signer, &f, &doc, len, &err) < 0)
        fail_msg("attest_doc_issue: %s", err.reason);
    OPENSSL_free(spki);
    return doc;
}

static void accepts_production_document(void **state)
{
    (void)state;
    size_t len;
    uint8_t *doc = make_doc(g_rsa, false, now_ms(), &len);
    struct recipient_opts o = {.verifier = g_verifier};
    struct recipient *r = NULL;
    struct cl_error err = {0};
    assert_int_equal(recipient_verify(doc, len, &o, &r, &err), 0);
    assert_string_equal(recipient_module_id(r), "i-0123456789abcdef0-enc0123456789abcdef");
    assert_false(recipient_is_debug(r));
    assert_int_equal(recipient_rsa_bits(r), 2048);
    const char *pcr0 = recipient_pcr_hex(r, 0);
    assert_non_null(pcr0);
    assert_int_equal(strlen(pcr0), 96);
    assert_memory_equal(pcr0, "a0a1a2a3", 8); /* lowercase hex */
    assert_null(recipient_pcr_hex(r, 16));     /* not in the document */
    assert_null(recipient_pcr_hex(r, 99));

    /* Condition keys (docs/kms-policy.md, "Condition keys the server fills in"). */
    struct policy_context *ctx = NULL;
    assert_int_equal(policy_context_new(&ctx, NULL), 0);
    assert_int_equal(context_add_recipient(ctx, r, &err), 0);
    size_t n;
    const char *const *v = policy_context_get(ctx, "kms:RecipientAttestation:ImageSha384", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], pcr0);
    v = policy_context_get(ctx, "kms:RecipientAttestation:PCR0", &n);
    assert_string_equal(v[0], pcr0);
    v = policy_context_get(ctx, "kms:RecipientAttestation:PCR4", &n);
    assert_memory_equal(v[0], "4400", 4);
    assert_null(policy_context_get(ctx, "kms:RecipientAttestation:PCR16", &n));
    policy_context_free(ctx);

    /* explain --attestation-doc's path: the same keys from the document
     * parsed without verification. */
    struct recipient *u = NULL;
    assert_int_equal(recipient_parse_unverified(doc, len, &u, &err), 0);
    assert_int_equal(policy_context_new(&ctx, NULL), 0);
    assert_int_equal(context_add_recipient(ctx, u, &err), 0);
    v = policy_context_get(ctx, "kms:RecipientAttestation:ImageSha384", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], pcr0);
    for (unsigned i = 0; i < 17; i++) {
        char key[48];
        snprintf(key, sizeof(key), "kms:RecipientAttestation:PCR%u", i);
        v = policy_context_get(ctx, key, &n);
        if (i < 16)
            assert_string_equal(v[0], recipient_pcr_hex(r, i));
        else
            assert_null(v);
    }
    policy_context_free(ctx);
    recipient_free(u);
    assert_int_equal(recipient_parse_unverified((const uint8_t *)"hello", 5, &u, &err), CL_EFORMAT);
    assert_null(u);

    /* Audit object. */
    json_t *a = recipient_audit_json(r);
    assert_string_equal(json_string_value(json_object_get(a, "attestationDocumentModuleId")),
                        "i-0123456789abcdef0-enc0123456789abcdef");
    assert_string_equal(json_string_value(json_object_get(a, "attestationDocumentEnclaveImageDigest")), pcr0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "pcrs"), "0")), pcr0);
    assert_int_equal(json_object_size(json_object_get(a, "pcrs")), 16);
    assert_true(json_is_false(json_object_get(a, "debug")));
    json_decref(a);

    /* CiphertextForRecipient opens with the enclave's private key. */
    uint8_t *blob = NULL, *pt = NULL;
    size_t blob_len, pt_len;
    assert_int_equal(recipient_wrap(r, (const uint8_t *)"data key bytes", 14, &blob, &blob_len, &err), 0);
    assert_true(blob_len <= CMS_RECIPIENT_MAX_BYTES);
    assert_int_equal(cms_envelope_decrypt(g_rsa, blob, blob_len, &pt, &pt_len, &err), 0);
    assert_int_equal(pt_len, 14);
    assert_memory_equal(pt, "data key bytes", 14);
    free(pt);
    free(blob);
    recipient_free(r);
    free(doc);
}

static void accepts_debug_document(void **state)
{
    (void)state;
    size_t len;
    uint8_t *doc = make_doc(g_rsa, true, now_ms(), &len);
    struct recipient_opts o = {.verifier = g_verifier};
    struct recipient *r = NULL;
    assert_int_equal(recipient_verify(doc, len, &o, &r, NULL), 0);
    assert_true(recipient_is_debug(r));
    assert_string_equal(recipient_pcr_hex(r, 0),
                        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000");
    json_t *a = recipient_audit_json(r);
    assert_true(json_is_true(json_object_get(a, "debug")));
    json_decref(a);
    recipient_free(r);
    free(doc);
}

static void expect_refused(const uint8_t *doc, size_t len, const struct recipient_opts *o, int code, const char *type,
                           const char *msg)
{
    struct recipient *r = (struct recipient *)1;
    struct cl_error err = {0};
    int rc = recipient_verify(doc, len, o, &r, &err);
    if (rc != code || strcmp(err.reason, msg) != 0)
        fail_msg("got %d \"%s\", want %d \"%s\"", rc, err.reason, code, msg);
    assert_null(r);
    assert_string_equal(recipient_error_type(rc), type);
}

#define BAD "The attestation document in Recipient is not valid: "

static void refuses_bad_documents(void **state)
{
    (void)state;
    size_t len;
    uint8_t *doc = make_doc(g_rsa, false, now_ms(), &len);
    struct recipient_opts o = {.verifier = g_verifier};
    /* The Recipient member's own constraints (algorithm, document length)
     * are checked where the member is read: kms_request_test.c. */
    struct recipient_opts none = {0};
    expect_refused(doc, len, &none, CL_EINVAL, "ValidationException",
                   "Recipient verification has no trust roots.");

    /* Wrong roots. */
    struct recipient_opts other = {.verifier = g_other_verifier};
    expect_refused(doc, len, &other, CL_ECHAIN, "ValidationException",
                   BAD "its certificate chain does not lead to a trusted root.");
    /* Forged: signature bytes changed; payload changed. */
    uint8_t *forged = malloc(len);
    memcpy(forged, doc, len);
    forged[len - 1] ^= 0x01;
    expect_refused(forged, len, &o, CL_ESIGNATURE, "ValidationException",
                   BAD "its signature does not verify.");
    memcpy(forged, doc, len);
    uint8_t *mod = memmem(forged, len, "i-0123456789abcdef0", 19);
    assert_non_null(mod);
    mod[2] = '9'; /* module_id edited in the signed payload */
    expect_refused(forged, len, &o, CL_ESIGNATURE, "ValidationException",
                   BAD "its signature does not verify.");
    free(forged);
    /* Garbage and truncation. */
    expect_refused((const uint8_t *)"hello", 5, &o, CL_EFORMAT, "ValidationException",
                   BAD "it is not a well-formed attestation document.");
    expect_refused(doc, len / 2, &o, CL_EFORMAT, "ValidationException",
                   BAD "it is not a well-formed attestation document.");
    free(doc);

    /* Stale: verified 10 minutes after it was made, with the default 300 s
     * and custom max ages (the leaf certificate is still valid then). */
    doc = make_doc(g_rsa, false, now_ms(), &len);
    struct recipient_opts ten_min = {.verifier = g_verifier, .at = time(NULL) + 600};
    expect_refused(doc, len, &ten_min, CL_ESTALE, "ValidationException",
                   BAD "its timestamp is outside the accepted window (maximum age 300 seconds).");
    struct recipient_opts lenient = {.verifier = g_verifier, .max_age_s = 900, .at = ten_min.at};
    struct recipient *r = NULL;
    assert_int_equal(recipient_verify(doc, len, &lenient, &r, NULL), 0);
    recipient_free(r);
    struct recipient_opts strict = {.verifier = g_verifier, .max_age_s = 60, .at = time(NULL) + 120};
    expect_refused(doc, len, &strict, CL_ESTALE, "ValidationException",
                   BAD "its timestamp is outside the accepted window (maximum age 60 seconds).");
    free(doc);
    /* From the future. */
    doc = make_doc(g_rsa, false, now_ms() + 3600 * 1000, &len);
    expect_refused(doc, len, &o, CL_ESTALE, "ValidationException",
                   BAD "its timestamp is outside the accepted window (maximum age 300 seconds).");
    free(doc);
    /* After the leaf certificate (3 h) expired: the chain check comes
     * before the age check. */
    struct recipient_opts later = {.verifier = g_verifier, .at = time(NULL) + 4 * 3600};
    doc = make_doc(g_rsa, false, now_ms(), &len);
    expect_refused(doc, len, &later, CL_EEXPIRED, "ValidationException",
                   BAD "a certificate of its chain is not valid at this time.");
    free(doc);
}

static void refuses_bad_public_keys(void **state)
{
    (void)state;
    size_t len;
    struct recipient_opts o = {.verifier = g_verifier};
    uint8_t *doc = make_doc(NULL, false, now_ms(), &len);
    expect_refused(doc, len, &o, CL_EFORMAT, "ValidationException",
                   BAD "it carries no public key.");
    free(doc);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    doc = make_doc(ec, false, now_ms(), &len);
    expect_refused(doc, len, &o, CL_EUNSUPPORTED, "ValidationException",
                   BAD "its public key is not an RSA SubjectPublicKeyInfo.");
    free(doc);
    EVP_PKEY_free(ec);
    EVP_PKEY *small = EVP_RSA_gen(1024);
    doc = make_doc(small, false, now_ms(), &len);
    expect_refused(doc, len, &o, CL_EUNSUPPORTED, "ValidationException",
                   BAD "its RSA key has 1024 bits (2048 to 4096 accepted).");
    free(doc);
    EVP_PKEY_free(small);
    /* RSA-4096 is accepted. */
    EVP_PKEY *big = EVP_RSA_gen(4096);
    doc = make_doc(big, false, now_ms(), &len);
    struct recipient *r = NULL;
    assert_int_equal(recipient_verify(doc, len, &o, &r, NULL), 0);
    assert_int_equal(recipient_rsa_bits(r), 4096);
    recipient_free(r);
    free(doc);
    EVP_PKEY_free(big);
}

/* The whole decision: document -> context -> workshop-style policy. */
static void policy_with_document(void **state)
{
    (void)state;
    size_t len;
    struct recipient_opts o = {.verifier = g_verifier};
    uint8_t *prod = make_doc(g_rsa, false, now_ms(), &len);
    struct recipient *r = NULL;
    assert_int_equal(recipient_verify(prod, len, &o, &r, NULL), 0);
    char pcr0_upper[97];
    snprintf(pcr0_upper, sizeof(pcr0_upper), "%s", recipient_pcr_hex(r, 0));
    for (char *c = pcr0_upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 32);
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
             "\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:role/enclave\"},\"Action\":\"kms:Decrypt\","
             "\"Resource\":\"*\",\"Condition\":{\"StringEqualsIgnoreCase\":{\"kms:RecipientAttestation:PCR0\":\"%s\"}}}]}",
             pcr0_upper);
    struct policy *p = NULL;
    assert_int_equal(policy_parse(text, strlen(text), NULL, &p, NULL), 0);
    struct policy_context *ctx = NULL;
    assert_int_equal(policy_context_new(&ctx, NULL), 0);
    assert_int_equal(context_add_recipient(ctx, r, NULL), 0);
    struct policy_request req = {.action = "kms:Decrypt",
                                 .principal_arn = "arn:aws:sts::111122223333:assumed-role/enclave/i-1",
                                 .account = "111122223333",
                                 .resource_arn = "arn:aws:kms:us-east-1:111122223333:key/k",
                                 .context = ctx};
    struct policy_result res;
    assert_int_equal(policy_evaluate(p, &req, &res, NULL), 0);
    assert_int_equal(res.decision, POLICY_ALLOW);
    policy_context_free(ctx);
    recipient_free(r);
    free(prod);

    uint8_t *dbg = make_doc(g_rsa, true, now_ms(), &len);
    assert_int_equal(recipient_verify(dbg, len, &o, &r, NULL), 0);
    assert_int_equal(policy_context_new(&ctx, NULL), 0);
    assert_int_equal(context_add_recipient(ctx, r, NULL), 0);
    req.context = ctx;
    assert_int_equal(policy_evaluate(p, &req, &res, NULL), 0);
    assert_int_equal(res.decision, POLICY_DENY_IMPLICIT);
    policy_context_free(ctx);
    recipient_free(r);
    free(dbg);
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_production_document),
        cmocka_unit_test(accepts_debug_document),
        cmocka_unit_test(refuses_bad_documents),
        cmocka_unit_test(refuses_bad_public_keys),
        cmocka_unit_test(policy_with_document),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
