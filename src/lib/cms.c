/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CiphertextForRecipient (research/kms.md §1.4 and Addendum).
 *
 * Encoding goes through OpenSSL's CMS API: a key-id recipient (RFC 5652
 * §6.2.1 rid [0] subjectKeyIdentifier, so KeyTransRecipientInfo and
 * EnvelopedData are version 2) with streaming output, which writes the
 * indefinite-length outer layers of KMS's responses; OAEP parameters are set
 * on the recipient's key context.
 *
 * Decoding goes through OpenSSL's ASN.1 template decoder (BER: indefinite
 * lengths and constructed OCTET STRINGs are accepted, DER too), with
 * templates restricted to what KMS emits, so anything else (another
 * RecipientInfo choice, originatorInfo, unprotectedAttrs) fails to decode.
 * OpenSSL's CMS API has no accessor for a KeyTransRecipientInfo's
 * encryptedKey, hence the templates.
 */
#include "cms.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------------------ */
/* Templates (RFC 5652 §3, §6.1, §6.2.1).                                    */

typedef struct {
    ASN1_INTEGER *version;
    ASN1_OCTET_STRING *ski; /* rid [0] IMPLICIT SubjectKeyIdentifier */
    X509_ALGOR *kea;
    ASN1_OCTET_STRING *ek;
} KMS_KTRI;

