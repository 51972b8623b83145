/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cloister's emulated vsock: wire formats, the parent side, the enclave side
 * through a broker (enclave processes are forked children that talk to a
 * broker run by a thread of this process), confinement, forged hellos, the
 * heartbeat.
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

#include "vsock_broker/vsock_broker.h"
#include "vsock/vsock_core.h"
#include "vsock/vsock_proto.h"

/* ---- fixtures ------------------------------------------------------------ */

static char run_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(run_dir, sizeof(run_dir), "/tmp/cloister-vsock-test-XXXXXX");
    if (!mkdtemp(run_dir))
        return -1;
    setenv("CLOISTER_RUN_DIR", run_dir, 1);
    unsetenv("CLOISTER_VSOCK_BROKER");
    unsetenv("CLOISTER_VSOCK_TRANSPORT");
    vcore_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", run_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Becomes "an enclave" whose broker socket is b's. */
static void become_enclave(const struct vsock_broker *b)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/broker", vsock_broker_host_dir(b));
    setenv("CLOISTER_VSOCK_BROKER", path, 1);
    vcore_reset();
}

struct runner {
    struct vsock_broker *b;
    int stop[2];
    pthread_t thread;
};

static void *run_broker(void *arg)
{
    struct runner *r = arg;
    struct cl_error err = { 0 };
    vsock_broker_run(r->b, r->stop[0], &err);
    return NULL;
}

