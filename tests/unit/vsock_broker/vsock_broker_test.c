/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's vsock broker (src/lib/vsock_broker/vsock_broker.c): it
 * confines an enclave to its parent (every other destination refused with
 * its exact errno, counted), stamps the enclave's true CID (and the port it
 * asked for, or a random one) on what the parent accepts, binds only the
 * enclave's own unbound datagram sockets as listeners, routes the first
 * connection to (3, 9000) to the monitor as the heartbeat, bounds the
 * connections waiting for their request, and makes and removes its files.
 * Requests are sent raw by this thread and served by one dispatch, or come
 * from forked "enclaves".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* Sends one raw request to b's socket (fd attached unless -1), serves it,
 * returns the response's status. */
static uint32_t raw_request(struct vsock_broker *b, const struct vsock_request *q, int fd)
{
    return tl_broker_request(b, q, fd).status;
}

/* ---- confinement, lifecycle, heartbeat (with forked enclaves) ------------ */

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
        tl_become_enclave(a);
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
        tl_become_enclave(b);
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
    struct tl_runner rb = { .b = b };
    tl_runner_start(&rb);
    for (;;) {
        int st;
        pid_t w = waitpid(pb, &st, WNOHANG);
        assert_int_equal(vsock_broker_dispatch(a, &err), 0);
        if (w == pb) {
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
            break;
        }
        usleep(2000);
    }
    assert_int_equal(tl_child_status(pa), 0);
    tl_runner_stop(&rb);
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
    snprintf(path, sizeof(path), "%s/vsock/ctl", tl_run_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/vsock/ctl/20/broker", tl_run_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);
    snprintf(path, sizeof(path), "%s/vsock/3", tl_run_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 01777);

    /* A malformed request is dropped and counted. */
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vsock/ctl/20/broker", tl_run_dir);
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(send(s, "garbage", 7, 0), 7);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(vsock_broker_dispatch(a, &err), 0);
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
    snprintf(bsa.sun_path, sizeof(bsa.sun_path), "%s/bound", tl_run_dir);
    assert_int_equal(bind(bound, (struct sockaddr *)&bsa, sizeof(bsa)), 0);
    struct vsock_request lq = { VSOCK_OP_LISTEN, VSOCK_CID_ANY, 7100, 0 };
    assert_int_equal(raw_request(a, &lq, -1), EINVAL);
    assert_int_equal(raw_request(a, &lq, st_sock), EINVAL);
    assert_int_equal(raw_request(a, &lq, bound), EINVAL);
    lq.cid = 21;
    assert_int_equal(raw_request(a, &lq, dg), EADDRNOTAVAIL);
    lq.cid = 20;
    assert_int_equal(raw_request(a, &lq, dg), 0);
    snprintf(path, sizeof(path), "%s/vsock/20/7100", tl_run_dir);
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
        tl_become_enclave(b);
        struct cl_error e = { 0 };
        _exit(vsock_send_heartbeat(&e) == 0 ? 0 : 1);
    }
    assert_int_equal(vsock_broker_wait_heartbeat(b, 20000, &err), 0);
    assert_int_equal(tl_child_status(pid), 0);
    assert_true(vsock_accept(l, NULL, NULL, &err) < 0);
    assert_int_equal(errno, EAGAIN);
    cl_error_clear(&err);

    /* A wrong byte. The routing ends after one heartbeat, so use a new broker. */
    vsock_broker_free(b);
    assert_int_equal(vsock_broker_new(NULL, 16, &b, &err), 0);
    pid = fork();
    if (pid == 0) {
        tl_become_enclave(b);
        struct cl_error e = { 0 };
        int s = vsock_socket(&e);
        if (vsock_connect(s, 3, 9000, &e) < 0)
            _exit(1);
        if (write(s, "\x42", 1) != 1)
            _exit(2);
        char buf[4];
        _exit(tl_read_all(s, buf, sizeof(buf)) == 0 ? 0 : 3);   /* closed, no echo */
    }
    assert_int_equal(vsock_broker_wait_heartbeat(b, 20000, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "enclave 16 sent heartbeat byte 0x42, not 0xb7");
    assert_int_equal(tl_child_status(pid), 0);
    cl_error_clear(&err);

    /* Nobody: a timeout. */
    vsock_broker_free(b);
    assert_int_equal(vsock_broker_new(NULL, 16, &b, &err), 0);
    assert_int_equal(vsock_broker_wait_heartbeat(b, 50, &err), CL_ETIMEOUT);
    assert_string_equal(err.reason, "no heartbeat from enclave 16 within 50 ms");
    vsock_broker_free(b);
    vsock_close(l);
}

