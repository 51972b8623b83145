/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data keys and randomness: GenerateDataKey, GenerateDataKeyWithoutPlaintext,
 * GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateRandom.
 * The forms with a plaintext take a Recipient and then answer it as
 * CiphertextForRecipient (common.h, answer_secret()).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "call/authorize.h"
#include "call/context.h"
#include "call/recipient.h"
#include "call/request.h"
#include "ops/cipher.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

/*
 * What GenerateDataKey, GenerateDataKeyPair and their WithoutPlaintext forms
 * check before making anything: grant tokens, the Recipient (only where a
 * plaintext would be returned), a usable symmetric encryption key, the
 * encryption context, the policy for action, and DryRun. The caller passes
 * a zeroed *k and clears it whatever this returns.
 */
static int data_key_prologue(struct call *c, bool with_plaintext, const char *action,
                             const json_t *ctx, struct store_key *k)
{
    int rc = grant_tokens(c);
    if (rc == 0 && with_plaintext)
        rc = recipient_read(c);
    if (rc == 0)
        rc = load_key(c, "KeyId", IDS_WITH_ALIAS, k);
    if (rc == 0)
        rc = require_usable(c, k);
    if (rc == 0 && !is_symmetric(k)) {
        char arn[KEY_ARN_MAX];
        key_arn(c, k, arn);
        rc = call_fail(c, "InvalidKeyUsageException",
                       "%s key usage is not valid for %s: it is not a symmetric key.", arn, c->op);
    }
    if (rc == 0)
        rc = call_context_encryption(c, ctx);
    if (rc == 0)
        rc = authorize(c, action, k);
    if (rc == 0)
        rc = dry_run(c);
    return rc;
}

static const char *const DATA_KEY_SPECS[] = { "AES_256", "AES_128", NULL };

static int data_key(struct call *c, bool with_plaintext, const char *action)
{
    const json_t *ctx;
    const char *spec;
    long long nbytes;
    bool have_n;
    if (req_context(c->in, "EncryptionContext", &ctx, &c->err) < 0 ||
        req_enum(c->in, "KeySpec", false, DATA_KEY_SPECS, &spec, &c->err) < 0 ||
        req_int(c->in, "NumberOfBytes", false, 1, 1024, &nbytes, &have_n, &c->err) < 0)
        return -1;
    if (!spec && !have_n)
        return call_fail(c, "ValidationException",
                         "Please specify either number of bytes or key spec.");
    if (spec && have_n)
        return call_fail(c, "ValidationException",
                         "Please specify either number of bytes or key spec but not both.");
    size_t n = have_n ? (size_t)nbytes : (!strcmp(spec, "AES_256") ? 32 : 16);
    struct store_key k = { 0 };
    int rc = data_key_prologue(c, with_plaintext, action, ctx, &k);
    uint8_t *dk = NULL, *blob = NULL;
    size_t blen = 0;
    if (rc == 0) {
        struct cl_error err = { 0 };
        dk = malloc(n);
        if (!dk || ku_random(dk, n, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    if (rc == 0)
        rc = encrypt_with(c, &k, NULL, ctx, dk, n, &blob, &blen);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s}", "KeyId", arn);
        set_blob(c->out, "CiphertextBlob", blob, blen);
        if (with_plaintext)
            rc = answer_secret(c, "Plaintext", dk, n);
    }
    ku_wipe_free(dk);
    free(blob);
    store_key_clear(&k);
    return rc;
}

int op_generate_data_key(struct call *c)
{
    return data_key(c, true, "kms:GenerateDataKey");
}

int op_generate_data_key_without_plaintext(struct call *c)
{
    if (json_object_get(c->in, "Recipient"))
        return call_fail(c, "ValidationException",
                         "Recipient is not accepted by GenerateDataKeyWithoutPlaintext");
    return data_key(c, false, "kms:GenerateDataKeyWithoutPlaintext");
}

static const char *const PAIR_SPECS[] = { "RSA_2048",        "RSA_3072",      "RSA_4096",
                                          "ECC_NIST_P256",   "ECC_NIST_P384", "ECC_NIST_P521",
                                          "ECC_SECG_P256K1", "SM2",           NULL };

static int data_key_pair(struct call *c, bool with_plaintext, const char *action)
{
    const json_t *ctx;
    const char *spec;
    if (req_context(c->in, "EncryptionContext", &ctx, &c->err) < 0 ||
        req_enum(c->in, "KeyPairSpec", true, PAIR_SPECS, &spec, &c->err) < 0)
        return -1;
    if (!strcmp(spec, "SM2"))
        return refuse_sm2(c, "KeyPairSpec");
    struct store_key k = { 0 };
    int rc = data_key_prologue(c, with_plaintext, action, ctx, &k);
    EVP_PKEY *pk = NULL;
    uint8_t *priv = NULL, *pub = NULL, *blob = NULL;
    size_t priv_len = 0, pub_len = 0, blen = 0;
    if (rc == 0) {
        pk = generate_pair(spec);
        if (!pk || der_pkcs8(pk, &priv, &priv_len) < 0 || der_public(pk, &pub, &pub_len) < 0) {
            struct cl_error err = { 0 };
            cl_fail_openssl(&err, CL_ECRYPTO, "key pair generation failed");
            rc = call_fail_internal(c, &err);
        }
    }
    if (rc == 0)
        rc = encrypt_with(c, &k, NULL, ctx, priv, priv_len, &blob, &blen);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:s}", "KeyId", arn, "KeyPairSpec", spec);
        set_blob(c->out, "PrivateKeyCiphertextBlob", blob, blen);
        set_blob(c->out, "PublicKey", pub, pub_len);
        if (with_plaintext)
            rc = answer_secret(c, "PrivateKeyPlaintext", priv, priv_len);
    }
    EVP_PKEY_free(pk);
    if (priv) {
        OPENSSL_cleanse(priv, priv_len);
        OPENSSL_free(priv);
    }
    OPENSSL_free(pub);
    free(blob);
    store_key_clear(&k);
    return rc;
}

int op_generate_data_key_pair(struct call *c)
{
    return data_key_pair(c, true, "kms:GenerateDataKeyPair");
}

int op_generate_data_key_pair_without_plaintext(struct call *c)
{
    return data_key_pair(c, false, "kms:GenerateDataKeyPairWithoutPlaintext");
}

int op_generate_random(struct call *c)
{
    long long n;
    const char *store_id;
    if (req_int(c->in, "NumberOfBytes", true, 1, 1024, &n, NULL, &c->err) < 0 ||
        req_string(c->in, "CustomKeyStoreId", false, 1, 64, &store_id, &c->err) < 0)
        return -1;
    if (store_id)
        return call_fail(c, "CustomKeyStoreNotFoundException",
                         "Custom key stores are not supported by cloister-kms.");
    if (recipient_read(c) < 0 || authorize(c, "kms:GenerateRandom", NULL) < 0)
        return -1;
    uint8_t buf[1024];
    struct cl_error err = { 0 };
    if (ku_random(buf, (size_t)n, &err) < 0)
        return call_fail_internal(c, &err);
    c->out = json_object();
    int rc = answer_secret(c, "Plaintext", buf, (size_t)n);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}
