/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
 * RevokeGrant (docs/kms.md, "Grants"). A grant lets its grantee principal
 * use the key in the grant's operations, under its constraints; the
 * authorization decision that uses it is call/authorize.c with
 * policy/grant.c. Grants live in the store's grants table and go with their
 * key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/authorize.h"
#include "call/context.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/grant_token.h"
#include "ops/key_ref.h"
#include "ops/marker.h"
#include "ops/ops.h"
#include "policy/grant.h"
#include "util/kmsutil.h"

#define PRINCIPAL_MAX            256 /* PrincipalIdType */
#define GRANT_NAME_MAX           256 /* GrantNameType */
#define GRANTS_PER_PRINCIPAL     500 /* AWS's quota: grants for a principal per KMS key */
#define CONSTRAINT_PAIRS_MAX     8   /* AWS: each constraint holds up to 8 pairs */
#define CONSTRAINT_VALUE_MAX     384 /* ... and no value over 384 characters */
#define GRANT_LIST_LIMIT_MAX     100 /* ListGrants, ListRetirableGrants: Limit 1..100 */
#define GRANT_LIST_LIMIT_DEFAULT 50

/* botocore's GrantOperation enum, in its order (the validation message lists it so). */
static const char *const GRANT_OPS[] = { "Decrypt",
                                         "Encrypt",
                                         "GenerateDataKey",
                                         "GenerateDataKeyWithoutPlaintext",
                                         "ReEncryptFrom",
                                         "ReEncryptTo",
                                         "Sign",
                                         "Verify",
                                         "GetPublicKey",
                                         "CreateGrant",
                                         "RetireGrant",
                                         "DescribeKey",
                                         "GenerateDataKeyPair",
                                         "GenerateDataKeyPairWithoutPlaintext",
                                         "GenerateMac",
                                         "VerifyMac",
                                         "DeriveSharedSecret",
                                         NULL };

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* PrincipalIdType's pattern ^[\w+=,.@:/-]+$ and GrantNameType's ^[a-zA-Z0-9:/_-]+$. */
static bool chars_in(const char *s, const char *extra)
{
    for (const char *p = s; *p; p++) {
        bool word =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!word && !strchr(extra, *p))
            return false;
    }
    return true;
}

/* A string member with a pattern, as AWS's validation words it. */
static int patterned(struct call *c, const char *member, const char *field, bool required,
                     size_t max, const char *extra, const char *pattern, const char **out)
{
    if (req_string(c->in, member, required, 1, max, out, &c->err) < 0)
        return -1;
    if (*out && !chars_in(*out, extra))
        return call_fail(c, "ValidationException",
                         "1 validation error detected: Value '%s' at '%s' failed to satisfy "
                         "constraint: Member must satisfy regular expression pattern: %s",
                         *out, field, pattern);
    return 0;
}

static int principal_member(struct call *c, const char *member, const char *field, bool required,
                            const char **out)
{
    return patterned(c, member, field, required, PRINCIPAL_MAX, "_+=,.@:/-", "^[\\w+=,.@:/-]+$",
                     out);
}

/* A grantee or retiring principal must be a principal's ARN: an IAM user,
 * role or account root, or an assumed-role session (the forms AWS lists
 * for GranteePrincipal). AWS's message is not published (docs/kms.md). */
static int principal_arn(struct call *c, const char *p)
{
    static const char *const FORMS[] = { "arn:aws:iam::", "arn:aws:sts::" };
    bool ok = false;
    for (size_t i = 0; i < 2 && !ok; i++) {
        size_t n = strlen(FORMS[i]);
        if (strncmp(p, FORMS[i], n) != 0)
            continue;
        const char *acct = p + n, *colon = strchr(acct, ':');
        if (!colon || colon - acct != 12 || strspn(acct, "0123456789") != 12)
            continue;
        const char *res = colon + 1;
        ok = i == 0 ? (strcmp(res, "root") == 0 || (!strncmp(res, "user/", 5) && res[5]) ||
                       (!strncmp(res, "role/", 5) && res[5]))
                    : !strncmp(res, "assumed-role/", 13) && strchr(res + 13, '/');
    }
    if (!ok)
        return call_fail(c, "InvalidArnException", "ARN does not refer to a valid principal: %s",
                         p);
    return 0;
}