static void runner_start(struct runner *r)
{
    assert_int_equal(pipe2(r->stop, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(&r->thread, NULL, run_broker, r), 0);
}

static void runner_stop(struct runner *r)
{
    close(r->stop[1]);
    pthread_join(r->thread, NULL);
    close(r->stop[0]);
}

static int child_status(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static ssize_t read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

/* ---- wire formats ---------------------------------------------------------- */

static void test_proto_roundtrip(void **state)
{
    (void)state;
    uint8_t m[VSOCK_MSG_LEN];
    const char *why = NULL;
    struct vsock_hello h = { 16, 1234, 3, 5000 }, h2;
    vsock_hello_encode(&h, m);
    assert_memory_equal(m, "CLVS\0\1\0\0\0\0\0\x10\0\0\x04\xd2\0\0\0\3\0\0\x13\x88", 24);
    assert_int_equal(vsock_hello_decode(m, sizeof(m), &h2, &why), 0);
    assert_memory_equal(&h, &h2, sizeof(h));

    struct vsock_request q = { VSOCK_OP_CONNECT, 3, 8000, VSOCK_PORT_ANY }, q2;
    vsock_request_encode(&q, m);
    assert_int_equal(vsock_request_decode(m, sizeof(m), &q2, &why), 0);
    assert_int_equal(q2.op, VSOCK_OP_CONNECT);
    assert_int_equal(q2.port, 8000);
    assert_int_equal(q2.src_port, VSOCK_PORT_ANY);

    struct vsock_response r = { VSOCK_OP_LISTEN, 0, 16, 7000 }, r2;
    vsock_response_encode(&r, m);
    assert_int_equal(vsock_response_decode(m, sizeof(m), &r2, &why), 0);
    assert_int_equal(r2.cid, 16);
    assert_int_equal(r2.port, 7000);
}

/* The call first, then its reason (argument order is unspecified in C). */
#define expect_reject(call, why, expected)                                                   \
    do {                                                                                     \
        why = NULL;                                                                          \
        assert_int_equal((call), -1);                                                        \
        assert_non_null(why);                                                                \
        assert_string_equal(why, (expected));                                                \
    } while (0)

static void test_proto_rejects(void **state)
{
    (void)state;
    uint8_t m[VSOCK_MSG_LEN + 1] = { 0 };
    const char *why = NULL;
    struct vsock_hello h;
    struct vsock_request q;
    struct vsock_response r;
    struct vsock_hello good = { 3, 1, 16, 2 };
    vsock_hello_encode(&good, m);
    expect_reject(vsock_hello_decode(m, 23, &h, &why), why, "message too short");
    expect_reject(vsock_hello_decode(m, 25, &h, &why), why, "message too long");
    expect_reject(vsock_hello_decode(m, 0, &h, &why), why, "message too short");
    m[0] = 'X';
    expect_reject(vsock_hello_decode(m, 24, &h, &why), why, "bad magic");
    m[0] = 'C';
    m[5] = 2;
    expect_reject(vsock_hello_decode(m, 24, &h, &why), why, "unsupported version");
    m[5] = 1;
    m[7] = 1;
    expect_reject(vsock_hello_decode(m, 24, &h, &why), why, "unknown flags");
    /* A hello is not a request and vice versa. */
    vsock_hello_encode(&good, m);
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "bad magic");

    struct vsock_request req = { VSOCK_OP_LISTEN, VSOCK_CID_ANY, 80, 0 };
    vsock_request_encode(&req, m);
    m[23] = 1;
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "nonzero reserved field");
    req.src_port = 5;
    vsock_request_encode(&req, m);
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "nonzero src_port in LISTEN");
    req = (struct vsock_request){ 9, 0, 0, 0 };
    vsock_request_encode(&req, m);
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "unknown operation");
    req = (struct vsock_request){ VSOCK_OP_LOCAL_CID, 3, 0, 0 };
    vsock_request_encode(&req, m);
    expect_reject(vsock_request_decode(m, 24, &q, &why), why, "arguments in LOCAL_CID");

    struct vsock_response resp = { VSOCK_OP_CONNECT, 4096, 16, 1 };
    vsock_response_encode(&resp, m);
    expect_reject(vsock_response_decode(m, 24, &r, &why), why, "status out of range");
    resp = (struct vsock_response){ 0, 0, 16, 1 };
    vsock_response_encode(&resp, m);
    expect_reject(vsock_response_decode(m, 24, &r, &why), why, "unknown operation");
}

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
    assert_int_equal(read_all(s, buf, sizeof(buf)), 8);
    assert_string_equal(buf, "question");
    assert_int_equal(write(s, "answer", 6), 6);
    vsock_close(s);
    assert_int_equal(read_all(c, buf, sizeof(buf)), 6);
    assert_string_equal(buf, "answer");
    vsock_close(c);

    /* Closing the listener removes its socket file. */
    char path[512];
    snprintf(path, sizeof(path), "%s/vsock/3/5000", run_dir);
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
    snprintf(path, sizeof(path), "%s/vsock/3/6100", run_dir);
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
    snprintf(path, sizeof(path), "%s/vsock/3/%u", run_dir, port);
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
    snprintf(dir, sizeof(dir), "%s/vsock/78", run_dir);
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
    snprintf(mbox, sizeof(mbox), "%s/vsock/ctl/16", run_dir);
    assert_string_equal(vsock_broker_host_dir(b), mbox);

    int l = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(l, VSOCK_CID_ANY, 6300, 8, &err), 0);
    int ready[2];
    assert_int_equal(pipe(ready), 0);

    pid_t pid = fork();
    if (pid == 0) {
        become_enclave(b);
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
        vsock_getsockname(s, &lc, &lp, &e);
        vsock_getpeername(s, &pc, &pp, &e);
        if (lc != 16 || pc != 3 || pp != 6300)
            _exit(13);
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "port %u", lp);
        if (write(s, msg, (size_t)n) != n)
            _exit(14);
        shutdown(s, SHUT_WR);
        char buf[64];
        read_all(s, buf, sizeof(buf));
        if (strcmp(buf, "ok") != 0)
            _exit(15);
        vsock_close(s);
        /* parent -> enclave */
        int el = vsock_socket(&e);
        if (vsock_bind_listen(el, VSOCK_CID_ANY, 7000, 4, &e) < 0)
            _exit(16);
        vsock_getsockname(el, &lc, &lp, &e);
        if (lc != 16 || lp != 7000)
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
        read_all(c, buf, sizeof(buf));
        if (strcmp(buf, "to the enclave") != 0)
            _exit(21);
        if (write(c, "back", 4) != 4)
            _exit(22);
        vsock_close(c);
        vsock_close(el);
        _exit(0);
    }
    struct runner r = { .b = b };
    runner_start(&r);

    uint32_t pc, pp;
    int s = vsock_accept(l, &pc, &pp, &err);
    assert_true(s >= 0);
    char buf[64], expect[64];
    read_all(s, buf, sizeof(buf));
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
    read_all(t, buf, sizeof(buf));
    assert_string_equal(buf, "back");
    vsock_close(t);

    assert_int_equal(child_status(pid), 0);
    runner_stop(&r);
    struct vsock_broker_stats st;
    vsock_broker_get_stats(b, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.listens, 1);
    vsock_close(l);
    vsock_broker_free(b);
    /* Everything the broker made is gone. */
    assert_int_equal(access(mbox, F_OK), -1);
    snprintf(mbox, sizeof(mbox), "%s/vsock/16", run_dir);
    assert_int_equal(access(mbox, F_OK), -1);
    close(ready[0]);
    close(ready[1]);
}

