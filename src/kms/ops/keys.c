/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A key's lifecycle: CreateKey, DescribeKey, ListKeys, EnableKey,
 * DisableKey, ScheduleKeyDeletion, CancelKeyDeletion, UpdateKeyDescription.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "call/authorize.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/imports.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "ops/marker.h"
#include "ops/multi_region.h"
#include "ops/ops.h"
#include "policy/policy.h"
#include "util/kmsutil.h"

#define DESCRIPTION_MAX 8192
#define DAY             86400.0

static const char *const KEY_SPECS[] = { KEY_SPEC_SYMMETRIC_DEFAULT,
                                         "RSA_2048",
                                         "RSA_3072",
                                         "RSA_4096",
                                         "ECC_NIST_P256",
                                         "ECC_NIST_P384",
                                         "ECC_NIST_P521",
                                         "ECC_SECG_P256K1",
                                         "HMAC_224",
                                         "HMAC_256",
                                         "HMAC_384",
                                         "HMAC_512",
                                         "SM2",
                                         "ML_DSA_44",
                                         "ML_DSA_65",
                                         "ML_DSA_87",
                                         "ECC_NIST_EDWARDS25519",
                                         NULL };
static const char *const KEY_USAGES[] = { "ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC",
                                          "KEY_AGREEMENT", NULL };
static const char *const ORIGINS[] = { "AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE",
                                       NULL };

json_t *key_metadata(struct call *c, const struct store_key *k)
{
    char arn[KEY_ARN_MAX], pub[KMS_ID_MAX];
    key_arn(c, k, arn);
    kms_public_id(k->id, pub, sizeof(pub));
    bool mrk = is_mrk_id(pub);
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:f, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "AWSAccountId",
        c->s->account, "KeyId", pub, "Arn", arn, "CreationDate", k->created, "Enabled",
        k->state == KEY_ENABLED, "Description", k->description ? k->description : "", "KeyUsage",
        key_usage_name(k->usage), "KeyState", key_state_name(k->state), "Origin", k->origin,
        "KeyManager", "CUSTOMER", "KeySpec", k->key_spec, "MultiRegion", mrk);
    if (!m) {
        call_fail_internal(c, NULL);
        return NULL;
    }
    set_cmk_spec(m, k->key_spec);
    set_algorithms(m, k);
    if (import_metadata(c, k, m) < 0) {
        json_decref(m);
        return NULL;
    }
    if (k->state == KEY_PENDING_DELETION)
        json_object_set_new(m, "DeletionDate", json_real(k->deletion_date));
    /* PendingReplicaDeletion: the window is known, the date is not yet */
    if (k->state == KEY_PENDING_DELETION || k->state == KEY_PENDING_REPLICA_DELETION)
        json_object_set_new(m, "PendingDeletionWindowInDays", json_integer(k->pending_days));
    json_t *mrc = mrk ? mrk_configuration(c, k) : NULL;
    if (mrc)
        json_object_set_new(m, "MultiRegionConfiguration", mrc);
    return m;
}

/* What CreateKey asks for. */
struct create_args {
    const char *policy_text, *desc, *usage, *spec;
    bool external;            /* Origin EXTERNAL: no material until ImportKeyMaterial */
    enum key_usage key_usage; /* usage, once known to suit spec */
    bool bypass, multi;
    const json_t *tags;
};

