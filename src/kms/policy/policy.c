/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key policies as AWS KMS evaluates them (research/kms.md §2; IAM's policy
 * grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html).
 * The semantics implemented, and every validation message, are written down
 * in docs/kms-policy.md.
 */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                            */

/* Appends to a bounded buffer; silently truncates (the reason is a summary). */
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

/*
 * IAM wildcard match: '*' any run (possibly empty), '?' one character
 * (reference_policies_elements_action.html, ..._condition_operators.html
 * StringLike). Iterative with one backtrack point, so linear-ish and never
 * recursive on hostile input.
 */
static bool glob_match(const char *pat, const char *str, bool nocase)
{
    const char *star = NULL, *resume = NULL;
    while (*str) {
        char p = *pat, s = *str;
        if (nocase) {
            p = (char)tolower((unsigned char)p);
            s = (char)tolower((unsigned char)s);
        }
        if (*pat == '*') {
            star = pat++;
            resume = str;
        } else if (*pat && (*pat == '?' || p == s)) {
            pat++;
            str++;
        } else if (star) {
            pat = star + 1;
            str = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static bool is_account_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isdigit((unsigned char)s[n]))
            return false;
    return n == 12;
}

/* ------------------------------------------------------------------------ */
/* Parsed policy.                                                            */

enum cond_base {
    OP_STRING_EQUALS,
    OP_STRING_NOT_EQUALS,
    OP_STRING_EQUALS_IC,
    OP_STRING_NOT_EQUALS_IC,
    OP_STRING_LIKE,
    OP_STRING_NOT_LIKE,
    OP_NUMERIC_EQUALS,
    OP_NUMERIC_NOT_EQUALS,
    OP_NUMERIC_LT,
    OP_NUMERIC_LE,
    OP_NUMERIC_GT,
    OP_NUMERIC_GE,
    OP_DATE_EQUALS,
    OP_DATE_NOT_EQUALS,
    OP_DATE_LT,
    OP_DATE_LE,
    OP_DATE_GT,
    OP_DATE_GE,
    OP_BOOL,
    OP_BINARY_EQUALS,
    OP_IP_ADDRESS,
    OP_NOT_IP_ADDRESS,
    OP_ARN_EQUALS,
    OP_ARN_LIKE,
    OP_ARN_NOT_EQUALS,
    OP_ARN_NOT_LIKE,
    OP_NULL,
};

static const struct {
    const char *name;
    enum cond_base op;
    bool negated;
} OPS[] = {
    {"StringEquals", OP_STRING_EQUALS, false},
    {"StringNotEquals", OP_STRING_NOT_EQUALS, true},
    {"StringEqualsIgnoreCase", OP_STRING_EQUALS_IC, false},
    {"StringNotEqualsIgnoreCase", OP_STRING_NOT_EQUALS_IC, true},
    {"StringLike", OP_STRING_LIKE, false},
    {"StringNotLike", OP_STRING_NOT_LIKE, true},
    {"NumericEquals", OP_NUMERIC_EQUALS, false},
    {"NumericNotEquals", OP_NUMERIC_NOT_EQUALS, true},
    {"NumericLessThan", OP_NUMERIC_LT, false},
    {"NumericLessThanEquals", OP_NUMERIC_LE, false},
    {"NumericGreaterThan", OP_NUMERIC_GT, false},
    {"NumericGreaterThanEquals", OP_NUMERIC_GE, false},
    {"DateEquals", OP_DATE_EQUALS, false},
    {"DateNotEquals", OP_DATE_NOT_EQUALS, true},
    {"DateLessThan", OP_DATE_LT, false},
    {"DateLessThanEquals", OP_DATE_LE, false},
    {"DateGreaterThan", OP_DATE_GT, false},
    {"DateGreaterThanEquals", OP_DATE_GE, false},
    {"Bool", OP_BOOL, false},
    {"BinaryEquals", OP_BINARY_EQUALS, false},
    {"IpAddress", OP_IP_ADDRESS, false},
    {"NotIpAddress", OP_NOT_IP_ADDRESS, true},
    {"ArnEquals", OP_ARN_EQUALS, false},
    {"ArnLike", OP_ARN_LIKE, false},
    {"ArnNotEquals", OP_ARN_NOT_EQUALS, true},
    {"ArnNotLike", OP_ARN_NOT_LIKE, true},
    {"Null", OP_NULL, false},
};

enum set_op { SET_NONE, SET_ANY, SET_ALL };

struct cond {
    char *op_name; /* as written */
    enum cond_base op;
    bool negated;
    enum set_op set;
    bool if_exists;
    char *key;
    char **values;
    size_t n;
};

enum principal_mode { PRIN_NONE, PRIN_PRINCIPAL, PRIN_NOT_PRINCIPAL };

struct stmt {
    char *sid;
    bool deny;
    enum principal_mode pmode;
    bool p_any;      /* "*" or {"AWS": "*"} */
    char **p_aws;    /* AWS principals, account ids normalised to ...:root */
    size_t n_aws;
    char **p_other;  /* Service / Federated / CanonicalUser principals */
    size_t n_other;
    bool has_action, not_action;
    char **actions;
    size_t n_actions;
    bool has_resource, not_resource;
    char **resources;
    size_t n_resources;
    struct cond *conds;
    size_t n_conds;
};

struct policy {
    bool key_policy;
    char *id;
    struct stmt *st;
    size_t n;
};

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void stmt_clear(struct stmt *s)
{
    free(s->sid);
    free_strv(s->p_aws, s->n_aws);
    free_strv(s->p_other, s->n_other);
    free_strv(s->actions, s->n_actions);
    free_strv(s->resources, s->n_resources);
    for (size_t i = 0; i < s->n_conds; i++) {
        free(s->conds[i].op_name);
        free(s->conds[i].key);
        free_strv(s->conds[i].values, s->conds[i].n);
    }
    free(s->conds);
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        stmt_clear(&p->st[i]);
    free(p->st);
    free(p->id);
    free(p);
}

size_t policy_statement_count(const struct policy *p)
{
    return p ? p->n : 0;
}

const char *policy_statement_sid(const struct policy *p, size_t i)
{
    return (p && i < p->n) ? p->st[i].sid : NULL;
}

const char *policy_error_type(int code)
{
    switch (code) {
    case CL_ELIMIT:
        return "LimitExceededException";
    case CL_EINVAL:
        return "ValidationException";
    case CL_ENOMEM:
        return "KMSInternalException";
    default:
        return "MalformedPolicyDocumentException";
    }
}

/* ------------------------------------------------------------------------ */
/* Parsing and validation.                                                   */

/* Messages (docs/kms-policy.md lists them; the first two are AWS KMS's own
 * texts as seen in the wild, research §2.4). */
#define MSG_LOCKOUT "The new key policy will not allow you to update the key policy in the future."
#define MSG_BAD_PRINCIPALS "Policy contains a statement with one or more invalid principals."
#define MSG_NO_PRINCIPAL "Policy contains a statement with no principal."
#define MSG_IDENTITY_PRINCIPAL "Policy document should not specify a principal."

/* A JSON value that is a string or a non-empty array of strings -> strv. */
static int strv_from_json(json_t *v, const char *what, char ***out, size_t *n,
                          struct cl_error *err)
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
        return cl_fail(err, CL_EFORMAT,
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
                           "Policy contains a statement whose %s is not a string or a non-empty list of strings.",
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

/* arn:<partition>:<service>:<region>:<account>:<resource> split in place. */
struct arn {
    char buf[512];
    const char *partition, *service, *region, *account, *resource;
};

static bool arn_split(const char *s, struct arn *a)
{
    if (strlen(s) >= sizeof(a->buf) || strncmp(s, "arn:", 4) != 0)
        return false;
    strcpy(a->buf, s);
    char *f[6];
    char *p = a->buf;
    for (int i = 0; i < 5; i++) {
        f[i] = p;
        p = strchr(p, ':');
        if (!p)
            return false;
        *p++ = '\0';
    }
    f[5] = p;
    a->partition = f[1];
    a->service = f[2];
    a->region = f[3];
    a->account = f[4];
    a->resource = f[5];
    return strncmp(a->partition, "aws", 3) == 0;
}

/* An AWS principal as KMS accepts it (research §2.3: ARN, account id, "*";
 * IAM groups are not principals; no wildcards inside ARNs). */
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
            return cl_fail(err, CL_EFORMAT, "Policy contains a statement with an invalid action: %s",
                           a);
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

static bool parse_number(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end || errno || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* An IP address or CIDR block: family, 16 address bytes, prefix length. */
struct cidr {
    int family;
    uint8_t addr[16];
    int prefix;
};

static bool parse_cidr(const char *s, struct cidr *c, bool allow_prefix)
{
    char buf[64];
    if (strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    int prefix = -1;
    if (slash) {
        if (!allow_prefix || !slash[1] || strlen(slash + 1) > 3)
            return false;
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end || !isdigit((unsigned char)slash[1]))
            return false;
        prefix = (int)v;
    }
    memset(c->addr, 0, sizeof(c->addr));
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        if (prefix > 32)
            return false;
        c->prefix = prefix < 0 ? 32 : prefix;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        if (prefix > 128)
            return false;
        c->prefix = prefix < 0 ? 128 : prefix;
    } else {
        return false;
    }
    return true;
}

/* ISO 8601 (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, with optional fraction) or
 * epoch seconds, as the Date operators accept. */
static bool parse_date(const char *s, double *out)
{
    double d;
    if (parse_number(s, &d)) {
        *out = d;
        return true;
    }
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) {
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, "%Y-%m-%d", &tm);
        if (!end || *end)
            return false;
    } else {
        if (*end == '.') {
            end++;
            while (isdigit((unsigned char)*end))
                end++;
        }
        if (*end == 'Z')
            end++;
        if (*end)
            return false;
    }
    *out = (double)timegm(&tm);
    return true;
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
                           "Policy contains a condition with an invalid value for %s: %s", c->op_name,
                           v);
        break;
    case OP_DATE_EQUALS:
    case OP_DATE_NOT_EQUALS:
    case OP_DATE_LT:
    case OP_DATE_LE:
    case OP_DATE_GT:
    case OP_DATE_GE:
        if (!parse_date(v, &d))
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid value for %s: %s", c->op_name,
                           v);
        break;
    case OP_IP_ADDRESS:
    case OP_NOT_IP_ADDRESS:
        if (!parse_cidr(v, &ci, true))
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid value for %s: %s", c->op_name,
                           v);
        break;
    case OP_BOOL:
    case OP_NULL:
        if (strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0)
            return cl_fail(err, CL_EFORMAT,
                           "Policy contains a condition with an invalid value for %s: %s", c->op_name,
                           v);
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
        return cl_fail(err, CL_EFORMAT, "Policy contains a statement whose Condition is not an object.");
    const char *opname;
    json_t *block;
    json_object_foreach(v, opname, block)
    {
        struct cond proto = {0};
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
             * permissive (research §2.3, conditions-kms "OverlyPermissiveCondition"). */
            if (proto.set == SET_ALL && !deny && key_is_single_valued_ec(key))
                return cl_fail(err, CL_EFORMAT,
                               "Policy contains an overly permissive condition: ForAllValues with the single-valued key %s.",
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
            return cl_fail(err, CL_EFORMAT, "Policy contains a statement whose Sid is not a string.");
        if (!(s->sid = strdup(json_string_value(sid))))
            return cl_fail(err, CL_ENOMEM, "out of memory");
        for (size_t i = 0; i < idx; i++)
            if (p->st[i].sid && strcmp(p->st[i].sid, s->sid) == 0)
                return cl_fail(err, CL_EFORMAT,
                               "Policy contains statements with the same Sid: %s", s->sid);
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
        return cl_fail(err, CL_EFORMAT, "Policy contains a statement with both Action and NotAction.");
    /* A statement without Action has no effect, yet KMS stores it (botocore
     * CreateKeyRequest.Policy doc, research §2.3). */
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
    struct policy_parse_opts defaults = {.key_policy = true};
    if (!o)
        o = &defaults;
    *out = NULL;
    if (!text || len == 0)
        return cl_fail(err, CL_EINVAL,
                       "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length greater than or equal to 1");
    if (len > POLICY_MAX_BYTES)
        return cl_fail(err, CL_ELIMIT,
                       "The key policy is %zu bytes; the limit is %d bytes.", len, POLICY_MAX_BYTES);
    if (!chars_ok((const unsigned char *)text, len))
        return cl_fail(err, CL_EINVAL,
                       "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+");

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

/* The default key policy (research §2.4), printed as KMS prints policies. */
char *policy_default_text(const char *partition, const char *account)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\n"
                 "  \"Version\" : \"2012-10-17\",\n"
                 "  \"Id\" : \"key-default-1\",\n"
                 "  \"Statement\" : [ {\n"
                 "    \"Sid\" : \"Enable IAM User Permissions\",\n"
                 "    \"Effect\" : \"Allow\",\n"
                 "    \"Principal\" : {\n"
                 "      \"AWS\" : \"arn:%s:iam::%s:root\"\n"
                 "    },\n"
                 "    \"Action\" : \"kms:*\",\n"
                 "    \"Resource\" : \"*\"\n"
                 "  } ]\n"
                 "}",
                 partition ? partition : "aws", account ? account : "") < 0)
        return NULL;
    return s;
}

