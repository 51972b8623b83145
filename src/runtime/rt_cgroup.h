/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An enclave's CPU set, memory limit and PID limit through cgroups, v1 or v2, per
 * controller: a controller mounted in a v1 hierarchy (as on this hybrid
 * host) is used there, otherwise the unified (v2) hierarchy is used when
 * it offers the controller. In each hierarchy:
 *
 *   <root>/<parent>/               all enclaves together: the host-wide cap
 *                                  (rt_allocator.h: CPU pool, memory_mib, pids_max)
 *   <root>/<parent>/<id>/          the enclave's limits (its CPUs, --memory, pids)
 *   <root>/<parent>/<id>/enclave/  init and every process of the enclave
 *   <root>/<parent>/<id>/monitor/  the enclave's monitor: the CPU and memory it
 *                                  spends on the enclave's behalf (NSM documents,
 *                                  the console, vsock) count against the enclave
 *
 * The cpu (and v1 cpuacct) controllers, where present, give the two leaves
 * equal weights (the monitor keeps half of the enclave's CPUs however many
 * processes the enclave runs) and the enclave's total CPU time.
 *
 * Nothing here fails an enclave for a limit the host does not allow: what
 * could not be applied is recorded (rt_cgroup_not_applied()) and shown by
 * describe-enclaves as "LimitsNotApplied". Out-of-memory kills are
 * counted by the kernel (v1 memory.oom_control, v2 memory.events); the
 * monitor watches rt_cgroup_oom_fd() and reads rt_cgroup_oom_kills().
 */
#ifndef CLOISTER_RT_CGROUP_H
#define CLOISTER_RT_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <cloister/error.h>

#include "rt_allocator.h"

struct rt_cgroup;   /* owns its directories' names and the OOM fd */

/*
 * Creates the enclave's cgroups under the host-wide parent (whose limits it
 * sets from alloc each time, so that a changed allocator file holds from
 * the next enclave on) and applies the CPU list and the memory limit
 * (bytes, swap included where the host accounts it). Fails only when
 * memory runs out; host refusals become "not applied" entries.
 */
CL_MUST_USE int rt_cgroup_create(const char *enclave_id, const uint32_t *cpus, size_t ncpus,
                                 uint64_t mem_bytes, const struct rt_allocator *alloc,
                                 struct rt_cgroup **out, struct cl_error *err);

/* The enclave's pids.max for a host whose kernel.pid_max is pid_max and
 * whose enclaves together may have host_max. */
uint64_t rt_cgroup_pids_max(uint64_t pid_max, uint64_t host_max);

/* Moves pid (and its future children) into the enclave's leaves. */
int rt_cgroup_add_pid(struct rt_cgroup *cg, pid_t pid, struct cl_error *err);

/* Moves the calling process (the monitor, all its threads and its future
 * children) into the monitor's leaves, and makes the OOM killer choose the
 * enclave's processes over it. rt_cgroup_free() moves it out again. */
void rt_cgroup_enter_monitor(struct rt_cgroup *cg);

/* Readable when an OOM event may have happened (eventfd or inotify); -1 if none. */
int rt_cgroup_oom_fd(const struct rt_cgroup *cg);
/* Drains rt_cgroup_oom_fd(). */
void rt_cgroup_oom_ack(struct rt_cgroup *cg);
/* OOM kills in the enclave's memory cgroup so far (0 when not countable). */
uint64_t rt_cgroup_oom_kills(const struct rt_cgroup *cg);

/* The enclave's cgroup directories, <root>/<parent>/<id> (JSON array of strings, new reference). */
json_t *rt_cgroup_paths_json(const struct rt_cgroup *cg);
/* What could not be applied (JSON array of strings, new reference). */
json_t *rt_cgroup_not_applied_json(const struct rt_cgroup *cg);

/* Moves the monitor out, kills what is left in the cgroups, removes them,
 * frees cg. NULL is fine. */
void rt_cgroup_free(struct rt_cgroup *cg);

/* The same for a directory named in a stale record (only a directory of a
 * cgroup file system whose name is an enclave ID). */
void rt_cgroup_remove_path(const char *path);

#endif
