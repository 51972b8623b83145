/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SDK's KMS client (src/lib/kms_client/kms_client.c) against a scripted
 * HTTPS peer run by a thread of this test (testlib/https_peer), reached as
 * a parent program reaches it (endpoint_url, TCP on 127.0.0.1) and as an
 * enclave does (the emulated vsock proxy port, then sock_bridge):
 *  - the request: POST /, X-Amz-Target, the JSON body of each operation, a
 *    SigV4 Authorization header recomputed here, the session token;
 *  - the answer: success, each AWS error type with its code and message,
 *    HTTP errors, malformed JSON and blobs, size limits, TLS failures;
 *  - the configuration and the caller's input refused before any request.
 * Attestation (the Recipient) is tested in kms_client_recipient_test.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include <cloister/kms.h>
#include <cloister/vsock.h>

#include "testlib/https_peer.h"
#include "testlib/kms_peer.h"
#include "testlib/testlib.h"
#include "testlib/vsock_fixture.h"

#define AKID TL_KMS_AKID
#define SECRET TL_KMS_SECRET

static char dir[64];
static struct tl_tls tls, other_ca;

static int group_setup(void **state)
{
    (void)state;
    tl_mkdtemp(dir, sizeof(dir), "kms-client");
    static const char *const dns[] = { "kms.test.local", "kms.us-east-1.amazonaws.com", NULL };
    tl_tls_make(&tls, dir, "kms", dns);
    tl_tls_make(&other_ca, dir, "other", dns);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tl_tls_free(&tls);
    tl_tls_free(&other_ca);
    tl_rmtree(dir);
    return 0;
}

/* ---- requests and successful answers -------------------------------------- */