/* ------------------------------------------------------------------------ */
/* Evaluation.                                                               */

/* Keys whose request values may be echoed in explanations: measurements and
 * identities, never encryption-context values (they may carry data). */
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

struct eval {
    const struct policy_request *req;
    /* derived keys when the context lacks them */
    const char *principal_arn[1];
    const char *account[1];
};

static const char *const *lookup(const struct eval *e, const char *key, size_t *n)
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

static bool cidr_contains(const struct cidr *net, const struct cidr *ip)
{
    if (net->family != ip->family)
        return false;
    int bits = net->prefix;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((net->addr[i] & mask) != (ip->addr[i] & mask))
            return false;
    }
    return true;
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

/* Evaluates one condition (one operator, one key). why: a short reason. */
static bool eval_cond(const struct eval *e, const struct cond *c, char *why, size_t cap)
{
    size_t n;
    const char *const *vals = lookup(e, c->key, &n);
    why[0] = '\0';
    if (c->op == OP_NULL) {
        /* Null: "true" means the key must be absent, "false" present. */
        bool absent = vals == NULL;
        bool ok = false;
        for (size_t i = 0; i < c->n && !ok; i++)
            ok = (strcasecmp(c->values[i], "true") == 0) == absent;
        snprintf(why, cap, "key %s", absent ? "absent" : "present");
        return ok;
    }
    if (!vals) {
        /* IAM: a missing key makes the condition false, except negated
         * operators (true), ...IfExists (true), ForAllValues (true, empty
         * set) and ForAnyValue (false) (research §2.2). */
        bool r;
        if (c->if_exists)
            r = true;
        else if (c->set == SET_ALL)
            r = true;
        else if (c->set == SET_ANY)
            r = false;
        else
            r = c->negated;
        snprintf(why, cap, "key absent from the request%s",
                 c->if_exists ? " (IfExists: true)"
                 : c->set == SET_ALL ? " (ForAllValues of an empty set: true)"
                 : c->set == SET_ANY ? " (ForAnyValue of an empty set: false)"
                 : c->negated ? " (negated operator: true)"
                              : "");
        return r;
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
    if (key_echoable(c->key)) {
        snprintf(why, cap, "request value%s ", n > 1 ? "s" : "");
        for (size_t i = 0; i < n && i < 8; i++)
            bprintf(why, cap, "%s\"%s\"", i ? ", " : "", vals[i]);
        if (n > 8)
            bprintf(why, cap, ", ...");
        bprintf(why, cap, "; policy value%s ", c->n > 1 ? "s" : "");
    } else {
        snprintf(why, cap, "request value%s not shown; policy value%s ", n > 1 ? "s" : "",
                 c->n > 1 ? "s" : "");
    }
    for (size_t i = 0; i < c->n && i < 8; i++)
        bprintf(why, cap, "%s\"%s\"", i ? ", " : "", c->values[i]);
    if (c->n > 8)
        bprintf(why, cap, ", ...");
    return r;
}

enum pmatch {
    PM_NONE = 0,    /* does not name the caller */
    PM_DIRECT = 1,  /* names the caller (ARN, role of its session, "*", NotPrincipal) */
    PM_ACCOUNT = 2, /* names the caller's account: delegation to IAM */
};

/* Role ARN arn:aws:iam::A:role/path/R vs session arn:aws:sts::A:assumed-role/R/S. */
static bool role_matches_session(const char *role_arn, const char *caller)
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

static enum pmatch principal_entry_match(const char *entry, const struct policy_request *req,
                                         const char **how)
{
    if (strcmp(entry, req->principal_arn) == 0) {
        /* arn:...:root naming the root user itself is a direct match */
        *how = "is the caller";
        return PM_DIRECT;
    }
    if (role_matches_session(entry, req->principal_arn)) {
        *how = "is the role of the caller's session";
        return PM_DIRECT;
    }
    struct arn a;
    if (arn_split(entry, &a) && strcmp(a.service, "iam") == 0 && strcmp(a.resource, "root") == 0 &&
        strcmp(a.account, req->account) == 0) {
        *how = "is the caller's account (delegation to IAM policies)";
        return req->is_account_root ? PM_DIRECT : PM_ACCOUNT;
    }
    return PM_NONE;
}

/* Principal of a key-policy statement against the caller. */
static enum pmatch stmt_principal(const struct stmt *s, const struct policy_request *req,
                                  char *why, size_t cap)
{
    enum pmatch best = PM_NONE;
    const char *how = NULL, *which = NULL;
    if (s->p_any) {
        best = PM_DIRECT;
        how = "is \"*\" (anyone)";
        which = "*";
    }
    for (size_t i = 0; i < s->n_aws && best != PM_DIRECT; i++) {
        const char *h;
        enum pmatch m = principal_entry_match(s->p_aws[i], req, &h);
        if (m > best || (m == PM_DIRECT)) {
            best = m;
            how = h;
            which = s->p_aws[i];
        }
    }
    if (s->pmode == PRIN_NOT_PRINCIPAL) {
        if (best != PM_NONE) {
            snprintf(why, cap, "NotPrincipal %s %s", which, how);
            return PM_NONE;
        }
        snprintf(why, cap, "caller is not in NotPrincipal");
        return PM_DIRECT;
    }
    if (best == PM_NONE)
        snprintf(why, cap, "Principal does not name %s", req->principal_arn);
    else
        snprintf(why, cap, "Principal %s %s", which, how);
    return best;
}

static bool stmt_action(const struct stmt *s, const char *action, char *why, size_t cap)
{
    if (!s->has_action) {
        snprintf(why, cap, "statement has no Action");
        return false;
    }
    const char *hit = NULL;
    for (size_t i = 0; i < s->n_actions && !hit; i++)
        if (glob_match(s->actions[i], action, true))
            hit = s->actions[i];
    bool r = s->not_action ? !hit : hit != NULL;
    if (s->not_action)
        snprintf(why, cap, hit ? "%s is excluded by NotAction \"%s\"" : "%s is not in NotAction",
                 action, hit ? hit : "");
    else
        snprintf(why, cap, hit ? "%s matches Action \"%s\"" : "Action does not cover %s",
                 action, hit ? hit : "");
    return r;
}

static bool stmt_resource(const struct stmt *s, const struct policy_request *req, bool key_policy,
                          char *why, size_t cap)
{
    if (!s->has_resource) {
        snprintf(why, cap, "statement has no Resource");
        return false;
    }
    const char *res = req->resource_arn ? req->resource_arn : "*";
    const char *hit = NULL;
    for (size_t i = 0; i < s->n_resources && !hit; i++) {
        /* In a key policy "*" means "this key" (research §2.3). */
        if (strcmp(s->resources[i], "*") == 0 ||
            (key_policy && !req->resource_arn) || glob_match(s->resources[i], res, false))
            hit = s->resources[i];
    }
    bool r = s->not_resource ? !hit : hit != NULL;
    if (s->not_resource)
        snprintf(why, cap, hit ? "resource excluded by NotResource \"%s\"" : "resource not in NotResource",
                 hit ? hit : "");
    else
        snprintf(why, cap, hit ? "resource matches \"%s\"" : "Resource does not cover %s",
                 hit ? hit : res);
    return r;
}

/* Trace of one statement for explanations. */
struct strace {
    enum pmatch pm; /* PM_DIRECT for identity statements */
    bool principal, action, resource, conds, applies;
    char pwhy[256], awhy[256], rwhy[512];
    int failed_cond; /* first false condition, -1 none */
    char cwhy[768];  /* why of the first false condition, or summary of true ones */
    json_t *jconds;  /* may be NULL */
};

static void eval_stmt(const struct eval *e, const struct stmt *s, bool key_policy,
                      struct strace *t, bool want_json)
{
    memset(t, 0, sizeof(*t));
    t->failed_cond = -1;
    if (key_policy) {
        t->pm = stmt_principal(s, e->req, t->pwhy, sizeof(t->pwhy));
        t->principal = t->pm != PM_NONE;
    } else {
        t->pm = PM_DIRECT;
        t->principal = true;
        snprintf(t->pwhy, sizeof(t->pwhy), "identity policy of the caller");
    }
    t->action = stmt_action(s, e->req->action, t->awhy, sizeof(t->awhy));
    t->resource = stmt_resource(s, e->req, key_policy, t->rwhy, sizeof(t->rwhy));
    t->conds = true;
    if (want_json)
        t->jconds = json_array();
    for (size_t i = 0; i < s->n_conds; i++) {
        char why[640];
        bool r = eval_cond(e, &s->conds[i], why, sizeof(why));
        if (t->jconds)
            json_array_append_new(t->jconds,
                                  json_pack("{s:s, s:s, s:b, s:s}", "Operator",
                                            s->conds[i].op_name, "Key", s->conds[i].key,
                                            "Result", r, "Why", why));
        if (!r && t->conds) {
            t->conds = false;
            t->failed_cond = (int)i;
            snprintf(t->cwhy, sizeof(t->cwhy), "condition %s on %s is false: %s",
                     s->conds[i].op_name, s->conds[i].key, why);
        } else if (r && t->conds) {
            bprintf(t->cwhy, sizeof(t->cwhy), "%s%s on %s true (%s)", t->cwhy[0] ? "; " : "",
                    s->conds[i].op_name, s->conds[i].key, why);
        }
    }
    t->applies = t->principal && t->action && t->resource && t->conds;
}

static void stmt_label(char *buf, size_t cap, const char *where, size_t idx, const struct stmt *s)
{
    if (s->sid && s->sid[0])
        snprintf(buf, cap, "statement %zu (Sid \"%s\") of %s", idx, s->sid, where);
    else
        snprintf(buf, cap, "statement %zu of %s", idx, where);
}

static void stmt_summary(char *buf, size_t cap, const struct strace *t)
{
    bprintf(buf, cap, "%s; %s; %s", t->pwhy, t->awhy, t->rwhy);
    if (t->cwhy[0])
        bprintf(buf, cap, "; %s", t->cwhy);
}

static void fill_sid(struct policy_result *res, const struct stmt *s)
{
    snprintf(res->sid, sizeof(res->sid), "%s", s->sid ? s->sid : "");
}

static json_t *trace_json(const char *policy_name, size_t idx, const struct stmt *s,
                          struct strace *t, bool key_policy)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "Policy", policy_name, "Index", (json_int_t)idx,
                          "Sid", s->sid ? s->sid : "", "Effect", s->deny ? "Deny" : "Allow");
    if (!o)
        return NULL;
    json_object_set_new(o, "Principal",
                        json_string(!key_policy ? "n/a"
                                    : t->pm == PM_DIRECT ? "match"
                                    : t->pm == PM_ACCOUNT ? "account (needs an identity policy)"
                                                          : "no match"));
    json_object_set_new(o, "PrincipalWhy", json_string(t->pwhy));
    json_object_set_new(o, "Action", json_string(t->action ? "match" : "no match"));
    json_object_set_new(o, "ActionWhy", json_string(t->awhy));
    json_object_set_new(o, "Resource", json_string(t->resource ? "match" : "no match"));
    json_object_set_new(o, "ResourceWhy", json_string(t->rwhy));
    json_object_set_new(o, "Conditions", t->jconds ? t->jconds : json_array());
    t->jconds = NULL;
    json_object_set_new(o, "Applies", json_boolean(t->applies));
    return o;
}

