/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp filter every enclave process runs under (libseccomp).
 *
 * Default: allow. Refused with EPERM: what an enclave has no business doing
 * and what could reach past its namespaces -- mounting, namespaces,
 * tracing, kernel modules and kexec, BPF, perf, keyrings, io_uring (its
 * operations would bypass this filter), raw and packet sockets, reboot,
 * swap, clock and kernel-log changes. Sent to the monitor's vsock
 * supervisor (seccomp user notification, lib/vsock_notify): AF_VSOCK
 * sockets and the calls on them, which are served on the emulation; host
 * AF_VSOCK is never reached (it is not per network namespace, so it would
 * reach every enclave and the host). Foreign
 * architectures (i386 int 0x80, x32) are killed: the filter is written for
 * the native one only.
 */
#ifndef CLOISTER_RT_SECCOMP_H
#define CLOISTER_RT_SECCOMP_H

#include <cloister/error.h>

/* Builds and loads the filter into the calling thread (no_new_privs must be
 * set); *notify_fd is the listener of its vsock notifications, for the
 * supervisor. */
int rt_seccomp_load(int *notify_fd, struct cl_error *err);

/* The names of the refused system calls, NULL-terminated (docs and tests). */
extern const char *const rt_seccomp_denied[];

#endif
