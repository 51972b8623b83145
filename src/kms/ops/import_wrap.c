/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Import tokens, unwrapping and material checks (import_wrap.h). The
 * wrapping algorithms are AWS's (KMS Developer Guide, "Select a wrapping
 * algorithm"): RSAES_OAEP_SHA_* encrypt the material directly with RSA-OAEP
 * (MGF1 with the same hash); RSA_AES_KEY_WRAP_SHA_* send a 256-bit AES key
 * encrypted with RSA-OAEP followed by the material wrapped with that key by
 * AES Key Wrap with Padding (RFC 5649).
 */
#include "ops/import_wrap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ops/keyspec.h"
#include "util/kmsutil.h"

#define TOKEN_VERSION 1
#define TOKEN_AAD     "cloister-kms/import-token/v1"
#define TOKEN_HEAD    (36 + 8 + 1) /* key id, valid-to, algorithm */
#define AES_KEY_BYTES 32

int wrap_alg_parse(const char *name, enum wrap_alg *out)
{
    static const char *const NAMES[] = { [WRAP_RSAES_OAEP_SHA_1] = "RSAES_OAEP_SHA_1",
                                         [WRAP_RSAES_OAEP_SHA_256] = "RSAES_OAEP_SHA_256",
                                         [WRAP_RSA_AES_KEY_WRAP_SHA_1] = "RSA_AES_KEY_WRAP_SHA_1",
                                         [WRAP_RSA_AES_KEY_WRAP_SHA_256] =
                                             "RSA_AES_KEY_WRAP_SHA_256" };
    for (int i = WRAP_RSAES_OAEP_SHA_1; i <= WRAP_RSA_AES_KEY_WRAP_SHA_256; i++)
        if (!strcmp(name, NAMES[i])) {
            *out = (enum wrap_alg)i;
            return 0;
        }
    return CL_EUNSUPPORTED;
}

void import_token_clear(struct import_token *t)
{
    EVP_PKEY_free(t->wrapping);
    memset(t, 0, sizeof(*t));
}

int import_token_make(struct store *st, const char *key_id, double valid_to, enum wrap_alg alg,
                      EVP_PKEY *wrapping, uint8_t **out, size_t *len, struct cl_error *err)
{
    *out = NULL;
    uint8_t *der = NULL;
    size_t dlen = 0;
    if (der_pkcs8(wrapping, &der, &dlen) < 0)
        return cl_fail_openssl(err, CL_ECRYPTO, "wrapping key does not encode");
    size_t n = TOKEN_HEAD + dlen;
    uint8_t *pt = malloc(n), *sealed = NULL;
    size_t slen = 0;
    int rc = pt ? 0 : cl_fail(err, CL_ENOMEM, "out of memory");
    if (rc == 0) {
        memcpy(pt, key_id, 36);
        uint64_t t = (uint64_t)valid_to;
        for (int i = 0; i < 8; i++)
            pt[36 + i] = (uint8_t)(t >> (56 - 8 * i));
        pt[44] = (uint8_t)alg;
        memcpy(pt + TOKEN_HEAD, der, dlen);
        rc = store_seal(st, TOKEN_AAD, pt, n, &sealed, &slen, err);
    }
    if (rc == 0) {
        *out = malloc(1 + slen);
        if (!*out)
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        (*out)[0] = TOKEN_VERSION;
        memcpy(*out + 1, sealed, slen);
        *len = 1 + slen;
    }
    if (pt)
        OPENSSL_cleanse(pt, n);
    free(pt);
    free(sealed);
    OPENSSL_clear_free(der, dlen);
    return rc;
}

