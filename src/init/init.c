/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-init: PID 1 of a Cloister enclave.
 *
 * It does what AWS's init does (aws-nitro-enclaves-sdk-bootstrap
 * init/init.c; docs/vsock.md §8) minus what the monitor already
 * did outside the sandbox: the root, /dev, /proc, /tmp and /run are in place
 * and init runs unprivileged, so it mounts nothing and never chroots.
 *
 *   1. block every signal (PID 1 handles them synchronously below);
 *   2. the ready heartbeat: connect to the parent (vsock CID 3, port 9000),
 *      send 0xB7, require 0xB7 back; any failure is fatal, as in AWS's init
 *      (under Cloister the connection goes to the enclave's own monitor);
 *   3. read /env and /cmd (one entry per line), then unlink them;
 *   4. run the command in a child with exactly that environment, cwd /, as
 *      AWS's init does with execvpe: PATH search, a file the kernel refuses
 *      with ENOEXEC through /bin/sh (init_exec.h); when nothing runs, one
 *      line on the console and exit 127 (not found) or 126 (not runnable);
 *   5. reap every child until the command exits, forwarding SIGTERM, SIGINT
 *      and SIGHUP to the command's process group;
 *   6. tell the monitor how the command ended ("exit N" or "signal N" on
 *      the status pipe it passes as $CLOISTER_STATUS_FD, when it does), and
 *      exit with the command's status (128 + signal when it was killed),
 *      which ends the PID namespace and so the enclave (AWS reboots here).
 *
 * Self-contained: linked statically against libc only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cloister/vsock.h>

#include "base/num.h"
#include "init_config.h"
#include "init_exec.h"

/* The monitor's status pipe (-1: none), kept from the command. */
static int status_fd = -1;

static void open_status_pipe(void)
{
    const char *s = getenv("CLOISTER_STATUS_FD");
    uint64_t fd;
    if (s && num_parse_u64(s, 1024, &fd) == 0 && fd > 2 && fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0)
        status_fd = (int)fd;
}

/* Tells the monitor how the command ended, then returns init's status. */
static int command_ended(int st)
{
    char line[32];
    int n = WIFSIGNALED(st) ? snprintf(line, sizeof(line), "signal %d\n", WTERMSIG(st))
                            : snprintf(line, sizeof(line), "exit %d\n", WEXITSTATUS(st));
    if (status_fd >= 0) {
        ssize_t w = write(status_fd, line, (size_t)n);
        (void)w;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}


static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per message so lines from init never interleave. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

static int load(const char *path, struct init_list *out, int (*fallback)(struct init_list *))
{
    const char *why = "";
    int rc = init_read_list(path, out, &why);
    if (rc < 0) {
        logmsg("init: %s: %s: %s", path, why, strerror(errno));
        return -1;
    }
    if (rc == 1) {
        if (fallback(out) < 0) {
            logmsg("init: out of memory");
            return -1;
        }
        return 0;
    }
    /* AWS's init removes both files once read; a read-only root is fine. */
    if (unlink(path) < 0 && errno != EROFS && errno != EACCES && errno != EPERM)
        logmsg("init: cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static void run_child(const struct init_list *cmd, const struct init_list *env,
                      const sigset_t *orig)
{
    sigprocmask(SIG_SETMASK, orig, NULL);
    /* Own session and process group, so signals reach the whole job. */
    setsid();
    /* As AWS's init: execvpe, PATH search, ENOEXEC through /bin/sh (init_exec.h). */
    char *search = init_exec_path(env);
    if (!search) {
        logmsg("init: cannot run '%s': %s", cmd->v[0], strerror(ENOMEM));
        _exit(INIT_EXEC_NOT_RUNNABLE);
    }
    char msg[8192];
    int st = init_exec(cmd->v, env->v, search, msg, sizeof(msg) - 1);
    /* One write with its newline, as logmsg, but not cut at 512 bytes. */
    size_t n = strlen(msg);
    msg[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, msg, n);
    (void)w;
    _exit(st);
}

int main(void)
{
    sigset_t all, orig;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &orig);
    open_status_pipe();

    struct cl_error err = { 0 };
    if (vsock_send_heartbeat(&err) < 0) {
        logmsg("init: ready heartbeat to the parent failed: %s", err.reason);
        return 1;
    }

    struct init_list env = { 0 }, cmd = { 0 };
    if (load("/env", &env, init_default_env) < 0 || load("/cmd", &cmd, init_default_cmd) < 0)
        return 1;
    if (cmd.n == 0) {
        logmsg("init: /cmd is empty");
        return 1;
    }
    /* The working directory is always / (AWS init chroots and chdirs /). */
    if (chdir("/") < 0) {
        logmsg("init: chdir /: %s", strerror(errno));
        return 1;
    }

    pid_t child = fork();
    if (child < 0) {
        logmsg("init: fork: %s", strerror(errno));
        return 1;
    }
    if (child == 0)
        run_child(&cmd, &env, &orig);
    init_list_free(&cmd);
    init_list_free(&env);

    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGCHLD);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGHUP);
    for (;;) {
        /* Reap everything that is already dead: orphans are reparented to us. */
        for (;;) {
            int st;
            pid_t p = waitpid(-1, &st, WNOHANG);
            if (p < 0 && errno == EINTR)
                continue;
            if (p <= 0)
                break;
            if (p == child)
                return command_ended(st);
        }
        siginfo_t si;
        int sig = sigwaitinfo(&wanted, &si);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD)
            kill(-child, sig);   /* the command's group (setsid above) */
    }
}
