/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave side of the NSM transport (src/lib/nsm/nsm_dev.c), without a
 * real /dev/nsm: the device path ($CLOISTER_NSM_DEVICE), what nsm_dev_open
 * does with each kind of file (a Unix socket is connected, a character
 * device opened read-write, anything else ENODEV, a socket path too long
 * for sun_path ENAMETOOLONG), and nsm_dev_transact's -errno mapping: bad
 * arguments, EMSGSIZE both ways, a cut or missing answer over the emulated
 * socket, the ioctl path on files that are not the NSM (ENOTTY), and the
 * process-wide serialisation of socket exchanges.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "nsm/nsm_dev.h"
#include "nsm/nsm_frame.h"
#include "nsm/nsm_proto.h"
#include "testlib/testlib.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    tl_mkdtemp(dir, sizeof(dir), "nsm-dev");
    unsetenv(NSM_DEV_ENV);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv(NSM_DEV_ENV);
    tl_rmtree(dir);
    return 0;
}

/* A listening Unix socket at path. */
static int listener(const char *path)
{
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(path) < sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(l, 4), 0);
    return l;
}

static void device_path_from_the_environment(void **state)
{
    (void)state;
    assert_string_equal(nsm_dev_path(), "/dev/nsm");
    setenv(NSM_DEV_ENV, "", 1);
    assert_string_equal(nsm_dev_path(), "/dev/nsm");
    setenv(NSM_DEV_ENV, "/run/x/nsm", 1);
    assert_string_equal(nsm_dev_path(), "/run/x/nsm");
}

static void open_connects_a_socket(void **state)
{
    (void)state;
    char path[128];
    tl_path(path, sizeof(path), dir, "nsm.sock");
    int l = listener(path);
    int fd = nsm_dev_open(path);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    int peer = accept(l, NULL, NULL);
    assert_true(peer >= 0);
    close(peer);
    close(fd);
    /* NULL: the path of the environment */
    setenv(NSM_DEV_ENV, path, 1);
    fd = nsm_dev_open(NULL);
    assert_true(fd >= 0);
    close(fd);
    close(l);
    /* a socket file nobody listens on any more */
    errno = 0;
    assert_int_equal(nsm_dev_open(path), -1);
    assert_int_equal(errno, ECONNREFUSED);
}

static void open_refuses_other_files(void **state)
{
    (void)state;
    char path[128];
    tl_path(path, sizeof(path), dir, "plain");
    tl_write_file(path, "x", 1);
    errno = 0;
    assert_int_equal(nsm_dev_open(path), -1);
    assert_int_equal(errno, ENODEV);
    errno = 0;
    assert_int_equal(nsm_dev_open(dir), -1);
    assert_int_equal(errno, ENODEV);
    tl_path(path, sizeof(path), dir, "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    errno = 0;
    assert_int_equal(nsm_dev_open(path), -1);
    assert_int_equal(errno, ENODEV);
    tl_path(path, sizeof(path), dir, "missing");
    errno = 0;
    assert_int_equal(nsm_dev_open(path), -1);
    assert_int_equal(errno, ENOENT);
}

/* A character device is opened read-write (here /dev/null). */
static void open_takes_a_character_device_read_write(void **state)
{
    (void)state;
    int fd = nsm_dev_open("/dev/null");
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
}

/* A socket whose path does not fit sun_path (made through a relative bind
 * in a deep directory) cannot be connected: ENAMETOOLONG. */
static void open_socket_path_too_long(void **state)
{
    (void)state;
    char deep[256], path[300], cwd[512];
    char name[101];
    memset(name, 'd', 100);
    name[100] = '\0';
    tl_path(deep, sizeof(deep), dir, name);
    assert_int_equal(mkdir(deep, 0700), 0);
    tl_path(path, sizeof(path), deep, "nsm.sock");
    assert_true(strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path));
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(deep), 0);
    int l = listener("nsm.sock");
    assert_int_equal(chdir(cwd), 0);
    errno = 0;
    assert_int_equal(nsm_dev_open(path), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    close(l);
}

