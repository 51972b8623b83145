/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's redirects (vsock_notify.h, struct vsock_notify_redirect):
 * a served process's connect() of a stream socket to a redirected address
 * is made by the supervisor, on its copy of the socket, to the redirect's
 * target. How `cloister exec` leads code that hard-codes the instance
 * metadata address to the metadata service (docs/parent.md).
 */
#include "vsock_notify/vsock_notify_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Does sa (len bytes) name r's `from`? A v4-mapped IPv6 address matches
 * its IPv4 one. */
static bool is_from(const struct sockaddr_storage *sa, socklen_t len,
                    const struct vsock_notify_redirect *r)
{
    const struct sockaddr_in *f4 = (const struct sockaddr_in *)&r->from;
    const struct sockaddr_in6 *f6 = (const struct sockaddr_in6 *)&r->from;
    if (sa->ss_family == AF_INET && len >= sizeof(struct sockaddr_in) && f4->sin_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        return a->sin_port == f4->sin_port && a->sin_addr.s_addr == f4->sin_addr.s_addr;
    }
    if (sa->ss_family != AF_INET6 || len < sizeof(struct sockaddr_in6))
        return false;
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    if (f6->sin6_family == AF_INET6)
        return a->sin6_port == f6->sin6_port && !memcmp(&a->sin6_addr, &f6->sin6_addr, 16);
    return f4->sin_family == AF_INET && a->sin6_port == f4->sin_port &&
           IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) &&
           !memcmp(a->sin6_addr.s6_addr + 12, &f4->sin_addr, 4);
}

/* A blocking redirected connect, on a thread of its own so that it holds
 * up no other call (the loop is single-threaded); it answers the call
 * itself, through its own copy of the listener. */
struct redirect_job {
    struct vn_server server;  /* listener: the job's own copy */
    uint64_t id;
    int sock;                 /* the supervisor's copy of the target's socket */
    struct sockaddr_storage dst;
    socklen_t dst_len;
};

static void *redirect_worker(void *arg)
{
    struct redirect_job *j = arg;
    int rc = connect(j->sock, (struct sockaddr *)&j->dst, j->dst_len) == 0 ? 0 : -errno;
    struct vn_call call = { .s = &j->server, .id = j->id };
    vn_reply(&call, 0, rc);
    close(j->sock);
    close(j->server.listener);
    free(j);
    return NULL;
}

/* Connects local to dst and answers c: at once for a non-blocking socket
 * (EINPROGRESS, as the kernel would), on a worker thread otherwise. */
static void redirect_connect(struct vn_call *c, int local, const struct sockaddr_storage *dst,
                             socklen_t dlen)
{
    int fl = fcntl(local, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        return vn_reply(c, 0, connect(local, (const struct sockaddr *)dst, dlen) == 0 ? 0 : -errno);
    struct redirect_job *j = calloc(1, sizeof(*j));
    if (!j)
        return vn_reply(c, 0, -ENOMEM);
    j->server.listener = fcntl(c->s->listener, F_DUPFD_CLOEXEC, 0);
    j->sock = fcntl(local, F_DUPFD_CLOEXEC, 0);
    j->id = c->id;
    j->dst = *dst;
    j->dst_len = dlen;
    pthread_attr_t attr;
    pthread_t t;
    int rc = j->server.listener < 0 || j->sock < 0 ? EMFILE : pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &attr, redirect_worker, j);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        if (j->sock >= 0)
            close(j->sock);
        if (j->server.listener >= 0)
            close(j->server.listener);
        free(j);
        vn_reply(c, 0, -rc);
    }
}

/*
 * A connect of a stream socket to a redirected address: made by the
 * supervisor, on its copy of the socket (the same open file: the same
 * O_NONBLOCK, so a non-blocking one gets EINPROGRESS as it would have).
 * false: not one of the redirected calls.
 */
bool vn_redirected(struct vn_call *c, int local)
{
    struct sockaddr_storage to;
    socklen_t len = (socklen_t)c->args[2], tlen = sizeof(int);
    int type = 0;
    if (c->s->n_redirects == 0 || len < sizeof(sa_family_t) || len > sizeof(to) ||
        getsockopt(local, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM ||
        vn_read(c, c->args[1], &to, len) < 0)
        return false;
    for (size_t i = 0; i < c->s->n_redirects; i++) {
        const struct vsock_notify_redirect *r = &c->s->redirects[i];
        if (!is_from(&to, len, r))
            continue;
        struct sockaddr_storage dst = r->to;
        socklen_t dlen = r->to_len;
        if (to.ss_family == AF_INET6 && dst.ss_family == AF_INET) {
            /* an IPv6 socket reaches the IPv4 target at its v4-mapped address */
            struct sockaddr_in v4 = *(struct sockaddr_in *)&r->to;
            struct sockaddr_in6 *m = (struct sockaddr_in6 *)&dst;
            memset(m, 0, sizeof(*m));
            m->sin6_family = AF_INET6;
            m->sin6_port = v4.sin_port;
            m->sin6_addr.s6_addr[10] = m->sin6_addr.s6_addr[11] = 0xff;
            memcpy(m->sin6_addr.s6_addr + 12, &v4.sin_addr, 4);
            dlen = sizeof(*m);
        }
        redirect_connect(c, local, &dst, dlen);
        return true;
    }
    return false;
}
