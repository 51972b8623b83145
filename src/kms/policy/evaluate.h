/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy evaluation as data: every statement of the key policy and of the
 * caller's identity policies checked against the request (which parts
 * matched, by which entry or pattern, each condition's result and the
 * request values it saw), and the decision with the statements that made
 * it. No text is written here: explain.c turns this into the one-line
 * reason, the audit field, the AccessDenied message and `cloister-kms
 * explain`'s trace. The rules are in docs/kms-policy.md, "Evaluation".
 */
#ifndef CLOISTER_KMS_POLICY_EVALUATE_H
#define CLOISTER_KMS_POLICY_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cloister/error.h>

#include "policy/model.h"
#include "policy/policy.h"

/* How a key-policy statement's Principal relates to the caller. */
enum pmatch {
    PM_NONE = 0,    /* does not name the caller */
    PM_DIRECT = 1,  /* names the caller (ARN, role of its session, "*", NotPrincipal) */
    PM_ACCOUNT = 2, /* names the caller's account: delegation to IAM */
};

/* Why a Principal entry names the caller. */
enum principal_how {
    HOW_ANYONE,       /* "*" */
    HOW_CALLER,       /* the caller's own ARN */
    HOW_ROLE_SESSION, /* the role whose session the caller is */
    HOW_ACCOUNT,      /* the caller's account (delegation to IAM) */
};

/* One condition (one operator, one key) against the request. */
struct cond_trace {
    bool result;
    const char *const *values; /* the request's values of the key, borrowed; NULL: absent */
    size_t n;
};

/* One statement against the request. Pointers are borrowed from the
 * policy and the request. */
struct stmt_trace {
    const struct stmt *s;
    bool key_policy;        /* false: one of the caller's identity policies */
    size_t policy;          /* which identity policy (0 for the key policy) */
    size_t index;           /* the statement's index in its policy */
    enum pmatch pm;         /* identity statements: PM_DIRECT */
    const char *entry;      /* the Principal entry naming the caller (with NotPrincipal:
                               the one excluding it), NULL when none does */
    enum principal_how how; /* why entry names the caller */
    bool principal, action, resource, conds, applies;
    const char *action_hit;   /* the Action/NotAction pattern matching the action */
    const char *resource_hit; /* the Resource/NotResource entry matching the resource */
    struct cond_trace *cond;  /* one per condition of s */
    int failed_cond;          /* the first false condition, -1 when none */
};

struct policy_eval {
    const struct policy_request *req;
    const struct policy *key_policy; /* NULL: a key-less operation */
    /* the values of aws:PrincipalArn, kms:CallerAccount and aws:PrincipalAccount
     * when the context lacks them */
    const char *principal_arn[1];
    const char *account[1];
    struct stmt_trace *st; /* the key policy's statements, then each identity policy's */
    size_t n, n_key;
    enum policy_decision decision;
    /* the statement that decided (a delegated Allow: the key policy's
     * account statement), NULL when none did */
    const struct stmt_trace *decided;
    /* an Allow by an identity policy, or a Deny in one: that statement */
    const struct stmt_trace *identity;
    /* the first applicable Allow in the key policy for the caller's account */
    const struct stmt_trace *delegation;
    /* Allow without any statement: the account root user, no key policy */
    bool root_allowed;
};

/* Evaluates req against key_policy (NULL for key-less operations) and the
 * request's identity policies. CL_EINVAL when req lacks action, principal
 * or account. *out borrows from key_policy and req; free it first. */
CL_MUST_USE int policy_eval_run(const struct policy *key_policy, const struct policy_request *req,
                                struct policy_eval **out, struct cl_error *err);
void policy_eval_free(struct policy_eval *e);

/* Role ARN arn:aws:iam::A:role/path/R vs session arn:aws:sts::A:assumed-role/R/S: is the
 * caller a session of the role? (Key policy principals and grants, grant.c.) */
bool policy_role_matches_session(const char *role_arn, const char *caller);

#endif
