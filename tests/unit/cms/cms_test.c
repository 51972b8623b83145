/* SPDX-License-Identifier: Apache-2.0 */
/* CiphertextForRecipient CMS: the real KMS samples of shared/testdata/kms,
 * round trips, DER re-encoding, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cms/cms.h"
#include "base/fileio.h"

static EVP_PKEY *g_rsa2048, *g_rsa2048_other;

static int setup(void **state)
{
    (void)state;
    g_rsa2048 = EVP_RSA_gen(2048);
    g_rsa2048_other = EVP_RSA_gen(2048);
    return g_rsa2048 && g_rsa2048_other ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_rsa2048);
    EVP_PKEY_free(g_rsa2048_other);
    return 0;
}

static uint8_t *testdata(const char *name, size_t *len)
{
    const char *shared = getenv("CLOISTER_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/testdata/kms/%s", shared ? shared : "/work/shared", name);
    uint8_t *data = NULL;
    struct cl_error err = {0};
    if (file_read_all(path, 1 << 20, &data, len, &err) < 0)
        fail_msg("%s: %s", path, err.reason);
    return data;
}

/* DER re-encoding through OpenSSL's own CMS codec. */
static uint8_t *to_der(const uint8_t *ber, size_t len, size_t *out_len)
{
    const unsigned char *p = ber;
    CMS_ContentInfo *ci = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    assert_non_null(ci);
    unsigned char *der = NULL;
    int n = i2d_CMS_ContentInfo(ci, &der);
    assert_true(n > 0);
    CMS_ContentInfo_free(ci);
    uint8_t *copy = malloc((size_t)n);
    memcpy(copy, der, (size_t)n);
    OPENSSL_free(der);
    *out_len = (size_t)n;
    return copy;
}

static void check_sample(const char *input, const char *ek, const char *iv, const char *ct)
{
    size_t in_len, ek_len, iv_len, ct_len;
    uint8_t *in = testdata(input, &in_len);
    uint8_t *want_ek = testdata(ek, &ek_len);
    uint8_t *want_iv = testdata(iv, &iv_len);
    uint8_t *want_ct = testdata(ct, &ct_len);
    struct cms_envelope e;
    struct cl_error err = {0};
    assert_int_equal(cms_envelope_parse(in, in_len, &e, &err), 0);
    assert_int_equal(e.ski_len, 32);
    assert_int_equal(e.encrypted_key_len, ek_len);
    assert_memory_equal(e.encrypted_key, want_ek, ek_len);
    assert_int_equal(iv_len, 16);
    assert_memory_equal(e.iv, want_iv, 16);
    assert_int_equal(e.ciphertext_len, ct_len);
    assert_memory_equal(e.ciphertext, want_ct, ct_len);
    cms_envelope_clear(&e);

    /* The same message as DER (definite lengths) gives the same parts. */
    size_t der_len;
    uint8_t *der = to_der(in, in_len, &der_len);
    assert_int_equal(der[1], 0x82); /* definite long form, not 0x80 */
    assert_int_equal(cms_envelope_parse(der, der_len, &e, &err), 0);
    assert_memory_equal(e.encrypted_key, want_ek, ek_len);
    assert_memory_equal(e.iv, want_iv, 16);
    assert_int_equal(e.ciphertext_len, ct_len);
    assert_memory_equal(e.ciphertext, want_ct, ct_len);
    cms_envelope_clear(&e);

    /* Their RSA key is not published: any key fails cleanly. */
    uint8_t *pt = (uint8_t *)1;
    size_t pt_len = 1;
    assert_int_equal(cms_envelope_decrypt(g_rsa2048, in, in_len, &pt, &pt_len, &err), CL_ECRYPTO);
    assert_string_equal(err.reason, "cannot unwrap the content-encryption key");
    assert_null(pt);
    assert_int_equal(pt_len, 0);
    free(der);
    free(in);
    free(want_ek);
    free(want_iv);
    free(want_ct);
}

static void real_kms_samples_parse(void **state)
{
    (void)state;
    check_sample("input_ber.bin", "encrypted_key_out.bin", "iv_out.bin", "ciphertext_out.bin");
    check_sample("input_ber_w_ctx.bin", "encrypted_key_out_w_ctx.bin", "iv_out_w_ctx.bin",
                 "ciphertext_out_w_ctx.bin");
}