/* ---- requests served by this thread ---------------------------------------- */

/* A parent listener at (3, port), non-blocking. */
static int parent_listener(uint32_t port)
{
    struct cl_error err = { 0 };
    int l = vsock_socket(&err);
    assert_true(l >= 0);
    assert_int_equal(vsock_bind_listen(l, VSOCK_CID_PARENT, port, 8, &err), 0);
    assert_int_equal(fcntl(l, F_SETFL, O_NONBLOCK), 0);
    return l;
}

static struct vsock_broker *new_broker(uint32_t cid)
{
    struct vsock_broker *b = NULL;
    struct cl_error err = { 0 };
    if (vsock_broker_new(NULL, cid, &b, &err) != 0)
        fail_msg("broker %u: %s", cid, err.reason);
    return b;
}

static struct vsock_response connect_req(struct vsock_broker *b, uint32_t cid, uint32_t port,
                                         uint32_t src_port, int *keep)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct vsock_request q = { VSOCK_OP_CONNECT, cid, port, src_port };
    struct vsock_response r = tl_broker_request(b, &q, sv[1]);
    close(sv[1]);
    if (keep)
        *keep = sv[0];
    else
        close(sv[0]);
    return r;
}

static void connect_is_stamped_with_the_true_cid(void **state)
{
    (void)state;
    struct vsock_broker *b = new_broker(16);
    int l = parent_listener(5100);
    int mine = -1;
    struct vsock_response r = connect_req(b, VSOCK_CID_PARENT, 5100, 4321, &mine);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.cid, 16);
    assert_int_equal(r.port, 4321);
    struct cl_error err = { 0 };
    uint32_t cid = 0, port = 0;
    int s = vsock_accept(l, &cid, &port, &err);
    assert_true(s >= 0);
    assert_int_equal(cid, 16);
    assert_int_equal(port, 4321);
    /* the connection is the enclave's own socket pair, nothing in between */
    assert_int_equal(write(mine, "hi", 2), 2);
    char buf[4];
    assert_int_equal(read(s, buf, 2), 2);
    assert_memory_equal(buf, "hi", 2);
    vsock_close(s);
    close(mine);

    /* port ANY: the broker picks one and says which */
    r = connect_req(b, VSOCK_CID_PARENT, 5100, VSOCK_PORT_ANY, NULL);
    assert_int_equal(r.status, 0);
    assert_true(r.port >= 1024 && r.port != VSOCK_PORT_ANY);
    s = vsock_accept(l, &cid, &port, &err);
    assert_true(s >= 0);
    assert_int_equal(cid, 16);
    assert_int_equal(port, r.port);
    vsock_close(s);
    struct vsock_broker_stats st;
    vsock_broker_get_stats(b, &st);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.refused, 0);
    vsock_close(l);
    vsock_broker_free(b);
}

static void connect_refusals(void **state)
{
    (void)state;
    struct vsock_broker *b = new_broker(16);
    static const uint32_t not_parent[] = { 0, 1, 2, 4, 15, 16, 17, VSOCK_CID_ANY };
    uint64_t refused = 0;
    for (size_t i = 0; i < sizeof(not_parent) / sizeof(not_parent[0]); i++) {
        struct vsock_response r = connect_req(b, not_parent[i], 5000, VSOCK_PORT_ANY, NULL);
        assert_int_equal(r.status, EHOSTUNREACH);
        assert_int_equal(r.cid, 16);
        refused++;
    }
    assert_int_equal(connect_req(b, VSOCK_CID_PARENT, VSOCK_PORT_ANY, 1, NULL).status, EINVAL);
    assert_int_equal(connect_req(b, VSOCK_CID_PARENT, 5999, 1, NULL).status, ECONNRESET);
    refused += 2;
    /* the connection must be a connected stream socket */
    struct vsock_request q = { VSOCK_OP_CONNECT, VSOCK_CID_PARENT, 5999, 1 };
    assert_int_equal(tl_broker_request(b, &q, -1).status, EINVAL);
    int dg = socket(AF_UNIX, SOCK_DGRAM, 0), ls = socket(AF_UNIX, SOCK_STREAM, 0);
    sa_family_t autobind = AF_UNIX;
    assert_int_equal(bind(ls, (struct sockaddr *)&autobind, sizeof(autobind)), 0);
    assert_int_equal(listen(ls, 1), 0);
    assert_int_equal(tl_broker_request(b, &q, dg).status, EINVAL);
    assert_int_equal(tl_broker_request(b, &q, ls).status, EINVAL);
    refused += 3;
    close(dg);
    close(ls);

    /* a parent listener that does not accept: its queue fills, EAGAIN */
    int l = parent_listener(5200);
    uint32_t status = 0;
    for (int i = 0; i < 4096 && status == 0; i++) {
        status = connect_req(b, VSOCK_CID_PARENT, 5200, VSOCK_PORT_ANY, NULL).status;
        refused += status != 0;
    }
    assert_int_equal(status, EAGAIN);
    struct vsock_broker_stats st;
    vsock_broker_get_stats(b, &st);
    assert_int_equal(st.refused, refused);
    vsock_close(l);
    vsock_broker_free(b);
}

