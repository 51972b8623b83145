/* SPDX-License-Identifier: Apache-2.0 */
/* Key policy engine: parsing, evaluation semantics (docs/kms-policy.md,
 * "Evaluation", "Conditions"), explain output. Validation messages:
 * policy_validate_test.c. */
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

#define ACCT "111122223333"
#define ROOT "arn:aws:iam::" ACCT ":root"
#define ALICE "arn:aws:iam::" ACCT ":user/alice"
#define BOB "arn:aws:iam::" ACCT ":user/bob"
#define ROLE "arn:aws:iam::" ACCT ":role/enclave_role"
#define SESSION "arn:aws:sts::" ACCT ":assumed-role/enclave_role/i-09654650371b8eff3"
#define KEY "arn:aws:kms:us-east-1:" ACCT ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
#define PCR0 "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define PCR0_UPPER "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90"
#define ZEROS "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

static struct policy *parse_ok(const char *text, bool key_policy)
{
    struct policy_parse_opts o = {.key_policy = key_policy};
    struct policy *p = NULL;
    struct cl_error err = {0};
    int rc = policy_parse(text, strlen(text), &o, &p, &err);
    if (rc != 0)
        fail_msg("policy did not parse: %s\n%s", err.reason, text);
    return p;
}

/* Evaluates action for principal under key policy text (NULL: key-less),
 * optional identity policy text, and a context of "key=value" strings. */
static enum policy_decision eval_full(const char *key_policy, const char *identity,
                                      const char *action, const char *principal,
                                      const char *const *ctx_kv, struct policy_result *res)
{
    struct policy *kp = key_policy ? parse_ok(key_policy, true) : NULL;
    struct policy *ip = identity ? parse_ok(identity, false) : NULL;
    struct policy_context *ctx = NULL;
    assert_int_equal(policy_context_new(&ctx, NULL), 0);
    for (size_t i = 0; ctx_kv && ctx_kv[i]; i++) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", ctx_kv[i]);
        char *eq = strchr(buf, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(policy_context_add(ctx, buf, eq + 1, NULL), 0);
    }
    const struct policy *ips[1] = {ip};
    struct policy_request req = {
        .action = action,
        .principal_arn = principal,
        .account = ACCT,
        .is_account_root = strcmp(principal, ROOT) == 0,
        .resource_arn = KEY,
        .identity_policies = ips,
        .n_identity = ip ? 1 : 0,
        .context = ctx,
    };
    struct policy_result local;
    if (!res)
        res = &local;
    struct cl_error err = {0};
    assert_int_equal(policy_evaluate(kp, &req, res, &err), 0);
    policy_context_free(ctx);
    policy_free(kp);
    policy_free(ip);
    return res->decision;
}

static enum policy_decision eval(const char *key_policy, const char *action, const char *principal,
                                 const char *const *ctx_kv)
{
    return eval_full(key_policy, NULL, action, principal, ctx_kv, NULL);
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

/* An Allow of kms:Decrypt to alice with one condition. */
static const char *allow_if(const char *condition)
{
    return one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:Decrypt\"", "\"*\"", condition);
}

#define ALLOWED(...) assert_int_equal(__VA_ARGS__, POLICY_ALLOW)
#define IMPLICIT(...) assert_int_equal(__VA_ARGS__, POLICY_DENY_IMPLICIT)
#define EXPLICIT(...) assert_int_equal(__VA_ARGS__, POLICY_DENY_EXPLICIT)
#define CTX(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *IDENTITY_KMS_ALL =
    "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}";

/* ---------------------------------------------------------------------- */