static void encrypt_request_and_answer(void **state)
{
    (void)state;
    struct tl_https_peer p;
    struct tl_script s = { 1, 0, { { 200, "{\"CiphertextBlob\":\"Q0lQSEVS\",\"KeyId\":\"k\"}" } } };
    struct kms_client *c = tl_kms_tcp_peer(&p, &tls, tl_scripted, &s, 1, NULL);
    uint8_t *ct = NULL;
    size_t len = 0;
    struct cl_error err = { 0 };
    assert_int_equal(kms_encrypt(c, "alias/k", (const uint8_t *)"hello", 5,
                                 "{\"purpose\":\"test\"}", &ct, &len, &err), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(ct, "CIPHER", 6);
    free(ct);
    tl_https_join(&p);
    assert_int_equal(p.nreq, 1);
    json_t *j = tl_check_kms_request(&p.req[0], "Encrypt");
    assert_int_equal(json_object_size(j), 3);
    assert_string_equal(tl_json_str(j, "KeyId"), "alias/k");
    assert_string_equal(tl_json_str(j, "Plaintext"), "aGVsbG8=");
    json_t *ctx = json_object_get(j, "EncryptionContext");
    assert_int_equal(json_object_size(ctx), 1);
    assert_string_equal(tl_json_str(ctx, "purpose"), "test");
    char v[64];
    assert_false(tl_http_header(p.req[0].head, "X-Amz-Security-Token", v, sizeof(v)));
    json_decref(j);
    tl_kms_peer_done(&p, c);
}

/* Temporary credentials: the token travels in X-Amz-Security-Token, signed. */
static void session_token_is_sent(void **state)
{
    (void)state;
    struct tl_https_peer p;
    struct tl_script s = { 1, 0, { { 200, "{\"Plaintext\":\"AAECAw==\"}" } } };
    struct kms_client *c = tl_kms_tcp_peer(&p, &tls, tl_scripted, &s, 1, "FwoGZXIvYXdzEXAMPLETOKEN");
    uint8_t *r = NULL;
    assert_int_equal(kms_generate_random(c, 4, false, &r, NULL), 0);
    assert_memory_equal(r, "\0\1\2\3", 4);
    free(r);
    tl_https_join(&p);
    json_t *j = tl_check_kms_request(&p.req[0], "GenerateRandom");
    assert_int_equal(json_integer_value(json_object_get(j, "NumberOfBytes")), 4);
    assert_int_equal(json_object_size(j), 1);
    char v[128];
    assert_true(tl_http_header(p.req[0].head, "X-Amz-Security-Token", v, sizeof(v)));
    assert_string_equal(v, "FwoGZXIvYXdzEXAMPLETOKEN");
    char auth[1024];
    assert_true(tl_http_header(p.req[0].head, "Authorization", auth, sizeof(auth)));
    assert_non_null(strstr(auth, "SignedHeaders=content-type;host;x-amz-date;"
                                 "x-amz-security-token;x-amz-target,"));
    json_decref(j);
    tl_kms_peer_done(&p, c);
}

static void decrypt_and_data_key_requests(void **state)
{
    (void)state;
    struct tl_https_peer p;
    struct tl_script s = { 2, 0, { { 200, "{\"Plaintext\":\"c2VjcmV0\",\"KeyId\":\"k\"}" },
                                { 200, "{\"CiphertextBlob\":\"YmxvYg==\",\"Plaintext\":\"a2V5\"}" } } };
    struct kms_client *c = tl_kms_tcp_peer(&p, &tls, tl_scripted, &s, 2, NULL);
    uint8_t *pt = NULL, *ct = NULL;
    size_t plen = 0, clen = 0;
    struct cl_error err = { 0 };
    assert_int_equal(kms_decrypt(c, (const uint8_t *)"\x01\x02\x03", 3, "arn:k", "SYMMETRIC_DEFAULT",
                                 "{\"a\":\"b\",\"c\":\"d\"}", false, &pt, &plen, &err), 0);
    assert_int_equal(plen, 6);
    assert_memory_equal(pt, "secret", 6);
    free(pt);
    assert_int_equal(kms_generate_data_key(c, "alias/dk", NULL, false, &ct, &clen, &pt, &plen,
                                           &err), 0);
    assert_memory_equal(ct, "blob", 4);
    assert_memory_equal(pt, "key", 3);
    free(ct);
    free(pt);
    tl_https_join(&p);
    assert_int_equal(p.nreq, 2);
    json_t *j = tl_check_kms_request(&p.req[0], "Decrypt");
    assert_int_equal(json_object_size(j), 4);
    assert_string_equal(tl_json_str(j, "CiphertextBlob"), "AQID");
    assert_string_equal(tl_json_str(j, "KeyId"), "arn:k");
    assert_string_equal(tl_json_str(j, "EncryptionAlgorithm"), "SYMMETRIC_DEFAULT");
    assert_int_equal(json_object_size(json_object_get(j, "EncryptionContext")), 2);
    assert_null(json_object_get(j, "Recipient"));
    json_decref(j);
    j = tl_check_kms_request(&p.req[1], "GenerateDataKey");
    assert_int_equal(json_object_size(j), 2);
    assert_string_equal(tl_json_str(j, "KeyId"), "alias/dk");
    assert_string_equal(tl_json_str(j, "KeySpec"), "AES_256"); /* the default */
    json_decref(j);
    tl_kms_peer_done(&p, c);
}

/* DeriveSharedSecret: KeyId, ECDH and the peer's SubjectPublicKeyInfo in
 * base64; SharedSecret decoded. */
static void derive_shared_secret_request(void **state)
{
    (void)state;
    struct tl_https_peer p;
    struct tl_script s = { 1,
                           0,
                           { { 200, "{\"SharedSecret\":\"c2hhcmVk\",\"KeyId\":\"k\","
                                    "\"KeyAgreementAlgorithm\":\"ECDH\","
                                    "\"KeyOrigin\":\"AWS_KMS\"}" } } };
    struct kms_client *c = tl_kms_tcp_peer(&p, &tls, tl_scripted, &s, 1, NULL);
    uint8_t *secret = NULL;
    size_t len = 0;
    struct cl_error err = { 0 };
    assert_int_equal(kms_derive_shared_secret(c, "alias/agree", (const uint8_t *)"\x30\x59\x30", 3,
                                              false, &secret, &len, &err),
                     0);
    assert_int_equal(len, 6);
    assert_memory_equal(secret, "shared", 6);
    free(secret);
    tl_https_join(&p);
    json_t *j = tl_check_kms_request(&p.req[0], "DeriveSharedSecret");
    assert_int_equal(json_object_size(j), 3);
    assert_string_equal(tl_json_str(j, "KeyId"), "alias/agree");
    assert_string_equal(tl_json_str(j, "KeyAgreementAlgorithm"), "ECDH");
    assert_string_equal(tl_json_str(j, "PublicKey"), "MFkw");
    json_decref(j);
    tl_kms_peer_done(&p, c);
}

/* ---- answers that are errors ----------------------------------------------- */

static void aws_errors_are_mapped(void **state)
{
    (void)state;
    static const struct { int status; const char *body; int code; const char *reason; } c[] = {
        { 400, "{\"__type\":\"AccessDeniedException\",\"message\":\"not allowed\"}", CL_EPERM,
          "AccessDeniedException: not allowed" },
        { 400, "{\"__type\":\"com.amazonaws.kms#NotFoundException\",\"message\":\"no key\"}",
          CL_ENOTFOUND, "NotFoundException: no key" },
        { 400, "{\"__type\":\"InvalidCiphertextException\",\"Message\":\"bad blob\"}", CL_EFORMAT,
          "InvalidCiphertextException: bad blob" },
        { 400, "{\"__type\":\"ValidationException\"}", CL_EFORMAT,
          "ValidationException: (no message)" },
        { 500, "{\"__type\":\"KMSInternalException\",\"message\":\"oops\"}", CL_EIO,
          "KMSInternalException: oops" },
        { 400, "{\"__type\":\"KMSInvalidStateException\",\"message\":\"disabled\"}", CL_EIO,
          "KMSInvalidStateException: disabled" },
        { 502, "<html>bad gateway</html>", CL_EIO, "KMS answered HTTP 502 without an AWS error" },
        { 403, "{\"message\":\"no type\"}", CL_EIO, "KMS answered HTTP 403 without an AWS error" },
    };
    size_t n = sizeof(c) / sizeof(c[0]);
    struct tl_script s = { (int)n, 0, { { 0, NULL } } };
    for (size_t i = 0; i < n; i++)
        s.a[i].status = c[i].status, s.a[i].body = c[i].body;
    struct tl_https_peer p;
    struct kms_client *k = tl_kms_tcp_peer(&p, &tls, tl_scripted, &s, (int)n, NULL);
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = (uint8_t *)&r;
        struct cl_error err = { 0 };
        int rc = kms_generate_random(k, 8, false, &r, &err);
        if (rc != c[i].code || strcmp(err.reason, c[i].reason) != 0)
            fail_msg("answer %zu: got %d '%s', want %d '%s'", i, rc, err.reason, c[i].code,
                     c[i].reason);
        assert_null(r);
    }
    tl_kms_peer_done(&p, k);
}

