/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Explanations of a decision, built from the evaluation's data
 * (evaluate.h): the one-line reason of policy_result, the audit field
 * (policy_result_json), the AccessDeniedException message and
 * `cloister-kms explain`'s JSON trace. Request values are echoed only for
 * measurement and identity keys, never encryption-context values (they may
 * carry data). Texts: docs/kms-policy.md, "Explain".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "policy/evaluate.h"

/* The texts below are summaries: each is written into a buffer of a fixed
 * size and silently cut there. */
#define PRINCIPAL_WHY_MAX 256
#define ACTION_WHY_MAX    256
#define RESOURCE_WHY_MAX  512
#define COND_WHY_MAX      640
#define CONDS_WHY_MAX     768
#define LABEL_MAX         256

/* Appends to a bounded buffer; silently truncates. */
static void bprintf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bprintf(char *buf, size_t cap, const char *fmt, ...)
{
    size_t used = strnlen(buf, cap);
    if (used + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, cap - used, fmt, ap);
    va_end(ap);
}

/* Keys whose request values may be echoed: measurements and identities. */
static bool key_echoable(const char *key)
{
    return strncasecmp(key, "kms:RecipientAttestation:", 25) == 0 ||
           strcasecmp(key, "aws:PrincipalArn") == 0 ||
           strcasecmp(key, "aws:PrincipalAccount") == 0 ||
           strcasecmp(key, "kms:CallerAccount") == 0 || strcasecmp(key, "aws:SourceIp") == 0 ||
           strcasecmp(key, "aws:SecureTransport") == 0 ||
           strcasecmp(key, "kms:RequestAlias") == 0 ||
           strcasecmp(key, "kms:EncryptionContextKeys") == 0;
}

static const char *how_text(enum principal_how how)
{
    switch (how) {
    case HOW_ANYONE:
        return "is \"*\" (anyone)";
    case HOW_CALLER:
        return "is the caller";
    case HOW_ROLE_SESSION:
        return "is the role of the caller's session";
    case HOW_ACCOUNT:
        break;
    }
    return "is the caller's account (delegation to IAM policies)";
}

static void principal_why(const struct policy_eval *e, const struct stmt_trace *t, char *why,
                          size_t cap)
{
    bool not_principal = t->s->pmode == PRIN_NOT_PRINCIPAL;
    if (!t->key_policy)
        snprintf(why, cap, "identity policy of the caller");
    else if (t->entry)
        snprintf(why, cap, "%s %s %s", not_principal ? "NotPrincipal" : "Principal", t->entry,
                 how_text(t->how));
    else if (not_principal)
        snprintf(why, cap, "caller is not in NotPrincipal");
    else
        snprintf(why, cap, "Principal does not name %s", e->req->principal_arn);
}

static void action_why(const struct policy_eval *e, const struct stmt_trace *t, char *why,
                       size_t cap)
{
    const char *action = e->req->action, *hit = t->action_hit;
    if (!t->s->has_action)
        snprintf(why, cap, "statement has no Action");
    else if (t->s->not_action && hit)
        snprintf(why, cap, "%s is excluded by NotAction \"%s\"", action, hit);
    else if (t->s->not_action)
        snprintf(why, cap, "%s is not in NotAction", action);
    else if (hit)
        snprintf(why, cap, "%s matches Action \"%s\"", action, hit);
    else
        snprintf(why, cap, "Action does not cover %s", action);
}

static void resource_why(const struct policy_eval *e, const struct stmt_trace *t, char *why,
                         size_t cap)
{
    const char *hit = t->resource_hit;
    if (!t->s->has_resource)
        snprintf(why, cap, "statement has no Resource");
    else if (t->s->not_resource && hit)
        snprintf(why, cap, "resource excluded by NotResource \"%s\"", hit);
    else if (t->s->not_resource)
        snprintf(why, cap, "resource not in NotResource");
    else if (hit)
        snprintf(why, cap, "resource matches \"%s\"", hit);
    else
        snprintf(why, cap, "Resource does not cover %s",
                 e->req->resource_arn ? e->req->resource_arn : "*");
}

