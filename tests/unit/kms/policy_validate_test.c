/* SPDX-License-Identifier: Apache-2.0 */
/* Key policy validation: every parse error with its exact message and
 * exception type, the principal-existence callback, the lock-out check
 * (docs/kms-policy.md, "Validation"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "policy/policy.h"

#define ACCT    "111122223333"
#define ROOT    "arn:aws:iam::" ACCT ":root"
#define ALICE   "arn:aws:iam::" ACCT ":user/alice"
#define BOB     "arn:aws:iam::" ACCT ":user/bob"
#define ROLE    "arn:aws:iam::" ACCT ":role/enclave_role"
#define SESSION "arn:aws:sts::" ACCT ":assumed-role/enclave_role/i-09654650371b8eff3"
#define KEY     "arn:aws:kms:us-east-1:" ACCT ":key/1234abcd-12ab-34cd-56ef-1234567890ab"

static struct policy *parse_ok(const char *text, bool key_policy)
{
    struct policy_parse_opts o = { .key_policy = key_policy };
    struct policy *p = NULL;
    struct cl_error err = { 0 };
    int rc = policy_parse(text, strlen(text), &o, &p, &err);
    if (rc != 0)
        fail_msg("policy did not parse: %s\n%s", err.reason, text);
    return p;
}

/* A key policy of one statement. */
static char g_buf[8192];
static const char *one(const char *effect, const char *principal, const char *action,
                       const char *resource, const char *condition)
{
    snprintf(g_buf, sizeof(g_buf),
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"S\",\"Effect\":\"%s\","
             "\"Principal\":%s,\"Action\":%s,\"Resource\":%s%s%s}]}",
             effect, principal, action, resource, condition ? ",\"Condition\":" : "",
             condition ? condition : "");
    return g_buf;
}

/* Every validation error, with its exact message and exception type. */
static void expect_invalid(const char *text, bool key_policy, int code, const char *type,
                           const char *message)
{
    struct policy_parse_opts o = { .key_policy = key_policy };
    struct policy *p = (struct policy *)1;
    struct cl_error err = { 0 };
    int rc = policy_parse(text, strlen(text), &o, &p, &err);
    if (rc != code || strcmp(err.reason, message) != 0)
        fail_msg("for %s\n  got %d \"%s\"\n  want %d \"%s\"", text, rc, err.reason, code, message);
    assert_null(p);
    assert_string_equal(policy_error_type(rc), type);
}

#define MPD "MalformedPolicyDocumentException"
#define V   "{\"Version\":\"2012-10-17\",\"Statement\":"
#define ST(body)                                                                                \
    V "[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"" body \
      "}]}"

/* ValidationException: the encoding; LimitExceededException: the size. */
static void validation_errors(void **state)
{
    (void)state;
    expect_invalid("", true, CL_EINVAL, "ValidationException",
                   "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
                   "Member must have length greater than or equal to 1");
    expect_invalid(
        "{\"Version\":\"2012-10-17\",\"Id\":\"\xe2\x82\xac\"}", true, CL_EINVAL,
        "ValidationException",
        "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+");
    expect_invalid(
        "{\x01}", true, CL_EINVAL, "ValidationException",
        "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+");
    /* Size: 32768 bytes pass the size check, 32769 do not. */
    char *big = malloc(POLICY_MAX_BYTES + 2);
    memset(big, ' ', POLICY_MAX_BYTES + 1);
    big[POLICY_MAX_BYTES + 1] = '\0';
    memcpy(big, ST(""), strlen(ST("")));
    expect_invalid(big, true, CL_ELIMIT, "LimitExceededException",
                   "The key policy is 32769 bytes; the limit is 32768 bytes.");
    big[POLICY_MAX_BYTES] = '\0';
    struct policy *p = parse_ok(big, true);
    policy_free(p);
    free(big);
}