static const uint8_t KMS_PREFIX[] = {
    0x30, 0x80,                                                       /* ContentInfo, indefinite */
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, /* envelopedData */
    0xa0, 0x80,                                                       /* [0], indefinite */
    0x30, 0x80,                                                       /* EnvelopedData, indefinite */
    0x02, 0x01, 0x02,                                                 /* version 2 */
};

static void round_trip(EVP_PKEY *key, size_t len)
{
    uint8_t *pt = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        pt[i] = (uint8_t)(i * 7 + 3);
    uint8_t *blob = NULL, *out = NULL;
    size_t blob_len = 0, out_len = 0;
    struct cl_error err = {0};
    assert_int_equal(cms_envelope_encrypt(key, pt, len, &blob, &blob_len, &err), 0);
    /* KMS's shape: BER with indefinite lengths, versions 2. */
    assert_true(blob_len > sizeof(KMS_PREFIX) + 10);
    assert_memory_equal(blob, KMS_PREFIX, sizeof(KMS_PREFIX));
    static const uint8_t eoc[8] = {0};
    assert_memory_equal(blob + blob_len - 8, eoc, 8); /* EOCs close the outer layers */

    struct cms_envelope e;
    assert_int_equal(cms_envelope_parse(blob, blob_len, &e, &err), 0);
    assert_int_equal(e.encrypted_key_len, (size_t)EVP_PKEY_get_size(key));
    assert_int_equal(e.ciphertext_len, (len / 16 + 1) * 16); /* PKCS#7 padding */
    /* SKI = SHA-256(SPKI DER). */
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(key, &spki);
    uint8_t digest[32];
    EVP_Digest(spki, (size_t)spki_len, digest, NULL, EVP_sha256(), NULL);
    OPENSSL_free(spki);
    assert_int_equal(e.ski_len, CMS_SKI_LEN);
    assert_memory_equal(e.ski, digest, 32);
    cms_envelope_clear(&e);

    assert_int_equal(cms_envelope_decrypt(key, blob, blob_len, &out, &out_len, &err), 0);
    assert_int_equal(out_len, len);
    if (len)
        assert_memory_equal(out, pt, len);
    free(out);

    /* DER re-encoding decrypts too. */
    size_t der_len;
    uint8_t *der = to_der(blob, blob_len, &der_len);
    assert_int_not_equal(der[1], 0x80);
    assert_int_equal(cms_envelope_decrypt(key, der, der_len, &out, &out_len, &err), 0);
    assert_int_equal(out_len, len);
    if (len)
        assert_memory_equal(out, pt, len);
    free(out);
    free(der);
    free(blob);
    free(pt);
}

static void round_trips(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 15, 16, 17, 32, 1024, 4096};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        round_trip(g_rsa2048, lens[i]);
    EVP_PKEY *k3072 = EVP_RSA_gen(3072);
    round_trip(k3072, 48);
    EVP_PKEY_free(k3072);
    EVP_PKEY *k4096 = EVP_RSA_gen(4096);
    round_trip(k4096, 2400); /* a GenerateDataKeyPair RSA-4096 private key */
    EVP_PKEY_free(k4096);
}

static void refuses_bad_keys(void **state)
{
    (void)state;
    uint8_t *blob = NULL, *out = (uint8_t *)1;
    size_t blob_len = 0, out_len = 0;
    struct cl_error err = {0};
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_int_equal(cms_envelope_encrypt(ec, (const uint8_t *)"x", 1, &blob, &blob_len, &err), CL_EINVAL);
    assert_string_equal(err.reason, "the recipient key is not an RSA key");
    assert_null(blob);
    assert_int_equal(cms_envelope_encrypt(g_rsa2048, (const uint8_t *)"secret", 6, &blob, &blob_len, &err), 0);
    cl_error_clear(&err);
    assert_int_equal(cms_envelope_decrypt(ec, blob, blob_len, &out, &out_len, &err), CL_EINVAL);
    assert_string_equal(err.reason, "the private key is not an RSA key");
    /* The wrong RSA key fails cleanly. */
    cl_error_clear(&err);
    out = (uint8_t *)1;
    assert_int_equal(cms_envelope_decrypt(g_rsa2048_other, blob, blob_len, &out, &out_len, &err), CL_ECRYPTO);
    assert_string_equal(err.reason, "cannot unwrap the content-encryption key");
    assert_null(out);
    /* A key of another size fails before RSA. */
    EVP_PKEY *k3072 = EVP_RSA_gen(3072);
    cl_error_clear(&err);
    assert_int_equal(cms_envelope_decrypt(k3072, blob, blob_len, &out, &out_len, &err), CL_ECRYPTO);
    assert_string_equal(err.reason, "cannot unwrap the content-encryption key");
    EVP_PKEY_free(k3072);
    EVP_PKEY_free(ec);
    free(blob);
}