/* Up to 8 quoted values, then ", ...". */
static void quoted_values(char *why, size_t cap, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n && i < 8; i++)
        bprintf(why, cap, "%s\"%s\"", i ? ", " : "", v[i]);
    if (n > 8)
        bprintf(why, cap, ", ...");
}

/* Why condition i of a statement has its result. */
static void cond_why(const struct stmt_trace *t, size_t i, char *why, size_t cap)
{
    const struct cond *c = &t->s->conds[i];
    const struct cond_trace *ct = &t->cond[i];
    if (c->op == OP_NULL) {
        snprintf(why, cap, "key %s", ct->values ? "present" : "absent");
        return;
    }
    if (!ct->values) {
        snprintf(why, cap, "key absent from the request%s",
                 c->if_exists        ? " (IfExists: true)"
                 : c->set == SET_ALL ? " (ForAllValues of an empty set: true)"
                 : c->set == SET_ANY ? " (ForAnyValue of an empty set: false)"
                 : c->negated        ? " (negated operator: true)"
                                     : "");
        return;
    }
    if (key_echoable(c->key)) {
        snprintf(why, cap, "request value%s ", ct->n > 1 ? "s" : "");
        quoted_values(why, cap, ct->values, ct->n);
        bprintf(why, cap, "; policy value%s ", c->n > 1 ? "s" : "");
    } else {
        snprintf(why, cap, "request value%s not shown; policy value%s ", ct->n > 1 ? "s" : "",
                 c->n > 1 ? "s" : "");
    }
    quoted_values(why, cap, (const char *const *)c->values, c->n);
}

/* The first false condition, or the true ones one after the other. */
static void conds_why(const struct stmt_trace *t, char *why, size_t cap)
{
    char one[COND_WHY_MAX];
    why[0] = '\0';
    if (t->failed_cond >= 0) {
        const struct cond *c = &t->s->conds[t->failed_cond];
        cond_why(t, (size_t)t->failed_cond, one, sizeof(one));
        snprintf(why, cap, "condition %s on %s is false: %s", c->op_name, c->key, one);
        return;
    }
    for (size_t i = 0; i < t->s->n_conds; i++) {
        const struct cond *c = &t->s->conds[i];
        cond_why(t, i, one, sizeof(one));
        bprintf(why, cap, "%s%s on %s true (%s)", why[0] ? "; " : "", c->op_name, c->key, one);
    }
}

/* "statement 2 (Sid "x") of the key policy" / "... of identity policy 0". */
static void stmt_label(const struct stmt_trace *t, char *buf, size_t cap)
{
    char where[64];
    if (t->key_policy)
        snprintf(where, sizeof(where), "the key policy");
    else
        snprintf(where, sizeof(where), "identity policy %zu", t->policy);
    if (t->s->sid && t->s->sid[0])
        snprintf(buf, cap, "statement %zu (Sid \"%s\") of %s", t->index, t->s->sid, where);
    else
        snprintf(buf, cap, "statement %zu of %s", t->index, where);
}

/* "<principal>; <action>; <resource>[; <conditions>]" appended to buf. */
static void stmt_summary(const struct policy_eval *e, const struct stmt_trace *t, char *buf,
                         size_t cap)
{
    char pwhy[PRINCIPAL_WHY_MAX], awhy[ACTION_WHY_MAX], rwhy[RESOURCE_WHY_MAX], cwhy[CONDS_WHY_MAX];
    principal_why(e, t, pwhy, sizeof(pwhy));
    action_why(e, t, awhy, sizeof(awhy));
    resource_why(e, t, rwhy, sizeof(rwhy));
    conds_why(t, cwhy, sizeof(cwhy));
    bprintf(buf, cap, "%s; %s; %s", pwhy, awhy, rwhy);
    if (cwhy[0])
        bprintf(buf, cap, "; %s", cwhy);
}

