/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister exec [--] COMMAND [ARGS...]`: runs a parent-side program on
 * Cloister's emulated vsock, whatever it is built with (static, dynamic,
 * Go, Python): its AF_VSOCK calls, and those of every process it starts, are
 * served by this process through seccomp user notification
 * (lib/vsock_notify, docs/vsock.md §6). nitro-cli has no such command: on a
 * Nitro parent, programs use the host's vsock directly, and so does this
 * command there (it only runs the program).
 *
 * The program is this process's child, so this process (its supervisor)
 * has ptrace access to it and its descendants. It returns when the program
 * and every process it started have ended (they all need the supervisor),
 * with the program's status: its exit code, or 128 + the signal that ended
 * it. Signals sent to this process (kill, not the terminal's, which reach
 * the program directly) are passed on to the program.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "vsock/vsock_core.h"
#include "vsock_notify/vsock_notify.h"

static volatile pid_t program = -1;

static void pass_on(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    /* SI_USER/SI_QUEUE (<= 0): sent with kill; the terminal's signals
     * (SI_KERNEL) went to the whole foreground group, the program too. */
    if (si->si_code <= 0 && program > 0)
        kill(program, sig);
}

/* In the child: the filter, its listener to the parent, then the program. */
static void start_program(int sock, char **argv)
{
    struct cl_error err = { 0 };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx || vsock_notify_add_rules(ctx, &err) < 0) {
        fprintf(stderr, "cloister exec: %s\n", ctx ? err.reason : "seccomp_init failed");
        _exit(126);
    }
    /* Without CAP_SYS_ADMIN a filter needs no_new_privs (then set-id
     * programs run without their privileges). */
    int r = seccomp_load(ctx);
    if (r == -EACCES && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
        r = seccomp_load(ctx);
    int fd = r == 0 ? seccomp_notify_fd(ctx) : -1;
    if (fd < 0) {
        fprintf(stderr, "cloister exec: cannot load the seccomp filter: %s\n", strerror(r ? -r : EIO));
        _exit(126);
    }
    if (vcore_send_msg(sock, (const uint8_t *)"L", 1, fd, MSG_NOSIGNAL) < 0)
        _exit(126);
    close(fd);
    close(sock);
    seccomp_release(ctx);
    execvp(argv[0], argv);
    int e = errno;
    fprintf(stderr, "cloister exec: cannot run '%s': %s\n", argv[0], strerror(e));
    _exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

static int recv_listener(int sock)
{
    uint8_t c;
    int fd = -1, n;
    do
        n = vcore_recv_msg(sock, &c, 1, &fd, MSG_CMSG_CLOEXEC);
    while (n == -EINTR);
    if (n != 1 || c != 'L') {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int status_of(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cmd_exec(int argc, char **argv)
{
    int first = 1;
    if (first < argc && (!strcmp(argv[first], "-h") || !strcmp(argv[first], "--help"))) {
        printf("Usage: cloister exec [--] COMMAND [ARGS...]\n"
               "Runs COMMAND with Cloister's emulated vsock (AF_VSOCK), whatever it is built with.\n");
        return 0;
    }
    if (first < argc && !strcmp(argv[first], "--"))
        first++;
    if (first >= argc)
        return cli_fail(E_MISSING_ARGUMENT, "a command to run is required: cloister exec -- COMMAND [ARGS...]");
    char **cmd = argv + first;
    if (vcore_transport() == VCORE_REAL) {
        execvp(cmd[0], cmd);   /* a Nitro parent: the host's vsock is the real one */
        int e = errno;
        fprintf(stderr, "cloister exec: cannot run '%s': %s\n", cmd[0], strerror(e));
        return e == ENOENT || e == ENOTDIR ? 127 : 126;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return cli_fail(E_SOCKET_PAIR_CREATION, "socketpair: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        return cli_fail(E_PROCESS_SPAWN, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(sv[0]);
        start_program(sv[1], cmd);
    }
    program = pid;
    close(sv[1]);
    struct sigaction sa = { .sa_sigaction = pass_on, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigemptyset(&sa.sa_mask);
    const int passed[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
        sigaction(passed[i], &sa, NULL);
    int listener = recv_listener(sv[0]);
    close(sv[0]);
    if (listener < 0)
        return status_of(pid);   /* the child said why */
    struct cl_error err = { 0 };
    if (vsock_notify_serve(listener, &err) < 0)
        fprintf(stderr, "cloister exec: %s\n", err.reason);
    close(listener);
    return status_of(pid);
}
