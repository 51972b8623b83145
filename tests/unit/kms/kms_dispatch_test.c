/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The serving layer through its entry point (kms_handle): the dispatch
 * table (every operation name to its handler), unknown operations and
 * paths, SigV4 refusals, STS GetCallerIdentity, and the error shapes
 * (docs/kms.md, "Error shapes": 400/412/500, "Message" or "message", the
 * JSON body, STS's XML and 403, the audit line's result).
 */
#include "kms_test_server.h"

#include <sqlite3.h>

#include "ops/ops.h"

static struct ts g;

static int setup(void **state)
{
    (void)state;
    ts_start(&g, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&g);
    return 0;
}

static void every_operation_has_its_handler(void **state)
{
    (void)state;
    static const struct kms_op want[] = {
        { "CancelKeyDeletion", op_cancel_key_deletion },
        { "ConnectCustomKeyStore", op_connect_custom_key_store },
        { "CreateAlias", op_create_alias },
        { "CreateCustomKeyStore", op_create_custom_key_store },
        { "CreateGrant", op_create_grant },
        { "CreateKey", op_create_key },
        { "Decrypt", op_decrypt },
        { "DeleteAlias", op_delete_alias },
        { "DeleteCustomKeyStore", op_delete_custom_key_store },
        { "DeleteImportedKeyMaterial", op_delete_imported_key_material },
        { "DeriveSharedSecret", op_derive_shared_secret },
        { "DescribeCustomKeyStores", op_describe_custom_key_stores },
        { "DescribeKey", op_describe_key },
        { "DisableKey", op_disable_key },
        { "DisableKeyRotation", op_disable_key_rotation },
        { "DisconnectCustomKeyStore", op_disconnect_custom_key_store },
        { "EnableKey", op_enable_key },
        { "EnableKeyRotation", op_enable_key_rotation },
        { "Encrypt", op_encrypt },
        { "GenerateDataKey", op_generate_data_key },
        { "GenerateDataKeyPair", op_generate_data_key_pair },
        { "GenerateDataKeyPairWithoutPlaintext", op_generate_data_key_pair_without_plaintext },
        { "GenerateDataKeyWithoutPlaintext", op_generate_data_key_without_plaintext },
        { "GenerateMac", op_generate_mac },
        { "GenerateRandom", op_generate_random },
        { "GetKeyLastUsage", op_get_key_last_usage },
        { "GetKeyPolicy", op_get_key_policy },
        { "GetKeyRotationStatus", op_get_key_rotation_status },
        { "GetParametersForImport", op_get_parameters_for_import },
        { "GetPublicKey", op_get_public_key },
        { "ImportKeyMaterial", op_import_key_material },
        { "ListAliases", op_list_aliases },
        { "ListGrants", op_list_grants },
        { "ListKeyPolicies", op_list_key_policies },
        { "ListKeyRotations", op_list_key_rotations },
        { "ListKeys", op_list_keys },
        { "ListResourceTags", op_list_resource_tags },
        { "ListRetirableGrants", op_list_retirable_grants },
        { "PutKeyPolicy", op_put_key_policy },
        { "ReEncrypt", op_re_encrypt },
        { "ReplicateKey", op_replicate_key },
        { "RetireGrant", op_retire_grant },
        { "RevokeGrant", op_revoke_grant },
        { "RotateKeyOnDemand", op_rotate_key_on_demand },
        { "ScheduleKeyDeletion", op_schedule_key_deletion },
        { "Sign", op_sign },
        { "TagResource", op_tag_resource },
        { "UntagResource", op_untag_resource },
        { "UpdateAlias", op_update_alias },
        { "UpdateCustomKeyStore", op_update_custom_key_store },
        { "UpdateKeyDescription", op_update_key_description },
        { "UpdatePrimaryRegion", op_update_primary_region },
        { "Verify", op_verify },
        { "VerifyMac", op_verify_mac },
    };
    size_t n;
    const struct kms_op *table = kms_op_table(&n);
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(table[i].name, want[i].name);
        assert_true(table[i].fn == want[i].fn);
        assert_ptr_equal(kms_op_find(want[i].name), &table[i]);
        if (i > 0)
            assert_true(strcmp(table[i - 1].name, table[i].name) < 0);
    }
    assert_null(kms_op_find("NoSuchOperation"));
    assert_null(kms_op_find("encrypt")); /* names are case-sensitive */
}

