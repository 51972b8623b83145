/* SPDX-License-Identifier: Apache-2.0 */
/* The key service's small shared helpers (kmsutil.h). */
#include "util/kmsutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/hex.h"


void ku_uuid_format(const uint8_t b[16], char out[37])
{
    char h[33];
    hex_encode(h, b, 16);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

void ku_uuid4(char out[37])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        /* RAND_bytes only fails when the DRBG cannot seed: nothing is safe then */
        abort();
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    ku_uuid_format(b, out);
}

bool ku_is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

int ku_uuid_parse(const char *s, uint8_t out[16], struct cl_error *err)
{
    if (!ku_is_uuid(s))
        return cl_fail(err, CL_EFORMAT, "not a UUID");
    char h[33];
    int j = 0;
    for (int i = 0; i < 36; i++)
        if (s[i] != '-')
            h[j++] = s[i];
    h[32] = 0;
    size_t n;
    return hex_decode(out, 16, &n, h, err);
}

double ku_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)(tv.tv_usec / 1000) / 1000.0;
}

void ku_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void ku_iso8601(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ku_parse_amz_date(const char *s, time_t *out, struct cl_error *err)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return cl_fail(err, CL_EFORMAT, "not an ISO 8601 basic date");
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return cl_fail(err, CL_EFORMAT, "not an ISO 8601 basic date");
    struct tm tm = {0};
    char buf[5];
    memcpy(buf, s, 4), buf[4] = 0;
    tm.tm_year = atoi(buf) - 1900;
    memcpy(buf, s + 4, 2), buf[2] = 0;
    tm.tm_mon = atoi(buf) - 1;
    memcpy(buf, s + 6, 2);
    tm.tm_mday = atoi(buf);
    memcpy(buf, s + 9, 2);
    tm.tm_hour = atoi(buf);
    memcpy(buf, s + 11, 2);
    tm.tm_min = atoi(buf);
    memcpy(buf, s + 13, 2);
    tm.tm_sec = atoi(buf);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return cl_fail(err, CL_EFORMAT, "date field out of range");
    *out = timegm(&tm);
    return 0;
}

void ku_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    hex_encode(out, md, sizeof(md));
}

int ku_random(void *buf, size_t len, struct cl_error *err)
{
    if (len > 0 && RAND_bytes(buf, (int)len) != 1)
        return cl_fail_openssl(err, CL_ECRYPTO, "RAND_bytes");
    return 0;
}

void ku_buf_add(struct ku_buf *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = ku_wipe_realloc(b->p, b->len, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = 0;
}

void ku_buf_adds(struct ku_buf *b, const char *s)
{
    ku_buf_add(b, s, strlen(s));
}

void ku_buf_printf(struct ku_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        ku_buf_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ku_buf_add(b, big, (size_t)n);
    ku_wipe_free(big);
}

void ku_wipe_free(void *p)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, malloc_usable_size(p));
    free(p);
}

void *ku_wipe_realloc(void *p, size_t used, size_t new_size)
{
    void *q = malloc(new_size ? new_size : 1);
    if (!q)
        return NULL;
    if (p) {
        memcpy(q, p, used < new_size ? used : new_size);
        ku_wipe_free(p);
    }
    return q;
}

void ku_buf_free(struct ku_buf *b)
{
    if (b->p) {
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}
