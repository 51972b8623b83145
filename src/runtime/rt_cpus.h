/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU lists as the kernel writes them ("0-3,6,8-9"): the online CPUs of the
 * host, and formatting a set back for cgroups' cpuset.cpus.
 *
 * Cloister enclaves share CPUs with the parent and with each other (the
 * process backend has no CPU pool to carve out, unlike Nitro's
 * ne_cpus), so the "pool" is simply every online CPU.
 */
#ifndef CLOISTER_RT_CPUS_H
#define CLOISTER_RT_CPUS_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#define RT_MAX_CPUS 1024

struct rt_cpuset {
    size_t n;                 /* number of CPUs in ids */
    uint32_t ids[RT_MAX_CPUS];/* ascending, no duplicates */
};

/* Parses a kernel CPU list; CL_EFORMAT on junk (intervals like 0-3-7 included). */
CL_MUST_USE int rt_cpus_parse(const char *list, struct rt_cpuset *out, struct cl_error *err);

/* The online CPUs (/sys/devices/system/cpu/online, or $CLOISTER_CPUS_ONLINE for tests). */
int rt_cpus_online(struct rt_cpuset *out, struct cl_error *err);

/* Writes "1,3-5" style list; buf of at least 8 * n + 1 bytes is always enough. */
void rt_cpus_format(const uint32_t *ids, size_t n, char *buf, size_t cap);

/* Is id in set? */
int rt_cpus_contains(const struct rt_cpuset *set, uint32_t id);

#endif
