/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated NSM transport over a socketpair: framing, a module served
 * by nsm_endpoint_serve(), oversize and truncated frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nsm_device/nsm_endpoint.h"
#include "nsm/nsm_frame.h"
#include "nsm_device/nsm_module.h"
#include "nsm/nsm_proto.h"

struct server {
    struct nsm_module *m;
    int fd;
    int rc;
    struct cl_error err;
    pthread_t thread;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    s->rc = nsm_endpoint_serve(s->m, s->fd, &s->err);
    return NULL;
}

static int start(struct server *s, int *client)
{
    int sv[2];
    memset(s, 0, sizeof(*s));
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    struct hostconf host;
    hostconf_defaults(&host);
    struct eif_measurements em = {0};
    struct nsm_enclave_config cfg = {.measurements = &em, .host = &host, .enclave_id = 1};
    struct attest_signer *signer = NULL;
    if (attest_signer_new_ephemeral(&signer, NULL) < 0)
        return -1;
    if (nsm_module_new_enclave(&cfg, signer, &s->m, NULL) < 0)
        return -1;
    s->fd = sv[1];
    *client = sv[0];
    return pthread_create(&s->thread, NULL, serve, s);
}

static void stop(struct server *s, int client)
{
    if (client >= 0)
        close(client);
    pthread_join(s->thread, NULL);
    close(s->fd);
    nsm_module_free(s->m);
}

