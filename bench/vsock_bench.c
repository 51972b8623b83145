/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark for Cloister's emulated vsock (bench/vsock.sh). Prints one
 * number per run:
 *   vsock_bench host-connect N      parent -> parent connections/s (connect, accept, 1-byte echo, close)
 *   vsock_bench enclave-connect N   enclave -> parent connections/s through a broker
 *   vsock_bench unix-connect N      the same over a plain Unix stream socket (baseline)
 *   vsock_bench host-stream MIB     MiB/s over an emulated vsock connection
 *   vsock_bench unix-stream MIB     MiB/s over a plain Unix socket pair (baseline)
 *   vsock_bench syscall-connect N   host-connect with the kernel's interface (socket(AF_VSOCK),
 *                                   connect, accept): run under `cloister exec`, whose seccomp
 *                                   supervisor serves it (it refuses to run unsupervised:
 *                                   the host's AF_VSOCK is never used)
 *   vsock_bench syscall-stream MIB  host-stream the same way
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cloister/vsock.h>

#include "base/num.h"
#include "vsock_broker/vsock_broker.h"
#include "vsock/vsock_core.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct cl_error *err)
{
    fprintf(stderr, "vsock_bench: %s: %s\n", what, err ? err->reason : strerror(errno));
    exit(1);
}

static void echo_one(int c)
{
    char b;
    if (read(c, &b, 1) != 1 || write(c, &b, 1) != 1)
        die("echo", NULL);
}

static void ping(int s)
{
    char b = 'x';
    if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1)
        die("ping", NULL);
}

struct acceptor {
    int l, n;
    bool unix_sock;
};

static void *accept_loop(void *arg)
{
    struct acceptor *a = arg;
    struct cl_error err = { 0 };
    for (int i = 0; i < a->n; i++) {
        int c = a->unix_sock ? accept(a->l, NULL, NULL) : vsock_accept(a->l, NULL, NULL, &err);
        if (c < 0)
            die("accept", &err);
        echo_one(c);
        close(c);
    }
    return NULL;
}

static int vsock_listener(uint32_t *port)
{
    struct cl_error err = { 0 };
    int l = vsock_socket(&err);
    if (l < 0 || vsock_bind_listen(l, VSOCK_CID_ANY, VSOCK_PORT_ANY, 128, &err) < 0 ||
        vsock_getsockname(l, NULL, port, &err) < 0)
        die("listen", &err);
    return l;
}

static void connects(uint32_t port, int n)
{
    struct cl_error err = { 0 };
    for (int i = 0; i < n; i++) {
        int s = vsock_socket(&err);
        if (s < 0 || vsock_connect(s, 3, port, &err) < 0)
            die("connect", &err);
        ping(s);
        vsock_close(s);
    }
}

struct broker_thread {
    struct vsock_broker *b;
    int stop[2];
};

static void *serve(void *arg)
{
    struct broker_thread *t = arg;
    struct cl_error err = { 0 };
    if (vsock_broker_run(t->b, t->stop[0], &err) < 0)
        fprintf(stderr, "vsock_bench: broker: %s\n", err.reason);
    return NULL;
}

/* Each mode returns the seconds its n operations took. */

static double host_connect(const char *dir, int n)
{
    (void)dir;
    uint32_t port;
    struct acceptor a = { vsock_listener(&port), n, false };
    pthread_t th;
    pthread_create(&th, NULL, accept_loop, &a);
    double t0 = now();
    connects(port, n);
    pthread_join(th, NULL);
    double t1 = now();
    vsock_close(a.l);
    return t1 - t0;
}

static double enclave_connect(const char *dir, int n)
{
    (void)dir;
    uint32_t port;
    struct acceptor a = { vsock_listener(&port), n, false };
    struct cl_error err = { 0 };
    struct broker_thread bt;
    if (vsock_broker_new(NULL, 16, &bt.b, &err) < 0)
        die("broker", &err);
    if (pipe(bt.stop) < 0)
        die("pipe", NULL);
    char path[512];
    snprintf(path, sizeof(path), "%s/broker", vsock_broker_host_dir(bt.b));
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("CLOISTER_VSOCK_BROKER", path, 1);
        vcore_reset();
        connects(port, n);
        _exit(0);
    }
    pthread_t th, sv;
    pthread_create(&sv, NULL, serve, &bt);
    pthread_create(&th, NULL, accept_loop, &a);
    pthread_join(th, NULL);
    int st;
    waitpid(pid, &st, 0);
    double t1 = now();
    close(bt.stop[1]);
    pthread_join(sv, NULL);
    vsock_broker_free(bt.b);
    vsock_close(a.l);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("enclave child failed", NULL);
    return t1 - t0;
}

