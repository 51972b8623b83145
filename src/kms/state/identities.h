/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identities as AWS has them, for one account: IAM users and roles
 * (principals) with optional identity policies, long-term access keys
 * (AKIA...), and temporary session credentials (ASIA... + session token)
 * whose caller is arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
 */
#ifndef CLOISTER_KMS_IDENTITIES_H
#define CLOISTER_KMS_IDENTITIES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <cloister/error.h>

#include "state/store.h"

/* IAM user/role names: [A-Za-z0-9+=,.@_-]{1,64}. */
bool ident_valid_name(const char *name);

/*
 * Creates a principal (kind "user" or "role") in account with its first
 * access key. identity_policy: JSON text or NULL (none). *out (new
 * reference) is {"Arn", "AccessKeyId", "SecretAccessKey"}: the only time
 * the secret is shown. CL_EEXIST if the name is taken.
 */
CL_MUST_USE int ident_principal_create(struct store *st, const char *account, const char *name,
                                       const char *kind, const char *identity_policy, json_t **out,
                                       struct cl_error *err);

/*
 * Issues temporary credentials for role (a role name or role ARN) valid for
 * duration_s seconds (900..43200, AWS's AssumeRole range). *out is STS
 * AssumeRole's answer: {"Credentials": {"AccessKeyId", "SecretAccessKey",
 * "SessionToken", "Expiration"}, "AssumedRoleUser": {"AssumedRoleId", "Arn"}}.
 * CL_ENOTFOUND when the role does not exist.
 */
CL_MUST_USE int ident_session_create(struct store *st, const char *account, const char *role,
                                     const char *session_name, long duration_s, json_t **out,
                                     struct cl_error *err);

/* Who is calling: resolved from an access key id (+ session token). */
struct ident_caller {
    char arn[320];           /* user ARN or assumed-role session ARN */
    char principal_arn[256]; /* user or role ARN (whose identity policy applies) */
    char account[16];
    char user_id[160]; /* STS GetCallerIdentity UserId */
    char access_key[129];
    char secret[64];       /* for SigV4; wiped by ident_caller_clear */
    char *identity_policy; /* owned; NULL: none */
};
void ident_caller_clear(struct ident_caller *c);

/* Why a lookup failed, as AWS words it (UnrecognizedClientException or
 * ExpiredTokenException). */
enum ident_failure {
    IDENT_OK = 0,
    IDENT_UNKNOWN_KEY, /* "The security token included in the request is invalid." */
    IDENT_BAD_TOKEN,   /* same message: token missing, wrong, or on a long-term key */
    IDENT_EXPIRED,     /* "The security token included in the request is expired" */
};

/*
 * Looks up an access key and checks the session token (NULL when the
 * request carried none) at time now. Returns 0 and fills *out, or a
 * negative code with *why set (and CL_EIO etc. for store failures, *why =
 * IDENT_OK).
 */
CL_MUST_USE int ident_lookup(struct store *st, const char *akid, const char *session_token,
                             double now, struct ident_caller *out, enum ident_failure *why,
                             struct cl_error *err);

#endif
