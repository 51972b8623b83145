/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authorization of a call: THE place where the key policy and the caller's
 * identity policy are evaluated (policy/policy.h) with the request's
 * condition context (call/context.h), the decision written to the audit
 * line, and a denial answered as AccessDeniedException. Key policies a
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
