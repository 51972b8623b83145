/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sock_bridge: the in-process abstract Unix endpoint joined to a connected
 * stream (src/lib/sock_bridge.h). The "connected stream" here is one end of
 * a socketpair whose other end ("remote") plays the proxy.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "kms_client/sock_bridge.h"

static int connect_abstract(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    size_t n = strlen(name);
    memcpy(addr.sun_path + 1, name, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (connect(fd, (struct sockaddr *)&addr, len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until EOF (or max); returns the count. */
static size_t read_all(int fd, uint8_t *buf, size_t max)
{
    size_t got = 0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 20000), 1); /* a safety limit, not a timing check */
        ssize_t r = read(fd, buf + got, max - got);
        assert_true(r >= 0);
        if (r == 0 || (got += (size_t)r) == max)
            return got;
    }
}

struct writer {
    int fd;
    const uint8_t *data;
    size_t len;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    write_all(w->fd, w->data, w->len);
    shutdown(w->fd, SHUT_WR);
    return NULL;
}

struct pair {
    struct sock_bridge *b;
    char name[SOCK_BRIDGE_NAME_MAX];
    int remote; /* the far end of the bridged stream */
};

static void start(struct pair *p)
{
    int sv[2];
    struct cl_error err = { 0 };
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->remote = sv[1];
    assert_int_equal(sock_bridge_start(sv[0], p->name, &p->b, &err), 0);
    assert_non_null(p->b);
    assert_int_equal(strncmp(p->name, "cloister-bridge-", 16), 0);
}

static void test_bytes_both_ways_and_half_close(void **state)
{
    (void)state;
    struct pair p;
    start(&p);
    int c = connect_abstract(p.name);
    assert_true(c >= 0);

    /* 1 MiB up, then the client half-closes; the remote sees EOF after it */
    size_t n = 1024 * 1024;
    uint8_t *data = malloc(n), *back = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 31 + (i >> 8));
    struct writer w = { c, data, n };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    assert_int_equal(read_all(p.remote, back, n + 1), n);
    pthread_join(t, NULL);
    assert_memory_equal(back, data, n);

    /* the other direction still works after the half-close, then ends */
    const char reply[] = "HTTP/1.1 200 OK\r\n\r\n{}";
    write_all(p.remote, (const uint8_t *)reply, sizeof(reply) - 1);
    assert_int_equal(shutdown(p.remote, SHUT_WR), 0);
    assert_int_equal(read_all(c, back, n), sizeof(reply) - 1);
    assert_memory_equal(back, reply, sizeof(reply) - 1);

    close(c);
    sock_bridge_free(p.b);
    close(p.remote);
    free(data);
    free(back);
}

static void test_one_connection_only(void **state)
{
    (void)state;
    struct pair p;
    start(&p);
    int c = connect_abstract(p.name);
    assert_true(c >= 0);
    write_all(c, (const uint8_t *)"x", 1); /* the bridge has accepted once bytes flow */
    uint8_t b;
    assert_int_equal(read_all(p.remote, &b, 1), 1);
    errno = 0;
    assert_int_equal(connect_abstract(p.name), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(c);
    sock_bridge_free(p.b);
    close(p.remote);
}

static void test_names_differ(void **state)
{
    (void)state;
    struct pair a, b;
    start(&a);
    start(&b);
    assert_string_not_equal(a.name, b.name);
    sock_bridge_free(a.b);
    sock_bridge_free(b.b);
    close(a.remote);
    close(b.remote);
}

static void test_free_without_a_connection(void **state)
{
    (void)state;
    struct pair p;
    start(&p);
    sock_bridge_free(p.b); /* stops the waiting thread and closes the stream */
    uint8_t b;
    assert_int_equal(read(p.remote, &b, 1), 0);
    close(p.remote);
    sock_bridge_free(NULL);
}

static void test_free_mid_stream_closes_both(void **state)
{
    (void)state;
    struct pair p;
    start(&p);
    int c = connect_abstract(p.name);
    assert_true(c >= 0);
    write_all(c, (const uint8_t *)"abc", 3);
    uint8_t buf[8];
    assert_int_equal(read_all(p.remote, buf, 3), 3);
    sock_bridge_free(p.b);
    assert_int_equal(read_all(c, buf, sizeof(buf)), 0);
    assert_int_equal(read_all(p.remote, buf, sizeof(buf)), 0);
    close(c);
    close(p.remote);
}

/* When the client goes away entirely, the bridge ends the stream too: the
 * remote's writes fail instead of piling up unread. */
static void test_client_gone_ends_the_stream(void **state)
{
    (void)state;
    struct pair p;
    start(&p);
    int c = connect_abstract(p.name);
    assert_true(c >= 0);
    write_all(c, (const uint8_t *)"q", 1);
    uint8_t b;
    assert_int_equal(read_all(p.remote, &b, 1), 1);
    close(c);
    assert_int_equal(read_all(p.remote, &b, 1), 0); /* EOF passed on */
    ssize_t w = 0;
    for (int i = 0; i < 2000 && w >= 0; i++) {
        w = send(p.remote, "z", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0)
            usleep(5000);
    }
    assert_int_equal(w, -1);
    assert_int_equal(errno, EPIPE);
    sock_bridge_free(p.b);
    close(p.remote);
}

static void test_remote_gone_ends_the_client(void **state)
{
    (void)state;
    struct pair p;
    start(&p);
    int c = connect_abstract(p.name);
    assert_true(c >= 0);
    close(p.remote);
    uint8_t b;
    assert_int_equal(read_all(c, &b, 1), 0);
    close(c);
    sock_bridge_free(p.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_both_ways_and_half_close),
        cmocka_unit_test(test_one_connection_only),
        cmocka_unit_test(test_names_differ),
        cmocka_unit_test(test_free_without_a_connection),
        cmocka_unit_test(test_free_mid_stream_closes_both),
        cmocka_unit_test(test_client_gone_ends_the_stream),
        cmocka_unit_test(test_remote_gone_ends_the_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
