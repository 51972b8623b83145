/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One request being served, and the service it is served by.
 *
 * The serving layer (serve/) creates a call, authenticates it, decodes its
 * body and hands it to an operation (ops/); operations read its members
 * (call/request.h), write its condition keys (call/context.h), authorize
 * it (call/authorize.h), act, and fill c->out or c->err. Nothing in this
 * layer calls back up: a call is data plus the steps every operation
 * shares.
 */
#ifndef CLOISTER_KMS_CALL_CALL_H
#define CLOISTER_KMS_CALL_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "call/kms_error.h"
#include "state/identities.h"

struct attest_verifier;
struct audit;
struct policy;
struct policy_context;
struct recipient;
struct store;

/* What the key service serves with; set up once by `cloister-kms serve`. */
struct kms_service {
    struct store *store; /* borrowed */
    struct audit *audit; /* borrowed; NULL: no audit log */
    char region[32];
    char account[16];
    struct attest_verifier *verifier; /* borrowed; attestation roots for Recipient */
    uint32_t attestation_max_age;     /* seconds */
    int clock_skew_s;                 /* allowed X-Amz-Date skew (AWS: 300) */
};

/*
 * Regions (docs/kms.md, "Regions"): one server serves every region of the
 * aws partition that KMS serves, and the one its data directory was set up
 * with (its home region). A key is stored under its internal id: its key
 * id in the home region, `<key id>@<region>` in any other, so a store made
 * before regions keeps every key in the home region, and a multi-Region
 * key's replicas (one key id, several regions) are separate rows.
 */
#define KMS_ID_MAX 80 /* an internal key id: "mrk-" + 32 hex + "@" + region */

/* Whether the server serves region r (the aws partition's KMS regions and
 * the home region). */
bool kms_region_known(const struct kms_service *s, const char *r);
/* The internal id of key id `id` in region (its store row's id). */
void kms_internal_id(const struct kms_service *s, const char *region, const char *id, char *out,
                     size_t cap);
/* The key id (public) of an internal id, and the region it belongs to. */
void kms_public_id(const char *internal, char *out, size_t cap);
void kms_id_region(const struct kms_service *s, const char *internal, char *out, size_t cap);
/* The key ARN of an internal id: its region, the service's account. */
void kms_key_arn(const struct kms_service *s, const char *id, char *out, size_t cap);

struct call {
    struct kms_service *s;
    char request_id[37];
    char event_id[37];                    /* the audit line's eventId */
    const char *op;                       /* operation name; NULL until known */
    char region[32];                      /* the request's (its SigV4 scope's) region */
    bool sts;                             /* an STS (query protocol) request */
    bool tls;                             /* the transport, as the HTTP server saw it */
    const char *peer_ip;                  /* "" when unknown; borrowed for the call */
    json_t *in;                           /* the request object (owned) */
    json_t *out;                          /* the response object (owned) */
    struct ident_caller caller;           /* who is calling, once authenticated */
    const struct policy *identity_policy; /* parsed once, lazily (authorize.c); NULL: none */
    bool identity_parsed;
    struct policy_context *pctx;   /* condition keys (context.c); created on first use */
    struct recipient *recipient;   /* the verified Recipient, if any (recipient.c) */
    struct kms_error err;          /* why the request failed, if it did */
    char key_arn[256];             /* the key the audit line names */
    json_t *audit;                 /* extra members of the audit line (owned) */
    char used_keys[2][KMS_ID_MAX]; /* keys whose material the call read (key_usage.c) */
    unsigned n_used_keys;
};

/* A new call on service s over a transport, with a fresh request id;
 * *c is overwritten. */
void call_init(struct call *c, struct kms_service *s, bool tls, const char *peer_ip);
void call_free(struct call *c);

/* Records an AWS error of type (status from the type); returns -1. */
int call_fail(struct call *c, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records an internal failure (KMSInternalException, 500) whose reason is
 * written to the audit line ("internalError") but not sent; returns -1. */
int call_fail_internal(struct call *c, const struct cl_error *err);

/* Names the call's key in the audit line, unless one is named already. */
void call_name_key(struct call *c, const char *key_id);

#endif
