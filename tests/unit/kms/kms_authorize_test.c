/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authorization through the server's entry point (kms_handle): a real key
 * policy stored with CreateKey decides for alice, who has no identity
 * policy; the AccessDeniedException messages in AWS's words; DryRun after
 * authorization; the decision in the audit line, with the encryption
 * context's keys and never its values; key policies validated on the way in.
 */
#include "kms_test_server.h"

static struct ts g;
static char g_key[37];
static char g_key_arn[128];

/* Admin through the account (the administrator's identity policy), alice
 * Encrypt with dept=hr only, and never ReEncrypt. */
static const char *const POLICY =
    "{\"Version\":\"2012-10-17\",\"Statement\":["
    "{\"Sid\":\"Admin\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" TS_ACCOUNT "\"},"
    "\"Action\":\"kms:*\",\"Resource\":\"*\"},"
    "{\"Sid\":\"AliceEncryptHR\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" TS_ALICE "\"},"
    "\"Action\":\"kms:Encrypt\",\"Resource\":\"*\","
    "\"Condition\":{\"StringEquals\":{\"kms:EncryptionContext:dept\":\"hr\"}}},"
    "{\"Sid\":\"NoReEncrypt\",\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"" TS_ALICE "\"},"
    "\"Action\":\"kms:ReEncrypt*\",\"Resource\":\"*\"}]}";

/* A policy as a JSON string member's value; malloc'd. */
static char *quoted(const char *policy)
{
    json_t *s = json_string(policy);
    char *q = json_dumps(s, JSON_ENCODE_ANY);
    json_decref(s);
    return q;
}

static int setup(void **state)
{
    (void)state;
    ts_start(&g, NULL);
    char *q = quoted(POLICY);
    ts_create_key(&g, q, g_key);
    free(q);
    snprintf(g_key_arn, sizeof(g_key_arn), "arn:aws:kms:" TS_REGION ":" TS_ACCOUNT ":key/%s",
             g_key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&g);
    return 0;
}

static void encrypt_body(char *body, size_t cap, const char *dept, bool dry_run)
{
    snprintf(body, cap,
             "{\"KeyId\": \"%s\", \"Plaintext\": \"c2VjcmV0\", \"EncryptionContext\": "
             "{\"dept\": \"%s\"}%s}",
             g_key, dept, dry_run ? ", \"DryRun\": true" : "");
}

static void key_policy_allows_with_condition(void **state)
{
    (void)state;
    char body[512];
    encrypt_body(body, sizeof(body), "hr", false);
    struct ts_answer a;
    ts_ok(&g, &g.alice, "Encrypt", body, &a);
    assert_string_equal(json_string_value(json_object_get(a.json, "KeyId")), g_key_arn);
    ts_answer_free(&a);
    json_t *line = ts_last_audit(&g);
    assert_string_equal(json_string_value(json_object_get(line, "principal")), TS_ALICE);
    assert_string_equal(json_string_value(json_object_get(line, "keyId")), g_key_arn);
    json_t *dec = json_array_get(json_object_get(line, "authorization"), 0);
    assert_string_equal(json_string_value(json_object_get(dec, "decision")), "Allow");
    assert_string_equal(json_string_value(json_object_get(dec, "source")), "key");
    assert_int_equal(json_integer_value(json_object_get(dec, "statement")), 1);
    assert_string_equal(json_string_value(json_object_get(dec, "sid")), "AliceEncryptHR");
    assert_string_equal(json_string_value(json_object_get(dec, "action")), "kms:Encrypt");
    json_t *keys = json_object_get(line, "encryptionContextKeys");
    assert_int_equal(json_array_size(keys), 1);
    assert_string_equal(json_string_value(json_array_get(keys, 0)), "dept");
    json_decref(line);
}

