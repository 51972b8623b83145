/* SPDX-License-Identifier: Apache-2.0 */
/* Asymmetric signing keys: GetPublicKey, Sign, Verify. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "call/authorize.h"
#include "call/context.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

#define MESSAGE_MAX   4096
#define SIGNATURE_MAX 6144

int op_get_public_key(struct call *c)
{
    struct store_key k;
    if (grant_tokens(c) < 0 || load_key(c, "KeyId", IDS_WITH_ALIAS, &k) < 0)
        return -1;
    int rc = require_usable(c, &k);
    if (rc == 0 && (is_symmetric(&k) || is_hmac_spec(k.key_spec))) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        rc = call_fail(c, "UnsupportedOperationException",
                       "%s key spec is %s, which is not valid for GetPublicKey.", arn, k.key_spec);
    }
    if (rc == 0)
        rc = authorize(c, "kms:GetPublicKey", &k);
    EVP_PKEY *pk = NULL;
    uint8_t *pub = NULL;
    size_t pub_len = 0;
    if (rc == 0) {
        pk = key_private(c, &k);
        if (!pk)
            rc = -1;
        else if (der_public(pk, &pub, &pub_len) < 0)
            rc = call_fail_internal(c, NULL);
    }
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:s, s:s}", "KeyId", arn, "KeySpec", k.key_spec, "KeyUsage",
                           key_usage_name(k.usage));
        set_cmk_spec(c->out, k.key_spec);
        set_blob(c->out, "PublicKey", pub, pub_len);
        set_algorithms(c->out, &k);
    }
    OPENSSL_free(pub);
    EVP_PKEY_free(pk);
    store_key_clear(&k);
    return rc;
}

static const char *const SIGNING_ALGS[] = { "RSASSA_PSS_SHA_256",
                                            "RSASSA_PSS_SHA_384",
                                            "RSASSA_PSS_SHA_512",
                                            "RSASSA_PKCS1_V1_5_SHA_256",
                                            "RSASSA_PKCS1_V1_5_SHA_384",
                                            "RSASSA_PKCS1_V1_5_SHA_512",
                                            "ECDSA_SHA_256",
                                            "ECDSA_SHA_384",
                                            "ECDSA_SHA_512",
                                            "SM2DSA",
                                            "ML_DSA_SHAKE_256",
                                            "ED25519_SHA_512",
                                            "ED25519_PH_SHA_512",
                                            NULL };
static const char *const MESSAGE_TYPES[] = { "RAW", "DIGEST", "EXTERNAL_MU", NULL };

/* Shared by Sign and Verify: the key, algorithm and message digest. */
struct sign_params {
    struct store_key k;
    const char *alg;
    const EVP_MD *md;
    uint8_t digest[64];
    unsigned digest_len;
    /* Ed25519 (ED25519_SHA_512) signs the message itself, hashing inside the
     * algorithm (RFC 8032): the message, copied; wiped and freed by the
     * caller */
    bool eddsa;
    uint8_t *message;
    size_t message_len;
};

/* Is alg one of the algorithms of spec? */
static bool spec_signs_with(const char *spec, const char *alg)
{
    json_t *algs = signing_algorithms(spec);
    bool ok = false;
    size_t i;
    json_t *a;
    json_array_foreach(algs, i, a) ok |= !strcmp(json_string_value(a), alg);
    json_decref(algs);
    return ok;
}

/* The digest to sign or verify: the message's (RAW) or the message itself (DIGEST). */
static int message_digest(struct call *c, const char *type, const uint8_t *msg, size_t n,
                          struct sign_params *sp)
{
    const char *h = sp->alg + strlen(sp->alg) - 3;
    sp->md = !strcmp(h, "256") ? EVP_sha256() : !strcmp(h, "384") ? EVP_sha384() : EVP_sha512();
    size_t dl = (size_t)EVP_MD_get_size(sp->md);
    if (type && !strcmp(type, "EXTERNAL_MU"))
        return call_fail(c, "ValidationException",
                         "MessageType EXTERNAL_MU is only valid for ML-DSA keys.");
    if (!strncmp(sp->alg, "ED25519", 7)) {
        /* pure Ed25519 cannot sign a digest: AWS's ED25519_SHA_512 takes RAW only */
        if (type && !strcmp(type, "DIGEST"))
            return call_fail(c, "ValidationException",
                             "MessageType %s is not valid for signing algorithm %s; use RAW.", type,
                             sp->alg);
        sp->eddsa = true;
        sp->message = malloc(n);
        if (!sp->message)
            return call_fail_internal(c, NULL);
        memcpy(sp->message, msg, n);
        sp->message_len = n;
        return 0;
    }
    if (type && !strcmp(type, "DIGEST")) {
        if (n != dl)
            return call_fail(c, "ValidationException", "Digest is invalid length for algorithm %s.",
                             sp->alg);
        memcpy(sp->digest, msg, n);
        sp->digest_len = (unsigned)n;
        return 0;
    }
    EVP_Digest(msg, n, sp->digest, &sp->digest_len, sp->md, NULL);
    return 0;
}

