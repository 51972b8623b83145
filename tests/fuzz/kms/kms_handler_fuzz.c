/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the key service's request path end to end, through its
 * http_handler (kms_handle, src/kms/serve/dispatch.h) on a real SQLite
 * store in a temporary directory. An input is one of:
 *
 *   S<Operation>\n<body>         signed by the administrator with SigV4 at
 *                                the current time, so it passes
 *                                authentication and reaches request
 *                                decoding, authorization and the operation;
 *   <Name>: <value>\n...\n\n<body>   headers and body as sent, unsigned:
 *                                the SigV4 parser, authentication, STS's form
 *                                decoding and the refusals.
 *
 * The store starts with a symmetric key (alias/fuzz) and an ECC signing
 * key (alias/fuzz-sign) for the seeds (tests/fuzz/corpus/kms_handler/) to
 * name. Every answer must carry an HTTP status (a crash, a leak or a
 * sanitizer report is the failure).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <cloister/attestation.h>

#include "call/call.h"
#include "fuzz_store.h"
#include "serve/dispatch.h"
#include "serve/sigv4.h"
#include "state/audit.h"
#include "state/identities.h"
#include "state/store.h"
#include "util/kmsutil.h"

#define REGION      "us-east-1"
#define MAX_HEADERS 16

static char g_dir[64];
static struct store *g_store;
static struct audit *g_audit;
static struct attest_verifier *g_verifier;
static struct kms_service g_svc;
static char g_akid[32], g_secret[64];

static void cleanup(void)
{
    audit_close(g_audit);
    store_close(g_store);
    attest_verifier_free(g_verifier);
    fuzz_dir_remove(g_dir);
}

/* Runs the handler; *out (if not NULL) gets the answer's JSON. */
static void answer(const struct http_request *req, json_t **out)
{
    struct http_response resp = { 0 };
    kms_handle(&g_svc, req, &resp);
    if (resp.status < 200 || resp.status > 599)
        abort();
    if (out)
        *out = json_loadb(resp.body, resp.body_len, 0, NULL);
    free(resp.body);
}

/* Signs and sends a KMS request as the administrator. */
static void send_signed(const char *op, const uint8_t *body, size_t len, json_t **out)
{
    char target[160], date[17], auth[512];
    snprintf(target, sizeof(target), "TrentService.%.128s", op);
    ku_amz_date(time(NULL), date);
    struct sigv4_header h[5] = {
        { "Content-Type", "application/x-amz-json-1.1" },
        { "Host", "kms." REGION ".amazonaws.com" },
        { "X-Amz-Date", date },
        { "X-Amz-Target", target },
    };
    const char *signed_names = "content-type;host;x-amz-date;x-amz-target";
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=%s/%.8s/" REGION "/kms/aws4_request, "
             "SignedHeaders=%s, Signature=%064d",
             g_akid, date, signed_names, 0);
    struct sigv4_auth parsed;
    if (sigv4_parse_authorization(auth, &parsed, NULL) < 0)
        abort();
    struct sigv4_request sr = {
        .method = "POST", .path = "/", .headers = h, .n_headers = 4, .body = body, .body_len = len
    };
    char *canonical = NULL, *sts = NULL;
    if (sigv4_string_to_sign(&sr, &parsed, date, &canonical, &sts, NULL) < 0)
        abort();
    uint8_t key[32];
    char sig[65];
    sigv4_signing_key(g_secret, parsed.date, REGION, "kms", key);
    sigv4_sign(key, sts, sig);
    free(canonical);
    free(sts);
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=%s/%.8s/" REGION "/kms/aws4_request, "
             "SignedHeaders=%s, Signature=%s",
             g_akid, date, signed_names, sig);
    h[4] = (struct sigv4_header){ "Authorization", auth };
    struct http_request req = { .method = "POST",
                                .path = "/",
                                .headers = h,
                                .n_headers = 5,
                                .body = body,
                                .body_len = len,
                                .peer_ip = "192.0.2.1" };
    answer(&req, out);
}

static void setup(void)
{
    g_store = fuzz_store_open("kms_handler_fuzz", g_dir);
    char path[128];
    snprintf(path, sizeof(path), "%s/audit.log", g_dir);
    if (audit_open(path, &g_audit, NULL) < 0 || attest_verifier_new(&g_verifier, NULL) < 0)
        abort();
    g_svc = (struct kms_service){ .store = g_store,
                                  .audit = g_audit,
                                  .region = REGION,
                                  .account = "111122223333",
                                  .verifier = g_verifier,
                                  .attestation_max_age = 300,
                                  .clock_skew_s = 300 };
    json_t *cred = NULL;
    if (ident_principal_create(g_store, "111122223333", "admin", "user",
                               "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
                               "\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
                               &cred, NULL) < 0)
        abort();
    snprintf(g_akid, sizeof(g_akid), "%s", json_string_value(json_object_get(cred, "AccessKeyId")));
    snprintf(g_secret, sizeof(g_secret), "%s",
             json_string_value(json_object_get(cred, "SecretAccessKey")));
    json_decref(cred);
    atexit(cleanup);
    /* the keys the seeds name, made through the handler itself */
    static const char *const init[][2] = {
        { "{}", "alias/fuzz" },
        { "{\"KeySpec\":\"ECC_NIST_P256\",\"KeyUsage\":\"SIGN_VERIFY\"}", "alias/fuzz-sign" },
    };
    for (size_t i = 0; i < 2; i++) {
        json_t *made = NULL;
        send_signed("CreateKey", (const uint8_t *)init[i][0], strlen(init[i][0]), &made);
        const char *id =
            json_string_value(json_object_get(json_object_get(made, "KeyMetadata"), "KeyId"));
        if (!id)
            abort();
        char body[256];
        snprintf(body, sizeof(body), "{\"AliasName\":\"%s\",\"TargetKeyId\":\"%s\"}", init[i][1],
                 id);
        send_signed("CreateAlias", (const uint8_t *)body, strlen(body), NULL);
        json_decref(made);
    }
}

/* "Name: value" lines until an empty line, then the body; unsigned. */
static void send_raw(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = 0;
    struct sigv4_header h[MAX_HEADERS];
    size_t n = 0;
    char *p = text, *end = text + size;
    while (p < end && n < MAX_HEADERS) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || nl == p)
            break;
        *nl = 0;
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = 0;
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            h[n++] = (struct sigv4_header){ p, v };
        }
        p = nl + 1;
    }
    if (p < end && *p == '\n')
        p++;
    struct http_request req = { .method = "POST",
                                .path = "/",
                                .headers = h,
                                .n_headers = n,
                                .body = (const uint8_t *)p,
                                .body_len = (size_t)(end - p),
                                .peer_ip = "192.0.2.1" };
    answer(&req, NULL);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    if (size > 64 * 1024)
        return 0; /* the server's own bound is REQ_MAX_BODY; small inputs explore faster */
    if (size > 0 && data[0] == 'S') {
        const uint8_t *nl = memchr(data, '\n', size);
        if (!nl)
            return 0;
        char op[129];
        size_t oplen = (size_t)(nl - data) - 1;
        if (oplen >= sizeof(op))
            return 0;
        memcpy(op, data + 1, oplen);
        op[oplen] = 0;
        send_signed(op, nl + 1, size - (size_t)(nl + 1 - data), NULL);
        return 0;
    }
    send_raw(data, size);
    return 0;
}