/* Operations: a non-empty list of GrantOperation values. */
static int read_operations(struct call *c, const json_t **ops)
{
    if (req_string_list(c->in, "Operations", true, 1, 64, ops, &c->err) < 0)
        return -1;
    if (json_array_size(*ops) == 0)
        return call_fail(c, "ValidationException",
                         "1 validation error detected: Value '[]' at 'operations' failed to "
                         "satisfy constraint: Member must have length greater than or equal to 1");
    size_t i;
    json_t *o;
    json_array_foreach(*ops, i, o)
    {
        if (in_list(GRANT_OPS, json_string_value(o)))
            continue;
        char set[512] = "";
        for (const char *const *v = GRANT_OPS; *v; v++)
            snprintf(set + strlen(set), sizeof(set) - strlen(set), "%s%s",
                     v == GRANT_OPS ? "" : ", ", *v);
        return call_fail(c, "ValidationException",
                         "1 validation error detected: Value '[%s]' at 'operations' failed to "
                         "satisfy constraint: Member must satisfy constraint: [Member must satisfy "
                         "enum value set: [%s]]",
                         json_string_value(o), set);
    }
    return 0;
}

/* Constraints: EncryptionContextSubset and/or EncryptionContextEquals, each
 * an encryption context of at most 8 pairs with values of at most 384
 * characters (AWS's CreateGrant documentation). */
static int read_constraints(struct call *c, const json_t **out)
{
    *out = NULL;
    const json_t *v = json_object_get(c->in, "Constraints");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return call_fail(c, "SerializationException",
                         "Unexpected value type for 'Constraints': expected a structure");
    static const char *const MEMBERS[] = { "EncryptionContextSubset", "EncryptionContextEquals" };
    for (size_t i = 0; i < 2; i++) {
        const json_t *ctx;
        if (req_context(v, MEMBERS[i], &ctx, &c->err) < 0)
            return -1;
        if (ctx && json_object_size(ctx) > CONSTRAINT_PAIRS_MAX)
            return call_fail(c, "ValidationException",
                             "A grant constraint can have at most %d encryption context pairs.",
                             CONSTRAINT_PAIRS_MAX);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)ctx, k, x)
        {
            if (json_string_length(x) > CONSTRAINT_VALUE_MAX)
                return call_fail(c, "ValidationException",
                                 "An encryption context value in a grant constraint can have at "
                                 "most %d characters.",
                                 CONSTRAINT_VALUE_MAX);
        }
    }
    /* an empty constraint object constrains nothing: stored as none */
    if (json_object_get(v, "EncryptionContextSubset") ||
        json_object_get(v, "EncryptionContextEquals"))
        *out = v;
    return 0;
}

/*
 * Which operations a grant on k may allow (AWS's CreateGrant: a grant may
 * not allow an operation the key does not support), and whether it may
 * carry constraints (only symmetric encryption keys take an encryption
 * context). ValidationException otherwise; AWS's text is not published.
 */
static int check_for_key(struct call *c, const struct store_key *k, const json_t *ops,
                         const json_t *constraints)
{
    static const char *const ANY[] = { "CreateGrant", "RetireGrant", "DescribeKey", NULL };
    static const char *const SYM[] = { "Decrypt",
                                       "Encrypt",
                                       "GenerateDataKey",
                                       "GenerateDataKeyWithoutPlaintext",
                                       "ReEncryptFrom",
                                       "ReEncryptTo",
                                       "GenerateDataKeyPair",
                                       "GenerateDataKeyPairWithoutPlaintext",
                                       NULL };
    static const char *const ASYM_ENC[] = { "Encrypt",     "Decrypt",      "ReEncryptFrom",
                                            "ReEncryptTo", "GetPublicKey", NULL };
    static const char *const SIGN[] = { "Sign", "Verify", "GetPublicKey", NULL };
    static const char *const MAC[] = { "GenerateMac", "VerifyMac", NULL };
    static const char *const AGREE[] = { "DeriveSharedSecret", "GetPublicKey", NULL };
    const char *usage = key_usage_name(k->usage);
    bool symmetric = strcmp(k->key_spec, "SYMMETRIC_DEFAULT") == 0;
    const char *const *allowed = symmetric                               ? SYM
                                 : !strcmp(usage, "ENCRYPT_DECRYPT")     ? ASYM_ENC
                                 : !strcmp(usage, "SIGN_VERIFY")         ? SIGN
                                 : !strcmp(usage, "GENERATE_VERIFY_MAC") ? MAC
                                 : !strcmp(usage, "KEY_AGREEMENT")       ? AGREE
                                                                         : ANY;
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o)
    {
        const char *op = json_string_value(o);
        if (!in_list(ANY, op) && !in_list(allowed, op))
            return call_fail(c, "ValidationException",
                             "Grant operation %s is not valid for a key with KeySpec %s and "
                             "KeyUsage %s.",
                             op, k->key_spec, usage);
    }
    if (constraints && !symmetric)
        return call_fail(c, "ValidationException",
                         "Grant constraints are not valid for a key with KeySpec %s: only "
                         "symmetric encryption keys take an encryption context.",
                         k->key_spec);
    return 0;
}

