/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KMS operations (research/kms.md §3.5 for the fields, §3.2 for the
 * errors, §3.4 for key identifiers). Each op_* reads its members through
 * request.h, resolves and checks its key, calls authorize() (the one
 * authorization call site), acts, and fills c->out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "call/api_internal.h"
#include "base/base64.h"
#include "state/blob.h"
#include "util/kmsutil.h"
#include "call/recipient.h"

#define PLAINTEXT_MAX 4096
#define CIPHERTEXT_MAX 6144
#define DESCRIPTION_MAX 8192
#define KEYID_MAX 2048
#define TAGS_PER_KEY_MAX 50
#define DAY 86400.0

/* ---- small helpers ---- */

static void set_blob(json_t *o, const char *name, const uint8_t *b, size_t n)
{
    char *e = base64_encode(b, n);
    json_object_set_new(o, name, e ? json_string(e) : json_null());
    if (e) {
        OPENSSL_cleanse(e, strlen(e));
        free(e);
    }
}

static void wipe_free(uint8_t *p, size_t n)
{
    if (p) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

static bool is_symmetric(const struct store_key *k)
{
    return !strcmp(k->key_spec, "SYMMETRIC_DEFAULT");
}

static bool is_rsa(const char *spec)
{
    return !strncmp(spec, "RSA_", 4);
}

static void arn_of(struct call *c, const struct store_key *k, char *out, size_t cap)
{
    kms_key_arn(c->s, k->id, out, cap);
}

/* A DryRun request stops after authorization (AWS: DryRunOperationException). */
static int dry_run(struct call *c)
{
    bool dry;
    struct req_error e;
    if (req_bool(c->in, "DryRun", &dry, &e) < 0)
        return kerr_req(c, &e);
    if (dry)
        return kerr(c, "DryRunOperationException",
                    "The request would have succeeded, but the DryRun option is set.");
    return 0;
}

static int grant_tokens(struct call *c)
{
    const json_t *g;
    struct req_error e;
    if (req_string_list(c->in, "GrantTokens", false, 1, 8192, &g, &e) < 0)
        return kerr_req(c, &e);
    if (g && json_array_size(g) > 10)
        return kerr(c, "ValidationException",
                    "1 validation error detected: Value at 'grantTokens' failed to satisfy "
                    "constraint: Member must have length less than or equal to 10");
    return 0;
}

/* Deletes keys whose waiting period is over (AWS deletes them then). */
static void purge_expired(struct call *c)
{
    json_t *ids = NULL;
    if (store_key_list_expired(c->s->store, ku_now(), &ids, NULL) < 0)
        return;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) store_key_delete(c->s->store, json_string_value(id), NULL);
    json_decref(ids);
}

enum id_forms { IDS_KEY_ONLY = 0, IDS_WITH_ALIAS = 1 };

/*
 * Resolves a key identifier (research §3.4): key id, key ARN, and with
 * IDS_WITH_ALIAS alias name and alias ARN. Fills *k (caller clears).
 */
static int resolve_key_id(struct call *c, const char *ident, enum id_forms forms,
                          struct store_key *k)
{
    char prefix[128], id[64] = "";
    snprintf(prefix, sizeof(prefix), "arn:aws:kms:%s:%s:", c->s->region, c->s->account);
    size_t pl = strlen(prefix);
    const char *alias = NULL;
    if (ku_is_uuid(ident)) {
        snprintf(id, sizeof(id), "%s", ident);
    } else if (!strncmp(ident, prefix, pl) && !strncmp(ident + pl, "key/", 4) &&
               ku_is_uuid(ident + pl + 4)) {
        snprintf(id, sizeof(id), "%s", ident + pl + 4);
    } else if (!strncmp(ident, "alias/", 6)) {
        alias = ident;
    } else if (!strncmp(ident, prefix, pl) && !strncmp(ident + pl, "alias/", 6)) {
        alias = ident + pl;
    } else if (!strncmp(ident, "arn:", 4)) {
        return kerr(c, "NotFoundException", "Invalid arn %s", ident);
    } else {
        return kerr(c, "NotFoundException", "Invalid keyId '%s'", ident);
    }
    if (alias) {
        if (forms != IDS_WITH_ALIAS)
            return kerr(c, "NotFoundException", "Invalid keyId '%s'", ident);
        char *target = NULL;
        struct cl_error err = {0};
        int rc = store_alias_get(c->s->store, alias, &target, &err);
        if (rc == CL_ENOTFOUND)
            return kerr(c, "NotFoundException", "Alias %s%s is not found.", prefix, alias);
        if (rc < 0)
            return kerr_internal(c, &err);
        snprintf(id, sizeof(id), "%s", target);
        free(target);
        struct policy_context *pc = call_context(c);
        if (pc)
            policy_context_add(pc, "kms:RequestAlias", alias, NULL);
    }
    for (char *p = id; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    struct cl_error err = {0};
    int rc = store_key_get(c->s->store, id, k, &err);
    if (rc == 0 && !strcmp(k->state, "PendingDeletion") && k->deletion_date <= ku_now()) {
        store_key_delete(c->s->store, id, NULL);
        store_key_clear(k);
        rc = CL_ENOTFOUND;
    }
    char arn[256];
    kms_key_arn(c->s, id, arn, sizeof(arn));
    if (rc == CL_ENOTFOUND)
        return kerr(c, "NotFoundException", "Key '%s' does not exist", arn);
    if (rc < 0)
        return kerr_internal(c, &err);
    if (!c->key_arn[0])
        snprintf(c->key_arn, sizeof(c->key_arn), "%s", arn);
    struct policy_context *pc = call_context(c);
    if (pc) {
        policy_context_add(pc, "kms:KeySpec", k->key_spec, NULL);
        policy_context_add(pc, "kms:KeyUsage", k->key_usage, NULL);
        policy_context_add(pc, "kms:KeyOrigin", k->origin, NULL);
    }
    return 0;
}

static int load_key(struct call *c, const char *member, enum id_forms forms, struct store_key *k)
{
    const char *ident;
    struct req_error e;
    if (req_string(c->in, member, true, 1, KEYID_MAX, &ident, &e) < 0)
        return kerr_req(c, &e);
    return resolve_key_id(c, ident, forms, k);
}

/* Key state rules for cryptographic operations (AWS key-state table). */
static int require_usable(struct call *c, const struct store_key *k)
{
    char arn[256];
    arn_of(c, k, arn, sizeof(arn));
    if (!strcmp(k->state, "Disabled"))
        return kerr(c, "DisabledException", "%s is disabled.", arn);
    if (!strcmp(k->state, "PendingDeletion"))
        return kerr(c, "KMSInvalidStateException", "%s is pending deletion.", arn);
    return 0;
}

static int require_not_pending(struct call *c, const struct store_key *k)
{
    if (!strcmp(k->state, "PendingDeletion")) {
        char arn[256];
        arn_of(c, k, arn, sizeof(arn));
        return kerr(c, "KMSInvalidStateException", "%s is pending deletion.", arn);
    }
    return 0;
}

static int require_usage(struct call *c, const struct store_key *k, const char *usage, const char *op)
{
    if (strcmp(k->key_usage, usage) != 0) {
        char arn[256];
        arn_of(c, k, arn, sizeof(arn));
        return kerr(c, "InvalidKeyUsageException", "%s key usage is %s which is not valid for %s.",
                    arn, k->key_usage, op);
    }
    return 0;
}

/* ---- key material ---- */

/* Symmetric material of a version (0: the current one, rotating first when due). */
static int key_material(struct call *c, struct store_key *k, uint32_t version, uint8_t **m,
                        size_t *len)
{
    struct cl_error err = {0};
    if (version == 0 && k->rotation_enabled && is_symmetric(k) && ku_now() >= k->next_rotation) {
        uint8_t fresh[32];
        uint32_t nv;
        if (ku_random(fresh, sizeof(fresh), &err) < 0 ||
            store_key_rotate(c->s->store, k->id, fresh, sizeof(fresh),
                             ku_now() + k->rotation_period_days * DAY, &nv, &err) < 0) {
            OPENSSL_cleanse(fresh, sizeof(fresh));
            return kerr_internal(c, &err);
        }
        OPENSSL_cleanse(fresh, sizeof(fresh));
        k->current_version = nv;
    }
    if (version == 0)
        version = k->current_version;
    if (store_material_get(c->s->store, k->id, version, m, len, &err) < 0)
        return kerr_internal(c, &err);
    return 0;
}

static EVP_PKEY *key_private(struct call *c, struct store_key *k)
{
    uint8_t *m = NULL;
    size_t n = 0;
    if (key_material(c, k, 1, &m, &n) < 0)
        return NULL;
    const unsigned char *p = m;
    EVP_PKEY *pk = d2i_AutoPrivateKey(NULL, &p, (long)n);
    wipe_free(m, n);
    if (!pk) {
        struct cl_error err = {0};
        cl_fail_openssl(&err, CL_ECRYPTO, "stored private key does not parse");
        kerr_internal(c, &err);
    }
    return pk;
}

static EVP_PKEY *generate_pair(const char *spec)
{
    if (!strcmp(spec, "RSA_2048"))
        return EVP_RSA_gen(2048);
    if (!strcmp(spec, "RSA_3072"))
        return EVP_RSA_gen(3072);
    if (!strcmp(spec, "RSA_4096"))
        return EVP_RSA_gen(4096);
    if (!strcmp(spec, "ECC_NIST_P256"))
        return EVP_EC_gen("P-256");
    if (!strcmp(spec, "ECC_NIST_P384"))
        return EVP_EC_gen("P-384");
    if (!strcmp(spec, "ECC_NIST_P521"))
        return EVP_EC_gen("P-521");
    if (!strcmp(spec, "ECC_SECG_P256K1"))
        return EVP_EC_gen("secp256k1");
    return NULL;
}

/* DER SubjectPublicKeyInfo / PKCS#8 of a key; malloc'd. */
static int der_public(EVP_PKEY *pk, uint8_t **out, size_t *len)
{
    unsigned char *d = NULL;
    int n = i2d_PUBKEY(pk, &d);
    if (n <= 0)
        return -1;
    *out = d;
    *len = (size_t)n;
    return 0;
}

static int der_pkcs8(EVP_PKEY *pk, uint8_t **out, size_t *len)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pk);
    if (!p8)
        return -1;
    unsigned char *d = NULL;
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &d);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (n <= 0)
        return -1;
    *out = d;
    *len = (size_t)n;
    return 0;
}

