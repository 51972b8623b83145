/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GetKeyLastUsage, and the noting of each key's use it answers from
 * (store.h, store_usage_note). A use is a successful call of one of the
 * operations botocore's model lists in KeyLastUsage's Operation enum, for
 * every key whose material the call read (key_ref.c, key_material, names
 * them): ReEncrypt notes both its keys, as AWS does. The CloudTrailEventId
 * is the eventId of the call's audit line, the KmsRequestId its request id.
 */
#include <stdio.h>
#include <string.h>

#include "call/authorize.h"
#include "ops/key_ref.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

static const char *const TRACKED[] = {
    "Decrypt",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
};

void key_usage_record(struct call *c)
{
    if (c->err.failed || !c->op || c->n_used_keys == 0)
        return;
    bool tracked = false;
    for (size_t i = 0; i < sizeof(TRACKED) / sizeof(TRACKED[0]) && !tracked; i++)
        tracked = !strcmp(TRACKED[i], c->op);
    if (!tracked)
        return;
    struct store_usage u = { .used = ku_now() };
    snprintf(u.operation, sizeof(u.operation), "%s", c->op);
    memcpy(u.event_id, c->event_id, sizeof(u.event_id));
    memcpy(u.request_id, c->request_id, sizeof(u.request_id));
    for (unsigned i = 0; i < c->n_used_keys; i++) {
        struct cl_error err = { 0 };
        /* the call has succeeded: a note that cannot be kept is logged, not answered */
        if (store_usage_note(c->s->store, c->used_keys[i], &u, &err) < 0)
            fprintf(stderr, "cloister-kms: key usage of %s not noted: %s\n", c->used_keys[i],
                    err.reason);
    }
}

int op_get_key_last_usage(struct call *c)
{
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    struct store_usage u;
    bool found = false;
    double since = 0;
    struct cl_error err = { 0 };
    int rc = authorize(c, "kms:GetKeyLastUsage", &k);
    if (rc == 0 && (store_usage_get(c->s->store, k.id, &u, &found, &err) < 0 ||
                    store_usage_since(c->s->store, &since, &err) < 0))
        rc = call_fail_internal(c, &err);
    if (rc == 0) {
        /* "the date from which KMS began recording [...] or the date the KMS key was
         * created, whichever is later" (the model's TrackingStartDate) */
        char pub[KMS_ID_MAX];
        kms_public_id(k.id, pub, sizeof(pub));
        c->out = json_pack("{s:s, s:f, s:f}", "KeyId", pub, "TrackingStartDate",
                           since > k.created ? since : k.created, "KeyCreationDate", k.created);
        json_t *last = json_object();
        if (found)
            json_object_update_new(last, json_pack("{s:s, s:f, s:s, s:s}", "Operation", u.operation,
                                                   "Timestamp", u.used, "CloudTrailEventId",
                                                   u.event_id, "KmsRequestId", u.request_id));
        json_object_set_new(c->out, "KeyLastUsage", last);
    }
    store_key_clear(&k);
    return rc;
}