/* The document's JSON and its top level. */
static void malformed_documents(void **state)
{
    (void)state;
    expect_invalid("{\"Version\":", true, CL_EFORMAT, MPD,
                   "The key policy is not valid JSON (line 1, column 11).");
    expect_invalid("{\"Version\":\"2012-10-17\",\"Version\":\"2012-10-17\"}", true, CL_EFORMAT, MPD,
                   "The key policy is not valid JSON (line 1, column 33).");
    expect_invalid("[]", true, CL_EFORMAT, MPD, "The key policy must be a JSON object.");
    expect_invalid(ST("") " x", true, CL_EFORMAT, MPD,
                   "The key policy is not valid JSON (line 1, column 107).");
    expect_invalid("{\"Statement\":[]}", true, CL_EFORMAT, MPD,
                   "Policy is missing the Version field.");
    expect_invalid("{\"Version\":\"2008-10-17\",\"Statement\":[]}", true, CL_EFORMAT, MPD,
                   "Policy has an unsupported Version (only 2012-10-17).");
    expect_invalid("{\"Version\":\"2012-10-17\",\"Foo\":1}", true, CL_EFORMAT, MPD,
                   "Policy contains an unknown top-level field: Foo");
    expect_invalid("{\"Version\":\"2012-10-17\",\"Id\":5,\"Statement\":[]}", true, CL_EFORMAT, MPD,
                   "Policy Id must be a string.");
    expect_invalid("{\"Version\":\"2012-10-17\"}", true, CL_EFORMAT, MPD,
                   "Policy is missing the Statement field.");
    expect_invalid(V "[]}", true, CL_EFORMAT, MPD, "Policy contains no statement.");
    expect_invalid(V "\"x\"}", true, CL_EFORMAT, MPD,
                   "Policy contains a statement that is not an object.");
    expect_invalid(V "[1]}", true, CL_EFORMAT, MPD,
                   "Policy contains a statement that is not an object.");
}

/* A statement's members. */
static void malformed_statements(void **state)
{
    (void)state;
    expect_invalid(ST(",\"Foo\":1"), true, CL_EFORMAT, MPD,
                   "Policy contains a statement with an unknown field: Foo");
    expect_invalid(ST(",\"Sid\":1"), true, CL_EFORMAT, MPD,
                   "Policy contains a statement whose Sid is not a string.");
    expect_invalid(V "[{\"Sid\":\"A\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*"
                     "\",\"Resource\":\"*\"},"
                     "{\"Sid\":\"A\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:*\","
                     "\"Resource\":\"*\"}]}",
                   true, CL_EFORMAT, MPD, "Policy contains statements with the same Sid: A");
    expect_invalid(V "[{\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}", true,
                   CL_EFORMAT, MPD, "Policy contains a statement with no Effect.");
    expect_invalid(
        V "[{\"Effect\":\"allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
        true, CL_EFORMAT, MPD,
        "Policy contains a statement with an invalid Effect (Allow or Deny).");
    expect_invalid(V "[{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}", true,
                   CL_EFORMAT, MPD, "Policy contains a statement with no principal.");
    expect_invalid(ST(",\"NotPrincipal\":\"*\""), true, CL_EFORMAT, MPD,
                   "Policy contains a statement with both Principal and NotPrincipal.");
}