/* The grant as ListGrants answers it: KeyId is the key ARN. */
static void answer_key_arn(struct call *c, json_t *g)
{
    char arn[KEY_ARN_MAX];
    kms_key_arn(c->s, json_string_value(json_object_get(g, "KeyId")), arn, sizeof(arn));
    json_object_set_new(g, "KeyId", json_string(arn));
}

/* Same parameters as the request (CreateGrant's idempotency by Name)? */
static bool same_grant(const json_t *g, const json_t *want)
{
    static const char *const MEMBERS[] = { "GranteePrincipal", "RetiringPrincipal", "Operations",
                                           "Constraints" };
    for (size_t i = 0; i < 4; i++) {
        const json_t *a = json_object_get(g, MEMBERS[i]), *b = json_object_get(want, MEMBERS[i]);
        if ((a == NULL) != (b == NULL) || (a && !json_equal(a, b)))
            return false;
    }
    return true;
}

/*
 * A grant of the key with the request's Name and the same parameters:
 * AWS answers a repeated CreateGrant with its grant id (and we with its
 * token). 1 found (id and token filled), 0 none, -1 failed.
 */
static int find_named(struct call *c, const char *key_id, const json_t *want, char *id, char *token)
{
    struct cl_error err = { 0 };
    struct store_grant_filter f = { .key_id = key_id };
    json_t *all = NULL;
    bool more;
    if (store_grant_list(c->s->store, &f, NULL, GRANTS_PER_KEY_MAX, &all, &more, &err) < 0)
        return call_fail_internal(c, &err);
    const char *name = json_string_value(json_object_get(want, "Name"));
    int found = 0;
    size_t i;
    json_t *g;
    json_array_foreach(all, i, g)
    {
        const char *n = json_string_value(json_object_get(g, "Name"));
        if (found || !n || strcmp(n, name) != 0 || !same_grant(g, want))
            continue;
        json_t *got = NULL;
        char *tok = NULL;
        const char *gid = json_string_value(json_object_get(g, "GrantId"));
        if (store_grant_get(c->s->store, gid, &got, &tok, &err) < 0) {
            found = call_fail_internal(c, &err);
            break;
        }
        snprintf(id, GRANT_ID_LEN + 1, "%s", gid);
        snprintf(token, GRANT_TOKEN_LEN + 1, "%s", tok);
        json_decref(got);
        free(tok);
        found = 1;
    }
    json_decref(all);
    return found;
}

/* AWS's quota of grants for one principal on one key. */
static int check_grant_quota(struct call *c, const char *key_id, const char *grantee)
{
    long long n = 0;
    struct cl_error err = { 0 };
    if (store_grant_count(c->s->store, key_id, grantee, &n, &err) < 0)
        return call_fail_internal(c, &err);
    if (n >= GRANTS_PER_PRINCIPAL)
        return call_fail(c, "LimitExceededException",
                         "The grantee principal %s already has %d grants on this key.", grantee,
                         GRANTS_PER_PRINCIPAL);
    return 0;
}

/* The new grant of a CreateGrant request (KeyId: the key id). */
static json_t *new_grant(struct call *c, const struct store_key *k, const char *grantee,
                         const char *retiring, const json_t *ops, const json_t *constraints,
                         const char *name)
{
    char issuing[64];
    snprintf(issuing, sizeof(issuing), "arn:aws:iam::%s:root", c->s->account);
    json_t *g =
        json_pack("{s:s, s:f, s:s, s:s, s:O}", "KeyId", k->id, "CreationDate", ku_now(),
                  "GranteePrincipal", grantee, "IssuingAccount", issuing, "Operations", ops);
    if (g && retiring)
        json_object_set_new(g, "RetiringPrincipal", json_string(retiring));
    if (g && name)
        json_object_set_new(g, "Name", json_string(name));
    if (g && constraints)
        json_object_set_new(g, "Constraints", json_deep_copy(constraints));
    return g;
}

