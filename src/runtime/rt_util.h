/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small file-system helpers shared by the runtime modules (state directory,
 * cgroups, sandbox). All follow include/cloister/error.h.
 */
#ifndef CLOISTER_RT_UTIL_H
#define CLOISTER_RT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cloister/error.h>

/* mkdir -p with mode for every missing component; an existing directory is fine. */
int rt_mkdir_p(const char *path, mode_t mode, struct cl_error *err);

/* Writes the string s to an existing file (cgroup and /proc knobs): one write(2). */
int rt_write_str(const char *path, const char *s, struct cl_error *err);

/*
 * Reads a small text file (at most cap - 1 bytes) into buf, NUL-terminated,
 * trailing newlines removed. Fails with CL_ELIMIT when the file is larger.
 */
CL_MUST_USE int rt_read_str(const char *path, char *buf, size_t cap, struct cl_error *err);

/*
 * Removes path and everything below it without following symbolic links and
 * without crossing into other mounts. A missing path is success.
 */
int rt_rm_rf(const char *path, struct cl_error *err);

/* Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot); 0 if gone. */
unsigned long long rt_proc_start_time(pid_t pid);

/* The process exists and its start time is start_time (pid reuse safe). */
bool rt_proc_alive(pid_t pid, unsigned long long start_time);


/* Monotonic clock in milliseconds. */
long long rt_now_ms(void);

/* snprintf into a fixed buffer; CL_ELIMIT if it does not fit. */
int rt_path(char *buf, size_t cap, struct cl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Unix stream sockets at paths of any length (sun_path holds 108 bytes; a
 * longer path is reached through its directory: /proc/self/fd/N/<name>).
 * rt_unix_listen: removes a stale file, binds, chmods to mode, listens;
 * close-on-exec and non-blocking. rt_unix_connect: blocking, close-on-exec.
 * Both return the fd or a negative CL_E* code.
 */
CL_MUST_USE int rt_unix_listen(const char *path, mode_t mode, struct cl_error *err);
CL_MUST_USE int rt_unix_connect(const char *path, struct cl_error *err);

/*
 * Whether the peer of a connected Unix socket (SO_PEERCRED, its credentials
 * at connect time as the kernel recorded them, in the host's user namespace)
 * is host root or one of an enclave's uids [uid_base, uid_base + range).
 * The enclave's NSM socket must be 0666 for every uid inside the enclave,
 * and its path under the state directory is public (the EnclaveID): this
 * keeps other host users from speaking to an enclave's NSM as the enclave.
 * False when the credentials cannot be read.
 */
bool rt_peer_is_enclave_or_root(int fd, uid_t uid_base, uid_t range);

#endif
