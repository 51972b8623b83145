/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request decoding through the server's own entry point (kms_handle) with
 * signed requests and a real store: each accessor of call/request.h
 * refuses bad input with AWS's exact exception type and message
 * (docs/kms.md, "Request decoding"), and the Recipient member is checked
 * on its one path (call/recipient.c).
 */
#include "kms_test_server.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest_ca/attest_issue.h"
#include "base/base64.h"
#include "call/recipient.h"

static struct ts g;
static struct attest_signer *g_signer;
static char g_key[37];

static int setup(void **state)
{
    (void)state;
    char *pem = NULL;
    if (attest_signer_new_ephemeral(&g_signer, NULL) < 0 ||
        attest_signer_root_pem(g_signer, &pem, NULL) < 0)
        return -1;
    ts_start(&g, pem);
    free(pem);
    ts_create_key(&g, NULL, g_key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&g);
    attest_signer_free(g_signer);
    return 0;
}

#define V1 "1 validation error detected: "

static void body_must_be_one_object(void **state)
{
    (void)state;
    ts_expect(&g, &g.admin, "ListKeys", "[]", "SerializationException",
              "Start of structure or map expected");
    ts_expect(&g, &g.admin, "ListKeys", "{\"Limit\": 1,", "SerializationException",
              "Could not parse the request body: string or '}' expected (at byte 12)");
    /* the message never quotes the body: it may hold a plaintext */
    ts_expect(&g, &g.admin, "ListKeys", "{\"Limit\": 1} secret", "SerializationException",
              "Could not parse the request body: end of file expected (at byte 19)");
    ts_expect(&g, &g.admin, "ListKeys", "{\"Limit\": 1, \"Limit\": 2}", "SerializationException",
              "Could not parse the request body: duplicate object key (at byte 20)");
    /* an empty body is {} */
    struct ts_answer a;
    ts_ok(&g, &g.admin, "ListKeys", "", &a);
    assert_true(json_is_array(json_object_get(a.json, "Keys")));
    ts_answer_free(&a);
}

static void strings(void **state)
{
    (void)state;
    ts_expect(&g, &g.admin, "DescribeKey", "{}", "ValidationException",
              V1 "Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    ts_expect(&g, &g.admin, "DescribeKey", "{\"KeyId\": null}", "ValidationException",
              V1 "Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    ts_expect(&g, &g.admin, "DescribeKey", "{\"KeyId\": 5}", "SerializationException",
              "Unexpected value type for 'KeyId': expected a string");
    ts_expect(&g, &g.admin, "DescribeKey", "{\"KeyId\": \"\"}", "ValidationException",
              V1 "Value '' at 'keyId' failed to satisfy constraint: Member must have length "
                 "greater than or equal to 1");
    /* jansson refuses \u0000 in the body, before any accessor sees it */
    ts_expect(&g, &g.admin, "DescribeKey", "{\"KeyId\": \"a\\u0000b\"}", "SerializationException",
              "Could not parse the request body: \\u0000 is not allowed without JSON_ALLOW_NUL "
              "(at byte 20)");
    /* values longer than 64 bytes are not quoted back */
    char body[4200] = "{\"KeyId\": \"";
    memset(body + strlen(body), 'k', 2049);
    strcat(body, "\"}");
    ts_expect(&g, &g.admin, "DescribeKey", body, "ValidationException",
              V1 "Value at 'keyId' failed to satisfy constraint: Member must have length less "
                 "than or equal to 2048");
}

static void enums(void **state)
{
    (void)state;
    char body[256];
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"KeySpec\": \"AES_512\"}", g_key);
    ts_expect(&g, &g.admin, "GenerateDataKey", body, "ValidationException",
              V1 "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy "
                 "enum value set: [AES_256, AES_128]");
}

static void blobs(void **state)
{
    (void)state;
    char body[8192];
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": 3}", g_key);
    ts_expect(&g, &g.admin, "Encrypt", body, "SerializationException",
              "Unexpected value type for 'Plaintext': expected a base64 string");
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": \"a?==\"}", g_key);
    struct ts_answer a;
    ts_kms(&g, &g.admin, "Encrypt", body, &a);
    assert_int_equal(a.status, 400);
    assert_string_equal(json_string_value(json_object_get(a.json, "__type")),
                        "SerializationException");
    assert_non_null(strstr(json_string_value(json_object_get(a.json, "message")),
                           "Value of 'Plaintext' is not valid base64: "));
    ts_answer_free(&a);
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": \"\"}", g_key);
    ts_expect(&g, &g.admin, "Encrypt", body, "ValidationException",
              V1 "Value at 'plaintext' failed to satisfy constraint: Member must have length "
                 "greater than or equal to 1");
    /* 4097 bytes: 5464 base64 characters */
    int off = snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": \"", g_key);
    memset(body + off, 'A', 5464);
    strcpy(body + off + 5464, "\"}");
    ts_expect(&g, &g.admin, "Encrypt", body, "ValidationException",
              V1 "Value at 'plaintext' failed to satisfy constraint: Member must have length "
                 "less than or equal to 4096");
}