static void local_cid_request(void **state)
{
    (void)state;
    struct vsock_broker *b = new_broker(77);
    struct vsock_request q = { VSOCK_OP_LOCAL_CID, 0, 0, 0 };
    struct vsock_response r = tl_broker_request(b, &q, -1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.cid, 77);
    assert_int_equal(r.port, 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(tl_broker_request(b, &q, sv[0]).status, EINVAL);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(vsock_broker_cid(b), 77);
    vsock_broker_free(b);
}

/* LISTEN binds the enclave's own socket under run/vsock/<cid>/: the parent's
 * connections arrive on that very socket. */
static void listen_binds_the_enclaves_socket(void **state)
{
    (void)state;
    struct vsock_broker *b = new_broker(16);
    int dg = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct vsock_request q = { VSOCK_OP_LISTEN, VSOCK_CID_ANY, VSOCK_PORT_ANY, 0 };
    struct vsock_response r = tl_broker_request(b, &q, dg);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.cid, 16);
    assert_true(r.port >= 1024 && r.port != VSOCK_PORT_ANY);
    char path[256];
    snprintf(path, sizeof(path), "%s/vsock/16/%u", tl_run_dir, r.port);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);

    /* the same port again, while the first one lives */
    int dg2 = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    q.port = r.port;
    assert_int_equal(tl_broker_request(b, &q, dg2).status, EADDRINUSE);

    /* the parent connects; the hello lands on the socket this test made */
    struct cl_error err = { 0 };
    int c = vsock_socket(&err);
    assert_int_equal(vsock_connect(c, 16, r.port, &err), 0);
    struct vsock_hello h;
    int conn = -1;
    const char *why = NULL;
    assert_int_equal(vcore_recv_hello(dg, MSG_DONTWAIT, &h, &conn, NULL, NULL, &why), 0);
    assert_int_equal(h.src_cid, 3);
    assert_int_equal(h.dst_cid, 16);
    assert_int_equal(h.dst_port, r.port);
    close(conn);
    vsock_close(c);
    struct vsock_broker_stats bs;
    vsock_broker_get_stats(b, &bs);
    assert_int_equal(bs.listens, 1);
    close(dg);
    close(dg2);
    vsock_broker_free(b);
}

/* At most 64 connections wait for their request; more are closed. */
static void waiting_connections_are_bounded(void **state)
{
    (void)state;
    struct vsock_broker *b = new_broker(16);
    struct cl_error err = { 0 };
    int silent[64];
    for (int i = 0; i < 64; i++)
        silent[i] = tl_broker_connect(b);
    assert_int_equal(vsock_broker_dispatch(b, &err), 0);
    int extra = tl_broker_connect(b);
    assert_int_equal(vsock_broker_dispatch(b, &err), 0);
    char c;
    assert_int_equal(recv(extra, &c, 1, 0), 0); /* closed unanswered */
    close(extra);
    struct vsock_broker_stats st;
    vsock_broker_get_stats(b, &st);
    assert_int_equal(st.malformed, 1);

    /* a waiting connection that sends its request late is answered */
    uint8_t m[VSOCK_MSG_LEN];
    struct vsock_request q = { VSOCK_OP_LOCAL_CID, 0, 0, 0 };
    vsock_request_encode(&q, m);
    assert_int_equal(send(silent[0], m, sizeof(m), 0), (ssize_t)sizeof(m));
    assert_int_equal(vsock_broker_dispatch(b, &err), 0);
    assert_int_equal(recv(silent[0], m, sizeof(m), 0), (ssize_t)sizeof(m));
    struct vsock_response r;
    const char *why = NULL;
    assert_int_equal(vsock_response_decode(m, sizeof(m), &r, &why), 0);
    assert_int_equal(r.cid, 16);
    /* one that leaves without a word is dropped, not counted */
    close(silent[1]);
    assert_int_equal(vsock_broker_dispatch(b, &err), 0);
    vsock_broker_get_stats(b, &st);
    assert_int_equal(st.malformed, 1);
    /* two places are free again */
    assert_int_equal(tl_broker_request(b, &q, -1).cid, 16);
    for (int i = 0; i < 64; i++)
        if (i != 1)
            close(silent[i]);
    vsock_broker_free(b);
}