static void default_policy_text_and_delegation(void **state)
{
    (void)state;
    char *text = policy_default_text("aws", ACCT);
    assert_non_null(text);
    assert_string_equal(text, "{\n"
                              "  \"Version\" : \"2012-10-17\",\n"
                              "  \"Id\" : \"key-default-1\",\n"
                              "  \"Statement\" : [ {\n"
                              "    \"Sid\" : \"Enable IAM User Permissions\",\n"
                              "    \"Effect\" : \"Allow\",\n"
                              "    \"Principal\" : {\n"
                              "      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n"
                              "    },\n"
                              "    \"Action\" : \"kms:*\",\n"
                              "    \"Resource\" : \"*\"\n"
                              "  } ]\n"
                              "}");
    struct policy_result res;
    /* The root user needs no identity policy. */
    ALLOWED(eval_full(text, NULL, "kms:Decrypt", ROOT, NULL, &res));
    assert_int_equal(res.statement_index, 0);
    assert_string_equal(res.sid, "Enable IAM User Permissions");
    /* Delegation: a user without an identity policy is implicitly denied... */
    IMPLICIT(eval_full(text, NULL, "kms:Decrypt", ALICE, NULL, &res));
    assert_string_equal(res.reason,
                        "Implicitly denied: statement 0 (Sid \"Enable IAM User Permissions\") of the key policy allows the caller's account (delegation to IAM) but no identity policy of " ALICE " allows kms:Decrypt");
    /* ...and allowed with one. */
    ALLOWED(eval_full(text, IDENTITY_KMS_ALL, "kms:Decrypt", ALICE, NULL, &res));
    assert_int_equal(res.source, POLICY_SOURCE_KEY);
    assert_int_equal(res.statement_index, 0);
    assert_int_equal(res.identity_policy_index, 0);
    assert_int_equal(res.identity_statement_index, 0);
    assert_non_null(strstr(res.reason, "which delegates to IAM"));
    /* An identity policy for another action does not help. */
    IMPLICIT(eval_full(text,
                       "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:Encrypt\",\"Resource\":\"*\"}}",
                       "kms:Decrypt", ALICE, NULL, NULL));
    /* An identity Deny is explicit. */
    EXPLICIT(eval_full(text,
                       "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"},"
                       "{\"Sid\":\"NoDecrypt\",\"Effect\":\"Deny\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}",
                       "kms:Decrypt", ALICE, NULL, &res));
    assert_int_equal(res.source, POLICY_SOURCE_IDENTITY);
    assert_string_equal(res.sid, "NoDecrypt");
    /* An identity policy alone, without the key policy's delegation, is ineffective. */
    IMPLICIT(eval_full(one("Allow", "{\"AWS\":\"" BOB "\"}", "\"kms:*\"", "\"*\"", NULL),
                       IDENTITY_KMS_ALL, "kms:Decrypt", ALICE, NULL, NULL));
    /* The identity policy's Resource must cover the key. */
    IMPLICIT(eval_full(text,
                       "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"arn:aws:kms:us-east-1:" ACCT ":key/other\"}}",
                       "kms:Decrypt", ALICE, NULL, NULL));
    free(text);
    /* Partition is honoured. */
    text = policy_default_text("aws-cn", ACCT);
    assert_non_null(strstr(text, "arn:aws-cn:iam::111122223333:root"));
    free(text);
}

static void principal_forms(void **state)
{
    (void)state;
    const char *p = one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:Decrypt\"", "\"*\"", NULL);
    ALLOWED(eval(p, "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(p, "kms:Decrypt", BOB, NULL));
    /* List of principals. */
    p = one("Allow", "{\"AWS\":[\"" BOB "\",\"" ALICE "\"]}", "\"kms:Decrypt\"", "\"*\"", NULL);
    ALLOWED(eval(p, "kms:Decrypt", ALICE, NULL));
    /* "*" and {"AWS": "*"}: anyone. */
    ALLOWED(eval(one("Allow", "\"*\"", "\"kms:Decrypt\"", "\"*\"", NULL), "kms:Decrypt", BOB, NULL));
    ALLOWED(eval(one("Allow", "{\"AWS\":\"*\"}", "\"kms:Decrypt\"", "\"*\"", NULL), "kms:Decrypt",
                 SESSION, NULL));
    /* The bare account id means the account principal (delegation). */
    p = one("Allow", "{\"AWS\":\"" ACCT "\"}", "\"kms:*\"", "\"*\"", NULL);
    ALLOWED(eval(p, "kms:Decrypt", ROOT, NULL));
    IMPLICIT(eval(p, "kms:Decrypt", ALICE, NULL));
    ALLOWED(eval_full(p, IDENTITY_KMS_ALL, "kms:Decrypt", ALICE, NULL, NULL));
    /* Another account's root does not cover our users. */
    p = one("Allow", "{\"AWS\":\"arn:aws:iam::999999999999:root\"}", "\"kms:*\"", "\"*\"", NULL);
    IMPLICIT(eval_full(p, IDENTITY_KMS_ALL, "kms:Decrypt", ALICE, NULL, NULL));
    /* Service principals never match an IAM caller. */
    p = one("Allow", "{\"Service\":\"ec2.amazonaws.com\"}", "\"kms:*\"", "\"*\"", NULL);
    IMPLICIT(eval(p, "kms:Decrypt", ALICE, NULL));
}

static void assumed_role_sessions(void **state)
{
    (void)state;
    struct policy_result res;
    const char *p = one("Allow", "{\"AWS\":\"" ROLE "\"}", "\"kms:Decrypt\"", "\"*\"", NULL);
    ALLOWED(eval_full(p, NULL, "kms:Decrypt", SESSION, NULL, &res));
    assert_non_null(strstr(res.reason, "is the role of the caller's session"));
    ALLOWED(eval(p, "kms:Decrypt", "arn:aws:sts::" ACCT ":assumed-role/enclave_role/other", NULL));
    /* Another role's session, a prefix of the name, another account: no. */
    IMPLICIT(eval(p, "kms:Decrypt", "arn:aws:sts::" ACCT ":assumed-role/enclave_role2/s", NULL));
    IMPLICIT(eval(p, "kms:Decrypt", "arn:aws:sts::" ACCT ":assumed-role/enclave/s", NULL));
    IMPLICIT(eval(p, "kms:Decrypt", "arn:aws:sts::999999999999:assumed-role/enclave_role/s", NULL));
    /* A role with a path matches sessions by role name. */
    p = one("Allow", "{\"AWS\":\"arn:aws:iam::" ACCT ":role/team/enclave_role\"}", "\"kms:Decrypt\"",
            "\"*\"", NULL);
    ALLOWED(eval(p, "kms:Decrypt", SESSION, NULL));
    /* Naming the session ARN itself matches exactly that session. */
    p = one("Allow", "{\"AWS\":\"" SESSION "\"}", "\"kms:Decrypt\"", "\"*\"", NULL);
    ALLOWED(eval(p, "kms:Decrypt", SESSION, NULL));
    IMPLICIT(eval(p, "kms:Decrypt", "arn:aws:sts::" ACCT ":assumed-role/enclave_role/x", NULL));
}

static void explicit_deny_wins(void **state)
{
    (void)state;
    struct policy_result res;
    const char *p =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"All\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE "\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},"
        "{\"Sid\":\"NoDecrypt\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}";
    EXPLICIT(eval_full(p, NULL, "kms:Decrypt", ALICE, NULL, &res));
    assert_int_equal(res.statement_index, 1);
    assert_string_equal(res.sid, "NoDecrypt");
    assert_int_equal(res.source, POLICY_SOURCE_KEY);
    assert_string_equal(res.reason,
                        "Explicitly denied by statement 1 (Sid \"NoDecrypt\") of the key policy: Principal * is \"*\" (anyone); kms:Decrypt matches Action \"kms:Decrypt\"; resource matches \"*\"");
    ALLOWED(eval(p, "kms:Encrypt", ALICE, NULL));
    /* A Deny naming the account applies to every principal of it, even the root user. */
    p = "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"},"
        "{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"" ACCT "\"},\"Action\":\"kms:Sign\",\"Resource\":\"*\"}]}";
    EXPLICIT(eval(p, "kms:Sign", ALICE, NULL));
    EXPLICIT(eval(p, "kms:Sign", ROOT, NULL));
    EXPLICIT(eval(p, "kms:Sign", SESSION, NULL));
    ALLOWED(eval(p, "kms:Verify", SESSION, NULL));
    /* Deny in the key policy beats an identity Allow too. */
    EXPLICIT(eval_full(p, IDENTITY_KMS_ALL, "kms:Sign", ALICE, NULL, NULL));
}

