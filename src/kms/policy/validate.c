/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CreateKey's and PutKeyPolicy's check of a key policy: parsed as a key
 * policy, then AWS's lock-out safety check (docs/kms-policy.md,
 * "Validation").
 */
#include "policy/evaluate.h"

/* AWS KMS's own text for a policy failing the lock-out check. */
#define MSG_LOCKOUT "The new key policy will not allow you to update the key policy in the future."

int policy_validate_key_policy(const char *text, size_t len, const struct policy_parse_opts *o,
                               const struct policy_request *caller, bool bypass_lockout,
                               struct policy **out, struct cl_error *err)
{
    struct policy_parse_opts kopts = { .key_policy = true };
    if (o) {
        kopts = *o;
        kopts.key_policy = true;
    }
    struct policy *p = NULL;
    if (out)
        *out = NULL;
    int rc = policy_parse(text, len, &kopts, &p, err);
    if (rc < 0)
        return rc;
    if (!bypass_lockout) {
        if (!caller) {
            rc = cl_fail(err, CL_EINVAL, "lock-out check needs the caller");
            goto out;
        }
        /* the new policy must let the caller call PutKeyPolicy later */
        struct policy_request r = *caller;
        r.action = "kms:PutKeyPolicy";
        struct policy_eval *e = NULL;
        rc = policy_eval_run(p, &r, &e, err);
        if (rc < 0)
            goto out;
        bool allowed = e->decision == POLICY_ALLOW;
        policy_eval_free(e);
        if (!allowed) {
            rc = cl_fail(err, CL_EFORMAT, MSG_LOCKOUT);
            goto out;
        }
    }
    if (out) {
        *out = p;
        p = NULL;
    }
out:
    policy_free(p);
    return rc;
}
