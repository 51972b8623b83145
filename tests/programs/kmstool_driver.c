/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kmstool_driver: runs programs inside an enclave on the parent's request,
 * for tests/integration/test_kmstool.py (a test harness, never installed).
 *
 *   kmstool_driver PORT
 *
 * Listens on vsock (any CID, PORT) and serves connections one at a time.
 * Each request is the program's argv as NUL-terminated strings (argv[0] an
 * absolute path), ended by the parent's half-close (at most 64 KiB). The
 * driver runs it with the enclave's environment and answers
 *
 *   "EXIT <status>\n" "STDOUT <n>\n" <n bytes> "STDERR <n>\n" <n bytes>
 *
 * (status 128+N for a signal, 127 when exec failed), then closes. Shell-free
 * on purpose: the image holds only this, the programs and their libraries.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cloister/vsock.h>

#define REQUEST_MAX (64 * 1024)
#define OUTPUT_MAX (1024 * 1024)
#define ARGS_MAX 64

struct buf {
    char *data;
    size_t len;
};

static int buf_read(int fd, struct buf *b)
{
    char chunk[8192];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0)
        return errno == EINTR ? 1 : -1;
    if (n == 0)
        return 0;
    if (b->len + (size_t)n > OUTPUT_MAX)
        return -1;
    char *g = realloc(b->data, b->len + (size_t)n);
    if (!g)
        return -1;
    memcpy(g + b->len, chunk, (size_t)n);
    b->data = g;
    b->len += (size_t)n;
    return 1;
}

static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Runs argv; fills out/errout and the exit status. */
static int run(char **argv, struct buf *out, struct buf *errout, int *status)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execv(argv[0], argv);
        fprintf(stderr, "kmstool_driver: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    struct pollfd p[2] = { { .fd = po[0], .events = POLLIN }, { .fd = pe[0], .events = POLLIN } };
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd >= 0 && p[i].revents) {
                int r = buf_read(p[i].fd, i == 0 ? out : errout);
                if (r <= 0) {
                    close(p[i].fd);
                    p[i].fd = -1;
                    open_fds--;
                }
            }
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

static void serve(int c)
{
    struct buf req = { 0 }, out = { 0 }, errout = { 0 };
    char *argv[ARGS_MAX + 1];
    int argc = 0, status = 0, r;
    while ((r = buf_read(c, &req)) > 0)
        if (req.len > REQUEST_MAX)
            goto out;
    if (r < 0 || req.len == 0 || req.data[req.len - 1] != '\0')
        goto out;
    for (size_t off = 0; off < req.len && argc < ARGS_MAX; off += strlen(req.data + off) + 1)
        argv[argc++] = req.data + off;
    argv[argc] = NULL;
    if (argv[0][0] != '/' || run(argv, &out, &errout, &status) < 0)
        goto out;
    char head[64];
    int n = snprintf(head, sizeof(head), "EXIT %d\nSTDOUT %zu\n", status, out.len);
    if (send_all(c, head, (size_t)n) < 0 || send_all(c, out.data, out.len) < 0)
        goto out;
    n = snprintf(head, sizeof(head), "STDERR %zu\n", errout.len);
    if (send_all(c, head, (size_t)n) < 0 || send_all(c, errout.data, errout.len) < 0)
        goto out;
out:
    free(req.data);
    free(out.data);
    free(errout.data);
}

int main(int argc, char **argv)
{
    struct cl_error err = { 0 };
    if (argc != 2) {
        fprintf(stderr, "usage: kmstool_driver PORT\n");
        return 2;
    }
    uint32_t port = (uint32_t)strtoul(argv[1], NULL, 10);
    int s = vsock_socket(&err);
    if (s < 0 || vsock_bind_listen(s, VSOCK_CID_ANY, port, 16, &err) < 0) {
        fprintf(stderr, "kmstool_driver: %s\n", err.reason);
        return 1;
    }
    printf("DRIVER LISTENING %u\n", port);
    fflush(stdout);
    for (;;) {
        uint32_t cid, peer_port;
        int c = vsock_accept(s, &cid, &peer_port, &err);
        if (c < 0) {
            cl_error_clear(&err);
            continue;
        }
        serve(c);
        vsock_close(c);
    }
}
