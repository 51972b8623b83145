/* SPDX-License-Identifier: Apache-2.0 */
/* KMS's JSON answer and the audit line of a call (answer.h). */
#include "serve/answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/audit.h"
#include "util/kmsutil.h"

#define JSON_CT "application/x-amz-json-1.1"

const char *answer_message_member(const char *type)
{
    return (!strcmp(type, "AccessDeniedException") ||
            !strcmp(type, "UnsupportedOperationException"))
               ? "Message"
               : "message";
}

void answer_json(const struct call *c, struct http_response *resp)
{
    json_t *body;
    if (c->err.failed) {
        body = json_pack("{s:s, s:s}", "__type", c->err.type, answer_message_member(c->err.type),
                         c->err.message);
        resp->status = c->err.status;
    } else {
        body = c->out ? json_incref(c->out) : json_object();
        resp->status = 200;
    }
    resp->content_type = JSON_CT;
    resp->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    json_decref(body);
}

void write_audit(const struct call *c, const char *source)
{
    if (!c->s->audit)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[64], base[32];
    ku_iso8601(ts.tv_sec, base);
    base[strlen(base) - 1] = 0; /* drop Z, add milliseconds */
    snprintf(when, sizeof(when), "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000) % 1000);
    /* STS's requests are logged with STS's code for the failure */
    const char *result = !c->err.failed                 ? "Success"
                         : c->sts && c->err.sts_code[0] ? c->err.sts_code
                                                        : c->err.type;
    json_t *ev = json_object();
    json_object_set_new(ev, "time", json_string(when));
    json_object_set_new(ev, "requestId", json_string(c->request_id));
    json_object_set_new(ev, "eventId", json_string(c->event_id));
    json_object_set_new(ev, "eventSource", json_string(source));
    json_object_set_new(ev, "operation", c->op ? json_string(c->op) : json_null());
    json_object_set_new(ev, "sourceIp", json_string(c->peer_ip));
    json_object_set_new(ev, "principal",
                        c->caller.arn[0] ? json_string(c->caller.arn) : json_null());
    json_object_set_new(ev, "accessKeyId",
                        c->caller.access_key[0] ? json_string(c->caller.access_key) : json_null());
    json_object_set_new(ev, "keyId", c->key_arn[0] ? json_string(c->key_arn) : json_null());
    json_object_set_new(ev, "result", json_string(result));
    if (c->err.failed)
        json_object_set_new(ev, "errorMessage", json_string(c->err.message));
    const char *k;
    json_t *v;
    json_object_foreach(c->audit, k, v) json_object_set(ev, k, v);
    struct cl_error err = { 0 };
    if (audit_append(c->s->audit, ev, &err) < 0)
        fprintf(stderr, "cloister-kms: audit log: %s\n", err.reason);
    json_decref(ev);
}
