/* SPDX-License-Identifier: Apache-2.0 */
#include "forward.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"

#define PIPE_CAPACITY (64 * 1024) /* the kernel's default pipe buffer */

/* One direction: bytes read from `from` wait in the pipe until written to `to`. */
struct half {
    int from, to;
    int pipe_r, pipe_w;
    size_t queued;   /* bytes in the pipe (or buf) */
    bool eof;        /* `from` said end-of-stream */
    bool shut;       /* we passed it on: shutdown(to, SHUT_WR) */
    uint8_t *buf;    /* fallback when splice is refused (copy mode) */
    size_t buf_off;
};

struct conn;
/* What an epoll event points at: one side of one connection. */
struct side {
    struct conn *c;
    int fd;
    uint32_t events; /* currently registered */
    bool registered;
};

struct conn {
    struct half up;   /* client -> remote */
    struct half down; /* remote -> client */
    struct side client, remote;
    bool connecting;
    bool closed;        /* fds closed; freed once the current batch of events is done */
    struct conn *next_closed;
};

struct worker {
    pthread_t thread;
    int epfd;
    int stop_fd; /* eventfd: wakes the loop to stop */
    bool started;
    struct conn *closed; /* closed in this batch: a later event of the batch may name them */
};

struct forwarder {
    struct worker *workers;
    unsigned count;
    atomic_uint next;
};

static void half_release(struct half *h)
{
    if (h->pipe_r >= 0)
        close(h->pipe_r);
    if (h->pipe_w >= 0)
        close(h->pipe_w);
    free(h->buf);
    h->pipe_r = h->pipe_w = -1;
    h->buf = NULL;
}

static void conn_close(struct worker *w, struct conn *c)
{
    /* Closing an fd removes it from the epoll set; the memory must outlive
     * the current epoll_wait batch, which may still hold events for it. */
    close(c->client.fd);
    close(c->remote.fd);
    half_release(&c->up);
    half_release(&c->down);
    c->closed = true;
    c->next_closed = w->closed;
    w->closed = c;
}

static void free_closed(struct worker *w)
{
    while (w->closed) {
        struct conn *c = w->closed;
        w->closed = c->next_closed;
        free(c);
    }
}

static int half_init(struct half *h, int from, int to)
{
    int p[2];
    memset(h, 0, sizeof(*h));
    h->from = from;
    h->to = to;
    h->pipe_r = h->pipe_w = -1;
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    h->pipe_r = p[0];
    h->pipe_w = p[1];
    return 0;
}

/* Switches a direction to copy mode (kernel refused splice on this fd pair). */
static int half_to_copy_mode(struct half *h)
{
    if (h->queued > 0)
        return -1; /* only before anything went into the pipe */
    h->buf = malloc(PIPE_CAPACITY);
    return h->buf ? 0 : -1;
}

/*
 * Moves as many bytes as possible in one direction without blocking.
 * Returns 1 if progress was made, 0 if none, -1 on a fatal error.
 */
