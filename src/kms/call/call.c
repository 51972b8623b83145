/* SPDX-License-Identifier: Apache-2.0 */
/* A call's life and its failures (call.h). */
#include "call/call.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call/recipient.h"
#include "policy/policy.h"
#include "util/kmsutil.h"

/* The regions of the aws partition where KMS is (botocore 1.43's endpoints
 * for kms): ARNs here are arn:aws:..., so no other partition's. */
static const char *const REGIONS[] = {
    "af-south-1",     "ap-east-1",      "ap-east-2",      "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1",     "ap-south-2",     "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
    "ca-central-1",   "ca-west-1",      "eu-central-1",   "eu-central-2",   "eu-north-1",
    "eu-south-1",     "eu-south-2",     "eu-west-1",      "eu-west-2",      "eu-west-3",
    "il-central-1",   "me-central-1",   "me-south-1",     "mx-central-1",   "sa-east-1",
    "us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",      NULL
};

bool kms_region_known(const struct kms_service *s, const char *r)
{
    if (!strcmp(r, s->region))
        return true;
    for (size_t i = 0; REGIONS[i]; i++)
        if (!strcmp(r, REGIONS[i]))
            return true;
    return false;
}

void kms_internal_id(const struct kms_service *s, const char *region, const char *id, char *out,
                     size_t cap)
{
    if (!strcmp(region, s->region))
        snprintf(out, cap, "%s", id);
    else
        snprintf(out, cap, "%s@%s", id, region);
}

void kms_public_id(const char *internal, char *out, size_t cap)
{
    const char *at = strchr(internal, '@');
    int n = at ? (int)(at - internal) : (int)strlen(internal);
    snprintf(out, cap, "%.*s", n, internal);
}

void kms_id_region(const struct kms_service *s, const char *internal, char *out, size_t cap)
{
    const char *at = strchr(internal, '@');
    snprintf(out, cap, "%s", at ? at + 1 : s->region);
}

void kms_key_arn(const struct kms_service *s, const char *id, char *out, size_t cap)
{
    char pub[KMS_ID_MAX], region[32];
    kms_public_id(id, pub, sizeof(pub));
    kms_id_region(s, id, region, sizeof(region));
    snprintf(out, cap, "arn:aws:kms:%s:%s:key/%s", region, s->account, pub);
}

void call_init(struct call *c, struct kms_service *s, bool tls, const char *peer_ip)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->tls = tls;
    c->peer_ip = peer_ip ? peer_ip : "";
    snprintf(c->region, sizeof(c->region), "%s", s->region); /* until authenticated */
    ku_uuid4(c->request_id);
    ku_uuid4(c->event_id);
    c->audit = json_object();
}

void call_free(struct call *c)
{
    json_decref(c->in);
    json_decref(c->out);
    json_decref(c->audit);
    policy_context_free(c->pctx);
    recipient_free(c->recipient);
    ident_caller_clear(&c->caller);
}

int call_fail(struct call *c, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kms_failv(&c->err, type, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

int call_fail_internal(struct call *c, const struct cl_error *err)
{
    if (c->audit && err)
        json_object_set_new(c->audit, "internalError", json_string(err->reason));
    return call_fail(c, "KMSInternalException",
                     "The request was rejected because an internal exception occurred. The "
                     "request can be retried.");
}

void call_name_key(struct call *c, const char *key_id)
{
    if (!c->key_arn[0])
        kms_key_arn(c->s, key_id, c->key_arn, sizeof(c->key_arn));
}
