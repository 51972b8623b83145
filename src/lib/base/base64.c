/* SPDX-License-Identifier: Apache-2.0 */
#include "base/base64.h"

#include <limits.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base64_decode(const char *in, size_t in_len, size_t max, uint8_t **out, size_t *out_len,
                  struct cl_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (in_len % 4 != 0)
        return cl_fail(err, CL_EFORMAT, "base64 length %zu is not a multiple of 4", in_len);
    if (in_len > INT_MAX)
        return cl_fail(err, CL_ELIMIT, "base64 text of %zu bytes is too long", in_len);
    size_t pad = 0;
    if (in_len >= 1 && in[in_len - 1] == '=')
        pad++;
    if (in_len >= 2 && in[in_len - 2] == '=')
        pad++;
    size_t n = in_len / 4 * 3 - pad;
    if (n > max)
        return cl_fail(err, CL_ELIMIT, "decoded blob of %zu bytes exceeds %zu", n, max);
    /* EVP_DecodeBlock skips whitespace and tolerates some junk: check the
     * alphabet first, so that only canonical base64 gets through. */
    for (size_t i = 0; i < in_len - pad; i++)
        if (b64_value((unsigned char)in[i]) < 0)
            return cl_fail(err, CL_EFORMAT, "invalid base64 character at offset %zu", i);
    if (pad > 0) {
        /* The unused low bits of the last significant character must be zero. */
        int last = b64_value((unsigned char)in[in_len - pad - 1]);
        if ((pad == 1 && (last & 0x3)) || (pad == 2 && (last & 0xf)))
            return cl_fail(err, CL_EFORMAT, "non-canonical base64 padding");
    }
    uint8_t *buf = malloc(in_len / 4 * 3 + 1);
    if (!buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    if (in_len > 0) {
        int r = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)in_len);
        if (r < 0 || (size_t)r != in_len / 4 * 3) {
            OPENSSL_cleanse(buf, in_len / 4 * 3 + 1); /* it may hold part of a secret */
            free(buf);
            return cl_fail(err, CL_EFORMAT, "invalid base64");
        }
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return 0;
}

char *base64_encode(const uint8_t *in, size_t len)
{
    if (len > (size_t)INT_MAX / 4 * 3)
        return NULL;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}