static double unix_connect(const char *dir, int n)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 128) < 0)
        die("unix listen", NULL);
    struct acceptor a = { l, n, true };
    pthread_t th;
    pthread_create(&th, NULL, accept_loop, &a);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            die("unix connect", NULL);
        ping(s);
        close(s);
    }
    pthread_join(th, NULL);
    double t1 = now();
    close(l);
    unlink(sa.sun_path);
    return t1 - t0;
}

/* n MiB from a child through s to c. */
static double stream(int s, int c, int n)
{
    static char buf[1 << 16];
    memset(buf, 'a', sizeof(buf));
    size_t total = (size_t)n << 20;
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        close(c);
        for (size_t off = 0; off < total;) {
            ssize_t w = write(s, buf, sizeof(buf));
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(s);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(c, buf, sizeof(buf));
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    waitpid(pid, NULL, 0);
    double t1 = now();
    if (got != total)
        die("short stream", NULL);
    return t1 - t0;
}

static double host_stream(const char *dir, int n)
{
    (void)dir;
    struct cl_error err = { 0 };
    uint32_t port;
    int l = vsock_listener(&port);
    int s = vsock_socket(&err);
    if (vsock_connect(s, 3, port, &err) < 0)
        die("connect", &err);
    int c = vsock_accept(l, NULL, NULL, &err);
    double t = stream(s, c, n);
    vsock_close(l);
    return t;
}

static double unix_stream(const char *dir, int n)
{
    (void)dir;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        die("socketpair", NULL);
    return stream(sv[0], sv[1], n);
}

/* ---- the kernel's interface, served by `cloister exec` ---------------------- */

static void require_supervisor(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[128];
    bool filtered = false;
    while (f && fgets(line, sizeof(line), f))
        if (!strcmp(line, "Seccomp:\t2\n"))
            filtered = true;
    if (f)
        fclose(f);
    if (!filtered) {
        fprintf(stderr, "vsock_bench: the syscall-* modes run under `cloister exec` only\n");
        exit(2);
    }
}

static int plain_socket(void)
{
    int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        die("socket(AF_VSOCK)", NULL);
    return s;
}

static int plain_listener(uint32_t *port)
{
    int l = plain_socket();
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                              .svm_port = VMADDR_PORT_ANY };
    socklen_t len = sizeof(sa);
    if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 128) < 0 ||
        getsockname(l, (struct sockaddr *)&sa, &len) < 0)
        die("listen", NULL);
    *port = sa.svm_port;
    return l;
}

static int plain_connect(uint32_t port)
{
    int s = plain_socket();
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = 3, .svm_port = port };
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect", NULL);
    return s;
}

static double syscall_connect(const char *dir, int n)
{
    (void)dir;
    require_supervisor();
    uint32_t port;
    struct acceptor a = { plain_listener(&port), n, true };
    pthread_t th;
    pthread_create(&th, NULL, accept_loop, &a);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        int s = plain_connect(port);
        ping(s);
        close(s);
    }
    pthread_join(th, NULL);
    double t1 = now();
    close(a.l);
    return t1 - t0;
}

static double syscall_stream(const char *dir, int n)
{
    (void)dir;
    require_supervisor();
    uint32_t port;
    int l = plain_listener(&port);
    int s = plain_connect(port);
    int c = accept(l, NULL, NULL);
    if (c < 0)
        die("accept", NULL);
    double t = stream(s, c, n);
    close(l);
    return t;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        double (*run)(const char *dir, int n);
    } modes[] = {
        { "host-connect", host_connect }, { "enclave-connect", enclave_connect },
        { "unix-connect", unix_connect }, { "host-stream", host_stream },
        { "unix-stream", unix_stream }, { "syscall-connect", syscall_connect },
        { "syscall-stream", syscall_stream },
    };
    if (argc != 3)
        return 2;
    uint64_t n;
    if (num_parse_u64(argv[2], 1u << 20, &n) != 0 || n == 0)
        return 2;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(argv[1], modes[i].name) != 0)
            continue;
        char dir[] = "/tmp/clv-bench-XXXXXX";
        if (!mkdtemp(dir))
            die("mkdtemp", NULL);
        setenv("CLOISTER_RUN_DIR", dir, 1);
        double seconds = modes[i].run(dir, (int)n);
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            return 1;
        printf("%.1f\n", (double)n / seconds);
        return 0;
    }
    return 2;
}