static void implicit_deny(void **state)
{
    (void)state;
    char body[512], msg[512];
    encrypt_body(body, sizeof(body), "it-secret-value", false);
    snprintf(msg, sizeof(msg),
             "User: " TS_ALICE " is not authorized to perform: kms:Encrypt on resource: %s "
             "because no resource-based policy allows the kms:Encrypt action",
             g_key_arn);
    ts_expect(&g, &g.alice, "Encrypt", body, "AccessDeniedException", msg);
    json_t *line = ts_last_audit(&g);
    json_t *dec = json_array_get(json_object_get(line, "authorization"), 0);
    assert_string_equal(json_string_value(json_object_get(dec, "decision")), "ImplicitDeny");
    assert_true(json_is_null(json_object_get(line, "errorMessage")) == false);
    /* the context's keys are logged, never its values */
    char *text = json_dumps(line, JSON_COMPACT);
    assert_null(strstr(text, "it-secret-value"));
    assert_non_null(strstr(text, "\"encryptionContextKeys\":[\"dept\"]"));
    free(text);
    json_decref(line);
    /* no key policy statement names alice for Decrypt */
    snprintf(body, sizeof(body), "{\"CiphertextBlob\": \"AQID\", \"KeyId\": \"%s\"}", g_key);
    snprintf(msg, sizeof(msg),
             "User: " TS_ALICE " is not authorized to perform: kms:DescribeKey on resource: %s "
             "because no resource-based policy allows the kms:DescribeKey action",
             g_key_arn);
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\"}", g_key);
    ts_expect(&g, &g.alice, "DescribeKey", body, "AccessDeniedException", msg);
}

static void explicit_deny(void **state)
{
    (void)state;
    char body[512], msg[512];
    /* a ciphertext alice may make, then may not re-encrypt */
    encrypt_body(body, sizeof(body), "hr", false);
    struct ts_answer a;
    ts_ok(&g, &g.alice, "Encrypt", body, &a);
    const char *blob = json_string_value(json_object_get(a.json, "CiphertextBlob"));
    snprintf(body, sizeof(body),
             "{\"CiphertextBlob\": \"%s\", \"SourceEncryptionContext\": {\"dept\": \"hr\"}, "
             "\"DestinationKeyId\": \"%s\"}",
             blob, g_key);
    ts_answer_free(&a);
    snprintf(msg, sizeof(msg),
             "User: " TS_ALICE " is not authorized to perform: kms:ReEncryptFrom on resource: %s "
             "with an explicit deny in a resource-based policy",
             g_key_arn);
    ts_expect(&g, &g.alice, "ReEncrypt", body, "AccessDeniedException", msg);
    json_t *line = ts_last_audit(&g);
    json_t *dec = json_array_get(json_object_get(line, "authorization"), 0);
    assert_string_equal(json_string_value(json_object_get(dec, "decision")), "ExplicitDeny");
    assert_string_equal(json_string_value(json_object_get(dec, "sid")), "NoReEncrypt");
    json_decref(line);
    /* the administrator may: ReEncryptFrom and ReEncryptTo both decided */
    ts_ok(&g, &g.admin, "ReEncrypt", body, &a);
    ts_answer_free(&a);
    line = ts_last_audit(&g);
    json_t *decs = json_object_get(line, "authorization");
    assert_int_equal(json_array_size(decs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(decs, 0), "action")),
                        "kms:ReEncryptFrom");
    assert_string_equal(json_string_value(json_object_get(json_array_get(decs, 1), "action")),
                        "kms:ReEncryptTo");
    json_decref(line);
}

static void key_less_operations(void **state)
{
    (void)state;
    /* the resource of a key-less operation is "*"; AWS's refusal names no
     * resource and no resource-based policy */
    ts_expect(&g, &g.alice, "GenerateRandom", "{\"NumberOfBytes\": 8}", "AccessDeniedException",
              "User: " TS_ALICE " is not authorized to perform: kms:GenerateRandom "
              "because no identity-based policy allows the kms:GenerateRandom action");
    ts_expect(&g, &g.alice, "ListKeys", "{}", "AccessDeniedException",
              "User: " TS_ALICE " is not authorized to perform: kms:ListKeys "
              "because no identity-based policy allows the kms:ListKeys action");
    struct ts_answer a;
    ts_ok(&g, &g.admin, "GenerateRandom", "{\"NumberOfBytes\": 8}", &a);
    assert_non_null(json_object_get(a.json, "Plaintext"));
    ts_answer_free(&a);
}

