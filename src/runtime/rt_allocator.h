/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's share for enclaves: what all enclaves together may use, as
 * nitro-cli's allocator.yaml sets it on a Nitro parent (memory_mib,
 * cpu_count or cpu_pool), plus two keys of Cloister's own (pids_max,
 * cgroup_parent). The file is $CLOISTER_ALLOCATOR, else
 * /etc/cloister/allocator.yaml; without one the defaults below hold
 * (docs/runtime.md, "The host-wide cap").
 *
 * The runtime enforces it twice: run-enclave refuses an enclave the pool
 * cannot take (E21, E22, E27, as nitro-cli does), and the kernel holds the
 * sum of all enclaves under one parent cgroup (rt_cgroup.h) whose
 * cpuset, memory and pids limits are these.
 */
#ifndef CLOISTER_RT_ALLOCATOR_H
#define CLOISTER_RT_ALLOCATOR_H

#include <stdbool.h>
#include <stdint.h>

#include <cloister/error.h>

#include "rt_cpus.h"

#define RT_ALLOCATOR_FILE "/etc/cloister/allocator.yaml"
#define RT_CGROUP_PARENT_MAX 64

struct rt_allocator {
    char path[512];                 /* the file read; "" when the defaults hold */
    struct rt_cpuset pool;          /* the CPUs enclaves may run on */
    uint64_t memory_mib;            /* all enclaves together */
    uint64_t pids_max;              /* all enclaves' tasks together */
    char cgroup_parent[RT_CGROUP_PARENT_MAX + 1];   /* one name: <mnt>/<name>/<enclave id> */
};

/*
 * Loads the file, or the defaults when there is none. A key the file does
 * not set keeps its default. CL_EFORMAT names the file, the line and the
 * key: an unknown key, a value that is not a number or a CPU list, both
 * cpu_count and cpu_pool, a CPU that is not online, a pool larger than
 * the online CPUs, a cgroup_parent that is not one plain name.
 */
CL_MUST_USE int rt_allocator_load(struct rt_allocator *a, struct cl_error *err);

/* The same from text (the file's content; name is used in messages). */
CL_MUST_USE int rt_allocator_parse(const char *text, size_t len, const char *name,
                                   const struct rt_cpuset *online, struct rt_allocator *a,
                                   struct cl_error *err);

/*
 * Whether an enclave with cpu_count CPUs (when ids is NULL) or the CPUs
 * ids[0..n) fits the pool, in nitro-cli's words: CL_ELIMIT (E22, more CPUs
 * than the pool has), CL_ENOTFOUND (E21, a CPU outside the pool), with the
 * message in err. run-enclave checks before it starts a monitor, which
 * checks again under the runtime directory's lock.
 */
CL_MUST_USE int rt_allocator_check_cpus(const struct rt_allocator *a, uint64_t cpu_count,
                                        const uint32_t *ids, size_t n, struct cl_error *err);

/* The defaults for a host with these online CPUs, memory and PID limits:
 * every online CPU, 3/4 of the memory, half of min(pid_max, threads-max). */
void rt_allocator_defaults(const struct rt_cpuset *online, uint64_t mem_total_mib,
                           uint64_t pid_max, uint64_t threads_max, struct rt_allocator *a);

#endif
