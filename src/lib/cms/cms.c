/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CiphertextForRecipient (docs/kms-policy.md, "CiphertextForRecipient").
 *
 * Encoding goes through OpenSSL's ASN.1 template encoder with templates
 * marking the layers KMS writes with indefinite lengths, a key-id recipient
 * (RFC 5652 §6.2.1 rid [0] subjectKeyIdentifier, so KeyTransRecipientInfo
 * and EnvelopedData are version 2), RSA-OAEP through EVP_PKEY_encrypt and
 * AES-256-CBC through EVP (see "Encoding" for why not the CMS API).
 *
 * Decoding goes through OpenSSL's ASN.1 template decoder (BER: indefinite
 * lengths and constructed OCTET STRINGs are accepted, DER too), with
 * templates restricted to what KMS emits, so anything else (another
 * RecipientInfo choice, originatorInfo, unprotectedAttrs) fails to decode.
 * OpenSSL's CMS API has no accessor for a KeyTransRecipientInfo's
 * encryptedKey, hence the templates.
 */
#include "cms/cms.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
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

/*
 * The same structures for writing, with indefinite lengths exactly where
 * KMS's responses have them (testdata/kms/input_ber.bin): ContentInfo, its
 * [0], EnvelopedData, EncryptedContentInfo and the [0] encryptedContent,
 * which is a constructed OCTET STRING (X.690 §8.7.3.2) holding one
 * primitive chunk - encoded here as an IMPLICIT [0] SEQUENCE OF OCTET
 * STRING with indefinite length, which is the same bytes. RecipientInfos
 * stay definite (DER), as in KMS's.
 *
 * Why not OpenSSL's CMS API: it takes the recipient as a certificate, which
 * makes OpenSSL 3.0 encode and decode the RSA key through its providers
 * several times per call (~0.5-1 ms, more than the attestation document's
 * ECDSA P-384 verification); encoding the structure directly and calling
 * EVP_PKEY_encrypt costs the RSA-OAEP operation and little else. The output
 * is what the CMS API with CMS_USE_KEYID | CMS_STREAM wrote, byte for byte
 * in its structure, except that it now matches KMS's own bytes in two
 * places: the sha256 AlgorithmIdentifiers carry NULL parameters and the
 * content is one chunk (tests/unit/cms/cms_test.c compares the skeleton with
 * the KMS sample and opens the output with OpenSSL's CMS_decrypt).
 */
DEFINE_STACK_OF(ASN1_OCTET_STRING)

typedef struct {
    ASN1_OBJECT *type;
    X509_ALGOR *alg;
    STACK_OF(ASN1_OCTET_STRING) *chunks;
} KMS_ECI_OUT;

ASN1_NDEF_SEQUENCE(KMS_ECI_OUT) = {
    ASN1_SIMPLE(KMS_ECI_OUT, type, ASN1_OBJECT),
    ASN1_SIMPLE(KMS_ECI_OUT, alg, X509_ALGOR),
    ASN1_IMP_EX(KMS_ECI_OUT, chunks, ASN1_OCTET_STRING, 0, ASN1_TFLG_SEQUENCE_OF | ASN1_TFLG_NDEF),
} static_ASN1_NDEF_SEQUENCE_END(KMS_ECI_OUT)

typedef struct {
    ASN1_INTEGER *version;
    STACK_OF(KMS_KTRI) *ris;
    KMS_ECI_OUT *eci;
} KMS_ENV_OUT;

ASN1_NDEF_SEQUENCE(KMS_ENV_OUT) = {
    ASN1_SIMPLE(KMS_ENV_OUT, version, ASN1_INTEGER),
    ASN1_SET_OF(KMS_ENV_OUT, ris, KMS_KTRI),
    ASN1_SIMPLE(KMS_ENV_OUT, eci, KMS_ECI_OUT),
} static_ASN1_NDEF_SEQUENCE_END(KMS_ENV_OUT)

typedef struct {
    ASN1_OBJECT *type;
    KMS_ENV_OUT *env;
} KMS_CI_OUT;

ASN1_NDEF_SEQUENCE(KMS_CI_OUT) = {
    ASN1_SIMPLE(KMS_CI_OUT, type, ASN1_OBJECT),
    ASN1_NDEF_EXP(KMS_CI_OUT, env, KMS_ENV_OUT, 0),
} static_ASN1_NDEF_SEQUENCE_END(KMS_CI_OUT)

/* keyEncryptionAlgorithm as KMS sends it (input_ber.bin, offset 65):
 * rsaesOaep { [0] sha256 NULL, [1] mgf1 { sha256 NULL } }, no pSourceFunc
 * (RFC 8017 A.2.1, RFC 4055 §4.1). */