static void not_principal(void **state)
{
    (void)state;
    const char *p =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"},"
        "{\"Effect\":\"Deny\",\"NotPrincipal\":{\"AWS\":[\"" ALICE "\",\"" ROLE "\"]},\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}";
    ALLOWED(eval(p, "kms:Decrypt", ALICE, NULL));
    ALLOWED(eval(p, "kms:Decrypt", SESSION, NULL));
    EXPLICIT(eval(p, "kms:Decrypt", BOB, NULL));
    /* Allow with NotPrincipal: everyone else is named directly. */
    const char *np = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                     "\"NotPrincipal\":{\"AWS\":\"" BOB "\"},\"Action\":\"kms:Encrypt\",\"Resource\":\"*\"}]}";
    ALLOWED(eval(np, "kms:Encrypt", ALICE, NULL));
    IMPLICIT(eval(np, "kms:Encrypt", BOB, NULL));
}

static void actions_and_wildcards(void **state)
{
    (void)state;
    const char *p = one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:Gen*\"", "\"*\"", NULL);
    ALLOWED(eval(p, "kms:GenerateDataKey", ALICE, NULL));
    ALLOWED(eval(p, "kms:GenerateRandom", ALICE, NULL));
    IMPLICIT(eval(p, "kms:Decrypt", ALICE, NULL));
    /* Case-insensitive, "?" one character, "*" alone. */
    ALLOWED(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"KMS:decrypt\"", "\"*\"", NULL),
                 "kms:Decrypt", ALICE, NULL));
    ALLOWED(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:?ncrypt\"", "\"*\"", NULL),
                 "kms:Encrypt", ALICE, NULL));
    IMPLICIT(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:?ncrypt\"", "\"*\"", NULL),
                  "kms:Decrypt", ALICE, NULL));
    ALLOWED(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"*\"", "\"*\"", NULL), "kms:Sign",
                 ALICE, NULL));
    ALLOWED(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "[\"kms:Encrypt\",\"kms:ReEncrypt*\"]",
                     "\"*\"", NULL),
                 "kms:ReEncryptFrom", ALICE, NULL));
    /* kms:* does not cover other services. */
    IMPLICIT(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:*\"", "\"*\"", NULL),
                  "s3:GetObject", ALICE, NULL));
    /* NotAction. */
    p = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE
        "\"},\"NotAction\":[\"kms:Decrypt\",\"kms:Schedule*\"],\"Resource\":\"*\"}]}";
    ALLOWED(eval(p, "kms:Encrypt", ALICE, NULL));
    IMPLICIT(eval(p, "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(p, "kms:ScheduleKeyDeletion", ALICE, NULL));
    /* A statement without Action has no effect (KMS still stores it). */
    p = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Resource\":\"*\"}]}";
    IMPLICIT(eval(p, "kms:Encrypt", ALICE, NULL));
}

static void resources(void **state)
{
    (void)state;
    ALLOWED(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:*\"", "\"" KEY "\"", NULL),
                 "kms:Decrypt", ALICE, NULL));
    ALLOWED(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:*\"",
                     "\"arn:aws:kms:*:" ACCT ":key/*\"", NULL),
                 "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(one("Allow", "{\"AWS\":\"" ALICE "\"}", "\"kms:*\"",
                      "\"arn:aws:kms:us-west-2:" ACCT ":key/*\"", NULL),
                  "kms:Decrypt", ALICE, NULL));
    const char *p = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE
                    "\"},\"Action\":\"kms:*\",\"NotResource\":\"arn:aws:kms:*:*:key/1234*\"}]}";
    IMPLICIT(eval(p, "kms:Decrypt", ALICE, NULL));
    p = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE
        "\"},\"Action\":\"kms:*\",\"NotResource\":\"arn:aws:kms:*:*:key/9999*\"}]}";
    ALLOWED(eval(p, "kms:Decrypt", ALICE, NULL));
    /* Without Resource the statement has no effect. */
    p = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\"}]}";
    IMPLICIT(eval(p, "kms:Decrypt", ALICE, NULL));
}