static size_t audit_lines(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/audit.log", g.dir);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    for (int c; f && (c = fgetc(f)) != EOF;)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

static void unknown_operations_and_paths(void **state)
{
    (void)state;
    struct ts_answer a;
    ts_kms(&g, &g.admin, "NoSuchOperation", "{}", &a);
    ts_expect_error(&a, 400, "UnknownOperationException", "");
    json_t *line = ts_last_audit(&g);
    /* the audit line names the operation as sent, and the answer's request id */
    assert_string_equal(json_string_value(json_object_get(line, "operation")), "NoSuchOperation");
    assert_string_equal(json_string_value(json_object_get(line, "requestId")), a.request_id);
    assert_string_equal(json_string_value(json_object_get(line, "eventSource")),
                        "kms.amazonaws.com");
    assert_string_equal(json_string_value(json_object_get(line, "sourceIp")), "192.0.2.7");
    json_decref(line);
    ts_answer_free(&a);
    /* no X-Amz-Target, not a form: an unknown operation too, unauthenticated */
    const char *json_only[] = { "Content-Type", "application/x-amz-json-1.1", NULL };
    ts_send(&g, "POST", "/", json_only, "{}", NULL, "kms", &a);
    ts_expect_error(&a, 400, "UnknownOperationException", "");
    line = ts_last_audit(&g);
    assert_true(json_is_null(json_object_get(line, "operation")));
    assert_true(json_is_null(json_object_get(line, "principal")));
    json_decref(line);
    ts_answer_free(&a);
    /* only POST / exists; those answers are not audited */
    size_t before = audit_lines();
    ts_send(&g, "GET", "/", json_only, NULL, &g.admin, "kms", &a);
    assert_int_equal(a.status, 405);
    assert_string_equal(a.content_type, "text/plain");
    assert_string_equal(a.raw, "Method Not Allowed\n");
    ts_answer_free(&a);
    ts_send(&g, "POST", "/keys", json_only, "{}", &g.admin, "kms", &a);
    assert_int_equal(a.status, 404);
    assert_string_equal(a.raw, "Not Found\n");
    ts_answer_free(&a);
    assert_int_equal(audit_lines(), before);
}

static void authentication_refusals(void **state)
{
    (void)state;
    ts_expect(&g, NULL, "ListKeys", "{}", "MissingAuthenticationTokenException",
              "Missing Authentication Token");
    struct ts_identity unknown = { .akid = "AKIAUNKNOWN000000000" };
    snprintf(unknown.secret, sizeof(unknown.secret), "%s", g.admin.secret);
    ts_expect(&g, &unknown, "ListKeys", "{}", "UnrecognizedClientException",
              "The security token included in the request is invalid.");
    struct ts_identity wrong = g.admin;
    wrong.secret[0] ^= 1;
    struct ts_answer a;
    ts_kms(&g, &wrong, "ListKeys", "{}", &a);
    assert_int_equal(a.status, 400);
    assert_string_equal(json_string_value(json_object_get(a.json, "__type")),
                        "InvalidSignatureException");
    assert_non_null(strstr(json_string_value(json_object_get(a.json, "message")),
                           "The request signature we calculated does not match"));
    ts_answer_free(&a);
    /* not authenticated: the audit line names the access key, no principal */
    json_t *line = ts_last_audit(&g);
    assert_string_equal(json_string_value(json_object_get(line, "accessKeyId")), g.admin.akid);
    assert_true(json_is_null(json_object_get(line, "principal")));
    assert_string_equal(json_string_value(json_object_get(line, "result")),
                        "InvalidSignatureException");
    json_decref(line);
}

static const char *const STS_FORM[] = { "Content-Type",
                                        "application/x-www-form-urlencoded; charset=utf-8", NULL };

static void sts_get_caller_identity(void **state)
{
    (void)state;
    struct ts_answer a;
    ts_send(&g, "POST", "/", STS_FORM, "Action=GetCallerIdentity&Version=2011-06-15", &g.admin,
            "sts", &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.content_type, "text/xml");
    assert_non_null(strstr(a.raw, "<Arn>" TS_ADMIN "</Arn>"));
    assert_non_null(strstr(a.raw, "<Account>" TS_ACCOUNT "</Account>"));
    char rid[80];
    snprintf(rid, sizeof(rid), "<RequestId>%s</RequestId>", a.request_id);
    assert_non_null(strstr(a.raw, rid));
    ts_answer_free(&a);
    json_t *line = ts_last_audit(&g);
    assert_string_equal(json_string_value(json_object_get(line, "eventSource")),
                        "sts.amazonaws.com");
    assert_string_equal(json_string_value(json_object_get(line, "operation")), "GetCallerIdentity");
    assert_string_equal(json_string_value(json_object_get(line, "result")), "Success");
    json_decref(line);
}

static void sts_error_shapes(void **state)
{
    (void)state;
    /* signed for kms: STS's words and 403; the audit line has STS's code */
    struct ts_answer a;
    ts_send(&g, "POST", "/", STS_FORM, "Action=GetCallerIdentity", &g.admin, "kms", &a);
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(a.raw, "<Type>Sender</Type>"));
    assert_non_null(strstr(a.raw, "<Code>SignatureDoesNotMatch</Code>"));
    assert_non_null(strstr(a.raw, "<Message>Credential should be scoped to correct service: "
                                  "&apos;sts&apos;. </Message>"));
    ts_answer_free(&a);
    json_t *line = ts_last_audit(&g);
    assert_string_equal(json_string_value(json_object_get(line, "result")),
                        "SignatureDoesNotMatch");
    json_decref(line);
    /* another action: 400 InvalidAction, no operation in the audit line */
    ts_send(&g, "POST", "/", STS_FORM, "Action=AssumeRole", &g.admin, "sts", &a);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.raw, "<Code>InvalidAction</Code>"));
    assert_non_null(strstr(a.raw, "<Message>Could not find operation AssumeRole for version "
                                  "2011-06-15</Message>"));
    ts_answer_free(&a);
    line = ts_last_audit(&g);
    assert_true(json_is_null(json_object_get(line, "operation")));
    assert_string_equal(json_string_value(json_object_get(line, "result")), "InvalidAction");
    json_decref(line);
    ts_send(&g, "POST", "/", STS_FORM, "Action=GetCallerIdentity", NULL, "sts", &a);
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(a.raw, "<Code>MissingAuthenticationToken</Code>"));
    ts_answer_free(&a);
}