static void test_enclave_confined(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    struct vsock_broker *a = NULL, *b = NULL;
    assert_int_equal(vsock_broker_new(NULL, 16, &a, &err), 0);
    assert_int_equal(vsock_broker_new(NULL, 17, &b, &err), 0);
    int ready[2], done[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(done), 0);
    pid_t pa = fork();
    if (pa == 0) {
        /* enclave A listens on 7000 */
        become_enclave(a);
        struct cl_error e = { 0 };
        int l = vsock_socket(&e);
        if (vsock_bind_listen(l, VSOCK_CID_ANY, 7000, 4, &e) < 0)
            _exit(10);
        if (write(ready[1], "r", 1) != 1)
            _exit(11);
        char c;
        if (read(done[0], &c, 1) != 1)
            _exit(12);
        fcntl(l, F_SETFL, O_NONBLOCK);
        /* Nobody got through. */
        if (vsock_accept(l, NULL, NULL, &e) >= 0 || errno != EAGAIN)
            _exit(13);
        _exit(0);
    }
    pid_t pb = fork();
    if (pb == 0) {
        become_enclave(b);
        char c;
        if (read(ready[0], &c, 1) != 1)
            _exit(20);
        struct cl_error e = { 0 };
        int s = vsock_socket(&e);
        /* enclave B -> enclave A */
        if (vsock_connect(s, 16, 7000, &e) != CL_EPERM || errno != EHOSTUNREACH)
            _exit(21);
        if (strcmp(e.reason, "vsock connect to (16, 7000): an enclave may connect only to its "
                             "parent (CID 3): No route to host") != 0)
            _exit(22);
        /* nor itself, the hypervisor or the host CID */
        uint32_t bad[] = { 17, 0, 1, 2 };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            cl_error_clear(&e);
            if (vsock_connect(s, bad[i], 7000, &e) != CL_EPERM || errno != EHOSTUNREACH)
                _exit(23);
        }
        /* the parent with nothing listening: a reset, as on Linux vsock */
        cl_error_clear(&e);
        if (vsock_connect(s, 3, 4444, &e) != CL_EIO || errno != ECONNRESET)
            _exit(24);
        if (write(done[1], "d", 1) != 1)
            _exit(25);
        _exit(0);
    }
    /* One thread drives both brokers: A's in this loop, B's in a runner. */
    struct runner rb = { .b = b };
    runner_start(&rb);
    for (;;) {
        int st;
        pid_t w = waitpid(pb, &st, WNOHANG);
        vsock_broker_dispatch(a, &err);
        if (w == pb) {
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
            break;
        }
        usleep(2000);
    }
    assert_int_equal(child_status(pa), 0);
    runner_stop(&rb);
    struct vsock_broker_stats st;
    vsock_broker_get_stats(b, &st);
    assert_int_equal(st.refused, 6);
    assert_int_equal(st.connects, 0);
    vsock_broker_free(a);
    vsock_broker_free(b);
    close(ready[0]);
    close(ready[1]);
    close(done[0]);
    close(done[1]);
}