/* CreateKey's members, and whether cloister-kms makes such a key. */
static int create_key_args(struct call *c, struct create_args *a)
{
    const char *cmk_spec, *origin;
    if (req_string(c->in, "Policy", false, 1, POLICY_MEMBER_MAX, &a->policy_text, &c->err) < 0 ||
        req_string(c->in, "Description", false, 0, DESCRIPTION_MAX, &a->desc, &c->err) < 0 ||
        req_enum(c->in, "KeyUsage", false, KEY_USAGES, &a->usage, &c->err) < 0 ||
        req_enum(c->in, "KeySpec", false, KEY_SPECS, &a->spec, &c->err) < 0 ||
        req_enum(c->in, "CustomerMasterKeySpec", false, KEY_SPECS, &cmk_spec, &c->err) < 0 ||
        req_enum(c->in, "Origin", false, ORIGINS, &origin, &c->err) < 0 ||
        req_bool(c->in, "BypassPolicyLockoutSafetyCheck", &a->bypass, &c->err) < 0 ||
        req_bool(c->in, "MultiRegion", &a->multi, &c->err) < 0 ||
        req_tags(c->in, "Tags", false, TAGS_PER_KEY_MAX, &a->tags, &c->err) < 0)
        return -1;
    if (a->spec && cmk_spec)
        return call_fail(
            c, "ValidationException",
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
            "CustomerMasterKeySpec is deprecated.");
    if (!a->spec)
        a->spec = cmk_spec ? cmk_spec : KEY_SPEC_SYMMETRIC_DEFAULT;
    a->external = origin && !strcmp(origin, "EXTERNAL");
    if (origin && strcmp(origin, "AWS_KMS") != 0 && !a->external)
        return call_fail(c, "UnsupportedOperationException",
                         "Origin %s is not supported by cloister-kms; only AWS_KMS and EXTERNAL.",
                         origin);
    const char *spec = a->spec;
    if (!strcmp(spec, "SM2"))
        return refuse_sm2(c, "KeySpec");
    if (!strncmp(spec, "ML_DSA", 6))
        return call_fail(c, "UnsupportedOperationException",
                         "KeySpec %s is not supported by cloister-kms.", spec);
    if (!a->usage)
        a->usage = "ENCRYPT_DECRYPT";
    /* symmetric keys encrypt, RSA keys encrypt or sign, NIST ECC keys sign
     * or agree keys (ECDH), secp256k1 and Ed25519 keys sign, HMAC keys
     * generate and verify MACs (botocore's CreateKey KeyUsage: "For
     * asymmetric KMS keys with ECC_SECG_P256K1 key pairs, specify
     * SIGN_VERIFY") */
    enum key_usage u;
    bool ok_usage =
        key_usage_parse(a->usage, &u) == 0 &&
        (!strcmp(spec, KEY_SPEC_SYMMETRIC_DEFAULT) ? u == KEY_USAGE_ENCRYPT_DECRYPT
         : is_rsa_spec(spec)      ? u == KEY_USAGE_ENCRYPT_DECRYPT || u == KEY_USAGE_SIGN_VERIFY
         : is_hmac_spec(spec)     ? u == KEY_USAGE_GENERATE_VERIFY_MAC
         : is_nist_ecc_spec(spec) ? u == KEY_USAGE_SIGN_VERIFY || u == KEY_USAGE_KEY_AGREEMENT
                                  : u == KEY_USAGE_SIGN_VERIFY);
    if (!ok_usage)
        return call_fail(c, "ValidationException", "KeyUsage %s is not compatible with KeySpec %s",
                         a->usage, spec);
    a->key_usage = u;
    return 0;
}

/* The new key's policy: the request's, validated, or the default one; malloc'd. */
static int initial_policy(struct call *c, const struct create_args *a, const char *arn,
                          char **policy)
{
    if (a->policy_text) {
        if (authorize_key_policy(c, a->policy_text, arn, a->bypass) < 0)
            return -1;
        *policy = strdup(a->policy_text);
    } else {
        *policy = policy_default_text("aws", c->s->account);
    }
    return *policy ? 0 : call_fail_internal(c, NULL);
}

/* Fresh material of a spec: 32 random bytes (an HMAC key: as many as its
 * spec says), or a private key's DER. *material is the caller's to wipe and
 * free, whatever this returns. */
static int new_material(struct call *c, const char *spec, uint8_t **material, size_t *len)
{
    struct cl_error err = { 0 };
    size_t secret = !strcmp(spec, KEY_SPEC_SYMMETRIC_DEFAULT) ? 32 : hmac_key_bytes(spec);
    if (secret) {
        *material = malloc(secret);
        *len = secret;
        if (!*material || ku_random(*material, secret, &err) < 0)
            return call_fail_internal(c, &err);
        return 0;
    }
    EVP_PKEY *pk = generate_pair(spec);
    unsigned char *d = NULL;
    int n = pk ? i2d_PrivateKey(pk, &d) : -1;
    EVP_PKEY_free(pk);
    if (n <= 0) {
        cl_fail_openssl(&err, CL_ECRYPTO, "key generation failed");
        return call_fail_internal(c, &err);
    }
    *material = d;
    *len = (size_t)n;
    return 0;
}

