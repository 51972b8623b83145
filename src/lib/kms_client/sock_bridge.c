/* SPDX-License-Identifier: Apache-2.0 */
#include "kms_client/sock_bridge.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPT_TIMEOUT_MS 30000
#define CHUNK 16384

struct sock_bridge {
    int fd;        /* the connected stream we bridge to */
    int listener;  /* abstract Unix socket, until the one connection arrives */
    int stop;      /* eventfd: asks the thread to end */
    pthread_t thread;
    bool running;
};

/* One direction's pending bytes. */
struct pipe_buf {
    uint8_t data[CHUNK];
    size_t len, off;
    bool eof, shut;
};

/* Moves bytes from `from` into b (if empty) and from b to `to`. -1 on error. */
static int pump(int from, int to, struct pipe_buf *b, short from_ev, short to_ev)
{
    if (b->len == b->off && !b->eof && (from_ev & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(from, b->data, sizeof(b->data));
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n == 0)
            b->eof = true;
        if (n > 0) {
            b->len = (size_t)n;
            b->off = 0;
        }
    }
    if (b->off < b->len && (to_ev & POLLOUT)) {
        ssize_t n = send(to, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n > 0)
            b->off += (size_t)n;
    }
    if (b->eof && b->off == b->len && !b->shut) {
        shutdown(to, SHUT_WR);
        b->shut = true;
    }
    return 0;
}

static void *bridge_main(void *arg)
{
    struct sock_bridge *b = arg;
    struct pollfd lp[2] = { { .fd = b->listener, .events = POLLIN },
                            { .fd = b->stop, .events = POLLIN } };
    if (poll(lp, 2, ACCEPT_TIMEOUT_MS) <= 0 || lp[1].revents)
        return NULL;
    int peer = accept4(b->listener, NULL, NULL, SOCK_CLOEXEC);
    /* One connection only: nobody else gets to connect after it. */
    close(b->listener);
    b->listener = -1;
    if (peer < 0)
        return NULL;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(peer, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
        close(peer);
        return NULL;
    }
    struct pipe_buf *up = calloc(1, sizeof(*up)), *down = calloc(1, sizeof(*down));
    while (up && down && !(up->shut && down->shut)) {
        struct pollfd p[3] = {
            { .fd = peer, .events = (short)((up->len == up->off && !up->eof ? POLLIN : 0) |
                                            (down->off < down->len ? POLLOUT : 0)) },
            { .fd = b->fd, .events = (short)((down->len == down->off && !down->eof ? POLLIN : 0) |
                                             (up->off < up->len ? POLLOUT : 0)) },
            { .fd = b->stop, .events = POLLIN },
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[2].revents)
            break;
        if (pump(peer, b->fd, up, p[0].revents, p[1].revents) < 0 ||
            pump(b->fd, peer, down, p[1].revents, p[0].revents) < 0)
            break;
        /* A side that hung up after its last byte was read can take nothing
         * more: end here rather than poll its standing POLLHUP in a busy
         * loop, and tell the other side (its writes now fail, its reads end). */
        if (((p[0].revents & (POLLHUP | POLLERR)) && up->eof) ||
            ((p[1].revents & (POLLHUP | POLLERR)) && down->eof)) {
            shutdown(b->fd, SHUT_RDWR);
            break;
        }
    }
    free(up);
    free(down);
    close(peer);
    return NULL;
}

int sock_bridge_start(int fd, char name[static SOCK_BRIDGE_NAME_MAX], struct sock_bridge **out,
                      struct cl_error *err)
{
    int rc = 0;
    *out = NULL;
    struct sock_bridge *b = calloc(1, sizeof(*b));
    if (!b) {
        close(fd);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    b->fd = fd;
    b->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    b->stop = eventfd(0, EFD_CLOEXEC);
    if (b->listener < 0 || b->stop < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot create the connection bridge");
        goto out;
    }
    uint64_t tag;
    if (getrandom(&tag, sizeof(tag), 0) != sizeof(tag)) {
        rc = cl_fail_errno(err, CL_EIO, "no randomness for the bridge's name");
        goto out;
    }
    snprintf(name, SOCK_BRIDGE_NAME_MAX, "cloister-bridge-%d-%016llx", (int)getpid(),
             (unsigned long long)tag);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    size_t n = strlen(name);
    memcpy(addr.sun_path + 1, name, n); /* sun_path[0] = 0: the abstract namespace */
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (bind(b->listener, (struct sockaddr *)&addr, alen) < 0 || listen(b->listener, 1) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot listen on the connection bridge");
        goto out;
    }
    if (pthread_create(&b->thread, NULL, bridge_main, b) != 0) {
        rc = cl_fail(err, CL_EIO, "cannot start the connection bridge");
        goto out;
    }
    b->running = true;
    *out = b;
    b = NULL;
out:
    sock_bridge_free(b);
    return rc;
}

void sock_bridge_free(struct sock_bridge *b)
{
    if (!b)
        return;
    if (b->running) {
        uint64_t one = 1;
        if (write(b->stop, &one, sizeof(one)) == sizeof(one))
            pthread_join(b->thread, NULL);
    }
    if (b->listener >= 0)
        close(b->listener);
    if (b->stop >= 0)
        close(b->stop);
    close(b->fd);
    free(b);
}
