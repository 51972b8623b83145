/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave's vsock supervisor (docs/vsock.md §6): a child of the monitor
 * that serves the seccomp notifications of the enclave's vsock calls
 * (lib/vsock_notify), from inside the enclave's network namespace, through
 * the enclave's own broker, so the confinement is the broker's as for every
 * other vsock user. It ends when the enclave's last process has, or with the
 * monitor.
 */
#ifndef CLOISTER_RT_VSOCK_SUPERVISOR_H
#define CLOISTER_RT_VSOCK_SUPERVISOR_H

#include <sys/types.h>

#include <cloister/error.h>

/* Starts it for the enclave whose init is init_pid, serving notify_fd
 * (which the caller then closes) through the broker socket at
 * broker_path. *pid: the supervisor's pid, a child of the caller. */
CL_MUST_USE int rt_vsock_supervisor_start(int notify_fd, pid_t init_pid, const char *broker_path,
                                          pid_t *pid, struct cl_error *err);

#endif
