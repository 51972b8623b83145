/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in AWS Nitro Enclaves root G1 (src/lib/attest/attest_aws_root.c):
 * one PEM certificate, byte for byte the DER published by AWS (kept in the
 * shared test data with its SHA-256 in the README), whose fingerprint is
 * ATTEST_AWS_ROOT_G1_SHA256; its subject, key, validity and CA extensions
 * as published; real documents' cabundles start with it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cloister/attestation.h>

#include "base/hex.h"
#include "testlib/testlib.h"

/* The built-in root, parsed; the PEM holds nothing after it but blank lines. */
static X509 *builtin(void)
{
    const char *pem = attest_aws_root_g1_pem();
    assert_non_null(pem);
    BIO *b = BIO_new_mem_buf(pem, (int)strlen(pem));
    X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(c);
    assert_null(PEM_read_bio_X509(b, NULL, NULL, NULL)); /* exactly one */
    BIO_free(b);
    return c;
}

static void sha256_hex(const uint8_t *d, size_t n, char out[65])
{
    uint8_t md[32];
    assert_int_equal(EVP_Digest(d, n, md, NULL, EVP_sha256(), NULL), 1);
    hex_encode(out, md, 32);
}

static void same_bytes_as_the_published_root(void **state)
{
    (void)state;
    X509 *c = builtin();
    unsigned char *der = NULL;
    int n = i2d_X509(c, &der);
    assert_true(n > 0);
    size_t len = 0;
    uint8_t *published = tl_read_shared("testdata/attestation/aws_nitro_root_g1.der", &len);
    assert_int_equal((size_t)n, len);
    assert_memory_equal(der, published, len);
    char hex[65];
    sha256_hex(der, (size_t)n, hex);
    assert_string_equal(hex, ATTEST_AWS_ROOT_G1_SHA256);
    assert_string_equal(hex, "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
    /* the fingerprint the test data's README publishes */
    size_t rlen = 0;
    char *readme = (char *)tl_read_shared("testdata/attestation/README.md", &rlen);
    assert_non_null(strstr(readme, ATTEST_AWS_ROOT_G1_SHA256));
    free(readme);
    free(published);
    OPENSSL_free(der);
    X509_free(c);
}

static void subject_key_and_validity(void **state)
{
    (void)state;
    X509 *c = builtin();
    char name[256];
    X509_NAME_oneline(X509_get_subject_name(c), name, sizeof(name));
    assert_string_equal(name, "/C=US/O=Amazon/OU=AWS/CN=aws.nitro-enclaves");
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)), 0);
    EVP_PKEY *k = X509_get0_pubkey(c);
    assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
    char group[64] = "";
    size_t glen = 0;
    assert_int_equal(EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &glen), 1);
    assert_string_equal(group, "secp384r1");
    assert_int_equal(X509_verify(c, k), 1); /* self-signed */
    int sig_nid = X509_get_signature_nid(c);
    assert_int_equal(sig_nid, NID_ecdsa_with_SHA384);
    /* 2019-10-28T13:28:05Z to 2049-10-28T14:28:05Z */
    ASN1_TIME *from = ASN1_TIME_new(), *to = ASN1_TIME_new();
    assert_int_equal(ASN1_TIME_set_string(from, "191028132805Z"), 1);
    assert_int_equal(ASN1_TIME_set_string(to, "20491028142805Z"), 1);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(c), from), 0);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(c), to), 0);
    ASN1_TIME_free(from);
    ASN1_TIME_free(to);
    /* a CA: basicConstraints critical CA:TRUE, keyCertSign and cRLSign */
    assert_int_equal(X509_check_ca(c), 1);
    assert_true(X509_get_key_usage(c) & KU_KEY_CERT_SIGN);
    assert_true(X509_get_key_usage(c) & KU_CRL_SIGN);
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(c, NID_basic_constraints, &crit, NULL);
    assert_non_null(bc);
    assert_int_equal(crit, 1);
    assert_true(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    X509_free(c);
}

/* The PEM text itself: the armour lines and nothing but base64 between. */
static void pem_text_shape(void **state)
{
    (void)state;
    const char *pem = attest_aws_root_g1_pem();
    assert_int_equal(strncmp(pem, "-----BEGIN CERTIFICATE-----\n", 28), 0);
    const char *end = strstr(pem, "-----END CERTIFICATE-----\n");
    assert_non_null(end);
    for (const char *p = pem + 28; p < end; p++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n",
                               *p));
    for (const char *p = end + 26; *p; p++)
        assert_int_equal(*p, '\n');
    /* the same pointer every time: a constant, not a copy */
    assert_ptr_equal(attest_aws_root_g1_pem(), pem);
}

/* Real Nitro documents carry this root first in their cabundle, and a
 * verifier takes it with attest_verifier_add_aws_root(). */
static void real_documents_chain_to_it(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "testdata/attestation/real/2021-03-17_anjuna_sample_prod_doc.cose",
        "testdata/attestation/real/2022-10-13_evervault_pcr8.cose",
        "testdata/attestation/real/2024-11-25_base-nitro-validator_reconstructed.cose",
    };
    X509 *c = builtin();
    unsigned char *der = NULL;
    int n = i2d_X509(c, &der);
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        size_t len = 0, rlen = 0;
        uint8_t *doc = tl_read_shared(docs[i], &len);
        struct attest_doc *d = NULL;
        assert_int_equal(attest_doc_parse_unverified(doc, len, &d, NULL), 0);
        const uint8_t *root = attest_doc_cabundle_cert(d, 0, &rlen);
        assert_non_null(root);
        assert_int_equal(rlen, (size_t)n);
        assert_memory_equal(root, der, rlen);
        attest_doc_free(d);
        free(doc);
    }
    struct attest_verifier *v = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(attest_verifier_new(&v, &err), 0);
    assert_int_equal(attest_verifier_add_aws_root(v, &err), 0);
    attest_verifier_free(v);
    OPENSSL_free(der);
    X509_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_bytes_as_the_published_root),
        cmocka_unit_test(subject_key_and_validity),
        cmocka_unit_test(pem_text_shape),
        cmocka_unit_test(real_documents_chain_to_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
