/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated NSM transport's framing (src/lib/nsm/nsm_frame.c): the wire
 * bytes (4-byte big-endian length, then the payload), short reads (a
 * packet-mode pipe hands each write over as one read, so every split is
 * exercised without timing), oversized announcements, EOF before, inside
 * the header and inside the payload, a vanished peer, connecting, and the
 * exact return codes and errno of each case. No threads: the peer's bytes
 * are written into the socket buffer before the call that reads them.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <cloister/error.h>

#include "nsm/nsm_frame.h"
#include "testlib/testlib.h"

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void put(int fd, const void *p, size_t n)
{
    assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* Exactly n bytes from fd (the peer's view of what was written). */
static void expect_bytes(int fd, const void *want, size_t n)
{
    uint8_t *got = malloc(n + 1);
    size_t k = 0;
    while (k < n) {
        ssize_t r = read(fd, got + k, n - k);
        assert_true(r > 0);
        k += (size_t)r;
    }
    assert_memory_equal(got, want, n);
    free(got);
}

static void write_puts_the_length_first(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    assert_int_equal(nsm_frame_write(sv[0], (const uint8_t *)"abc", 3), 0);
    expect_bytes(sv[1], "\0\0\0\3abc", 7);
    assert_int_equal(nsm_frame_write(sv[0], NULL, 0), 0);
    expect_bytes(sv[1], "\0\0\0\0", 4);
    /* past the one-write staging buffer (4096): header, then payload */
    size_t n = 10000;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    int rsv[2];
    pair(rsv);
    assert_int_equal(nsm_frame_write(rsv[0], big, n), 0);
    uint8_t *back = malloc(n);
    size_t len = 0;
    assert_int_equal(nsm_frame_read(rsv[1], back, n, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(back, big, n);
    free(back);
    free(big);
    close(rsv[0]);
    close(rsv[1]);
    close(sv[0]);
    close(sv[1]);
}

static void write_refuses_bad_arguments(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    assert_int_equal(nsm_frame_write(sv[0], NULL, 1), CL_EINVAL);
    assert_int_equal(nsm_frame_write(sv[0], (const uint8_t *)"x", (size_t)UINT32_MAX + 1),
                     CL_EINVAL);
    /* nothing was written */
    char c;
    assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    close(sv[0]);
    close(sv[1]);
}

/* A vanished peer is CL_EIO with EPIPE, never a SIGPIPE (which would end
 * this test program). */
static void write_to_a_closed_peer(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    close(sv[1]);
    errno = 0;
    assert_int_equal(nsm_frame_write(sv[0], (const uint8_t *)"abc", 3), CL_EIO);
    assert_int_equal(errno, EPIPE);
    static uint8_t big[10000];
    errno = 0;
    assert_int_equal(nsm_frame_write(sv[0], big, sizeof(big)), CL_EIO);
    assert_int_equal(errno, EPIPE);
    close(sv[0]);
}

/* Each write into a packet-mode pipe is read back alone: the reader sees
 * the header and the payload in pieces. */
static void read_reassembles_short_reads(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_DIRECT | O_CLOEXEC), 0);
    static const char *const pieces[] = { "\0", "\0\0", "\5", "ab", "c", "de" };
    static const size_t sizes[] = { 1, 2, 1, 2, 1, 2 };
    for (size_t i = 0; i < 6; i++)
        put(p[1], pieces[i], sizes[i]);
    uint8_t buf[16];
    size_t len = 0;
    assert_int_equal(nsm_frame_read(p[0], buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "abcde", 5);
    close(p[1]);
    assert_int_equal(nsm_frame_read(p[0], buf, sizeof(buf), &len), 1);
    close(p[0]);
    /* not a socket: nsm_frame_write falls back to write() */
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(nsm_frame_write(p[1], (const uint8_t *)"xyz", 3), 0);
    assert_int_equal(nsm_frame_read(p[0], buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "xyz", 3);
    close(p[0]);
    close(p[1]);
}

static void read_refuses_oversized_frames(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    uint8_t buf[8];
    size_t len = 0;
    /* a frame that fits exactly, then one byte too many */
    put(sv[1], "\0\0\0\x08" "12345678", 12);
    assert_int_equal(nsm_frame_read(sv[0], buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 8);
    put(sv[1], "\0\0\0\x09" "123456789", 13);
    assert_int_equal(nsm_frame_read(sv[0], buf, sizeof(buf), &len), CL_ELIMIT);
    assert_int_equal(len, 9);
    /* the payload was not read: it is what the stream holds next */
    expect_bytes(sv[0], "123456789", 9);
    put(sv[1], "\xff\xff\xff\xff", 4);
    assert_int_equal(nsm_frame_read(sv[0], buf, sizeof(buf), &len), CL_ELIMIT);
    assert_int_equal(len, 0xffffffffu);
    close(sv[0]);
    close(sv[1]);
}

/* EOF: before a frame is a clean end (1); inside one, CL_EFORMAT. */
static void read_at_end_of_stream(void **state)
{
    (void)state;
    static const struct { const char *bytes; size_t n; int rc; } c[] = {
        { "", 0, 1 },
        { "\0", 1, CL_EFORMAT },
        { "\0\0\0", 3, CL_EFORMAT },
        { "\0\0\0\x02", 4, CL_EFORMAT },
        { "\0\0\0\x02" "a", 5, CL_EFORMAT },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int sv[2];
        pair(sv);
        if (c[i].n)
            put(sv[1], c[i].bytes, c[i].n);
        close(sv[1]);
        uint8_t buf[8];
        size_t len = 0;
        assert_int_equal(nsm_frame_read(sv[0], buf, sizeof(buf), &len), c[i].rc);
        close(sv[0]);
    }
    /* an empty frame is a frame, then the end */
    int sv[2];
    pair(sv);
    put(sv[1], "\0\0\0\0", 4);
    close(sv[1]);
    size_t len = 99;
    assert_int_equal(nsm_frame_read(sv[0], NULL, 0, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(nsm_frame_read(sv[0], NULL, 0, &len), 1);
    close(sv[0]);
}

static void read_error_keeps_errno(void **state)
{
    (void)state;
    uint8_t buf[4];
    size_t len = 0;
    errno = 0;
    assert_int_equal(nsm_frame_read(-1, buf, sizeof(buf), &len), CL_EIO);
    assert_int_equal(errno, EBADF);
    int p[2];
    assert_int_equal(pipe(p), 0);
    errno = 0;
    assert_int_equal(nsm_frame_read(p[1], buf, sizeof(buf), &len), CL_EIO); /* write end */
    assert_int_equal(errno, EBADF);
    close(p[0]);
    close(p[1]);
}

static void transact_exchanges_one_frame_each_way(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    put(sv[1], "\0\0\0\x02" "ok", 6); /* the answer is already waiting */
    uint8_t resp[8];
    size_t len = 0;
    assert_int_equal(nsm_frame_transact(sv[0], (const uint8_t *)"ping", 4, resp, sizeof(resp),
                                        &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(resp, "ok", 2);
    expect_bytes(sv[1], "\0\0\0\x04" "ping", 8);
    close(sv[0]);
    close(sv[1]);
}

static void transact_errors(void **state)
{
    (void)state;
    uint8_t resp[4];
    size_t len = 0;
    int sv[2];

    /* the peer reads but closes without answering: ECONNRESET */
    pair(sv);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    errno = 0;
    assert_int_equal(nsm_frame_transact(sv[0], (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     CL_EIO);
    assert_int_equal(errno, ECONNRESET);
    close(sv[0]);
    close(sv[1]);

    /* the peer is gone: the request cannot be written */
    pair(sv);
    close(sv[1]);
    errno = 0;
    assert_int_equal(nsm_frame_transact(sv[0], (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     CL_EIO);
    assert_int_equal(errno, EPIPE);
    close(sv[0]);

    /* an answer too large for the caller's buffer */
    pair(sv);
    put(sv[1], "\0\0\0\x05" "12345", 9);
    assert_int_equal(nsm_frame_transact(sv[0], (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     CL_ELIMIT);
    assert_int_equal(len, 5);
    close(sv[0]);
    close(sv[1]);

    /* an answer cut short */
    pair(sv);
    put(sv[1], "\0\0\0\x03" "12", 6);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    assert_int_equal(nsm_frame_transact(sv[0], (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     CL_EFORMAT);
    close(sv[0]);
    close(sv[1]);

    /* a request that cannot be framed */
    assert_int_equal(nsm_frame_transact(-1, NULL, 2, resp, sizeof(resp), &len), CL_EINVAL);
}

static void connect_to_a_listener(void **state)
{
    (void)state;
    char dir[64], path[128], file[128];
    tl_mkdtemp(dir, sizeof(dir), "nsm-frame");
    tl_path(path, sizeof(path), dir, "nsm.sock");
    tl_path(file, sizeof(file), dir, "plain");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(l, 1), 0);

    int fd = nsm_frame_connect(path);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    int peer = accept(l, NULL, NULL);
    assert_true(peer >= 0);
    assert_int_equal(nsm_frame_write(fd, (const uint8_t *)"hi", 2), 0);
    expect_bytes(peer, "\0\0\0\x02" "hi", 6);
    close(peer);
    close(fd);

    errno = 0;
    tl_write_file(file, "", 0);
    assert_int_equal(nsm_frame_connect(file), CL_EIO);
    assert_int_equal(errno, ECONNREFUSED);
    tl_path(file, sizeof(file), dir, "missing");
    errno = 0;
    assert_int_equal(nsm_frame_connect(file), CL_EIO);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(nsm_frame_connect(""), CL_EINVAL);
    char longp[sizeof(sa.sun_path) + 1];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(nsm_frame_connect(longp), CL_EINVAL);
    longp[sizeof(sa.sun_path) - 1] = '\0'; /* 107 characters: fits, nothing there */
    errno = 0;
    assert_int_equal(nsm_frame_connect(longp), CL_EIO);
    assert_int_equal(errno, ENOENT);
    close(l);
    tl_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_puts_the_length_first),
        cmocka_unit_test(write_refuses_bad_arguments),
        cmocka_unit_test(write_to_a_closed_peer),
        cmocka_unit_test(read_reassembles_short_reads),
        cmocka_unit_test(read_refuses_oversized_frames),
        cmocka_unit_test(read_at_end_of_stream),
        cmocka_unit_test(read_error_keeps_errno),
        cmocka_unit_test(transact_exchanges_one_frame_each_way),
        cmocka_unit_test(transact_errors),
        cmocka_unit_test(connect_to_a_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