static int evaluate(const struct policy *kp, const struct policy_request *req,
                    struct policy_result *res, json_t *trace, struct cl_error *err)
{
    memset(res, 0, sizeof(*res));
    res->statement_index = -1;
    res->identity_policy_index = -1;
    res->identity_statement_index = -1;
    if (!req || !req->action || !req->principal_arn || !req->account)
        return cl_fail(err, CL_EINVAL, "policy request lacks action, principal or account");
    struct eval e = {.req = req};
    e.principal_arn[0] = req->principal_arn;
    e.account[0] = req->account;

    /* Identity policies only count for callers in the key's account (a
     * cross-account caller needs its own account's IAM and the key policy
     * naming that account; the delegation check below covers that). */
    size_t nkp = kp ? kp->n : 0;
    struct strace *kt = calloc(nkp ? nkp : 1, sizeof(*kt));
    size_t total_id = 0;
    for (size_t i = 0; i < req->n_identity; i++)
        total_id += req->identity_policies[i] ? req->identity_policies[i]->n : 0;
    struct strace *it = calloc(total_id ? total_id : 1, sizeof(*it));
    if (!kt || !it) {
        free(kt);
        free(it);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nkp; i++)
        eval_stmt(&e, &kp->st[i], true, &kt[i], trace != NULL);
    size_t k = 0;
    for (size_t p = 0; p < req->n_identity; p++) {
        const struct policy *ip = req->identity_policies[p];
        for (size_t i = 0; ip && i < ip->n; i++, k++)
            eval_stmt(&e, &ip->st[i], false, &it[k], trace != NULL);
    }
    char label[256];

