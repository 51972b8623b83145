/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib/vsock_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testlib/testlib.h"
#include "vsock/vsock_core.h"

char tl_run_dir[64];

int tl_vsock_setup(void **state)
{
    (void)state;
    snprintf(tl_run_dir, sizeof(tl_run_dir), "/tmp/cloister-vsock-test-XXXXXX");
    if (!mkdtemp(tl_run_dir))
        return -1;
    setenv("CLOISTER_RUN_DIR", tl_run_dir, 1);
    setenv("CLOISTER_VSOCK_TRANSPORT", "emulated", 1);
    unsetenv("CLOISTER_VSOCK_BROKER");
    vcore_reset();
    return 0;
}

int tl_vsock_teardown(void **state)
{
    (void)state;
    tl_rmtree(tl_run_dir);
    unsetenv("CLOISTER_VSOCK_BROKER");
    vcore_reset();
    return 0;
}

void tl_become_enclave(const struct vsock_broker *b)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/broker", vsock_broker_host_dir(b));
    setenv("CLOISTER_VSOCK_BROKER", path, 1);
    vcore_reset();
}

static void *run_broker(void *arg)
{
    struct tl_runner *r = arg;
    r->rc = vsock_broker_run(r->b, r->stop[0], &r->err);
    return NULL;
}

void tl_runner_start(struct tl_runner *r)
{
    assert_int_equal(pipe2(r->stop, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(&r->thread, NULL, run_broker, r), 0);
}

void tl_runner_stop(struct tl_runner *r)
{
    close(r->stop[1]);
    pthread_join(r->thread, NULL);
    close(r->stop[0]);
    if (r->rc != 0)
        fail_msg("the broker stopped with %d: %s", r->rc, r->err.reason);
}

int tl_broker_connect(const struct vsock_broker *b)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/broker", vsock_broker_host_dir(b));
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return s;
}

struct vsock_response tl_broker_request(struct vsock_broker *b, const struct vsock_request *q,
                                        int fd)
{
    int s = tl_broker_connect(b);
    uint8_t m[VSOCK_MSG_LEN];
    vsock_request_encode(q, m);
    assert_int_equal(vcore_send_msg(s, m, sizeof(m), fd, 0), 0);
    struct cl_error err = { 0 };
    assert_int_equal(vsock_broker_dispatch(b, &err), 0);
    int got = -1;
    int n = vcore_recv_msg(s, m, sizeof(m), &got, MSG_DONTWAIT);
    close(s);
    if (n != VSOCK_MSG_LEN)
        fail_msg("no answer from the broker (%d)", n);
    assert_int_equal(got, -1); /* responses never carry an fd */
    struct vsock_response r;
    const char *why = NULL;
    if (vsock_response_decode(m, sizeof(m), &r, &why) < 0)
        fail_msg("malformed answer: %s", why);
    assert_int_equal(r.op, q->op);
    return r;
}
