/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HMAC keys: GenerateMac, VerifyMac. The MAC is the plain HMAC of RFC 2104
 * with the key's material and the SHA-2 digest its spec names (AWS KMS
 * Developer Guide, "HMAC keys in AWS KMS"); an HMAC key has exactly one
 * MacAlgorithm (ops/keyspec.c). VerifyMac compares in constant time and,
 * as AWS does, answers a MAC that does not match with KMSInvalidMacException,
 * never MacValid: false.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "call/authorize.h"
#include "call/context.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

#define MESSAGE_MAX 4096 /* PlaintextType (botocore) */
#define MAC_MAX     6144 /* CiphertextType (botocore) */

static const char *const MAC_ALGS[] = { "HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384",
                                        "HMAC_SHA_512", NULL };

/*
 * Shared by GenerateMac and VerifyMac: the members, the key (usable, an
 * HMAC key, the algorithm its own), authorization and DryRun, then the MAC
 * of the message into mac (EVP_MAX_MD_SIZE bytes). Fills *k (caller clears).
 */
static int compute_mac(struct call *c, const char *action, struct store_key *k, const char **alg,
                       uint8_t mac[static EVP_MAX_MD_SIZE], unsigned *mac_len)
{
    uint8_t *msg = NULL;
    size_t n = 0;
    if (req_blob(c->in, "Message", true, 1, MESSAGE_MAX, &msg, &n, &c->err) < 0 ||
        req_enum(c->in, "MacAlgorithm", true, MAC_ALGS, alg, &c->err) < 0) {
        ku_wipe_free(msg);
        return -1;
    }
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = load_key(c, "KeyId", IDS_WITH_ALIAS, k);
    if (rc < 0) {
        ku_wipe_free(msg);
        return rc;
    }
    rc = require_usable(c, k);
    if (rc == 0)
        rc = require_usage(c, k, KEY_USAGE_GENERATE_VERIFY_MAC, c->op);
    const EVP_MD *md = rc == 0 ? hmac_digest(k->key_spec) : NULL;
    if (rc == 0 && (!md || strcmp(*alg + strlen("HMAC_SHA_"), k->key_spec + strlen("HMAC_")) != 0))
        rc = call_fail(c, "InvalidKeyUsageException",
                       "Algorithm %s is incompatible with key spec %s.", *alg, k->key_spec);
    if (rc == 0)
        rc = call_context_mac(c, *alg);
    if (rc == 0)
        rc = authorize(c, action, k);
    if (rc == 0)
        rc = dry_run(c);
    uint8_t *m = NULL;
    size_t mlen = 0;
    if (rc == 0)
        rc = key_material(c, k, 0, &m, &mlen);
    if (rc == 0 && !HMAC(md, m, (int)mlen, msg, n, mac, mac_len)) {
        struct cl_error err = { 0 };
        cl_fail_openssl(&err, CL_ECRYPTO, "HMAC failed");
        rc = call_fail_internal(c, &err);
    }
    ku_wipe_free(m);
    ku_wipe_free(msg);
    return rc;
}

int op_generate_mac(struct call *c)
{
    struct store_key k = { 0 };
    const char *alg = NULL;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    int rc = compute_mac(c, "kms:GenerateMac", &k, &alg, mac, &mac_len);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:s}", "KeyId", arn, "MacAlgorithm", alg);
        set_blob(c->out, "Mac", mac, mac_len);
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    store_key_clear(&k);
    return rc;
}

int op_verify_mac(struct call *c)
{
    uint8_t *given = NULL;
    size_t given_len = 0;
    if (req_blob(c->in, "Mac", true, 1, MAC_MAX, &given, &given_len, &c->err) < 0)
        return -1;
    struct store_key k = { 0 };
    const char *alg = NULL;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    int rc = compute_mac(c, "kms:VerifyMac", &k, &alg, mac, &mac_len);
    /* the length of a MAC is public (the algorithm's); its bytes are compared
     * in constant time */
    if (rc == 0 && (given_len != mac_len || CRYPTO_memcmp(given, mac, mac_len) != 0))
        rc = call_fail(c, "KMSInvalidMacException", "%s", "");
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:b, s:s}", "KeyId", arn, "MacValid", 1, "MacAlgorithm", alg);
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    free(given);
    store_key_clear(&k);
    return rc;
}
