/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

struct rt_console {
    char *ring;
    size_t start, len;          /* ring[start .. start+len) modulo RT_CONSOLE_RING */
    uint64_t dropped;           /* bytes that fell out of the ring */
    int clients[RT_CONSOLE_MAX_CLIENTS];
    size_t nclients;
};

struct rt_console *rt_console_new(void)
{
    struct rt_console *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ring = malloc(RT_CONSOLE_RING);
    if (!c->ring) {
        free(c);
        return NULL;
    }
    return c;
}

void rt_console_close_clients(struct rt_console *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nclients; i++)
        close(c->clients[i]);
    c->nclients = 0;
}

void rt_console_free(struct rt_console *c)
{
    if (!c)
        return;
    rt_console_close_clients(c);
    free(c->ring);
    free(c);
}

static int send_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static void remove_at(struct rt_console *c, size_t i)
{
    close(c->clients[i]);
    c->clients[i] = c->clients[--c->nclients];
}

void rt_console_feed(struct rt_console *c, const char *buf, size_t n)
{
    for (size_t i = 0; i < c->nclients;) {
        if (send_all(c->clients[i], buf, n) < 0)
            remove_at(c, i);
        else
            i++;
    }
    /* Only the last RT_CONSOLE_RING bytes can stay; the rest is counted. */
    if (n > RT_CONSOLE_RING) {
        c->dropped += n - RT_CONSOLE_RING;
        buf += n - RT_CONSOLE_RING;
        n = RT_CONSOLE_RING;
    }
    size_t over = c->len + n > RT_CONSOLE_RING ? c->len + n - RT_CONSOLE_RING : 0;
    c->dropped += over;
    c->start = (c->start + over) % RT_CONSOLE_RING;
    c->len -= over;
    size_t end = (c->start + c->len) % RT_CONSOLE_RING;
    size_t first = n < RT_CONSOLE_RING - end ? n : RT_CONSOLE_RING - end;
    memcpy(c->ring + end, buf, first);
    memcpy(c->ring, buf + first, n - first);
    c->len += n;
}

uint64_t rt_console_dropped(const struct rt_console *c)
{
    return c->dropped;
}

int rt_console_add_client(struct rt_console *c, int fd)
{
    if (c->nclients == RT_CONSOLE_MAX_CLIENTS) {
        close(fd);
        return -1;
    }
    /* Room for the whole ring, so the backlog goes out in one go. */
    int sz = (int)(RT_CONSOLE_RING * 2);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    char hello[64];
    int hn = snprintf(hello, sizeof(hello), RT_CONSOLE_HELLO "%llu\n",
                      (unsigned long long)c->dropped);
    size_t first = c->len;
    if (c->start + first > RT_CONSOLE_RING)
        first = RT_CONSOLE_RING - c->start;
    if (send_all(fd, hello, (size_t)hn) < 0 || send_all(fd, c->ring + c->start, first) < 0 ||
        send_all(fd, c->ring, c->len - first) < 0) {
        close(fd);
        return -1;
    }
    c->clients[c->nclients++] = fd;
    return 0;
}

int rt_console_drop_client(struct rt_console *c, int fd)
{
    for (size_t i = 0; i < c->nclients; i++)
        if (c->clients[i] == fd) {
            remove_at(c, i);
            return 1;
        }
    return 0;
}

size_t rt_console_tail(const struct rt_console *c, char *buf, size_t n)
{
    if (n == 0)
        return 0;
    size_t want = c->len < n - 1 ? c->len : n - 1;
    size_t from = c->len - want;
    for (size_t k = 0; k < want; k++)
        buf[k] = c->ring[(c->start + from + k) % RT_CONSOLE_RING];
    buf[want] = '\0';
    return want;
}

int rt_console_open_pty(uid_t owner, int *master, int *slave, char *path, size_t cap,
                        struct cl_error *err)
{
    *master = *slave = -1;
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return cl_fail_errno(err, CL_EIO, "cannot open a pseudo-terminal");
    char name[64];
    int s = -1;
    struct termios t;
    if (unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0 ||
        (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 || tcgetattr(s, &t) < 0)
        goto fail;
    /* Raw: bytes pass as written (no "\r" added, no echo, no signals from
     * input); a terminal nonetheless, so programs line-buffer. */
    cfmakeraw(&t);
    if (tcsetattr(s, TCSANOW, &t) < 0 ||
        /* The enclave's root opens /dev/console; nobody else on the host. */
        fchown(s, owner, owner) < 0 || fchmod(s, 0600) < 0 ||
        snprintf(path, cap, "%s", name) >= (int)cap)
        goto fail;
    fcntl(m, F_SETFL, O_NONBLOCK);
    *master = m;
    *slave = s;
    return 0;
fail:;
    int rc = cl_fail_errno(err, CL_EIO, "cannot set up the console's pseudo-terminal");
    if (s >= 0)
        close(s);
    close(m);
    return rc;
}
