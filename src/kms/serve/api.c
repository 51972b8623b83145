/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request pipeline: protocol detection, SigV4 authentication, dispatch,
 * AWS error shapes, the audit line. Operations are in ops.c, STS in sts.c.
 */
#include "serve/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <pthread.h>

#include "call/api_internal.h"
#include "util/kmsutil.h"
#include "serve/sigv4.h"
#include "serve/sts.h"
#include "call/recipient.h"

#define JSON_CT "application/x-amz-json-1.1"

void kms_key_arn(const struct kms_service *s, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:kms:%s:%s:key/%s", s->region, s->account, id);
}

/* Server faults answer 500 (botocore marks them fault: true, SDKs retry them). */
static int status_of(const char *type)
{
    if (!strcmp(type, "KMSInternalException") || !strcmp(type, "DependencyTimeoutException") ||
        !strcmp(type, "KeyUnavailableException"))
        return 500;
    if (!strcmp(type, "DryRunOperationException"))
        return 412;
    return 400;
}

int kerr(struct call *c, const char *type, const char *fmt, ...)
{
    if (c->failed)
        return -1;
    c->failed = true;
    snprintf(c->err_type, sizeof(c->err_type), "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof(c->err_msg), fmt, ap);
    va_end(ap);
    c->status = status_of(type);
    return -1;
}

int kerr_req(struct call *c, const struct req_error *e)
{
    return kerr(c, e->type, "%s", e->message);
}

int kerr_internal(struct call *c, const struct cl_error *err)
{
    if (c->audit && err)
        json_object_set_new(c->audit, "internalError", json_string(err->reason));
    return kerr(c, "KMSInternalException", "The request was rejected because an internal exception occurred. The request can be retried.");
}

struct policy_context *call_context(struct call *c)
{
    if (c->pctx)
        return c->pctx;
    if (policy_context_new(&c->pctx, NULL) < 0)
        return NULL;
    policy_context_add(c->pctx, "aws:SecureTransport", c->http->tls ? "true" : "false", NULL);
    if (c->http->peer_ip[0])
        policy_context_add(c->pctx, "aws:SourceIp", c->http->peer_ip, NULL);
    policy_context_add(c->pctx, "aws:PrincipalArn", c->caller.arn, NULL);
    policy_context_add(c->pctx, "aws:PrincipalAccount", c->caller.account, NULL);
    policy_context_add(c->pctx, "kms:CallerAccount", c->caller.account, NULL);
    return c->pctx;
}

int call_add_encryption_context(struct call *c, const json_t *ctx)
{
    struct policy_context *pc = call_context(c);
    if (!pc)
        return kerr_internal(c, NULL);
    if (!ctx)
        return 0;
    const char *k;
    json_t *v;
    json_t *keys = json_array();
    json_object_foreach((json_t *)ctx, k, v)
    {
        /* sized to the key (the whole context is at most 8192 bytes): a
         * fixed buffer would cut long keys and let two of them collide */
        static const char prefix[] = "kms:EncryptionContext:";
        size_t klen = strlen(k);
        char *name = malloc(sizeof(prefix) + klen);
        if (!name) {
            json_decref(keys);
            return kerr_internal(c, NULL);
        }
        memcpy(name, prefix, sizeof(prefix) - 1);
        memcpy(name + sizeof(prefix) - 1, k, klen + 1);
        policy_context_add(pc, name, json_string_value(v), NULL);
        free(name);
        policy_context_add(pc, "kms:EncryptionContextKeys", k, NULL);
        json_array_append_new(keys, json_string(k));
    }
    /* the audit line names the context keys, never their values */
    json_object_set_new(c->audit, "encryptionContextKeys", keys);
    return 0;
}

bool api_principal_exists(void *arg, const char *arn)
{
    struct call *c = arg;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "arn:aws:iam::%s:", c->s->account);
    if (strncmp(arn, prefix, strlen(prefix)) != 0)
        return true;   /* another account's principals are not ours to know */
    const char *rest = arn + strlen(prefix);
    if (!strcmp(rest, "root"))
        return true;
    struct store_principal p;
    if (store_principal_get(c->s->store, arn, &p, NULL) < 0)
        return false;
    store_principal_clear(&p);
    return true;
}

/*
 * Parsed policies, per thread, by exact text: the same key and identity
 * policies come back on every request, and parsing them is a good part of
 * a request's cost. A thread's cache lives as long as the thread.
 */
#define PCACHE_SLOTS 16

struct pcache {
    char *text[PCACHE_SLOTS];
    bool key_policy[PCACHE_SLOTS];
    struct policy *parsed[PCACHE_SLOTS];
    unsigned next;
};

