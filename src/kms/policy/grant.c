/* SPDX-License-Identifier: Apache-2.0 */
/* Grants in the authorization decision (grant.h). */
#include "policy/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/evaluate.h"

/* botocore's GrantOperation enum, and which of them take an encryption
 * context (AWS's GrantConstraints: "all cryptographic operations with a
 * symmetric KMS key"). */
static const struct {
    const char *op;
    bool context;
} GRANT_OPS[] = {
    { "Decrypt", true },
    { "Encrypt", true },
    { "GenerateDataKey", true },
    { "GenerateDataKeyWithoutPlaintext", true },
    { "ReEncryptFrom", true },
    { "ReEncryptTo", true },
    { "Sign", false },
    { "Verify", false },
    { "GetPublicKey", false },
    { "CreateGrant", false },
    { "RetireGrant", false },
    { "DescribeKey", false },
    { "GenerateDataKeyPair", true },
    { "GenerateDataKeyPairWithoutPlaintext", true },
    { "GenerateMac", false },
    { "VerifyMac", false },
    { "DeriveSharedSecret", false },
};

const char *policy_grant_operation(const char *action)
{
    if (strncasecmp(action, "kms:", 4) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof(GRANT_OPS) / sizeof(GRANT_OPS[0]); i++)
        if (strcmp(action + 4, GRANT_OPS[i].op) == 0)
            return GRANT_OPS[i].op;
    return NULL;
}

bool policy_grant_op_takes_context(const char *op)
{
    for (size_t i = 0; i < sizeof(GRANT_OPS) / sizeof(GRANT_OPS[0]); i++)
        if (strcmp(op, GRANT_OPS[i].op) == 0)
            return GRANT_OPS[i].context;
    return false;
}

bool policy_principal_names(const char *named, const char *caller_arn)
{
    return named &&
           (strcmp(named, caller_arn) == 0 || policy_role_matches_session(named, caller_arn));
}

/* Does pairs (an object of strings) hold key k (without case) with value v? */
static bool has_pair(const json_t *pairs, const char *k, const char *v)
{
    const char *pk;
    json_t *pv;
    json_object_foreach((json_t *)pairs, pk, pv)
    {
        if (strcasecmp(pk, k) == 0 && strcmp(json_string_value(pv), v) == 0)
            return true;
    }
    return false;
}

/* Is every pair of sub in sup? */
static bool pairs_within(const json_t *sub, const json_t *sup)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sub, k, v)
    {
        if (!sup || !has_pair(sup, k, json_string_value(v)))
            return false;
    }
    return true;
}

bool policy_constraints_stricter(const json_t *parent, const json_t *child)
{
    const json_t *pe = json_object_get(parent, "EncryptionContextEquals");
    const json_t *ps = json_object_get(parent, "EncryptionContextSubset");
    const json_t *ce = json_object_get(child, "EncryptionContextEquals");
    const json_t *cs = json_object_get(child, "EncryptionContextSubset");
    /* Equals E allows exactly one context: only Equals E is as strict */
    if (pe && !(ce && json_object_size(ce) == json_object_size(pe) && pairs_within(pe, ce)))
        return false;
    /* Subset S: a child's Subset must hold S's pairs, or its Equals must */
    if (ps && !((cs && pairs_within(ps, cs)) || (ce && pairs_within(ps, ce))))
        return false;
    return true;
}

/* Does the request's encryption context (in its condition context) hold
 * every pair of pairs? */
