/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the endpoints file parser (parent_env.h). Whatever the
 * input, a parse either fails with a reason or yields http(s) URLs, a
 * region, and a metadata address when a metadata endpoint is named. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parent_env/parent_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parent_env pe;
    struct cl_error err = { 0 };
    if (parent_env_parse((const char *)data, size, "fuzz.json", &pe, &err) < 0) {
        if (err.reason[0] == '\0')
            abort();
        return 0;
    }
    if (!pe.region[0] || strncmp(pe.kms_url, "http", 4) || strncmp(pe.sts_url, "http", 4))
        abort();
    if (pe.imds_url[0] && pe.imds_addr_len == 0)
        abort();
    parent_env_clear(&pe);
    return 0;
}
