/* SPDX-License-Identifier: Apache-2.0 */
/* The instance metadata service (imds.h). */
#include "imds/imds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/base64.h"
#include "base/byteorder.h"
#include "base/num.h"
#include "serve/http.h"
#include "util/kmsutil.h"

#define TOKEN_TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"
#define TOKEN_HEADER     "X-aws-ec2-metadata-token"
/* an absolute-form request names the metadata address; EC2's IPv6 one too */
static const char *const metadata_hosts[] = { "169.254.169.254", "169.254.169.254:80",
                                              "[fd00:ec2::254]", "[fd00:ec2::254]:80" };

struct imds {
    struct imds_opts o;
    struct http_server *http;
    uint8_t token_key[32]; /* tokens are MACs under it: nothing to store */
    char profile_arn[256];
    char profile_id[32];
};

/* ---- answers ---------------------------------------------------------------- */

static void answer(struct http_response *r, int status, const char *text)
{
    r->status = status;
    r->content_type = "text/plain";
    r->body = strdup(text);
    r->body_len = r->body ? strlen(text) : 0;
}

static void answer_owned(struct http_response *r, char *text)
{
    r->status = 200;
    r->content_type = "text/plain";
    r->body = text;
    r->body_len = strlen(text);
}

/* ---- IMDSv2 tokens: base64(expiry, 8 bytes BE || HMAC-SHA256(key, expiry)) --- */

/* Tokens live by the boot clock: the key is this process's, and a wall
 * clock stepped back must not lengthen a token's life. */
static uint64_t token_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec;
}

static void token_mac(const struct imds *m, const uint8_t expiry[8], uint8_t mac[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), m->token_key, sizeof(m->token_key), expiry, 8, mac, &n);
}

static char *token_new(const struct imds *m, uint64_t ttl)
{
    uint8_t raw[40];
    be64_store(raw, token_clock() + ttl);
    token_mac(m, raw, raw + 8);
    return base64_encode(raw, sizeof(raw));
}

/* Seconds the token has left; 0 when it is not one of ours or has expired. */
static uint64_t token_left(const struct imds *m, const char *token)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    if (base64_decode(token, strlen(token), 64, &raw, &len, NULL) < 0)
        return 0;
    uint64_t left = 0;
    uint8_t mac[32];
    if (len == 40) {
        token_mac(m, raw, mac);
        uint64_t expiry = be64_load(raw), now = token_clock();
        if (CRYPTO_memcmp(mac, raw + 8, 32) == 0 && expiry > now)
            left = expiry - now;
    }
    free(raw);
    return left;
}

static void put_token(struct imds *m, const struct http_request *req, struct http_response *r)
{
    if (http_header(req, "X-Forwarded-For"))
        return answer(r, 403, "403 - Forbidden\n");
    const char *ttl_text = http_header(req, TOKEN_TTL_HEADER);
    uint64_t ttl;
    if (!ttl_text || num_parse_u64(ttl_text, IMDS_TOKEN_TTL_MAX, &ttl) != 0 || ttl < 1)
        return answer(r, 400, "400 - Bad Request\n");
    char *token = token_new(m, ttl);
    if (!token)
        return answer(r, 500, "500 - Internal Server Error\n");
    answer_owned(r, token);
    r->extra_header = TOKEN_TTL_HEADER;
    snprintf(r->extra_value, sizeof(r->extra_value), "%llu", (unsigned long long)ttl);
}

/* ---- the metadata tree ------------------------------------------------------- */

static void iam_info(struct imds *m, struct http_response *r)
{
    char updated[32], text[768];
    double t = imds_creds_updated(m->o.creds);
    ku_iso8601((time_t)(t > 0 ? t : m->o.started), updated);
    snprintf(text, sizeof(text),
             "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"%s\",\n"
             "  \"InstanceProfileArn\" : \"%s\",\n  \"InstanceProfileId\" : \"%s\"\n}",
             updated, m->profile_arn, m->profile_id);
    answer(r, 200, text);
}