static void test_frame_roundtrip(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static const uint8_t msg[] = {1, 2, 3, 4, 5};
    assert_int_equal(nsm_frame_write(sv[0], msg, sizeof(msg)), 0);
    /* on the wire: 4-byte big-endian length, then the bytes */
    uint8_t raw[9];
    assert_int_equal(read(sv[1], raw, sizeof(raw)), 9);
    static const uint8_t expect[] = {0, 0, 0, 5, 1, 2, 3, 4, 5};
    assert_memory_equal(raw, expect, 9);

    /* an empty frame, then a large one (written in two parts) */
    assert_int_equal(nsm_frame_write(sv[0], msg, 0), 0);
    uint8_t buf[64];
    size_t len = 99;
    assert_int_equal(nsm_frame_read(sv[1], buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 0);
    static uint8_t big[NSM_RESPONSE_MAX];
    memset(big, 0x33, sizeof(big));
    pid_t pid = fork();
    if (pid == 0) { /* a writer, so the socket buffer cannot block us */
        _exit(nsm_frame_write(sv[0], big, sizeof(big)) == 0 ? 0 : 1);
    }
    static uint8_t in[NSM_RESPONSE_MAX];
    assert_int_equal(nsm_frame_read(sv[1], in, sizeof(in), &len), 0);
    assert_int_equal(len, sizeof(big));
    assert_memory_equal(in, big, sizeof(big));

    /* a clean end, then nothing more */
    close(sv[0]);
    assert_int_equal(nsm_frame_read(sv[1], buf, sizeof(buf), &len), 1);
    close(sv[1]);
    int status;
    waitpid(pid, &status, 0);
}

static void test_frame_errors(void **state)
{
    (void)state;
    int sv[2];
    uint8_t buf[16];
    size_t len;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* announced length over the capacity: not read, CL_ELIMIT */
    static const uint8_t big_head[] = {0, 0, 0x10, 0x01};
    assert_int_equal(write(sv[0], big_head, 4), 4);
    assert_int_equal(nsm_frame_read(sv[1], buf, sizeof(buf), &len), CL_ELIMIT);
    assert_int_equal(len, 0x1001);
    /* the stream ends inside a frame */
    static const uint8_t part[] = {0, 0, 0, 8, 1, 2};
    assert_int_equal(write(sv[0], part, sizeof(part)), (ssize_t)sizeof(part));
    close(sv[0]);
    /* (the refused frame's payload was never sent, so the next read sees
     * the partial frame: 8 bytes announced, 2 there) */
    assert_int_equal(nsm_frame_read(sv[1], buf, sizeof(buf), &len), CL_EFORMAT);
    close(sv[1]);

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static const uint8_t half_head[] = {0, 0};
    assert_int_equal(write(sv[0], half_head, 2), 2);
    close(sv[0]);
    assert_int_equal(nsm_frame_read(sv[1], buf, sizeof(buf), &len), CL_EFORMAT);
    close(sv[1]);

    /* writing to a closed peer is an error, not a SIGPIPE */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    assert_int_equal(nsm_frame_write(sv[0], buf, 4), CL_EIO);
    assert_int_equal(errno, EPIPE);
    close(sv[0]);

    assert_int_equal(nsm_frame_connect("/nonexistent/nsm.sock"), CL_EIO);
    assert_int_equal(errno, ENOENT);
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(nsm_frame_connect(longpath), CL_EINVAL);
}

static void test_serve(void **state)
{
    (void)state;
    struct server s;
    int c;
    assert_int_equal(start(&s, &c), 0);
    uint8_t req[64], resp[NSM_RESPONSE_MAX];
    size_t n, rn;
    struct nsm_request q = {.op = NSM_OP_DESCRIBE_PCR, .index = 0};
    assert_int_equal(nsm_request_encode(&q, req, sizeof(req), &n), 0);
    for (int i = 0; i < 3; i++) { /* several requests on one connection */
        assert_int_equal(nsm_frame_transact(c, req, n, resp, sizeof(resp), &rn), 0);
        struct nsm_response r;
        assert_int_equal(nsm_response_decode(resp, rn, &r), NSM_E_SUCCESS);
        assert_int_equal(r.op, NSM_OP_DESCRIBE_PCR);
        assert_true(r.lock);
    }
    /* garbage gets the protocol's error and the connection goes on */
    static const uint8_t junk[] = {0xff, 0xff};
    assert_int_equal(nsm_frame_transact(c, junk, sizeof(junk), resp, sizeof(resp), &rn), 0);
    struct nsm_response r;
    assert_int_equal(nsm_response_decode(resp, rn, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_ERROR);
    assert_int_equal(r.error, NSM_E_INVALID_OPERATION);
    assert_int_equal(nsm_frame_transact(c, req, n, resp, sizeof(resp), &rn), 0);
    stop(&s, c);
    assert_int_equal(s.rc, 0); /* EOF between frames is a clean end */
}

static void test_serve_oversize(void **state)
{
    (void)state;
    struct server s;
    int c;
    assert_int_equal(start(&s, &c), 0);
    /* a frame of 0x1001 bytes: InputTooLarge, then the connection ends */
    static uint8_t big[NSM_REQUEST_MAX + 1];
    uint8_t resp[NSM_RESPONSE_MAX];
    size_t rn;
    /* a frame the server answers first (four zero bytes: InvalidOperation) */
    assert_int_equal(nsm_frame_write(c, big, 4), 0);
    assert_int_equal(nsm_frame_read(c, resp, sizeof(resp), &rn), 0);
    static const uint8_t head[] = {0, 0, 0x10, 0x01};
    assert_int_equal(write(c, head, 4), 4);
    assert_int_equal(nsm_frame_read(c, resp, sizeof(resp), &rn), 0);
    struct nsm_response r;
    assert_int_equal(nsm_response_decode(resp, rn, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_ERROR);
    assert_int_equal(r.error, NSM_E_INPUT_TOO_LARGE);
    /* the server stopped serving; its owner closes the connection */
    pthread_join(s.thread, NULL);
    assert_int_equal(s.rc, CL_ELIMIT);
    assert_string_equal(s.err.reason,
                        "NSM request of 4097 bytes, at most 4096 allowed; connection closed");
    close(s.fd);
    assert_int_equal(nsm_frame_read(c, resp, sizeof(resp), &rn), 1);
    close(c);
    nsm_module_free(s.m);
}

static void test_serve_truncated(void **state)
{
    (void)state;
    struct server s;
    int c;
    assert_int_equal(start(&s, &c), 0);
    static const uint8_t part[] = {0, 0, 0, 20, 0xa1};
    assert_int_equal(write(c, part, sizeof(part)), (ssize_t)sizeof(part));
    shutdown(c, SHUT_WR);
    pthread_join(s.thread, NULL);
    assert_int_equal(s.rc, CL_EFORMAT);
    assert_string_equal(s.err.reason, "NSM connection closed inside a frame");
    close(c);
    close(s.fd);
    nsm_module_free(s.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_roundtrip),
        cmocka_unit_test(test_frame_errors),
        cmocka_unit_test(test_serve),
        cmocka_unit_test(test_serve_oversize),
        cmocka_unit_test(test_serve_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