    /* 1. Explicit deny anywhere wins (research §2.3). For Deny, a statement
     * naming the caller's account applies to every principal in it. */
    for (size_t i = 0; i < nkp && res->decision == POLICY_DENY_IMPLICIT; i++) {
        if (kp->st[i].deny && kt[i].applies) {
            res->decision = POLICY_DENY_EXPLICIT;
            res->source = POLICY_SOURCE_KEY;
            res->statement_index = (int)i;
            fill_sid(res, &kp->st[i]);
            stmt_label(label, sizeof(label), "the key policy", i, &kp->st[i]);
            snprintf(res->reason, sizeof(res->reason), "Explicitly denied by %s: ", label);
            stmt_summary(res->reason, sizeof(res->reason), &kt[i]);
        }
    }
    k = 0;
    for (size_t p = 0; p < req->n_identity && res->decision == POLICY_DENY_IMPLICIT; p++) {
        const struct policy *ip = req->identity_policies[p];
        for (size_t i = 0; ip && i < ip->n; i++, k++) {
            if (ip->st[i].deny && it[k].applies && res->decision == POLICY_DENY_IMPLICIT) {
                res->decision = POLICY_DENY_EXPLICIT;
                res->source = POLICY_SOURCE_IDENTITY;
                res->statement_index = (int)i;
                res->identity_policy_index = (int)p;
                res->identity_statement_index = (int)i;
                fill_sid(res, &ip->st[i]);
                char where[64];
                snprintf(where, sizeof(where), "identity policy %zu", p);
                stmt_label(label, sizeof(label), where, i, &ip->st[i]);
                snprintf(res->reason, sizeof(res->reason), "Explicitly denied by %s: ", label);
                stmt_summary(res->reason, sizeof(res->reason), &it[k]);
            }
        }
    }
    /* 2. An Allow in the key policy naming the caller. */
    for (size_t i = 0; i < nkp && res->decision == POLICY_DENY_IMPLICIT; i++) {
        if (!kp->st[i].deny && kt[i].applies && kt[i].pm == PM_DIRECT) {
            res->decision = POLICY_ALLOW;
            res->source = POLICY_SOURCE_KEY;
            res->statement_index = (int)i;
            fill_sid(res, &kp->st[i]);
            stmt_label(label, sizeof(label), "the key policy", i, &kp->st[i]);
            snprintf(res->reason, sizeof(res->reason), "Allowed by %s: ", label);
            stmt_summary(res->reason, sizeof(res->reason), &kt[i]);
        }
    }
    /* 3. The key policy allows the account (delegation) and an identity
     * policy of the caller allows it. With no key (key-less operation such
     * as GenerateRandom) the identity policy alone decides. */
    int deleg = -1;
    for (size_t i = 0; i < nkp && deleg < 0; i++)
        if (!kp->st[i].deny && kt[i].applies && kt[i].pm == PM_ACCOUNT)
            deleg = (int)i;
    bool key_account_ok = !req->key_account || strcmp(req->key_account, req->account) == 0 ||
                          deleg >= 0;
    if (res->decision == POLICY_DENY_IMPLICIT && (deleg >= 0 || !kp) && key_account_ok) {
        k = 0;
        for (size_t p = 0; p < req->n_identity && res->decision == POLICY_DENY_IMPLICIT; p++) {
            const struct policy *ip = req->identity_policies[p];
            for (size_t i = 0; ip && i < ip->n; i++, k++) {
                if (!ip->st[i].deny && it[k].applies && res->decision == POLICY_DENY_IMPLICIT) {
                    res->decision = POLICY_ALLOW;
                    res->identity_policy_index = (int)p;
                    res->identity_statement_index = (int)i;
                    char where[64], ilabel[256];
                    snprintf(where, sizeof(where), "identity policy %zu", p);
                    stmt_label(ilabel, sizeof(ilabel), where, i, &ip->st[i]);
                    if (kp) {
                        res->source = POLICY_SOURCE_KEY;
                        res->statement_index = deleg;
                        fill_sid(res, &kp->st[deleg]);
                        stmt_label(label, sizeof(label), "the key policy", (size_t)deleg,
                                   &kp->st[deleg]);
                        snprintf(res->reason, sizeof(res->reason),
                                 "Allowed by %s, which delegates to IAM (%s), and by %s: ", label,
                                 kt[deleg].pwhy, ilabel);
                    } else {
                        res->source = POLICY_SOURCE_IDENTITY;
                        res->statement_index = (int)i;
                        fill_sid(res, &ip->st[i]);
                        snprintf(res->reason, sizeof(res->reason),
                                 "Allowed (no key policy applies to this operation) by %s: ", ilabel);
                    }
                    bprintf(res->reason, sizeof(res->reason), "%s; %s", it[k].awhy, it[k].rwhy);
                    if (it[k].cwhy[0])
                        bprintf(res->reason, sizeof(res->reason), "; %s", it[k].cwhy);
                }
            }
        }
        if (res->decision == POLICY_DENY_IMPLICIT && !kp && req->is_account_root) {
            res->decision = POLICY_ALLOW;
            snprintf(res->reason, sizeof(res->reason),
                     "Allowed: the account root user needs no identity policy");
        }
    }
    /* 4. Implicit deny: say why the closest candidates did not apply. */
    if (res->decision == POLICY_DENY_IMPLICIT) {
        int shown = 0;
        char cands[POLICY_REASON_MAX] = "";
        /* Candidates: Allow statements naming the caller for this action. */
        for (size_t i = 0; i < nkp && shown < 3; i++) {
            if (kp->st[i].deny || kt[i].pm != PM_DIRECT || !kt[i].action)
                continue;
            stmt_label(label, sizeof(label), "the key policy", i, &kp->st[i]);
            bprintf(cands, sizeof(cands), "%s %s: %s", shown ? ";" : " -", label,
                    !kt[i].resource ? kt[i].rwhy : kt[i].cwhy);
            shown++;
        }
        char deleg_why[512] = "";
        if (deleg >= 0) {
            stmt_label(label, sizeof(label), "the key policy", (size_t)deleg, &kp->st[deleg]);
            snprintf(deleg_why, sizeof(deleg_why),
                     "%s allows the caller's account (delegation to IAM) but no identity policy of %s allows %s",
                     label, req->principal_arn, req->action);
        }
        if (!kp) {
            snprintf(res->reason, sizeof(res->reason),
                     "Implicitly denied: no identity policy of %s allows %s", req->principal_arn,
                     req->action);
        } else if (!shown && deleg >= 0) {
            snprintf(res->reason, sizeof(res->reason), "Implicitly denied: %s", deleg_why);
        } else {
            snprintf(res->reason, sizeof(res->reason),
                     "Implicitly denied: no statement of the key policy allows %s for %s",
                     req->action, req->principal_arn);
            bprintf(res->reason, sizeof(res->reason), "%s",
                    shown ? cands : " (no Allow statement names the caller for this action)");
            if (deleg >= 0)
                bprintf(res->reason, sizeof(res->reason), "; and %s", deleg_why);
        }
    }
    if (trace) {
        json_t *stmts = json_array();
        for (size_t i = 0; i < nkp; i++)
            json_array_append_new(stmts, trace_json("key", i, &kp->st[i], &kt[i], true));
        k = 0;
        for (size_t p = 0; p < req->n_identity; p++) {
            const struct policy *ip = req->identity_policies[p];
            char name[32];
            snprintf(name, sizeof(name), "identity:%zu", p);
            for (size_t i = 0; ip && i < ip->n; i++, k++)
                json_array_append_new(stmts, trace_json(name, i, &ip->st[i], &it[k], false));
        }
        json_object_set_new(trace, "Statements", stmts);
    }
    for (size_t i = 0; i < nkp; i++)
        json_decref(kt[i].jconds);
    for (size_t i = 0; i < total_id; i++)
        json_decref(it[i].jconds);
    free(kt);
    free(it);
    return 0;
}