static void string_operators(void **state)
{
    (void)state;
    const char *c;
    c = allow_if("{\"StringEquals\":{\"kms:CallerAccount\":\"" ACCT "\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL)); /* derived from the caller */
    c = allow_if("{\"StringEquals\":{\"kms:EncryptionContext:Dept\":[\"HR\",\"IT\"]}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=IT")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=it")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, NULL)); /* missing: false */
    /* The key part of kms:EncryptionContext:<key> is case-insensitive. */
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:encryptioncontext:dept=HR")));

    c = allow_if("{\"StringNotEquals\":{\"kms:EncryptionContext:Dept\":\"HR\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=IT")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=HR")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL)); /* negated, missing: true */

    c = allow_if("{\"StringEqualsIgnoreCase\":{\"kms:EncryptionContext:Dept\":\"hr\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=HR")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=HRX")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, NULL));

    c = allow_if("{\"StringNotEqualsIgnoreCase\":{\"kms:EncryptionContext:Dept\":\"hr\"}}");
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=HR")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=IT")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL));

    c = allow_if("{\"StringLike\":{\"kms:RequestAlias\":[\"alias/app-*\",\"alias/x?z\"]}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:RequestAlias=alias/app-prod")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:RequestAlias=alias/xyz")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:RequestAlias=alias/xyyz")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:RequestAlias=alias/App-prod"))); /* case-sensitive */
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, NULL));

    c = allow_if("{\"StringNotLike\":{\"aws:PrincipalArn\":\"*:user/b*\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL)); /* aws:PrincipalArn derived */
    c = one("Allow", "\"*\"", "\"kms:Decrypt\"", "\"*\"",
            "{\"StringNotLike\":{\"aws:PrincipalArn\":\"*:user/b*\"}}");
    IMPLICIT(eval(c, "kms:Decrypt", BOB, NULL));
    c = allow_if("{\"StringNotLike\":{\"kms:RequestAlias\":\"alias/secret*\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL)); /* negated, missing: true */

    /* Several keys under one operator are AND-ed, several operators too. */
    c = allow_if("{\"StringEquals\":{\"kms:EncryptionContext:A\":\"1\",\"kms:EncryptionContext:B\":\"2\"},"
                 "\"StringLike\":{\"kms:RequestAlias\":\"alias/*\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE,
                 CTX("kms:EncryptionContext:A=1", "kms:EncryptionContext:B=2",
                     "kms:RequestAlias=alias/k")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE,
                  CTX("kms:EncryptionContext:A=1", "kms:EncryptionContext:B=3",
                      "kms:RequestAlias=alias/k")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE,
                  CTX("kms:EncryptionContext:A=1", "kms:EncryptionContext:B=2")));
}

static void if_exists_forms(void **state)
{
    (void)state;
    const char *c = allow_if("{\"StringEqualsIfExists\":{\"kms:EncryptionContext:Dept\":\"HR\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL)); /* missing: true */
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=HR")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=IT")));
    /* The anti-pattern: ...IfExists lets non-attested calls in (a missing key
     * makes an IfExists condition true). */
    c = allow_if("{\"StringEqualsIgnoreCaseIfExists\":{\"kms:RecipientAttestation:PCR0\":\"" PCR0_UPPER "\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:RecipientAttestation:PCR0=" ZEROS)));
    c = allow_if("{\"NumericLessThanIfExists\":{\"kms:ScheduleKeyDeletionPendingWindowInDays\":\"10\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:ScheduleKeyDeletionPendingWindowInDays=30")));
    c = allow_if("{\"BoolIfExists\":{\"aws:SecureTransport\":\"true\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("aws:SecureTransport=false")));
    c = allow_if("{\"StringNotEqualsIfExists\":{\"kms:EncryptionContext:Dept\":\"HR\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContext:Dept=HR")));
    c = allow_if("{\"IpAddressIfExists\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=192.0.2.1")));
}