ASN1_SEQUENCE(KMS_KTRI) = {
    ASN1_SIMPLE(KMS_KTRI, version, ASN1_INTEGER),
    ASN1_IMP(KMS_KTRI, ski, ASN1_OCTET_STRING, 0),
    ASN1_SIMPLE(KMS_KTRI, kea, X509_ALGOR),
    ASN1_SIMPLE(KMS_KTRI, ek, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(KMS_KTRI)

typedef struct {
    ASN1_OBJECT *type;
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *content; /* [0] IMPLICIT, optional */
} KMS_ECI;

ASN1_SEQUENCE(KMS_ECI) = {
    ASN1_SIMPLE(KMS_ECI, type, ASN1_OBJECT),
    ASN1_SIMPLE(KMS_ECI, alg, X509_ALGOR),
    ASN1_IMP_OPT(KMS_ECI, content, ASN1_OCTET_STRING, 0),
} static_ASN1_SEQUENCE_END(KMS_ECI)

DEFINE_STACK_OF(KMS_KTRI)

typedef struct {
    ASN1_INTEGER *version;
    STACK_OF(KMS_KTRI) *ris;
    KMS_ECI *eci;
} KMS_ENV;

ASN1_SEQUENCE(KMS_ENV) = {
    ASN1_SIMPLE(KMS_ENV, version, ASN1_INTEGER),
    ASN1_SET_OF(KMS_ENV, ris, KMS_KTRI),
    ASN1_SIMPLE(KMS_ENV, eci, KMS_ECI),
} static_ASN1_SEQUENCE_END(KMS_ENV)

typedef struct {
    ASN1_OBJECT *type;
    KMS_ENV *env;
} KMS_CI;

ASN1_SEQUENCE(KMS_CI) = {
    ASN1_SIMPLE(KMS_CI, type, ASN1_OBJECT),
    ASN1_EXP(KMS_CI, env, KMS_ENV, 0),
} static_ASN1_SEQUENCE_END(KMS_CI)

/* ------------------------------------------------------------------------ */
/* Encoding.                                                                 */

/* The key that signs the throwaway recipient certificates: OpenSSL only
 * reads a certificate's extensions (the SKI) once the certificate encodes
 * completely, signature included. Ed25519: the cheapest signature. Made once. */
static EVP_PKEY *g_cert_signer;
static pthread_once_t g_cert_signer_once = PTHREAD_ONCE_INIT;

static void make_cert_signer(void)
{
    g_cert_signer = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

/* A throwaway certificate around pub carrying our SKI: OpenSSL's CMS API
 * takes recipients as certificates and, with CMS_USE_KEYID, identifies them
 * by the subjectKeyIdentifier extension. It never leaves this function's
 * caller. */
static int recipient_cert(EVP_PKEY *pub, const uint8_t *spki_der, size_t spki_der_len, X509 **out,
                          struct cl_error *err)
{
    int rc = 0;
    X509 *x = NULL;
    ASN1_OCTET_STRING *ski = NULL;
    unsigned char *spki = NULL;
    uint8_t digest[32];
    *out = NULL;

    /* Encoding a key costs OpenSSL 3.0 ~0.1 ms: use the caller's DER when given. */
    int spki_len;
    if (spki_der) {
        spki_len = (int)spki_der_len;
    } else {
        spki_len = i2d_PUBKEY(pub, &spki);
        if (spki_len <= 0) {
            rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the recipient key");
            goto out;
        }
    }
    /* SKI = SHA-256(SPKI DER): 32 bytes like KMS's (research §1.4: KMS's
     * derivation is unconfirmed; no known consumer checks it). */
    if (!EVP_Digest(spki_der ? spki_der : spki, (size_t)spki_len, digest, NULL, EVP_sha256(), NULL)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "SHA-256 failed");
        goto out;
    }
    x = X509_new();
    ski = ASN1_OCTET_STRING_new();
    if (!x || !ski || !ASN1_OCTET_STRING_set(ski, digest, sizeof(digest)) ||
        !X509_set_version(x, X509_VERSION_3) || !X509_set_pubkey(x, pub) ||
        !X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_DEFAULT) ||
        pthread_once(&g_cert_signer_once, make_cert_signer) != 0 || !g_cert_signer ||
        !X509_sign(x, g_cert_signer, NULL)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot build the recipient certificate");
        goto out;
    }
    *out = x;
    x = NULL;
out:
    OPENSSL_free(spki);
    ASN1_OCTET_STRING_free(ski);
    X509_free(x);
    return rc;
}

int cms_envelope_encrypt(EVP_PKEY *pub, const uint8_t *plaintext, size_t len, uint8_t **out,
                         size_t *out_len, struct cl_error *err)
{
    return cms_envelope_encrypt_spki(pub, NULL, 0, plaintext, len, out, out_len, err);
}

int cms_envelope_encrypt_spki(EVP_PKEY *pub, const uint8_t *spki, size_t spki_len,
                              const uint8_t *plaintext, size_t len, uint8_t **out, size_t *out_len,
                              struct cl_error *err)
{
    int rc = 0;
    X509 *cert = NULL;
    CMS_ContentInfo *cms = NULL;
    BIO *in = NULL, *mem = NULL;
    *out = NULL;
    *out_len = 0;

    if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
        return cl_fail(err, CL_EINVAL, "the recipient key is not an RSA key");
    if (!plaintext && len)
        return cl_fail(err, CL_EINVAL, "no plaintext");
    if (spki && (spki_len == 0 || spki_len > 4096))
        return cl_fail(err, CL_EINVAL, "bad SubjectPublicKeyInfo length");
    rc = recipient_cert(pub, spki, spki_len, &cert, err);
    if (rc < 0)
        goto out;

    const unsigned flags = CMS_USE_KEYID | CMS_STREAM | CMS_BINARY | CMS_PARTIAL;
    cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), flags);
    if (!cms) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "CMS_encrypt failed");
        goto out;
    }
    /* CMS_KEY_PARAM: leave the key context for us to set OAEP (RFC 8017
     * RSAES-OAEP, SHA-256, MGF1-SHA-256, empty label: research §1.4). */
    CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, cert, CMS_USE_KEYID | CMS_KEY_PARAM);
    EVP_PKEY_CTX *pctx = ri ? CMS_RecipientInfo_get0_pkey_ctx(ri) : NULL;
    if (!pctx || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot set up the OAEP recipient");
        goto out;
    }
    in = BIO_new_mem_buf(plaintext ? (const void *)plaintext : (const void *)"", (int)len);
    mem = BIO_new(BIO_s_mem());
    if (!in || !mem) {
        rc = cl_fail_openssl(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    /* Streaming output = BER with indefinite lengths (the KMS shape). */
    if (!i2d_CMS_bio_stream(mem, cms, in, flags)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the CMS EnvelopedData");
        goto out;
    }
    char *data;
    long n = BIO_get_mem_data(mem, &data);
    if (n <= 0) {
        rc = cl_fail(err, CL_ECRYPTO, "empty CMS output");
        goto out;
    }
    *out = malloc((size_t)n);
    if (!*out) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*out, data, (size_t)n);
    *out_len = (size_t)n;
out:
    BIO_free(in);
    BIO_free(mem);
    CMS_ContentInfo_free(cms);
    X509_free(cert);
    ERR_clear_error();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Decoding.                                                                 */

static bool algor_is(const X509_ALGOR *a, int nid)
{
    const ASN1_OBJECT *obj;
    X509_ALGOR_get0(&obj, NULL, NULL, a);
    return OBJ_obj2nid(obj) == nid;
}

/* sha256 AlgorithmIdentifier: parameters absent or NULL (RFC 5754 §2). */
static bool algor_is_sha256(const X509_ALGOR *a)
{
    int ptype;
    const void *pval;
    const ASN1_OBJECT *obj;
    X509_ALGOR_get0(&obj, &ptype, &pval, a);
    return OBJ_obj2nid(obj) == NID_sha256 && (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL);
}

/* rsaesOaep with RSAES-OAEP-params {sha256, mgf1(sha256)} (RFC 8017 A.2.1;
 * absent fields would mean SHA-1, which KMS never uses). */
static int check_oaep(const X509_ALGOR *kea, struct cl_error *err)
{
    int ptype;
    const void *pval;
    const ASN1_OBJECT *obj;
    int rc = 0;
    RSA_OAEP_PARAMS *oaep = NULL;
    X509_ALGOR *mgf_hash = NULL;
    X509_ALGOR_get0(&obj, &ptype, &pval, kea);
    if (OBJ_obj2nid(obj) != NID_rsaesOaep)
        return cl_fail(err, CL_EUNSUPPORTED, "key encryption algorithm is not RSAES-OAEP");
    if (ptype != V_ASN1_SEQUENCE)
        return cl_fail(err, CL_EUNSUPPORTED, "RSAES-OAEP without parameters (SHA-1) is not supported");
    oaep = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_OAEP_PARAMS), kea->parameter);
    if (!oaep) {
        rc = cl_fail(err, CL_EFORMAT, "malformed RSAES-OAEP parameters");
        goto out;
    }
    if (!oaep->hashFunc || !algor_is_sha256(oaep->hashFunc)) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "RSAES-OAEP hash is not SHA-256");
        goto out;
    }
    if (!oaep->maskGenFunc || !algor_is(oaep->maskGenFunc, NID_mgf1) ||
        !oaep->maskGenFunc->parameter ||
        oaep->maskGenFunc->parameter->type != V_ASN1_SEQUENCE ||
        !(mgf_hash = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
                                               oaep->maskGenFunc->parameter)) ||
        !algor_is_sha256(mgf_hash)) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "RSAES-OAEP mask generation is not MGF1 with SHA-256");
        goto out;
    }
    if (oaep->pSourceFunc) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "RSAES-OAEP with a label is not supported");
        goto out;
    }