int policy_evaluate(const struct policy *key_policy, const struct policy_request *req,
                    struct policy_result *res, struct cl_error *err)
{
    return evaluate(key_policy, req, res, NULL, err);
}

static const char *decision_name(enum policy_decision d)
{
    return d == POLICY_ALLOW ? "Allow" : d == POLICY_DENY_EXPLICIT ? "ExplicitDeny" : "ImplicitDeny";
}

json_t *policy_result_json(const struct policy_result *res)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s}", "decision", decision_name(res->decision),
                          "source",
                          res->source == POLICY_SOURCE_KEY        ? "key"
                          : res->source == POLICY_SOURCE_IDENTITY ? "identity"
                                                                  : "none",
                          "statement", res->statement_index, "sid", res->sid, "reason",
                          res->reason);
    if (o && res->identity_policy_index >= 0) {
        json_object_set_new(o, "identityPolicy", json_integer(res->identity_policy_index));
        json_object_set_new(o, "identityStatement", json_integer(res->identity_statement_index));
    }
    return o;
}

int policy_explain(const struct policy *key_policy, const struct policy_request *req,
                   struct policy_result *res, char **json, struct cl_error *err)
{
    *json = NULL;
    json_t *root = json_object(), *trace = json_object();
    int rc = 0;
    if (!root || !trace) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    rc = evaluate(key_policy, req, res, trace, err);
    if (rc < 0)
        goto out;
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
    json_object_set(root, "Statements", json_object_get(trace, "Statements"));
    *json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!*json)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
