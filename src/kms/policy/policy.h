/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key policies: parse, validate and evaluate IAM policy documents as AWS KMS
 * does (docs/kms-policy.md). The model and parsing are in model.c and
 * parse.c, evaluation (the decision as data) in evaluate.c, the texts made
 * from it in explain.c, CreateKey's and PutKeyPolicy's check in validate.c.
 *
 * Evaluation (docs/kms-policy.md, "Evaluation"):
 *   1. every statement of the key policy and of the caller's identity
 *      policies "applies" when Principal/NotPrincipal (key policy only),
 *      Action/NotAction, Resource/NotResource and every Condition match;
 *   2. an applicable Deny anywhere -> POLICY_DENY_EXPLICIT;
 *   3. an applicable Allow in the key policy whose principal names the caller
 *      (its ARN, "*", or a role ARN the caller holds a session of) -> ALLOW;
 *   4. an applicable Allow in the key policy for the caller's account
 *      ("ACCOUNT" or arn:aws:iam::ACCOUNT:root: "delegate to IAM") AND an
 *      applicable Allow in one of the caller's identity policies -> ALLOW;
 *      the account root user itself needs no identity policy;
 *   5. otherwise POLICY_DENY_IMPLICIT.
 *
 * Nothing here ever sees plaintext or key material; explanations never echo
 * encryption-context values of the request (they may be sensitive), only key
 * names, operators and the policy's own values.
 */
#ifndef CLOISTER_KMS_POLICY_POLICY_H
#define CLOISTER_KMS_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <cloister/error.h>

#include "policy/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Key policies are at most 32 KB (docs/kms-policy.md, "Validation"). */
#define POLICY_MAX_BYTES 32768

/* ------------------------------------------------------------------------ */
/* Policies.                                                                 */

struct policy; /* a parsed, validated policy document; owns its memory */

/* Which checks policy_parse() runs. */
struct policy_parse_opts {
    /* A key policy: statements need Principal/NotPrincipal. An identity
     * policy (false): statements must not have one. */
    bool key_policy;
    /* Optional: is this principal ARN known (exists)? NULL: any well-formed
     * ARN is accepted. AWS KMS refuses policies naming unknown principals
     * with "Policy contains a statement with one or more invalid principals." */
    bool (*principal_exists)(void *arg, const char *arn);
    void *principal_exists_arg;
};

/*
 * Parses and validates text[0..len) (need not be NUL-terminated). On failure
 * returns CL_ELIMIT (size; AWS: LimitExceededException) or CL_EFORMAT (AWS:
 * MalformedPolicyDocumentException) with AWS's message as err->reason
 * (exact texts in docs/kms-policy.md). *out is set only on success; free
 * with policy_free().
 */
CL_MUST_USE int policy_parse(const char *text, size_t len, const struct policy_parse_opts *o,
                             struct policy **out, struct cl_error *err);
void policy_free(struct policy *p);

/* The AWS exception type for an error code of policy_parse() /
 * policy_validate_key_policy(): "LimitExceededException" for CL_ELIMIT,
 * "MalformedPolicyDocumentException" otherwise. Never NULL. */
const char *policy_error_type(int code);

/* Number of statements, and a statement's Sid (NULL if it has none). */
size_t policy_statement_count(const struct policy *p);
const char *policy_statement_sid(const struct policy *p, size_t i);

/*
 * The default key policy of a key created without one, as
 * KMS prints it: Id key-default-1, Sid "Enable IAM User Permissions",
 * Principal {"AWS": "arn:<partition>:iam::<account>:root"}, kms:*, *.
 * Returns a malloc'd NUL-terminated string (caller frees) or NULL on ENOMEM.
 */
char *policy_default_text(const char *partition, const char *account);

/* ------------------------------------------------------------------------ */
/* Evaluation.                                                               */

enum policy_decision {
    POLICY_DENY_IMPLICIT = 0, /* nothing allowed it */
    POLICY_ALLOW = 1,
    POLICY_DENY_EXPLICIT = 2, /* a Deny statement applied */
};