out:
    X509_ALGOR_free(mgf_hash);
    RSA_OAEP_PARAMS_free(oaep);
    return rc;
}

static int dup_bytes(const ASN1_OCTET_STRING *s, uint8_t **out, size_t *len, struct cl_error *err)
{
    int n = ASN1_STRING_length(s);
    *out = malloc(n > 0 ? (size_t)n : 1);
    if (!*out)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    if (n > 0)
        memcpy(*out, ASN1_STRING_get0_data(s), (size_t)n);
    *len = (size_t)n;
    return 0;
}

void cms_envelope_clear(struct cms_envelope *e)
{
    if (!e)
        return;
    free(e->ski);
    free(e->encrypted_key);
    free(e->ciphertext);
    memset(e, 0, sizeof(*e));
}

static bool integer_is(const ASN1_INTEGER *i, long v)
{
    int64_t got;
    return ASN1_INTEGER_get_int64(&got, i) == 1 && got == v;
}

int cms_envelope_parse(const uint8_t *buf, size_t len, struct cms_envelope *out,
                       struct cl_error *err)
{
    int rc = 0;
    KMS_CI *ci = NULL;
    memset(out, 0, sizeof(*out));
    if (!buf || len == 0)
        return cl_fail(err, CL_EFORMAT, "empty CMS message");
    if (len > CMS_RECIPIENT_MAX_BYTES * 4)
        return cl_fail(err, CL_ELIMIT, "CMS message too large (%zu bytes)", len);