/* Sends one raw request to b's socket (fd attached unless -1), serves it,
 * returns the response's status. */
static uint32_t raw_request(struct vsock_broker *b, const struct vsock_request *q, int fd)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/broker", vsock_broker_host_dir(b));
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    uint8_t m[VSOCK_MSG_LEN];
    vsock_request_encode(q, m);
    assert_int_equal(vcore_send_msg(s, m, sizeof(m), fd, 0), 0);
    struct cl_error err = { 0 };
    int n = -EAGAIN, got = -1;
    for (int i = 0; i < 1000 && n == -EAGAIN; i++) {
        vsock_broker_dispatch(b, &err);
        n = vcore_recv_msg(s, m, sizeof(m), &got, MSG_DONTWAIT);
        if (n == -EAGAIN)
            usleep(1000);
    }
    close(s);
    assert_int_equal(n, VSOCK_MSG_LEN);
    assert_int_equal(got, -1);   /* responses never carry an fd */
    struct vsock_response r;
    const char *why;
    assert_int_equal(vsock_response_decode(m, sizeof(m), &r, &why), 0);
    assert_int_equal(r.op, q->op);
    return r.status;
}

static void test_broker_lifecycle(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    struct vsock_broker *a = NULL, *b = NULL;
    assert_int_equal(vsock_broker_new(NULL, 3, &a, &err), CL_EINVAL);
    assert_string_equal(err.reason, "enclave CID 3 out of range (4 to 4294967294)");
    cl_error_clear(&err);
    assert_int_equal(vsock_broker_new(NULL, 20, &a, &err), 0);
    assert_int_equal(vsock_broker_new(NULL, 20, &b, &err), CL_EEXIST);
    assert_string_equal(err.reason, "a vsock broker already serves CID 20");
    cl_error_clear(&err);
    assert_int_equal(vsock_broker_cleanup(NULL, 20, &err), CL_EEXIST);
    assert_string_equal(err.reason, "a vsock broker still serves CID 20");
    cl_error_clear(&err);
    /* The control directory is private to the monitor's user. */
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/vsock/ctl", run_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/vsock/ctl/20/broker", run_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);
    snprintf(path, sizeof(path), "%s/vsock/3", run_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 01777);

    /* A malformed request is dropped and counted. */
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vsock/ctl/20/broker", run_dir);
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(send(s, "garbage", 7, 0), 7);
    for (int i = 0; i < 100; i++) {
        vsock_broker_dispatch(a, &err);
        struct vsock_broker_stats bs;
        vsock_broker_get_stats(a, &bs);
        if (bs.malformed == 1)
            break;
        usleep(1000);
    }
    struct vsock_broker_stats bs;
    vsock_broker_get_stats(a, &bs);
    assert_int_equal(bs.malformed, 1);
    char buf[32];
    assert_int_equal(recv(s, buf, sizeof(buf), 0), 0);   /* closed without an answer */
    close(s);

    /* LISTEN must carry the enclave's own unbound datagram socket. */
    int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
    int st_sock = socket(AF_UNIX, SOCK_STREAM, 0);
    int bound = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un bsa = { .sun_family = AF_UNIX };
    snprintf(bsa.sun_path, sizeof(bsa.sun_path), "%s/bound", run_dir);
    assert_int_equal(bind(bound, (struct sockaddr *)&bsa, sizeof(bsa)), 0);
    struct vsock_request lq = { VSOCK_OP_LISTEN, VSOCK_CID_ANY, 7100, 0 };
    assert_int_equal(raw_request(a, &lq, -1), EINVAL);
    assert_int_equal(raw_request(a, &lq, st_sock), EINVAL);
    assert_int_equal(raw_request(a, &lq, bound), EINVAL);
    lq.cid = 21;
    assert_int_equal(raw_request(a, &lq, dg), EADDRNOTAVAIL);
    lq.cid = 20;
    assert_int_equal(raw_request(a, &lq, dg), 0);
    snprintf(path, sizeof(path), "%s/vsock/20/7100", run_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    /* CONNECT must carry a connected stream socket and name the parent. */
    struct vsock_request cq = { VSOCK_OP_CONNECT, 3, 7100, VSOCK_PORT_ANY };
    assert_int_equal(raw_request(a, &cq, -1), EINVAL);
    assert_int_equal(raw_request(a, &cq, dg), EINVAL);
    close(dg);
    close(st_sock);
    close(bound);

    /* A crashed monitor's leftovers: the socket file stays, nothing answers. */
    int lfd = vsock_broker_fd(a);
    (void)lfd;
    vsock_broker_free(a);
    assert_int_equal(vsock_broker_new(NULL, 20, &b, &err), 0);
    vsock_broker_free(b);
    assert_int_equal(vsock_broker_cleanup(NULL, 20, &err), 0);
}

