/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Grants in the authorization decision (docs/kms-policy.md, "Grants"): a
 * grant is a JSON object in ListGrants' shape (GrantListEntry), and it
 * allows a request when
 *   - its GranteePrincipal names the caller (the caller's ARN, or the role
 *     an assumed-role session belongs to),
 *   - its Operations include the operation the action names (kms:Decrypt:
 *     Decrypt; kms:ReEncryptFrom: ReEncryptFrom; ...), and
 *   - its Constraints match the request's encryption context, for the
 *     operations that take one (EncryptionContextSubset: every pair is in
 *     the request's context; EncryptionContextEquals: the request's context
 *     is exactly these pairs; keys compared without case, values with it,
 *     as AWS's GrantConstraints documentation says). DescribeKey,
 *     RetireGrant, GetPublicKey... ignore the constraints; CreateGrant
 *     needs the new grant's operations (kms:GrantOperations) among the
 *     grant's and its constraints equally strict or stricter.
 * Grants only ever turn an implicit deny into an allow: an explicit Deny
 * in a policy still wins (call/authorize.c).
 */
#ifndef CLOISTER_KMS_POLICY_GRANT_H
#define CLOISTER_KMS_POLICY_GRANT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "policy/policy.h"

/* The GrantOperation of an action ("kms:Decrypt" -> "Decrypt"), or NULL when
 * no grant can allow the action. */
const char *policy_grant_operation(const char *action);

/* Is op one of the operations that take an encryption context (those a
 * grant's constraints apply to)? */
bool policy_grant_op_takes_context(const char *op);

/* Does the principal ARN named (a grant's grantee or retiring principal)
 * name the caller: the same ARN, or the role of an assumed-role session? */
bool policy_principal_names(const char *named, const char *caller_arn);

/* Are the constraints child (a GrantConstraints object or NULL) equally
 * strict or stricter than parent's? */
bool policy_constraints_stricter(const json_t *parent, const json_t *child);

/* What the grants decided: the index of the first grant that allows the
 * request (-1: none) and why, in one line. */
struct policy_grant_result {
    int index;
    char grant_id[129];
    char reason[POLICY_REASON_MAX];
};

/*
 * Evaluates the grants (a JSON array of GrantListEntry objects) for req
 * (action, principal_arn and context are used). new_constraints: the
 * Constraints of the grant a CreateGrant request makes (NULL otherwise).
 * trace (may be NULL) gets one {"GrantId", "Applies", "Why"} per grant.
 */
void policy_grants_evaluate(const json_t *grants, const struct policy_request *req,
                            const json_t *new_constraints, struct policy_grant_result *res,
                            json_t *trace);

#endif