static void malformed_answers(void **state)
{
    (void)state;
    static const struct { const char *body; int code; const char *reason; } c[] = {
        { "not json", CL_EFORMAT, "KMS answered with invalid JSON" },
        { "[1,2]", CL_EFORMAT, "KMS answered with invalid JSON" },
        { "", CL_EFORMAT, "KMS answered with invalid JSON" },
        { "{}", CL_EFORMAT, "the KMS response has no Plaintext" },
        { "{\"Plaintext\":7}", CL_EFORMAT, "the KMS response has no Plaintext" },
        { "{\"Plaintext\":\"AAE*\"}", CL_EFORMAT,
          "the KMS response's Plaintext: invalid base64 character at offset 3" },
        { "{\"Plaintext\":\"AAEC\"}", CL_EFORMAT, "KMS returned 3 random bytes, 4 were asked for" },
    };
    size_t n = sizeof(c) / sizeof(c[0]);
    struct tl_script s = { (int)n, 0, { { 0, NULL } } };
    for (size_t i = 0; i < n; i++)
        s.a[i].status = 200, s.a[i].body = c[i].body;
    struct tl_https_peer p;
    struct kms_client *k = tl_kms_tcp_peer(&p, &tls, tl_scripted, &s, (int)n, NULL);
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = NULL;
        struct cl_error err = { 0 };
        int rc = kms_generate_random(k, 4, false, &r, &err);
        if (rc != c[i].code || strcmp(err.reason, c[i].reason) != 0)
            fail_msg("answer %zu: got %d '%s', want %d '%s'", i, rc, err.reason, c[i].code,
                     c[i].reason);
        assert_null(r);
    }
    tl_kms_peer_done(&p, k);
}

