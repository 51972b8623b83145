/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct rt_console {
    char *ring;
    size_t start, len;          /* ring[start .. start+len) modulo RT_CONSOLE_RING */
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
    if (n >= RT_CONSOLE_RING) {
        memcpy(c->ring, buf + n - RT_CONSOLE_RING, RT_CONSOLE_RING);
        c->start = 0;
        c->len = RT_CONSOLE_RING;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        size_t pos = (c->start + c->len) % RT_CONSOLE_RING;
        c->ring[pos] = buf[k];
        if (c->len < RT_CONSOLE_RING)
            c->len++;
        else
            c->start = (c->start + 1) % RT_CONSOLE_RING;
    }
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
    size_t first = c->len;
    if (c->start + first > RT_CONSOLE_RING)
        first = RT_CONSOLE_RING - c->start;
    if (send_all(fd, c->ring + c->start, first) < 0 ||
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