int import_token_read(struct store *st, const uint8_t *tok, size_t len, struct import_token *out,
                      struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    if (len < 2 || tok[0] != TOKEN_VERSION)
        return cl_fail(err, CL_EFORMAT, "not an import token");
    uint8_t *pt = NULL;
    size_t n = 0;
    if (store_unseal(st, TOKEN_AAD, tok + 1, len - 1, &pt, &n, err) < 0) {
        cl_error_prefix(err, "import token does not authenticate");
        return CL_EFORMAT;
    }
    int rc = 0;
    if (n <= TOKEN_HEAD || pt[44] < WRAP_RSAES_OAEP_SHA_1 || pt[44] > WRAP_RSA_AES_KEY_WRAP_SHA_256)
        rc = cl_fail(err, CL_EFORMAT, "import token of a wrong layout");
    if (rc == 0) {
        memcpy(out->key_id, pt, 36);
        uint64_t t = 0;
        for (int i = 0; i < 8; i++)
            t = (t << 8) | pt[36 + i];
        out->valid_to = (double)t;
        out->alg = (enum wrap_alg)pt[44];
        const unsigned char *p = pt + TOKEN_HEAD;
        out->wrapping = d2i_AutoPrivateKey(NULL, &p, (long)(n - TOKEN_HEAD));
        if (!out->wrapping)
            rc = cl_fail_openssl(err, CL_EFORMAT, "import token's wrapping key does not parse");
    }
    ku_wipe_free(pt);
    return rc;
}

