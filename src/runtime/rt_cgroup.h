/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An enclave's CPU set, memory limit and PID limit through cgroups, v1 or v2, per
 * controller: a controller mounted in a v1 hierarchy (as on this hybrid
 * host) is used there, otherwise the unified (v2) hierarchy is used when
 * it offers the controller. Each enclave gets <hierarchy root>/cloister/<id>.
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

struct rt_cgroup;   /* owns its directories' names and the OOM fd */

/*
 * Creates the enclave's cgroups and applies the CPU list and the memory
 * limit (bytes, swap included where the host accounts it). Fails only when
 * memory runs out; host refusals become "not applied" entries.
 */
CL_MUST_USE int rt_cgroup_create(const char *enclave_id, const uint32_t *cpus, size_t ncpus,
                                 uint64_t mem_bytes, struct rt_cgroup **out, struct cl_error *err);

/* The enclave's pids.max for a host whose kernel.pid_max is pid_max. */
uint64_t rt_cgroup_pids_max(uint64_t pid_max);

/* Moves pid (and its future children) into every cgroup of the enclave. */
int rt_cgroup_add_pid(struct rt_cgroup *cg, pid_t pid, struct cl_error *err);

/* Readable when an OOM event may have happened (eventfd or inotify); -1 if none. */
int rt_cgroup_oom_fd(const struct rt_cgroup *cg);
/* Drains rt_cgroup_oom_fd(). */
void rt_cgroup_oom_ack(struct rt_cgroup *cg);
/* OOM kills in the enclave's memory cgroup so far (0 when not countable). */
uint64_t rt_cgroup_oom_kills(const struct rt_cgroup *cg);

/* The cgroup directories (JSON array of strings, new reference). */
json_t *rt_cgroup_paths_json(const struct rt_cgroup *cg);
/* What could not be applied (JSON array of strings, new reference). */
json_t *rt_cgroup_not_applied_json(const struct rt_cgroup *cg);

/* Kills what is left in the cgroups, removes them, frees cg. NULL is fine. */
void rt_cgroup_free(struct rt_cgroup *cg);

/* The same for a directory named in a stale record. */
void rt_cgroup_remove_path(const char *path);

#endif
