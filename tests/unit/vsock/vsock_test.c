/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cloister's emulated vsock through the public API (<cloister/vsock.h>,
 * src/lib/vsock/vsock.c): the parent side, forged and malformed hellos,
 * and both directions between the parent and an enclave (a forked child)
 * whose broker a thread of this process runs. The wire formats are tested
 * in vsock_proto_test.c, the engine in vsock_core_test.c, the broker in
 * tests/unit/vsock_broker/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cloister/vsock.h>

#include "testlib/testlib.h"
#include "testlib/vsock_fixture.h"
#include "vsock_broker/vsock_broker.h"
#include "vsock/vsock_core.h"
#include "vsock/vsock_proto.h"

/* ---- the parent side --------------------------------------------------------- */

static void test_host_connect_accept_halfclose(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    assert_int_equal(vsock_transport(), VSOCK_TRANSPORT_HOST);
    int l = vsock_socket(&err);
    assert_true(l >= 0);
    assert_int_equal(vsock_bind_listen(l, VSOCK_CID_ANY, 5000, 8, &err), 0);
    uint32_t cid, port;
    assert_int_equal(vsock_getsockname(l, &cid, &port, &err), 0);
    assert_int_equal(cid, 3);
    assert_int_equal(port, 5000);

    int c = vsock_socket(&err);
    assert_int_equal(vsock_connect(c, VSOCK_CID_PARENT, 5000, &err), 0);
    uint32_t lc, lp, pc, pp;
    assert_int_equal(vsock_getsockname(c, &lc, &lp, &err), 0);
    assert_int_equal(vsock_getpeername(c, &pc, &pp, &err), 0);
    assert_int_equal(lc, 3);
    assert_true(lp >= 1024 && lp != VSOCK_PORT_ANY);
    assert_int_equal(pc, 3);
    assert_int_equal(pp, 5000);

    uint32_t ac, ap;
    int s = vsock_accept(l, &ac, &ap, &err);
    assert_true(s >= 0);
    assert_int_equal(ac, 3);
    assert_int_equal(ap, lp);   /* the true peer port */
    assert_int_equal(fcntl(s, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

    /* Half-close: the client says it is done; the server still answers. */
    assert_int_equal(write(c, "question", 8), 8);
    assert_int_equal(shutdown(c, SHUT_WR), 0);
    char buf[64];
    assert_int_equal(tl_read_all(s, buf, sizeof(buf)), 8);
    assert_string_equal(buf, "question");
    assert_int_equal(write(s, "answer", 6), 6);
    vsock_close(s);
    assert_int_equal(tl_read_all(c, buf, sizeof(buf)), 6);
    assert_string_equal(buf, "answer");
    vsock_close(c);

    /* Closing the listener removes its socket file. */
    char path[512];
    snprintf(path, sizeof(path), "%s/vsock/3/5000", tl_run_dir);
    assert_int_equal(access(path, F_OK), 0);
    vsock_close(l);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_host_errors(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    int c = vsock_socket(&err);
    assert_int_equal(vsock_connect(c, 3, 4444, &err), CL_EIO);
    assert_int_equal(errno, ECONNRESET);
    assert_string_equal(err.reason, "vsock connect to (3, 4444): nothing listens at that address: "
                                    "Connection reset by peer");
    cl_error_clear(&err);
    /* No such enclave. */
    assert_int_equal(vsock_connect(c, 99, 1, &err), CL_EIO);
    assert_int_equal(errno, ECONNRESET);
    cl_error_clear(&err);
    assert_int_equal(vsock_connect(c, VSOCK_CID_ANY, 1, &err), CL_EINVAL);
    assert_string_equal(err.reason, "vsock connect to (4294967295, 1): cannot connect to a "
                                    "wildcard address: Invalid argument");
    vsock_close(c);

    /* Port in use; port ANY picks a free port >= 1024. */
    int a = vsock_socket(&err), b = vsock_socket(&err), d = vsock_socket(&err);
    cl_error_clear(&err);
    assert_int_equal(vsock_bind_listen(a, 3, 6000, 1, &err), 0);
    assert_int_equal(vsock_bind_listen(b, 3, 6000, 1, &err), CL_EEXIST);
    assert_int_equal(errno, EADDRINUSE);
    assert_string_equal(err.reason, "vsock listen on (3, 6000): address already in use: "
                                    "Address already in use");
    cl_error_clear(&err);
    assert_int_equal(vsock_bind_listen(d, VSOCK_CID_ANY, VSOCK_PORT_ANY, 1, &err), 0);
    uint32_t cid, port;
    assert_int_equal(vsock_getsockname(d, &cid, &port, &err), 0);
    assert_true(port >= 1024 && port != VSOCK_PORT_ANY);
    /* Binding twice; a CID that is not ours. */
    assert_int_equal(vsock_bind_listen(b, 3, 6001, 1, &err), CL_EINVAL);
    assert_string_equal(err.reason, "vsock listen on (3, 6001): socket already bound: "
                                    "Invalid argument");
    cl_error_clear(&err);
    int e = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(e, 16, 6001, 1, &err), CL_EIO);
    assert_int_equal(errno, EADDRNOTAVAIL);
    assert_string_equal(err.reason, "vsock listen on (16, 6001): not a local CID: "
                                    "Cannot assign requested address");
    vsock_close(e);
    cl_error_clear(&err);

    /* Non-blocking accept with nothing pending. */
    fcntl(a, F_SETFL, O_NONBLOCK);
    assert_true(vsock_accept(a, NULL, NULL, &err) < 0);
    assert_int_equal(errno, EAGAIN);
    cl_error_clear(&err);
    /* getpeername of a listener. */
    assert_int_equal(vsock_getpeername(a, &cid, &port, &err), CL_EINVAL);
    assert_int_equal(errno, ENOTCONN);
    vsock_close(a);
    vsock_close(b);
    vsock_close(d);
}

static void test_full_listener_times_out(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    int l = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(l, 3, 6400, 1, &err), 0);
    /* Nobody accepts: the mailbox fills (net.unix.max_dgram_qlen), then a
     * blocking connect gives up after its connect timeout, a non-blocking
     * one at once. */
    int fds[4096];
    int n = 0, rc = 0;
    while (n < 4096) {
        int c = vsock_socket(&err);
        struct vcore_entry e;
        assert_int_equal(vcore_get(c, &e), 1);
        e.connect_timeout_us = 50000;
        assert_int_equal(vcore_set(c, &e), 0);
        fds[n++] = c;
        if ((rc = vsock_connect(c, 3, 6400, &err)) < 0)
            break;
    }
    assert_int_equal(rc, CL_EIO);
    assert_int_equal(errno, ETIMEDOUT);
    assert_string_equal(err.reason, "vsock connect to (3, 6400): the listener did not take the "
                                    "connection in time: Connection timed out");
    cl_error_clear(&err);
    int c = vsock_socket(&err);
    fcntl(c, F_SETFL, O_NONBLOCK);
    assert_int_equal(vsock_connect(c, 3, 6400, &err), CL_EIO);
    assert_int_equal(errno, EAGAIN);
    vsock_close(c);
    /* Accepting one makes room again. */
    int a = vsock_accept(l, NULL, NULL, &err);
    assert_true(a >= 0);
    vsock_close(a);
    c = vsock_socket(&err);
    cl_error_clear(&err);
    assert_int_equal(vsock_connect(c, 3, 6400, &err), 0);
    vsock_close(c);
    for (int i = 0; i < n; i++)
        vsock_close(fds[i]);
    vsock_close(l);
}

static void test_stale_listener_replaced(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    int a = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(a, 3, 6100, 1, &err), 0);
    /* A listener that died without removing its file (plain close()). */
    vcore_forget(a);
    close(a);
    char path[512];
    snprintf(path, sizeof(path), "%s/vsock/3/6100", tl_run_dir);
    assert_int_equal(access(path, F_OK), 0);
    int c = vsock_socket(&err);
    assert_int_equal(vsock_connect(c, 3, 6100, &err), CL_EIO);
    assert_int_equal(errno, ECONNRESET);
    vsock_close(c);
    cl_error_clear(&err);
    int b = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(b, 3, 6100, 1, &err), 0);
    vsock_close(b);
}