static void test_heartbeat(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    struct vsock_broker *b = NULL;
    assert_int_equal(vsock_broker_new(NULL, 16, &b, &err), 0);
    /* A parent listener on 9000 must not get the enclave's heartbeat. */
    int l = vsock_socket(&err);
    assert_int_equal(vsock_bind_listen(l, 3, 9000, 4, &err), 0);
    fcntl(l, F_SETFL, O_NONBLOCK);

    pid_t pid = fork();
    if (pid == 0) {
        become_enclave(b);
        struct cl_error e = { 0 };
        _exit(vsock_send_heartbeat(&e) == 0 ? 0 : 1);
    }
    assert_int_equal(vsock_broker_wait_heartbeat(b, 20000, &err), 0);
    assert_int_equal(child_status(pid), 0);
    assert_true(vsock_accept(l, NULL, NULL, &err) < 0);
    assert_int_equal(errno, EAGAIN);
    cl_error_clear(&err);

    /* A wrong byte. The routing ends after one heartbeat, so use a new broker. */
    vsock_broker_free(b);
    assert_int_equal(vsock_broker_new(NULL, 16, &b, &err), 0);
    pid = fork();
    if (pid == 0) {
        become_enclave(b);
        struct cl_error e = { 0 };
        int s = vsock_socket(&e);
        if (vsock_connect(s, 3, 9000, &e) < 0)
            _exit(1);
        if (write(s, "\x42", 1) != 1)
            _exit(2);
        char buf[4];
        _exit(read_all(s, buf, sizeof(buf)) == 0 ? 0 : 3);   /* closed, no echo */
    }
    assert_int_equal(vsock_broker_wait_heartbeat(b, 20000, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "enclave 16 sent heartbeat byte 0x42, not 0xb7");
    assert_int_equal(child_status(pid), 0);
    cl_error_clear(&err);

    /* Nobody: a timeout. */
    vsock_broker_free(b);
    assert_int_equal(vsock_broker_new(NULL, 16, &b, &err), 0);
    assert_int_equal(vsock_broker_wait_heartbeat(b, 50, &err), CL_ETIMEOUT);
    assert_string_equal(err.reason, "no heartbeat from enclave 16 within 50 ms");
    vsock_broker_free(b);
    vsock_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_roundtrip),
        cmocka_unit_test(test_proto_rejects),
        cmocka_unit_test_setup_teardown(test_host_connect_accept_halfclose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_listener_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_listener_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_and_malformed_hellos_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enclave_both_directions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enclave_confined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