static const uint8_t OAEP_SHA256_ALG[] = {
    0x30, 0x3c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07, 0x30, 0x2f,
    0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
    0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    0x05, 0x00,
};

/* Largest plaintext we wrap: far above KMS's (4096 bytes, or a PKCS#8 RSA-4096
 * private key), well inside int arithmetic. */
#define CMS_PLAINTEXT_MAX (1u << 20)

/* RSAES-OAEP(SHA-256, MGF1-SHA-256, empty label) of cek to pub into ek. */
static int oaep_wrap(EVP_PKEY *pub, const uint8_t *cek, size_t cek_len, uint8_t *ek,
                     size_t *ek_len, struct cl_error *err)
{
    int rc = 0;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(pub, NULL);
    size_t need = 0;
    if (!pctx || EVP_PKEY_encrypt_init(pctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_encrypt(pctx, NULL, &need, cek, cek_len) <= 0) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot set up the OAEP recipient");
        goto out;
    }
    if (need > *ek_len) {
        rc = cl_fail(err, CL_EINVAL, "the recipient key is too large");
        goto out;
    }
    if (EVP_PKEY_encrypt(pctx, ek, ek_len, cek, cek_len) <= 0) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "RSA-OAEP encryption failed");
        goto out;
    }
out:
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

/* AES-256-CBC with PKCS#7 padding (RFC 5652 §6.3) of pt into ct (room for len + 16). */
static int cbc_encrypt(const uint8_t key[32], const uint8_t iv[16], const uint8_t *pt, size_t len,
                       uint8_t *ct, size_t *ct_len, struct cl_error *err)
{
    int rc = 0, n1 = 0, n2 = 0;
    EVP_CIPHER_CTX *cctx = EVP_CIPHER_CTX_new();
    if (!cctx || !EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key, iv) ||
        !EVP_EncryptUpdate(cctx, ct, &n1, pt, (int)len) ||
        !EVP_EncryptFinal_ex(cctx, ct + n1, &n2)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "AES-256-CBC failed");
        goto out;
    }
    *ct_len = (size_t)n1 + (size_t)n2;
out:
    EVP_CIPHER_CTX_free(cctx);
    return rc;
}

int cms_envelope_encrypt(EVP_PKEY *pub, const uint8_t *plaintext, size_t len, uint8_t **out,
                         size_t *out_len, struct cl_error *err)
{
    return cms_envelope_encrypt_spki(pub, NULL, 0, plaintext, len, out, out_len, err);
}

/*
 * The EnvelopedData structure around its parts: one key-id recipient with
 * RSAES-OAEP-SHA256, AES-256-CBC with iv, and the ciphertext as one chunk
 * of the indefinite-length content. Takes *ct (OPENSSL_malloc'd) in every
 * case.
 */
static int assemble(const uint8_t ski[CMS_SKI_LEN], const uint8_t *ek, size_t ek_len,
                    const uint8_t iv[16], uint8_t **ct, size_t ct_len, KMS_CI_OUT **out,
                    struct cl_error *err)
{
    int rc = 0;
    KMS_CI_OUT *ci = (KMS_CI_OUT *)ASN1_item_new(ASN1_ITEM_rptr(KMS_CI_OUT));
    KMS_KTRI *ri = (KMS_KTRI *)ASN1_item_new(ASN1_ITEM_rptr(KMS_KTRI));
    ASN1_OCTET_STRING *ivs = ASN1_OCTET_STRING_new(), *chunk = ASN1_OCTET_STRING_new();
    if (!ci || !ri || !ivs || !chunk) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    const unsigned char *p = OAEP_SHA256_ALG;
    X509_ALGOR *kea = d2i_X509_ALGOR(NULL, &p, sizeof(OAEP_SHA256_ALG));
    if (!kea) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot decode the RSAES-OAEP AlgorithmIdentifier");
        goto out;
    }
    X509_ALGOR_free(ri->kea);
    ri->kea = kea;
    /* RFC 5652 §6.1/§6.2.1: version 2 for both, since rid is a subjectKeyIdentifier. */
    ci->type = OBJ_nid2obj(NID_pkcs7_enveloped);
    ci->env->eci->type = OBJ_nid2obj(NID_pkcs7_data);
    if (!ASN1_INTEGER_set(ci->env->version, 2) || !ASN1_INTEGER_set(ri->version, 2) ||
        !ASN1_OCTET_STRING_set(ri->ski, ski, CMS_SKI_LEN) ||
        !ASN1_OCTET_STRING_set(ri->ek, ek, (int)ek_len) ||
        !ASN1_OCTET_STRING_set(ivs, iv, 16) ||
        !X509_ALGOR_set0(ci->env->eci->alg, OBJ_nid2obj(NID_aes_256_cbc), V_ASN1_OCTET_STRING, ivs)) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    ivs = NULL; /* owned by the AlgorithmIdentifier */
    if (!sk_KMS_KTRI_push(ci->env->ris, ri)) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    ri = NULL;
    ASN1_STRING_set0(chunk, *ct, (int)ct_len);
    *ct = NULL; /* owned by the chunk (ciphertext, nothing to wipe) */
    if (!sk_ASN1_OCTET_STRING_push(ci->env->eci->chunks, chunk)) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    chunk = NULL;
    *out = ci;
    ci = NULL;