static void refuses_truncated_and_trailing(void **state)
{
    (void)state;
    size_t len;
    uint8_t *in = testdata("input_ber.bin", &len);
    struct cms_envelope e;
    struct cl_error err = {0};
    for (size_t cut = 0; cut < len; cut++) {
        cl_error_clear(&err);
        int rc = cms_envelope_parse(in, cut, &e, &err);
        assert_int_equal(rc, CL_EFORMAT);
        assert_string_equal(err.reason, cut == 0 ? "empty CMS message"
                                                 : "not a CMS EnvelopedData with one key-id RSA recipient");
        assert_null(e.encrypted_key);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, in, len);
    longer[len] = 0;
    cl_error_clear(&err);
    assert_int_equal(cms_envelope_parse(longer, len + 1, &e, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "1 trailing bytes after the CMS message");
    cl_error_clear(&err);
    assert_int_equal(cms_envelope_parse(NULL, 0, &e, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "empty CMS message");
    uint8_t *huge = calloc(1, 4 * CMS_RECIPIENT_MAX_BYTES + 1);
    cl_error_clear(&err);
    assert_int_equal(cms_envelope_parse(huge, 4 * CMS_RECIPIENT_MAX_BYTES + 1, &e, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "CMS message too large (24577 bytes)");
    free(huge);
    free(longer);
    free(in);
}

static void expect_parse_error(const uint8_t *buf, size_t len, int code, const char *msg)
{
    struct cms_envelope e;
    struct cl_error err = {0};
    int rc = cms_envelope_parse(buf, len, &e, &err);
    if (rc != code || strcmp(err.reason, msg) != 0)
        fail_msg("got %d \"%s\", want %d \"%s\"", rc, err.reason, code, msg);
}

static void refuses_wrong_versions_and_types(void **state)
{
    (void)state;
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(cms_envelope_encrypt(g_rsa2048, (const uint8_t *)"secret", 6, &blob, &len, NULL), 0);
    /* Offsets: 12 last byte of the content type OID, 19 EnvelopedData
     * version, 30 KeyTransRecipientInfo version (see KMS_PREFIX). */
    assert_int_equal(blob[19], 2);
    assert_int_equal(blob[30], 2);
    blob[12] = 0x02; /* signedData */
    expect_parse_error(blob, len, CL_EFORMAT, "contentType is not envelopedData");
    blob[12] = 0x03;
    blob[19] = 0x00;
    expect_parse_error(blob, len, CL_EUNSUPPORTED, "EnvelopedData version is not 2");
    blob[19] = 0x02;
    blob[30] = 0x00;
    expect_parse_error(blob, len, CL_EUNSUPPORTED, "KeyTransRecipientInfo version is not 2");
    blob[30] = 0x02;
    /* Encrypted content type (OID last byte): find "06 09 2a 86 48 86 f7 0d 01 07 01". */
    static const uint8_t data_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
    uint8_t *d = memmem(blob, len, data_oid, sizeof(data_oid));
    assert_non_null(d);
    d[10] = 0x06;
    expect_parse_error(blob, len, CL_EUNSUPPORTED, "encrypted content type is not id-data");
    d[10] = 0x01;
    /* AES-256-CBC OID 2.16.840.1.101.3.4.1.42 -> .2 (aes-128-cbc). */
    static const uint8_t aes_oid[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};
    uint8_t *a = memmem(blob, len, aes_oid, sizeof(aes_oid));
    assert_non_null(a);
    a[10] = 0x02;
    expect_parse_error(blob, len, CL_EUNSUPPORTED, "content encryption is not AES-256-CBC");
    a[10] = 0x2a;
    /* MGF1's hash sha256 (..04 02 01) -> sha384 (..04 02 02): second sha256 OID. */
    static const uint8_t sha256_oid[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
    uint8_t *h1 = memmem(blob, len, sha256_oid, sizeof(sha256_oid));
    assert_non_null(h1);
    h1[10] = 0x02;
    expect_parse_error(blob, len, CL_EUNSUPPORTED, "RSAES-OAEP hash is not SHA-256");
    h1[10] = 0x01;
    uint8_t *h2 = memmem(h1 + 1, len - (size_t)(h1 + 1 - blob), sha256_oid, sizeof(sha256_oid));
    assert_non_null(h2);
    h2[10] = 0x02;
    expect_parse_error(blob, len, CL_EUNSUPPORTED,
                       "RSAES-OAEP mask generation is not MGF1 with SHA-256");
    h2[10] = 0x01;
    /* rsaesOaep 1.2.840.113549.1.1.7 -> 1.1.1 (rsaEncryption). */
    static const uint8_t oaep_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07};
    uint8_t *o = memmem(blob, len, oaep_oid, sizeof(oaep_oid));
    assert_non_null(o);
    o[10] = 0x01;
    expect_parse_error(blob, len, CL_EUNSUPPORTED, "key encryption algorithm is not RSAES-OAEP");
    o[10] = 0x07;
    struct cms_envelope e;
    assert_int_equal(cms_envelope_parse(blob, len, &e, NULL), 0);
    cms_envelope_clear(&e);
    free(blob);
}

/* CMS messages built by OpenSSL's defaults that KMS never sends. */
static uint8_t *openssl_cms(EVP_PKEY *key, bool keyid, bool oaep, int n_recipients, size_t *len)
{
    X509 *x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    X509_set_pubkey(x, key);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, name);
    X509_NAME_free(name);
    ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(ski, (const unsigned char *)"0123456789abcdefghij", 20);
    X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_DEFAULT);
    ASN1_OCTET_STRING_free(ski);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    EVP_PKEY *signer = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_true(X509_sign(x, signer, NULL) > 0);
    EVP_PKEY_free(signer);
    unsigned flags = CMS_STREAM | CMS_BINARY | CMS_PARTIAL | (keyid ? CMS_USE_KEYID : 0);
    CMS_ContentInfo *cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), flags);
    for (int i = 0; i < n_recipients; i++) {
        CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, x, flags | CMS_KEY_PARAM);
        assert_non_null(ri);
        EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
        if (oaep)
            assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0);
    }
    BIO *in = BIO_new_mem_buf("hello", 5), *mem = BIO_new(BIO_s_mem());
    assert_true(i2d_CMS_bio_stream(mem, cms, in, flags));
    char *p;
    long n = BIO_get_mem_data(mem, &p);
    uint8_t *out = malloc((size_t)n);
    memcpy(out, p, (size_t)n);
    *len = (size_t)n;
    BIO_free(in);
    BIO_free(mem);
    CMS_ContentInfo_free(cms);
    X509_free(x);
    return out;
}