static void integers_and_booleans(void **state)
{
    (void)state;
    ts_expect(&g, &g.admin, "GenerateRandom", "{\"NumberOfBytes\": 0}", "ValidationException",
              V1 "Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have "
                 "value greater than or equal to 1");
    ts_expect(&g, &g.admin, "GenerateRandom", "{\"NumberOfBytes\": 1025}", "ValidationException",
              V1 "Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have "
                 "value less than or equal to 1024");
    ts_expect(&g, &g.admin, "GenerateRandom", "{\"NumberOfBytes\": \"8\"}",
              "SerializationException",
              "Unexpected value type for 'NumberOfBytes': expected an "
              "integer");
    ts_expect(&g, &g.admin, "GenerateRandom", "{}", "ValidationException",
              V1 "Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be "
                 "null");
    char body[256];
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": \"AA==\", \"DryRun\": 1}",
             g_key);
    ts_expect(&g, &g.admin, "Encrypt", body, "SerializationException",
              "Unexpected value type for 'DryRun': expected a boolean");
}

static void encryption_contexts(void **state)
{
    (void)state;
    char body[12000];
    snprintf(body, sizeof(body),
             "{\"KeyId\": \"%s\", \"Plaintext\": \"AA==\", \"EncryptionContext\": [\"a\"]}", g_key);
    ts_expect(&g, &g.admin, "Encrypt", body, "SerializationException",
              "Unexpected value type for 'EncryptionContext': expected a map of strings");
    snprintf(body, sizeof(body),
             "{\"KeyId\": \"%s\", \"Plaintext\": \"AA==\", \"EncryptionContext\": {\"a\": 1}}",
             g_key);
    ts_expect(&g, &g.admin, "Encrypt", body, "SerializationException",
              "Unexpected value type for 'EncryptionContext': expected a map of strings");
    int off = snprintf(body, sizeof(body),
                       "{\"KeyId\": \"%s\", \"Plaintext\": \"AA==\", \"EncryptionContext\": "
                       "{\"k\": \"",
                       g_key);
    memset(body + off, 'v', 8192);
    strcpy(body + off + 8192, "\"}}");
    ts_expect(&g, &g.admin, "Encrypt", body, "ValidationException",
              "Encryption context of 8193 bytes exceeds the maximum of 8192");
}

static void tags_and_lists(void **state)
{
    (void)state;
    char body[8192];
    int off = snprintf(body, sizeof(body), "{\"Tags\": [");
    for (int i = 0; i < 51; i++)
        off += snprintf(body + off, sizeof(body) - (size_t)off,
                        "%s{\"TagKey\": \"k%d\", \"TagValue\": \"v\"}", i ? "," : "", i);
    strcpy(body + off, "]}");
    ts_expect(&g, &g.admin, "CreateKey", body, "TagException", "Too many tags: 51 (at most 50)");
    ts_expect(&g, &g.admin, "CreateKey",
              "{\"Tags\": [{\"TagKey\": \"aws:x\", \"TagValue\": \"\"}]}", "TagException",
              "Tags beginning with aws: are reserved");
    ts_expect(&g, &g.admin, "CreateKey", "{\"Tags\": [{\"TagValue\": \"v\"}]}",
              "ValidationException",
              V1 "Value null at 'tagKey' failed to satisfy constraint: Member must not be null");
    ts_expect(&g, &g.admin, "CreateKey", "{\"Tags\": {}}", "SerializationException",
              "Unexpected value type for 'Tags': expected a list of tags");
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"GrantTokens\": [1]}", g_key);
    ts_expect(&g, &g.admin, "DescribeKey", body, "SerializationException",
              "Unexpected value type for 'GrantTokens': expected a list of strings");
    snprintf(body, sizeof(body),
             "{\"KeyId\": \"%s\", \"GrantTokens\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
             "\"a\",\"a\",\"a\",\"a\"]}",
             g_key);
    ts_expect(&g, &g.admin, "DescribeKey", body, "ValidationException",
              V1 "Value at 'grantTokens' failed to satisfy constraint: Member must have length "
                 "less than or equal to 10");
}