static void bool_and_null(void **state)
{
    (void)state;
    const char *c = allow_if("{\"Bool\":{\"aws:SecureTransport\":\"true\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:SecureTransport=true")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:SecureTransport=TRUE")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("aws:SecureTransport=false")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, NULL)); /* missing: false */
    c = allow_if("{\"Bool\":{\"aws:SecureTransport\":false}}"); /* a JSON boolean */
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:SecureTransport=false")));

    c = allow_if("{\"Null\":{\"kms:RecipientAttestation:ImageSha384\":\"true\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:RecipientAttestation:ImageSha384=" PCR0)));
    c = allow_if("{\"Null\":{\"kms:RecipientAttestation:ImageSha384\":\"false\"}}");
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, NULL));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:RecipientAttestation:ImageSha384=" PCR0)));
}

static void numeric_operators(void **state)
{
    (void)state;
    static const struct {
        const char *op;
        bool lt, eq, gt; /* context 5, 7, 9 against policy 7 */
    } cases[] = {
        {"NumericEquals", false, true, false},
        {"NumericNotEquals", true, false, true},
        {"NumericLessThan", true, false, false},
        {"NumericLessThanEquals", true, true, false},
        {"NumericGreaterThan", false, false, true},
        {"NumericGreaterThanEquals", false, true, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cond[256];
        snprintf(cond, sizeof(cond), "{\"%s\":{\"kms:ScheduleKeyDeletionPendingWindowInDays\":\"7\"}}",
                 cases[i].op);
        const char *c = allow_if(cond);
        static char pol[sizeof(g_buf)];
        snprintf(pol, sizeof(pol), "%s", c);
        assert_int_equal(eval(pol, "kms:Decrypt", ALICE, CTX("kms:ScheduleKeyDeletionPendingWindowInDays=5")),
                         cases[i].lt ? POLICY_ALLOW : POLICY_DENY_IMPLICIT);
        assert_int_equal(eval(pol, "kms:Decrypt", ALICE, CTX("kms:ScheduleKeyDeletionPendingWindowInDays=7")),
                         cases[i].eq ? POLICY_ALLOW : POLICY_DENY_IMPLICIT);
        assert_int_equal(eval(pol, "kms:Decrypt", ALICE, CTX("kms:ScheduleKeyDeletionPendingWindowInDays=9")),
                         cases[i].gt ? POLICY_ALLOW : POLICY_DENY_IMPLICIT);
        /* Missing key: negated NumericNotEquals true, the others false. */
        assert_int_equal(eval(pol, "kms:Decrypt", ALICE, NULL),
                         strcmp(cases[i].op, "NumericNotEquals") == 0 ? POLICY_ALLOW
                                                                      : POLICY_DENY_IMPLICIT);
    }
    /* JSON numbers and decimals. */
    ALLOWED(eval(allow_if("{\"NumericLessThan\":{\"kms:ScheduleKeyDeletionPendingWindowInDays\":7.5}}"),
                 "kms:Decrypt", ALICE, CTX("kms:ScheduleKeyDeletionPendingWindowInDays=7")));
    /* A non-numeric request value never matches. */
    IMPLICIT(eval(allow_if("{\"NumericEquals\":{\"kms:ScheduleKeyDeletionPendingWindowInDays\":7}}"),
                  "kms:Decrypt", ALICE, CTX("kms:ScheduleKeyDeletionPendingWindowInDays=seven")));
}

static void date_operators(void **state)
{
    (void)state;
    const char *c = allow_if("{\"DateGreaterThan\":{\"aws:CurrentTime\":\"2024-01-01T00:00:00Z\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:CurrentTime=2025-06-01T12:00:00Z")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("aws:CurrentTime=2023-12-31T23:59:59Z")));
    c = allow_if("{\"DateLessThan\":{\"aws:CurrentTime\":\"1704067200\"}}"); /* epoch form */
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:CurrentTime=2023-12-31")));
}

static void ip_operators(void **state)
{
    (void)state;
    const char *c = allow_if("{\"IpAddress\":{\"aws:SourceIp\":[\"192.0.2.0/24\",\"2001:db8::/32\",\"203.0.113.7\"]}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=192.0.2.44")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=2001:db8:1::5")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=203.0.113.7")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=203.0.113.8")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=192.0.3.1")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=2001:db9::1")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, NULL));
    c = allow_if("{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=192.0.2.1")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("aws:SourceIp=10.1.2.3")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL)); /* negated, missing: true */
    /* /0 matches every address of its family. */
    ALLOWED(eval(allow_if("{\"IpAddress\":{\"aws:SourceIp\":\"0.0.0.0/0\"}}"), "kms:Decrypt", ALICE,
                 CTX("aws:SourceIp=127.0.0.1")));
}