out:
    OPENSSL_free(*ct);
    *ct = NULL;
    ASN1_OCTET_STRING_free(ivs);
    ASN1_OCTET_STRING_free(chunk);
    ASN1_item_free((ASN1_VALUE *)ri, ASN1_ITEM_rptr(KMS_KTRI));
    ASN1_item_free((ASN1_VALUE *)ci, ASN1_ITEM_rptr(KMS_CI_OUT));
    return rc;
}

/* ASN1_item_ndef_i2d: indefinite lengths where the templates say NDEF. */
static int encode_ndef(KMS_CI_OUT *ci, uint8_t **out, size_t *out_len, struct cl_error *err)
{
    int n = ASN1_item_ndef_i2d((ASN1_VALUE *)ci, NULL, ASN1_ITEM_rptr(KMS_CI_OUT));
    if (n <= 0 || n > (int)CMS_PLAINTEXT_MAX + 8192)
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the CMS EnvelopedData");
    uint8_t *buf = malloc((size_t)n);
    if (!buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    unsigned char *w = buf;
    if (ASN1_item_ndef_i2d((ASN1_VALUE *)ci, &w, ASN1_ITEM_rptr(KMS_CI_OUT)) != n ||
        w != buf + n) {
        free(buf);
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the CMS EnvelopedData");
    }
    *out = buf;
    *out_len = (size_t)n;
    return 0;
}

int cms_envelope_encrypt_spki(EVP_PKEY *pub, const uint8_t *spki, size_t spki_len,
                              const uint8_t *plaintext, size_t len, uint8_t **out, size_t *out_len,
                              struct cl_error *err)
{
    int rc = 0;
    uint8_t cek[32], iv[16], ski[CMS_SKI_LEN], ek[512];
    size_t ek_len = sizeof(ek), ct_len = 0;
    uint8_t *ct = NULL;
    unsigned char *own_spki = NULL;
    KMS_CI_OUT *ci = NULL;
    *out = NULL;
    *out_len = 0;

    if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
        return cl_fail(err, CL_EINVAL, "the recipient key is not an RSA key");
    if (!plaintext && len)
        return cl_fail(err, CL_EINVAL, "no plaintext");
    if (len > CMS_PLAINTEXT_MAX)
        return cl_fail(err, CL_ELIMIT, "plaintext too large (%zu bytes)", len);
    if (spki && (spki_len == 0 || spki_len > 4096))
        return cl_fail(err, CL_EINVAL, "bad SubjectPublicKeyInfo length");
    if (!spki) {
        int n = i2d_PUBKEY(pub, &own_spki);
        if (n <= 0) {
            rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the recipient key");
            goto out;
        }
        spki = own_spki;
        spki_len = (size_t)n;
    }
    /* SKI = SHA-256(SPKI DER): 32 bytes like KMS's (how KMS derives its
     * identifier is not published; no known consumer checks it). */
    if (!EVP_Digest(spki, spki_len, ski, NULL, EVP_sha256(), NULL)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "SHA-256 failed");
        goto out;
    }
    /* A fresh content-encryption key and IV per message (RFC 5652 §6.3). */
    if (RAND_priv_bytes(cek, sizeof(cek)) != 1 || RAND_bytes(iv, sizeof(iv)) != 1) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "no random bytes");
        goto out;
    }
    if ((rc = oaep_wrap(pub, cek, sizeof(cek), ek, &ek_len, err)) < 0)
        goto out;
    ct = OPENSSL_malloc(len + 16);
    if (!ct) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = cbc_encrypt(cek, iv, plaintext ? plaintext : (const uint8_t *)"", len, ct, &ct_len,
                          err)) < 0)
        goto out;
    if ((rc = assemble(ski, ek, ek_len, iv, &ct, ct_len, &ci, err)) < 0)
        goto out;
    rc = encode_ndef(ci, out, out_len, err);
out:
    OPENSSL_cleanse(cek, sizeof(cek));
    OPENSSL_free(ct);
    OPENSSL_free(own_spki);
    ASN1_item_free((ASN1_VALUE *)ci, ASN1_ITEM_rptr(KMS_CI_OUT));
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