out:
    json_decref(trace);
    json_decref(root);
    return rc;
}

void policy_denied_message(const struct policy_request *req, const struct policy_result *res,
                           char *buf, size_t cap)
{
    if (!cap)
        return;
    const char *res_arn = req->resource_arn ? req->resource_arn : "*";
    if (res->decision == POLICY_DENY_EXPLICIT)
        snprintf(buf, cap,
                 "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in %s",
                 req->principal_arn, req->action, res_arn,
                 res->source == POLICY_SOURCE_IDENTITY ? "an identity-based policy"
                                                       : "a resource-based policy");
    else if (req->resource_arn)
        snprintf(buf, cap,
                 "User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
                 req->principal_arn, req->action, res_arn, req->action);
    else
        snprintf(buf, cap,
                 "User: %s is not authorized to perform: %s because no identity-based policy allows the %s action",
                 req->principal_arn, req->action, req->action);
}

int policy_validate_key_policy(const char *text, size_t len, const struct policy_parse_opts *o,
                               const struct policy_request *caller, bool bypass_lockout,
                               struct policy **out, struct cl_error *err)
{
    struct policy_parse_opts kopts = {.key_policy = true};
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
        /* Research §2.4: the new policy must let the caller call
         * PutKeyPolicy later. */
        struct policy_request r = *caller;
        r.action = "kms:PutKeyPolicy";
        struct policy_result res;
        rc = policy_evaluate(p, &r, &res, err);
        if (rc < 0)
            goto out;
        if (res.decision != POLICY_ALLOW) {
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