    const unsigned char *p = buf;
    ci = (KMS_CI *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(KMS_CI));
    if (!ci) {
        /* OpenSSL's reason names template internals; ours is the contract. */
        rc = cl_fail(err, CL_EFORMAT, "not a CMS EnvelopedData with one key-id RSA recipient");
        goto out;
    }
    if ((size_t)(p - buf) != len) {
        rc = cl_fail(err, CL_EFORMAT, "%zu trailing bytes after the CMS message",
                     len - (size_t)(p - buf));
        goto out;
    }
    if (OBJ_obj2nid(ci->type) != NID_pkcs7_enveloped) {
        rc = cl_fail(err, CL_EFORMAT, "contentType is not envelopedData");
        goto out;
    }
    KMS_ENV *env = ci->env;
    /* RFC 5652 §6.1: version 2 when a recipient is identified by key id. */
    if (!integer_is(env->version, 2)) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "EnvelopedData version is not 2");
        goto out;
    }
    if (sk_KMS_KTRI_num(env->ris) != 1) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "expected exactly one recipient, found %d",
                     sk_KMS_KTRI_num(env->ris));
        goto out;
    }
    KMS_KTRI *ri = sk_KMS_KTRI_value(env->ris, 0);
    if (!integer_is(ri->version, 2)) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "KeyTransRecipientInfo version is not 2");
        goto out;
    }
    rc = check_oaep(ri->kea, err);
    if (rc < 0)
        goto out;
    if (ASN1_STRING_length(ri->ek) < 1 || ASN1_STRING_length(ri->ek) > 1024) {
        rc = cl_fail(err, CL_EFORMAT, "bad encryptedKey length %d", ASN1_STRING_length(ri->ek));
        goto out;
    }
    KMS_ECI *eci = env->eci;
    if (OBJ_obj2nid(eci->type) != NID_pkcs7_data) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "encrypted content type is not id-data");
        goto out;
    }
    int ptype;
    const void *pval;
    const ASN1_OBJECT *obj;
    X509_ALGOR_get0(&obj, &ptype, &pval, eci->alg);
    if (OBJ_obj2nid(obj) != NID_aes_256_cbc) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "content encryption is not AES-256-CBC");
        goto out;
    }
    if (ptype != V_ASN1_OCTET_STRING || ASN1_STRING_length((const ASN1_STRING *)pval) != 16) {
        rc = cl_fail(err, CL_EFORMAT, "AES-256-CBC IV is not a 16-byte OCTET STRING");
        goto out;
    }
    memcpy(out->iv, ASN1_STRING_get0_data((const ASN1_STRING *)pval), 16);
    if (!eci->content) {
        rc = cl_fail(err, CL_EFORMAT, "no encrypted content");
        goto out;
    }
    int clen = ASN1_STRING_length(eci->content);
    if (clen < 16 || clen % 16) {
        rc = cl_fail(err, CL_EFORMAT, "encrypted content length %d is not a positive multiple of 16",
                     clen);
        goto out;
    }
    if ((rc = dup_bytes(ri->ski, &out->ski, &out->ski_len, err)) < 0 ||
        (rc = dup_bytes(ri->ek, &out->encrypted_key, &out->encrypted_key_len, err)) < 0 ||
        (rc = dup_bytes(eci->content, &out->ciphertext, &out->ciphertext_len, err)) < 0)
        goto out;
out:
    if (rc < 0)
        cms_envelope_clear(out);
    ASN1_item_free((ASN1_VALUE *)ci, ASN1_ITEM_rptr(KMS_CI));
    ERR_clear_error();
    return rc;
}

int cms_envelope_decrypt(EVP_PKEY *priv, const uint8_t *buf, size_t len, uint8_t **plaintext,
                         size_t *plaintext_len, struct cl_error *err)
{
    struct cms_envelope e;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_CIPHER_CTX *cctx = NULL;
    uint8_t key[512]; /* the provider wants room for a whole RSA block */
    size_t key_len = sizeof(key);
    uint8_t *pt = NULL;
    int rc;
    *plaintext = NULL;
    *plaintext_len = 0;

    if (!priv || EVP_PKEY_get_base_id(priv) != EVP_PKEY_RSA)
        return cl_fail(err, CL_EINVAL, "the private key is not an RSA key");
    rc = cms_envelope_parse(buf, len, &e, err);
    if (rc < 0)
        return rc;
    pctx = EVP_PKEY_CTX_new(priv, NULL);
    if (!pctx || EVP_PKEY_decrypt_init(pctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot set up RSA-OAEP");
        goto out;
    }
    if ((size_t)EVP_PKEY_get_size(priv) != e.encrypted_key_len || e.encrypted_key_len > sizeof(key) ||
        EVP_PKEY_decrypt(pctx, key, &key_len, e.encrypted_key, e.encrypted_key_len) <= 0) {
        rc = cl_fail(err, CL_ECRYPTO, "cannot unwrap the content-encryption key");
        goto out;
    }
    if (key_len != 32) {
        rc = cl_fail(err, CL_ECRYPTO, "content-encryption key is %zu bytes, not 32", key_len);
        goto out;
    }
    pt = malloc(e.ciphertext_len);
    cctx = EVP_CIPHER_CTX_new();
    if (!pt || !cctx) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    int n1 = 0, n2 = 0;
    if (!EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key, e.iv) ||
        !EVP_DecryptUpdate(cctx, pt, &n1, e.ciphertext, (int)e.ciphertext_len)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "AES-256-CBC failed");
        goto out;
    }
    if (!EVP_DecryptFinal_ex(cctx, pt + n1, &n2)) {
        rc = cl_fail(err, CL_ECRYPTO, "bad padding");
        goto out;
    }
    *plaintext = pt;
    *plaintext_len = (size_t)(n1 + n2);
    pt = NULL;
out:
    if (pt) {
        OPENSSL_cleanse(pt, e.ciphertext_len);
        free(pt);
    }
    OPENSSL_cleanse(key, sizeof(key));
    EVP_CIPHER_CTX_free(cctx);
    EVP_PKEY_CTX_free(pctx);
    cms_envelope_clear(&e);
    ERR_clear_error();
    return rc;
}