/* An Allow by an identity policy: through the key policy's delegation, or
 * with no key policy at all. */
static void identity_allow_reason(const struct policy_eval *e, char *reason, size_t cap)
{
    char label[LABEL_MAX], ilabel[LABEL_MAX], pwhy[PRINCIPAL_WHY_MAX], awhy[ACTION_WHY_MAX],
        rwhy[RESOURCE_WHY_MAX], cwhy[CONDS_WHY_MAX];
    stmt_label(e->identity, ilabel, sizeof(ilabel));
    if (e->key_policy) {
        stmt_label(e->delegation, label, sizeof(label));
        principal_why(e, e->delegation, pwhy, sizeof(pwhy));
        snprintf(reason, cap, "Allowed by %s, which delegates to IAM (%s), and by %s: ", label,
                 pwhy, ilabel);
    } else {
        snprintf(reason, cap, "Allowed (no key policy applies to this operation) by %s: ", ilabel);
    }
    action_why(e, e->identity, awhy, sizeof(awhy));
    resource_why(e, e->identity, rwhy, sizeof(rwhy));
    conds_why(e->identity, cwhy, sizeof(cwhy));
    bprintf(reason, cap, "%s; %s", awhy, rwhy);
    if (cwhy[0])
        bprintf(reason, cap, "; %s", cwhy);
}

/* An implicit deny: why the closest candidates (Allow statements of the
 * key policy naming the caller for this action, and the account
 * delegation) did not apply. */
static void implicit_deny_reason(const struct policy_eval *e, char *reason, size_t cap)
{
    const struct policy_request *req = e->req;
    char label[LABEL_MAX];
    int shown = 0;
    char cands[POLICY_REASON_MAX] = "";
    for (size_t i = 0; i < e->n_key && shown < 3; i++) {
        const struct stmt_trace *t = &e->st[i];
        if (t->s->deny || t->pm != PM_DIRECT || !t->action)
            continue;
        char why[RESOURCE_WHY_MAX > CONDS_WHY_MAX ? RESOURCE_WHY_MAX : CONDS_WHY_MAX];
        if (!t->resource)
            resource_why(e, t, why, RESOURCE_WHY_MAX);
        else
            conds_why(t, why, CONDS_WHY_MAX);
        stmt_label(t, label, sizeof(label));
        bprintf(cands, sizeof(cands), "%s %s: %s", shown ? ";" : " -", label, why);
        shown++;
    }
    char deleg_why[512] = "";
    if (e->delegation) {
        stmt_label(e->delegation, label, sizeof(label));
        snprintf(deleg_why, sizeof(deleg_why),
                 "%s allows the caller's account (delegation to IAM) but no identity policy of %s "
                 "allows %s",
                 label, req->principal_arn, req->action);
    }
    if (!e->key_policy) {
        snprintf(reason, cap, "Implicitly denied: no identity policy of %s allows %s",
                 req->principal_arn, req->action);
    } else if (!shown && e->delegation) {
        snprintf(reason, cap, "Implicitly denied: %s", deleg_why);
    } else {
        snprintf(reason, cap, "Implicitly denied: no statement of the key policy allows %s for %s",
                 req->action, req->principal_arn);
        bprintf(reason, cap, "%s",
                shown ? cands : " (no Allow statement names the caller for this action)");
        if (e->delegation)
            bprintf(reason, cap, "; and %s", deleg_why);
    }
}

