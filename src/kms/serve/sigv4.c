/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4, the verifying side (sigv4.h): the strict Authorization parser,
 * the canonical request and string to sign, the key chain and the
 * constant-time comparison. */
#include "serve/sigv4.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/hex.h"
#include "util/kmsutil.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

static bool is_hex_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Copies [s, s+n) into dst (cap bytes with the NUL); false when it does not fit. */
static bool copy_span(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = 0;
    return true;
}

static int parse_credential(const char *v, size_t n, struct sigv4_auth *out, struct cl_error *err)
{
    /* AKID/YYYYMMDD/region/service/aws4_request */
    const char *parts[5];
    size_t lens[5];
    size_t k = 0;
    const char *start = v;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || v[i] == '/') {
            if (k == 5)
                return cl_fail(err, CL_EFORMAT,
                               "Credential should be scoped to a valid region, not '%.*s'. ",
                               (int)n, v);
            parts[k] = start;
            lens[k] = (size_t)(v + i - start);
            k++;
            start = v + i + 1;
        }
    }
    if (k != 5)
        return cl_fail(err, CL_EFORMAT,
                       "Credential should be scoped to a valid region. Credential=%.*s", (int)n, v);
    for (size_t i = 0; i < 5; i++)
        if (lens[i] == 0)
            return cl_fail(err, CL_EFORMAT, "Credential has an empty component: %.*s", (int)n, v);
    if (lens[4] != strlen("aws4_request") || memcmp(parts[4], "aws4_request", lens[4]) != 0)
        return cl_fail(err, CL_EFORMAT,
                       "Credential should be scoped with a valid terminator: 'aws4_request', not '%.*s'.",
                       (int)lens[4], parts[4]);
    if (lens[1] != 8)
        return cl_fail(err, CL_EFORMAT, "Date in Credential scope is not YYYYMMDD: '%.*s'",
                       (int)lens[1], parts[1]);
    for (size_t i = 0; i < 8; i++)
        if (!isdigit((unsigned char)parts[1][i]))
            return cl_fail(err, CL_EFORMAT, "Date in Credential scope is not YYYYMMDD: '%.*s'",
                           (int)lens[1], parts[1]);
    for (size_t i = 0; i < lens[0]; i++)
        if (!isalnum((unsigned char)parts[0][i]))
            return cl_fail(err, CL_EFORMAT, "The access key id contains an invalid character");
    if (!copy_span(out->access_key, sizeof(out->access_key), parts[0], lens[0]) ||
        !copy_span(out->date, sizeof(out->date), parts[1], lens[1]) ||
        !copy_span(out->region, sizeof(out->region), parts[2], lens[2]) ||
        !copy_span(out->service, sizeof(out->service), parts[3], lens[3]))
        return cl_fail(err, CL_EFORMAT, "Credential component too long");
    for (const char *p = out->region; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-'))
            return cl_fail(err, CL_EFORMAT, "Credential should be scoped to a valid region, not '%s'. ",
                           out->region);
    return 0;
}

static int parse_signed_headers(const char *v, size_t n, struct sigv4_auth *out, struct cl_error *err)
{
    if (!copy_span(out->signed_headers, sizeof(out->signed_headers), v, n) ||
        !copy_span(out->names_buf, sizeof(out->names_buf), v, n))
        return cl_fail(err, CL_EFORMAT, "SignedHeaders is too long");
    out->n_signed = 0;
    char *p = out->names_buf;
    for (;;) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = 0;
        if (*p == 0)
            return cl_fail(err, CL_EFORMAT, "SignedHeaders has an empty header name");
        for (char *c = p; *c; c++)
            if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '_' ||
                  *c == '.'))
                return cl_fail(err, CL_EFORMAT,
                               "SignedHeaders must be lowercase header names; got '%s'", p);
        if (out->n_signed == SIGV4_MAX_SIGNED_HEADERS)
            return cl_fail(err, CL_EFORMAT, "too many SignedHeaders");
        if (out->n_signed > 0 && strcmp(out->signed_names[out->n_signed - 1], p) >= 0)
            return cl_fail(err, CL_EFORMAT, "SignedHeaders must be sorted and unique");
        out->signed_names[out->n_signed++] = p;
        if (!semi)
            break;
        p = semi + 1;
    }
    return 0;
}