static void set_operators(void **state)
{
    (void)state;
    const char *c = allow_if("{\"ForAnyValue:StringEquals\":{\"kms:EncryptionContextKeys\":[\"Dept\",\"Project\"]}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=Other", "kms:EncryptionContextKeys=Dept")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=Other")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, NULL)); /* ForAnyValue, missing: false */

    c = allow_if("{\"ForAllValues:StringEquals\":{\"kms:EncryptionContextKeys\":[\"Dept\",\"Project\"]}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=Dept", "kms:EncryptionContextKeys=Project")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=Dept")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=Dept", "kms:EncryptionContextKeys=Other")));
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL)); /* ForAllValues, missing: true */

    c = allow_if("{\"ForAnyValue:StringLike\":{\"kms:EncryptionContextKeys\":\"app-*\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=x", "kms:EncryptionContextKeys=app-1")));
    /* ForAllValues with a negated operator: no value may match. */
    c = allow_if("{\"ForAllValues:StringNotEquals\":{\"kms:EncryptionContextKeys\":\"Secret\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=A", "kms:EncryptionContextKeys=B")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=A", "kms:EncryptionContextKeys=Secret")));
    /* ForAnyValue with a negated operator: some value outside the set. */
    c = allow_if("{\"ForAnyValue:StringNotEquals\":{\"kms:EncryptionContextKeys\":\"Secret\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=A", "kms:EncryptionContextKeys=Secret")));
    IMPLICIT(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=Secret")));
    /* ...IfExists combined with a set operator. */
    c = allow_if("{\"ForAnyValue:StringEqualsIfExists\":{\"kms:EncryptionContextKeys\":\"Dept\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, NULL));
    /* A single-valued operator on a multi-valued key: any value matching. */
    c = allow_if("{\"StringEquals\":{\"kms:EncryptionContextKeys\":\"Dept\"}}");
    ALLOWED(eval(c, "kms:Decrypt", ALICE, CTX("kms:EncryptionContextKeys=X", "kms:EncryptionContextKeys=Dept")));
}

/* The workshop's key policy (examples/data-processing/), phase 2 with the
 * PCR0 condition. */
static const char *WORKSHOP =
    "{\n"
    "  \"Version\": \"2012-10-17\",\n"
    "  \"Id\": \"key-consolepolicy-3\",\n"
    "  \"Statement\": [\n"
    "    {\"Sid\": \"Enable IAM User Permissions\", \"Effect\": \"Allow\",\n"
    "     \"Principal\": {\"AWS\": \"arn:aws:iam::" ACCT ":root\"}, \"Action\": \"kms:*\", \"Resource\": \"*\"},\n"
    "    {\"Sid\": \"Enable Cloud9 Environment to Encrypt\", \"Effect\": \"Allow\",\n"
    "     \"Principal\": {\"AWS\": \"" SESSION "\"}, \"Action\": \"kms:Encrypt\", \"Resource\": \"*\"},\n"
    "    {\"Sid\": \"Enable Cloud9 Environment to Decrypt\", \"Effect\": \"Allow\",\n"
    "     \"Principal\": {\"AWS\": \"" SESSION "\"}, \"Action\": \"kms:Decrypt\", \"Resource\": \"*\",\n"
    "     \"Condition\": {\"StringEqualsIgnoreCase\": {\"kms:RecipientAttestation:PCR0\": \"" PCR0_UPPER "\"}}}\n"
    "  ]\n"
    "}\n";

static void workshop_policy(void **state)
{
    (void)state;
    struct policy_result res;
    ALLOWED(eval_full(WORKSHOP, NULL, "kms:Encrypt", SESSION, NULL, &res));
    assert_string_equal(res.sid, "Enable Cloud9 Environment to Encrypt");
    /* The parent's own Decrypt (no Recipient): denied. */
    IMPLICIT(eval_full(WORKSHOP, NULL, "kms:Decrypt", SESSION, NULL, &res));
    assert_string_equal(res.reason,
                        "Implicitly denied: no statement of the key policy allows kms:Decrypt for " SESSION
                        " - statement 2 (Sid \"Enable Cloud9 Environment to Decrypt\") of the key policy: condition StringEqualsIgnoreCase on kms:RecipientAttestation:PCR0 is false: key absent from the request"
                        "; and statement 0 (Sid \"Enable IAM User Permissions\") of the key policy allows the caller's account (delegation to IAM) but no identity policy of " SESSION " allows kms:Decrypt");
    /* The production enclave (lowercase PCR0 in the context): allowed. */
    ALLOWED(eval_full(WORKSHOP, NULL, "kms:Decrypt", SESSION,
                      CTX("kms:RecipientAttestation:PCR0=" PCR0,
                          "kms:RecipientAttestation:ImageSha384=" PCR0),
                      &res));
    assert_int_equal(res.statement_index, 2);
    assert_string_equal(res.sid, "Enable Cloud9 Environment to Decrypt");
    assert_non_null(strstr(res.reason, "StringEqualsIgnoreCase on kms:RecipientAttestation:PCR0 true"));
    /* A debug-mode enclave (zeros) and a modified image: denied. */
    IMPLICIT(eval_full(WORKSHOP, NULL, "kms:Decrypt", SESSION,
                       CTX("kms:RecipientAttestation:PCR0=" ZEROS), &res));
    assert_non_null(strstr(res.reason, "statement 2 (Sid \"Enable Cloud9 Environment to Decrypt\") of the key policy: condition StringEqualsIgnoreCase on kms:RecipientAttestation:PCR0 is false: request value \"" ZEROS "\""));
    IMPLICIT(eval(WORKSHOP, "kms:Decrypt", SESSION,
                  CTX("kms:RecipientAttestation:PCR0=b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90")));
    /* The common mistake: an identity policy granting
     * kms:Decrypt through the root statement makes the condition moot. */
    ALLOWED(eval_full(WORKSHOP, IDENTITY_KMS_ALL, "kms:Decrypt", SESSION, NULL, NULL));
    /* StringEquals (case-sensitive) with an uppercase policy value never
     * matches our lowercase context values. */
    const char *strict = one("Allow", "{\"AWS\":\"" SESSION "\"}", "\"kms:Decrypt\"", "\"*\"",
                             "{\"StringEquals\":{\"kms:RecipientAttestation:ImageSha384\":\"" PCR0_UPPER "\"}}");
    IMPLICIT(eval(strict, "kms:Decrypt", SESSION, CTX("kms:RecipientAttestation:ImageSha384=" PCR0)));
}

static void attestation_deny_patterns(void **state)
{
    (void)state;
    struct policy_result res;
    /* Force attestation with an explicit Deny: negated operator, missing key -> deny. */
    const char *p =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ROLE "\"},\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"},"
        "{\"Sid\":\"RequireEnclave\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\","
        "\"Condition\":{\"StringNotEqualsIgnoreCase\":{\"kms:RecipientAttestation:ImageSha384\":\"" PCR0 "\"}}}]}";
    EXPLICIT(eval_full(p, NULL, "kms:Decrypt", SESSION, NULL, &res));
    assert_string_equal(res.sid, "RequireEnclave");
    assert_non_null(strstr(res.reason, "key absent from the request (negated operator: true)"));
    EXPLICIT(eval(p, "kms:Decrypt", SESSION, CTX("kms:RecipientAttestation:ImageSha384=" ZEROS)));
    ALLOWED(eval(p, "kms:Decrypt", SESSION, CTX("kms:RecipientAttestation:ImageSha384=" PCR0_UPPER)));
    /* The Null form. */
    p = "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ROLE "\"},\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"},"
        "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\","
        "\"Condition\":{\"Null\":{\"kms:RecipientAttestation:ImageSha384\":\"true\"}}}]}";
    EXPLICIT(eval(p, "kms:Decrypt", SESSION, NULL));
    ALLOWED(eval(p, "kms:Decrypt", SESSION, CTX("kms:RecipientAttestation:ImageSha384=" ZEROS)));
}