static void refuses_other_cms_shapes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = openssl_cms(g_rsa2048, false, true, 1, &len); /* issuerAndSerialNumber */
    expect_parse_error(b, len, CL_EFORMAT, "not a CMS EnvelopedData with one key-id RSA recipient");
    free(b);
    b = openssl_cms(g_rsa2048, true, false, 1, &len); /* PKCS#1 v1.5 */
    expect_parse_error(b, len, CL_EUNSUPPORTED, "key encryption algorithm is not RSAES-OAEP");
    free(b);
    /* OAEP with OpenSSL's defaults: an empty parameter SEQUENCE, i.e. SHA-1. */
    b = openssl_cms(g_rsa2048, true, true, 1, &len);
    expect_parse_error(b, len, CL_EUNSUPPORTED, "RSAES-OAEP hash is not SHA-256");
    free(b);
    b = openssl_cms(g_rsa2048, true, true, 2, &len);
    expect_parse_error(b, len, CL_EUNSUPPORTED, "expected exactly one recipient, found 2");
    free(b);
}

static void encrypt_with_callers_spki(void **state)
{
    (void)state;
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(g_rsa2048, &spki);
    uint8_t *blob = NULL, *out = NULL;
    size_t blob_len, out_len;
    struct cl_error err = {0};
    assert_int_equal(cms_envelope_encrypt_spki(g_rsa2048, spki, (size_t)spki_len, (const uint8_t *)"abc", 3,
                                               &blob, &blob_len, &err), 0);
    struct cms_envelope e;
    assert_int_equal(cms_envelope_parse(blob, blob_len, &e, &err), 0);
    uint8_t digest[32];
    EVP_Digest(spki, (size_t)spki_len, digest, NULL, EVP_sha256(), NULL);
    assert_memory_equal(e.ski, digest, 32);
    cms_envelope_clear(&e);
    assert_int_equal(cms_envelope_decrypt(g_rsa2048, blob, blob_len, &out, &out_len, &err), 0);
    assert_int_equal(out_len, 3);
    assert_memory_equal(out, "abc", 3);
    free(out);
    free(blob);
    blob = NULL;
    assert_int_equal(cms_envelope_encrypt_spki(g_rsa2048, spki, 0, (const uint8_t *)"abc", 3, &blob, &blob_len, &err),
                     CL_EINVAL);
    assert_string_equal(err.reason, "bad SubjectPublicKeyInfo length");
    assert_null(blob);
    OPENSSL_free(spki);
}