int sigv4_parse_authorization(const char *value, struct sigv4_auth *out, struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    size_t total = strlen(value);
    if (total > SIGV4_MAX_AUTH_LEN)
        return cl_fail(err, CL_EFORMAT, "Authorization header is too long");
    size_t alen = strlen(ALGORITHM);
    if (total < alen || memcmp(value, ALGORITHM, alen) != 0 || (value[alen] != ' ' && value[alen] != 0))
        return cl_fail(err, CL_EUNSUPPORTED, "Unsupported Authorization Type");
    const char *p = value + alen;
    bool have_cred = false, have_sh = false, have_sig = false;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ')
            end++;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return cl_fail(err, CL_EFORMAT,
                           "Authorization header requires each component to be of the form key=value; got '%.*s'",
                           (int)(end - p), p);
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = (size_t)(end - v);
        int rc = 0;
        if (klen == 10 && !memcmp(p, "Credential", 10)) {
            if (have_cred)
                return cl_fail(err, CL_EFORMAT, "Authorization header has a duplicate 'Credential'");
            have_cred = true;
            rc = parse_credential(v, vlen, out, err);
        } else if (klen == 13 && !memcmp(p, "SignedHeaders", 13)) {
            if (have_sh)
                return cl_fail(err, CL_EFORMAT, "Authorization header has a duplicate 'SignedHeaders'");
            have_sh = true;
            rc = parse_signed_headers(v, vlen, out, err);
        } else if (klen == 9 && !memcmp(p, "Signature", 9)) {
            if (have_sig)
                return cl_fail(err, CL_EFORMAT, "Authorization header has a duplicate 'Signature'");
            have_sig = true;
            if (vlen != 64 || !is_hex_lower(v, 64))
                return cl_fail(err, CL_EFORMAT, "Signature must be 64 lowercase hex digits");
            char hexsig[65];
            memcpy(hexsig, v, 64);
            hexsig[64] = 0;
            size_t n;
            rc = hex_decode(out->signature, sizeof(out->signature), &n, hexsig, err);
        } else {
            return cl_fail(err, CL_EFORMAT, "Authorization header has an unknown component '%.*s'",
                           (int)klen, p);
        }
        if (rc < 0)
            return rc;
        p = end;
    }
    if (!have_cred || !have_sh || !have_sig) {
        char msg[256] = "";
        if (!have_cred)
            strcat(msg, "Authorization header requires 'Credential' parameter. ");
        if (!have_sig)
            strcat(msg, "Authorization header requires 'Signature' parameter. ");
        if (!have_sh)
            strcat(msg, "Authorization header requires 'SignedHeaders' parameter. ");
        msg[strlen(msg) - 1] = 0;
        return cl_fail(err, CL_EFORMAT, "%s", msg);
    }
    return 0;
}

char *sigv4_uri_encode(const char *s, size_t len, int keep_slash)
{
    static const char hexd[] = "0123456789ABCDEF";
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hexd[c >> 4];
            out[j++] = hexd[c & 15];
        }
    }
    out[j] = 0;
    return out;
}

/* Appends a header value trimmed, with inner runs of spaces collapsed
 * (SigV4 task 1, "Trimall"). */
static void add_trimmed(struct ku_buf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == ' ' || c == '\t') {
            space = true;
            continue;
        }
        if (space)
            ku_buf_add(b, " ", 1);
        space = false;
        ku_buf_add(b, &c, 1);
    }
}

struct qpair {
    char *k, *v;
};

static int qcmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static int add_canonical_query(struct ku_buf *b, const struct sigv4_request *r, struct cl_error *err)
{
    if (r->n_query == 0)
        return 0;
    if (r->n_query > 1024)
        return cl_fail(err, CL_ELIMIT, "too many query parameters");
    struct qpair *q = calloc(r->n_query, sizeof(*q));
    if (!q)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < r->n_query; i++) {
        const char *v = r->query[i].value ? r->query[i].value : "";
        q[i].k = sigv4_uri_encode(r->query[i].name, strlen(r->query[i].name), 0);
        q[i].v = sigv4_uri_encode(v, strlen(v), 0);
        if (!q[i].k || !q[i].v) {
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            goto out;
        }
    }
    qsort(q, r->n_query, sizeof(*q), qcmp);
    for (size_t i = 0; i < r->n_query; i++) {
        if (i)
            ku_buf_add(b, "&", 1);
        ku_buf_adds(b, q[i].k);
        ku_buf_add(b, "=", 1);
        ku_buf_adds(b, q[i].v);
    }
out:
    for (size_t i = 0; i < r->n_query; i++) {
        free(q[i].k);
        free(q[i].v);
    }
    free(q);
    return rc;
}

