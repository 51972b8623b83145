/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the host configuration parser (hostconf.h). Whatever
 * the input, a parse either fails with the defaults left in place or
 * yields values that pass the validators. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nsm_device/hostconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hostconf hc;
    struct cl_error err = {0};
    int rc = hostconf_parse((const char *)data, size, "fuzz", &hc, &err);
    if (rc < 0) {
        if (strcmp(hc.instance_id, HOSTCONF_DEFAULT_INSTANCE_ID) != 0 ||
            hc.parent_role_arn[0] != '\0' || err.reason[0] == '\0')
            abort();
        return 0;
    }
    if (!hostconf_instance_id_valid(hc.instance_id))
        abort();
    if (hc.parent_role_arn[0] != '\0' && !hostconf_role_arn_valid(hc.parent_role_arn))
        abort();
    return 0;
}
