/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the enclave init's /cmd and /env parser
 * (src/init/init_config.h): any bytes are split into lines or refused, and
 * the lines joined back with '\n' give the input again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "init_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct init_list l;
    const char *why = NULL;
    if (init_split_lines((const char *)data, size, &l, &why) < 0) {
        if (!why)
            abort();
        return 0;
    }
    if (l.v[l.n] != NULL)
        abort();
    /* Re-join: each line plus '\n', except a last line that had none. */
    size_t pos = 0;
    for (size_t i = 0; i < l.n; i++) {
        size_t n = strlen(l.v[i]);
        if (pos + n > size || memcmp(data + pos, l.v[i], n) != 0)
            abort();
        pos += n;
        if (pos < size) {
            if (data[pos] != '\n')
                abort();
            pos++;
        }
    }
    if (pos != size)
        abort();
    init_list_free(&l);
    return 0;
}
