/* SPDX-License-Identifier: Apache-2.0 */
/* Encrypt, Decrypt and ReEncrypt. */
#include <stdlib.h>

#include "call/authorize.h"
#include "call/context.h"
#include "call/recipient.h"
#include "call/request.h"
#include "ops/cipher.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

#define PLAINTEXT_MAX  4096
#define CIPHERTEXT_MAX 6144

static const char *const ENC_ALGS[] = { KMS_ALG_SYMMETRIC_DEFAULT, "RSAES_OAEP_SHA_1",
                                        "RSAES_OAEP_SHA_256", "SM2PKE", NULL };

static const char *alg_name(const char *alg)
{
    return alg ? alg : KMS_ALG_SYMMETRIC_DEFAULT;
}

int op_encrypt(struct call *c)
{
    uint8_t *pt = NULL;
    size_t n = 0;
    const json_t *ctx;
    const char *alg;
    if (req_blob(c->in, "Plaintext", true, 1, PLAINTEXT_MAX, &pt, &n, &c->err) < 0 ||
        req_context(c->in, "EncryptionContext", &ctx, &c->err) < 0 ||
        req_enum(c->in, "EncryptionAlgorithm", false, ENC_ALGS, &alg, &c->err) < 0) {
        ku_wipe_free(pt);
        return -1;
    }
    struct store_key k = { 0 };
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = load_key(c, "KeyId", IDS_WITH_ALIAS, &k);
    if (rc == 0)
        rc = require_usable(c, &k);
    if (rc == 0)
        rc = require_usage(c, &k, KEY_USAGE_ENCRYPT_DECRYPT, "Encrypt");
    if (rc == 0)
        rc = call_context_encryption(c, ctx);
    if (rc == 0)
        rc = call_context_encryption_algorithm(c, alg);
    if (rc == 0)
        rc = authorize(c, "kms:Encrypt", &k);
    if (rc == 0)
        rc = dry_run(c);
    uint8_t *blob = NULL;
    size_t blen = 0;
    if (rc == 0)
        rc = encrypt_with(c, &k, alg, ctx, pt, n, &blob, &blen);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:s}", "KeyId", arn, "EncryptionAlgorithm", alg_name(alg));
        set_blob(c->out, "CiphertextBlob", blob, blen);
    }
    free(blob);
    ku_wipe_free(pt);
    store_key_clear(&k);
    return rc;
}

int op_decrypt(struct call *c)
{
    uint8_t *blob = NULL;
    size_t blen = 0;
    const json_t *ctx;
    const char *alg, *key_ident;
    if (req_blob(c->in, "CiphertextBlob", true, 1, CIPHERTEXT_MAX, &blob, &blen, &c->err) < 0 ||
        req_context(c->in, "EncryptionContext", &ctx, &c->err) < 0 ||
        req_enum(c->in, "EncryptionAlgorithm", false, ENC_ALGS, &alg, &c->err) < 0 ||
        req_string(c->in, "KeyId", false, 1, KEYID_MAX, &key_ident, &c->err) < 0) {
        free(blob);
        return -1;
    }
    struct store_key k = { 0 };
    uint8_t *pt = NULL;
    size_t n = 0;
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = recipient_read(c);
    if (rc == 0)
        rc = call_context_encryption_algorithm(c, alg);
    if (rc == 0)
        rc = decrypt_blob(c, blob, blen, ctx, key_ident, alg, "kms:Decrypt", &k, &pt, &n);
    if (rc == 0)
        rc = dry_run(c);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:s}", "KeyId", arn, "EncryptionAlgorithm", alg_name(alg));
        rc = answer_secret(c, "Plaintext", pt, n);
    }
    ku_wipe_free(pt);
    free(blob);
    store_key_clear(&k);
    return rc;
}

int op_re_encrypt(struct call *c)
{
    uint8_t *blob = NULL;
    size_t blen = 0;
    const json_t *sctx, *dctx;
    const char *salg, *dalg, *skey;
    if (req_blob(c->in, "CiphertextBlob", true, 1, CIPHERTEXT_MAX, &blob, &blen, &c->err) < 0 ||
        req_context(c->in, "SourceEncryptionContext", &sctx, &c->err) < 0 ||
        req_context(c->in, "DestinationEncryptionContext", &dctx, &c->err) < 0 ||
        req_enum(c->in, "SourceEncryptionAlgorithm", false, ENC_ALGS, &salg, &c->err) < 0 ||
        req_enum(c->in, "DestinationEncryptionAlgorithm", false, ENC_ALGS, &dalg, &c->err) < 0 ||
        req_string(c->in, "SourceKeyId", false, 1, KEYID_MAX, &skey, &c->err) < 0) {
        free(blob);
        return -1;
    }
    struct store_key src = { 0 }, dst = { 0 };
    uint8_t *pt = NULL, *out = NULL;
    size_t n = 0, olen = 0;
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = decrypt_blob(c, blob, blen, sctx, skey, salg, "kms:ReEncryptFrom", &src, &pt, &n);
    if (rc == 0) {
        /* the destination is authorized with its own condition keys (the
         * key's, the alias it was named by) and encryption context */
        call_context_restart(c);
        rc = load_key(c, "DestinationKeyId", IDS_WITH_ALIAS, &dst);
    }
    if (rc == 0)
        rc = require_usable(c, &dst);
    if (rc == 0)
        rc = require_usage(c, &dst, KEY_USAGE_ENCRYPT_DECRYPT, "ReEncrypt");
    if (rc == 0)
        rc = call_context_encryption(c, dctx);
    if (rc == 0)
        rc = authorize(c, "kms:ReEncryptTo", &dst);
    if (rc == 0)
        rc = dry_run(c);
    if (rc == 0)
        rc = encrypt_with(c, &dst, dalg, dctx, pt, n, &out, &olen);
    if (rc == 0) {
        char sarn[KEY_ARN_MAX], darn[KEY_ARN_MAX];
        key_arn(c, &src, sarn);
        key_arn(c, &dst, darn);
        c->out = json_pack("{s:s, s:s, s:s, s:s}", "SourceKeyId", sarn, "KeyId", darn,
                           "SourceEncryptionAlgorithm", alg_name(salg),
                           "DestinationEncryptionAlgorithm", alg_name(dalg));
        set_blob(c->out, "CiphertextBlob", out, olen);
    }
    ku_wipe_free(pt);
    free(out);
    free(blob);
    store_key_clear(&src);
    store_key_clear(&dst);
    return rc;
}
