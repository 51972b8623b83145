/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
 * RotateKeyOnDemand. Rotating adds a material version and makes it current;
 * old versions stay, so old ciphertexts keep decrypting. Automatic rotation
 * happens when a key is used past its date (key_ref.c, key_material()).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "call/authorize.h"
#include "call/request.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "ops/multi_region.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

#define DAY 86400.0

/* The key of a rotation operation: usable, symmetric, and allowed action. */
static int rotation_key(struct call *c, const char *action, struct store_key *k)
{
    if (load_key(c, "KeyId", IDS_KEY_ONLY, k) < 0)
        return -1;
    int rc = require_usable(c, k);
    /* AWS does not rotate imported material (EnableKeyRotation, RotateKeyOnDemand) */
    if (rc == 0 && !strcmp(k->origin, "EXTERNAL") &&
        strcmp(action, "kms:DisableKeyRotation") != 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, k, arn);
        rc = call_fail(c, "UnsupportedOperationException",
                       "%s origin is EXTERNAL which is not valid for this operation.", arn);
    }
    if (rc == 0 && !is_symmetric(k)) {
        char arn[KEY_ARN_MAX];
        key_arn(c, k, arn);
        rc = call_fail(c, "UnsupportedOperationException",
                       "%s key spec is %s: automatic rotation applies to symmetric encryption keys "
                       "only.",
                       arn, k->key_spec);
    }
    /* rotation is a property related multi-Region keys share, set on the
     * primary (AWS: replicas cannot be rotated on their own) */
    bool primary = true;
    size_t n;
    if (rc == 0 && !strncmp(k->id, "mrk-", 4))
        rc = mrk_role(c, k, &primary, &n);
    if (rc == 0 && !primary) {
        char arn[KEY_ARN_MAX];
        key_arn(c, k, arn);
        rc = call_fail(c, "UnsupportedOperationException",
                       "%s is a multi-Region replica key: rotation is managed on its primary key.",
                       arn);
    }
    if (rc == 0)
        rc = authorize(c, action, k);
    return rc;
}

int op_enable_key_rotation(struct call *c)
{
    long long period;
    bool present;
    if (req_int(c->in, "RotationPeriodInDays", false, 90, 2560, &period, &present, &c->err) < 0)
        return -1;
    struct store_key k = { 0 };
    int rc = rotation_key(c, "kms:EnableKeyRotation", &k);
    if (rc == 0) {
        k.rotation_period_days =
            present ? (int)period : (k.rotation_enabled ? k.rotation_period_days : 365);
        if (!k.rotation_enabled || present)
            k.next_rotation = ku_now() + k.rotation_period_days * DAY;
        k.rotation_enabled = true;
        struct cl_error err = { 0 };
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    if (rc == 0)
        rc = mrk_sync_rotation(c, &k);
    store_key_clear(&k);
    return rc;
}

int op_disable_key_rotation(struct call *c)
{
    struct store_key k = { 0 };
    int rc = rotation_key(c, "kms:DisableKeyRotation", &k);
    if (rc == 0) {
        k.rotation_enabled = false;
        k.next_rotation = 0;
        struct cl_error err = { 0 };
        if (store_key_update(c->s->store, &k, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    if (rc == 0)
        rc = mrk_sync_rotation(c, &k);
    store_key_clear(&k);
    return rc;
}

int op_get_key_rotation_status(struct call *c)
{
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:GetKeyRotationStatus", &k);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:b, s:s}", "KeyRotationEnabled", k.rotation_enabled, "KeyId", arn);
        if (k.rotation_enabled) {
            json_object_set_new(c->out, "RotationPeriodInDays",
                                json_integer(k.rotation_period_days));
            json_object_set_new(c->out, "NextRotationDate", json_real(k.next_rotation));
        }
    }
    store_key_clear(&k);
    return rc;
}

int op_rotate_key_on_demand(struct call *c)
{
    struct store_key k = { 0 };
    int rc = rotation_key(c, "kms:RotateKeyOnDemand", &k);
    if (rc == 0) {
        uint8_t fresh[32];
        uint32_t nv;
        struct cl_error err = { 0 };
        double next = k.rotation_enabled ? ku_now() + k.rotation_period_days * DAY : 0;
        if (ku_random(fresh, sizeof(fresh), &err) < 0 ||
            store_key_rotate(c->s->store, k.id, fresh, sizeof(fresh), next, true, &nv, &err) < 0)
            rc = call_fail_internal(c, &err);
        OPENSSL_cleanse(fresh, sizeof(fresh));
    }
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s}", "KeyId", arn);
    }
    store_key_clear(&k);
    return rc;
}
