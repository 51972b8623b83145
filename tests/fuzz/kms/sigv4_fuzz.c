/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the SigV4 Authorization header parser
 * (sigv4_parse_authorization) and, for headers that parse, the canonical
 * request built from the signed-header list against a fixed request.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SIGV4_MAX_AUTH_LEN + 16)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct sigv4_auth a;
    if (sigv4_parse_authorization(s, &a, NULL) == 0) {
        static const struct sigv4_header h[] = {
            { "Host", "kms.us-east-1.amazonaws.com" }, { "X-Amz-Date", "20150830T123600Z" },
            { "X-Amz-Target", "TrentService.ListKeys" }, { "Content-Type", " a   b " },
        };
        static const struct sigv4_header q[] = { { "a b", "c/d" } };
        struct sigv4_request r = { .method = "POST", .path = "/", .headers = h, .n_headers = 4,
                                   .query = q, .n_query = 1, .body = (const uint8_t *)"{}",
                                   .body_len = 2 };
        /* the fuzzer cannot make an HMAC with "secret": a match is a bug */
        if (sigv4_verify(&r, &a, "20150830T123600Z", "secret", NULL) == 0)
            abort();
    }
    free(s);
    return 0;
}
