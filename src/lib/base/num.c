/* SPDX-License-Identifier: Apache-2.0 */
#include "base/num.h"

int num_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return CL_EFORMAT;
    uint64_t v = 0;
    int rc = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return CL_EFORMAT;
        unsigned d = (unsigned)(*p - '0');
        if (d > max || v > (max - d) / 10)
            rc = CL_ELIMIT;   /* keep reading: junk after the digits is a format error */
        else
            v = v * 10 + d;
    }
    if (rc == 0)
        *out = v;
    return rc;
}