int op_create_key(struct call *c)
{
    struct create_args a;
    if (create_key_args(c, &a) < 0)
        return -1;
    struct store_key k = { 0 };
    char pub[KMS_ID_MAX];
    ku_uuid4(pub);
    if (a.multi) { /* a multi-Region key's id: "mrk-" and 32 hex digits (AWS's form) */
        uint8_t r[16];
        struct cl_error err = { 0 };
        if (ku_random(r, sizeof(r), &err) < 0)
            return call_fail_internal(c, &err);
        memcpy(pub, "mrk-", 4);
        for (int i = 0; i < 16; i++)
            snprintf(pub + 4 + 2 * i, 3, "%02x", r[i]);
    }
    kms_internal_id(c->s, c->region, pub, k.id, sizeof(k.id));
    char arn[KEY_ARN_MAX];
    key_arn(c, &k, arn);
    char *policy = NULL;
    if (authorize(c, "kms:CreateKey", NULL) < 0 || initial_policy(c, &a, arn, &policy) < 0)
        return -1;
    uint8_t *material = NULL;
    size_t mlen = 0;
    int rc = a.external ? 0 : new_material(c, a.spec, &material, &mlen);
    if (rc == 0) {
        k.created = ku_now();
        k.usage = a.key_usage;
        k.description = (char *)(a.desc ? a.desc : "");
        snprintf(k.key_spec, sizeof(k.key_spec), "%s", a.spec);
        snprintf(k.origin, sizeof(k.origin), "%s", a.external ? "EXTERNAL" : "AWS_KMS");
        k.state = a.external ? KEY_PENDING_IMPORT : KEY_ENABLED;
        k.rotation_period_days = 365;
        k.policy = policy;
        struct cl_error err = { 0 };
        if (store_key_create(c->s->store, &k, material, mlen, a.tags, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    if (rc == 0) {
        call_name_key(c, k.id);
        json_t *m = key_metadata(c, &k);
        c->out = m ? json_pack("{s:o}", "KeyMetadata", m) : NULL;
        rc = m ? 0 : -1;
    }
    ku_wipe_free(material);
    free(policy);
    return rc;
}

int op_describe_key(struct call *c)
{
    struct store_key k;
    if (grant_tokens(c) < 0 || load_key(c, "KeyId", IDS_WITH_ALIAS, &k) < 0)
        return -1;
    int rc = authorize(c, "kms:DescribeKey", &k);
    json_t *m = rc == 0 ? key_metadata(c, &k) : NULL;
    if (rc == 0 && !m)
        rc = -1;
    if (rc == 0)
        c->out = json_pack("{s:o}", "KeyMetadata", m);
    store_key_clear(&k);
    return rc;
}

int op_list_keys(struct call *c)
{
    long long limit;
    const char *marker;
    char *after = NULL;
    if (paging(c, 1000, 100, &limit, &marker) < 0 || marker_read(c, "ListKeys", marker, &after) < 0)
        return -1;
    if (authorize(c, "kms:ListKeys", NULL) < 0) {
        free(after);
        return -1;
    }
    purge_expired(c);
    json_t *ids = NULL;
    bool more = false;
    struct cl_error err = { 0 };
    char tag[40] = ""; /* the request's region's keys (call.h, "Regions") */
    if (strcmp(c->region, c->s->region) != 0)
        snprintf(tag, sizeof(tag), "@%s", c->region);
    int rc = store_key_list_in(c->s->store, tag[0] ? tag : NULL, after, (size_t)limit, &ids, &more,
                               &err);
    free(after);
    if (rc < 0)
        return call_fail_internal(c, &err);
    json_t *keys = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        char arn[KEY_ARN_MAX], pub[KMS_ID_MAX];
        kms_key_arn(c->s, json_string_value(id), arn, sizeof(arn));
        kms_public_id(json_string_value(id), pub, sizeof(pub));
        json_array_append_new(keys, json_pack("{s:s, s:s}", "KeyId", pub, "KeyArn", arn));
    }
    c->out = json_pack("{s:o, s:b}", "Keys", keys, "Truncated", more);
    if (more)
        marker_set_next(c->out, "ListKeys",
                        json_string_value(json_array_get(ids, json_array_size(ids) - 1)));
    json_decref(ids);
    return 0;
}

/* Enable/Disable: operations that only change the key's state. */
static int change_state(struct call *c, const char *action, enum key_state new_state)
{
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    /* a key without its material can be neither enabled nor disabled (AWS) */
    if (rc == 0 && k.state == KEY_PENDING_IMPORT) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        rc = call_fail(c, "KMSInvalidStateException", "%s is pending import.", arn);
    }
    if (rc == 0)
        rc = authorize(c, action, &k);
    if (rc == 0) {
        k.state = new_state;
        struct cl_error err = { 0 };
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

int op_enable_key(struct call *c)
{
    return change_state(c, "kms:EnableKey", KEY_ENABLED);
}

int op_disable_key(struct call *c)
{
    return change_state(c, "kms:DisableKey", KEY_DISABLED);
}

int op_schedule_key_deletion(struct call *c)
{
    long long days;
    bool present;
    if (req_int(c->in, "PendingWindowInDays", false, 7, 30, &days, &present, &c->err) < 0)
        return -1;
    if (!present)
        days = 30;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:ScheduleKeyDeletion", &k);
    /* a multi-Region primary with replicas waits for them (AWS:
     * PendingReplicaDeletion; its own window starts when the last is gone,
     * state/store_mrk.c) */
    bool primary = false;
    size_t replicas = 0;
    if (rc == 0 && !strncmp(k.id, "mrk-", 4))
        rc = mrk_role(c, &k, &primary, &replicas);
    if (rc == 0) {
        bool wait = primary && replicas > 0;
        k.state = wait ? KEY_PENDING_REPLICA_DELETION : KEY_PENDING_DELETION;
        k.pending_days = (int)days;
        k.deletion_date = wait ? 0 : floor(ku_now()) + (double)days * DAY;
        struct cl_error err = { 0 };
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:s, s:i}", "KeyId", arn, "KeyState", key_state_name(k.state),
                           "PendingWindowInDays", (int)days);
        if (k.state == KEY_PENDING_DELETION)
            json_object_set_new(c->out, "DeletionDate", json_real(k.deletion_date));
    }
    store_key_clear(&k);
    return rc;
}

int op_cancel_key_deletion(struct call *c)
{
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = 0;
    char arn[KEY_ARN_MAX];
    key_arn(c, &k, arn);
    if (k.state != KEY_PENDING_DELETION && k.state != KEY_PENDING_REPLICA_DELETION)
        rc = call_fail(c, "KMSInvalidStateException", "%s is not pending deletion.", arn);
    if (rc == 0)
        rc = authorize(c, "kms:CancelKeyDeletion", &k);
    enum key_state after = KEY_DISABLED;
    if (rc == 0)
        rc = import_state_after_cancel(c, &k, &after);
    if (rc == 0) {
        /* AWS leaves a key whose deletion was canceled Disabled (PendingImport
         * when it has no material) */
        k.state = after;
        k.pending_days = 0;
        k.deletion_date = 0;
        struct cl_error err = { 0 };
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    if (rc == 0)
        c->out = json_pack("{s:s}", "KeyId", arn);
    store_key_clear(&k);
    return rc;
}

int op_update_key_description(struct call *c)
{
    const char *desc;
    if (req_string(c->in, "Description", true, 0, DESCRIPTION_MAX, &desc, &c->err) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:UpdateKeyDescription", &k);
    if (rc == 0) {
        free(k.description);
        k.description = strdup(desc);
        struct cl_error err = { 0 };
        if (!k.description || store_key_update(c->s->store, &k, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}