/* Our output is KMS's bytes (testdata/kms/input_ber.bin) but for the random
 * and key-dependent parts: same length for the same sizes, same tags, same
 * lengths, same algorithm identifiers (sha256 with NULL parameters), one
 * content chunk. */
static void same_bytes_as_kms_but_random_parts(void **state)
{
    (void)state;
    size_t kms_len;
    uint8_t *kms = testdata("input_ber.bin", &kms_len);
    uint8_t pt[40];
    memset(pt, 0x5a, sizeof(pt)); /* 40 bytes pad to 48, the sample's content length */
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    struct cl_error err = {0};
    assert_int_equal(cms_envelope_encrypt(g_rsa2048, pt, sizeof(pt), &blob, &blob_len, &err), 0);
    assert_int_equal(blob_len, kms_len);
    /* Offsets from `openssl asn1parse -i -in input_ber.bin`. */
    static const struct { size_t off, len; } random_parts[] = {
        {33, 32},   /* rid [0] subjectKeyIdentifier */
        {131, 256}, /* encryptedKey */
        {415, 16},  /* aes-256-cbc IV */
        {435, 48},  /* the one encryptedContent chunk */
    };
    size_t at = 0;
    for (size_t i = 0; i < sizeof(random_parts) / sizeof(random_parts[0]); i++) {
        assert_memory_equal(blob + at, kms + at, random_parts[i].off - at);
        at = random_parts[i].off + random_parts[i].len;
    }
    assert_memory_equal(blob + at, kms + at, kms_len - at);
    free(blob);
    free(kms);
}

/* OpenSSL's own CMS implementation opens what we write (as `openssl cms
 * -decrypt` does in test_kms_recipient.py). */
static void openssl_cms_decrypts_it(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 16, 32, 4096};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t *pt = malloc(lens[i] + 1);
        for (size_t j = 0; j < lens[i]; j++)
            pt[j] = (uint8_t)(j * 13 + 1);
        uint8_t *blob = NULL;
        size_t blob_len = 0;
        struct cl_error err = {0};
        assert_int_equal(cms_envelope_encrypt(g_rsa2048, pt, lens[i], &blob, &blob_len, &err), 0);
        const unsigned char *p = blob;
        CMS_ContentInfo *ci = d2i_CMS_ContentInfo(NULL, &p, (long)blob_len);
        assert_non_null(ci);
        assert_ptr_equal(p, blob + blob_len);
        BIO *out = BIO_new(BIO_s_mem());
        assert_int_equal(CMS_decrypt(ci, g_rsa2048, NULL, NULL, out, CMS_BINARY), 1);
        char *data;
        long n = BIO_get_mem_data(out, &data);
        assert_int_equal((size_t)n, lens[i]);
        if (lens[i])
            assert_memory_equal(data, pt, lens[i]);
        /* and not with another key (CMS_DEBUG_DECRYPT: fail at the unwrap
         * instead of going on with a random key, OpenSSL's MMA defence) */
        BIO_free(out);
        out = BIO_new(BIO_s_mem());
        assert_int_equal(CMS_decrypt(ci, g_rsa2048_other, NULL, NULL, out,
                                     CMS_BINARY | CMS_DEBUG_DECRYPT), 0);
        ERR_clear_error();
        BIO_free(out);
        CMS_ContentInfo_free(ci);
        free(blob);
        free(pt);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_kms_samples_parse),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(refuses_bad_keys),
        cmocka_unit_test(refuses_truncated_and_trailing),
        cmocka_unit_test(refuses_wrong_versions_and_types),
        cmocka_unit_test(refuses_other_cms_shapes),
        cmocka_unit_test(encrypt_with_callers_spki),
        cmocka_unit_test(same_bytes_as_kms_but_random_parts),
        cmocka_unit_test(openssl_cms_decrypts_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