static void transact_checks_its_arguments(void **state)
{
    (void)state;
    static uint8_t resp[NSM_RESPONSE_MAX], big[NSM_REQUEST_MAX + 1];
    size_t len = 0;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(nsm_dev_transact(-1, big, 1, resp, sizeof(resp), &len), -EINVAL);
    assert_int_equal(nsm_dev_transact(sv[0], big, 1, NULL, sizeof(resp), &len), -EINVAL);
    assert_int_equal(nsm_dev_transact(sv[0], big, 1, resp, sizeof(resp), NULL), -EINVAL);
    assert_int_equal(nsm_dev_transact(sv[0], big, 1, resp, NSM_RESPONSE_MAX - 1, &len), -EINVAL);
    /* the kernel's answer to a request over 0x1000 bytes */
    assert_int_equal(nsm_dev_transact(sv[0], big, sizeof(big), resp, sizeof(resp), &len),
                     -EMSGSIZE);
    /* nothing reached the peer */
    char c;
    assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    int gone = dup(sv[0]);
    close(gone);
    assert_int_equal(nsm_dev_transact(gone, big, 1, resp, sizeof(resp), &len), -EBADF);
    close(sv[0]);
    close(sv[1]);
}

/* Over the emulated socket: the answer waits in the peer's end already. */
static int answered(const void *answer, size_t n, bool then_close, int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (n)
        assert_int_equal(write(sv[1], answer, n), (ssize_t)n);
    if (then_close)
        assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    return sv[0];
}

