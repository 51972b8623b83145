/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_cpus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_util.h"

static int parse_num(const char **p, uint32_t *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v >= RT_MAX_CPUS)
            return -1;
        s++;
    }
    *out = (uint32_t)v;
    *p = s;
    return 0;
}

int rt_cpus_parse(const char *list, struct rt_cpuset *out, struct cl_error *err)
{
    unsigned char seen[RT_MAX_CPUS];
    memset(seen, 0, sizeof(seen));
    out->n = 0;
    const char *p = list;
    while (*p == ' ')
        p++;
    if (*p == '\0' || *p == '\n')
        return 0;  /* an empty list is valid (an empty cpuset) */
    for (;;) {
        uint32_t a, b;
        if (parse_num(&p, &a) < 0)
            return cl_fail(err, CL_EFORMAT, "malformed CPU list '%s'", list);
        b = a;
        if (*p == '-') {
            p++;
            if (parse_num(&p, &b) < 0 || b < a)
                return cl_fail(err, CL_EFORMAT, "malformed CPU interval in '%s'", list);
        }
        for (uint32_t i = a; i <= b; i++)
            seen[i] = 1;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\0' || *p == '\n')
            break;
        return cl_fail(err, CL_EFORMAT, "malformed CPU list '%s'", list);
    }
    for (uint32_t i = 0; i < RT_MAX_CPUS; i++)
        if (seen[i])
            out->ids[out->n++] = i;
    return 0;
}

int rt_cpus_online(struct rt_cpuset *out, struct cl_error *err)
{
    const char *override = getenv("CLOISTER_CPUS_ONLINE");
    if (override && *override)
        return rt_cpus_parse(override, out, err);
    char buf[4096];
    int rc = rt_read_str("/sys/devices/system/cpu/online", buf, sizeof(buf), err);
    if (rc < 0)
        return rc;
    return rt_cpus_parse(buf, out, err);
}

void rt_cpus_format(const uint32_t *ids, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j + 1 < n && ids[j + 1] == ids[j] + 1)
            j++;
        int w;
        if (j > i)
            w = snprintf(buf + off, cap - off, "%s%u-%u", off ? "," : "", ids[i], ids[j]);
        else
            w = snprintf(buf + off, cap - off, "%s%u", off ? "," : "", ids[i]);
        if (w < 0 || (size_t)w >= cap - off)
            return;
        off += (size_t)w;
        i = j;
    }
}

int rt_cpus_contains(const struct rt_cpuset *set, uint32_t id)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->ids[i] == id)
            return 1;
    return 0;
}
