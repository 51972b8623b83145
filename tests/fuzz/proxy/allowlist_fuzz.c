/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the vsock-proxy allowlist parser (YAML). */
#include <stddef.h>
#include <stdint.h>

#include "allowlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct allowlist al;
    if (allowlist_parse((const char *)data, size, &al, NULL) == 0)
        allowlist_release(&al);
    return 0;
}