static void key_less_operations(void **state)
{
    (void)state;
    struct policy_result res;
    /* GenerateRandom has no key: only identity policies count. */
    ALLOWED(eval_full(NULL, IDENTITY_KMS_ALL, "kms:GenerateRandom", ALICE, NULL, &res));
    assert_int_equal(res.source, POLICY_SOURCE_IDENTITY);
    IMPLICIT(eval_full(NULL, NULL, "kms:GenerateRandom", ALICE, NULL, &res));
    assert_string_equal(res.reason, "Implicitly denied: no identity policy of " ALICE " allows kms:GenerateRandom");
    ALLOWED(eval_full(NULL, NULL, "kms:GenerateRandom", ROOT, NULL, NULL));
}

static void explain_json(void **state)
{
    (void)state;
    struct policy *kp = parse_ok(WORKSHOP, true);
    struct policy_context *ctx = NULL;
    assert_int_equal(policy_context_new(&ctx, NULL), 0);
    assert_int_equal(policy_context_add(ctx, "kms:RecipientAttestation:PCR0", ZEROS, NULL), 0);
    assert_int_equal(policy_context_add(ctx, "kms:EncryptionContext:secret", "s3cr3t-value", NULL), 0);
    struct policy_request req = {.action = "kms:Decrypt", .principal_arn = SESSION, .account = ACCT,
                                 .resource_arn = KEY, .context = ctx};
    struct policy_result res;
    char *out = NULL;
    assert_int_equal(policy_explain(kp, &req, &res, &out, NULL), 0);
    assert_non_null(out);
    assert_null(strstr(out, "s3cr3t-value"));
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "Decision")), "ImplicitDeny");
    assert_true(json_is_null(json_object_get(j, "DecidedBy")));
    json_t *st = json_object_get(j, "Statements");
    assert_int_equal(json_array_size(st), 3);
    json_t *s2 = json_array_get(st, 2);
    assert_string_equal(json_string_value(json_object_get(s2, "Sid")), "Enable Cloud9 Environment to Decrypt");
    assert_string_equal(json_string_value(json_object_get(s2, "Principal")), "match");
    assert_string_equal(json_string_value(json_object_get(s2, "Action")), "match");
    assert_false(json_is_true(json_object_get(s2, "Applies")));
    json_t *c0 = json_array_get(json_object_get(s2, "Conditions"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "Operator")), "StringEqualsIgnoreCase");
    assert_false(json_is_true(json_object_get(c0, "Result")));
    json_t *s0 = json_array_get(st, 0);
    assert_string_equal(json_string_value(json_object_get(s0, "Principal")), "account (needs an identity policy)");
    json_decref(j);
    free(out);

    /* Allowed: DecidedBy names the statement; encryption-context values are
     * not echoed even when a condition is about them. */
    const char *p = allow_if("{\"StringEquals\":{\"kms:EncryptionContext:secret\":\"s3cr3t-value\"}}");
    struct policy *kp2 = parse_ok(p, true);
    req.principal_arn = ALICE;
    assert_int_equal(policy_explain(kp2, &req, &res, &out, NULL), 0);
    j = json_loads(out, 0, &jerr);
    assert_string_equal(json_string_value(json_object_get(j, "Decision")), "Allow");
    json_t *by = json_object_get(j, "DecidedBy");
    assert_int_equal(json_integer_value(json_object_get(by, "Index")), 0);
    assert_string_equal(json_string_value(json_object_get(by, "Sid")), "S");
    /* The policy's own value appears once (from the policy); the request's is "not shown". */
    assert_non_null(strstr(out, "request value not shown"));
    assert_string_equal(res.reason,
                        "Allowed by statement 0 (Sid \"S\") of the key policy: Principal " ALICE " is the caller; kms:Decrypt matches Action \"kms:Decrypt\"; resource matches \"*\"; StringEquals on kms:EncryptionContext:secret true (request value not shown; policy value \"s3cr3t-value\")");
    json_t *rj = policy_result_json(&res);
    assert_string_equal(json_string_value(json_object_get(rj, "decision")), "Allow");
    assert_string_equal(json_string_value(json_object_get(rj, "source")), "key");
    assert_int_equal(json_integer_value(json_object_get(rj, "statement")), 0);
    assert_string_equal(json_string_value(json_object_get(rj, "sid")), "S");
    json_decref(rj);
    json_decref(j);
    free(out);
    policy_free(kp2);
    policy_free(kp);
    policy_context_free(ctx);
}