/* Posts a raw message with n fds to the parent mailbox at port. */
static int post(uint32_t port, const uint8_t *msg, size_t len, const int *fds, int nfds)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/vsock/3/%u", tl_run_dir, port);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } ctl;
    struct msghdr m = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov,
                        .msg_iovlen = 1 };
    if (nfds > 0) {
        m.msg_control = ctl.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t r = sendmsg(s, &m, 0);
    close(s);
    return r < 0 ? -1 : 0;
}

static void test_forged_and_malformed_hellos_dropped(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    int l = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(l, 3, 6200, 8, &err), 0);
    fcntl(l, F_SETFL, O_NONBLOCK);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    uint8_t m[VSOCK_MSG_LEN];

    /* Claims enclave CID 77, which has no directory (no monitor vouches). */
    struct vsock_hello h = { 77, 1111, 3, 6200 };
    vsock_hello_encode(&h, m);
    assert_int_equal(post(6200, m, sizeof(m), &sv[1], 1), 0);
    /* Claims enclave 78, whose directory another user owns. */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/vsock/78", tl_run_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chown(dir, 4242, 4242), 0);
    h.src_cid = 78;
    vsock_hello_encode(&h, m);
    assert_int_equal(post(6200, m, sizeof(m), &sv[1], 1), 0);
    /* Addressed to another port. */
    h = (struct vsock_hello){ 3, 1111, 3, 6201 };
    vsock_hello_encode(&h, m);
    assert_int_equal(post(6200, m, sizeof(m), &sv[1], 1), 0);
    /* Two fds; no fd; a pipe instead of a stream socket; short message. */
    h = (struct vsock_hello){ 3, 1111, 3, 6200 };
    vsock_hello_encode(&h, m);
    int two[2] = { sv[1], sv[1] };
    assert_int_equal(post(6200, m, sizeof(m), two, 2), 0);
    assert_int_equal(post(6200, m, sizeof(m), NULL, 0), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(post(6200, m, sizeof(m), &p[0], 1), 0);
    assert_int_equal(post(6200, m, 20, &sv[1], 1), 0);

    /* All of them are dropped. */
    assert_true(vsock_accept(l, NULL, NULL, &err) < 0);
    assert_int_equal(errno, EAGAIN);
    cl_error_clear(&err);

    /* A good one after them is accepted, with its claimed parent address. */
    assert_int_equal(post(6200, m, sizeof(m), &sv[1], 1), 0);
    uint32_t cid, port;
    int c = vsock_accept(l, &cid, &port, &err);
    assert_true(c >= 0);
    assert_int_equal(cid, 3);
    assert_int_equal(port, 1111);
    assert_int_equal(write(sv[0], "x", 1), 1);
    char b;
    assert_int_equal(read(c, &b, 1), 1);
    vsock_close(c);
    vsock_close(l);
    close(sv[0]);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
}