static void new_and_cleanup_refusals(void **state)
{
    (void)state;
    struct vsock_broker *b = (struct vsock_broker *)&b;
    struct cl_error err = { 0 };
    assert_int_equal(vsock_broker_new(NULL, VSOCK_CID_ANY, &b, &err), CL_EINVAL);
    assert_null(b);
    assert_string_equal(err.reason, "enclave CID 4294967295 out of range (4 to 4294967294)");
    cl_error_clear(&err);
    assert_int_equal(vsock_broker_cleanup(NULL, 0, &err), CL_EINVAL);
    assert_string_equal(err.reason, "enclave CID 0 out of range (4 to 4294967294)");
    cl_error_clear(&err);

    /* a run directory whose broker path cannot fit sun_path */
    char longdir[200], want[400];
    memset(longdir, 0, sizeof(longdir));
    snprintf(longdir, sizeof(longdir), "%s/", tl_run_dir);
    memset(longdir + strlen(longdir), 'r', 80);
    assert_int_equal(vsock_broker_new(longdir, 16, &b, &err), CL_ELIMIT);
    snprintf(want, sizeof(want), "broker socket path too long (%zu bytes, at most 107): "
             "%s/vsock/ctl/16/broker", strlen(longdir) + strlen("/vsock/ctl/16/broker"), longdir);
    assert_string_equal(err.reason, want);
    cl_error_clear(&err);

    /* a run directory that is a file */
    char file[128];
    tl_path(file, sizeof(file), tl_run_dir, "file");
    tl_write_file(file, "", 0);
    assert_int_equal(vsock_broker_new(file, 16, &b, &err), CL_EIO);
    snprintf(want, sizeof(want), "cannot create the run directory (%s): Not a directory", file);
    assert_string_equal(err.reason, want);

    /* nothing to clean: fine */
    assert_int_equal(vsock_broker_cleanup(NULL, 16, NULL), 0);
    vsock_broker_free(NULL);
}

