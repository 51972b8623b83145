/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A key service for the request-path tests, without a network: a real
 * SQLite store and audit log in a temporary directory, two principals (the
 * administrator with kms:* on *, and alice with no identity policy), an
 * attestation verifier trusting an ephemeral CA, and requests signed with
 * SigV4 (serve/sigv4.h) handed to the server's own http_handler
 * (kms_handle, serve/dispatch.h) as libmicrohttpd would.
 *
 * Header-only: each test file is its own program. Every helper fails the
 * running cmocka test on error.
 */
#ifndef CLOISTER_TEST_KMS_SERVER_H
#define CLOISTER_TEST_KMS_SERVER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <cloister/attestation.h>

#include "call/call.h"
#include "serve/dispatch.h"
#include "serve/sigv4.h"
#include "state/audit.h"
#include "state/identities.h"
#include "state/store.h"
#include "util/kmsutil.h"

#define TS_REGION  "us-east-1"
#define TS_ACCOUNT "111122223333"
#define TS_ADMIN   "arn:aws:iam::" TS_ACCOUNT ":user/admin"
#define TS_ALICE   "arn:aws:iam::" TS_ACCOUNT ":user/alice"

struct ts_identity {
    char akid[32];
    char secret[64];
};

struct ts {
    char dir[64];
    struct store *store;
    struct audit *audit;
    struct attest_verifier *verifier;
    struct kms_service svc;
    struct ts_identity admin, alice;
};

/* An answer as the HTTP server would send it. */
struct ts_answer {
    int status;
    char content_type[64];
    char request_id[40];
    char *raw;    /* the body, NUL-terminated */
    json_t *json; /* the body parsed, when it is JSON */
};

static inline void ts_principal(struct ts *t, const char *name, const char *policy,
                                struct ts_identity *id)
{
    json_t *out = NULL;
    struct cl_error err = { 0 };
    if (ident_principal_create(t->store, TS_ACCOUNT, name, "user", policy, &out, &err) < 0)
        fail_msg("principal %s: %s", name, err.reason);
    snprintf(id->akid, sizeof(id->akid), "%s",
             json_string_value(json_object_get(out, "AccessKeyId")));
    snprintf(id->secret, sizeof(id->secret), "%s",
             json_string_value(json_object_get(out, "SecretAccessKey")));
    json_decref(out);
}

/* Starts the service; verifier_root_pem (may be NULL) is trusted for Recipient. */
static inline void ts_start(struct ts *t, const char *verifier_root_pem)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/kms_request_test.XXXXXX");
    if (!mkdtemp(t->dir))
        fail_msg("mkdtemp failed");
    char path[128];
    uint8_t master[32] = { 7 };
    struct cl_error err = { 0 };
    snprintf(path, sizeof(path), "%s/kms.db", t->dir);
    if (store_open(path, master, &t->store, &err) < 0)
        fail_msg("store: %s", err.reason);
    snprintf(path, sizeof(path), "%s/audit.log", t->dir);
    if (audit_open(path, &t->audit, &err) < 0)
        fail_msg("audit: %s", err.reason);
    if (attest_verifier_new(&t->verifier, &err) < 0)
        fail_msg("verifier: %s", err.reason);
    if (verifier_root_pem && attest_verifier_add_root_pem(t->verifier, verifier_root_pem,
                                                          strlen(verifier_root_pem), &err) < 0)
        fail_msg("root: %s", err.reason);
    t->svc = (struct kms_service){
        .store = t->store,
        .audit = t->audit,
        .region = TS_REGION,
        .account = TS_ACCOUNT,
        .verifier = t->verifier,
        .attestation_max_age = 300,
        .clock_skew_s = 300,
    };
    ts_principal(t, "admin",
                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                 "\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
                 &t->admin);
    ts_principal(t, "alice", NULL, &t->alice);
}

static inline void ts_stop(struct ts *t)
{
    audit_close(t->audit);
    store_close(t->store);
    attest_verifier_free(t->verifier);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
    if (system(cmd) != 0)
        fail_msg("cannot remove %s", t->dir);
}

static inline void ts_answer_free(struct ts_answer *a)
{
    free(a->raw);
    json_decref(a->json);
    memset(a, 0, sizeof(*a));
}

/*
 * Sends a request to the handler: method, path, the headers given
 * (name/value pairs, NULL-terminated) and body. With id, the request is
 * signed for service first (Host and X-Amz-Date added and signed).
 */