static json_t *signing_algorithms(const char *spec)
{
    if (is_rsa(spec))
        return json_pack("[s,s,s,s,s,s]", "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384",
                         "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_256",
                         "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512");
    if (!strcmp(spec, "ECC_NIST_P384"))
        return json_pack("[s]", "ECDSA_SHA_384");
    if (!strcmp(spec, "ECC_NIST_P521"))
        return json_pack("[s]", "ECDSA_SHA_512");
    return json_pack("[s]", "ECDSA_SHA_256");
}

static json_t *encryption_algorithms(const struct store_key *k)
{
    if (is_symmetric(k))
        return json_pack("[s]", "SYMMETRIC_DEFAULT");
    return json_pack("[s,s]", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256");
}

static json_t *key_metadata(struct call *c, const struct store_key *k)
{
    char arn[256];
    arn_of(c, k, arn, sizeof(arn));
    json_t *m = json_pack("{s:s, s:s, s:s, s:f, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
                          "AWSAccountId", c->s->account, "KeyId", k->id, "Arn", arn,
                          "CreationDate", k->created, "Enabled", !strcmp(k->state, "Enabled"),
                          "Description", k->description ? k->description : "", "KeyUsage",
                          k->key_usage, "KeyState", k->state, "Origin", k->origin, "KeyManager",
                          "CUSTOMER", "CustomerMasterKeySpec", k->key_spec, "KeySpec", k->key_spec,
                          "MultiRegion", 0);
    if (!m)
        return NULL;
    if (!strcmp(k->key_usage, "ENCRYPT_DECRYPT"))
        json_object_set_new(m, "EncryptionAlgorithms", encryption_algorithms(k));
    else
        json_object_set_new(m, "SigningAlgorithms", signing_algorithms(k->key_spec));
    if (!strcmp(k->state, "PendingDeletion")) {
        json_object_set_new(m, "DeletionDate", json_real(k->deletion_date));
        json_object_set_new(m, "PendingDeletionWindowInDays", json_integer(k->pending_days));
    }
    return m;
}

/* ---- Recipient ---- */

static const char *const KEA_VALUES[] = { "RSAES_OAEP_SHA_256", NULL };

/* Reads and verifies the Recipient member, if any; adds its condition keys. */
static int read_recipient(struct call *c)
{
    const json_t *r = json_object_get(c->in, "Recipient");
    if (!r || json_is_null(r))
        return 0;
    struct req_error e;
    if (!json_is_object(r))
        return kerr(c, "SerializationException", "Unexpected value type for 'Recipient': expected a structure");
    const char *alg;
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    if (req_enum(r, "KeyEncryptionAlgorithm", false, KEA_VALUES, &alg, &e) < 0 ||
        req_blob(r, "AttestationDocument", false, 1, 262144, &doc, &doc_len, &e) < 0)
        return kerr_req(c, &e);
    struct recipient_opts o = { .verifier = c->s->verifier,
                                .max_age_s = c->s->attestation_max_age };
    struct cl_error err = {0};
    int rc = recipient_verify(doc, doc_len, alg, &o, &c->recipient, &err);
    free(doc);
    if (rc < 0) {
        json_object_set_new(c->audit, "recipientError", json_string(err.reason));
        return kerr(c, recipient_error_type(rc), "%s", err.reason);
    }
    json_t *aj = recipient_audit_json(c->recipient);
    if (aj)
        json_object_set_new(c->audit, "recipient", aj);
    struct policy_context *pc = call_context(c);
    if (!pc || recipient_add_context(c->recipient, pc, &err) < 0)
        return kerr_internal(c, &err);
    return 0;
}

/* Puts plaintext in the answer: as CiphertextForRecipient when attested
 * (the plaintext member is then omitted, research §1.3), else in member. */
static int answer_secret(struct call *c, const char *member, const uint8_t *pt, size_t n)
{
    if (c->recipient) {
        uint8_t *cms = NULL;
        size_t cms_len = 0;
        struct cl_error err = {0};
        if (recipient_wrap(c->recipient, pt, n, &cms, &cms_len, &err) < 0)
            return kerr_internal(c, &err);
        set_blob(c->out, "CiphertextForRecipient", cms, cms_len);
        free(cms);
        return 0;
    }
    set_blob(c->out, member, pt, n);
    return 0;
}

/* ---- operations ---- */

static const char *const KEY_SPECS[] = { "SYMMETRIC_DEFAULT", "RSA_2048", "RSA_3072", "RSA_4096",
                                         "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
                                         "ECC_SECG_P256K1", "HMAC_224", "HMAC_256", "HMAC_384",
                                         "HMAC_512", "SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87",
                                         "ECC_NIST_EDWARDS25519", NULL };
static const char *const KEY_USAGES[] = { "ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC",
                                          "KEY_AGREEMENT", NULL };
static const char *const ORIGINS[] = { "AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE",
                                       NULL };

static int op_create_key(struct call *c)
{
    struct req_error e;
    const char *policy_text, *desc, *usage, *spec, *cmk_spec, *origin;
    bool bypass, multi;
    const json_t *tags;
    if (req_string(c->in, "Policy", false, 1, 131072, &policy_text, &e) < 0 ||
        req_string(c->in, "Description", false, 0, DESCRIPTION_MAX, &desc, &e) < 0 ||
        req_enum(c->in, "KeyUsage", false, KEY_USAGES, &usage, &e) < 0 ||
        req_enum(c->in, "KeySpec", false, KEY_SPECS, &spec, &e) < 0 ||
        req_enum(c->in, "CustomerMasterKeySpec", false, KEY_SPECS, &cmk_spec, &e) < 0 ||
        req_enum(c->in, "Origin", false, ORIGINS, &origin, &e) < 0 ||
        req_bool(c->in, "BypassPolicyLockoutSafetyCheck", &bypass, &e) < 0 ||
        req_bool(c->in, "MultiRegion", &multi, &e) < 0 ||
        req_tags(c->in, "Tags", false, TAGS_PER_KEY_MAX, &tags, &e) < 0)
        return kerr_req(c, &e);
    if (spec && cmk_spec)
        return kerr(c, "ValidationException",
                    "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
                    "CustomerMasterKeySpec is deprecated.");
    if (!spec)
        spec = cmk_spec ? cmk_spec : "SYMMETRIC_DEFAULT";
    if (origin && strcmp(origin, "AWS_KMS") != 0)
        return kerr(c, "UnsupportedOperationException",
                    "Origin %s is not supported by cloister-kms; only AWS_KMS.", origin);
    if (multi)
        return kerr(c, "UnsupportedOperationException",
                    "Multi-Region keys are not supported by cloister-kms.");
    if (!strncmp(spec, "HMAC_", 5) || !strcmp(spec, "SM2") || !strncmp(spec, "ML_DSA", 6) ||
        !strcmp(spec, "ECC_NIST_EDWARDS25519"))
        return kerr(c, "UnsupportedOperationException", "KeySpec %s is not supported by cloister-kms.",
                    spec);
    if (!usage)
        usage = "ENCRYPT_DECRYPT";
    bool ok_usage = !strcmp(spec, "SYMMETRIC_DEFAULT") ? !strcmp(usage, "ENCRYPT_DECRYPT")
                    : is_rsa(spec) ? (!strcmp(usage, "ENCRYPT_DECRYPT") || !strcmp(usage, "SIGN_VERIFY"))
                                   : !strcmp(usage, "SIGN_VERIFY");
    if (!ok_usage)
        return kerr(c, "ValidationException", "KeyUsage %s is not compatible with KeySpec %s", usage,
                    spec);

    struct store_key k = {0};
    ku_uuid4(k.id);
    char arn[256];
    kms_key_arn(c->s, k.id, arn, sizeof(arn));
    if (authorize(c, "kms:CreateKey", NULL) < 0)
        return -1;
    char *policy = NULL;
    if (policy_text) {
        struct policy_parse_opts o = { .key_policy = true, .principal_exists = api_principal_exists,
                                       .principal_exists_arg = c };
        const struct policy *ids[1] = { c->identity_policy };
        struct policy_request who = { .action = "kms:PutKeyPolicy", .principal_arn = c->caller.arn,
                                      .account = c->caller.account, .resource_arn = arn,
                                      .identity_policies = ids,
                                      .n_identity = c->identity_policy ? 1 : 0,
                                      .context = call_context(c) };
        struct cl_error err = {0};
        int rc = policy_validate_key_policy(policy_text, strlen(policy_text), &o, &who, bypass, NULL,
                                            &err);
        if (rc < 0)
            return kerr(c, policy_error_type(rc), "%s", err.reason);
        policy = strdup(policy_text);
    } else {
        policy = policy_default_text("aws", c->s->account);
    }
    if (!policy)
        return kerr_internal(c, NULL);

    uint8_t *material = NULL;
    size_t mlen = 0;
    int rc = 0;
    if (!strcmp(spec, "SYMMETRIC_DEFAULT")) {
        material = malloc(32);
        mlen = 32;
        struct cl_error err = {0};
        if (!material || ku_random(material, 32, &err) < 0)
            rc = kerr_internal(c, &err);
    } else {
        EVP_PKEY *pk = generate_pair(spec);
        unsigned char *d = NULL;
        int n = pk ? i2d_PrivateKey(pk, &d) : -1;
        EVP_PKEY_free(pk);
        if (n <= 0) {
            struct cl_error err = {0};
            cl_fail_openssl(&err, CL_ECRYPTO, "key generation failed");
            rc = kerr_internal(c, &err);
        } else {
            material = d;
            mlen = (size_t)n;
        }
    }
    if (rc == 0) {
        k.created = ku_now();
        k.description = (char *)(desc ? desc : "");
        snprintf(k.key_usage, sizeof(k.key_usage), "%s", usage);
        snprintf(k.key_spec, sizeof(k.key_spec), "%s", spec);
        snprintf(k.origin, sizeof(k.origin), "AWS_KMS");
        snprintf(k.state, sizeof(k.state), "Enabled");
        k.rotation_period_days = 365;
        k.policy = policy;
        struct cl_error err = {0};
        if (store_key_create(c->s->store, &k, material, mlen, tags, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    if (rc == 0) {
        snprintf(c->key_arn, sizeof(c->key_arn), "%s", arn);
        c->out = json_pack("{s:o}", "KeyMetadata", key_metadata(c, &k));
    }
    wipe_free(material, mlen);
    free(policy);
    return rc;
}

static int op_describe_key(struct call *c)
{
    struct store_key k;
    if (grant_tokens(c) < 0 || load_key(c, "KeyId", IDS_WITH_ALIAS, &k) < 0)
        return -1;
    int rc = authorize(c, "kms:DescribeKey", &k);
    if (rc == 0)
        c->out = json_pack("{s:o}", "KeyMetadata", key_metadata(c, &k));
    store_key_clear(&k);
    return rc;
}

/* Limit and Marker of a List* call; the marker is the last item returned. */
static int paging(struct call *c, long long max, long long def, long long *limit, const char **marker)
{
    struct req_error e;
    bool present;
    if (req_int(c->in, "Limit", false, 1, max, limit, &present, &e) < 0 ||
        req_string(c->in, "Marker", false, 1, 1024, marker, &e) < 0)
        return kerr_req(c, &e);
    if (!present)
        *limit = def;
    return 0;
}

static int op_list_keys(struct call *c)
{
    long long limit;
    const char *marker;
    if (paging(c, 1000, 100, &limit, &marker) < 0)
        return -1;
    if (marker && !ku_is_uuid(marker))
        return kerr(c, "InvalidMarkerException", "Invalid marker %s", marker);
    if (authorize(c, "kms:ListKeys", NULL) < 0)
        return -1;
    purge_expired(c);
    json_t *ids = NULL;
    bool more = false;
    struct cl_error err = {0};
    if (store_key_list(c->s->store, marker, (size_t)limit, &ids, &more, &err) < 0)
        return kerr_internal(c, &err);
    json_t *keys = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        char arn[256];
        kms_key_arn(c->s, json_string_value(id), arn, sizeof(arn));
        json_array_append_new(keys, json_pack("{s:O, s:s}", "KeyId", id, "KeyArn", arn));
    }
    c->out = json_pack("{s:o, s:b}", "Keys", keys, "Truncated", more);
    if (more)
        json_object_set(c->out, "NextMarker", json_array_get(ids, json_array_size(ids) - 1));
    json_decref(ids);
    return 0;
}

/* Alias names: 1-256 of [a-zA-Z0-9:/_-], "alias/" first, "alias/aws/" reserved. */
static int check_alias_name(struct call *c, const char *name, bool creating)
{
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(":/_-", *p)))
            return kerr(c, "ValidationException",
                        "1 validation error detected: Value '%.256s' at 'aliasName' failed to "
                        "satisfy constraint: Member must satisfy regular expression pattern: "
                        "^[a-zA-Z0-9:/_-]+$",
                        name);
    if (strncmp(name, "alias/", 6) != 0 || name[6] == 0)
        return kerr(c, "InvalidAliasNameException", "Alias must start with the prefix \"alias/\".");
    if (creating && !strncmp(name, "alias/aws/", 10))
        return kerr(c, "InvalidAliasNameException",
                    "Cannot create alias with prefix 'alias/aws/' (reserved for AWS managed keys)");
    return 0;
}

static int op_create_alias(struct call *c)
{
    struct req_error e;
    const char *name;
    if (req_string(c->in, "AliasName", true, 1, 256, &name, &e) < 0)
        return kerr_req(c, &e);
    if (check_alias_name(c, name, true) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "TargetKeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:CreateAlias", &k);
    if (rc == 0) {
        struct cl_error err = {0};
        int r = store_alias_create(c->s->store, name, k.id, ku_now(), &err);
        if (r == CL_EEXIST)
            rc = kerr(c, "AlreadyExistsException", "An alias with the name arn:aws:kms:%s:%s:%s already exists",
                      c->s->region, c->s->account, name);
        else if (r < 0)
            rc = kerr_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

static int alias_target(struct call *c, const char *name, struct store_key *old)
{
    char *target = NULL;
    struct cl_error err = {0};
    int r = store_alias_get(c->s->store, name, &target, &err);
    if (r == CL_ENOTFOUND)
        return kerr(c, "NotFoundException", "Alias arn:aws:kms:%s:%s:%s is not found.", c->s->region,
                    c->s->account, name);
    if (r < 0)
        return kerr_internal(c, &err);
    r = store_key_get(c->s->store, target, old, &err);
    free(target);
    if (r < 0)
        return kerr_internal(c, &err);
    return 0;
}

static int op_update_alias(struct call *c)
{
    struct req_error e;
    const char *name;
    if (req_string(c->in, "AliasName", true, 1, 256, &name, &e) < 0)
        return kerr_req(c, &e);
    if (check_alias_name(c, name, false) < 0)
        return -1;
    struct store_key old = {0}, k = {0};
    int rc = alias_target(c, name, &old);
    if (rc == 0)
        rc = load_key(c, "TargetKeyId", IDS_KEY_ONLY, &k);
    if (rc == 0)
        rc = require_not_pending(c, &k);
    if (rc == 0 && strcmp(old.key_usage, k.key_usage) != 0)
        rc = kerr(c, "ValidationException",
                  "The new target key must have the same key usage as the current one.");
    /* AWS wants kms:UpdateAlias on both the current and the new target */
    if (rc == 0)
        rc = authorize(c, "kms:UpdateAlias", &old);
    if (rc == 0)
        rc = authorize(c, "kms:UpdateAlias", &k);
    if (rc == 0) {
        struct cl_error err = {0};
        if (store_alias_update(c->s->store, name, k.id, ku_now(), &err) < 0)
            rc = kerr_internal(c, &err);
    }
    store_key_clear(&old);
    store_key_clear(&k);
    return rc;
}

static int op_delete_alias(struct call *c)
{
    struct req_error e;
    const char *name;
    if (req_string(c->in, "AliasName", true, 1, 256, &name, &e) < 0)
        return kerr_req(c, &e);
    if (check_alias_name(c, name, false) < 0)
        return -1;
    struct store_key k = {0};
    int rc = alias_target(c, name, &k);
    if (rc == 0) {
        kms_key_arn(c->s, k.id, c->key_arn, sizeof(c->key_arn));
        rc = authorize(c, "kms:DeleteAlias", &k);
    }
    if (rc == 0) {
        struct cl_error err = {0};
        if (store_alias_delete(c->s->store, name, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

static int op_list_aliases(struct call *c)
{
    long long limit;
    const char *marker, *ident;
    struct req_error e;
    if (paging(c, 100, 50, &limit, &marker) < 0)
        return -1;
    if (req_string(c->in, "KeyId", false, 1, KEYID_MAX, &ident, &e) < 0)
        return kerr_req(c, &e);
    struct store_key k = {0};
    if (ident) {
        if (resolve_key_id(c, ident, IDS_KEY_ONLY, &k) < 0)
            return -1;
        if (authorize(c, "kms:ListAliases", &k) < 0) {
            store_key_clear(&k);
            return -1;
        }
    } else if (authorize(c, "kms:ListAliases", NULL) < 0) {
        return -1;
    }
    purge_expired(c);
    json_t *rows = NULL;
    bool more = false;
    struct cl_error err = {0};
    int rc = store_alias_list(c->s->store, ident ? k.id : NULL, marker, (size_t)limit, &rows, &more,
                              &err);
    store_key_clear(&k);
    if (rc < 0)
        return kerr_internal(c, &err);
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a)
    {
        char aarn[400];
        snprintf(aarn, sizeof(aarn), "arn:aws:kms:%s:%s:%s", c->s->region, c->s->account,
                 json_string_value(json_object_get(a, "AliasName")));
        json_object_set_new(a, "AliasArn", json_string(aarn));
    }
    c->out = json_pack("{s:o, s:b}", "Aliases", rows, "Truncated", more);
    if (more)
        json_object_set(c->out, "NextMarker",
                        json_object_get(json_array_get(rows, json_array_size(rows) - 1), "AliasName"));
    return 0;
}

static const char *const ENC_ALGS[] = { "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1",
                                        "RSAES_OAEP_SHA_256", "SM2PKE", NULL };

/* RSA-OAEP with SHA-1 or SHA-256 (asymmetric ENCRYPT_DECRYPT keys). */
static int rsa_oaep(struct call *c, EVP_PKEY *pk, bool enc, const char *alg, const uint8_t *in,
                    size_t n, uint8_t **out, size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    const EVP_MD *md = !strcmp(alg, "RSAES_OAEP_SHA_1") ? EVP_sha1() : EVP_sha256();
    int ok = ctx && (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1;
    size_t len = 0;
    ok = ok && (enc ? EVP_PKEY_encrypt(ctx, NULL, &len, in, n) : EVP_PKEY_decrypt(ctx, NULL, &len, in, n)) == 1;
    uint8_t *buf = ok ? malloc(len) : NULL;
    ok = buf && (enc ? EVP_PKEY_encrypt(ctx, buf, &len, in, n) : EVP_PKEY_decrypt(ctx, buf, &len, in, n)) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        wipe_free(buf, len);
        ERR_clear_error();
        if (!enc)
            return kerr(c, "InvalidCiphertextException", "%s", "");
        return kerr(c, "ValidationException", "Plaintext is too long for %s", alg);
    }
    *out = buf;
    *out_len = len;
    return 0;
}

static size_t rsa_max_plaintext(EVP_PKEY *pk, const char *alg)
{
    size_t mod = (size_t)EVP_PKEY_get_size(pk);
    size_t h = !strcmp(alg, "RSAES_OAEP_SHA_1") ? 20 : 32;
    return mod - 2 * h - 2;
}

/* Encrypts under key k (symmetric: our blob; RSA: raw OAEP). */
static int encrypt_with(struct call *c, struct store_key *k, const char *alg, const json_t *ctx,
                        const uint8_t *pt, size_t n, uint8_t **out, size_t *out_len)
{
    char arn[256];
    arn_of(c, k, arn, sizeof(arn));
    if (is_symmetric(k)) {
        if (alg && strcmp(alg, "SYMMETRIC_DEFAULT") != 0)
            return kerr(c, "InvalidKeyUsageException",
                        "The encryption algorithm %s is not supported by %s.", alg, arn);
        uint8_t *m = NULL;
        size_t mlen = 0;
        if (key_material(c, k, 0, &m, &mlen) < 0)
            return -1;
        uint8_t kid[16];
        ku_uuid_parse(k->id, kid, NULL);
        struct cl_error err = {0};
        int rc = blob_seal(m, kid, k->current_version, ctx, pt, n, out, out_len, &err);
        wipe_free(m, mlen);
        return rc < 0 ? kerr_internal(c, &err) : 0;
    }
    if (!alg || (strcmp(alg, "RSAES_OAEP_SHA_1") && strcmp(alg, "RSAES_OAEP_SHA_256")))
        return kerr(c, "InvalidKeyUsageException",
                    "The encryption algorithm %s is not supported by %s.",
                    alg ? alg : "SYMMETRIC_DEFAULT", arn);
    if (ctx && json_object_size(ctx) > 0)
        return kerr(c, "ValidationException",
                    "EncryptionContext is not supported with asymmetric keys.");
    EVP_PKEY *pk = key_private(c, k);
    if (!pk)
        return -1;
    int rc = 0;
    if (n > rsa_max_plaintext(pk, alg))
        rc = kerr(c, "ValidationException", "Plaintext of %zu bytes is too long for %s with %s", n,
                  alg, k->key_spec);
    else
        rc = rsa_oaep(c, pk, true, alg, pt, n, out, out_len);
    EVP_PKEY_free(pk);
    return rc;
}

static int op_encrypt(struct call *c)
{
    struct req_error e;
    uint8_t *pt = NULL;
    size_t n = 0;
    const json_t *ctx;
    const char *alg;
    if (req_blob(c->in, "Plaintext", true, 1, PLAINTEXT_MAX, &pt, &n, &e) < 0 ||
        req_context(c->in, "EncryptionContext", &ctx, &e) < 0 ||
        req_enum(c->in, "EncryptionAlgorithm", false, ENC_ALGS, &alg, &e) < 0) {
        wipe_free(pt, n);
        return kerr_req(c, &e);
    }
    struct store_key k = {0};
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = load_key(c, "KeyId", IDS_WITH_ALIAS, &k);
    if (rc == 0)
        rc = require_usable(c, &k);
    if (rc == 0)
        rc = require_usage(c, &k, "ENCRYPT_DECRYPT", "Encrypt");
    if (rc == 0)
        rc = call_add_encryption_context(c, ctx);
    if (rc == 0) {
        struct policy_context *pc = call_context(c);
        if (pc)
            policy_context_add(pc, "kms:EncryptionAlgorithm", alg ? alg : "SYMMETRIC_DEFAULT", NULL);
        rc = authorize(c, "kms:Encrypt", &k);
    }
    if (rc == 0)
        rc = dry_run(c);
    uint8_t *blob = NULL;
    size_t blen = 0;
    if (rc == 0)
        rc = encrypt_with(c, &k, alg, ctx, pt, n, &blob, &blen);
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        c->out = json_pack("{s:s, s:s}", "KeyId", arn, "EncryptionAlgorithm",
                           alg ? alg : "SYMMETRIC_DEFAULT");
        set_blob(c->out, "CiphertextBlob", blob, blen);
    }
    free(blob);
    wipe_free(pt, n);
    store_key_clear(&k);
    return rc;
}

/*
 * Decrypts a ciphertext: the key comes from the blob (symmetric) or from
 * key_ident (asymmetric, required then). key_ident, when given for a
 * symmetric blob, must name the same key (IncorrectKeyException).
 * action is the permission checked on the key. *k is filled (caller clears).
 */
static int decrypt_blob(struct call *c, const uint8_t *blob, size_t blen, const json_t *ctx,
                        const char *key_ident, const char *alg, const char *action,
                        struct store_key *k, uint8_t **pt, size_t *pt_len)
{
    struct store_key named = {0};
    bool have_named = false;
    if (key_ident) {
        if (resolve_key_id(c, key_ident, IDS_WITH_ALIAS, &named) < 0)
            return -1;
        have_named = true;
    }
    int rc = 0;
    bool symmetric = !alg || !strcmp(alg, "SYMMETRIC_DEFAULT");
    if (symmetric) {
        uint8_t kid[16];
        uint32_t ver;
        char id[37];
        if (blob_peek(blob, blen, kid, &ver, NULL) < 0) {
            rc = kerr(c, "InvalidCiphertextException", "%s", "");
            goto out;
        }
        ku_uuid_format(kid, id);
        if (have_named && strcmp(named.id, id) != 0) {
            rc = kerr(c, "IncorrectKeyException",
                      "The key ID in the request does not identify a CMK that can perform this "
                      "operation.");
            goto out;
        }
        struct cl_error err = {0};
        int r = store_key_get(c->s->store, id, k, &err);
        if (r == CL_ENOTFOUND) {
            rc = kerr(c, "NotFoundException",
                      "The ciphertext refers to a customer master key that does not exist, does "
                      "not exist in this region, or you are not allowed to access.");
            goto out;
        }
        if (r < 0) {
            rc = kerr_internal(c, &err);
            goto out;
        }
        if (!c->key_arn[0])
            kms_key_arn(c->s, k->id, c->key_arn, sizeof(c->key_arn));
        if (!is_symmetric(k)) {
            rc = kerr(c, "InvalidCiphertextException", "%s", "");
            goto out;
        }
        rc = require_usable(c, k);
        if (rc == 0)
            rc = call_add_encryption_context(c, ctx);
        if (rc == 0)
            rc = authorize(c, action, k);
        if (rc < 0)
            goto out;
        uint8_t *m = NULL;
        size_t mlen = 0;
        r = store_material_get(c->s->store, k->id, ver, &m, &mlen, &err);
        if (r == CL_ENOTFOUND) {
            rc = kerr(c, "InvalidCiphertextException", "%s", "");
            goto out;
        }
        if (r < 0) {
            rc = kerr_internal(c, &err);
            goto out;
        }
        r = blob_open(m, ctx, blob, blen, pt, pt_len, NULL);
        wipe_free(m, mlen);
        if (r < 0)
            rc = kerr(c, "InvalidCiphertextException", "%s", "");
        goto out;
    }
    /* asymmetric: KeyId and EncryptionAlgorithm are required */
    if (!have_named) {
        rc = kerr(c, "ValidationException",
                  "KeyId is required when EncryptionAlgorithm is %s", alg);
        goto out;
    }
    *k = named;
    have_named = false;
    if (is_symmetric(k) || strcmp(k->key_usage, "ENCRYPT_DECRYPT") != 0 ||
        (strcmp(alg, "RSAES_OAEP_SHA_1") && strcmp(alg, "RSAES_OAEP_SHA_256"))) {
        char arn[256];
        arn_of(c, k, arn, sizeof(arn));
        rc = kerr(c, "InvalidKeyUsageException", "The encryption algorithm %s is not supported by %s.",
                  alg, arn);
        goto out;
    }
    rc = require_usable(c, k);
    if (rc == 0 && ctx && json_object_size(ctx) > 0)
        rc = kerr(c, "ValidationException", "EncryptionContext is not supported with asymmetric keys.");
    if (rc == 0)
        rc = authorize(c, action, k);
    if (rc < 0)
        goto out;
    EVP_PKEY *pk = key_private(c, k);
    if (!pk) {
        rc = -1;
        goto out;
    }
    rc = rsa_oaep(c, pk, false, alg, blob, blen, pt, pt_len);
    EVP_PKEY_free(pk);
out:
    if (have_named)
        store_key_clear(&named);
    return rc;
}

static int op_decrypt(struct call *c)
{
    struct req_error e;
    uint8_t *blob = NULL;
    size_t blen = 0;
    const json_t *ctx;
    const char *alg, *key_ident;
    if (req_blob(c->in, "CiphertextBlob", true, 1, CIPHERTEXT_MAX, &blob, &blen, &e) < 0 ||
        req_context(c->in, "EncryptionContext", &ctx, &e) < 0 ||
        req_enum(c->in, "EncryptionAlgorithm", false, ENC_ALGS, &alg, &e) < 0 ||
        req_string(c->in, "KeyId", false, 1, KEYID_MAX, &key_ident, &e) < 0) {
        free(blob);
        return kerr_req(c, &e);
    }
    struct store_key k = {0};
    uint8_t *pt = NULL;
    size_t n = 0;
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = read_recipient(c);
    if (rc == 0) {
        struct policy_context *pc = call_context(c);
        if (pc)
            policy_context_add(pc, "kms:EncryptionAlgorithm", alg ? alg : "SYMMETRIC_DEFAULT", NULL);
        rc = decrypt_blob(c, blob, blen, ctx, key_ident, alg, "kms:Decrypt", &k, &pt, &n);
    }
    if (rc == 0)
        rc = dry_run(c);
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        c->out = json_pack("{s:s, s:s}", "KeyId", arn, "EncryptionAlgorithm",
                           alg ? alg : "SYMMETRIC_DEFAULT");
        rc = answer_secret(c, "Plaintext", pt, n);
    }
    wipe_free(pt, n);
    free(blob);
    store_key_clear(&k);
    return rc;
}

static int op_re_encrypt(struct call *c)
{
    struct req_error e;
    uint8_t *blob = NULL;
    size_t blen = 0;
    const json_t *sctx, *dctx;
    const char *salg, *dalg, *skey;
    if (req_blob(c->in, "CiphertextBlob", true, 1, CIPHERTEXT_MAX, &blob, &blen, &e) < 0 ||
        req_context(c->in, "SourceEncryptionContext", &sctx, &e) < 0 ||
        req_context(c->in, "DestinationEncryptionContext", &dctx, &e) < 0 ||
        req_enum(c->in, "SourceEncryptionAlgorithm", false, ENC_ALGS, &salg, &e) < 0 ||
        req_enum(c->in, "DestinationEncryptionAlgorithm", false, ENC_ALGS, &dalg, &e) < 0 ||
        req_string(c->in, "SourceKeyId", false, 1, KEYID_MAX, &skey, &e) < 0) {
        free(blob);
        return kerr_req(c, &e);
    }
    struct store_key src = {0}, dst = {0};
    uint8_t *pt = NULL, *out = NULL;
    size_t n = 0, olen = 0;
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = decrypt_blob(c, blob, blen, sctx, skey, salg, "kms:ReEncryptFrom", &src, &pt, &n);
    if (rc == 0)
        rc = load_key(c, "DestinationKeyId", IDS_WITH_ALIAS, &dst);
    if (rc == 0)
        rc = require_usable(c, &dst);
    if (rc == 0)
        rc = require_usage(c, &dst, "ENCRYPT_DECRYPT", "ReEncrypt");
    if (rc == 0) {
        /* the destination is authorized with its own encryption context */
        policy_context_free(c->pctx);
        c->pctx = NULL;
        rc = call_add_encryption_context(c, dctx);
    }
    if (rc == 0)
        rc = authorize(c, "kms:ReEncryptTo", &dst);
    if (rc == 0)
        rc = dry_run(c);
    if (rc == 0)
        rc = encrypt_with(c, &dst, dalg, dctx, pt, n, &out, &olen);
    if (rc == 0) {
        char sarn[256], darn[256];
        arn_of(c, &src, sarn, sizeof(sarn));
        arn_of(c, &dst, darn, sizeof(darn));
        c->out = json_pack("{s:s, s:s, s:s, s:s}", "SourceKeyId", sarn, "KeyId", darn,
                           "SourceEncryptionAlgorithm", salg ? salg : "SYMMETRIC_DEFAULT",
                           "DestinationEncryptionAlgorithm", dalg ? dalg : "SYMMETRIC_DEFAULT");
        set_blob(c->out, "CiphertextBlob", out, olen);
    }
    wipe_free(pt, n);
    free(out);
    free(blob);
    store_key_clear(&src);
    store_key_clear(&dst);
    return rc;
}

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
        rc = read_recipient(c);
    if (rc == 0)
        rc = load_key(c, "KeyId", IDS_WITH_ALIAS, k);
    if (rc == 0)
        rc = require_usable(c, k);
    if (rc == 0 && !is_symmetric(k)) {
        char arn[256];
        arn_of(c, k, arn, sizeof(arn));
        rc = kerr(c, "InvalidKeyUsageException", "%s key usage is not valid for %s: it is not a symmetric key.",
                  arn, c->op);
    }
    if (rc == 0)
        rc = call_add_encryption_context(c, ctx);
    if (rc == 0)
        rc = authorize(c, action, k);
    if (rc == 0)
        rc = dry_run(c);
    return rc;
}

static const char *const DATA_KEY_SPECS[] = { "AES_256", "AES_128", NULL };

static int data_key(struct call *c, bool with_plaintext, const char *action)
{
    struct req_error e;
    const json_t *ctx;
    const char *spec;
    long long nbytes;
    bool have_n;
    if (req_context(c->in, "EncryptionContext", &ctx, &e) < 0 ||
        req_enum(c->in, "KeySpec", false, DATA_KEY_SPECS, &spec, &e) < 0 ||
        req_int(c->in, "NumberOfBytes", false, 1, 1024, &nbytes, &have_n, &e) < 0)
        return kerr_req(c, &e);
    if (!spec && !have_n)
        return kerr(c, "ValidationException", "Please specify either number of bytes or key spec.");
    if (spec && have_n)
        return kerr(c, "ValidationException",
                    "Please specify either number of bytes or key spec but not both.");
    size_t n = have_n ? (size_t)nbytes : (!strcmp(spec, "AES_256") ? 32 : 16);
    struct store_key k = {0};
    int rc = data_key_prologue(c, with_plaintext, action, ctx, &k);
    uint8_t *dk = NULL, *blob = NULL;
    size_t blen = 0;
    if (rc == 0) {
        struct cl_error err = {0};
        dk = malloc(n);
        if (!dk || ku_random(dk, n, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    if (rc == 0)
        rc = encrypt_with(c, &k, NULL, ctx, dk, n, &blob, &blen);
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        c->out = json_pack("{s:s}", "KeyId", arn);
        set_blob(c->out, "CiphertextBlob", blob, blen);
        if (with_plaintext)
            rc = answer_secret(c, "Plaintext", dk, n);
    }
    wipe_free(dk, n);
    free(blob);
    store_key_clear(&k);
    return rc;
}

static int op_generate_data_key(struct call *c)
{
    return data_key(c, true, "kms:GenerateDataKey");
}

static int op_generate_data_key_without_plaintext(struct call *c)
{
    if (json_object_get(c->in, "Recipient"))
        return kerr(c, "ValidationException", "Recipient is not accepted by GenerateDataKeyWithoutPlaintext");
    return data_key(c, false, "kms:GenerateDataKeyWithoutPlaintext");
}

static const char *const PAIR_SPECS[] = { "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256",
                                          "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1",
                                          "SM2", NULL };

static int data_key_pair(struct call *c, bool with_plaintext, const char *action)
{
    struct req_error e;
    const json_t *ctx;
    const char *spec;
    if (req_context(c->in, "EncryptionContext", &ctx, &e) < 0 ||
        req_enum(c->in, "KeyPairSpec", true, PAIR_SPECS, &spec, &e) < 0)
        return kerr_req(c, &e);
    if (!strcmp(spec, "SM2"))
        return kerr(c, "UnsupportedOperationException", "KeyPairSpec SM2 is not supported by cloister-kms.");
    struct store_key k = {0};
    int rc = data_key_prologue(c, with_plaintext, action, ctx, &k);
    EVP_PKEY *pk = NULL;
    uint8_t *priv = NULL, *pub = NULL, *blob = NULL;
    size_t priv_len = 0, pub_len = 0, blen = 0;
    if (rc == 0) {
        pk = generate_pair(spec);
        if (!pk || der_pkcs8(pk, &priv, &priv_len) < 0 || der_public(pk, &pub, &pub_len) < 0) {
            struct cl_error err = {0};
            cl_fail_openssl(&err, CL_ECRYPTO, "key pair generation failed");
            rc = kerr_internal(c, &err);
        }
    }
    if (rc == 0)
        rc = encrypt_with(c, &k, NULL, ctx, priv, priv_len, &blob, &blen);
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
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

static int op_generate_data_key_pair(struct call *c)
{
    return data_key_pair(c, true, "kms:GenerateDataKeyPair");
}

static int op_generate_data_key_pair_without_plaintext(struct call *c)
{
    return data_key_pair(c, false, "kms:GenerateDataKeyPairWithoutPlaintext");
}

static int op_generate_random(struct call *c)
{
    struct req_error e;
    long long n;
    const char *store_id;
    if (req_int(c->in, "NumberOfBytes", true, 1, 1024, &n, NULL, &e) < 0 ||
        req_string(c->in, "CustomKeyStoreId", false, 1, 64, &store_id, &e) < 0)
        return kerr_req(c, &e);
    if (store_id)
        return kerr(c, "CustomKeyStoreNotFoundException", "Custom key stores are not supported by cloister-kms.");
    if (read_recipient(c) < 0 || authorize(c, "kms:GenerateRandom", NULL) < 0)
        return -1;
    uint8_t buf[1024];
    struct cl_error err = {0};
    if (ku_random(buf, (size_t)n, &err) < 0)
        return kerr_internal(c, &err);
    c->out = json_object();
    int rc = answer_secret(c, "Plaintext", buf, (size_t)n);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

static int policy_name(struct call *c, bool required)
{
    struct req_error e;
    const char *name;
    if (req_string(c->in, "PolicyName", required, 1, 128, &name, &e) < 0)
        return kerr_req(c, &e);
    if (name && strcmp(name, "default") != 0)
        return kerr(c, "NotFoundException", "No such policy exists: %s. The only policy name is \"default\".",
                    name);
    return 0;
}

static int op_get_key_policy(struct call *c)
{
    struct store_key k;
    if (policy_name(c, false) < 0 || load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = authorize(c, "kms:GetKeyPolicy", &k);
    if (rc == 0)
        c->out = json_pack("{s:s, s:s}", "Policy", k.policy, "PolicyName", "default");
    store_key_clear(&k);
    return rc;
}

static int op_put_key_policy(struct call *c)
{
    struct req_error e;
    const char *text;
    bool bypass;
    if (req_string(c->in, "Policy", true, 1, 131072, &text, &e) < 0 ||
        req_bool(c->in, "BypassPolicyLockoutSafetyCheck", &bypass, &e) < 0)
        return kerr_req(c, &e);
    struct store_key k;
    if (policy_name(c, false) < 0 || load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:PutKeyPolicy", &k);
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        struct policy_parse_opts o = { .key_policy = true, .principal_exists = api_principal_exists,
                                       .principal_exists_arg = c };
        const struct policy *ids[1] = { c->identity_policy };
        struct policy_request who = { .action = "kms:PutKeyPolicy", .principal_arn = c->caller.arn,
                                      .account = c->caller.account, .resource_arn = arn,
                                      .identity_policies = ids,
                                      .n_identity = c->identity_policy ? 1 : 0,
                                      .context = call_context(c) };
        struct cl_error err = {0};
        int r = policy_validate_key_policy(text, strlen(text), &o, &who, bypass, NULL, &err);
        if (r < 0)
            rc = kerr(c, policy_error_type(r), "%s", err.reason);
    }
    if (rc == 0) {
        char *copy = strdup(text);
        if (!copy) {
            rc = kerr_internal(c, NULL);
        } else {
            free(k.policy);
            k.policy = copy;
            struct cl_error err = {0};
            if (store_key_update(c->s->store, &k, &err) < 0)
                rc = kerr_internal(c, &err);
        }
    }
    store_key_clear(&k);
    return rc;
}

static int op_list_key_policies(struct call *c)
{
    long long limit;
    const char *marker;
    struct store_key k;
    if (paging(c, 1000, 100, &limit, &marker) < 0 || load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = authorize(c, "kms:ListKeyPolicies", &k);
    if (rc == 0)
        c->out = json_pack("{s:[s], s:b}", "PolicyNames", "default", "Truncated", 0);
    store_key_clear(&k);
    return rc;
}

/* Enable/Disable and the other admin operations that only change state. */
static int change_state(struct call *c, const char *action, const char *new_state)
{
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, action, &k);
    if (rc == 0) {
        snprintf(k.state, sizeof(k.state), "%s", new_state);
        struct cl_error err = {0};
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

static int op_enable_key(struct call *c)
{
    return change_state(c, "kms:EnableKey", "Enabled");
}

static int op_disable_key(struct call *c)
{
    return change_state(c, "kms:DisableKey", "Disabled");
}

static int op_schedule_key_deletion(struct call *c)
{
    struct req_error e;
    long long days;
    bool present;
    if (req_int(c->in, "PendingWindowInDays", false, 7, 30, &days, &present, &e) < 0)
        return kerr_req(c, &e);
    if (!present)
        days = 30;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:ScheduleKeyDeletion", &k);
    if (rc == 0) {
        snprintf(k.state, sizeof(k.state), "PendingDeletion");
        k.pending_days = (int)days;
        k.deletion_date = floor(ku_now()) + (double)days * DAY;
        struct cl_error err = {0};
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        c->out = json_pack("{s:s, s:f, s:s, s:i}", "KeyId", arn, "DeletionDate", k.deletion_date,
                           "KeyState", "PendingDeletion", "PendingWindowInDays", (int)days);
    }
    store_key_clear(&k);
    return rc;
}

static int op_cancel_key_deletion(struct call *c)
{
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = 0;
    char arn[256];
    arn_of(c, &k, arn, sizeof(arn));
    if (strcmp(k.state, "PendingDeletion") != 0)
        rc = kerr(c, "KMSInvalidStateException", "%s is not pending deletion.", arn);
    if (rc == 0)
        rc = authorize(c, "kms:CancelKeyDeletion", &k);
    if (rc == 0) {
        /* AWS leaves a key whose deletion was canceled Disabled */
        snprintf(k.state, sizeof(k.state), "Disabled");
        k.pending_days = 0;
        k.deletion_date = 0;
        struct cl_error err = {0};
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    if (rc == 0)
        c->out = json_pack("{s:s}", "KeyId", arn);
    store_key_clear(&k);
    return rc;
}

static int rotation_key(struct call *c, const char *action, struct store_key *k)
{
    if (load_key(c, "KeyId", IDS_KEY_ONLY, k) < 0)
        return -1;
    int rc = require_usable(c, k);
    if (rc == 0 && !is_symmetric(k)) {
        char arn[256];
        arn_of(c, k, arn, sizeof(arn));
        rc = kerr(c, "UnsupportedOperationException",
                  "%s key spec is %s: automatic rotation applies to symmetric encryption keys only.",
                  arn, k->key_spec);
    }
    if (rc == 0)
        rc = authorize(c, action, k);
    return rc;
}

static int op_enable_key_rotation(struct call *c)
{
    struct req_error e;
    long long period;
    bool present;
    if (req_int(c->in, "RotationPeriodInDays", false, 90, 2560, &period, &present, &e) < 0)
        return kerr_req(c, &e);
    struct store_key k = {0};
    int rc = rotation_key(c, "kms:EnableKeyRotation", &k);
    if (rc == 0) {
        k.rotation_period_days = present ? (int)period : (k.rotation_enabled ? k.rotation_period_days : 365);
        if (!k.rotation_enabled || present)
            k.next_rotation = ku_now() + k.rotation_period_days * DAY;
        k.rotation_enabled = true;
        struct cl_error err = {0};
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

static int op_disable_key_rotation(struct call *c)
{
    struct store_key k = {0};
    int rc = rotation_key(c, "kms:DisableKeyRotation", &k);
    if (rc == 0) {
        k.rotation_enabled = false;
        k.next_rotation = 0;
        struct cl_error err = {0};
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

static int op_get_key_rotation_status(struct call *c)
{
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:GetKeyRotationStatus", &k);
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        c->out = json_pack("{s:b, s:s}", "KeyRotationEnabled", k.rotation_enabled, "KeyId", arn);
        if (k.rotation_enabled) {
            json_object_set_new(c->out, "RotationPeriodInDays", json_integer(k.rotation_period_days));
            json_object_set_new(c->out, "NextRotationDate", json_real(k.next_rotation));
        }
    }
    store_key_clear(&k);
    return rc;
}

/* RotateKeyOnDemand: a new material version now; old ones stay for decryption. */
static int op_rotate_key_on_demand(struct call *c)
{
    struct store_key k = {0};
    int rc = rotation_key(c, "kms:RotateKeyOnDemand", &k);
    if (rc == 0) {
        uint8_t fresh[32];
        uint32_t nv;
        struct cl_error err = {0};
        double next = k.rotation_enabled ? ku_now() + k.rotation_period_days * DAY : 0;
        if (ku_random(fresh, sizeof(fresh), &err) < 0 ||
            store_key_rotate(c->s->store, k.id, fresh, sizeof(fresh), next, &nv, &err) < 0)
            rc = kerr_internal(c, &err);
        OPENSSL_cleanse(fresh, sizeof(fresh));
    }
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        c->out = json_pack("{s:s}", "KeyId", arn);
    }
    store_key_clear(&k);
    return rc;
}

static int op_update_key_description(struct call *c)
{
    struct req_error e;
    const char *desc;
    if (req_string(c->in, "Description", true, 0, DESCRIPTION_MAX, &desc, &e) < 0)
        return kerr_req(c, &e);
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:UpdateKeyDescription", &k);
    if (rc == 0) {
        free(k.description);
        k.description = strdup(desc);
        struct cl_error err = {0};
        if (!k.description || store_key_update(c->s->store, &k, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

static int op_tag_resource(struct call *c)
{
    struct req_error e;
    const json_t *tags;
    if (req_tags(c->in, "Tags", true, TAGS_PER_KEY_MAX, &tags, &e) < 0)
        return kerr_req(c, &e);
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:TagResource", &k);
    if (rc == 0) {
        /* the limit counts the tags the key would have afterwards */
        size_t have = 0, added = 0;
        struct cl_error err = {0};
        json_t *cur = NULL;
        bool more;
        if (store_tags_list(c->s->store, k.id, NULL, 1000, &cur, &more, &err) < 0) {
            rc = kerr_internal(c, &err);
        } else {
            have = json_array_size(cur);
            size_t i, j;
            json_t *t, *u;
            json_array_foreach(tags, i, t)
            {
                bool found = false;
                json_array_foreach(cur, j, u) if (json_equal(json_object_get(t, "TagKey"),
                                                             json_object_get(u, "TagKey"))) found = true;
                added += !found;
            }
            json_decref(cur);
            if (have + added > TAGS_PER_KEY_MAX)
                rc = kerr(c, "LimitExceededException", "A key can have at most %d tags.",
                          TAGS_PER_KEY_MAX);
            else if (store_tags_set(c->s->store, k.id, tags, &err) < 0)
                rc = kerr_internal(c, &err);
        }
    }
    store_key_clear(&k);
    return rc;
}

static int op_untag_resource(struct call *c)
{
    struct req_error e;
    const json_t *keys;
    if (req_string_list(c->in, "TagKeys", true, 1, 128, &keys, &e) < 0)
        return kerr_req(c, &e);
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:UntagResource", &k);
    if (rc == 0) {
        struct cl_error err = {0};
        if (store_tags_remove(c->s->store, k.id, keys, &err) < 0)
            rc = kerr_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

static int op_list_resource_tags(struct call *c)
{
    long long limit;
    const char *marker;
    struct store_key k;
    if (paging(c, 50, 50, &limit, &marker) < 0 || load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = authorize(c, "kms:ListResourceTags", &k);
    if (rc == 0) {
        json_t *tags = NULL;
        bool more = false;
        struct cl_error err = {0};
        if (store_tags_list(c->s->store, k.id, marker, (size_t)limit, &tags, &more, &err) < 0) {
            rc = kerr_internal(c, &err);
        } else {
            c->out = json_pack("{s:o, s:b}", "Tags", tags, "Truncated", more);
            if (more)
                json_object_set(c->out, "NextMarker",
                                json_object_get(json_array_get(tags, json_array_size(tags) - 1), "TagKey"));
        }
    }
    store_key_clear(&k);
    return rc;
}

static int op_get_public_key(struct call *c)
{
    struct store_key k;
    if (grant_tokens(c) < 0 || load_key(c, "KeyId", IDS_WITH_ALIAS, &k) < 0)
        return -1;
    int rc = require_usable(c, &k);
    if (rc == 0 && is_symmetric(&k)) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        rc = kerr(c, "UnsupportedOperationException",
                  "%s key spec is SYMMETRIC_DEFAULT, which is not valid for GetPublicKey.", arn);
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
            rc = kerr_internal(c, NULL);
    }
    if (rc == 0) {
        char arn[256];
        arn_of(c, &k, arn, sizeof(arn));
        c->out = json_pack("{s:s, s:s, s:s, s:s}", "KeyId", arn, "CustomerMasterKeySpec", k.key_spec,
                           "KeySpec", k.key_spec, "KeyUsage", k.key_usage);
        set_blob(c->out, "PublicKey", pub, pub_len);
        if (!strcmp(k.key_usage, "ENCRYPT_DECRYPT"))
            json_object_set_new(c->out, "EncryptionAlgorithms", encryption_algorithms(&k));
        else
            json_object_set_new(c->out, "SigningAlgorithms", signing_algorithms(k.key_spec));
    }
    OPENSSL_free(pub);
    EVP_PKEY_free(pk);
    store_key_clear(&k);
    return rc;
}

static const char *const SIGNING_ALGS[] = {
    "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512", "ECDSA_SHA_256", "ECDSA_SHA_384",
    "ECDSA_SHA_512", "SM2DSA", "ML_DSA_SHAKE_256", "ED25519_SHA_512", "ED25519_PH_SHA_512", NULL
};
static const char *const MESSAGE_TYPES[] = { "RAW", "DIGEST", "EXTERNAL_MU", NULL };

/* Shared by Sign and Verify: the key, algorithm and message digest. */
struct sign_params {
    struct store_key k;
    const char *alg;
    const EVP_MD *md;
    uint8_t digest[64];
    unsigned digest_len;
};

static int sign_setup(struct call *c, const char *action, struct sign_params *sp)
{
    struct req_error e;
    uint8_t *msg = NULL;
    size_t n = 0;
    const char *type;
    if (req_blob(c->in, "Message", true, 1, 4096, &msg, &n, &e) < 0 ||
        req_enum(c->in, "MessageType", false, MESSAGE_TYPES, &type, &e) < 0 ||
        req_enum(c->in, "SigningAlgorithm", true, SIGNING_ALGS, &sp->alg, &e) < 0) {
        wipe_free(msg, n);
        return kerr_req(c, &e);
    }
    int rc = grant_tokens(c);
    if (rc == 0)
        rc = load_key(c, "KeyId", IDS_WITH_ALIAS, &sp->k);
    if (rc < 0) {
        wipe_free(msg, n);
        return rc;
    }
    rc = require_usable(c, &sp->k);
    if (rc == 0)
        rc = require_usage(c, &sp->k, "SIGN_VERIFY", c->op);
    if (rc == 0) {
        json_t *algs = signing_algorithms(sp->k.key_spec);
        bool ok = false;
        size_t i;
        json_t *a;
        json_array_foreach(algs, i, a) ok |= !strcmp(json_string_value(a), sp->alg);
        json_decref(algs);
        if (!ok)
            rc = kerr(c, "InvalidKeyUsageException", "Algorithm %s is incompatible with key spec %s.",
                      sp->alg, sp->k.key_spec);
    }
    if (rc == 0) {
        const char *h = sp->alg + strlen(sp->alg) - 3;
        sp->md = !strcmp(h, "256") ? EVP_sha256() : !strcmp(h, "384") ? EVP_sha384() : EVP_sha512();
        size_t dl = (size_t)EVP_MD_get_size(sp->md);
        if (type && !strcmp(type, "EXTERNAL_MU")) {
            rc = kerr(c, "ValidationException", "MessageType EXTERNAL_MU is only valid for ML-DSA keys.");
        } else if (type && !strcmp(type, "DIGEST")) {
            if (n != dl)
                rc = kerr(c, "ValidationException", "Digest is invalid length for algorithm %s.", sp->alg);
            else {
                memcpy(sp->digest, msg, n);
                sp->digest_len = (unsigned)n;
            }
        } else {
            EVP_Digest(msg, n, sp->digest, &sp->digest_len, sp->md, NULL);
        }
    }
    if (rc == 0) {
        struct policy_context *pc = call_context(c);
        if (pc) {
            policy_context_add(pc, "kms:SigningAlgorithm", sp->alg, NULL);
            policy_context_add(pc, "kms:MessageType", type ? type : "RAW", NULL);
        }
        rc = authorize(c, action, &sp->k);
    }
    if (rc == 0)
        rc = dry_run(c);
    wipe_free(msg, n);
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
        struct cl_error err = {0};
        cl_fail_openssl(&err, CL_ECRYPTO, "signature setup");
        kerr_internal(c, &err);
        return NULL;
    }
    return ctx;
}

static int op_sign(struct call *c)
{
    struct sign_params sp = {0};
    int rc = sign_setup(c, "kms:Sign", &sp);
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *sig = NULL;
    size_t slen = 0;
    if (rc == 0) {
        pk = key_private(c, &sp.k);
        ctx = pk ? sign_ctx(c, pk, &sp, true) : NULL;
        if (!ctx)
            rc = -1;
    }
    if (rc == 0) {
        if (EVP_PKEY_sign(ctx, NULL, &slen, sp.digest, sp.digest_len) != 1 ||
            !(sig = malloc(slen)) || EVP_PKEY_sign(ctx, sig, &slen, sp.digest, sp.digest_len) != 1) {
            struct cl_error err = {0};
            cl_fail_openssl(&err, CL_ECRYPTO, "signing failed");
            rc = kerr_internal(c, &err);
        }
    }
    if (rc == 0) {
        char arn[256];
        arn_of(c, &sp.k, arn, sizeof(arn));
        c->out = json_pack("{s:s, s:s}", "KeyId", arn, "SigningAlgorithm", sp.alg);
        set_blob(c->out, "Signature", sig, slen);
    }
    free(sig);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    store_key_clear(&sp.k);
    return rc;
}

static int op_verify(struct call *c)
{
    struct req_error e;
    uint8_t *sig = NULL;
    size_t slen = 0;
    if (req_blob(c->in, "Signature", true, 1, 6144, &sig, &slen, &e) < 0)
        return kerr_req(c, &e);
    struct sign_params sp = {0};
    int rc = sign_setup(c, "kms:Verify", &sp);
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (rc == 0) {
        pk = key_private(c, &sp.k);
        ctx = pk ? sign_ctx(c, pk, &sp, false) : NULL;
        if (!ctx)
            rc = -1;
    }
    if (rc == 0) {
        int v = EVP_PKEY_verify(ctx, sig, slen, sp.digest, sp.digest_len);
        ERR_clear_error();
        if (v != 1) {
            /* AWS answers an invalid signature with an error, not SignatureValid: false */
            rc = kerr(c, "KMSInvalidSignatureException", "%s", "");
        } else {
            char arn[256];
            arn_of(c, &sp.k, arn, sizeof(arn));
            c->out = json_pack("{s:s, s:b, s:s}", "KeyId", arn, "SignatureValid", 1,
                               "SigningAlgorithm", sp.alg);
        }
    }
    free(sig);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    store_key_clear(&sp.k);
    return rc;
}

struct op {
    const char *name;
    int (*fn)(struct call *c);
};

static const struct op OPS[] = {
    { "CancelKeyDeletion", op_cancel_key_deletion },
    { "CreateAlias", op_create_alias },
    { "CreateKey", op_create_key },
    { "Decrypt", op_decrypt },
    { "DeleteAlias", op_delete_alias },
    { "DescribeKey", op_describe_key },
    { "DisableKey", op_disable_key },
    { "DisableKeyRotation", op_disable_key_rotation },
    { "EnableKey", op_enable_key },
    { "EnableKeyRotation", op_enable_key_rotation },
    { "Encrypt", op_encrypt },
    { "GenerateDataKey", op_generate_data_key },
    { "GenerateDataKeyPair", op_generate_data_key_pair },
    { "GenerateDataKeyPairWithoutPlaintext", op_generate_data_key_pair_without_plaintext },
    { "GenerateDataKeyWithoutPlaintext", op_generate_data_key_without_plaintext },
    { "GenerateRandom", op_generate_random },
    { "GetKeyPolicy", op_get_key_policy },
    { "GetKeyRotationStatus", op_get_key_rotation_status },
    { "GetPublicKey", op_get_public_key },
    { "ListAliases", op_list_aliases },
    { "ListKeyPolicies", op_list_key_policies },
    { "ListKeys", op_list_keys },
    { "ListResourceTags", op_list_resource_tags },
    { "PutKeyPolicy", op_put_key_policy },
    { "ReEncrypt", op_re_encrypt },
    { "RotateKeyOnDemand", op_rotate_key_on_demand },
    { "ScheduleKeyDeletion", op_schedule_key_deletion },
    { "Sign", op_sign },
    { "TagResource", op_tag_resource },
    { "UntagResource", op_untag_resource },
    { "UpdateAlias", op_update_alias },
    { "UpdateKeyDescription", op_update_key_description },
    { "Verify", op_verify },
};

int ops_dispatch(struct call *c)
{
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
        if (!strcmp(OPS[i].name, c->op)) {
            c->op = OPS[i].name;   /* a static string for the audit line */
            int rc = OPS[i].fn(c);
            if (rc == 0 && !c->out)
                c->out = json_object();
            return rc;
        }
    return kerr(c, "UnknownOperationException", "%s", "");
}