/* An earlier enclave's leftovers under the same CID are removed. */
static void stale_leftovers_are_purged(void **state)
{
    (void)state;
    char dirs[2][256], junk[2][300], path[256];
    static const char *const made[] = { "vsock", "vsock/16", "vsock/ctl", "vsock/ctl/16" };
    for (int i = 0; i < 4; i++) {
        tl_path(path, sizeof(path), tl_run_dir, made[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    tl_path(dirs[0], sizeof(dirs[0]), tl_run_dir, "vsock/16");
    tl_path(dirs[1], sizeof(dirs[1]), tl_run_dir, "vsock/ctl/16");
    for (int i = 0; i < 2; i++) {
        tl_path(junk[i], sizeof(junk[i]), dirs[i], "7000");
        tl_write_file(junk[i], "old", 3);
    }
    struct vsock_broker *b = new_broker(16);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(access(junk[i], F_OK), -1);
        struct stat st;
        assert_int_equal(stat(dirs[i], &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
    }
    assert_string_equal(vsock_broker_host_dir(b), dirs[1]);
    assert_true(vsock_broker_fd(b) >= 0);
    vsock_broker_free(b);
    for (int i = 0; i < 2; i++)
        assert_int_equal(access(dirs[i], F_OK), -1);
}

static void heartbeat_goes_to_the_monitor_once(void **state)
{
    (void)state;
    struct vsock_broker *b = new_broker(16);
    struct cl_error err = { 0 };
    int hb = 99;
    assert_int_equal(vsock_broker_accept_heartbeat(b, &hb, &err), 0);
    assert_int_equal(hb, -1); /* nothing yet */
    int l = parent_listener(VSOCK_HEARTBEAT_PORT);
    int mine = -1;
    struct vsock_response r = connect_req(b, VSOCK_CID_PARENT, VSOCK_HEARTBEAT_PORT,
                                          VSOCK_PORT_ANY, &mine);
    assert_int_equal(r.status, 0);
    struct pollfd p = { .fd = vsock_broker_heartbeat_fd(b), .events = POLLIN };
    assert_int_equal(poll(&p, 1, 0), 1);
    assert_int_equal(vsock_broker_accept_heartbeat(b, &hb, &err), 0);
    assert_true(hb >= 0);
    uint8_t byte = VSOCK_HEARTBEAT_BYTE;
    assert_int_equal(write(mine, &byte, 1), 1);
    byte = 0;
    assert_int_equal(read(hb, &byte, 1), 1);
    assert_int_equal(byte, VSOCK_HEARTBEAT_BYTE);
    close(hb);
    close(mine);
    /* the parent's listener saw nothing of it */
    assert_true(vsock_accept(l, NULL, NULL, &err) < 0);
    assert_int_equal(errno, EAGAIN);
    cl_error_clear(&err);
    /* afterwards (3, 9000) is an ordinary parent port */
    r = connect_req(b, VSOCK_CID_PARENT, VSOCK_HEARTBEAT_PORT, 1234, NULL);
    assert_int_equal(r.status, 0);
    uint32_t cid = 0, port = 0;
    int s = vsock_accept(l, &cid, &port, &err);
    assert_true(s >= 0);
    assert_int_equal(cid, 16);
    assert_int_equal(port, 1234);
    vsock_close(s);
    vsock_close(l);
    vsock_broker_free(b);
}

/* vsock_broker_wait_heartbeat with an enclave that answers, closes, or
 * stays silent (each on a new broker: the routing ends after one). */
static void wait_heartbeat_outcomes(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    struct vsock_broker *b = new_broker(16);
    int mine = -1;
    assert_int_equal(connect_req(b, 3, VSOCK_HEARTBEAT_PORT, VSOCK_PORT_ANY, &mine).status, 0);
    uint8_t byte = VSOCK_HEARTBEAT_BYTE;
    assert_int_equal(write(mine, &byte, 1), 1);
    assert_int_equal(vsock_broker_wait_heartbeat(b, -1, &err), 0);
    byte = 0;
    assert_int_equal(read(mine, &byte, 1), 1);
    assert_int_equal(byte, VSOCK_HEARTBEAT_BYTE);
    close(mine);
    vsock_broker_free(b);

    b = new_broker(16);
    assert_int_equal(connect_req(b, 3, VSOCK_HEARTBEAT_PORT, VSOCK_PORT_ANY, &mine).status, 0);
    close(mine);
    assert_int_equal(vsock_broker_wait_heartbeat(b, -1, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "enclave 16 closed the heartbeat connection");
    cl_error_clear(&err);
    vsock_broker_free(b);

    b = new_broker(16);
    assert_int_equal(connect_req(b, 3, VSOCK_HEARTBEAT_PORT, VSOCK_PORT_ANY, &mine).status, 0);
    assert_int_equal(vsock_broker_wait_heartbeat(b, 50, &err), CL_ETIMEOUT);
    assert_string_equal(err.reason, "enclave 16 connected but sent no heartbeat within 50 ms");
    close(mine);
    vsock_broker_free(b);
}

static void run_returns_when_told_to_stop(void **state)
{
    (void)state;
    struct vsock_broker *b = new_broker(16);
    int stop[2];
    assert_int_equal(pipe(stop), 0);
    assert_int_equal(write(stop[1], "s", 1), 1);
    struct cl_error err = { 0 };
    assert_int_equal(vsock_broker_run(b, stop[0], &err), 0);
    close(stop[0]);
    close(stop[1]);
    vsock_broker_free(b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tl_vsock_setup, tl_vsock_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_enclave_confined),
        T(test_broker_lifecycle),
        T(test_heartbeat),
        T(connect_is_stamped_with_the_true_cid),
        T(connect_refusals),
        T(local_cid_request),
        T(listen_binds_the_enclaves_socket),
        T(waiting_connections_are_bounded),
        T(new_and_cleanup_refusals),
        T(stale_leftovers_are_purged),
        T(heartbeat_goes_to_the_monitor_once),
        T(wait_heartbeat_outcomes),
        T(run_returns_when_told_to_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
