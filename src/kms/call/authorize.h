/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authorization of a call: THE place where the key policy and the caller's
 * identity policy are evaluated (policy/policy.h) with the request's
 * condition context (call/context.h), then, when they leave the request
 * implicitly denied, the key's grants (policy/grant.h); the decision
 * written to the audit line, and a denial answered as AccessDeniedException. Key policies a
 * request brings (CreateKey, PutKeyPolicy) are validated here too, since
 * the lock-out check is the same evaluation for the caller.
 */
#ifndef CLOISTER_KMS_CALL_AUTHORIZE_H
#define CLOISTER_KMS_CALL_AUTHORIZE_H

#include <stdbool.h>

#include <cloister/error.h>

#include "call/call.h"
#include "state/store.h"

/*
 * May the caller do action on key k (NULL for key-less actions: the
 * identity policy alone decides)? Records the decision in the audit line's
 * "authorization" list, and on a denial AccessDeniedException. Returns 0
 * when allowed, -1 otherwise (error recorded).
 */
CL_MUST_USE int authorize(struct call *c, const char *action, const struct store_key *k);

/* authorize() without the key's grants: the policies alone (RetireGrant's
 * permission delegated by policy, when the grant itself does not allow it). */
CL_MUST_USE int authorize_policy(struct call *c, const char *action, const struct store_key *k);

/* Notes in the audit line an Allow that grant grant_id decided outside
 * authorize() (RetireGrant by the grant's retiring or grantee principal). */
void authorize_note_grant(struct call *c, const char *action, const char *grant_id,
                          const char *reason);

/* AWS's quota of grants on one key (Grants per KMS key: 50,000). */
#define GRANTS_PER_KEY_MAX 50000

/*
 * A key policy a request brings for the key key_arn: parsed as a key
 * policy (named principals must exist), then, unless bypass_lockout, the
 * lock-out check (the caller must keep kms:PutKeyPolicy). 0, or -1 with
 * MalformedPolicyDocumentException (or AWS's other type for the fault,
 * policy_error_type()) recorded.
 */
CL_MUST_USE int authorize_key_policy(struct call *c, const char *text, const char *key_arn,
                                     bool bypass_lockout);

#endif