/* RSA-OAEP decryption with hash md for OAEP and MGF1; *out malloc'd. */
static int oaep_decrypt(EVP_PKEY *pk, const EVP_MD *md, const uint8_t *in, size_t len,
                        uint8_t **out, size_t *out_len, struct cl_error *err)
{
    *out = NULL;
    size_t n = 0;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    int rc = 0;
    if (!ctx || EVP_PKEY_decrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) <= 0 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0 ||
        EVP_PKEY_decrypt(ctx, NULL, &n, in, len) <= 0 || !(*out = malloc(n)) ||
        EVP_PKEY_decrypt(ctx, *out, &n, in, len) <= 0) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "RSA-OAEP decryption failed");
        ku_wipe_free(*out);
        *out = NULL;
    } else {
        *out_len = n;
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* RFC 5649 unwrap with a 256-bit key; *out malloc'd. */
static int kwp_unwrap(const uint8_t key[AES_KEY_BYTES], const uint8_t *in, size_t len,
                      uint8_t **out, size_t *out_len, struct cl_error *err)
{
    *out = NULL;
    /* at least one 64-bit block besides the integrity check value; OpenSSL
     * takes an int length */
    if (len < 16 || len % 8 != 0 || len > 65536)
        return cl_fail(err, CL_ECRYPTO, "AES key wrap of %zu bytes", len);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t *buf = malloc(len + 8);
    int n1 = 0, n2 = 0, rc = 0;
    if (!ctx || !buf)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    if (rc == 0) {
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_wrap_pad(), NULL, key, NULL) != 1 ||
            EVP_DecryptUpdate(ctx, buf, &n1, in, (int)len) != 1 ||
            EVP_DecryptFinal_ex(ctx, buf + n1, &n2) != 1)
            rc = cl_fail_openssl(err, CL_ECRYPTO, "AES key unwrap failed");
    }
    if (rc == 0) {
        *out = buf;
        *out_len = (size_t)(n1 + n2);
    } else if (buf) {
        OPENSSL_cleanse(buf, len + 8);
        free(buf);
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int import_unwrap(EVP_PKEY *wrapping, enum wrap_alg alg, const uint8_t *in, size_t len,
                  uint8_t **out, size_t *out_len, struct cl_error *err)
{
    const EVP_MD *md = (alg == WRAP_RSAES_OAEP_SHA_1 || alg == WRAP_RSA_AES_KEY_WRAP_SHA_1)
                           ? EVP_sha1()
                           : EVP_sha256();
    if (alg == WRAP_RSAES_OAEP_SHA_1 || alg == WRAP_RSAES_OAEP_SHA_256)
        return oaep_decrypt(wrapping, md, in, len, out, out_len, err);
    /* the RSA-OAEP'd AES key is as long as the modulus; the wrapped material follows */
    size_t mod = (size_t)EVP_PKEY_get_size(wrapping);
    if (len <= mod)
        return cl_fail(err, CL_ECRYPTO, "%zu bytes: no wrapped material after the AES key", len);
    uint8_t *aes = NULL;
    size_t alen = 0;
    int rc = oaep_decrypt(wrapping, md, in, mod, &aes, &alen, err);
    if (rc == 0 && alen != AES_KEY_BYTES)
        rc = cl_fail(err, CL_ECRYPTO, "the wrapped AES key has %zu bytes, not 32", alen);
    if (rc == 0)
        rc = kwp_unwrap(aes, in + mod, len - mod, out, out_len, err);
    if (aes)
        OPENSSL_cleanse(aes, alen);
    free(aes);
    return rc;
}

/* The curve of an ECC spec as an OpenSSL NID (0: not an ECC spec). */
static int ecc_nid(const char *spec)
{
    if (!strcmp(spec, "ECC_NIST_P256"))
        return NID_X9_62_prime256v1;
    if (!strcmp(spec, "ECC_NIST_P384"))
        return NID_secp384r1;
    if (!strcmp(spec, "ECC_NIST_P521"))
        return NID_secp521r1;
    if (!strcmp(spec, "ECC_SECG_P256K1"))
        return NID_secp256k1;
    return 0;
}

/* Whether pk is a key of spec (RSA modulus size, or ECC curve). */
static bool private_key_fits(EVP_PKEY *pk, const char *spec)
{
    if (is_rsa_spec(spec))
        return EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA &&
               EVP_PKEY_get_bits(pk) == atoi(spec + strlen("RSA_"));
    char group[64] = "";
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
        return false;
    int nid = OBJ_txt2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    return nid != NID_undef && nid == ecc_nid(spec);
}

/* A PKCS#8 private key of spec, checked (its parts consistent), as DER. */
static int private_material(const char *spec, const uint8_t *m, size_t len, uint8_t **stored,
                            size_t *stored_len, struct cl_error *err)
{
    const unsigned char *p = m;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    EVP_PKEY *pk = p8 && p == m + len ? EVP_PKCS82PKEY(p8) : NULL;
    PKCS8_PRIV_KEY_INFO_free(p8);
    int rc = 0;
    if (!pk) {
        rc = cl_fail(err, CL_EFORMAT, "it is not a DER-encoded PKCS #8 private key");
    } else if (!private_key_fits(pk, spec)) {
        rc = cl_fail(err, CL_EFORMAT, "it is not a private key of key spec %s", spec);
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
        if (!ctx || EVP_PKEY_pairwise_check(ctx) != 1)
            rc = cl_fail(err, CL_EFORMAT, "the private key fails its consistency check");
        EVP_PKEY_CTX_free(ctx);
    }
    unsigned char *der = NULL;
    int n = rc == 0 ? i2d_PrivateKey(pk, &der) : 0;
    if (rc == 0 && n <= 0)
        rc = cl_fail_openssl(err, CL_ECRYPTO, "private key does not encode");
    if (rc == 0) {
        *stored = der;
        *stored_len = (size_t)n;
    }
    EVP_PKEY_free(pk);
    ERR_clear_error();
    return rc;
}

int import_material_check(const char *spec, const uint8_t *m, size_t len, uint8_t **stored,
                          size_t *stored_len, struct cl_error *err)
{
    *stored = NULL;
    size_t min = 0, max = 0;
    if (!strcmp(spec, KEY_SPEC_SYMMETRIC_DEFAULT)) {
        min = max = 32; /* AES-256 */
    } else if (is_hmac_spec(spec)) {
        /* AWS: the spec's length up to the digest's block size (64 or 128 bytes) */
        min = hmac_key_bytes(spec);
        max = min <= 32 ? 64 : 128;
    } else if (is_rsa_spec(spec) || ecc_nid(spec)) {
        return private_material(spec, m, len, stored, stored_len, err);
    } else {
        return cl_fail(err, CL_EFORMAT, "key spec %s takes no imported material", spec);
    }
    if (len < min || len > max)
        return min == max ? cl_fail(err, CL_EFORMAT, "%s key material is %zu bytes, not %zu", spec,
                                    len, min)
                          : cl_fail(err, CL_EFORMAT, "%s key material is %zu bytes, not %zu to %zu",
                                    spec, len, min, max);
    *stored = malloc(len);
    if (!*stored)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    memcpy(*stored, m, len);
    *stored_len = len;
    return 0;
}
