/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test and benchmark client for cloister-vsock-proxy: streams through a
 * vsock port (<cloister/vsock.h>), from the parent or, with
 * CLOISTER_VSOCK_BROKER set, from an enclave.
 *
 *   vsock_stream echo-check CID PORT BYTES CONNS
 *       CONNS connections at once; each sends BYTES of pseudo-random data
 *       while reading back what the far side (an echo server) returns, and
 *       compares. Prints "OK conns=N bytes=B" or "MISMATCH ..." (exit 1).
 *   vsock_stream send CID PORT BYTES
 *       sends BYTES as fast as possible, half-closes, waits for the far
 *       side's end of stream; prints "SENT bytes=B seconds=S".
 *   vsock_stream connect-rate CID PORT N
 *       N connections one after the other, each a one-byte echo; prints
 *       "CONNECTIONS n=N seconds=S".
 *   vsock_stream unix-connect-rate PATH N
 *       the same through a plain Unix stream socket (a benchmark baseline).
 * Errors: "ERROR <reason>" on stderr, exit 1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cloister/vsock.h>

static uint32_t cid, port;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *unix_path; /* set: dial a plain Unix socket instead */

static int dial(void)
{
    if (unix_path) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", unix_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            fprintf(stderr, "ERROR connect %s: %s\n", unix_path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        return fd;
    }
    struct cl_error err = { 0 };
    int fd = vsock_socket(&err);
    if (fd < 0 || vsock_connect(fd, cid, port, &err) < 0) {
        fprintf(stderr, "ERROR connect %u:%u: %s\n", cid, port, err.reason);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* xorshift64: the same stream on both ends of a check. */
static void fill(uint8_t *buf, size_t len, uint64_t *state)
{
    for (size_t i = 0; i < len; i++) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        buf[i] = (uint8_t)*state;
    }
}

struct check {
    int fd;
    size_t bytes;
    uint64_t seed;
    int result; /* 0 ok */
};

static void *sender(void *arg)
{
    struct check *c = arg;
    uint8_t buf[65536];
    uint64_t state = c->seed;
    size_t left = c->bytes;
    while (left > 0) {
        size_t n = left < sizeof(buf) ? left : sizeof(buf);
        fill(buf, n, &state);
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(c->fd, buf + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fprintf(stderr, "ERROR write: %s\n", strerror(errno));
                c->result = -1;
                return NULL;
            }
            off += (size_t)w;
        }
        left -= n;
    }
    shutdown(c->fd, SHUT_WR);
    return NULL;
}

static void *checker(void *arg)
{
    struct check *c = arg;
    pthread_t t;
    if (pthread_create(&t, NULL, sender, c) != 0) {
        c->result = -1;
        return NULL;
    }
    uint8_t got[65536], want[65536];
    uint64_t state = c->seed;
    size_t total = 0;
    for (;;) {
        ssize_t n = read(c->fd, got, sizeof(got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "ERROR read: %s\n", strerror(errno));
            c->result = -1;
            break;
        }
        if (n == 0)
            break;
        fill(want, (size_t)n, &state);
        if (memcmp(got, want, (size_t)n) != 0) {
            fprintf(stderr, "MISMATCH at byte %zu\n", total);
            c->result = -1;
            break;
        }
        total += (size_t)n;
    }
    pthread_join(t, NULL);
    if (c->result == 0 && total != c->bytes) {
        fprintf(stderr, "MISMATCH got %zu bytes of %zu\n", total, c->bytes);
        c->result = -1;
    }
    close(c->fd);
    return NULL;
}

static int echo_check(size_t bytes, int conns)
{
    struct check *checks = calloc((size_t)conns, sizeof(*checks));
    pthread_t *threads = calloc((size_t)conns, sizeof(*threads));
    int ok = checks && threads;
    int started = 0;
    for (int i = 0; ok && i < conns; i++) {
        checks[i].fd = dial();
        checks[i].bytes = bytes;
        checks[i].seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        if (checks[i].fd < 0 || pthread_create(&threads[i], NULL, checker, &checks[i]) != 0) {
            ok = 0;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        if (checks[i].result != 0)
            ok = 0;
    }
    free(checks);
    free(threads);
    if (!ok)
        return 1;
    printf("OK conns=%d bytes=%zu\n", conns, bytes);
    return 0;
}

static int send_stream(size_t bytes)
{
    static uint8_t buf[1 << 20];
    memset(buf, 'x', sizeof(buf));
    double t0 = now();
    int fd = dial();
    if (fd < 0)
        return 1;
    size_t left = bytes;
    while (left > 0) {
        ssize_t w = write(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "ERROR write: %s\n", strerror(errno));
            return 1;
        }
        left -= (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
    printf("SENT bytes=%zu seconds=%.6f\n", bytes, now() - t0);
    return 0;
}

static int connect_rate(long n)
{
    double t0 = now();
    for (long i = 0; i < n; i++) {
        int fd = dial();
        char c = 'x';
        if (fd < 0 || write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
            fprintf(stderr, "ERROR connection %ld failed\n", i);
            return 1;
        }
        close(fd);
    }
    printf("CONNECTIONS n=%ld seconds=%.6f\n", n, now() - t0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "unix-connect-rate")) {
        unix_path = argv[2];
        return connect_rate(strtol(argv[3], NULL, 0));
    }
    if (argc < 5) {
        fprintf(stderr, "usage: vsock_stream echo-check|send|connect-rate CID PORT ARGS...\n");
        return 2;
    }
    cid = (uint32_t)strtoul(argv[2], NULL, 0);
    port = (uint32_t)strtoul(argv[3], NULL, 0);
    if (!strcmp(argv[1], "echo-check") && argc == 6)
        return echo_check(strtoull(argv[4], NULL, 0), atoi(argv[5]));
    if (!strcmp(argv[1], "send"))
        return send_stream(strtoull(argv[4], NULL, 0));
    if (!strcmp(argv[1], "connect-rate"))
        return connect_rate(strtol(argv[4], NULL, 0));
    fprintf(stderr, "ERROR unknown mode '%s'\n", argv[1]);
    return 2;
}
