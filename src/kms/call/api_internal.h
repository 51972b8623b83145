/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What api.c (framework: authentication, authorization, errors, audit) and
 * ops.c (the KMS operations) share. Not part of any public interface.
 */
#ifndef CLOISTER_KMS_API_INTERNAL_H
#define CLOISTER_KMS_API_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "serve/api.h"
#include "state/identities.h"
#include "policy/policy.h"
#include "call/request.h"
#include "state/store.h"

struct recipient;

/* One request being served. */
struct call {
    struct kms_service *s;
    const struct http_request *http;
    char request_id[37];
    const char *op;                 /* operation name */
    json_t *in;                     /* the request object (owned) */
    json_t *out;                    /* the response object (owned) */
    struct ident_caller caller;
    const struct policy *identity_policy; /* parsed once, lazily (thread cache); NULL: none */
    bool identity_parsed;
    struct policy_context *pctx;    /* condition keys of this request; lazily */
    struct recipient *recipient;    /* the verified Recipient, if any */
    /* error answer */
    bool failed;
    char err_type[64];
    char err_msg[1024];
    int status;
    /* audit */
    char key_arn[256];
    json_t *audit;                  /* extra members of the audit line */
};

/* Records an AWS error (status 400 unless the type is a server fault); returns -1. */
int kerr(struct call *c, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records a request-decoding error; returns -1. */
int kerr_req(struct call *c, const struct req_error *e);
/* Records an internal failure (KMSInternalException, 500) with a reason
 * that is logged but not sent; returns -1. */
int kerr_internal(struct call *c, const struct cl_error *err);

/* The condition context of the request, created on first use (NULL on ENOMEM). */
struct policy_context *call_context(struct call *c);
/* Adds the encryption context's condition keys. */
int call_add_encryption_context(struct call *c, const json_t *ctx);

/*
 * THE authorization call site: may the caller do action on key k (NULL for
 * key-less actions)? Evaluates the key policy and the caller's identity
 * policy with the request's condition context (policy.h), records the
 * decision in the audit line, and on deny records AccessDeniedException.
 * Returns 0 when allowed, -1 otherwise.
 */
int authorize(struct call *c, const char *action, const struct store_key *k);

/* Runs one KMS operation by name; 0 or -1 (error recorded). Unknown names
 * record UnknownOperationException. */
int ops_dispatch(struct call *c);

/* The principal_exists callback for key policy validation. */
bool api_principal_exists(void *arg, const char *arn);

#endif