static void dry_run_comes_after_authorization(void **state)
{
    (void)state;
    char body[512], msg[512];
    encrypt_body(body, sizeof(body), "hr", true);
    struct ts_answer a;
    ts_kms(&g, &g.alice, "Encrypt", body, &a);
    ts_expect_error(&a, 412, "DryRunOperationException",
                    "The request would have succeeded, but the DryRun option is set.");
    ts_answer_free(&a);
    encrypt_body(body, sizeof(body), "it", true);
    snprintf(msg, sizeof(msg),
             "User: " TS_ALICE " is not authorized to perform: kms:Encrypt on resource: %s "
             "because no resource-based policy allows the kms:Encrypt action",
             g_key_arn);
    ts_expect(&g, &g.alice, "Encrypt", body, "AccessDeniedException", msg);
}

static void key_policies_are_validated(void **state)
{
    (void)state;
    char body[2048];
    /* the administrator would lose kms:PutKeyPolicy */
    char *q = quoted("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                     "\"Principal\":{\"AWS\":\"" TS_ALICE "\"},\"Action\":\"kms:*\","
                     "\"Resource\":\"*\"}]}");
    snprintf(body, sizeof(body), "{\"Policy\": %s}", q);
    ts_expect(&g, &g.admin, "CreateKey", body, "MalformedPolicyDocumentException",
              "The new key policy will not allow you to update the key policy in the future.");
    snprintf(body, sizeof(body), "{\"Policy\": %s, \"BypassPolicyLockoutSafetyCheck\": true}", q);
    struct ts_answer a;
    ts_ok(&g, &g.admin, "CreateKey", body, &a);
    ts_answer_free(&a);
    free(q);
    /* a user the service does not know */
    q = quoted("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
               "\"Principal\":{\"AWS\":\"arn:aws:iam::" TS_ACCOUNT ":user/carol\"},"
               "\"Action\":\"kms:*\",\"Resource\":\"*\"}]}");
    snprintf(body, sizeof(body), "{\"Policy\": %s}", q);
    ts_expect(&g, &g.admin, "CreateKey", body, "MalformedPolicyDocumentException",
              "Policy contains a statement with one or more invalid principals.");
    free(q);
    /* PutKeyPolicy: alice is not allowed to, before any validation */
    char msg[512];
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Policy\": \"{}\"}", g_key);
    snprintf(msg, sizeof(msg),
             "User: " TS_ALICE " is not authorized to perform: kms:PutKeyPolicy on resource: %s "
             "because no resource-based policy allows the kms:PutKeyPolicy action",
             g_key_arn);
    ts_expect(&g, &g.alice, "PutKeyPolicy", body, "AccessDeniedException", msg);
    ts_expect(&g, &g.admin, "PutKeyPolicy", body, "MalformedPolicyDocumentException",
              "Policy is missing the Version field.");
}

/* A key alice may use with the condition keys of the key itself. */
static void key_with_policy(const char *alice_statements, char id[37])
{
    char policy[2048];
    snprintf(policy, sizeof(policy),
             "{\"Version\":\"2012-10-17\",\"Statement\":["
             "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" TS_ACCOUNT "\"},"
             "\"Action\":\"kms:*\",\"Resource\":\"*\"},%s]}",
             alice_statements);
    char *q = quoted(policy);
    ts_create_key(&g, q, id);
    free(q);
}

#define ALICE_MAY(action, condition)                                                      \
    "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" TS_ALICE "\"},\"Action\":\"" action \
    "\",\"Resource\":\"*\"" condition "}"
