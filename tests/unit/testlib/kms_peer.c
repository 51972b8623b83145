/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib/kms_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/hex.h"
#include "testlib/testlib.h"

void tl_scripted(void *ctx, const struct tl_http_request *req, int *status, char **body)
{
    (void)req;
    struct tl_script *s = ctx;
    int i = s->next < s->n ? s->next++ : s->n - 1;
    *status = s->a[i].status;
    *body = strdup(s->a[i].body);
}

struct kms_client *tl_kms_tcp_peer(struct tl_https_peer *p, struct tl_tls *tls,
                                   tl_http_responder r, void *ctx, int connections,
                                   const char *token)
{
    uint16_t port;
    *p = (struct tl_https_peer){ .tls = tls, .kind = TL_LISTEN_TCP, .connections = connections,
                                 .respond = r, .ctx = ctx };
    p->listen_fd = tl_tcp_listen(&port);
    tl_https_start(p);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
    struct kms_client_config cfg = { .region = "us-east-1", .ca_bundle = tls->ca_file,
                                     .endpoint_url = url, .access_key_id = TL_KMS_AKID,
                                     .secret_access_key = TL_KMS_SECRET, .session_token = token };
    struct kms_client *c = NULL;
    struct cl_error err = { 0 };
    if (kms_client_new(&cfg, &c, &err) != 0)
        fail_msg("kms_client_new: %s", err.reason);
    return c;
}

void tl_kms_peer_done(struct tl_https_peer *p, struct kms_client *c)
{
    tl_https_join(p);
    close(p->listen_fd);
    tl_https_clear(p);
    kms_client_free(c);
}

static void hmac(const void *key, size_t klen, const char *msg, uint8_t out[32])
{
    unsigned int n = 32;
    assert_non_null(HMAC(EVP_sha256(), key, (int)klen, (const uint8_t *)msg, strlen(msg), out, &n));
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
    uint8_t md[32];
    assert_int_equal(EVP_Digest(d, n, md, NULL, EVP_sha256(), NULL), 1);
    hex_encode(out, md, 32);
}

void tl_check_sigv4(const struct tl_http_request *r, const char *region)
{
    char auth[1024], date[32], cred[256], names[512], sig[80];
    assert_true(tl_http_header(r->head, "Authorization", auth, sizeof(auth)));
    assert_true(tl_http_header(r->head, "X-Amz-Date", date, sizeof(date)));
    assert_int_equal(strlen(date), 16);
    assert_int_equal(date[8], 'T');
    assert_int_equal(date[15], 'Z');
    assert_int_equal(sscanf(auth, "AWS4-HMAC-SHA256 Credential=%255[^,], SignedHeaders=%511[^,], "
                                  "Signature=%79s", cred, names, sig), 3);
    char scope[128], want_cred[200];
    snprintf(scope, sizeof(scope), "%.8s/%s/kms/aws4_request", date, region);
    snprintf(want_cred, sizeof(want_cred), "%s/%s", TL_KMS_AKID, scope);
    assert_string_equal(cred, want_cred);
    assert_int_equal(strlen(sig), 64);
    /* every header the service must see is signed */
    static const char *const must[] = { "host", "x-amz-date", "x-amz-target" };
    for (int i = 0; i < 3; i++)
        assert_non_null(strstr(names, must[i]));

    char creq[4096] = "POST\n/\n\n", copy[512], value[1024], body_hash[65], creq_hash[65];
    snprintf(copy, sizeof(copy), "%s", names);
    for (char *save = NULL, *h = strtok_r(copy, ";", &save); h; h = strtok_r(NULL, ";", &save)) {
        assert_true(tl_http_header(r->head, h, value, sizeof(value)));
        snprintf(creq + strlen(creq), sizeof(creq) - strlen(creq), "%s:%s\n", h, value);
    }
    sha256_hex(r->body, r->body_len, body_hash);
    snprintf(creq + strlen(creq), sizeof(creq) - strlen(creq), "\n%s\n%s", names, body_hash);
    sha256_hex(creq, strlen(creq), creq_hash);
    char sts[512];
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope, creq_hash);
    uint8_t k[32], k2[32];
    char day[9];
    snprintf(day, sizeof(day), "%.8s", date);
    hmac("AWS4" TL_KMS_SECRET, strlen("AWS4" TL_KMS_SECRET), day, k);
    hmac(k, 32, region, k2);
    hmac(k2, 32, "kms", k);
    hmac(k, 32, "aws4_request", k2);
    hmac(k2, 32, sts, k);
    char want[65];
    hex_encode(want, k, 32);
    assert_string_equal(sig, want);
}

json_t *tl_check_kms_request(const struct tl_http_request *r, const char *op)
{
    assert_int_equal(strncmp(r->head, "POST / HTTP/1.1\r\n", 17), 0);
    char v[256], want[128];
    assert_true(tl_http_header(r->head, "X-Amz-Target", v, sizeof(v)));
    snprintf(want, sizeof(want), "TrentService.%s", op);
    assert_string_equal(v, want);
    assert_true(tl_http_header(r->head, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/x-amz-json-1.1");
    assert_true(tl_http_header(r->head, "User-Agent", v, sizeof(v)));
    assert_string_equal(v, "cloister-sdk/" CLOISTER_VERSION);
    tl_check_sigv4(r, "us-east-1");
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    if (!j || !json_is_object(j))
        fail_msg("request body is not a JSON object: %s", r->body);
    return j;
}

const char *tl_json_str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    if (!s)
        fail_msg("no string %s in the request", key);
    return s;
}