struct policy_request {
    const char *action;        /* "kms:Decrypt" */
    const char *principal_arn; /* the caller: arn:aws:iam::A:user/U,
                                  arn:aws:sts::A:assumed-role/R/S, arn:aws:iam::A:root */
    const char *account;       /* the caller's account id (12 digits) */
    bool is_account_root;      /* the caller is the account's root user */
    const char *resource_arn;  /* the key ARN ("*" in a key policy means it) */
    const char *key_account;   /* the key's account; NULL: same as account */
    /* The caller's identity policies (parsed with key_policy = false);
     * borrowed. May be NULL with n_identity = 0. */
    const struct policy *const *identity_policies;
    size_t n_identity;
    /* Condition context; borrowed; NULL = empty. aws:PrincipalArn and
     * kms:CallerAccount are derived from principal_arn/account when absent. */
    const struct policy_context *context;
};

enum policy_source {
    POLICY_SOURCE_NONE = 0,
    POLICY_SOURCE_KEY = 1,      /* the key policy */
    POLICY_SOURCE_IDENTITY = 2, /* an identity policy of the caller */
};

#define POLICY_REASON_MAX 1024

struct policy_result {
    enum policy_decision decision;
    /* The statement that decided (for ALLOW via delegation: the key policy's
     * account statement; the identity statement is in identity_*). */
    enum policy_source source;
    int statement_index;          /* 0-based; -1 when no statement decided */
    char sid[129];                /* "" when the statement has no Sid */
    int identity_policy_index;    /* ALLOW by delegation: which identity policy, else -1 */
    int identity_statement_index; /* and which statement in it, else -1 */
    /* One line, human: which statement and why; for an implicit deny, why the
     * closest candidates did not apply. Never contains request
     * encryption-context values. */
    char reason[POLICY_REASON_MAX];
};

/*
 * Evaluates req against key_policy (which may be NULL for key-less
 * operations such as GenerateRandom: then only identity policies count and
 * the caller's own Allow suffices). Fills *res. Returns 0, or CL_EINVAL when
 * req lacks action/principal_arn/account.
 */
CL_MUST_USE int policy_evaluate(const struct policy *key_policy, const struct policy_request *req,
                                struct policy_result *res, struct cl_error *err);

/*
 * As policy_evaluate(), and writes a malloc'd NUL-terminated JSON trace to
 * *json (caller frees): {"Decision", "DecidedBy": {"Policy", "Index", "Sid"},
 * "Reason", "Statements": [{"Policy", "Index", "Sid", "Effect",
 * "Principal": "match|no match|n/a", "Action": ..., "Resource": ...,
 * "Conditions": [{"Operator","Key","Result","Why"}], "Applies": bool}]}.
 * This is what `cloister-kms explain` prints.
 */
CL_MUST_USE int policy_explain(const struct policy *key_policy, const struct policy_request *req,
                               struct policy_result *res, char **json, struct cl_error *err);

/*
 * The audit-log field of a decision: {"decision": "Allow|ExplicitDeny|
 * ImplicitDeny", "source": "key|identity|none", "statement": i, "sid",
 * "reason" [, "identityPolicy", "identityStatement"]}. New reference; NULL
 * on ENOMEM.
 */
json_t *policy_result_json(const struct policy_result *res);

/*
 * The AccessDeniedException message of a denied request, in AWS's words:
 * "User: <arn> is not authorized to perform: <action> on resource: <res>
 *  with an explicit deny in a resource-based policy" (or "... in an
 * identity-based policy") / "... because no resource-based policy allows the
 * <action> action". Writes at most cap bytes (NUL included) to buf.
 */
void policy_denied_message(const struct policy_request *req, const struct policy_result *res,
                           char *buf, size_t cap);

/*
 * CreateKey / PutKeyPolicy validation: policy_parse() as a key policy, then,
 * unless bypass_lockout, AWS's lock-out safety check: caller
 * (with req->action ignored, evaluated as kms:PutKeyPolicy on req's
 * resource) must be allowed, else CL_EFORMAT with
 * "The new key policy will not allow you to update the key policy in the future."
 * On success *out (may be NULL if not wanted) holds the parsed policy.
 */
CL_MUST_USE int policy_validate_key_policy(const char *text, size_t len,
                                           const struct policy_parse_opts *o,
                                           const struct policy_request *caller, bool bypass_lockout,
                                           struct policy **out, struct cl_error *err);

#ifdef __cplusplus
}
#endif

#endif