static int sign_setup(struct call *c, const char *action, struct sign_params *sp)
{
    uint8_t *msg = NULL;
    size_t n = 0;
    const char *type;
    if (req_blob(c->in, "Message", true, 1, MESSAGE_MAX, &msg, &n, &c->err) < 0 ||
        req_enum(c->in, "MessageType", false, MESSAGE_TYPES, &type, &c->err) < 0 ||
        req_enum(c->in, "SigningAlgorithm", true, SIGNING_ALGS, &sp->alg, &c->err) < 0) {
        ku_wipe_free(msg);
        return -1;
    }
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = load_key(c, "KeyId", IDS_WITH_ALIAS, &sp->k);
    if (rc < 0) {
        ku_wipe_free(msg);
        return rc;
    }
    rc = require_usable(c, &sp->k);
    if (rc == 0)
        rc = require_usage(c, &sp->k, KEY_USAGE_SIGN_VERIFY, c->op);
    if (rc == 0 && !spec_signs_with(sp->k.key_spec, sp->alg))
        rc = call_fail(c, "InvalidKeyUsageException",
                       "Algorithm %s is incompatible with key spec %s.", sp->alg, sp->k.key_spec);
    if (rc == 0)
        rc = message_digest(c, type, msg, n, sp);
    if (rc == 0)
        rc = call_context_signing(c, sp->alg, type);
    if (rc == 0)
        rc = authorize(c, action, &sp->k);
    if (rc == 0)
        rc = dry_run(c);
    ku_wipe_free(msg);
    return rc;
}

static EVP_PKEY_CTX *sign_ctx(struct call *c, EVP_PKEY *pk, const struct sign_params *sp, bool sign)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    bool ok = ctx && (sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) == 1 &&
              EVP_PKEY_CTX_set_signature_md(ctx, sp->md) == 1;
    if (ok && !strncmp(sp->alg, "RSASSA_PSS", 10))
        /* AWS KMS signs PSS with MGF1 of the same hash and a salt as long as the digest */
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, sp->md) == 1;
    else if (ok && !strncmp(sp->alg, "RSASSA_PKCS1", 12))
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        struct cl_error err = { 0 };
        cl_fail_openssl(&err, CL_ECRYPTO, "signature setup");
        call_fail_internal(c, &err);
        return NULL;
    }
    return ctx;
}

/* Ed25519 over the whole message (one-shot: EdDSA takes no digest). sig
 * NULL: verify sig_in; else sign into sig (64 bytes). */
static int eddsa(struct call *c, EVP_PKEY *pk, const struct sign_params *sp, uint8_t *sig,
                 size_t *slen, const uint8_t *sig_in, size_t sig_in_len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int rc;
    if (sig)
        rc = m && EVP_DigestSignInit(m, NULL, NULL, NULL, pk) == 1 &&
                     EVP_DigestSign(m, sig, slen, sp->message, sp->message_len) == 1
                 ? 0
                 : -1;
    else
        rc = m && EVP_DigestVerifyInit(m, NULL, NULL, NULL, pk) == 1 &&
                     EVP_DigestVerify(m, sig_in, sig_in_len, sp->message, sp->message_len) == 1
                 ? 0
                 : 1;
    EVP_MD_CTX_free(m);
    if (rc < 0) {
        struct cl_error err = { 0 };
        cl_fail_openssl(&err, CL_ECRYPTO, "Ed25519 signing failed");
        return call_fail_internal(c, &err);
    }
    ERR_clear_error();
    return rc;
}

int op_sign(struct call *c)
{
    struct sign_params sp = { 0 };
    int rc = sign_setup(c, "kms:Sign", &sp);
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *sig = NULL;
    size_t slen = 0;
    if (rc == 0) {
        pk = key_private(c, &sp.k);
        ctx = pk && !sp.eddsa ? sign_ctx(c, pk, &sp, true) : NULL;
        if (!pk || (!ctx && !sp.eddsa))
            rc = -1;
    }
    if (rc == 0 && sp.eddsa) {
        slen = 64;
        sig = malloc(slen);
        rc = sig ? eddsa(c, pk, &sp, sig, &slen, NULL, 0) : call_fail_internal(c, NULL);
    } else if (rc == 0) {
        if (EVP_PKEY_sign(ctx, NULL, &slen, sp.digest, sp.digest_len) != 1 ||
            !(sig = malloc(slen)) ||
            EVP_PKEY_sign(ctx, sig, &slen, sp.digest, sp.digest_len) != 1) {
            struct cl_error err = { 0 };
            cl_fail_openssl(&err, CL_ECRYPTO, "signing failed");
            rc = call_fail_internal(c, &err);
        }
    }
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &sp.k, arn);
        c->out = json_pack("{s:s, s:s}", "KeyId", arn, "SigningAlgorithm", sp.alg);
        set_blob(c->out, "Signature", sig, slen);
    }
    free(sig);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    ku_wipe_free(sp.message);
    store_key_clear(&sp.k);
    return rc;
}

int op_verify(struct call *c)
{
    uint8_t *sig = NULL;
    size_t slen = 0;
    if (req_blob(c->in, "Signature", true, 1, SIGNATURE_MAX, &sig, &slen, &c->err) < 0)
        return -1;
    struct sign_params sp = { 0 };
    int rc = sign_setup(c, "kms:Verify", &sp);
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (rc == 0) {
        pk = key_private(c, &sp.k);
        ctx = pk && !sp.eddsa ? sign_ctx(c, pk, &sp, false) : NULL;
        if (!pk || (!ctx && !sp.eddsa))
            rc = -1;
    }
    if (rc == 0) {
        int v = sp.eddsa ? (eddsa(c, pk, &sp, NULL, NULL, sig, slen) == 0)
                         : EVP_PKEY_verify(ctx, sig, slen, sp.digest, sp.digest_len);
        ERR_clear_error();
        if (v != 1) {
            /* AWS answers an invalid signature with an error, not SignatureValid: false */
            rc = call_fail(c, "KMSInvalidSignatureException", "%s", "");
        } else {
            char arn[KEY_ARN_MAX];
            key_arn(c, &sp.k, arn);
            c->out = json_pack("{s:s, s:b, s:s}", "KeyId", arn, "SignatureValid", 1,
                               "SigningAlgorithm", sp.alg);
        }
    }
    free(sig);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    ku_wipe_free(sp.message);
    store_key_clear(&sp.k);
    return rc;
}
