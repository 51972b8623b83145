/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for hex_decode (src/lib/hex.c), which reads PCR values,
 * nonces and user data given on command lines and in policies. Besides
 * "never crash" or overrun the output, it checks that whatever it accepts is
 * exactly the lowercase re-encoding of what it decoded, folded to lowercase.
 * Seeds: tests/fuzz/corpus/hex/.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4096)
        return 0;
    /* The first byte is the output capacity, so that CL_ELIMIT is reached. */
    size_t cap = data[0];
    char *in = malloc(size); /* the rest, NUL-terminated */
    uint8_t *out = malloc(cap ? cap : 1);
    if (!in || !out)
        abort();
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';
    size_t len = 0;
    struct cl_error err = { 0 };
    if (hex_decode(out, cap, &len, in, &err) < 0) {
        if (err.code == 0 || !err.reason[0])
            abort();
    } else {
        size_t n = strlen(in);
        if (len > cap || 2 * len != n)
            abort();
        char *again = malloc(2 * len + 1);
        if (!again)
            abort();
        hex_encode(again, out, len);
        for (size_t i = 0; i < n; i++)
            if (again[i] != tolower((unsigned char)in[i]))
                abort();
        free(again);
    }
    free(out);
    free(in);
    return 0;
}