static void credentials(struct imds *m, struct http_response *r)
{
    char *json = NULL;
    struct cl_error err = { 0 };
    if (imds_creds_get(m->o.creds, &json, &err) < 0) {
        fprintf(stderr, "cloister-kms: instance metadata: cannot mint credentials: %s\n", err.reason);
        return answer(r, 500, "500 - Internal Server Error\n");
    }
    answer_owned(r, json);
}

/* A path of the tree without its trailing slash: 1 when answered. */
static int serve_path(struct imds *m, const char *p, struct http_response *r)
{
    bool role = m->o.role_name != NULL;
    const char *const dirs[][2] = {
        { "", "latest" },
        { "/latest", "dynamic\nmeta-data" },
        { "/latest/meta-data", role ? "iam/\ninstance-id\nplacement/\nservices/"
                                    : "instance-id\nplacement/\nservices/" },
        { "/latest/meta-data/placement", "availability-zone\nregion" },
        { "/latest/meta-data/services", "domain\npartition" },
        { "/latest/meta-data/services/domain", "amazonaws.com" },
        { "/latest/meta-data/services/partition", "aws" },
        { "/latest/meta-data/instance-id", m->o.instance_id },
        { "/latest/meta-data/placement/region", m->o.region },
        { "/latest/meta-data/placement/availability-zone", m->o.availability_zone },
        { "/latest/dynamic", "instance-identity/" },
        { "/latest/dynamic/instance-identity", "document\nrsa2048\nsignature" },
        { "/latest/dynamic/instance-identity/document", m->o.identity->document },
        { "/latest/dynamic/instance-identity/signature", m->o.identity->signature },
        { "/latest/dynamic/instance-identity/rsa2048", m->o.identity->rsa2048 },
    };
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (!strcmp(p, dirs[i][0])) {
            answer(r, 200, dirs[i][1]);
            return 1;
        }
    if (!role)
        return 0;
    const char *creds = "/latest/meta-data/iam/security-credentials";
    size_t n = strlen(creds);
    if (!strcmp(p, "/latest/meta-data/iam"))
        answer(r, 200, "info\nsecurity-credentials/");
    else if (!strcmp(p, "/latest/meta-data/iam/info"))
        iam_info(m, r);
    else if (!strcmp(p, creds))
        answer(r, 200, m->o.role_name);
    else if (!strncmp(p, creds, n) && p[n] == '/' && !strcmp(p + n + 1, m->o.role_name))
        credentials(m, r);
    else
        return 0;
    return 1;
}

/* The path of a request in origin or absolute form; NULL: another host. */
static const char *origin_path(const char *url)
{
    if (strncmp(url, "http://", 7) != 0)
        return url;
    const char *host = url + 7, *slash = strchr(host, '/');
    size_t hl = slash ? (size_t)(slash - host) : strlen(host);
    for (size_t i = 0; i < sizeof(metadata_hosts) / sizeof(metadata_hosts[0]); i++)
        if (strlen(metadata_hosts[i]) == hl && !strncmp(host, metadata_hosts[i], hl))
            return slash ? slash : "/";
    return NULL;
}

/*
 * Is the request's Host one this service answers to: the metadata address,
 * or a loopback name or the listen address with the service's port? Any
 * other name reaching this port is a page whose name was rebound to
 * loopback (DNS rebinding), which must not read the role's credentials.
 */
static bool host_allowed(const struct imds *m, const char *host)
{
    if (!host)
        return true;   /* HTTP/1.0; browsers always send Host */
    for (size_t i = 0; i < sizeof(metadata_hosts) / sizeof(metadata_hosts[0]); i++)
        if (!strcmp(host, metadata_hosts[i]))
            return true;
    uint16_t port = m->http ? http_port(m->http) : m->o.port;
    const char *colon = strrchr(host, ':');
    uint64_t p;
    if (!colon || num_parse_u64(colon + 1, 65535, &p) != 0 || p != port)
        return false;
    size_t n = (size_t)(colon - host);
    const char *names[] = { "127.0.0.1", "localhost", "[::1]", m->o.host ? m->o.host : "" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *name = names[i];
        size_t nl = strlen(name);
        bool bracketed = strchr(name, ':') && name[0] != '[';   /* an IPv6 listen address */
        if (bracketed ? (n == nl + 2 && host[0] == '[' && !strncasecmp(host + 1, name, nl))
                      : (n == nl && nl > 0 && !strncasecmp(host, name, nl)))
            return true;
    }
    return false;
}