static pthread_key_t pcache_key;
static pthread_once_t pcache_once = PTHREAD_ONCE_INIT;

static void pcache_free(void *arg)
{
    struct pcache *pc = arg;
    for (unsigned i = 0; i < PCACHE_SLOTS; i++) {
        free(pc->text[i]);
        policy_free(pc->parsed[i]);
    }
    free(pc);
}

static void pcache_init(void)
{
    pthread_key_create(&pcache_key, pcache_free);
}

/* A parsed policy owned by the thread's cache (do not free), or NULL with err set. */
static const struct policy *cached_policy(const char *text, bool key_policy, struct cl_error *err)
{
    pthread_once(&pcache_once, pcache_init);
    struct pcache *pc = pthread_getspecific(pcache_key);
    if (!pc) {
        pc = calloc(1, sizeof(*pc));
        if (!pc || pthread_setspecific(pcache_key, pc) != 0) {
            free(pc);
            cl_fail(err, CL_ENOMEM, "out of memory");
            return NULL;
        }
    }
    for (unsigned i = 0; i < PCACHE_SLOTS; i++)
        if (pc->text[i] && pc->key_policy[i] == key_policy && !strcmp(pc->text[i], text))
            return pc->parsed[i];
    struct policy_parse_opts o = { .key_policy = key_policy };
    struct policy *p = NULL;
    if (policy_parse(text, strlen(text), &o, &p, err) < 0)
        return NULL;
    char *copy = strdup(text);
    if (!copy) {
        policy_free(p);
        cl_fail(err, CL_ENOMEM, "out of memory");
        return NULL;
    }
    unsigned slot = pc->next++ % PCACHE_SLOTS;
    free(pc->text[slot]);
    policy_free(pc->parsed[slot]);
    pc->text[slot] = copy;
    pc->key_policy[slot] = key_policy;
    pc->parsed[slot] = p;
    return p;
}