/* Invalid principals (AWS KMS's own message). */
static void invalid_principals(void **state)
{
    (void)state;
    static const char *bad_principals[] = {
        "\"alice\"",
        "{}",
        "{\"AWS\":\"alice\"}",
        "{\"AWS\":\"12345\"}",
        "{\"AWS\":[]}",
        "{\"AWS\":\"arn:aws:iam::" ACCT ":group/admins\"}",
        "{\"AWS\":\"arn:aws:iam::" ACCT ":user/*\"}",
        "{\"AWS\":\"arn:aws:iam::abc:user/x\"}",
        "{\"AWS\":\"arn:aws:iam:us-east-1:" ACCT ":user/x\"}",
        "{\"AWS\":\"arn:aws:s3:::" ACCT ":bucket\"}",
        "{\"AWS\":\"arn:aws:sts::" ACCT ":assumed-role/r\"}",
        "{\"AWS\":\"arn:aws:iam::" ACCT ":user/\"}",
        "{\"AWS\":5}",
        "{\"Service\":\"ec2\"}",
        "{\"Foo\":\"x\"}",
        "{\"AWS\":[\"" ALICE "\",7]}",
    };
    for (size_t i = 0; i < sizeof(bad_principals) / sizeof(bad_principals[0]); i++) {
        char text[512];
        snprintf(
            text, sizeof(text),
            V "[{\"Effect\":\"Allow\",\"Principal\":%s,\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
            bad_principals[i]);
        expect_invalid(text, true, CL_EFORMAT, MPD,
                       "Policy contains a statement with one or more invalid principals.");
    }
    /* Identity policies must not name a principal. */
    expect_invalid(ST(""), false, CL_EFORMAT, MPD,
                   "Policy document should not specify a principal.");
}

/* Action, Resource and their Not- forms. */
static void invalid_actions_and_resources(void **state)
{
    (void)state;
    expect_invalid(ST(",\"NotAction\":\"kms:Encrypt\""), true, CL_EFORMAT, MPD,
                   "Policy contains a statement with both Action and NotAction.");
    expect_invalid(ST(",\"NotResource\":\"*\""), true, CL_EFORMAT, MPD,
                   "Policy contains a statement with both Resource and NotResource.");
    expect_invalid(
        V "[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms\",\"Resource\":\"*\"}]}",
        true, CL_EFORMAT, MPD, "Policy contains a statement with an invalid action: kms");
    expect_invalid(
        V "[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:a:b\",\"Resource\":\"*\"}]}",
        true, CL_EFORMAT, MPD, "Policy contains a statement with an invalid action: kms:a:b");
    expect_invalid(V "[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:En "
                     "crypt\",\"Resource\":\"*\"}]}",
                   true, CL_EFORMAT, MPD,
                   "Policy contains a statement with an invalid action: kms:En crypt");
    expect_invalid(
        V "[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[],\"Resource\":\"*\"}]}", true,
        CL_EFORMAT, MPD,
        "Policy contains a statement whose Action is not a string or a non-empty list of strings.");
    expect_invalid(
        V "[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":{}}]}",
        true, CL_EFORMAT, MPD,
        "Policy contains a statement whose Resource is not a string or a non-empty list of "
        "strings.");
    expect_invalid(
        V
        "[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"key/1\"}]}",
        true, CL_EFORMAT, MPD, "Policy contains a statement with an invalid resource: key/1");
}