void imds_handle(void *arg, const struct http_request *req, struct http_response *r)
{
    struct imds *m = arg;
    const char *path = origin_path(req->path);
    if (!path)
        return answer(r, 403, "403 - Forbidden: only the instance metadata address is served\n");
    /* a browser's request (Origin), or a name rebound to this address */
    if (http_header(req, "Origin") || !host_allowed(m, http_header(req, "Host")))
        return answer(r, 403, "403 - Forbidden\n");
    char p[512];
    size_t n = strlen(path);
    if (n >= sizeof(p))
        return answer(r, 404, "404 - Not Found\n");
    memcpy(p, path, n + 1);
    while (n > 0 && p[n - 1] == '/')
        p[--n] = 0;
    bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if (!strcmp(p, "/latest/api/token"))
        return !strcmp(req->method, "PUT") ? put_token(m, req, r)
                                          : answer(r, 405, "405 - Method Not Allowed\n");
    if (!get)
        return answer(r, 405, "405 - Method Not Allowed\n");
    const char *token = http_header(req, TOKEN_HEADER);
    uint64_t left = token ? token_left(m, token) : 0;
    if (token ? left == 0 : m->o.tokens_required)
        return answer(r, 401, "401 - Unauthorized\n");
    if (!serve_path(m, p, r))
        return answer(r, 404, "404 - Not Found\n");
    if (left) {
        r->extra_header = TOKEN_TTL_HEADER;
        snprintf(r->extra_value, sizeof(r->extra_value), "%llu", (unsigned long long)left);
    }
}

/* ---- the server ----------------------------------------------------------------- */

int imds_new(const struct imds_opts *o, struct imds **out, struct cl_error *err)
{
    *out = NULL;
    struct imds *m = calloc(1, sizeof(*m));
    if (!m)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    m->o = *o;
    int rc = ku_random(m->token_key, sizeof(m->token_key), err);
    if (rc < 0) {
        free(m);
        return rc;
    }
    if (o->role_name) {
        snprintf(m->profile_arn, sizeof(m->profile_arn), "arn:aws:iam::%s:instance-profile/%s",
                 o->account, o->role_name);
        /* a stable id of EC2's shape: AIPA and 17 characters of [A-Z2-7] */
        uint8_t h[32];
        SHA256((const uint8_t *)m->profile_arn, strlen(m->profile_arn), h);
        memcpy(m->profile_id, "AIPA", 4);
        for (int i = 0; i < 17; i++)
            m->profile_id[4 + i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[h[i] % 32];
    }
    *out = m;
    return 0;
}

int imds_start(const struct imds_opts *o, struct imds **out, struct cl_error *err)
{
    struct imds *m = NULL;
    int rc = imds_new(o, &m, err);
    struct http_opts ho = {
        .host = o->host, .port = o->port, .threads = 1, .max_body = 4096,
        .handler = imds_handle, .arg = m,
    };
    if (rc == 0 && (rc = http_start(&ho, &m->http, err)) < 0) {
        imds_stop(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

uint16_t imds_port(const struct imds *m)
{
    return http_port(m->http);
}

void imds_url(const struct imds *m, char *out, size_t cap)
{
    char authority[80];
    http_url_authority(m->http, authority, sizeof(authority));
    snprintf(out, cap, "http://%s", authority);
}

void imds_stop(struct imds *m)
{
    if (!m)
        return;
    http_stop(m->http);
    OPENSSL_cleanse(m->token_key, sizeof(m->token_key));
    free(m);
}