int authorize(struct call *c, const char *action, const struct store_key *k)
{
    struct cl_error err = {0};
    int rc = -1;
    const struct policy *kp = NULL;
    if (!c->identity_parsed) {
        c->identity_parsed = true;
        if (c->caller.identity_policy) {
            c->identity_policy = cached_policy(c->caller.identity_policy, false, &err);
            if (!c->identity_policy)
                return kerr_internal(c, &err);
        }
    }
    if (k) {
        kp = cached_policy(k->policy, true, &err);
        if (!kp)
            return kerr_internal(c, &err);
    }
    char resource[256];
    if (k)
        kms_key_arn(c->s, k->id, resource, sizeof(resource));
    else
        snprintf(resource, sizeof(resource), "*");
    const struct policy *ids[1] = { c->identity_policy };
    struct policy_request req = {
        .action = action,
        .principal_arn = c->caller.arn,
        .account = c->caller.account,
        .is_account_root = false,
        .resource_arn = resource,
        .identity_policies = ids,
        .n_identity = c->identity_policy ? 1 : 0,
        .context = call_context(c),
    };
    struct policy_result res;
    if (policy_evaluate(kp, &req, &res, &err) < 0) {
        rc = kerr_internal(c, &err);
        goto out;
    }
    json_t *dec = policy_result_json(&res);
    if (dec) {
        json_object_set_new(dec, "action", json_string(action));
        json_t *arr = json_object_get(c->audit, "authorization");
        if (!arr) {
            arr = json_array();
            json_object_set_new(c->audit, "authorization", arr);
        }
        json_array_append_new(arr, dec);
    }
    if (res.decision != POLICY_ALLOW) {
        char msg[1024];
        policy_denied_message(&req, &res, msg, sizeof(msg));
        rc = kerr(c, "AccessDeniedException", "%s", msg);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* ---- authentication ---- */

/* Error of the authentication step; STS words a few of them differently. */
struct auth_error {
    const char *kms_type;
    const char *sts_code;
    char message[700];
};

static int auth_fail(struct auth_error *ae, const char *kms_type, const char *sts_code,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int auth_fail(struct auth_error *ae, const char *kms_type, const char *sts_code,
                     const char *fmt, ...)
{
    ae->kms_type = kms_type;
    ae->sts_code = sts_code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ae->message, sizeof(ae->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int authenticate(struct call *c, const char *service, struct auth_error *ae)
{
    const struct http_request *h = c->http;
    const char *auth = http_header(h, "authorization");
    if (!auth)
        return auth_fail(ae, "MissingAuthenticationTokenException", "MissingAuthenticationToken",
                         "Missing Authentication Token");
    if (http_header_count(h, "authorization") > 1)
        return auth_fail(ae, "IncompleteSignatureException", "IncompleteSignature",
                         "Only one Authorization header is allowed");
    struct sigv4_auth a;
    struct cl_error err = {0};
    if (sigv4_parse_authorization(auth, &a, &err) < 0)
        return auth_fail(ae, "IncompleteSignatureException", "IncompleteSignature", "%s",
                         err.reason);
    snprintf(c->caller.access_key, sizeof(c->caller.access_key), "%s", a.access_key);
    const char *date = http_header(h, "x-amz-date");
    if (!date)
        return auth_fail(ae, "IncompleteSignatureException", "IncompleteSignature",
                         "Authorization header requires existence of either a 'X-Amz-Date' or a "
                         "'Date' header.");
    time_t t;
    if (ku_parse_amz_date(date, &t, NULL) < 0)
        return auth_fail(ae, "IncompleteSignatureException", "IncompleteSignature",
                         "Date must be in ISO-8601 'basic format'. Got '%.32s'. See "
                         "http://en.wikipedia.org/wiki/ISO_8601",
                         date);
    if (strncmp(a.date, date, 8) != 0)
        return auth_fail(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                         "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                         "of date from HTTP: '%s' != '%.8s', from '%s'.",
                         a.date, date, date);
    if (strcmp(a.region, c->s->region) != 0)
        return auth_fail(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                         "Credential should be scoped to a valid region, not '%s'. ", a.region);
    if (strcmp(a.service, service) != 0)
        return auth_fail(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                         "Credential should be scoped to correct service: '%s'. ", service);
    bool host_signed = false, date_signed = false;
    for (size_t i = 0; i < a.n_signed; i++) {
        host_signed |= !strcmp(a.signed_names[i], "host");
        date_signed |= !strcmp(a.signed_names[i], "x-amz-date");
    }
    if (!host_signed)
        return auth_fail(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                         "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    if (!date_signed)
        return auth_fail(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                         "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
    /* KMS refuses requests more than 5 minutes off the server's clock
     * (research/kms.md §3.3), in AWS's words. */
    time_t now = time(NULL);
    char nows[17], bound[17];
    ku_amz_date(now, nows);
    if (t < now - c->s->clock_skew_s) {
        ku_amz_date(now - c->s->clock_skew_s, bound);
        return auth_fail(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                         "Signature expired: %s is now earlier than %s (%s - 5 min.)", date, bound,
                         nows);
    }
    if (t > now + c->s->clock_skew_s) {
        ku_amz_date(now + c->s->clock_skew_s, bound);
        return auth_fail(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                         "Signature not yet current: %s is still later than %s (%s + 5 min.)", date,
                         bound, nows);
    }
    const char *token = http_header(h, "x-amz-security-token");
    enum ident_failure why;
    int rc = ident_lookup(c->s->store, a.access_key, token, ku_now(), &c->caller, &why, &err);
    snprintf(c->caller.access_key, sizeof(c->caller.access_key), "%s", a.access_key);
    if (rc < 0) {
        if (why == IDENT_EXPIRED)
            return auth_fail(ae, "ExpiredTokenException", "ExpiredToken",
                             "The security token included in the request is expired");
        if (why != IDENT_OK)
            return auth_fail(ae, "UnrecognizedClientException", "InvalidClientTokenId",
                             "The security token included in the request is invalid.");
        return auth_fail(ae, "KMSInternalException", "InternalFailure", "%s", err.reason);
    }
    struct sigv4_request sr = {
        .method = h->method, .path = h->path, .query = h->query, .n_query = h->n_query,
        .headers = h->headers, .n_headers = h->n_headers, .body = h->body, .body_len = h->body_len,
    };
    rc = sigv4_verify(&sr, &a, date, c->caller.secret, &err);
    OPENSSL_cleanse(c->caller.secret, sizeof(c->caller.secret));
    if (rc < 0) {
        /* not authenticated: the audit line names the access key, no principal */
        ident_caller_clear(&c->caller);
        snprintf(c->caller.access_key, sizeof(c->caller.access_key), "%s", a.access_key);
        return auth_fail(ae, "InvalidSignatureException", "SignatureDoesNotMatch", "%s", err.reason);
    }
    return 0;
}

/* ---- answers ---- */

static void answer_json(struct call *c, struct http_response *resp)
{
    json_t *body;
    if (c->failed) {
        /* AWS spells the message member "Message" for these two (research §2.5) */
        const char *mk = (!strcmp(c->err_type, "AccessDeniedException") ||
                          !strcmp(c->err_type, "UnsupportedOperationException"))
                             ? "Message"
                             : "message";
        body = json_pack("{s:s, s:s}", "__type", c->err_type, mk, c->err_msg);
        resp->status = c->status;
    } else {
        body = c->out ? json_incref(c->out) : json_object();
        resp->status = 200;
    }
    resp->content_type = JSON_CT;
    resp->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    json_decref(body);
}

static void write_audit(struct call *c, const char *source)
{
    if (!c->s->audit)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[64], base[32];
    ku_iso8601(ts.tv_sec, base);
    base[strlen(base) - 1] = 0;   /* drop Z, add milliseconds */
    snprintf(when, sizeof(when), "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000) % 1000);
    json_t *ev = json_object();
    json_object_set_new(ev, "time", json_string(when));
    json_object_set_new(ev, "requestId", json_string(c->request_id));
    json_object_set_new(ev, "eventSource", json_string(source));
    json_object_set_new(ev, "operation", c->op ? json_string(c->op) : json_null());
    json_object_set_new(ev, "sourceIp", json_string(c->http->peer_ip));
    json_object_set_new(ev, "principal", c->caller.arn[0] ? json_string(c->caller.arn) : json_null());
    json_object_set_new(ev, "accessKeyId",
                        c->caller.access_key[0] ? json_string(c->caller.access_key) : json_null());
    json_object_set_new(ev, "keyId", c->key_arn[0] ? json_string(c->key_arn) : json_null());
    json_object_set_new(ev, "result", json_string(c->failed ? c->err_type : "Success"));
    if (c->failed)
        json_object_set_new(ev, "errorMessage", json_string(c->err_msg));
    const char *k;
    json_t *v;
    json_object_foreach(c->audit, k, v) json_object_set(ev, k, v);
    struct cl_error err = {0};
    if (audit_append(c->s->audit, ev, &err) < 0)
        fprintf(stderr, "cloister-kms: audit log: %s\n", err.reason);
    json_decref(ev);
}

static void call_free(struct call *c)
{
    json_decref(c->in);
    json_decref(c->out);
    json_decref(c->audit);
    policy_context_free(c->pctx);
    recipient_free(c->recipient);
    ident_caller_clear(&c->caller);
}

static bool is_form(const struct http_request *h)
{
    const char *ct = http_header(h, "content-type");
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

void kms_api_handle(void *arg, const struct http_request *req, struct http_response *resp)
{
    struct call c = { .s = arg, .http = req };
    ku_uuid4(c.request_id);
    snprintf(resp->request_id, sizeof(resp->request_id), "%s", c.request_id);
    c.audit = json_object();
    const char *target = http_header(req, "x-amz-target");
    bool sts = !target && is_form(req);

    if (strcmp(req->method, "POST") != 0 || strcmp(req->path, "/") != 0) {
        /* only POST / exists (research §3.1) */
        resp->status = strcmp(req->path, "/") ? 404 : 405;
        resp->content_type = "text/plain";
        resp->body = strdup(resp->status == 404 ? "Not Found\n" : "Method Not Allowed\n");
        resp->body_len = resp->body ? strlen(resp->body) : 0;
        call_free(&c);
        return;
    }
    if (sts) {
        struct sts_answer a = {0};
        struct auth_error ae = {0};
        c.op = "GetCallerIdentity";
        if (sts_action(req->body, req->body_len, &a) < 0) {
            c.op = NULL;
        } else if (authenticate(&c, "sts", &ae) < 0) {
            sts_error(&a, ae.sts_code, ae.message);
        } else {
            sts_get_caller_identity(&a, c.caller.arn, c.caller.user_id, c.caller.account);
        }
        if (a.failed) {
            c.failed = true;
            snprintf(c.err_type, sizeof(c.err_type), "%s", a.code);
            snprintf(c.err_msg, sizeof(c.err_msg), "%s", a.message);
        }
        sts_render(&a, c.request_id, resp);
        write_audit(&c, "sts.amazonaws.com");
        call_free(&c);
        return;
    }
    if (!target || strncmp(target, "TrentService.", 13) != 0) {
        kerr(&c, "UnknownOperationException", "%s", "");
        goto done;
    }
    c.op = target + 13;
    struct auth_error ae = {0};
    if (authenticate(&c, "kms", &ae) < 0) {
        kerr(&c, ae.kms_type, "%s", ae.message);
        goto done;
    }
    struct req_error re = {0};
    if (req_parse(req->body, req->body_len, &c.in, &re) < 0) {
        kerr_req(&c, &re);
        goto done;
    }
    ops_dispatch(&c);
done:
    answer_json(&c, resp);
    write_audit(&c, "kms.amazonaws.com");
    call_free(&c);
}