int sigv4_string_to_sign(const struct sigv4_request *r, const struct sigv4_auth *a,
                         const char *amz_date, char **canonical, char **string_to_sign,
                         struct cl_error *err)
{
    *canonical = NULL;
    *string_to_sign = NULL;
    struct ku_buf c = {0}, s = {0};
    int rc = 0;

    ku_buf_adds(&c, r->method);
    ku_buf_add(&c, "\n", 1);
    /* Canonical URI: every path segment URI-encoded (services other than
     * S3 encode the already-encoded path once more). */
    const char *path = (r->path && *r->path) ? r->path : "/";
    char *enc = sigv4_uri_encode(path, strlen(path), 1);
    if (!enc) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    ku_buf_adds(&c, enc);
    free(enc);
    ku_buf_add(&c, "\n", 1);
    rc = add_canonical_query(&c, r, err);
    if (rc < 0)
        goto out;
    ku_buf_add(&c, "\n", 1);
    for (size_t i = 0; i < a->n_signed; i++) {
        const char *name = a->signed_names[i];
        ku_buf_adds(&c, name);
        ku_buf_add(&c, ":", 1);
        bool found = false;
        /* Repeated headers: values joined with ',' in the order received. */
        for (size_t j = 0; j < r->n_headers; j++) {
            if (strcasecmp(r->headers[j].name, name) != 0)
                continue;
            if (found)
                ku_buf_add(&c, ",", 1);
            add_trimmed(&c, r->headers[j].value ? r->headers[j].value : "");
            found = true;
        }
        if (!found) {
            rc = cl_fail(err, CL_ENOTFOUND,
                         "'%s' is a SignedHeader but is not present in the request", name);
            goto out;
        }
        ku_buf_add(&c, "\n", 1);
    }
    ku_buf_add(&c, "\n", 1);
    ku_buf_adds(&c, a->signed_headers);
    ku_buf_add(&c, "\n", 1);
    char body_hash[65];
    ku_sha256_hex(r->body ? (const void *)r->body : (const void *)"", r->body_len, body_hash);
    ku_buf_adds(&c, body_hash);
    if (c.oom) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }

    char creq_hash[65];
    ku_sha256_hex(c.p, c.len, creq_hash);
    ku_buf_printf(&s, "%s\n%s\n%s/%s/%s/aws4_request\n%s", ALGORITHM, amz_date, a->date, a->region,
                  a->service, creq_hash);
    if (s.oom) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    *canonical = c.p;
    *string_to_sign = s.p;
    c.p = s.p = NULL;
out:
    ku_buf_free(&c);
    ku_buf_free(&s);
    return rc;
}

static void hmac(const uint8_t *key, size_t key_len, const char *msg, uint8_t out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out, &n);
}

void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, uint8_t key[32])
{
    size_t slen = strlen(secret);
    uint8_t *k0 = malloc(slen + 4);
    uint8_t k[32];
    if (!k0) {
        /* never a valid key: all zeros makes every signature mismatch */
        memset(key, 0, 32);
        return;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen);
    hmac(k0, slen + 4, date, k);
    OPENSSL_cleanse(k0, slen + 4);
    free(k0);
    hmac(k, 32, region, k);
    hmac(k, 32, service, k);
    hmac(k, 32, "aws4_request", key);
    OPENSSL_cleanse(k, sizeof(k));
}

void sigv4_sign(const uint8_t key[32], const char *string_to_sign, char out[65])
{
    uint8_t mac[32];
    hmac(key, 32, string_to_sign, mac);
    hex_encode(out, mac, 32);
}

int sigv4_verify(const struct sigv4_request *r, const struct sigv4_auth *a, const char *amz_date,
                 const char *secret, struct cl_error *err)
{
    char *canonical = NULL, *sts = NULL;
    int rc = sigv4_string_to_sign(r, a, amz_date, &canonical, &sts, err);
    if (rc < 0)
        return rc;
    uint8_t key[32], mac[32];
    sigv4_signing_key(secret, a->date, a->region, a->service, key);
    hmac(key, 32, sts, mac);
    if (CRYPTO_memcmp(mac, a->signature, 32) != 0)
        rc = cl_fail(err, CL_ESIGNATURE,
                     "The request signature we calculated does not match the signature you provided. "
                     "Check your AWS Secret Access Key and signing method. Consult the service "
                     "documentation for details.");
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(mac, sizeof(mac));
    free(canonical);
    free(sts);
    return rc;
}
