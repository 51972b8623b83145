/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing and validating policy documents (policy_parse()): IAM's policy
 * grammar as AWS KMS accepts it, every refusal with the message listed in
 * docs/kms-policy.md, "Validation".
 */
#include "policy/model.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "policy/match.h"

/* The condition operators, as written without prefix and IfExists. */
static const struct {
    const char *name;
    enum cond_base op;
    bool negated;
} OPS[] = {
    { "StringEquals", OP_STRING_EQUALS, false },
    { "StringNotEquals", OP_STRING_NOT_EQUALS, true },
    { "StringEqualsIgnoreCase", OP_STRING_EQUALS_IC, false },
    { "StringNotEqualsIgnoreCase", OP_STRING_NOT_EQUALS_IC, true },
    { "StringLike", OP_STRING_LIKE, false },
    { "StringNotLike", OP_STRING_NOT_LIKE, true },
    { "NumericEquals", OP_NUMERIC_EQUALS, false },
    { "NumericNotEquals", OP_NUMERIC_NOT_EQUALS, true },
    { "NumericLessThan", OP_NUMERIC_LT, false },
    { "NumericLessThanEquals", OP_NUMERIC_LE, false },
    { "NumericGreaterThan", OP_NUMERIC_GT, false },
    { "NumericGreaterThanEquals", OP_NUMERIC_GE, false },
    { "DateEquals", OP_DATE_EQUALS, false },
    { "DateNotEquals", OP_DATE_NOT_EQUALS, true },
    { "DateLessThan", OP_DATE_LT, false },
    { "DateLessThanEquals", OP_DATE_LE, false },
    { "DateGreaterThan", OP_DATE_GT, false },
    { "DateGreaterThanEquals", OP_DATE_GE, false },
    { "Bool", OP_BOOL, false },
    { "BinaryEquals", OP_BINARY_EQUALS, false },
    { "IpAddress", OP_IP_ADDRESS, false },
    { "NotIpAddress", OP_NOT_IP_ADDRESS, true },
    { "ArnEquals", OP_ARN_EQUALS, false },
    { "ArnLike", OP_ARN_LIKE, false },
    { "ArnNotEquals", OP_ARN_NOT_EQUALS, true },
    { "ArnNotLike", OP_ARN_NOT_LIKE, true },
    { "Null", OP_NULL, false },
};

/* Messages (docs/kms-policy.md, "Validation", lists them all; the
 * invalid-principal one is AWS KMS's own text). */
#define MSG_BAD_PRINCIPALS     "Policy contains a statement with one or more invalid principals."
#define MSG_NO_PRINCIPAL       "Policy contains a statement with no principal."
#define MSG_IDENTITY_PRINCIPAL "Policy document should not specify a principal."

/* A JSON value that is a string or a non-empty array of strings -> strv. */
static int strv_from_json(json_t *v, const char *what, char ***out, size_t *n, struct cl_error *err)
{
    *out = NULL;
    *n = 0;
    if (json_is_string(v)) {
        *out = calloc(1, sizeof(char *));
        if (!*out || !(**out = strdup(json_string_value(v)))) {
            free(*out);
            *out = NULL;
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
        *n = 1;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cl_fail(
            err, CL_EFORMAT,
            "Policy contains a statement whose %s is not a string or a non-empty list of strings.",
            what);
    size_t cnt = json_array_size(v);
    char **arr = calloc(cnt, sizeof(char *));
    if (!arr)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            free_strv(arr, i);
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a statement whose %s is not a string or a non-empty "
                           "list of strings.",
                           what);
        }
        if (!(arr[i] = strdup(json_string_value(e)))) {
            free_strv(arr, i);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
    }
    *out = arr;
    *n = cnt;
    return 0;
}

static int strv_push(char ***v, size_t *n, const char *s, struct cl_error *err)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(char *));
    if (!nv)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return cl_fail(err, CL_ENOMEM, "out of memory");
    (*n)++;
    return 0;
}

/* An AWS principal as KMS accepts it: an ARN, an account id or "*"; IAM
 * groups are not principals, ARNs carry no wildcards (docs/kms-policy.md,
 * "Evaluation", after IAM's Principal element page). */