static inline void ts_send(struct ts *t, const char *method, const char *path,
                           const char *const *headers, const char *body,
                           const struct ts_identity *id, const char *service, struct ts_answer *a)
{
    struct sigv4_header h[16];
    size_t n = 0;
    for (; headers && headers[2 * n]; n++)
        h[n] = (struct sigv4_header){ headers[2 * n], headers[2 * n + 1] };
    char date[17], auth[1024];
    if (id) {
        ku_amz_date(time(NULL), date);
        h[n++] = (struct sigv4_header){ "Host", "kms." TS_REGION ".amazonaws.com" };
        h[n++] = (struct sigv4_header){ "X-Amz-Date", date };
        /* SignedHeaders: every header sent, lowercase and sorted */
        char names[16][64];
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof(names[i]), "%s", h[i].name);
            for (char *p = names[i]; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
        }
        qsort(names, n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
        char signed_headers[512] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(signed_headers + strlen(signed_headers),
                     sizeof(signed_headers) - strlen(signed_headers), "%s%s", i ? ";" : "",
                     names[i]);
        char scope[128];
        snprintf(scope, sizeof(scope), "%.8s/%s/%s/aws4_request", date, TS_REGION, service);
        snprintf(auth, sizeof(auth),
                 "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%064d", id->akid,
                 scope, signed_headers, 0);
        struct sigv4_auth parsed;
        struct cl_error err = { 0 };
        if (sigv4_parse_authorization(auth, &parsed, &err) < 0)
            fail_msg("authorization: %s", err.reason);
        struct sigv4_request sr = {
            .method = method,
            .path = path,
            .headers = h,
            .n_headers = n,
            .body = (const uint8_t *)body,
            .body_len = body ? strlen(body) : 0,
        };
        char *canonical = NULL, *sts = NULL;
        if (sigv4_string_to_sign(&sr, &parsed, date, &canonical, &sts, &err) < 0)
            fail_msg("string to sign: %s", err.reason);
        uint8_t key[32];
        char sig[65];
        sigv4_signing_key(id->secret, parsed.date, TS_REGION, service, key);
        sigv4_sign(key, sts, sig);
        free(canonical);
        free(sts);
        snprintf(auth, sizeof(auth),
                 "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", id->akid,
                 scope, signed_headers, sig);
        h[n++] = (struct sigv4_header){ "Authorization", auth };
    }
    struct http_request req = {
        .method = method,
        .path = path,
        .headers = h,
        .n_headers = n,
        .body = (const uint8_t *)body,
        .body_len = body ? strlen(body) : 0,
        .peer_ip = "192.0.2.7",
        .tls = true,
    };
    struct http_response resp = { 0 };
    kms_handle(&t->svc, &req, &resp);
    memset(a, 0, sizeof(*a));
    a->status = resp.status;
    snprintf(a->content_type, sizeof(a->content_type), "%s",
             resp.content_type ? resp.content_type : "");
    snprintf(a->request_id, sizeof(a->request_id), "%s", resp.request_id);
    a->raw = calloc(1, resp.body_len + 1);
    memcpy(a->raw, resp.body, resp.body_len);
    free(resp.body);
    a->json = json_loads(a->raw, 0, NULL);
}

/* A KMS JSON 1.1 request for op, signed by id (NULL: unsigned). */
static inline void ts_kms(struct ts *t, const struct ts_identity *id, const char *op,
                          const char *body, struct ts_answer *a)
{
    char target[128];
    snprintf(target, sizeof(target), "TrentService.%s", op);
    const char *headers[] = { "Content-Type", "application/x-amz-json-1.1", "X-Amz-Target", target,
                              NULL };
    ts_send(t, "POST", "/", headers, body, id, "kms", a);
}

/* Asserts a KMS error answer: status, __type, the message (under "Message"
 * or "message" as AWS spells it for the type) and nothing else. */
static inline void ts_expect_error(const struct ts_answer *a, int status, const char *type,
                                   const char *message)
{
    if (a->status != status || !a->json)
        fail_msg("want %d %s, got %d %s", status, type, a->status, a->raw);
    const char *member =
        (!strcmp(type, "AccessDeniedException") || !strcmp(type, "UnsupportedOperationException"))
            ? "Message"
            : "message";
    assert_string_equal(a->content_type, "application/x-amz-json-1.1");
    assert_int_equal(json_object_size(a->json), 2);
    assert_string_equal(json_string_value(json_object_get(a->json, "__type")), type);
    const char *m = json_string_value(json_object_get(a->json, member));
    if (!m || strcmp(m, message) != 0)
        fail_msg("%s: want \"%s\"\n got %s", type, message, a->raw);
}

/* Sends body for op as id and asserts a 400 error of type with message. */
static inline void ts_expect(struct ts *t, const struct ts_identity *id, const char *op,
                             const char *body, const char *type, const char *message)
{
    struct ts_answer a;
    ts_kms(t, id, op, body, &a);
    ts_expect_error(&a, 400, type, message);
    ts_answer_free(&a);
}

/* A successful call's answer (fails the test otherwise); caller frees. */
static inline void ts_ok(struct ts *t, const struct ts_identity *id, const char *op,
                         const char *body, struct ts_answer *a)
{
    ts_kms(t, id, op, body, a);
    if (a->status != 200)
        fail_msg("%s: %d %s", op, a->status, a->raw);
}

/* A new symmetric key created by the administrator, with an optional key
 * policy (JSON text, quotes escaped for embedding); its id in id[37]. */
static inline void ts_create_key(struct ts *t, const char *policy_json_string, char id[37])
{
    char body[8192];
    if (policy_json_string)
        snprintf(body, sizeof(body), "{\"Policy\":%s}", policy_json_string);
    else
        snprintf(body, sizeof(body), "{}");
    struct ts_answer a;
    ts_ok(t, &t->admin, "CreateKey", body, &a);
    snprintf(id, 37, "%s",
             json_string_value(json_object_get(json_object_get(a.json, "KeyMetadata"), "KeyId")));
    ts_answer_free(&a);
}

/* The last line of the audit log, parsed. */
static inline json_t *ts_last_audit(struct ts *t)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/audit.log", t->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("no audit log");
    char *line = NULL, *last = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        free(last);
        last = strdup(line);
    }
    free(line);
    fclose(f);
    json_t *j = last ? json_loads(last, 0, NULL) : NULL;
    free(last);
    if (!j)
        fail_msg("no audit line");
    return j;
}

#endif