/* A document from the test CA for an RSA-2048 key; *len set; malloc'd. */
static uint8_t *make_doc(EVP_PKEY *key, size_t *len)
{
    static uint8_t pcrs[32][48];
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(key, &spki);
    struct attest_doc_fields f = {
        .module_id = "i-0123456789abcdef0-enc0123456789abcdef",
        .timestamp_ms = (uint64_t)time(NULL) * 1000,
        .pcrs = (const uint8_t(*)[48])pcrs,
        .pcr_mask = 0xffff,
        .public_key = spki,
        .public_key_len = (size_t)spki_len,
    };
    uint8_t *doc = NULL;
    struct cl_error err = { 0 };
    if (attest_doc_issue(g_signer, &f, &doc, len, &err) < 0)
        fail_msg("attest_doc_issue: %s", err.reason);
    OPENSSL_free(spki);
    return doc;
}

/* Sends GenerateRandom with a Recipient member (JSON text) and expects a refusal. */
static void expect_recipient_refused(const char *recipient, const char *type, const char *message)
{
    char *body = malloc(strlen(recipient) + 64);
    sprintf(body, "{\"NumberOfBytes\": 8, \"Recipient\": %s}", recipient);
    ts_expect(&g, &g.admin, "GenerateRandom", body, type, message);
    free(body);
}

static void recipient_member(void **state)
{
    (void)state;
    expect_recipient_refused("[]", "SerializationException",
                             "Unexpected value type for 'Recipient': expected a structure");
    expect_recipient_refused("{\"KeyEncryptionAlgorithm\": \"RSAES_OAEP_SHA_1\"}",
                             "ValidationException",
                             V1 "Value 'RSAES_OAEP_SHA_1' at 'keyEncryptionAlgorithm' failed to "
                                "satisfy constraint: Member must satisfy enum value set: "
                                "[RSAES_OAEP_SHA_256]");
    /* no document: the refusal is also the audit line's recipientError */
    const char *absent = V1 "Value at 'recipient.attestationDocument' failed to satisfy "
                            "constraint: Member must have length greater than or equal to 1";
    expect_recipient_refused("{\"KeyEncryptionAlgorithm\": \"RSAES_OAEP_SHA_256\"}",
                             "ValidationException", absent);
    json_t *line = ts_last_audit(&g);
    assert_string_equal(json_string_value(json_object_get(line, "recipientError")), absent);
    assert_string_equal(json_string_value(json_object_get(line, "result")), "ValidationException");
    json_decref(line);
    expect_recipient_refused("{\"AttestationDocument\": \"\"}", "ValidationException",
                             V1 "Value at 'attestationDocument' failed to satisfy constraint: "
                                "Member must have length greater than or equal to 1");
    /* RECIPIENT_DOC_MAX_BYTES + 1 bytes: 349528 base64 characters */
    size_t n = 4 * ((RECIPIENT_DOC_MAX_BYTES + 1 + 2) / 3);
    char *big = malloc(n + 64);
    int off = sprintf(big, "{\"AttestationDocument\": \"");
    memset(big + off, 'A', n);
    strcpy(big + off + n, "\"}");
    expect_recipient_refused(big, "ValidationException",
                             V1 "Value at 'attestationDocument' failed to satisfy constraint: "
                                "Member must have length less than or equal to 262144");
    free(big);
    expect_recipient_refused("{\"AttestationDocument\": \"aGVsbG8=\"}", "ValidationException",
                             "The attestation document in Recipient is not valid: it is not a "
                             "well-formed attestation document.");

    /* A good document, KeyEncryptionAlgorithm absent: CiphertextForRecipient
     * and no Plaintext member; the audit line names the document. */
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    size_t len;
    uint8_t *doc = make_doc(rsa, &len);
    char *b64 = base64_encode(doc, len);
    char *body = malloc(strlen(b64) + 128);
    sprintf(body, "{\"NumberOfBytes\": 8, \"Recipient\": {\"AttestationDocument\": \"%s\"}}", b64);
    struct ts_answer a;
    ts_ok(&g, &g.admin, "GenerateRandom", body, &a);
    assert_non_null(json_object_get(a.json, "CiphertextForRecipient"));
    assert_null(json_object_get(a.json, "Plaintext"));
    ts_answer_free(&a);
    line = ts_last_audit(&g);
    assert_string_equal(json_string_value(json_object_get(json_object_get(line, "recipient"),
                                                          "attestationDocumentModuleId")),
                        "i-0123456789abcdef0-enc0123456789abcdef");
    json_decref(line);
    free(body);
    free(b64);
    free(doc);
    EVP_PKEY_free(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_must_be_one_object),
        cmocka_unit_test(strings),
        cmocka_unit_test(enums),
        cmocka_unit_test(blobs),
        cmocka_unit_test(integers_and_booleans),
        cmocka_unit_test(encryption_contexts),
        cmocka_unit_test(tags_and_lists),
        cmocka_unit_test(recipient_member),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
