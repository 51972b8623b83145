/* SPDX-License-Identifier: Apache-2.0 */
/* List* markers (marker.h). */
#include "ops/marker.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/base64.h"

#define CHECK_LEN  8
#define MARKER_MAX 1024 /* botocore's MarkerType: 1..1024 characters */

static void marker_check(const char *scope, const char *last, size_t last_len,
                         uint8_t out[CHECK_LEN])
{
    uint8_t md[32];
    unsigned int n = 0;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (!x || EVP_DigestInit_ex(x, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(x, "cloister-kms/marker/v1", 23) != 1 ||
        EVP_DigestUpdate(x, scope, strlen(scope) + 1) != 1 ||
        EVP_DigestUpdate(x, last, last_len) != 1 || EVP_DigestFinal_ex(x, md, &n) != 1)
        memset(md, 0, sizeof(md)); /* never matches a real check by accident of content */
    EVP_MD_CTX_free(x);
    memcpy(out, md, CHECK_LEN);
}

void marker_set_next(json_t *out, const char *scope, const char *last)
{
    size_t n = strlen(last);
    uint8_t *raw = malloc(CHECK_LEN + n);
    char *text = NULL;
    if (raw) {
        marker_check(scope, last, n, raw);
        memcpy(raw + CHECK_LEN, last, n);
        text = base64_encode(raw, CHECK_LEN + n);
        free(raw);
    }
    json_object_set_new(out, "NextMarker", text ? json_string(text) : json_null());
    free(text);
}

int marker_read(struct call *c, const char *scope, const char *marker, char **last)
{
    *last = NULL;
    if (!marker)
        return 0;
    uint8_t *raw = NULL;
    size_t n = 0;
    uint8_t want[CHECK_LEN];
    if (base64_decode(marker, strlen(marker), MARKER_MAX, &raw, &n, NULL) == 0 && n > CHECK_LEN &&
        !memchr(raw + CHECK_LEN, 0, n - CHECK_LEN)) {
        marker_check(scope, (const char *)raw + CHECK_LEN, n - CHECK_LEN, want);
        if (CRYPTO_memcmp(want, raw, CHECK_LEN) == 0) {
            *last = strdup((const char *)raw + CHECK_LEN); /* base64_decode NUL-terminates */
            free(raw);
            if (*last)
                return 0;
            struct cl_error err = { 0 };
            cl_fail(&err, CL_ENOMEM, "out of memory");
            return call_fail_internal(c, &err);
        }
    }
    free(raw);
    return call_fail(c, "InvalidMarkerException", "Invalid marker %s", marker);
}