static void kms_error_shapes(void **state)
{
    (void)state;
    /* 400 with "message" */
    ts_expect(&g, &g.admin, "DescribeKey", "{\"KeyId\": \"alias/none\"}", "NotFoundException",
              "Alias arn:aws:kms:" TS_REGION ":" TS_ACCOUNT ":alias/none is not found.");
    ts_expect(&g, &g.admin, "DescribeKey", "{\"KeyId\": \"11111111-2222-4333-8444-555555555555\"}",
              "NotFoundException",
              "Key 'arn:aws:kms:" TS_REGION ":" TS_ACCOUNT
              ":key/11111111-2222-4333-8444-555555555555' does not exist");
    /* 400 with "Message" */
    ts_expect(&g, &g.admin, "CreateKey", "{\"KeySpec\": \"SM2\"}", "UnsupportedOperationException",
              "KeySpec SM2 is only available in the China Regions.");
    /* 412 */
    char key[37], body[256];
    ts_create_key(&g, NULL, key);
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": \"AA==\", \"DryRun\": true}",
             key);
    struct ts_answer a;
    ts_kms(&g, &g.admin, "Encrypt", body, &a);
    ts_expect_error(&a, 412, "DryRunOperationException",
                    "The request would have succeeded, but the DryRun option is set.");
    ts_answer_free(&a);
    /* 500: material that no longer unwraps; the reason is audited, not sent */
    char path[128];
    snprintf(path, sizeof(path), "%s/kms.db", g.dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE key_material SET wrapped = zeroblob(60)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": \"AA==\"}", key);
    ts_kms(&g, &g.admin, "Encrypt", body, &a);
    ts_expect_error(&a, 500, "KMSInternalException",
                    "The request was rejected because an internal exception occurred. The "
                    "request can be retried.");
    ts_answer_free(&a);
    json_t *line = ts_last_audit(&g);
    assert_non_null(strstr(json_string_value(json_object_get(line, "internalError")),
                           "does not unwrap with the master key"));
    assert_string_equal(json_string_value(json_object_get(line, "result")), "KMSInternalException");
    json_decref(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_operation_has_its_handler),
        cmocka_unit_test(unknown_operations_and_paths),
        cmocka_unit_test(authentication_refusals),
        cmocka_unit_test(sts_get_caller_identity),
        cmocka_unit_test(sts_error_shapes),
        cmocka_unit_test(kms_error_shapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
