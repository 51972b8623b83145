/* SPDX-License-Identifier: Apache-2.0 */
#include "base/hex.h"

#include <string.h>

void hex_encode(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *hex,
               struct cl_error *err)
{
    size_t n = strlen(hex);
    if (n % 2 != 0)
        return cl_fail(err, CL_EFORMAT, "hex string has an odd number of digits (%zu)", n);
    if (n / 2 > out_cap)
        return cl_fail(err, CL_ELIMIT, "hex string decodes to %zu bytes, at most %zu allowed",
                       n / 2, out_cap);
    for (size_t i = 0; i < n; i += 2) {
        int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return cl_fail(err, CL_EFORMAT, "invalid hex digit at position %zu",
                           hi < 0 ? i : i + 1);
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = n / 2;
    return 0;
}