/* ---- the enclave side ---------------------------------------------------------- */

static void test_enclave_both_directions(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    struct vsock_broker *b = NULL;
    assert_int_equal(vsock_broker_new(NULL, 16, &b, &err), 0);
    char mbox[512];
    snprintf(mbox, sizeof(mbox), "%s/vsock/ctl/16", tl_run_dir);
    assert_string_equal(vsock_broker_host_dir(b), mbox);

    int l = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(l, VSOCK_CID_ANY, 6300, 8, &err), 0);
    int ready[2];
    assert_int_equal(pipe(ready), 0);

    pid_t pid = fork();
    if (pid == 0) {
        tl_become_enclave(b);
        struct cl_error e = { 0 };
        if (vsock_transport() != VSOCK_TRANSPORT_ENCLAVE)
            _exit(10);
        uint32_t cid;
        if (vsock_local_cid(&cid, &e) < 0 || cid != 16)
            _exit(11);
        /* enclave -> parent */
        int s = vsock_socket(&e);
        if (vsock_connect(s, 3, 6300, &e) < 0)
            _exit(12);
        uint32_t lc, lp, pc, pp;
        if (vsock_getsockname(s, &lc, &lp, &e) < 0 || vsock_getpeername(s, &pc, &pp, &e) < 0 ||
            lc != 16 || pc != 3 || pp != 6300)
            _exit(13);
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "port %u", lp);
        if (write(s, msg, (size_t)n) != n)
            _exit(14);
        shutdown(s, SHUT_WR);
        char buf[64];
        tl_read_all(s, buf, sizeof(buf));
        if (strcmp(buf, "ok") != 0)
            _exit(15);
        vsock_close(s);
        /* parent -> enclave */
        int el = vsock_socket(&e);
        if (vsock_bind_listen(el, VSOCK_CID_ANY, 7000, 4, &e) < 0)
            _exit(16);
        if (vsock_getsockname(el, &lc, &lp, &e) < 0 || lc != 16 || lp != 7000)
            _exit(17);
        /* A CID that is not ours. */
        int bad = vsock_socket(&e);
        if (vsock_bind_listen(bad, 17, 7001, 4, &e) == 0 || errno != EADDRNOTAVAIL)
            _exit(18);
        if (write(ready[1], "r", 1) != 1)
            _exit(19);
        int c = vsock_accept(el, &pc, &pp, &e);
        if (c < 0 || pc != 3)
            _exit(20);
        /* The parent's end cannot be bound to a (host) abstract name. */
        struct sockaddr_un ab = { .sun_family = AF_UNIX };
        memcpy(ab.sun_path + 1, "clv-squat", 9);
        if (bind(c, (struct sockaddr *)&ab, offsetof(struct sockaddr_un, sun_path) + 10) == 0 ||
            errno != EINVAL)
            _exit(23);
        tl_read_all(c, buf, sizeof(buf));
        if (strcmp(buf, "to the enclave") != 0)
            _exit(21);
        if (write(c, "back", 4) != 4)
            _exit(22);
        vsock_close(c);
        vsock_close(el);
        _exit(0);
    }
    struct tl_runner r = { .b = b };
    tl_runner_start(&r);

    uint32_t pc, pp;
    int s = vsock_accept(l, &pc, &pp, &err);
    assert_true(s >= 0);
    char buf[64], expect[64];
    tl_read_all(s, buf, sizeof(buf));
    assert_int_equal(pc, 16);                /* stamped by the broker */
    snprintf(expect, sizeof(expect), "port %u", pp);
    assert_string_equal(buf, expect);        /* the port the enclave sees as its own */
    assert_int_equal(write(s, "ok", 2), 2);
    vsock_close(s);

    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    int t = vsock_socket(&err);
    assert_int_equal(vsock_connect(t, 16, 7000, &err), 0);
    assert_int_equal(write(t, "to the enclave", 14), 14);
    shutdown(t, SHUT_WR);
    tl_read_all(t, buf, sizeof(buf));
    assert_string_equal(buf, "back");
    vsock_close(t);

    assert_int_equal(tl_child_status(pid), 0);
    tl_runner_stop(&r);
    struct vsock_broker_stats st;
    vsock_broker_get_stats(b, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.listens, 1);
    vsock_close(l);
    vsock_broker_free(b);
    /* Everything the broker made is gone. */
    assert_int_equal(access(mbox, F_OK), -1);
    snprintf(mbox, sizeof(mbox), "%s/vsock/16", tl_run_dir);
    assert_int_equal(access(mbox, F_OK), -1);
    close(ready[0]);
    close(ready[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_connect_accept_halfclose, tl_vsock_setup, tl_vsock_teardown),
        cmocka_unit_test_setup_teardown(test_host_errors, tl_vsock_setup, tl_vsock_teardown),
        cmocka_unit_test_setup_teardown(test_full_listener_times_out, tl_vsock_setup, tl_vsock_teardown),
        cmocka_unit_test_setup_teardown(test_stale_listener_replaced, tl_vsock_setup, tl_vsock_teardown),
        cmocka_unit_test_setup_teardown(test_forged_and_malformed_hellos_dropped, tl_vsock_setup, tl_vsock_teardown),
        cmocka_unit_test_setup_teardown(test_enclave_both_directions, tl_vsock_setup, tl_vsock_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
