/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an enclave's /proc shows of the machine. The kernel answers
 * /proc/meminfo, cpuinfo, stat, uptime and loadavg for the whole host,
 * whatever the reader's cgroups and namespaces; lxcfs (Debian's package, a
 * FUSE file system) answers them for the reader: its memory cgroup's limit
 * as MemTotal, its cpuset's CPUs, the uptime of its PID namespace, the load
 * of its cgroup. When lxcfs is mounted, the sandbox binds its files over
 * the enclave's (rt_sandbox.c); otherwise they stay the host's and
 * describe-enclaves says so under LimitsNotApplied.
 *
 * boot_id is the enclave's own in any case: a random one per enclave.
 */
#ifndef CLOISTER_RT_PROC_VIEW_H
#define CLOISTER_RT_PROC_VIEW_H

#include <stddef.h>

#include <cloister/error.h>

#define RT_LXCFS_DIR "/var/lib/lxcfs"   /* where Debian's lxcfs.service mounts it */

/* The files of /proc taken from lxcfs when it has them; NULL-terminated. */
extern const char *const rt_proc_view_files[];

/* lxcfs's proc/ directory ($CLOISTER_LXCFS, else RT_LXCFS_DIR, when a FUSE
 * file system with a proc/meminfo is mounted there) into out: 0; else
 * CL_ENOTFOUND with the reason. */
int rt_proc_view_find(char *out, size_t cap, struct cl_error *err);

/* Writes a new random boot_id (a version 4 UUID, as the kernel makes one)
 * to path, readable by all. */
CL_MUST_USE int rt_proc_view_boot_id(const char *path, struct cl_error *err);

#endif