#define IF_SYMMETRIC ",\"Condition\":{\"StringEquals\":{\"kms:KeySpec\":\"SYMMETRIC_DEFAULT\"}}"

/* kms:KeySpec, kms:KeyUsage and kms:KeyOrigin are the key's whether or not
 * the Decrypt request names it: the key comes from the ciphertext. */
static void decrypt_without_key_id_has_the_key_condition_keys(void **state)
{
    (void)state;
    char key[37], body[1024];
    key_with_policy(ALICE_MAY("kms:Encrypt", "") "," ALICE_MAY("kms:Decrypt", IF_SYMMETRIC), key);
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": \"c2VjcmV0\"}", key);
    struct ts_answer a;
    ts_ok(&g, &g.alice, "Encrypt", body, &a);
    char blob[512];
    snprintf(blob, sizeof(blob), "%s",
             json_string_value(json_object_get(a.json, "CiphertextBlob")));
    ts_answer_free(&a);
    snprintf(body, sizeof(body), "{\"CiphertextBlob\": \"%s\", \"KeyId\": \"%s\"}", blob, key);
    ts_ok(&g, &g.alice, "Decrypt", body, &a);
    ts_answer_free(&a);
    snprintf(body, sizeof(body), "{\"CiphertextBlob\": \"%s\"}", blob);
    ts_ok(&g, &g.alice, "Decrypt", body, &a);
    assert_string_equal(json_string_value(json_object_get(a.json, "Plaintext")), "c2VjcmV0");
    ts_answer_free(&a);
}

/* ReEncryptTo is decided with the destination key's condition keys (and
 * the alias it was named by), and its own encryption context. */
static void re_encrypt_to_has_the_destination_condition_keys(void **state)
{
    (void)state;
    char src[37], dst[37], body[1024];
    key_with_policy(ALICE_MAY("kms:Encrypt", "") "," ALICE_MAY("kms:ReEncryptFrom", ""), src);
    key_with_policy(ALICE_MAY("kms:ReEncryptTo",
                              ",\"Condition\":{\"StringEquals\":{\"kms:KeySpec\":"
                              "\"SYMMETRIC_DEFAULT\",\"kms:RequestAlias\":\"alias/dst\","
                              "\"kms:EncryptionContext:to\":\"dst\"},"
                              "\"Null\":{\"kms:EncryptionContext:from\":\"true\"}}"),
                    dst);
    snprintf(body, sizeof(body), "{\"AliasName\": \"alias/dst\", \"TargetKeyId\": \"%s\"}", dst);
    struct ts_answer a;
    ts_ok(&g, &g.admin, "CreateAlias", body, &a);
    ts_answer_free(&a);
    snprintf(body, sizeof(body),
             "{\"KeyId\": \"%s\", \"Plaintext\": \"c2VjcmV0\", \"EncryptionContext\": {\"from\": "
             "\"src\"}}",
             src);
    ts_ok(&g, &g.alice, "Encrypt", body, &a);
    char blob[512];
    snprintf(blob, sizeof(blob), "%s",
             json_string_value(json_object_get(a.json, "CiphertextBlob")));
    ts_answer_free(&a);
    snprintf(body, sizeof(body),
             "{\"CiphertextBlob\": \"%s\", \"SourceEncryptionContext\": {\"from\": \"src\"}, "
             "\"DestinationKeyId\": \"alias/dst\", \"DestinationEncryptionContext\": {\"to\": "
             "\"dst\"}}",
             blob);
    ts_ok(&g, &g.alice, "ReEncrypt", body, &a);
    ts_answer_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_policy_allows_with_condition),
        cmocka_unit_test(implicit_deny),
        cmocka_unit_test(explicit_deny),
        cmocka_unit_test(key_less_operations),
        cmocka_unit_test(dry_run_comes_after_authorization),
        cmocka_unit_test(key_policies_are_validated),
        cmocka_unit_test(decrypt_without_key_id_has_the_key_condition_keys),
        cmocka_unit_test(re_encrypt_to_has_the_destination_condition_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
