/* SPDX-License-Identifier: Apache-2.0 */
/* Grants in the decision (policy/grant.h; docs/kms-policy.md, "Grants"):
 * grantee matching, operations, constraints, and CreateGrant's "as strict
 * or stricter" rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "policy/grant.h"

#define ACCT    "111122223333"
#define BOB     "arn:aws:iam::" ACCT ":user/bob"
#define ROLE    "arn:aws:iam::" ACCT ":role/app"
#define SESSION "arn:aws:sts::" ACCT ":assumed-role/app/i-1"

static json_t *grant(const char *id, const char *grantee, const char *ops, const char *constraints)
{
    json_t *g = json_pack("{s:s, s:s, s:o}", "GrantId", id, "GranteePrincipal", grantee,
                          "Operations", json_loads(ops, 0, NULL));
    if (constraints)
        json_object_set_new(g, "Constraints", json_loads(constraints, 0, NULL));
    return g;
}

/* Evaluates one grant for action by caller with the context's pairs (k=v,...). */
static bool allows(json_t *g, const char *action, const char *caller, const char *const *pairs,
                   const json_t *new_constraints, char *why)
{
    struct policy_context *ctx = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(policy_context_new(&ctx, &err), 0);
    for (; pairs && *pairs; pairs += 2)
        assert_int_equal(policy_context_add(ctx, pairs[0], pairs[1], &err), 0);
    struct policy_request req = {
        .action = action, .principal_arn = caller, .account = ACCT, .context = ctx
    };
    json_t *grants = json_array(), *trace = json_array();
    json_array_append(grants, g);
    struct policy_grant_result res;
    policy_grants_evaluate(grants, &req, new_constraints, &res, trace);
    assert_int_equal(json_array_size(trace), 1);
    if (why)
        strcpy(why, json_string_value(json_object_get(json_array_get(trace, 0), "Why")));
    bool ok = res.index == 0;
    assert_true(ok == json_is_true(json_object_get(json_array_get(trace, 0), "Applies")));
    json_decref(trace);
    json_decref(grants);
    policy_context_free(ctx);
    return ok;
}

static void grantee_and_operations(void **state)
{
    (void)state;
    char why[512];
    json_t *g = grant("g1", BOB, "[\"Encrypt\", \"ReEncryptFrom\"]", NULL);
    assert_true(allows(g, "kms:Encrypt", BOB, NULL, NULL, why));
    assert_true(allows(g, "kms:ReEncryptFrom", BOB, NULL, NULL, NULL));
    assert_false(allows(g, "kms:Decrypt", BOB, NULL, NULL, why));
    assert_string_equal(why, "its operations do not include Decrypt");
    assert_false(allows(g, "kms:ListGrants", BOB, NULL, NULL, why)); /* no grant operation */
    assert_false(allows(g, "kms:Encrypt", "arn:aws:iam::" ACCT ":user/eve", NULL, NULL, why));
    assert_string_equal(why, "its grantee principal is " BOB);
    json_decref(g);
    /* a role's grant covers its sessions */
    g = grant("g2", ROLE, "[\"Decrypt\"]", NULL);
    assert_true(allows(g, "kms:Decrypt", SESSION, NULL, NULL, NULL));
    assert_false(
        allows(g, "kms:Decrypt", "arn:aws:sts::" ACCT ":assumed-role/other/i-1", NULL, NULL, NULL));
    json_decref(g);
    assert_string_equal(policy_grant_operation("kms:GenerateDataKeyPair"), "GenerateDataKeyPair");
    assert_null(policy_grant_operation("kms:RevokeGrant"));
    assert_null(policy_grant_operation("Encrypt"));
}