static bool aws_principal_valid(const char *s, const struct policy_parse_opts *o)
{
    if (strcmp(s, "*") == 0 || is_account_id(s))
        return true;
    struct arn a;
    if (!arn_split(s, &a) || a.region[0] || !is_account_id(a.account) || strpbrk(s, "*?"))
        return false;
    bool exists_check = false;
    if (strcmp(a.service, "iam") == 0) {
        if (strcmp(a.resource, "root") == 0)
            return true;
        if (strncmp(a.resource, "user/", 5) == 0 || strncmp(a.resource, "role/", 5) == 0) {
            const char *name = strrchr(a.resource, '/') + 1;
            if (!*name)
                return false;
            exists_check = true;
        } else {
            return false; /* group/, policy/, ... are not principals */
        }
    } else if (strcmp(a.service, "sts") == 0) {
        /* arn:aws:sts::A:assumed-role/ROLE/SESSION or federated-user/NAME */
        if (strncmp(a.resource, "assumed-role/", 13) == 0) {
            const char *r = a.resource + 13, *slash = strchr(r, '/');
            if (!slash || slash == r || !slash[1] || strchr(slash + 1, '/'))
                return false;
        } else if (strncmp(a.resource, "federated-user/", 15) != 0 || !a.resource[15]) {
            return false;
        }
    } else {
        return false;
    }
    if (exists_check && o && o->principal_exists)
        return o->principal_exists(o->principal_exists_arg, s);
    return true;
}

static int parse_principal(json_t *v, struct stmt *s, const struct policy_parse_opts *o,
                           struct cl_error *err)
{
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return cl_fail(err, CL_EFORMAT, MSG_BAD_PRINCIPALS);
        s->p_any = true;
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return cl_fail(err, CL_EFORMAT, MSG_BAD_PRINCIPALS);
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        char **list = NULL;
        size_t n = 0;
        int rc = strv_from_json(val, "Principal", &list, &n, err);
        if (rc == CL_EFORMAT) {
            cl_error_clear(err);
            return cl_fail(err, CL_EFORMAT, MSG_BAD_PRINCIPALS);
        }
        if (rc < 0)
            return rc;
        if (strcmp(k, "AWS") == 0) {
            for (size_t i = 0; i < n && rc == 0; i++) {
                if (!aws_principal_valid(list[i], o)) {
                    rc = cl_fail(err, CL_EFORMAT, MSG_BAD_PRINCIPALS);
                } else if (strcmp(list[i], "*") == 0) {
                    s->p_any = true;
                } else if (is_account_id(list[i])) {
                    char buf[64];
                    snprintf(buf, sizeof(buf), "arn:aws:iam::%s:root", list[i]);
                    rc = strv_push(&s->p_aws, &s->n_aws, buf, err);
                } else {
                    rc = strv_push(&s->p_aws, &s->n_aws, list[i], err);
                }
            }
        } else if (strcmp(k, "Service") == 0 || strcmp(k, "Federated") == 0 ||
                   strcmp(k, "CanonicalUser") == 0) {
            for (size_t i = 0; i < n && rc == 0; i++) {
                if (!list[i][0] || (strcmp(k, "Service") == 0 && !strchr(list[i], '.')))
                    rc = cl_fail(err, CL_EFORMAT, MSG_BAD_PRINCIPALS);
                else
                    rc = strv_push(&s->p_other, &s->n_other, list[i], err);
            }
        } else {
            rc = cl_fail(err, CL_EFORMAT, MSG_BAD_PRINCIPALS);
        }
        free_strv(list, n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_actions(json_t *v, struct stmt *s, const char *field, struct cl_error *err)
{
    int rc = strv_from_json(v, field, &s->actions, &s->n_actions, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s->n_actions; i++) {
        const char *a = s->actions[i];
        if (strcmp(a, "*") == 0)
            continue;
        const char *colon = strchr(a, ':');
        /* IAM: "<service>:<action>", exactly one colon, service non-empty. */
        if (!colon || colon == a || !colon[1] || strchr(colon + 1, ':'))
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a statement with an invalid action: %s", a);
        for (const char *c = a; *c; c++)
            if (!(isalnum((unsigned char)*c) || strchr(":*?-_", *c)))
                return cl_fail(err, CL_EFORMAT,
                               "Policy contains a statement with an invalid action: %s", a);
    }
    return 0;
}

static int parse_resources(json_t *v, struct stmt *s, const char *field, struct cl_error *err)
{
    int rc = strv_from_json(v, field, &s->resources, &s->n_resources, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s->n_resources; i++) {
        const char *r = s->resources[i];
        if (strcmp(r, "*") == 0)
            continue;
        if (strncmp(r, "arn:", 4) != 0)
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a statement with an invalid resource: %s", r);
    }
    return 0;
}

/* "ForAnyValue:StringEqualsIfExists" -> set, base, if_exists. */
static bool parse_operator(const char *name, struct cond *c)
{
    const char *p = name;
    c->set = SET_NONE;
    if (strncmp(p, "ForAnyValue:", 12) == 0) {
        c->set = SET_ANY;
        p += 12;
    } else if (strncmp(p, "ForAllValues:", 13) == 0) {
        c->set = SET_ALL;
        p += 13;
    }
    size_t len = strlen(p);
    c->if_exists = false;
    if (len > 8 && strcmp(p + len - 8, "IfExists") == 0) {
        c->if_exists = true;
        len -= 8;
    }
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++) {
        if (strlen(OPS[i].name) == len && strncmp(OPS[i].name, p, len) == 0) {
            /* Null has no IfExists form (IAM condition operators page). */
            if (OPS[i].op == OP_NULL && (c->if_exists || c->set != SET_NONE))
                return false;
            c->op = OPS[i].op;
            c->negated = OPS[i].negated;
            return true;
        }
    }
    return false;
}

static int cond_value_check(const struct cond *c, const char *v, struct cl_error *err)
{
    struct cidr ci;
    double d;
    switch (c->op) {
    case OP_NUMERIC_EQUALS:
    case OP_NUMERIC_NOT_EQUALS:
    case OP_NUMERIC_LT:
    case OP_NUMERIC_LE:
    case OP_NUMERIC_GT:
    case OP_NUMERIC_GE:
        if (!parse_number(v, &d))
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid value for %s: %s",
                           c->op_name, v);
        break;
    case OP_DATE_EQUALS:
    case OP_DATE_NOT_EQUALS:
    case OP_DATE_LT:
    case OP_DATE_LE:
    case OP_DATE_GT:
    case OP_DATE_GE:
        if (!parse_date(v, &d))
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid value for %s: %s",
                           c->op_name, v);
        break;
    case OP_IP_ADDRESS:
    case OP_NOT_IP_ADDRESS:
        if (!parse_cidr(v, &ci, true))
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid value for %s: %s",
                           c->op_name, v);
        break;
    case OP_BOOL:
    case OP_NULL:
        if (strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0)
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid value for %s: %s",
                           c->op_name, v);
        break;
    default:
        break;
    }
    return 0;
}