static bool context_has(const struct policy_context *ctx, const json_t *pairs)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)pairs, k, v)
    {
        size_t need = strlen("kms:EncryptionContext:") + strlen(k) + 1;
        char *name = malloc(need);
        if (!name)
            return false;
        snprintf(name, need, "kms:EncryptionContext:%s", k);
        size_t n = 0;
        /* keys are looked up without case (policy/context.c), as a grant
         * constraint's keys are compared */
        const char *const *vals = ctx ? policy_context_get(ctx, name, &n) : NULL;
        free(name);
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(vals[i], json_string_value(v)) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* Do the constraints c allow the request's encryption context? */
static bool constraints_match(const json_t *c, const struct policy_context *ctx, char *why,
                              size_t cap)
{
    const json_t *eq = json_object_get(c, "EncryptionContextEquals");
    const json_t *sub = json_object_get(c, "EncryptionContextSubset");
    if (eq) {
        size_t n = 0;
        if (ctx)
            policy_context_get(ctx, "kms:EncryptionContextKeys", &n);
        if (n != json_object_size(eq) || !context_has(ctx, eq)) {
            snprintf(why, cap,
                     "the request's encryption context is not its "
                     "EncryptionContextEquals constraint");
            return false;
        }
    }
    if (sub && !context_has(ctx, sub)) {
        snprintf(why, cap,
                 "the request's encryption context does not include its "
                 "EncryptionContextSubset constraint");
        return false;
    }
    return true;
}

/* Is every operation of kms:GrantOperations (the new grant's) in ops? */
static bool operations_within(const struct policy_context *ctx, const json_t *ops)
{
    size_t n = 0;
    const char *const *want = ctx ? policy_context_get(ctx, "kms:GrantOperations", &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        size_t j;
        json_t *o;
        json_array_foreach(ops, j, o)
        {
            if (strcmp(json_string_value(o), want[i]) == 0)
                found = true;
        }
        if (!found)
            return false;
    }
    return true;
}

/* Does grant g allow req? why: one line either way. */
static bool grant_allows(const json_t *g, const struct policy_request *req, const char *op,
                         const json_t *new_constraints, char *why, size_t cap)
{
    const char *grantee = json_string_value(json_object_get(g, "GranteePrincipal"));
    if (!policy_principal_names(grantee, req->principal_arn)) {
        snprintf(why, cap, "its grantee principal is %s", grantee ? grantee : "none");
        return false;
    }
    const json_t *ops = json_object_get(g, "Operations");
    bool has = false;
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o)
    {
        if (op && strcmp(json_string_value(o), op) == 0)
            has = true;
    }
    if (!has) {
        snprintf(why, cap, "its operations do not include %s", op ? op : req->action);
        return false;
    }
    const json_t *c = json_object_get(g, "Constraints");
    if (c && policy_grant_op_takes_context(op) && !constraints_match(c, req->context, why, cap))
        return false;
    if (strcmp(op, "CreateGrant") == 0) {
        if (!operations_within(req->context, ops)) {
            snprintf(why, cap, "the new grant's operations are not all among its operations");
            return false;
        }
        if (!policy_constraints_stricter(c, new_constraints)) {
            snprintf(why, cap, "the new grant's constraints are less strict than its constraints");
            return false;
        }
    }
    snprintf(why, cap, "its grantee principal is the caller, its operations include %s%s", op,
             c && (policy_grant_op_takes_context(op) || !strcmp(op, "CreateGrant"))
                 ? " and its constraints are met"
                 : "");
    return true;
}

void policy_grants_evaluate(const json_t *grants, const struct policy_request *req,
                            const json_t *new_constraints, struct policy_grant_result *res,
                            json_t *trace)
{
    memset(res, 0, sizeof(*res));
    res->index = -1;
    const char *op = policy_grant_operation(req->action);
    size_t i;
    json_t *g;
    json_array_foreach(grants, i, g)
    {
        char why[POLICY_REASON_MAX / 2];
        const char *id = json_string_value(json_object_get(g, "GrantId"));
        bool ok = grant_allows(g, req, op, new_constraints, why, sizeof(why));
        if (trace)
            json_array_append_new(trace, json_pack("{s:s, s:b, s:s}", "GrantId", id ? id : "",
                                                   "Applies", ok, "Why", why));
        if (ok && res->index < 0) {
            res->index = (int)i;
            snprintf(res->grant_id, sizeof(res->grant_id), "%s", id ? id : "");
            snprintf(res->reason, sizeof(res->reason), "grant %s allows it: %s", res->grant_id,
                     why);
        }
    }
    if (res->index < 0)
        snprintf(res->reason, sizeof(res->reason), "no grant allows %s", req->action);
}