/* An answer over 1 MiB is cut off, not collected. */
static void oversized_answer(void **state)
{
    (void)state;
    size_t n = (1u << 20) + 100;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    big[0] = '{';
    big[n - 1] = '}';
    struct tl_script s = { 1, 0, { { 200, big } } };
    struct tl_https_peer p;
    struct kms_client *k = tl_kms_tcp_peer(&p, &tls, tl_scripted, &s, 1, NULL);
    uint8_t *r = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(kms_generate_random(k, 4, false, &r, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "the KMS response exceeds 1048576 bytes");
    tl_kms_peer_done(&p, k);
    free(big);
}

/* ---- failures before any answer -------------------------------------------- */

static struct kms_client *client_for(const char *url, const char *ca)
{
    struct kms_client_config cfg = { .region = "us-east-1", .ca_bundle = ca, .endpoint_url = url,
                                     .access_key_id = AKID, .secret_access_key = SECRET };
    struct kms_client *c = NULL;
    assert_int_equal(kms_client_new(&cfg, &c, NULL), 0);
    return c;
}

static void expect_transport_error(struct kms_client *c, const char *url, CURLcode cc)
{
    uint8_t *r = NULL;
    struct cl_error err = { 0 };
    char want[512];
    snprintf(want, sizeof(want), "KMS request to %s failed: %s", url, curl_easy_strerror(cc));
    assert_int_equal(kms_generate_random(c, 4, false, &r, &err), CL_EIO);
    assert_string_equal(err.reason, want);
    assert_null(r);
}

static void transport_failures(void **state)
{
    (void)state;
    char url[64];
    /* nothing listens */
    uint16_t port;
    int refusing = tl_tcp_refusing(&port);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
    struct kms_client *c = client_for(url, tls.ca_file);
    expect_transport_error(c, url, CURLE_COULDNT_CONNECT);
    kms_client_free(c);
    close(refusing);

    /* a server certificate from another CA; then a name it does not carry */
    struct tl_https_peer p = { .tls = &tls, .kind = TL_LISTEN_TCP, .connections = 2,
                               .respond = tl_scripted };
    struct tl_script s = { 1, 0, { { 200, "{}" } } };
    p.ctx = &s;
    p.listen_fd = tl_tcp_listen(&port);
    tl_https_start(&p);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
    c = client_for(url, other_ca.ca_file);
    expect_transport_error(c, url, CURLE_PEER_FAILED_VERIFICATION);
    kms_client_free(c);
    snprintf(url, sizeof(url), "https://localhost:%u", port);
    c = client_for(url, tls.ca_file);
    expect_transport_error(c, url, CURLE_PEER_FAILED_VERIFICATION);
    tl_https_join(&p);
    assert_int_equal(p.nreq, 0); /* nothing was said to an unverified server */
    tl_kms_peer_done(&p, c);
}

static void expect_new_error(const struct kms_client_config *cfg, const char *reason)
{
    struct kms_client *c = (struct kms_client *)&c;
    struct cl_error err = { 0 };
    assert_int_equal(kms_client_new(cfg, &c, &err), CL_EINVAL);
    assert_null(c);
    assert_string_equal(err.reason, reason);
}

static void configuration_refusals(void **state)
{
    (void)state;
    struct kms_client_config cfg = { .access_key_id = AKID, .secret_access_key = SECRET };
    expect_new_error(&cfg, "invalid region ''");
    static const char *const regions[] = { "", "US-EAST-1", "us east 1", "us_east_1",
                                           "abcdefghijklmnopqrstuvwxyz0123456" };
    char want[128];
    for (int i = 0; i < 5; i++) {
        cfg.region = regions[i];
        snprintf(want, sizeof(want), "invalid region '%s'", regions[i]);
        expect_new_error(&cfg, want);
    }
    cfg.region = "eu-west-3";
    static const char *const endpoints[] = { ":443", "host:", "host:0", "host:65536", "host:44x" };
    for (int i = 0; i < 5; i++) {
        cfg.endpoint = endpoints[i];
        snprintf(want, sizeof(want), "invalid endpoint '%s'", endpoints[i]);
        expect_new_error(&cfg, want);
    }
    cfg.endpoint = NULL;
    cfg.endpoint_url = "http://127.0.0.1:1";
    expect_new_error(&cfg, "the endpoint URL must start with https://, not 'http://127.0.0.1:1'");
    cfg.endpoint_url = NULL;
    const char *keys = "an access key id and a secret access key are required";
    cfg.access_key_id = "";
    expect_new_error(&cfg, keys);
    cfg.access_key_id = AKID;
    cfg.secret_access_key = NULL;
    expect_new_error(&cfg, keys);
    kms_client_free(NULL);
}

/* Refused before anything is sent: the client points at a port that
 * refuses connections, so an attempt to connect would give another error. */
static void caller_input_refusals(void **state)
{
    (void)state;
    uint16_t port;
    int refusing = tl_tcp_refusing(&port);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
    struct kms_client *c = client_for(url, tls.ca_file);
    uint8_t *out = NULL;
    size_t len = 0;
    struct cl_error err = { 0 };
    static const struct { const char *ctx, *reason; } bad[] = {
        { "[]", "the encryption context must be a JSON object, not an array" },
        { "{\"a\":", "the encryption context must be a JSON object: "
                     "unexpected token near end of file" },
        { "{\"a\":1}", "encryption context value of 'a' is not a string" },
    };
    for (int i = 0; i < 3; i++) {
        cl_error_clear(&err);
        assert_int_equal(kms_encrypt(c, "k", (const uint8_t *)"x", 1, bad[i].ctx, &out, &len, &err),
                         CL_EINVAL);
        assert_string_equal(err.reason, bad[i].reason);
        cl_error_clear(&err);
        assert_int_equal(kms_decrypt(c, (const uint8_t *)"x", 1, NULL, NULL, bad[i].ctx, false,
                                     &out, &len, &err), CL_EINVAL);
        assert_string_equal(err.reason, bad[i].reason);
    }
    cl_error_clear(&err);
    assert_int_equal(kms_generate_random(c, 0, false, &out, &err), CL_EINVAL);
    assert_string_equal(err.reason, "the length must be from 1 to 1024 bytes, not 0");
    cl_error_clear(&err);
    assert_int_equal(kms_generate_random(c, 1025, false, &out, &err), CL_EINVAL);
    assert_string_equal(err.reason, "the length must be from 1 to 1024 bytes, not 1025");
    kms_client_free(c);
    close(refusing);
}

/* ---- through the vsock proxy (the enclave's way) ---------------------------- */

/* The bytes go to vsock (3, port) and through sock_bridge; TLS and Host are
 * the configured endpoint's (the default is kms.<region>.amazonaws.com). */
static void through_the_vsock_proxy(void **state)
{
    (void)state;
    assert_int_equal(tl_vsock_setup(NULL), 0);
    struct cl_error err = { 0 };
    int l = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(l, VSOCK_CID_ANY, 8123, 4, &err), 0);
    struct tl_script s = { 1, 0, { { 200, "{\"Plaintext\":\"AAECAw==\"}" } } };
    struct tl_https_peer p = { .tls = &tls, .listen_fd = l, .kind = TL_LISTEN_VSOCK,
                               .connections = 2, .respond = tl_scripted, .ctx = &s };
    tl_https_start(&p);
    static const struct { const char *endpoint, *host; } c[] = {
        { NULL, "kms.us-east-1.amazonaws.com" },
        { "kms.test.local:8443", "kms.test.local:8443" },
    };
    for (int i = 0; i < 2; i++) {
        struct kms_client_config cfg = { .region = "us-east-1", .endpoint = c[i].endpoint,
                                         .ca_bundle = tls.ca_file, .proxy_port = 8123,
                                         .access_key_id = AKID, .secret_access_key = SECRET };
        struct kms_client *k = NULL;
        assert_int_equal(kms_client_new(&cfg, &k, &err), 0);
        uint8_t *r = NULL;
        if (kms_generate_random(k, 4, false, &r, &err) != 0)
            fail_msg("through vsock: %s", err.reason);
        assert_memory_equal(r, "\0\1\2\3", 4);
        free(r);
        kms_client_free(k);
    }
    tl_https_join(&p);
    assert_int_equal(p.nreq, 2);
    for (int i = 0; i < 2; i++) {
        char host[128];
        assert_true(tl_http_header(p.req[i].head, "Host", host, sizeof(host)));
        assert_string_equal(host, c[i].host);
        json_decref(tl_check_kms_request(&p.req[i], "GenerateRandom"));
    }
    tl_https_clear(&p);
    vsock_close(l);

    /* no proxy listening */
    struct kms_client_config cfg = { .region = "us-east-1", .ca_bundle = tls.ca_file,
                                     .proxy_port = 8124, .access_key_id = AKID,
                                     .secret_access_key = SECRET };
    struct kms_client *k = NULL;
    assert_int_equal(kms_client_new(&cfg, &k, &err), 0);
    uint8_t *r = NULL;
    assert_int_equal(kms_generate_random(k, 4, false, &r, &err), CL_EIO);
    assert_string_equal(err.reason, "cannot reach the KMS proxy at vsock 3:8124: vsock connect to "
                                    "(3, 8124): nothing listens at that address: Connection reset "
                                    "by peer");
    kms_client_free(k);
    tl_vsock_teardown(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encrypt_request_and_answer),
        cmocka_unit_test(session_token_is_sent),
        cmocka_unit_test(decrypt_and_data_key_requests),
        cmocka_unit_test(derive_shared_secret_request),
        cmocka_unit_test(aws_errors_are_mapped),
        cmocka_unit_test(malformed_answers),
        cmocka_unit_test(oversized_answer),
        cmocka_unit_test(transport_failures),
        cmocka_unit_test(configuration_refusals),
        cmocka_unit_test(caller_input_refusals),
        cmocka_unit_test(through_the_vsock_proxy),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
