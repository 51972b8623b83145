/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the emulated vsock's wire formats (src/lib/vsock_proto.h):
 * the hello a listener reads from any host process, the request a broker reads
 * from an enclave, the response an enclave reads from its broker. Every
 * decoder must accept or refuse without reading out of bounds, and whatever
 * it accepts must re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/vsock_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that ASan sees any overread. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    const char *why = NULL;
    uint8_t out[VSOCK_MSG_LEN];

    struct vsock_hello h;
    if (vsock_hello_decode(buf, size, &h, &why) == 0) {
        vsock_hello_encode(&h, out);
        if (size != VSOCK_MSG_LEN || memcmp(out, buf, size) != 0)
            abort();
    } else if (!why) {
        abort();
    }
    struct vsock_request q;
    why = NULL;
    if (vsock_request_decode(buf, size, &q, &why) == 0) {
        vsock_request_encode(&q, out);
        if (size != VSOCK_MSG_LEN || memcmp(out, buf, size) != 0)
            abort();
    } else if (!why) {
        abort();
    }
    struct vsock_response r;
    why = NULL;
    if (vsock_response_decode(buf, size, &r, &why) == 0) {
        vsock_response_encode(&r, out);
        if (size != VSOCK_MSG_LEN || memcmp(out, buf, size) != 0)
            abort();
    } else if (!why) {
        abort();
    }
    free(buf);
    return 0;
}