static void constraints(void **state)
{
    (void)state;
    char why[512];
    json_t *sub = grant("s", BOB, "[\"Encrypt\", \"DescribeKey\"]",
                        "{\"EncryptionContextSubset\": {\"Purpose\": \"x\"}}");
    const char *const ok[] = { "kms:EncryptionContext:purpose",
                               "x",
                               "kms:EncryptionContextKeys",
                               "purpose",
                               "kms:EncryptionContext:more",
                               "y",
                               "kms:EncryptionContextKeys",
                               "more",
                               NULL };
    const char *const wrong_value[] = { "kms:EncryptionContext:purpose", "X", NULL };
    assert_true(allows(sub, "kms:Encrypt", BOB, ok, NULL, why));
    assert_string_equal(why, "its grantee principal is the caller, its operations include "
                             "Encrypt and its constraints are met");
    assert_false(allows(sub, "kms:Encrypt", BOB, wrong_value, NULL, why));
    assert_false(allows(sub, "kms:Encrypt", BOB, NULL, NULL, why));
    assert_string_equal(why, "the request's encryption context does not include its "
                             "EncryptionContextSubset constraint");
    /* DescribeKey takes no encryption context: the constraint does not apply */
    assert_true(allows(sub, "kms:DescribeKey", BOB, NULL, NULL, NULL));
    json_decref(sub);

    json_t *eq = grant("e", BOB, "[\"Decrypt\"]", "{\"EncryptionContextEquals\": {\"a\": \"1\"}}");
    const char *const exact[] = { "kms:EncryptionContext:a", "1", "kms:EncryptionContextKeys", "a",
                                  NULL };
    assert_true(allows(eq, "kms:Decrypt", BOB, exact, NULL, NULL));
    assert_false(allows(eq, "kms:Decrypt", BOB, ok, NULL, why));
    assert_string_equal(why, "the request's encryption context is not its "
                             "EncryptionContextEquals constraint");
    json_decref(eq);
}

static void stricter(void **state)
{
    (void)state;
    json_t *sub = json_loads("{\"EncryptionContextSubset\": {\"a\": \"1\"}}", 0, NULL);
    json_t *sub2 =
        json_loads("{\"EncryptionContextSubset\": {\"A\": \"1\", \"b\": \"2\"}}", 0, NULL);
    json_t *eq = json_loads("{\"EncryptionContextEquals\": {\"a\": \"1\", \"b\": \"2\"}}", 0, NULL);
    json_t *eq_other = json_loads("{\"EncryptionContextEquals\": {\"a\": \"1\"}}", 0, NULL);
    json_t *other = json_loads("{\"EncryptionContextSubset\": {\"a\": \"2\"}}", 0, NULL);
    assert_true(policy_constraints_stricter(NULL, NULL));
    assert_true(policy_constraints_stricter(NULL, sub));
    assert_false(policy_constraints_stricter(sub, NULL));
    assert_true(policy_constraints_stricter(sub, sub2));
    assert_true(policy_constraints_stricter(sub, eq));
    assert_false(policy_constraints_stricter(sub, other));
    assert_true(policy_constraints_stricter(eq, eq));
    assert_false(policy_constraints_stricter(eq, eq_other));
    assert_false(policy_constraints_stricter(eq, sub2));
    /* CreateGrant by a grant: the new operations among the grant's, constraints as strict */
    json_t *g = grant("c", BOB, "[\"Encrypt\", \"CreateGrant\"]",
                      "{\"EncryptionContextSubset\": {\"a\": \"1\"}}");
    const char *const enc[] = { "kms:GrantOperations", "Encrypt", NULL };
    const char *const more[] = { "kms:GrantOperations", "Encrypt", "kms:GrantOperations", "Decrypt",
                                 NULL };
    char why[512];
    assert_true(allows(g, "kms:CreateGrant", BOB, enc, sub2, NULL));
    assert_false(allows(g, "kms:CreateGrant", BOB, more, sub2, why));
    assert_string_equal(why, "the new grant's operations are not all among its operations");
    assert_false(allows(g, "kms:CreateGrant", BOB, enc, NULL, why));
    assert_string_equal(why, "the new grant's constraints are less strict than its constraints");
    json_decref(g);
    json_decref(sub);
    json_decref(sub2);
    json_decref(eq);
    json_decref(eq_other);
    json_decref(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grantee_and_operations),
        cmocka_unit_test(constraints),
        cmocka_unit_test(stricter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
