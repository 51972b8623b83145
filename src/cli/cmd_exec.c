/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister exec [--] COMMAND [ARGS...]`: runs a parent-side program in the
 * parent instance's world (docs/parent.md), whatever it is built with
 * (static, dynamic, Go, Python):
 * - Cloister's emulated vsock: its AF_VSOCK calls, and those of every
 *   process it starts, are served by this process through seccomp user
 *   notification (lib/vsock_notify, docs/vsock.md §6);
 * - when a cloister-kms publishes its endpoints (lib/parent_env): the
 *   environment AWS SDKs and CLIs read (region, KMS and STS endpoints, CA
 *   bundle, instance metadata endpoint), and its connections to the
 *   instance metadata address 169.254.169.254:80 led to the metadata
 *   service, so code that hard-codes the address works too.
 * nitro-cli has no such command: on a Nitro parent, programs use the host's
 * vsock directly, and so does this command there (it only sets the
 * environment and runs the program).
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"
#include "parent_env/parent_env.h"
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

/* The addresses EC2 answers instance metadata on, IPv4 and IPv6 (port 80). */
static void metadata_redirects(const struct parent_env *pe, struct vsock_notify_redirect r[2])
{
    memset(r, 0, 2 * sizeof(*r));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&r[0].from;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(80);
    inet_pton(AF_INET, "169.254.169.254", &v4->sin_addr);
    r[0].from_len = sizeof(*v4);
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&r[1].from;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(80);
    inet_pton(AF_INET6, "fd00:ec2::254", &v6->sin6_addr);
    r[1].from_len = sizeof(*v6);
    for (int i = 0; i < 2; i++) {
        r[i].to = pe->imds_addr;
        r[i].to_len = pe->imds_addr_len;
    }
}

/*
 * The parent instance's world, when a cloister-kms publishes its endpoints:
 * its variables set in this process (the program inherits them) and the
 * metadata redirects in r (*n of them). 0, or the exit status after saying
 * why.
 */
static int enter_parent_world(struct parent_env *pe, struct vsock_notify_redirect r[2], size_t *n)
{
    *n = 0;
    bool named = false;
    struct cl_error err = { 0 };
    int rc = parent_env_load(pe, &named, &err);
    if (rc == CL_ENOTFOUND && !named)
        return 0;   /* no key service here: vsock alone */
    if (rc == 0)
        rc = parent_env_prepare(pe, &err);
    if (rc < 0)
        return cli_fail_lib(E_FILE_OPERATION, &err);
    for (size_t i = 0; pe->vars[i]; i++)
        if (putenv(pe->vars[i]) != 0)
            return cli_fail(E_UNSPECIFIED, "putenv: %s", strerror(errno));
    if (pe->imds_url[0]) {
        metadata_redirects(pe, r);
        *n = 2;
    }
    return 0;
}

/* The variable that marks a process tree this command already serves. */
#define SUPERVISED_VAR "CLOISTER_EXEC_SUPERVISOR"

/* Is this process already served by a `cloister exec` (its variable set,
 * and a seccomp filter in place)? The kernel allows one notification
 * listener per process tree, so a nested `cloister exec` only runs its
 * command, in the world its ancestor set up. */
static bool already_served(void)
{
    const char *v = getenv(SUPERVISED_VAR);
    if (!v || !*v)
        return false;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    bool filtered = false;
    while (f && !filtered && fgets(line, sizeof(line), f))
        filtered = !strcmp(line, "Seccomp:\t2\n");
    if (f)
        fclose(f);
    return filtered;
}

static int run_only(char **cmd)
{
    execvp(cmd[0], cmd);
    int e = errno;
    fprintf(stderr, "cloister exec: cannot run '%s': %s\n", cmd[0], strerror(e));
    return e == ENOENT || e == ENOTDIR ? 127 : 126;
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
               "Runs COMMAND as a program of the parent instance: with Cloister's emulated vsock\n"
               "(AF_VSOCK), whatever it is built with, and, when cloister-kms publishes its\n"
               "endpoints ($CLOISTER_ENDPOINTS, or %s), with the AWS\n"
               "region, KMS and STS endpoints, CA bundle and instance metadata service.\n",
               PARENT_ENV_ENDPOINTS_DEFAULT);
        return 0;
    }
    if (first < argc && !strcmp(argv[first], "--"))
        first++;
    if (first >= argc)
        return cli_fail(E_MISSING_ARGUMENT, "a command to run is required: cloister exec -- COMMAND [ARGS...]");
    char **cmd = argv + first;
    if (already_served())
        return run_only(cmd);
    /* the variables stay set (putenv) until the program has been started */
    static struct parent_env pe;
    struct vsock_notify_redirect redirects[2];
    size_t n_redirects = 0;
    int status = enter_parent_world(&pe, redirects, &n_redirects);
    if (status != 0)
        return status;
    if (vcore_transport() == VCORE_REAL)
        return run_only(cmd);   /* a Nitro parent: the host's vsock is the real one */
    static char mark[32];
    snprintf(mark, sizeof(mark), "%s=%d", SUPERVISED_VAR, (int)getpid());
    if (putenv(mark) != 0)
        return cli_fail(E_UNSPECIFIED, "putenv: %s", strerror(errno));
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
    if (vsock_notify_serve(listener, redirects, n_redirects, &err) < 0)
        fprintf(stderr, "cloister exec: %s\n", err.reason);
    close(listener);
    return status_of(pid);
}