static void denied_messages(void **state)
{
    (void)state;
    struct policy_request req = {.action = "kms:Decrypt", .principal_arn = SESSION, .account = ACCT,
                                 .resource_arn = KEY};
    struct policy_result res = {.decision = POLICY_DENY_EXPLICIT, .source = POLICY_SOURCE_KEY};
    char buf[512];
    policy_denied_message(&req, &res, buf, sizeof(buf));
    assert_string_equal(buf, "User: " SESSION " is not authorized to perform: kms:Decrypt on resource: " KEY
                             " with an explicit deny in a resource-based policy");
    res.source = POLICY_SOURCE_IDENTITY;
    policy_denied_message(&req, &res, buf, sizeof(buf));
    assert_string_equal(buf, "User: " SESSION " is not authorized to perform: kms:Decrypt on resource: " KEY
                             " with an explicit deny in an identity-based policy");
    res.decision = POLICY_DENY_IMPLICIT;
    policy_denied_message(&req, &res, buf, sizeof(buf));
    assert_string_equal(buf, "User: " SESSION " is not authorized to perform: kms:Decrypt on resource: " KEY
                             " because no resource-based policy allows the kms:Decrypt action");
    req.resource_arn = NULL;
    req.action = "kms:GenerateRandom";
    policy_denied_message(&req, &res, buf, sizeof(buf));
    assert_string_equal(buf, "User: " SESSION " is not authorized to perform: kms:GenerateRandom because no identity-based policy allows the kms:GenerateRandom action");
}

static void context_api(void **state)
{
    (void)state;
    struct policy_context *c = NULL;
    assert_int_equal(policy_context_new(&c, NULL), 0);
    size_t n = 99;
    assert_null(policy_context_get(c, "kms:EncryptionContextKeys", &n));
    assert_int_equal(n, 0);
    assert_int_equal(policy_context_add(c, "kms:EncryptionContextKeys", "a", NULL), 0);
    assert_int_equal(policy_context_add(c, "KMS:ENCRYPTIONCONTEXTKEYS", "b", NULL), 0);
    const char *const *v = policy_context_get(c, "kms:encryptioncontextkeys", &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b");
    struct cl_error err = {0};
    assert_int_equal(policy_context_add(c, NULL, "x", &err), CL_EINVAL);
    policy_context_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_policy_text_and_delegation),
        cmocka_unit_test(principal_forms),
        cmocka_unit_test(assumed_role_sessions),
        cmocka_unit_test(explicit_deny_wins),
        cmocka_unit_test(not_principal),
        cmocka_unit_test(actions_and_wildcards),
        cmocka_unit_test(resources),
        cmocka_unit_test(string_operators),
        cmocka_unit_test(if_exists_forms),
        cmocka_unit_test(bool_and_null),
        cmocka_unit_test(numeric_operators),
        cmocka_unit_test(date_operators),
        cmocka_unit_test(ip_operators),
        cmocka_unit_test(set_operators),
        cmocka_unit_test(workshop_policy),
        cmocka_unit_test(attestation_deny_patterns),
        cmocka_unit_test(key_less_operations),
        cmocka_unit_test(explain_json),
        cmocka_unit_test(denied_messages),
        cmocka_unit_test(context_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
