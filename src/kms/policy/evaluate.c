/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy evaluation as data (evaluate.h): which statements apply to the
 * request and why, and the decision they make, by the rules of
 * docs/kms-policy.md, "Evaluation" (after AWS KMS's developer guide,
 * "Determining access to a KMS key", and IAM's policy evaluation logic).
 */
#include "policy/evaluate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/context.h"
#include "policy/match.h"

/* A condition key's values in the request: the context's, else the ones
 * derived from the caller. */
static const char *const *lookup(const struct policy_eval *e, const char *key, size_t *n)
{
    const char *const *v = policy_context_get(e->req->context, key, n);
    if (v)
        return v;
    if (strcasecmp(key, "aws:PrincipalArn") == 0) {
        *n = 1;
        return e->principal_arn;
    }
    if (strcasecmp(key, "kms:CallerAccount") == 0 || strcasecmp(key, "aws:PrincipalAccount") == 0) {
        *n = 1;
        return e->account;
    }
    *n = 0;
    return NULL;
}

static int cmp_double(double a, double b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

/* The positive form of an operator on one request value against one policy value. */
static bool match_one(enum cond_base op, const char *ctx, const char *pol)
{
    double a, b;
    struct cidr net, ip;
    switch (op) {
    case OP_STRING_EQUALS:
    case OP_STRING_NOT_EQUALS:
    case OP_BINARY_EQUALS:
    case OP_ARN_EQUALS:
    case OP_ARN_NOT_EQUALS:
        return strcmp(ctx, pol) == 0;
    case OP_STRING_EQUALS_IC:
    case OP_STRING_NOT_EQUALS_IC:
        return strcasecmp(ctx, pol) == 0;
    case OP_STRING_LIKE:
    case OP_STRING_NOT_LIKE:
    case OP_ARN_LIKE:
    case OP_ARN_NOT_LIKE:
        return glob_match(pol, ctx, false);
    case OP_NUMERIC_EQUALS:
    case OP_NUMERIC_NOT_EQUALS:
    case OP_NUMERIC_LT:
    case OP_NUMERIC_LE:
    case OP_NUMERIC_GT:
    case OP_NUMERIC_GE:
        if (!parse_number(ctx, &a) || !parse_number(pol, &b))
            return false;
        goto compare;
    case OP_DATE_EQUALS:
    case OP_DATE_NOT_EQUALS:
    case OP_DATE_LT:
    case OP_DATE_LE:
    case OP_DATE_GT:
    case OP_DATE_GE:
        if (!parse_date(ctx, &a) || !parse_date(pol, &b))
            return false;
    compare:
        switch (op) {
        case OP_NUMERIC_LT:
        case OP_DATE_LT:
            return cmp_double(a, b) < 0;
        case OP_NUMERIC_LE:
        case OP_DATE_LE:
            return cmp_double(a, b) <= 0;
        case OP_NUMERIC_GT:
        case OP_DATE_GT:
            return cmp_double(a, b) > 0;
        case OP_NUMERIC_GE:
        case OP_DATE_GE:
            return cmp_double(a, b) >= 0;
        default:
            return cmp_double(a, b) == 0;
        }
    case OP_BOOL:
        return strcasecmp(ctx, pol) == 0;
    case OP_IP_ADDRESS:
    case OP_NOT_IP_ADDRESS:
        return parse_cidr(pol, &net, true) && parse_cidr(ctx, &ip, false) &&
               cidr_contains(&net, &ip);
    case OP_NULL:
        return false;
    }
    return false;
}

/* Does one request value satisfy the operator (values OR-ed; negated
 * operators: the value matches none of the policy values)? */
static bool value_satisfies(const struct cond *c, const char *ctx)
{
    bool any = false;
    for (size_t i = 0; i < c->n && !any; i++)
        any = match_one(c->op, ctx, c->values[i]);
    return c->negated ? !any : any;
}

/* Evaluates one condition (one operator, one key) into *t. */
static void eval_cond(const struct policy_eval *e, const struct cond *c, struct cond_trace *t)
{
    size_t n;
    const char *const *vals = lookup(e, c->key, &n);
    t->values = vals;
    t->n = n;
    if (c->op == OP_NULL) {
        /* Null: "true" means the key must be absent, "false" present. */
        bool absent = vals == NULL;
        bool ok = false;
        for (size_t i = 0; i < c->n && !ok; i++)
            ok = (strcasecmp(c->values[i], "true") == 0) == absent;
        t->result = ok;
        return;
    }
    if (!vals) {
        /* IAM: a missing key makes the condition false, except negated
         * operators (true), ...IfExists (true), ForAllValues (true, empty
         * set) and ForAnyValue (false) (docs/kms-policy.md, "Conditions"). */
        t->result = c->if_exists || c->set == SET_ALL ? true
                    : c->set == SET_ANY               ? false
                                                      : c->negated;
        return;
    }
    bool r;
    if (c->set == SET_ALL) {
        r = true;
        for (size_t i = 0; i < n && r; i++)
            r = value_satisfies(c, vals[i]);
    } else if (c->set == SET_ANY) {
        r = false;
        for (size_t i = 0; i < n && !r; i++)
            r = value_satisfies(c, vals[i]);
    } else {
        /* A single-valued operator over several request values: any request
         * value matching any policy value counts as a match. */
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            for (size_t j = 0; j < c->n && !any; j++)
                any = match_one(c->op, vals[i], c->values[j]);
        r = c->negated ? !any : any;
    }
    t->result = r;
}

/* Role ARN arn:aws:iam::A:role/path/R vs session arn:aws:sts::A:assumed-role/R/S. */
bool policy_role_matches_session(const char *role_arn, const char *caller)
{
    struct arn r, c;
    if (!arn_split(role_arn, &r) || !arn_split(caller, &c))
        return false;
    if (strcmp(r.service, "iam") || strncmp(r.resource, "role/", 5) || strcmp(c.service, "sts") ||
        strncmp(c.resource, "assumed-role/", 13) || strcmp(r.account, c.account) ||
        strcmp(r.partition, c.partition))
        return false;
    const char *role_name = strrchr(r.resource, '/') + 1;
    const char *sess = c.resource + 13;
    const char *slash = strchr(sess, '/');
    if (!slash)
        return false;
    return strlen(role_name) == (size_t)(slash - sess) &&
           strncmp(role_name, sess, (size_t)(slash - sess)) == 0;
}

/* Does a Principal entry name the caller, and how? */
static enum pmatch principal_entry_match(const char *entry, const struct policy_request *req,
                                         enum principal_how *how)
{
    if (strcmp(entry, req->principal_arn) == 0) {
        /* arn:...:root naming the root user itself is a direct match */
        *how = HOW_CALLER;
        return PM_DIRECT;
    }
    if (policy_role_matches_session(entry, req->principal_arn)) {
        *how = HOW_ROLE_SESSION;
        return PM_DIRECT;
    }
    struct arn a;
    if (arn_split(entry, &a) && strcmp(a.service, "iam") == 0 && strcmp(a.resource, "root") == 0 &&
        strcmp(a.account, req->account) == 0) {
        *how = HOW_ACCOUNT;
        return req->is_account_root ? PM_DIRECT : PM_ACCOUNT;
    }
    return PM_NONE;
}

/* Principal or NotPrincipal of a key-policy statement against the caller. */
static void stmt_principal(const struct stmt *s, const struct policy_request *req,
                           struct stmt_trace *t)
{
    enum pmatch best = PM_NONE;
    if (s->p_any) {
        best = PM_DIRECT;
        t->how = HOW_ANYONE;
        t->entry = "*";
    }
    for (size_t i = 0; i < s->n_aws && best != PM_DIRECT; i++) {
        enum principal_how how;
        enum pmatch m = principal_entry_match(s->p_aws[i], req, &how);
        if (m > best || m == PM_DIRECT) {
            best = m;
            t->how = how;
            t->entry = s->p_aws[i];
        }
    }
    if (s->pmode == PRIN_NOT_PRINCIPAL)
        t->pm = best != PM_NONE ? PM_NONE : PM_DIRECT;
    else
        t->pm = best;
}

static void stmt_action(const struct stmt *s, const char *action, struct stmt_trace *t)
{
    if (!s->has_action)
        return;
    for (size_t i = 0; i < s->n_actions && !t->action_hit; i++)
        if (glob_match(s->actions[i], action, true))
            t->action_hit = s->actions[i];
    t->action = s->not_action ? !t->action_hit : t->action_hit != NULL;
}

static void stmt_resource(const struct stmt *s, const struct policy_request *req,
                          struct stmt_trace *t)
{
    if (!s->has_resource)
        return;
    const char *res = req->resource_arn ? req->resource_arn : "*";
    for (size_t i = 0; i < s->n_resources && !t->resource_hit; i++) {
        /* In a key policy "*" means "this key" (docs/kms-policy.md, "Evaluation"). */
        if (strcmp(s->resources[i], "*") == 0 || (t->key_policy && !req->resource_arn) ||
            glob_match(s->resources[i], res, false))
            t->resource_hit = s->resources[i];
    }
    t->resource = s->not_resource ? !t->resource_hit : t->resource_hit != NULL;
}

/* One statement against the request; t->s, key_policy, policy, index and
 * cond are set by the caller. */
static void eval_stmt(const struct policy_eval *e, struct stmt_trace *t)
{
    const struct stmt *s = t->s;
    t->failed_cond = -1;
    if (t->key_policy) {
        stmt_principal(s, e->req, t);
        t->principal = t->pm != PM_NONE;
    } else {
        t->pm = PM_DIRECT;
        t->principal = true;
    }
    stmt_action(s, e->req->action, t);
    stmt_resource(s, e->req, t);
    t->conds = true;
    for (size_t i = 0; i < s->n_conds; i++) {
        eval_cond(e, &s->conds[i], &t->cond[i]);
        if (!t->cond[i].result && t->conds) {
            t->conds = false;
            t->failed_cond = (int)i;
        }
    }
    t->applies = t->principal && t->action && t->resource && t->conds;
}

/* The first applicable statement of the given kind: an Allow or a Deny,
 * from the key policy or the identity policies, whose principal match is pm
 * (PM_NONE: any). */
static const struct stmt_trace *first_applicable(const struct policy_eval *e, bool deny,
                                                 bool key_policy, enum pmatch pm)
{
    for (size_t i = 0; i < e->n; i++) {
        const struct stmt_trace *t = &e->st[i];
        if (t->key_policy == key_policy && t->s->deny == deny && t->applies &&
            (pm == PM_NONE || t->pm == pm))
            return t;
    }
    return NULL;
}

/*
 * The decision, in order: an applicable Deny anywhere (key policy first);
 * an applicable Allow in the key policy naming the caller; an applicable
 * Allow in an identity policy, when the key policy delegates to the
 * caller's account (or there is no key policy); the account root user
 * without a key policy; otherwise an implicit deny.
 */
static void decide(struct policy_eval *e)
{
    const struct policy_request *req = e->req;
    e->decision = POLICY_DENY_IMPLICIT;
    e->delegation = first_applicable(e, false, true, PM_ACCOUNT);
    const struct stmt_trace *t;
    if ((t = first_applicable(e, true, true, PM_NONE))) {
        e->decision = POLICY_DENY_EXPLICIT;
        e->decided = t;
        return;
    }
    if ((t = first_applicable(e, true, false, PM_NONE))) {
        e->decision = POLICY_DENY_EXPLICIT;
        e->decided = e->identity = t;
        return;
    }
    if ((t = first_applicable(e, false, true, PM_DIRECT))) {
        e->decision = POLICY_ALLOW;
        e->decided = t;
        return;
    }
    /* Identity policies count for callers of the key's account, or of an
     * account the key policy delegates to. */
    bool key_account_ok =
        !req->key_account || strcmp(req->key_account, req->account) == 0 || e->delegation;
    if ((!e->delegation && e->key_policy) || !key_account_ok)
        return;
    if ((t = first_applicable(e, false, false, PM_NONE))) {
        e->decision = POLICY_ALLOW;
        e->identity = t;
        e->decided = e->key_policy ? e->delegation : t;
        return;
    }
    if (!e->key_policy && req->is_account_root) {
        e->decision = POLICY_ALLOW;
        e->root_allowed = true;
    }
}

/* Statements of a policy, and the conditions of all of them. */
static void count(const struct policy *p, size_t *stmts, size_t *conds)
{
    for (size_t i = 0; p && i < p->n; i++) {
        (*stmts)++;
        *conds += p->st[i].n_conds;
    }
}

/* Puts p's statements in the trace array from *k on. */
static void add_statements(struct policy_eval *e, const struct policy *p, bool key_policy,
                           size_t policy, size_t *k, struct cond_trace **conds)
{
    for (size_t i = 0; p && i < p->n; i++, (*k)++) {
        struct stmt_trace *t = &e->st[*k];
        t->s = &p->st[i];
        t->key_policy = key_policy;
        t->policy = policy;
        t->index = i;
        t->cond = *conds;
        *conds += p->st[i].n_conds;
        eval_stmt(e, t);
    }
}

int policy_eval_run(const struct policy *kp, const struct policy_request *req,
                    struct policy_eval **out, struct cl_error *err)
{
    *out = NULL;
    if (!req || !req->action || !req->principal_arn || !req->account)
        return cl_fail(err, CL_EINVAL, "policy request lacks action, principal or account");
    size_t n_key = 0, n = 0, n_cond = 0;
    count(kp, &n_key, &n_cond);
    n = n_key;
    for (size_t p = 0; p < req->n_identity; p++)
        count(req->identity_policies[p], &n, &n_cond);
    /* one block: the evaluation, its statements, their conditions */
    struct policy_eval *e =
        calloc(1, sizeof(*e) + n * sizeof(struct stmt_trace) + n_cond * sizeof(struct cond_trace));
    if (!e)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    e->req = req;
    e->key_policy = kp;
    e->principal_arn[0] = req->principal_arn;
    e->account[0] = req->account;
    e->st = (struct stmt_trace *)(e + 1);
    e->n = n;
    e->n_key = n_key;
    struct cond_trace *conds = (struct cond_trace *)(e->st + n);
    size_t k = 0;
    add_statements(e, kp, true, 0, &k, &conds);
    for (size_t p = 0; p < req->n_identity; p++)
        add_statements(e, req->identity_policies[p], false, p, &k, &conds);
    decide(e);
    *out = e;
    return 0;
}

void policy_eval_free(struct policy_eval *e)
{
    free(e);
}