/* Condition: operators, keys, values. */
static void invalid_conditions(void **state)
{
    (void)state;
    expect_invalid(ST(",\"Condition\":[]"), true, CL_EFORMAT, MPD,
                   "Policy contains a statement whose Condition is not an object.");
    expect_invalid(ST(",\"Condition\":{\"StringEqualz\":{\"a:b\":\"c\"}}"), true, CL_EFORMAT, MPD,
                   "Policy contains a condition with an invalid operator: StringEqualz");
    expect_invalid(ST(",\"Condition\":{\"NullIfExists\":{\"a:b\":\"true\"}}"), true, CL_EFORMAT,
                   MPD, "Policy contains a condition with an invalid operator: NullIfExists");
    expect_invalid(
        ST(",\"Condition\":{\"ForSomeValues:StringEquals\":{\"a:b\":\"c\"}}"), true, CL_EFORMAT,
        MPD, "Policy contains a condition with an invalid operator: ForSomeValues:StringEquals");
    expect_invalid(ST(",\"Condition\":{\"StringEquals\":{}}"), true, CL_EFORMAT, MPD,
                   "Policy contains a condition operator StringEquals without condition keys.");
    expect_invalid(ST(",\"Condition\":{\"StringEquals\":{\"nocolon\":\"c\"}}"), true, CL_EFORMAT,
                   MPD, "Policy contains a condition with an invalid key: nocolon");
    expect_invalid(ST(",\"Condition\":{\"StringEquals\":{\"a:b\":[]}}"), true, CL_EFORMAT, MPD,
                   "Policy contains a condition with an empty list of values for a:b.");
    expect_invalid(ST(",\"Condition\":{\"StringEquals\":{\"a:b\":{\"x\":1}}}"), true, CL_EFORMAT,
                   MPD, "Policy contains a condition with an invalid value for a:b.");
    expect_invalid(ST(",\"Condition\":{\"NumericLessThan\":{\"a:b\":\"ten\"}}"), true, CL_EFORMAT,
                   MPD,
                   "Policy contains a condition with an invalid value for NumericLessThan: ten");
    expect_invalid(ST(",\"Condition\":{\"DateLessThan\":{\"aws:CurrentTime\":\"yesterday\"}}"),
                   true, CL_EFORMAT, MPD,
                   "Policy contains a condition with an invalid value for DateLessThan: yesterday");
    expect_invalid(ST(",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/33\"}}"), true,
                   CL_EFORMAT, MPD,
                   "Policy contains a condition with an invalid value for IpAddress: 10.0.0.0/33");
    expect_invalid(ST(",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"yes\"}}"), true,
                   CL_EFORMAT, MPD,
                   "Policy contains a condition with an invalid value for Bool: yes");
    expect_invalid(ST(",\"Condition\":{\"Null\":{\"a:b\":\"maybe\"}}"), true, CL_EFORMAT, MPD,
                   "Policy contains a condition with an invalid value for Null: maybe");
    expect_invalid(ST(",\"Condition\":{\"ForAllValues:StringEquals\":{\"kms:EncryptionContext:"
                      "Dept\":\"HR\"}}"),
                   true, CL_EFORMAT, MPD,
                   "Policy contains an overly permissive condition: ForAllValues with the "
                   "single-valued key kms:EncryptionContext:Dept.");
}

/* Accepted: a statement without Action/Resource, all Principal kinds,
 * ForAllValues with kms:EncryptionContext in a Deny. */
static void accepted_documents(void **state)
{
    (void)state;
    struct policy *p = parse_ok(V "[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"" ACCT
                                  "\",\"" SESSION "\",\"" ROLE "\",\"*\"],"
                                  "\"Service\":\"kms.amazonaws.com\"}}]}",
                                true);
    assert_int_equal(policy_statement_count(p), 1);
    assert_null(policy_statement_sid(p, 0));
    policy_free(p);
    p = parse_ok(
        V "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\","
          "\"Condition\":{\"ForAllValues:StringEquals\":{\"kms:EncryptionContext:Dept\":\"HR\"}}}}",
        true);
    policy_free(p);
}

static bool only_alice_exists(void *arg, const char *arn)
{
    (void)arg;
    return strcmp(arn, ALICE) == 0;
}

static void principal_existence_callback(void **state)
{
    (void)state;
    struct policy_parse_opts o = { .key_policy = true, .principal_exists = only_alice_exists };
    struct policy *p = NULL;
    struct cl_error err = { 0 };
    const char *ok = one("Allow", "{\"AWS\":[\"" ALICE "\",\"" ROOT "\",\"" SESSION "\"]}",
                         "\"kms:*\"", "\"*\"", NULL);
    assert_int_equal(policy_parse(ok, strlen(ok), &o, &p, &err), 0);
    policy_free(p);
    const char *bad = one("Allow", "{\"AWS\":\"" BOB "\"}", "\"kms:*\"", "\"*\"", NULL);
    assert_int_equal(policy_parse(bad, strlen(bad), &o, &p, &err), CL_EFORMAT);
    assert_string_equal(err.reason,
                        "Policy contains a statement with one or more invalid principals.");
}

