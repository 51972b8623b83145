/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key agreement keys: DeriveSharedSecret. The secret is the raw ECDH
 * shared secret of the key's private key and the peer's public key (the
 * x-coordinate of the shared point, SEC 1 section 3.3.1, with no KDF
 * applied: AWS KMS API Reference, DeriveSharedSecret, "SharedSecret"). With
 * a Recipient it is answered only as CiphertextForRecipient (common.h).
 *
 * The peer's PublicKey is a DER SubjectPublicKeyInfo: one that does not
 * parse, whose point is not on its curve, or that is not an EC key of the
 * KMS key's own curve is refused before anything is derived (an invalid
 * point would leak bits of the private key: the invalid-curve attack).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "call/authorize.h"
#include "call/context.h"
#include "call/recipient.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

#define PUBLIC_KEY_MAX 8192 /* PublicKeyType (botocore) */

static const char *const AGREEMENT_ALGS[] = { "ECDH", NULL };

/*
 * The peer's public key, checked against the KMS key's curve: the DER must
 * parse as an EC SubjectPublicKeyInfo (OpenSSL refuses a point that is not
 * on its curve while decoding it; EVP_PKEY_public_check() checks again,
 * with the order), and name the same group. The messages are the server's
 * (AWS does not document its text; docs/kms.md, "Errors").
 */
static EVP_PKEY *peer_key(struct call *c, const struct store_key *k, EVP_PKEY *own,
                          const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    EVP_PKEY *peer = d2i_PUBKEY(NULL, &p, (long)len);
    bool whole = peer && p == der + len;
    EVP_PKEY_CTX *chk = whole ? EVP_PKEY_CTX_new(peer, NULL) : NULL;
    bool valid = chk && EVP_PKEY_is_a(peer, "EC") && EVP_PKEY_public_check(chk) == 1;
    EVP_PKEY_CTX_free(chk);
    ERR_clear_error();
    if (!valid) {
        EVP_PKEY_free(peer);
        call_fail(c, "ValidationException",
                  "PublicKey is not a valid DER-encoded elliptic curve public key "
                  "(X.509 SubjectPublicKeyInfo).");
        return NULL;
    }
    char own_group[64] = "", peer_group[64] = "";
    size_t n;
    if (!EVP_PKEY_get_utf8_string_param(own, "group", own_group, sizeof(own_group), &n) ||
        !EVP_PKEY_get_utf8_string_param(peer, "group", peer_group, sizeof(peer_group), &n) ||
        strcmp(own_group, peer_group) != 0) {
        ERR_clear_error();
        EVP_PKEY_free(peer);
        call_fail(c, "ValidationException",
                  "PublicKey is not on the curve of key spec %s; the peer's key pair must use "
                  "the same curve as the KMS key.",
                  k->key_spec);
        return NULL;
    }
    return peer;
}

/* The raw ECDH secret of own and peer; *out malloc'd, the caller wipes it. */
static int ecdh(struct call *c, EVP_PKEY *own, EVP_PKEY *peer, uint8_t **out, size_t *len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(own, NULL);
    bool ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
              EVP_PKEY_derive(ctx, NULL, len) == 1 && (*out = malloc(*len)) != NULL &&
              EVP_PKEY_derive(ctx, *out, len) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        struct cl_error err = { 0 };
        cl_fail_openssl(&err, CL_ECRYPTO, "ECDH failed");
        return call_fail_internal(c, &err);
    }
    return 0;
}

/* The checks before anything is derived, in AWS's order: members, grant
 * tokens, Recipient, the key (usable, KEY_AGREEMENT), the condition keys,
 * the policy, DryRun. */
static int derive_prologue(struct call *c, struct store_key *k, const char **alg)
{
    int rc = req_enum(c->in, "KeyAgreementAlgorithm", true, AGREEMENT_ALGS, alg, &c->err);
    if (rc == 0)
        rc = grant_tokens(c);
    if (rc == 0)
        rc = recipient_read(c);
    if (rc == 0)
        rc = load_key(c, "KeyId", IDS_WITH_ALIAS, k);
    if (rc == 0)
        rc = require_usable(c, k);
    if (rc == 0)
        rc = require_usage(c, k, KEY_USAGE_KEY_AGREEMENT, c->op);
    if (rc == 0)
        rc = call_context_key_agreement(c, *alg);
    if (rc == 0)
        rc = authorize(c, "kms:DeriveSharedSecret", k);
    if (rc == 0)
        rc = dry_run(c);
    return rc;
}

int op_derive_shared_secret(struct call *c)
{
    uint8_t *pub = NULL;
    size_t pub_len = 0;
    if (req_blob(c->in, "PublicKey", true, 1, PUBLIC_KEY_MAX, &pub, &pub_len, &c->err) < 0)
        return -1;
    struct store_key k = { 0 };
    const char *alg = NULL;
    int rc = derive_prologue(c, &k, &alg);
    EVP_PKEY *own = NULL, *peer = NULL;
    uint8_t *secret = NULL;
    size_t slen = 0;
    if (rc == 0 && !(own = key_private(c, &k)))
        rc = -1;
    if (rc == 0 && !(peer = peer_key(c, &k, own, pub, pub_len)))
        rc = -1;
    if (rc == 0)
        rc = ecdh(c, own, peer, &secret, &slen);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:s, s:s}", "KeyId", arn, "KeyAgreementAlgorithm", alg,
                           "KeyOrigin", k.origin);
        rc = answer_secret(c, "SharedSecret", secret, slen);
    }
    if (secret)
        OPENSSL_cleanse(secret, slen);
    free(secret);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(own);
    free(pub);
    store_key_clear(&k);
    return rc;
}