static int half_pump(struct half *h)
{
    int progress = 0;
    for (;;) {
        bool moved = false;
        if (h->queued > 0) {
            ssize_t n;
            if (h->buf)
                n = write(h->to, h->buf + h->buf_off, h->queued);
            else
                n = splice(h->pipe_r, NULL, h->to, NULL, h->queued,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -1;
            if (n > 0) {
                h->queued -= (size_t)n;
                if (h->buf)
                    h->buf_off = h->queued ? h->buf_off + (size_t)n : 0;
                moved = true;
            }
        }
        if (!h->eof && h->queued < PIPE_CAPACITY && (!h->buf || h->queued == 0)) {
            ssize_t n;
            if (h->buf)
                n = read(h->from, h->buf, PIPE_CAPACITY);
            else
                n = splice(h->from, NULL, h->pipe_w, NULL, PIPE_CAPACITY - h->queued,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0 && errno == EINVAL && !h->buf) {
                if (half_to_copy_mode(h) < 0)
                    return -1;
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -1;
            if (n == 0)
                h->eof = true;
            if (n > 0) {
                h->queued += (size_t)n;
                moved = true;
            }
        }
        if (h->eof && h->queued == 0 && !h->shut) {
            shutdown(h->to, SHUT_WR);
            h->shut = true;
            moved = true;
        }
        if (!moved)
            return progress;
        progress = 1;
    }
}

static uint32_t wanted_events(const struct conn *c, const struct side *s)
{
    uint32_t ev = 0;
    /* As a source: read while its direction has room. */
    const struct half *src = s == &c->client ? &c->up : &c->down;
    const struct half *dst = s == &c->client ? &c->down : &c->up;
    if (!src->eof && src->queued < PIPE_CAPACITY && (!src->buf || src->queued == 0))
        ev |= EPOLLIN | EPOLLRDHUP;
    /* As a destination: write while bytes wait for it. */
    if (dst->queued > 0)
        ev |= EPOLLOUT;
    return ev;
}

static int side_update(struct worker *w, struct conn *c, struct side *s)
{
    uint32_t ev = wanted_events(c, s);
    if (s->registered && ev == s->events)
        return 0;
    struct epoll_event e = { .events = ev, .data.ptr = s };
    int op = s->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(w->epfd, op, s->fd, &e) < 0)
        return -1;
    s->registered = true;
    s->events = ev;
    return 0;
}

static void conn_event(struct worker *w, struct side *s, uint32_t events)
{
    struct conn *c = s->c;
    if (c->closed)
        return;
    if (c->connecting) {
        int so_err = 0;
        socklen_t len = sizeof(so_err);
        if (getsockopt(c->remote.fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0 || so_err != 0) {
            log_info("connection to the remote failed: %s", strerror(so_err ? so_err : errno));
            conn_close(w, c);
            return;
        }
        c->connecting = false;
    } else if ((events & EPOLLERR) && !(events & (EPOLLIN | EPOLLOUT))) {
        conn_close(w, c);
        return;
    }
    if (half_pump(&c->up) < 0 || half_pump(&c->down) < 0) {
        conn_close(w, c);
        return;
    }
    if (c->up.shut && c->down.shut) {
        conn_close(w, c);
        return;
    }
    if (side_update(w, c, &c->client) < 0 || side_update(w, c, &c->remote) < 0)
        conn_close(w, c);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(w->epfd, events, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("epoll_wait failed: %s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                free_closed(w);
                return NULL; /* the stop eventfd */
            }
            conn_event(w, events[i].data.ptr, events[i].events);
        }
        free_closed(w);
    }
}

int forwarder_new(unsigned workers, struct forwarder **out, struct cl_error *err)
{
    *out = NULL;
    if (workers == 0)
        return cl_fail(err, CL_EINVAL, "at least one worker is needed");
    struct forwarder *f = calloc(1, sizeof(*f));
    if (!f)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    f->workers = calloc(workers, sizeof(*f->workers));
    if (!f->workers) {
        free(f);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    f->count = workers;
    int rc = 0;
    for (unsigned i = 0; i < workers; i++) {
        struct worker *w = &f->workers[i];
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->epfd < 0 || w->stop_fd < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot create an event loop");
            goto out;
        }
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stop_fd, &e) < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot watch the stop event");
            goto out;
        }
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            rc = cl_fail(err, CL_EIO, "cannot start worker thread %u", i);
            goto out;
        }
        w->started = true;
    }
    *out = f;
    f = NULL;
out:
    forwarder_free(f);
    return rc;
}

int forwarder_add(struct forwarder *f, int client_fd, const struct sockaddr *addr,
                  socklen_t addr_len, struct cl_error *err)
{
    int rc = 0;
    struct conn *c = NULL;
    int remote = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (remote < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot create a TCP socket");
        goto fail;
    }
    /* Bytes are passed on as they come: Nagle's algorithm would only add
     * latency to interactive exchanges such as TLS handshakes. */
    int one = 1;
    setsockopt(remote, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int fl = fcntl(client_fd, F_GETFL);
    if (fl < 0 || fcntl(client_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot make the client connection non-blocking");
        goto fail;
    }
    if (connect(remote, addr, addr_len) < 0 && errno != EINPROGRESS) {
        rc = cl_fail_errno(err, CL_EIO, "cannot connect to the remote");
        goto fail;
    }
    c = calloc(1, sizeof(*c));
    if (!c || half_init(&c->up, client_fd, remote) < 0 ||
        half_init(&c->down, remote, client_fd) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot set up the connection");
        goto fail;
    }
    c->client = (struct side){ .c = c, .fd = client_fd };
    c->remote = (struct side){ .c = c, .fd = remote };
    c->connecting = true;

    /*
     * Only the remote side is registered here, for the end of the connect;
     * the worker registers the client side itself once connected. After this
     * one epoll_ctl the worker owns the connection and this thread never
     * touches it again.
     */
    struct worker *w = &f->workers[atomic_fetch_add(&f->next, 1) % f->count];
    c->remote.registered = true;
    c->remote.events = EPOLLOUT;
    struct epoll_event e = { .events = EPOLLOUT, .data.ptr = &c->remote };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, remote, &e) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot watch the connection");
        goto fail;
    }
    return 0;
fail:
    if (c) {
        half_release(&c->up);
        half_release(&c->down);
        free(c);
    }
    if (remote >= 0)
        close(remote);
    close(client_fd);
    return rc;
}

void forwarder_free(struct forwarder *f)
{
    if (!f)
        return;
    for (unsigned i = 0; i < f->count; i++) {
        struct worker *w = &f->workers[i];
        if (w->started) {
            uint64_t one = 1;
            if (write(w->stop_fd, &one, sizeof(one)) == sizeof(one))
                pthread_join(w->thread, NULL);
        }
        if (w->epfd > 0)
            close(w->epfd);
        if (w->stop_fd > 0)
            close(w->stop_fd);
    }
    /* Connections still open belong to the stopped loops; the process is exiting. */
    free(f->workers);
    free(f);
}
