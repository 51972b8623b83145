/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the strict base64 decoder (src/lib/base64.c), which
 * reads every blob of the KMS API. Besides "never crash", it checks the
 * decoder's promise of canonical input (RFC 4648 §3.5): whatever it accepts
 * re-encodes to exactly the same text, and its length bound holds.
 * Seeds: tests/fuzz/corpus/base64/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the size limit, so that CL_ELIMIT is reached too. */
    size_t max = size ? (size_t)data[0] * 4 : 0;
    const char *in = size ? (const char *)data + 1 : "";
    size_t in_len = size ? size - 1 : 0;
    uint8_t *out = NULL;
    size_t out_len = 0;
    struct cl_error err = { 0 };
    if (base64_decode(in, in_len, max, &out, &out_len, &err) < 0) {
        if (out || out_len || err.code == 0 || !err.reason[0])
            abort(); /* a failure must leave nothing behind and say why */
        return 0;
    }
    if (out_len > max || out[out_len] != 0)
        abort();
    char *again = base64_encode(out, out_len);
    if (!again || strlen(again) != in_len || memcmp(again, in, in_len) != 0)
        abort(); /* accepted text that is not canonical base64 */
    free(again);
    free(out);
    return 0;
}
