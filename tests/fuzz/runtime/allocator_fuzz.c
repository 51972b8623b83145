/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the allocator file's parser (rt_allocator.h). Whatever
 * the input, a parse fails with a reason (CL_EFORMAT) or yields a pool of
 * online CPUs only, positive limits and a plain cgroup_parent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_allocator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_cpuset online = { .n = 4, .ids = { 0, 1, 2, 5 } };
    struct rt_allocator a;
    struct cl_error err = { 0 };
    rt_allocator_defaults(&online, 8192, 32768, 0, &a);
    int rc = rt_allocator_parse((const char *)data, size, "fuzz", &online, &a, &err);
    if (rc < 0) {
        if (rc != CL_EFORMAT && rc != CL_ENOMEM)
            abort();
        if (err.reason[0] == '\0')
            abort();
        return 0;
    }
    if (a.pool.n == 0 || a.pool.n > online.n || a.memory_mib == 0 || a.pids_max < 16)
        abort();
    for (size_t i = 0; i < a.pool.n; i++)
        if (!rt_cpus_contains(&online, a.pool.ids[i]))
            abort();
    if (!a.cgroup_parent[0] || strchr(a.cgroup_parent, '/') || !strcmp(a.cgroup_parent, ".."))
        abort();
    return 0;
}