static void lockout_check(void **state)
{
    (void)state;
    struct policy_request alice = { .principal_arn = ALICE, .account = ACCT, .resource_arn = KEY };
    struct policy_request root = {
        .principal_arn = ROOT, .account = ACCT, .is_account_root = true, .resource_arn = KEY
    };
    struct cl_error err = { 0 };
    struct policy *p = NULL;
    char *def = policy_default_text("aws", ACCT);
    /* The default policy keeps the root user (and IAM) in control. */
    assert_int_equal(policy_validate_key_policy(def, strlen(def), NULL, &root, false, &p, &err), 0);
    assert_non_null(p);
    policy_free(p);
    /* Alice without an identity policy would lock herself out. */
    assert_int_equal(policy_validate_key_policy(def, strlen(def), NULL, &alice, false, &p, &err),
                     CL_EFORMAT);
    assert_string_equal(
        err.reason,
        "The new key policy will not allow you to update the key policy in the future.");
    assert_string_equal(policy_error_type(CL_EFORMAT), "MalformedPolicyDocumentException");
    assert_null(p);
    /* With an identity policy allowing kms:PutKeyPolicy she does not. */
    struct policy *ip = parse_ok("{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                                 "\"Action\":\"kms:PutKeyPolicy\",\"Resource\":\"*\"}}",
                                 false);
    const struct policy *ips[1] = { ip };
    alice.identity_policies = ips;
    alice.n_identity = 1;
    cl_error_clear(&err);
    assert_int_equal(policy_validate_key_policy(def, strlen(def), NULL, &alice, false, NULL, &err),
                     0);
    /* A policy naming only Bob locks Alice out; bypass lets it through. */
    const char *bob_only = one("Allow", "{\"AWS\":\"" BOB "\"}", "\"kms:*\"", "\"*\"", NULL);
    assert_int_equal(
        policy_validate_key_policy(bob_only, strlen(bob_only), NULL, &alice, false, NULL, &err),
        CL_EFORMAT);
    assert_string_equal(
        err.reason,
        "The new key policy will not allow you to update the key policy in the future.");
    cl_error_clear(&err);
    assert_int_equal(
        policy_validate_key_policy(bob_only, strlen(bob_only), NULL, &alice, true, NULL, &err), 0);
    /* A Deny of kms:PutKeyPolicy also locks out. */
    const char *deny_put =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE
        "\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},"
        "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:Put*\",\"Resource\":\"*\"}]}";
    assert_int_equal(
        policy_validate_key_policy(deny_put, strlen(deny_put), NULL, &alice, false, NULL, &err),
        CL_EFORMAT);
    /* A malformed policy fails on parsing before the check. */
    cl_error_clear(&err);
    assert_int_equal(policy_validate_key_policy("{}", 2, NULL, &alice, false, NULL, &err),
                     CL_EFORMAT);
    assert_string_equal(err.reason, "Policy is missing the Version field.");
    policy_free(ip);
    free(def);
}

static void request_validation(void **state)
{
    (void)state;
    struct policy_request req = { .action = "kms:Decrypt", .account = ACCT };
    struct policy_result res;
    struct cl_error err = { 0 };
    assert_int_equal(policy_evaluate(NULL, &req, &res, &err), CL_EINVAL);
    assert_string_equal(err.reason, "policy request lacks action, principal or account");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validation_errors),
        cmocka_unit_test(malformed_documents),
        cmocka_unit_test(malformed_statements),
        cmocka_unit_test(invalid_principals),
        cmocka_unit_test(invalid_actions_and_resources),
        cmocka_unit_test(invalid_conditions),
        cmocka_unit_test(accepted_documents),
        cmocka_unit_test(principal_existence_callback),
        cmocka_unit_test(lockout_check),
        cmocka_unit_test(request_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
