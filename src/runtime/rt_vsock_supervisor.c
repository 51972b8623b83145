/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_vsock_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vsock/vsock_core.h"
#include "vsock_notify/vsock_notify.h"

/* The supervisor's own descriptor of the listener. */
#define LISTENER_FD 3

static void supervise(int notify_fd, int netns, const char *broker_path, pid_t monitor)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != monitor)
        _exit(1);
    prctl(PR_SET_NAME, "vsock-notify");
    /* Nothing of the monitor's but the listener and the enclave's namespace. */
    if (dup2(notify_fd, LISTENER_FD) < 0 || dup2(netns, LISTENER_FD + 1) < 0)
        _exit(1);
    syscall(SYS_close_range, LISTENER_FD + 2, ~0u, 0);
    /* Every socket handed to the enclave is made in its namespace. */
    if (setns(LISTENER_FD + 1, CLONE_NEWNET) < 0) {
        fprintf(stderr, "vsock supervisor: cannot enter the enclave's network namespace: %m\n");
        _exit(1);
    }
    close(LISTENER_FD + 1);
    /* The enclave side of the engine: through the broker, which stamps the
     * enclave's CID and lets it reach only its parent. */
    setenv("CLOISTER_VSOCK_BROKER", broker_path, 1);
    unsetenv("CLOISTER_VSOCK_TRANSPORT");
    vcore_reset();
    if (vcore_transport() != VCORE_ENCLAVE) {
        fprintf(stderr, "vsock supervisor: the broker %s is not there\n", broker_path);
        _exit(1);
    }
    struct cl_error err = { 0 };
    if (vsock_notify_serve(LISTENER_FD, NULL, 0, &err) < 0) {
        fprintf(stderr, "%s\n", err.reason);
        _exit(1);
    }
    _exit(0);
}

int rt_vsock_supervisor_start(int notify_fd, pid_t init_pid, const char *broker_path, pid_t *pid,
                              struct cl_error *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)init_pid);
    int netns = open(path, O_RDONLY | O_CLOEXEC);
    if (netns < 0)
        return cl_fail_errno(err, CL_EIO, "cannot open the enclave's network namespace");
    pid_t monitor = getpid();
    pid_t child = fork();
    if (child == 0)
        supervise(notify_fd, netns, broker_path, monitor);
    int e = errno;
    close(netns);
    if (child < 0) {
        errno = e;
        return cl_fail_errno(err, CL_EIO, "cannot start the vsock supervisor (fork)");
    }
    *pid = child;
    return 0;
}