/* The one-line reason of the decision. */
static void reason_of(const struct policy_eval *e, char *reason, size_t cap)
{
    char label[LABEL_MAX];
    reason[0] = '\0';
    if (e->decision == POLICY_DENY_EXPLICIT) {
        stmt_label(e->decided, label, sizeof(label));
        snprintf(reason, cap, "Explicitly denied by %s: ", label);
        stmt_summary(e, e->decided, reason, cap);
    } else if (e->decision == POLICY_DENY_IMPLICIT) {
        implicit_deny_reason(e, reason, cap);
    } else if (e->root_allowed) {
        snprintf(reason, cap, "Allowed: the account root user needs no identity policy");
    } else if (e->identity) {
        identity_allow_reason(e, reason, cap);
    } else {
        stmt_label(e->decided, label, sizeof(label));
        snprintf(reason, cap, "Allowed by %s: ", label);
        stmt_summary(e, e->decided, reason, cap);
    }
}

/* The policy_result of an evaluation. */
static void result_of(const struct policy_eval *e, struct policy_result *res)
{
    memset(res, 0, sizeof(*res));
    res->decision = e->decision;
    res->source = !e->decided              ? POLICY_SOURCE_NONE
                  : e->decided->key_policy ? POLICY_SOURCE_KEY
                                           : POLICY_SOURCE_IDENTITY;
    res->statement_index = e->decided ? (int)e->decided->index : -1;
    snprintf(res->sid, sizeof(res->sid), "%s",
             e->decided && e->decided->s->sid ? e->decided->s->sid : "");
    res->identity_policy_index = e->identity ? (int)e->identity->policy : -1;
    res->identity_statement_index = e->identity ? (int)e->identity->index : -1;
    reason_of(e, res->reason, sizeof(res->reason));
}

int policy_evaluate(const struct policy *key_policy, const struct policy_request *req,
                    struct policy_result *res, struct cl_error *err)
{
    struct policy_eval *e = NULL;
    int rc = policy_eval_run(key_policy, req, &e, err);
    if (rc < 0)
        return rc;
    result_of(e, res);
    policy_eval_free(e);
    return 0;
}

static const char *decision_name(enum policy_decision d)
{
    return d == POLICY_ALLOW           ? "Allow"
           : d == POLICY_DENY_EXPLICIT ? "ExplicitDeny"
                                       : "ImplicitDeny";
}

json_t *policy_result_json(const struct policy_result *res)
{
    json_t *o =
        json_pack("{s:s, s:s, s:i, s:s, s:s}", "decision", decision_name(res->decision), "source",
                  res->source == POLICY_SOURCE_KEY        ? "key"
                  : res->source == POLICY_SOURCE_IDENTITY ? "identity"
                                                          : "none",
                  "statement", res->statement_index, "sid", res->sid, "reason", res->reason);
    if (o && res->identity_policy_index >= 0) {
        json_object_set_new(o, "identityPolicy", json_integer(res->identity_policy_index));
        json_object_set_new(o, "identityStatement", json_integer(res->identity_statement_index));
    }
    return o;
}

/* One statement of `explain`'s trace. */
static json_t *statement_json(const struct policy_eval *e, const struct stmt_trace *t)
{
    char name[32], pwhy[PRINCIPAL_WHY_MAX], awhy[ACTION_WHY_MAX], rwhy[RESOURCE_WHY_MAX];
    if (t->key_policy)
        snprintf(name, sizeof(name), "key");
    else
        snprintf(name, sizeof(name), "identity:%zu", t->policy);
    json_t *o =
        json_pack("{s:s, s:I, s:s, s:s}", "Policy", name, "Index", (json_int_t)t->index, "Sid",
                  t->s->sid ? t->s->sid : "", "Effect", t->s->deny ? "Deny" : "Allow");
    if (!o)
        return NULL;
    principal_why(e, t, pwhy, sizeof(pwhy));
    action_why(e, t, awhy, sizeof(awhy));
    resource_why(e, t, rwhy, sizeof(rwhy));
    json_object_set_new(o, "Principal",
                        json_string(!t->key_policy        ? "n/a"
                                    : t->pm == PM_DIRECT  ? "match"
                                    : t->pm == PM_ACCOUNT ? "account (needs an identity policy)"
                                                          : "no match"));
    json_object_set_new(o, "PrincipalWhy", json_string(pwhy));
    json_object_set_new(o, "Action", json_string(t->action ? "match" : "no match"));
    json_object_set_new(o, "ActionWhy", json_string(awhy));
    json_object_set_new(o, "Resource", json_string(t->resource ? "match" : "no match"));
    json_object_set_new(o, "ResourceWhy", json_string(rwhy));
    json_t *conds = json_array();
    for (size_t i = 0; i < t->s->n_conds; i++) {
        char why[COND_WHY_MAX];
        cond_why(t, i, why, sizeof(why));
        const struct cond *c = &t->s->conds[i];
        json_array_append_new(conds,
                              json_pack("{s:s, s:s, s:b, s:s}", "Operator", c->op_name, "Key",
                                        c->key, "Result", t->cond[i].result, "Why", why));
    }
    json_object_set_new(o, "Conditions", conds);
    json_object_set_new(o, "Applies", json_boolean(t->applies));
    return o;
}