/* Makes the grant (or finds its named twin) and answers its id and token. */
static int create_or_reuse(struct call *c, const struct store_key *k, json_t *g)
{
    char id[GRANT_ID_LEN + 1], token[GRANT_TOKEN_LEN + 1];
    int found = json_object_get(g, "Name") ? find_named(c, k->id, g, id, token) : 0;
    if (found < 0)
        return -1;
    if (!found) {
        int rc =
            check_grant_quota(c, k->id, json_string_value(json_object_get(g, "GranteePrincipal")));
        if (rc == 0)
            rc = grant_token_new(c, id, token);
        if (rc < 0)
            return -1;
        json_object_set_new(g, "GrantId", json_string(id));
        struct cl_error err = { 0 };
        if (store_grant_create(c->s->store, g, token, &err) < 0)
            return call_fail_internal(c, &err);
    }
    c->out = json_pack("{s:s, s:s}", "GrantToken", token, "GrantId", id);
    return 0;
}

int op_create_grant(struct call *c)
{
    const char *grantee, *retiring, *name;
    const json_t *ops, *constraints;
    if (principal_member(c, "GranteePrincipal", "granteePrincipal", true, &grantee) < 0 ||
        principal_member(c, "RetiringPrincipal", "retiringPrincipal", false, &retiring) < 0 ||
        read_operations(c, &ops) < 0 || read_constraints(c, &constraints) < 0 ||
        patterned(c, "Name", "name", false, GRANT_NAME_MAX, "_:/-", "^[a-zA-Z0-9:/_-]+$", &name) <
            0 ||
        grant_tokens(c) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = principal_arn(c, grantee);
    if (rc == 0 && retiring)
        rc = principal_arn(c, retiring);
    if (rc == 0)
        rc = check_for_key(c, &k, ops, constraints);
    if (rc == 0)
        rc = call_context_grant(c, ops, grantee, retiring, constraints);
    if (rc == 0)
        rc = authorize(c, "kms:CreateGrant", &k);
    if (rc == 0)
        rc = dry_run(c);
    json_t *g = NULL;
    if (rc == 0 && !(g = new_grant(c, &k, grantee, retiring, ops, constraints, name)))
        rc = call_fail_internal(c, NULL);
    if (rc == 0)
        rc = create_or_reuse(c, &k, g);
    json_decref(g);
    store_key_clear(&k);
    return rc;
}

/* A GrantId member: 64 hex digits, else InvalidGrantIdException (AWS's
 * text is not published). */
static int grant_id_member(struct call *c, bool required, const char **id)
{
    if (req_string(c->in, "GrantId", required, 1, 128, id, &c->err) < 0)
        return -1;
    if (*id && !grant_id_valid(*id))
        return call_fail(c, "InvalidGrantIdException", "Invalid grant ID %s.", *id);
    return 0;
}

/* The page of grants f selects after the request's marker, into c->out. */
static int answer_grants(struct call *c, const struct store_grant_filter *f, const char *scope,
                         long long limit, const char *marker)
{
    char *after = NULL;
    if (marker_read(c, scope, marker, &after) < 0)
        return -1;
    json_t *grants = NULL;
    bool more = false;
    struct cl_error err = { 0 };
    int rc = store_grant_list(c->s->store, f, after, (size_t)limit, &grants, &more, &err);
    free(after);
    if (rc < 0)
        return call_fail_internal(c, &err);
    size_t i;
    json_t *g;
    json_array_foreach(grants, i, g)
    {
        answer_key_arn(c, g);
    }
    c->out = json_pack("{s:o, s:b}", "Grants", grants, "Truncated", more);
    if (more)
        marker_set_next(c->out, scope,
                        json_string_value(json_object_get(
                            json_array_get(grants, json_array_size(grants) - 1), "GrantId")));
    return 0;
}

int op_list_grants(struct call *c)
{
    long long limit;
    const char *marker, *grant_id, *grantee;
    if (paging(c, GRANT_LIST_LIMIT_MAX, GRANT_LIST_LIMIT_DEFAULT, &limit, &marker) < 0 ||
        grant_id_member(c, false, &grant_id) < 0 ||
        principal_member(c, "GranteePrincipal", "granteePrincipal", false, &grantee) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    char scope[128];
    snprintf(scope, sizeof(scope), "ListGrants/%s", k.id);
    int rc = authorize(c, "kms:ListGrants", &k);
    if (rc == 0) {
        struct store_grant_filter f = { .key_id = k.id, .grant_id = grant_id, .grantee = grantee };
        rc = answer_grants(c, &f, scope, limit, marker);
    }
    store_key_clear(&k);
    return rc;
}

int op_list_retirable_grants(struct call *c)
{
    long long limit;
    const char *marker, *retiring;
    if (paging(c, GRANT_LIST_LIMIT_MAX, GRANT_LIST_LIMIT_DEFAULT, &limit, &marker) < 0 ||
        principal_member(c, "RetiringPrincipal", "retiringPrincipal", true, &retiring) < 0)
        return -1;
    /* account-level: no key, so the identity policy decides */
    if (authorize(c, "kms:ListRetirableGrants", NULL) < 0)
        return -1;
    char scope[320];
    snprintf(scope, sizeof(scope), "ListRetirableGrants/%s", retiring);
    struct store_grant_filter f = { .retiring = retiring };
    return answer_grants(c, &f, scope, limit, marker);
}

/* The grant of key k with id grant_id, or NotFoundException. */
static int key_grant(struct call *c, const struct store_key *k, const char *grant_id, json_t **g)
{
    struct cl_error err = { 0 };
    int rc = store_grant_get(c->s->store, grant_id, g, NULL, &err);
    if (rc == 0 && strcmp(json_string_value(json_object_get(*g, "KeyId")), k->id) != 0) {
        json_decref(*g);
        *g = NULL;
        rc = CL_ENOTFOUND;
    }
    if (rc == CL_ENOTFOUND)
        return call_fail(c, "NotFoundException", "Grant ID %s not found", grant_id);
    if (rc < 0)
        return call_fail_internal(c, &err);
    return 0;
}

/* Deletes grant g (after DryRun); a grant retired meanwhile is not found. */
static int delete_grant(struct call *c, const json_t *g)
{
    if (dry_run(c) < 0)
        return -1;
    const char *id = json_string_value(json_object_get(g, "GrantId"));
    struct cl_error err = { 0 };
    int rc = store_grant_delete(c->s->store, id, &err);
    if (rc == CL_ENOTFOUND)
        return call_fail(c, "NotFoundException", "Grant ID %s not found", id);
    if (rc < 0)
        return call_fail_internal(c, &err);
    c->out = json_object();
    return 0;
}

/*
 * RetireGrant's permission (AWS: "determined primarily by the grant"): the
 * grant's retiring principal, its grantee when RetireGrant is among its
 * operations, or a principal a policy allows kms:RetireGrant on the key.
 */
static int authorize_retire(struct call *c, const struct store_key *k, const json_t *g)
{
    const char *id = json_string_value(json_object_get(g, "GrantId"));
    const char *retiring = json_string_value(json_object_get(g, "RetiringPrincipal"));
    if (policy_principal_names(retiring, c->caller.arn)) {
        authorize_note_grant(c, "kms:RetireGrant", id,
                             "the caller is the grant's retiring principal");
        return 0;
    }
    const char *grantee = json_string_value(json_object_get(g, "GranteePrincipal"));
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(g, "Operations"), i, o)
    {
        if (strcmp(json_string_value(o), "RetireGrant") == 0 &&
            policy_principal_names(grantee, c->caller.arn)) {
            authorize_note_grant(c, "kms:RetireGrant", id,
                                 "the caller is the grantee of a grant that allows RetireGrant");
            return 0;
        }
    }
    return authorize_policy(c, "kms:RetireGrant", k);
}

int op_retire_grant(struct call *c)
{
    const char *token, *grant_id, *key_ident;
    if (req_string(c->in, "GrantToken", false, 1, GRANT_TOKEN_MAX, &token, &c->err) < 0 ||
        req_string(c->in, "KeyId", false, 1, KEYID_MAX, &key_ident, &c->err) < 0 ||
        grant_id_member(c, false, &grant_id) < 0)
        return -1;
    if (!token && !(grant_id && key_ident))
        return call_fail(c, "ValidationException",
                         "Either a grant token, or both a grant ID and a key ID, must be "
                         "specified.");
    json_t *g = NULL;
    struct store_key k = { 0 };
    int rc = 0;
    if (token) {
        rc = grant_token_resolve(c, token, &g);
        if (rc == 0)
            rc =
                resolve_key_id(c, json_string_value(json_object_get(g, "KeyId")), IDS_KEY_ONLY, &k);
    } else {
        rc = resolve_key_id(c, key_ident, IDS_KEY_ONLY, &k);
        if (rc == 0)
            rc = key_grant(c, &k, grant_id, &g);
    }
    if (rc == 0)
        rc = authorize_retire(c, &k, g);
    if (rc == 0)
        rc = delete_grant(c, g);
    json_decref(g);
    store_key_clear(&k);
    return rc;
}

int op_revoke_grant(struct call *c)
{
    const char *grant_id;
    if (grant_id_member(c, true, &grant_id) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    json_t *g = NULL;
    int rc = authorize(c, "kms:RevokeGrant", &k);
    if (rc == 0)
        rc = key_grant(c, &k, grant_id, &g);
    if (rc == 0)
        rc = delete_grant(c, g);
    json_decref(g);
    store_key_clear(&k);
    return rc;
}