static void transact_over_the_socket(void **state)
{
    (void)state;
    static uint8_t resp[NSM_RESPONSE_MAX + 16], req[NSM_REQUEST_MAX];
    size_t len = 0;
    int sv[2];

    int fd = answered("\0\0\0\x03" "abc", 7, false, sv);
    assert_int_equal(nsm_dev_transact(fd, (const uint8_t *)"\xa0", 1, resp, sizeof(resp), &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(resp, "abc", 3);
    uint8_t got[8];
    size_t glen = 0;
    assert_int_equal(nsm_frame_read(sv[1], got, sizeof(got), &glen), 0);
    assert_int_equal(glen, 1);
    assert_int_equal(got[0], 0xa0);
    close(sv[0]);
    close(sv[1]);

    /* a request of exactly 0x1000 bytes and an answer of exactly 0x3000 */
    static uint8_t frame[4 + NSM_RESPONSE_MAX + 1];
    memcpy(frame, "\0\0\x30\0", 4);
    memset(frame + 4, 0x5a, NSM_RESPONSE_MAX);
    fd = answered(frame, 4 + NSM_RESPONSE_MAX, false, sv);
    memset(req, 0x11, sizeof(req));
    assert_int_equal(nsm_dev_transact(fd, req, sizeof(req), resp, sizeof(resp), &len), 0);
    assert_int_equal(len, NSM_RESPONSE_MAX);
    assert_int_equal(resp[NSM_RESPONSE_MAX - 1], 0x5a);
    static uint8_t peer_got[NSM_REQUEST_MAX];
    assert_int_equal(nsm_frame_read(sv[1], peer_got, sizeof(peer_got), &glen), 0);
    assert_int_equal(glen, NSM_REQUEST_MAX);
    close(sv[0]);
    close(sv[1]);

    /* one byte more than the driver's limit, even with room in resp */
    memcpy(frame, "\0\0\x30\x01", 4);
    fd = answered(frame, 4 + NSM_RESPONSE_MAX + 1, false, sv);
    assert_int_equal(nsm_dev_transact(fd, req, 1, resp, sizeof(resp), &len), -EMSGSIZE);
    close(sv[0]);
    close(sv[1]);
}

static void transact_maps_transport_failures(void **state)
{
    (void)state;
    static uint8_t resp[NSM_RESPONSE_MAX];
    size_t len = 0;
    int sv[2];
    /* the answer is cut short */
    int fd = answered("\0\0\0\x05" "ab", 6, true, sv);
    assert_int_equal(nsm_dev_transact(fd, (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     -EPROTO);
    close(sv[0]);
    close(sv[1]);
    /* no answer at all */
    fd = answered(NULL, 0, true, sv);
    assert_int_equal(nsm_dev_transact(fd, (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     -ECONNRESET);
    close(sv[0]);
    close(sv[1]);
    /* the module is gone */
    fd = answered(NULL, 0, false, sv);
    close(sv[1]);
    assert_int_equal(nsm_dev_transact(fd, (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     -EPIPE);
    close(sv[0]);
}

/* Anything that is not a socket takes the ioctl path; a file that is not
 * the NSM answers ENOTTY. */
static void transact_ioctl_on_other_files(void **state)
{
    (void)state;
    static uint8_t resp[NSM_RESPONSE_MAX];
    size_t len = 77;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_int_equal(nsm_dev_transact(fd, (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     -ENOTTY);
    close(fd);
    char path[128];
    tl_path(path, sizeof(path), dir, "regular");
    tl_write_file(path, "", 0);
    fd = open(path, O_RDWR | O_CLOEXEC);
    assert_int_equal(nsm_dev_transact(fd, (const uint8_t *)"q", 1, resp, sizeof(resp), &len),
                     -ENOTTY);
    assert_int_equal(len, 77); /* untouched on failure */
    close(fd);
}

/* ---- serialisation: threads share one connection to an echoing module */

#define THREADS 4
#define ROUNDS 200

static void *echo(void *arg)
{
    int fd = *(int *)arg;
    static uint8_t buf[NSM_REQUEST_MAX];
    size_t len = 0;
    while (nsm_frame_read(fd, buf, sizeof(buf), &len) == 0)
        if (nsm_frame_write(fd, buf, len) < 0)
            break;
    return NULL;
}

struct client {
    int fd, id, mismatches, failures;
};

static void *client(void *arg)
{
    struct client *c = arg;
    uint8_t req[64], resp[NSM_RESPONSE_MAX];
    for (int r = 0; r < ROUNDS; r++) {
        /* lengths and contents differ per thread and round */
        size_t n = 1 + (size_t)(c->id * 13 + r) % sizeof(req);
        memset(req, c->id * 31 + r, n);
        size_t len = 0;
        if (nsm_dev_transact(c->fd, req, n, resp, sizeof(resp), &len) != 0)
            c->failures++;
        else if (len != n || memcmp(req, resp, n) != 0)
            c->mismatches++;
    }
    return NULL;
}

static void socket_exchanges_are_serialised(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* Interleaved frames would leave a client waiting for bytes that never
     * come: let it fail instead of hanging (never reached when serialised). */
    struct timeval tv = { .tv_sec = 20 };
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    pthread_t server, t[THREADS];
    assert_int_equal(pthread_create(&server, NULL, echo, &sv[1]), 0);
    struct client c[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (struct client){ .fd = sv[0], .id = i };
        assert_int_equal(pthread_create(&t[i], NULL, client, &c[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    shutdown(sv[0], SHUT_WR);
    pthread_join(server, NULL);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(c[i].failures, 0);
        assert_int_equal(c[i].mismatches, 0);
    }
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(device_path_from_the_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(open_connects_a_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(open_refuses_other_files, setup, teardown),
        cmocka_unit_test_setup_teardown(open_takes_a_character_device_read_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(open_socket_path_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(transact_checks_its_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(transact_over_the_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(transact_maps_transport_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(transact_ioctl_on_other_files, setup, teardown),
        cmocka_unit_test_setup_teardown(socket_exchanges_are_serialised, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