int policy_explain(const struct policy *key_policy, const struct policy_request *req,
                   struct policy_result *res, char **json, struct cl_error *err)
{
    *json = NULL;
    struct policy_eval *e = NULL;
    int rc = policy_eval_run(key_policy, req, &e, err);
    if (rc < 0)
        return rc;
    result_of(e, res);
    json_t *root = json_object(), *stmts = json_array();
    if (!root || !stmts) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    /* Insertion order is output order: the verdict first, the trace last. */
    json_object_set_new(root, "Decision", json_string(decision_name(res->decision)));
    json_t *by = json_null();
    if (res->statement_index >= 0)
        by = json_pack("{s:s, s:i, s:s}", "Policy",
                       res->source == POLICY_SOURCE_IDENTITY ? "identity" : "key", "Index",
                       res->statement_index, "Sid", res->sid);
    json_object_set_new(root, "DecidedBy", by);
    if (res->identity_policy_index >= 0)
        json_object_set_new(root, "IdentityStatement",
                            json_pack("{s:i, s:i}", "Policy", res->identity_policy_index, "Index",
                                      res->identity_statement_index));
    json_object_set_new(root, "Reason", json_string(res->reason));
    json_object_set_new(root, "Action", json_string(req->action));
    json_object_set_new(root, "Principal", json_string(req->principal_arn));
    for (size_t i = 0; i < e->n; i++)
        json_array_append_new(stmts, statement_json(e, &e->st[i]));
    json_object_set(root, "Statements", stmts);
    *json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!*json)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
out:
    json_decref(stmts);
    json_decref(root);
    policy_eval_free(e);
    return rc;
}

/* A key-less operation (resource "*") is refused as AWS words it: no
 * resource in the text, "no identity-based policy allows". */
void policy_denied_message(const struct policy_request *req, const struct policy_result *res,
                           char *buf, size_t cap)
{
    if (!cap)
        return;
    const char *res_arn = req->resource_arn ? req->resource_arn : "*";
    if (res->decision == POLICY_DENY_EXPLICIT)
        snprintf(buf, cap,
                 "User: %s is not authorized to perform: %s on resource: %s with an explicit "
                 "deny in %s",
                 req->principal_arn, req->action, res_arn,
                 res->source == POLICY_SOURCE_IDENTITY ? "an identity-based policy"
                                                       : "a resource-based policy");
    else if (req->resource_arn && strcmp(req->resource_arn, "*") != 0)
        snprintf(buf, cap,
                 "User: %s is not authorized to perform: %s on resource: %s because no "
                 "resource-based policy allows the %s action",
                 req->principal_arn, req->action, res_arn, req->action);
    else
        snprintf(buf, cap,
                 "User: %s is not authorized to perform: %s because no identity-based policy "
                 "allows the %s action",
                 req->principal_arn, req->action, req->action);
}