/* A condition value: string, number or boolean, or a non-empty list of them. */
static int cond_values(json_t *v, struct cond *c, struct cl_error *err)
{
    json_t *one = v;
    size_t cnt = 1;
    if (json_is_array(v)) {
        cnt = json_array_size(v);
        if (cnt == 0)
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an empty list of values for %s.",
                           c->key);
    }
    c->values = calloc(cnt, sizeof(char *));
    if (!c->values)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : one;
        char buf[64];
        const char *s;
        if (json_is_string(e))
            s = json_string_value(e);
        else if (json_is_true(e))
            s = "true";
        else if (json_is_false(e))
            s = "false";
        else if (json_is_integer(e)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(e));
            s = buf;
        } else if (json_is_real(e)) {
            snprintf(buf, sizeof(buf), "%.17g", json_real_value(e));
            s = buf;
        } else
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid value for %s.", c->key);
        if (!(c->values[i] = strdup(s)))
            return cl_fail(err, CL_ENOMEM, "out of memory");
        c->n = i + 1;
        int rc = cond_value_check(c, s, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool key_is_single_valued_ec(const char *key)
{
    return strncasecmp(key, "kms:EncryptionContext:", 22) == 0;
}

static int parse_condition(json_t *v, struct stmt *s, bool deny, struct cl_error *err)
{
    if (!json_is_object(v))
        return cl_fail(err, CL_EFORMAT,
                       "Policy contains a statement whose Condition is not an object.");
    const char *opname;
    json_t *block;
    json_object_foreach(v, opname, block)
    {
        struct cond proto = { 0 };
        if (!parse_operator(opname, &proto))
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid operator: %s", opname);
        if (!json_is_object(block) || json_object_size(block) == 0)
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition operator %s without condition keys.",
                           opname);
        const char *key;
        json_t *vals;
        json_object_foreach(block, key, vals)
        {
            if (!key[0] || !strchr(key, ':') || key[0] == ':')
                return cl_fail(err, CL_EFORMAT,
                               "Policy contains a condition with an invalid key: %s", key);
            /* KMS refuses ForAllValues with the single-valued
             * kms:EncryptionContext:<key> in an Allow: it is overly
             * permissive (docs/kms-policy.md, "Validation"). */
            if (proto.set == SET_ALL && !deny && key_is_single_valued_ec(key))
                return cl_fail(err, CL_EFORMAT,
                               "Policy contains an overly permissive condition: ForAllValues with "
                               "the single-valued key %s.",
                               key);
            struct cond *nc = realloc(s->conds, (s->n_conds + 1) * sizeof(*nc));
            if (!nc)
                return cl_fail(err, CL_ENOMEM, "out of memory");
            s->conds = nc;
            struct cond *c = &s->conds[s->n_conds++];
            *c = proto;
            c->op_name = strdup(opname);
            c->key = strdup(key);
            if (!c->op_name || !c->key)
                return cl_fail(err, CL_ENOMEM, "out of memory");
            int rc = cond_values(vals, c, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int parse_statement(json_t *j, size_t idx, struct policy *p,
                           const struct policy_parse_opts *o, struct cl_error *err)
{
    struct stmt *s = &p->st[idx];
    if (!json_is_object(j))
        return cl_fail(err, CL_EFORMAT, "Policy contains a statement that is not an object.");
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "Sid") && strcmp(k, "Effect") && strcmp(k, "Principal") &&
            strcmp(k, "NotPrincipal") && strcmp(k, "Action") && strcmp(k, "NotAction") &&
            strcmp(k, "Resource") && strcmp(k, "NotResource") && strcmp(k, "Condition"))
            return cl_fail(err, CL_EFORMAT, "Policy contains a statement with an unknown field: %s",
                           k);
    }
    json_t *sid = json_object_get(j, "Sid");
    if (sid) {
        if (!json_is_string(sid))
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a statement whose Sid is not a string.");
        if (!(s->sid = strdup(json_string_value(sid))))
            return cl_fail(err, CL_ENOMEM, "out of memory");
        for (size_t i = 0; i < idx; i++)
            if (p->st[i].sid && strcmp(p->st[i].sid, s->sid) == 0)
                return cl_fail(err, CL_EFORMAT, "Policy contains statements with the same Sid: %s",
                               s->sid);
    }
    json_t *eff = json_object_get(j, "Effect");
    if (!eff)
        return cl_fail(err, CL_EFORMAT, "Policy contains a statement with no Effect.");
    if (json_is_string(eff) && strcmp(json_string_value(eff), "Allow") == 0)
        s->deny = false;
    else if (json_is_string(eff) && strcmp(json_string_value(eff), "Deny") == 0)
        s->deny = true;
    else
        return cl_fail(err, CL_EFORMAT,
                       "Policy contains a statement with an invalid Effect (Allow or Deny).");

    json_t *pr = json_object_get(j, "Principal"), *npr = json_object_get(j, "NotPrincipal");
    if (pr && npr)
        return cl_fail(err, CL_EFORMAT,
                       "Policy contains a statement with both Principal and NotPrincipal.");
    if (!p->key_policy && (pr || npr))
        return cl_fail(err, CL_EFORMAT, MSG_IDENTITY_PRINCIPAL);
    if (p->key_policy && !pr && !npr)
        return cl_fail(err, CL_EFORMAT, MSG_NO_PRINCIPAL);
    if (pr || npr) {
        s->pmode = pr ? PRIN_PRINCIPAL : PRIN_NOT_PRINCIPAL;
        int rc = parse_principal(pr ? pr : npr, s, o, err);
        if (rc < 0)
            return rc;
    }

    json_t *ac = json_object_get(j, "Action"), *nac = json_object_get(j, "NotAction");
    if (ac && nac)
        return cl_fail(err, CL_EFORMAT,
                       "Policy contains a statement with both Action and NotAction.");
    /* A statement without Action has no effect, yet KMS stores it
     * (docs/kms-policy.md, "Evaluation"). */
    if (ac || nac) {
        s->has_action = true;
        s->not_action = nac != NULL;
        int rc = parse_actions(ac ? ac : nac, s, ac ? "Action" : "NotAction", err);
        if (rc < 0)
            return rc;
    }
    json_t *rs = json_object_get(j, "Resource"), *nrs = json_object_get(j, "NotResource");
    if (rs && nrs)
        return cl_fail(err, CL_EFORMAT,
                       "Policy contains a statement with both Resource and NotResource.");
    if (rs || nrs) {
        s->has_resource = true;
        s->not_resource = nrs != NULL;
        int rc = parse_resources(rs ? rs : nrs, s, rs ? "Resource" : "NotResource", err);
        if (rc < 0)
            return rc;
    }
    json_t *cd = json_object_get(j, "Condition");
    if (cd) {
        int rc = parse_condition(cd, s, s->deny, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The model pattern [\u0009\u000A\u000D\u0020-\u00FF]+ on code points of
 * the (UTF-8) text. */
static bool chars_ok(const unsigned char *t, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        unsigned char c = t[i];
        if (c < 0x80) {
            cp = c;
            i++;
        } else if ((c & 0xe0) == 0xc0 && i + 1 < len && (t[i + 1] & 0xc0) == 0x80) {
            cp = ((uint32_t)(c & 0x1f) << 6) | (t[i + 1] & 0x3f);
            i += 2;
        } else {
            return false; /* 3- and 4-byte sequences are all > 0xFF */
        }
        if (!(cp == 0x09 || cp == 0x0a || cp == 0x0d || (cp >= 0x20 && cp <= 0xff)))
            return false;
    }
    return len > 0;
}

int policy_parse(const char *text, size_t len, const struct policy_parse_opts *o,
                 struct policy **out, struct cl_error *err)
{
    struct policy_parse_opts defaults = { .key_policy = true };
    if (!o)
        o = &defaults;
    *out = NULL;
    if (!text || len == 0)
        return cl_fail(err, CL_EINVAL,
                       "1 validation error detected: Value at 'policy' failed to satisfy "
                       "constraint: Member must have length greater than or equal to 1");
    if (len > POLICY_MAX_BYTES)
        return cl_fail(err, CL_ELIMIT, "The key policy is %zu bytes; the limit is %d bytes.", len,
                       POLICY_MAX_BYTES);
    if (!chars_ok((const unsigned char *)text, len))
        return cl_fail(
            err, CL_EINVAL,
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member "
            "must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+");

    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cl_fail(err, CL_EFORMAT, "The key policy is not valid JSON (line %d, column %d).",
                       jerr.line, jerr.column);
    int rc = 0;
    struct policy *p = calloc(1, sizeof(*p));
    if (!p) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    p->key_policy = o->key_policy;
    if (!json_is_object(root)) {
        rc = cl_fail(err, CL_EFORMAT, "The key policy must be a JSON object.");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "Version") && strcmp(k, "Id") && strcmp(k, "Statement")) {
            rc = cl_fail(err, CL_EFORMAT, "Policy contains an unknown top-level field: %s", k);
            goto out;
        }
    }
    json_t *ver = json_object_get(root, "Version");
    if (!ver) {
        rc = cl_fail(err, CL_EFORMAT, "Policy is missing the Version field.");
        goto out;
    }
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2012-10-17") != 0) {
        rc = cl_fail(err, CL_EFORMAT, "Policy has an unsupported Version (only 2012-10-17).");
        goto out;
    }
    json_t *id = json_object_get(root, "Id");
    if (id) {
        if (!json_is_string(id)) {
            rc = cl_fail(err, CL_EFORMAT, "Policy Id must be a string.");
            goto out;
        }
        if (!(p->id = strdup(json_string_value(id)))) {
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            goto out;
        }
    }
    json_t *st = json_object_get(root, "Statement");
    if (!st) {
        rc = cl_fail(err, CL_EFORMAT, "Policy is missing the Statement field.");
        goto out;
    }
    size_t n = json_is_array(st) ? json_array_size(st) : 1;
    if (json_is_array(st) && n == 0) {
        rc = cl_fail(err, CL_EFORMAT, "Policy contains no statement.");
        goto out;
    }
    if (!json_is_array(st) && !json_is_object(st)) {
        rc = cl_fail(err, CL_EFORMAT, "Policy contains a statement that is not an object.");
        goto out;
    }
    p->st = calloc(n, sizeof(*p->st));
    if (!p->st) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        p->n = i + 1;
        rc = parse_statement(json_is_array(st) ? json_array_get(st, i) : st, i, p, o, err);
        if (rc < 0)
            goto out;
    }
    *out = p;
    p = NULL;
out:
    policy_free(p);
    json_decref(root);
    return rc;
}
