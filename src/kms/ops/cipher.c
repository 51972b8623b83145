/* SPDX-License-Identifier: Apache-2.0 */
/* Encrypting under a key and decrypting a ciphertext (cipher.h). */
#include "ops/cipher.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "call/authorize.h"
#include "call/context.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "state/blob.h"
#include "util/kmsutil.h"

static bool is_rsa_oaep(const char *alg)
{
    return alg && (!strcmp(alg, "RSAES_OAEP_SHA_1") || !strcmp(alg, "RSAES_OAEP_SHA_256"));
}

/* RSA-OAEP with SHA-1 or SHA-256 (asymmetric ENCRYPT_DECRYPT keys). */
static int rsa_oaep(struct call *c, EVP_PKEY *pk, bool enc, const char *alg, const uint8_t *in,
                    size_t n, uint8_t **out, size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    const EVP_MD *md = !strcmp(alg, "RSAES_OAEP_SHA_1") ? EVP_sha1() : EVP_sha256();
    int ok = ctx && (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1;
    size_t len = 0;
    ok = ok && (enc ? EVP_PKEY_encrypt(ctx, NULL, &len, in, n)
                    : EVP_PKEY_decrypt(ctx, NULL, &len, in, n)) == 1;
    uint8_t *buf = ok ? malloc(len) : NULL;
    ok = buf && (enc ? EVP_PKEY_encrypt(ctx, buf, &len, in, n)
                     : EVP_PKEY_decrypt(ctx, buf, &len, in, n)) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        ku_wipe_free(buf);
        ERR_clear_error();
        if (!enc)
            return call_fail(c, "InvalidCiphertextException", "%s", "");
        return call_fail(c, "ValidationException", "Plaintext is too long for %s", alg);
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* The longest plaintext RSA-OAEP takes with this key and hash. */
static size_t rsa_max_plaintext(EVP_PKEY *pk, const char *alg)
{
    size_t mod = (size_t)EVP_PKEY_get_size(pk);
    size_t h = !strcmp(alg, "RSAES_OAEP_SHA_1") ? 20 : 32;
    return mod - 2 * h - 2;
}

int encrypt_with(struct call *c, struct store_key *k, const char *alg, const json_t *ctx,
                 const uint8_t *pt, size_t n, uint8_t **out, size_t *out_len)
{
    char arn[KEY_ARN_MAX];
    key_arn(c, k, arn);
    if (is_symmetric(k)) {
        if (alg && strcmp(alg, KMS_ALG_SYMMETRIC_DEFAULT) != 0)
            return call_fail(c, "InvalidKeyUsageException",
                             "The encryption algorithm %s is not supported by %s.", alg, arn);
        uint8_t *m = NULL;
        size_t mlen = 0;
        if (key_material(c, k, 0, &m, &mlen) < 0)
            return -1;
        char kid[KMS_ID_MAX];
        kms_public_id(k->id, kid, sizeof(kid)); /* the blob names the key id, not its region */
        struct cl_error err = { 0 };
        int rc = blob_seal_key(m, kid, k->current_version, ctx, pt, n, out, out_len, &err);
        ku_wipe_free(m);
        return rc < 0 ? call_fail_internal(c, &err) : 0;
    }
    if (!is_rsa_oaep(alg))
        return call_fail(c, "InvalidKeyUsageException",
                         "The encryption algorithm %s is not supported by %s.",
                         alg ? alg : KMS_ALG_SYMMETRIC_DEFAULT, arn);
    if (ctx && json_object_size(ctx) > 0)
        return call_fail(c, "ValidationException",
                         "EncryptionContext is not supported with asymmetric keys.");
    EVP_PKEY *pk = key_private(c, k);
    if (!pk)
        return -1;
    int rc = 0;
    if (n > rsa_max_plaintext(pk, alg))
        rc = call_fail(c, "ValidationException",
                       "Plaintext of %zu bytes is too long for %s with %s", n, alg, k->key_spec);
    else
        rc = rsa_oaep(c, pk, true, alg, pt, n, out, out_len);
    EVP_PKEY_free(pk);
    return rc;
}

/* Decrypt of a symmetric blob: the key named in its header. */
static int decrypt_symmetric(struct call *c, const uint8_t *blob, size_t blen, const json_t *ctx,
                             const struct store_key *named, const char *action, struct store_key *k,
                             uint8_t **pt, size_t *pt_len)
{
    uint32_t ver;
    char kid[37], id[KMS_ID_MAX];
    if (blob_peek_key(blob, blen, kid, &ver, NULL) < 0)
        return call_fail(c, "InvalidCiphertextException", "%s", "");
    /* the key of that id in the request's region: a multi-Region key's
     * replica opens its primary's blobs and the other way round */
    kms_internal_id(c->s, c->region, kid, id, sizeof(id));
    if (named && strcmp(named->id, id) != 0)
        return call_fail(c, "IncorrectKeyException",
                         "The key ID in the request does not identify a CMK that can perform this "
                         "operation.");
    struct cl_error err = { 0 };
    int r = store_key_get(c->s->store, id, k, &err);
    if (r == CL_ENOTFOUND)
        return call_fail(c, "NotFoundException",
                         "The ciphertext refers to a customer master key that does not exist, "
                         "does not exist in this region, or you are not allowed to access.");
    if (r < 0)
        return call_fail_internal(c, &err);
    call_name_key(c, k->id);
    if (!is_symmetric(k))
        return call_fail(c, "InvalidCiphertextException", "%s", "");
    /* a key the request named has its condition keys already (resolve_key_id) */
    if (!named && call_context_key(c, k) < 0)
        return -1;
    if (require_usable(c, k) < 0 || call_context_encryption(c, ctx) < 0 ||
        authorize(c, action, k) < 0)
        return -1;
    uint8_t *m = NULL;
    size_t mlen = 0;
    r = store_material_get(c->s->store, k->id, ver, &m, &mlen, &err);
    if (r == CL_ENOTFOUND)
        return call_fail(c, "InvalidCiphertextException", "%s", "");
    if (r < 0)
        return call_fail_internal(c, &err);
    key_note_used(c, k->id);
    r = blob_open(m, ctx, blob, blen, pt, pt_len, NULL);
    ku_wipe_free(m);
    if (r < 0)
        return call_fail(c, "InvalidCiphertextException", "%s", "");
    return 0;
}

/* Decrypt with an RSA key: KeyId and EncryptionAlgorithm are required. */
static int decrypt_asymmetric(struct call *c, const uint8_t *blob, size_t blen, const json_t *ctx,
                              const char *alg, const char *action, struct store_key *k,
                              uint8_t **pt, size_t *pt_len)
{
    if (is_symmetric(k) || k->usage != KEY_USAGE_ENCRYPT_DECRYPT || !is_rsa_oaep(alg)) {
        char arn[KEY_ARN_MAX];
        key_arn(c, k, arn);
        return call_fail(c, "InvalidKeyUsageException",
                         "The encryption algorithm %s is not supported by %s.", alg, arn);
    }
    if (require_usable(c, k) < 0)
        return -1;
    if (ctx && json_object_size(ctx) > 0)
        return call_fail(c, "ValidationException",
                         "EncryptionContext is not supported with asymmetric keys.");
    if (authorize(c, action, k) < 0)
        return -1;
    EVP_PKEY *pk = key_private(c, k);
    if (!pk)
        return -1;
    int rc = rsa_oaep(c, pk, false, alg, blob, blen, pt, pt_len);
    EVP_PKEY_free(pk);
    return rc;
}

int decrypt_blob(struct call *c, const uint8_t *blob, size_t blen, const json_t *ctx,
                 const char *key_ident, const char *alg, const char *action, struct store_key *k,
                 uint8_t **pt, size_t *pt_len)
{
    struct store_key named = { 0 };
    if (key_ident && resolve_key_id(c, key_ident, IDS_WITH_ALIAS, &named) < 0)
        return -1;
    /* an HMAC key named for decryption is refused for its usage, whatever the blob */
    if (key_ident && named.usage == KEY_USAGE_GENERATE_VERIFY_MAC) {
        int r = require_usage(c, &named, KEY_USAGE_ENCRYPT_DECRYPT, c->op);
        store_key_clear(&named);
        return r;
    }
    int rc;
    if (!alg || !strcmp(alg, KMS_ALG_SYMMETRIC_DEFAULT)) {
        rc =
            decrypt_symmetric(c, blob, blen, ctx, key_ident ? &named : NULL, action, k, pt, pt_len);
        store_key_clear(&named);
        return rc;
    }
    if (!key_ident)
        return call_fail(c, "ValidationException",
                         "KeyId is required when EncryptionAlgorithm is %s", alg);
    *k = named; /* the caller clears it */
    return decrypt_asymmetric(c, blob, blen, ctx, alg, action, k, pt, pt_len);
}
