/* SPDX-License-Identifier: Apache-2.0 */
/* A call's life and its failures (call.h). */
#include "call/call.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call/recipient.h"
#include "policy/policy.h"
#include "util/kmsutil.h"

void kms_key_arn(const struct kms_service *s, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:kms:%s:%s:key/%s", s->region, s->account, id);
}

void call_init(struct call *c, struct kms_service *s, bool tls, const char *peer_ip)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->tls = tls;
    c->peer_ip = peer_ip ? peer_ip : "";
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
