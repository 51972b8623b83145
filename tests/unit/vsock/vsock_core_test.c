/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated vsock engine (src/lib/vsock/vsock_core.c), below the public
 * API: the per-process address table, transport detection and the run
 * directory, the host directories and their modes, mailboxes (bind, stale
 * replacement, EADDRINUSE, reserved ports, paths longer than sun_path),
 * hellos in and out with every refusal and its reason, one-fd messages,
 * the fd kind checks, and the socket operations' state errors (-errno and
 * reason), the flags they keep, whose claims an accept believes, and who
 * removes a listener's file. Emulation only, in a private run directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <unistd.h>

#include <cloister/vsock.h>

#include "testlib/testlib.h"
#include "testlib/vsock_fixture.h"
#include "vsock/vsock_core.h"
#include "vsock/vsock_proto.h"

#define T(f) cmocka_unit_test_setup_teardown(f, tl_vsock_setup, tl_vsock_teardown)

/* The call first, then its reason (argument order is unspecified in C). */
#define expect_fail(call, want_rc, want_why)                                                   \
    do {                                                                                       \
        why = NULL;                                                                            \
        assert_int_equal((call), (want_rc));                                                   \
        assert_non_null(why);                                                                  \
        assert_string_equal(why, (want_why));                                                  \
    } while (0)

/* run/vsock/3, made as a parent program makes it. */
static void parent_dir(char *out, size_t cap)
{
    const char *why = NULL;
    assert_int_equal(vcore_ensure_host_dirs(tl_run_dir, &why), 0);
    assert_int_equal(vcore_cid_dir(tl_run_dir, 3, out, cap), 0);
}

/* Is fd's peer gone (the other end closed)? Reads without blocking. */
static bool peer_closed(int fd)
{
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* ---- the address table and the environment -------------------------------- */

static void address_table(void **state)
{
    (void)state;
    struct vcore_entry e = { .kind = VCORE_KIND_VSOCK, .state = VCORE_BOUND, .lcid = 3,
                             .lport = 77, .has_path = true };
    struct vcore_entry got;
    assert_int_equal(vcore_set(-1, &e), -EBADF);
    assert_int_equal(vcore_set(4 * 1024 * 1024, &e), -ENOMEM);
    assert_int_equal(vcore_get(4 * 1024 * 1024, &got), 0);
    assert_int_equal(vcore_get(-5, &got), 0);
    assert_int_equal(vcore_get(5000, &got), 0);
    assert_int_equal(vcore_set(5000, &e), 0); /* a page of its own */
    memset(&got, 0, sizeof(got));
    assert_int_equal(vcore_get(5000, &got), 1);
    assert_int_equal(got.lport, 77);
    assert_true(got.has_path);
    vcore_forget(5000);
    assert_int_equal(vcore_get(5000, &got), 0);
    vcore_forget(5000);
    vcore_forget(-1);
}

static void transport_detection(void **state)
{
    (void)state;
    assert_int_equal(vcore_transport(), VCORE_HOST);
    /* a broker socket makes this process an enclave */
    struct vsock_broker *b = NULL;
    assert_int_equal(vsock_broker_new(NULL, 16, &b, NULL), 0);
    tl_become_enclave(b);
    assert_int_equal(vcore_transport(), VCORE_ENCLAVE);
    /* the answer is cached until vcore_reset() */
    unsetenv("CLOISTER_VSOCK_BROKER");
    assert_int_equal(vcore_transport(), VCORE_ENCLAVE);
    vcore_reset();
    assert_int_equal(vcore_transport(), VCORE_HOST);
    /* a broker path that is not a socket */
    char file[128];
    tl_path(file, sizeof(file), tl_run_dir, "not-a-socket");
    tl_write_file(file, "", 0);
    setenv("CLOISTER_VSOCK_BROKER", file, 1);
    vcore_reset();
    assert_int_equal(vcore_transport(), VCORE_HOST);
    /* forced real: only the answer is looked at, no socket is made */
    setenv("CLOISTER_VSOCK_TRANSPORT", "real", 1);
    vcore_reset();
    assert_int_equal(vcore_transport(), VCORE_REAL);
    setenv("CLOISTER_VSOCK_TRANSPORT", "emulated", 1);
    vcore_reset();
    vsock_broker_free(b);
}

static void run_dir_and_cid_dirs(void **state)
{
    (void)state;
    assert_string_equal(vcore_run_dir(), tl_run_dir);
    setenv("CLOISTER_RUN_DIR", "", 1);
    assert_string_equal(vcore_run_dir(), "/run/cloister");
    unsetenv("CLOISTER_RUN_DIR");
    assert_string_equal(vcore_run_dir(), "/run/cloister");
    setenv("CLOISTER_RUN_DIR", tl_run_dir, 1);
    char buf[32];
    assert_int_equal(vcore_cid_dir("/r", 4294967294u, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/r/vsock/4294967294");
    assert_int_equal(vcore_cid_dir("/r", 16, buf, 11), -ENAMETOOLONG);
    assert_int_equal(vcore_cid_dir("/r", 16, buf, 12), 0);
    assert_string_equal(buf, "/r/vsock/16");
    for (int i = 0; i < 10000; i++) {
        uint32_t p = vcore_random_port();
        assert_true(p >= 1024 && p <= 0xfffffffeu);
    }
}

static void host_dirs_and_their_modes(void **state)
{
    (void)state;
    mode_t old = umask(077);
    const char *why = NULL;
    char run[128], path[160];
    tl_path(run, sizeof(run), tl_run_dir, "run");
    assert_int_equal(vcore_ensure_host_dirs(run, &why), 0);
    assert_int_equal(vcore_ensure_host_dirs(run, &why), 0); /* again: fine */
    static const struct { const char *sub; mode_t mode; } want[] = {
        { "", 0755 }, { "/vsock", 0755 }, { "/vsock/3", 01777 },
    };
    for (int i = 0; i < 3; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s%s", run, want[i].sub);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, want[i].mode);
    }
    umask(old);
    /* a file where a directory belongs */
    char bad[128];
    tl_path(bad, sizeof(bad), tl_run_dir, "file");
    tl_write_file(bad, "", 0);
    expect_fail(vcore_ensure_host_dirs(bad, &why), -ENOTDIR, "cannot create the run directory");
    tl_path(bad, sizeof(bad), tl_run_dir, "r2");
    assert_int_equal(mkdir(bad, 0755), 0);
    snprintf(path, sizeof(path), "%s/vsock", bad);
    tl_write_file(path, "", 0);
    expect_fail(vcore_ensure_host_dirs(bad, &why), -ENOTDIR, "cannot create the vsock directory");
    tl_path(bad, sizeof(bad), tl_run_dir, "r3");
    assert_int_equal(mkdir(bad, 0755), 0);
    snprintf(path, sizeof(path), "%s/vsock", bad);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/vsock/3", bad);
    tl_write_file(path, "", 0);
    expect_fail(vcore_ensure_host_dirs(bad, &why), -ENOTDIR,
                "cannot create the parent's vsock directory");
}

/* ---- mailboxes ------------------------------------------------------------- */

static void mailbox_open_and_stale_files(void **state)
{
    (void)state;
    char dir[128], path[160], lock[160];
    parent_dir(dir, sizeof(dir));
    const char *why = NULL;
    uint32_t port = 6000;
    int fd = -1, fd2 = -1;
    uint64_t dev = 0, ino = 0;
    assert_int_equal(vcore_mailbox_open(dir, &port, &fd, &dev, &ino, &why), 0);
    assert_int_equal(port, 6000);
    snprintf(path, sizeof(path), "%s/6000", dir);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);
    assert_true((uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino);
    snprintf(lock, sizeof(lock), "%s/.lock", dir);
    assert_int_equal(access(lock, F_OK), 0);
    int v = 0;
    socklen_t l = sizeof(v);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, &l), 0);
    assert_int_equal(v, 1);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    /* taken while it lives */
    expect_fail(vcore_mailbox_open(dir, &port, &fd2, &dev, &ino, &why), -EADDRINUSE,
                "address already in use");
    assert_int_equal(fd2, -1);
    /* its owner died without removing the file: replaced */
    close(fd);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(vcore_mailbox_open(dir, &port, &fd2, &dev, &ino, &why), 0);
    assert_int_equal(lstat(path, &st), 0);
    assert_true((uint64_t)st.st_ino == ino);
    close(fd2);
    /* port ANY */
    port = VSOCK_PORT_ANY;
    assert_int_equal(vcore_mailbox_open(dir, &port, &fd, &dev, &ino, &why), 0);
    assert_true(port >= 1024 && port != VSOCK_PORT_ANY);
    close(fd);
    /* no such directory */
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/vsock/99", tl_run_dir);
    port = 1;
    expect_fail(vcore_mailbox_open(missing, &port, &fd, &dev, &ino, &why), -ENOENT,
                "cannot open the vsock directory's lock");
    /* a socket that is already bound */
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    sa_family_t autobind = AF_UNIX;
    assert_int_equal(bind(s, (struct sockaddr *)&autobind, sizeof(autobind)), 0);
    port = 6001;
    expect_fail(vcore_mailbox_bind(dir, s, &port, &dev, &ino, &why), -EINVAL,
                "socket already bound");
    close(s);
}

/* Ports up to 1023 need root, as Linux vsock needs CAP_NET_BIND_SERVICE. */
static void reserved_ports_need_root(void **state)
{
    (void)state;
    char dir[128];
    parent_dir(dir, sizeof(dir));
    const char *why = NULL;
    uint32_t port = 80;
    int fd = -1;
    uint64_t dev, ino;
    if (geteuid() != 0)
        skip(); /* the test needs to be root, then nobody */
    assert_int_equal(chmod(tl_run_dir, 0755), 0); /* let "nobody" reach run/vsock/3 */
    assert_int_equal(vcore_mailbox_open(dir, &port, &fd, &dev, &ino, &why), 0);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            _exit(10);
        port = 81;
        int rc = vcore_mailbox_open(dir, &port, &fd, &dev, &ino, &why);
        _exit(rc == -EACCES && strcmp(why, "ports below 1024 are reserved for root") == 0 ? 0
                                                                                          : 11);
    }
    assert_int_equal(tl_child_status(pid), 0);
}

/* A directory path longer than sun_path goes through /proc/self/fd. */
static void mailbox_in_a_long_directory(void **state)
{
    (void)state;
    char dir[300];
    int n = snprintf(dir, sizeof(dir), "%s/", tl_run_dir);
    memset(dir + n, 'L', 120);
    dir[n + 120] = '\0';
    assert_int_equal(mkdir(dir, 0755), 0);
    const char *why = NULL;
    uint32_t port = 7000;
    int mbox = -1;
    uint64_t dev, ino;
    assert_int_equal(vcore_mailbox_open(dir, &port, &mbox, &dev, &ino, &why), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct vsock_hello h = { 3, 5, 3, 7000 }, got;
    assert_int_equal(vcore_send_hello(dir, 7000, &h, sv[1], MSG_DONTWAIT, 0, &why), 0);
    int conn = -1;
    assert_int_equal(vcore_recv_hello(mbox, MSG_DONTWAIT, &got, &conn, NULL, NULL, &why), 0);
    assert_int_equal(got.dst_port, 7000);
    close(conn);
    close(sv[0]);
    close(sv[1]);
    close(mbox);
}

/* ---- hellos ---------------------------------------------------------------- */

static void hello_round_trip(void **state)
{
    (void)state;
    char dir[128];
    parent_dir(dir, sizeof(dir));
    const char *why = NULL;
    uint32_t port = 6100;
    int mbox = -1;
    uint64_t dev, ino;
    assert_int_equal(vcore_mailbox_open(dir, &port, &mbox, &dev, &ino, &why), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct vsock_hello h = { 3, 4444, 3, 6100 }, got;
    assert_int_equal(vcore_send_hello(dir, 6100, &h, sv[1], MSG_DONTWAIT, 0, &why), 0);
    close(sv[1]);
    int conn = -1;
    uid_t uid = 1;
    pid_t pid = 0;
    assert_int_equal(vcore_recv_hello(mbox, MSG_DONTWAIT, &got, &conn, &uid, &pid, &why), 0);
    assert_int_equal(got.src_cid, 3);
    assert_int_equal(got.src_port, 4444);
    assert_int_equal(got.dst_port, 6100);
    assert_int_equal(uid, getuid()); /* checked by the kernel */
    assert_int_equal(pid, getpid());
    assert_int_equal(fcntl(conn, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(write(sv[0], "x", 1), 1);
    char c;
    assert_int_equal(read(conn, &c, 1), 1);
    close(conn);
    close(sv[0]);
    expect_fail(vcore_recv_hello(mbox, MSG_DONTWAIT, &got, &conn, NULL, NULL, &why), -EAGAIN,
                "no pending connection");
    assert_int_equal(conn, -1);
    close(mbox);
}

static void send_hello_refusals(void **state)
{
    (void)state;
    char dir[128], missing[128];
    parent_dir(dir, sizeof(dir));
    const char *why = NULL;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct vsock_hello h = { 3, 1, 3, 6200 };
    expect_fail(vcore_send_hello(dir, 6200, &h, sv[1], MSG_DONTWAIT, 0, &why), -ECONNRESET,
                "nothing listens at that address");
    snprintf(missing, sizeof(missing), "%s/vsock/55", tl_run_dir);
    expect_fail(vcore_send_hello(missing, 6200, &h, sv[1], 0, 0, &why), -ECONNRESET,
                "nothing listens at that address");
    /* a listener that does not accept: full, then EAGAIN or ETIMEDOUT */
    uint32_t port = 6200;
    int mbox = -1;
    uint64_t dev, ino;
    assert_int_equal(vcore_mailbox_open(dir, &port, &mbox, &dev, &ino, &why), 0);
    int rc = 0;
    for (int i = 0; i < 4096 && rc == 0; i++)
        rc = vcore_send_hello(dir, 6200, &h, sv[1], MSG_DONTWAIT, 0, &why);
    assert_int_equal(rc, -EAGAIN);
    assert_string_equal(why, "the listener's queue is full");
    expect_fail(vcore_send_hello(dir, 6200, &h, sv[1], 0, 1000, &why), -ETIMEDOUT,
                "the listener did not take the connection in time");
    close(mbox);
    close(sv[0]);
    close(sv[1]);
}

/* A connector believes a reserved port's socket file only if root owns it
 * (the parent's directory is world-writable). */
static void reserved_port_listener_must_be_roots(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* binding port 99 and chown need root */
    char dir[128];
    parent_dir(dir, sizeof(dir));
    const char *why = NULL;
    int sv[2], mbox = -1;
    uint64_t dev, ino;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct vsock_hello h = { 3, 1, 3, 99 };
    uint32_t port = 99;
    assert_int_equal(vcore_mailbox_open(dir, &port, &mbox, &dev, &ino, &why), 0);
    assert_int_equal(vcore_send_hello(dir, 99, &h, sv[1], MSG_DONTWAIT, 0, &why), 0);
    char path[160];
    snprintf(path, sizeof(path), "%s/99", dir);
    assert_int_equal(lchown(path, 4242, 4242), 0);
    expect_fail(vcore_send_hello(dir, 99, &h, sv[1], MSG_DONTWAIT, 0, &why), -ECONNRESET,
                "the listener of a reserved port (below 1024) is not root's");
    close(mbox);
    close(sv[0]);
    close(sv[1]);
}

/* Posts a raw datagram (n fds) to mbox's address. */
static void post(const char *dir, uint32_t port, const void *msg, size_t len, const int *fds,
                 int nfds)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%u", dir, port);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
    union {
        char buf[CMSG_SPACE(sizeof(int) * 2)];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
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
    assert_true(sendmsg(s, &m, 0) >= 0);
    close(s);
}

/* What recv_hello refuses; every fd that came with a refused message is
 * closed (the sender's peer then sees EOF). */
static void recv_hello_refusals(void **state)
{
    (void)state;
    char dir[128];
    parent_dir(dir, sizeof(dir));
    const char *why = NULL;
    uint32_t port = 6300;
    int mbox = -1, conn = 7;
    uint64_t dev, ino;
    assert_int_equal(vcore_mailbox_open(dir, &port, &mbox, &dev, &ino, &why), 0);
    uint8_t m[40] = { 0 };
    struct vsock_hello h = { 3, 1, 3, 6300 }, got;
    vsock_hello_encode(&h, m);
    static const struct { size_t len; int nfds; const char *why; } c[] = {
        { 24, 0, "hello without a stream socket" },
        { 24, 2, "malformed message (truncated or several fds)" },
        { 30, 1, "malformed message (truncated or several fds)" },
        { 25, 1, "message too long" },
        { 23, 1, "message too short" },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        int fds[2] = { sv[1], sv[1] };
        post(dir, 6300, m, c[i].len, fds, c[i].nfds);
        close(sv[1]);
        expect_fail(vcore_recv_hello(mbox, MSG_DONTWAIT, &got, &conn, NULL, NULL, &why), -EPROTO,
                    c[i].why);
        assert_int_equal(conn, -1);
        assert_true(peer_closed(sv[0]));
        close(sv[0]);
    }
    /* bad magic; a pipe; a listening stream socket */
    m[0] = 'X';
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    post(dir, 6300, m, 24, &sv[1], 1);
    expect_fail(vcore_recv_hello(mbox, MSG_DONTWAIT, &got, &conn, NULL, NULL, &why), -EPROTO,
                "bad magic");
    m[0] = 'C';
    int p[2];
    assert_int_equal(pipe(p), 0);
    post(dir, 6300, m, 24, &p[0], 1);
    expect_fail(vcore_recv_hello(mbox, MSG_DONTWAIT, &got, &conn, NULL, NULL, &why), -EPROTO,
                "hello without a stream socket");
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    sa_family_t autobind = AF_UNIX;
    assert_int_equal(bind(ls, (struct sockaddr *)&autobind, sizeof(autobind)), 0);
    assert_int_equal(listen(ls, 1), 0);
    post(dir, 6300, m, 24, &ls, 1);
    expect_fail(vcore_recv_hello(mbox, MSG_DONTWAIT, &got, &conn, NULL, NULL, &why), -EPROTO,
                "hello without a stream socket");
    close(ls);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    close(mbox);
}

/* ---- one-fd messages and fd kinds ----------------------------------------- */

static void one_fd_messages(void **state)
{
    (void)state;
    int s[2], sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    uint8_t buf[8];
    int fd = 7;
    assert_int_equal(vcore_send_msg(s[0], (const uint8_t *)"abc", 3, -1, 0), 0);
    assert_int_equal(vcore_recv_msg(s[1], buf, sizeof(buf), &fd, 0), 3);
    assert_int_equal(fd, -1);
    assert_int_equal(vcore_send_msg(s[0], (const uint8_t *)"abc", 3, sv[1], 0), 0);
    assert_int_equal(vcore_recv_msg(s[1], buf, sizeof(buf), &fd, 0), 3);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
    /* a message longer than the buffer is refused */
    assert_int_equal(vcore_send_msg(s[0], (const uint8_t *)"abcdefghij", 10, sv[1], 0), 0);
    assert_int_equal(vcore_recv_msg(s[1], buf, sizeof(buf), &fd, 0), -EPROTO);
    assert_int_equal(fd, -1);
    assert_int_equal(vcore_recv_msg(s[1], buf, sizeof(buf), &fd, MSG_DONTWAIT), -EAGAIN);
    /* a vanished peer: EPIPE, no SIGPIPE */
    close(s[1]);
    assert_int_equal(vcore_send_msg(s[0], (const uint8_t *)"abc", 3, -1, 0), -EPIPE);
    close(s[0]);
    close(sv[0]);
    close(sv[1]);
}

static void fd_kind_checks(void **state)
{
    (void)state;
    int sv[2], dg = socket(AF_UNIX, SOCK_DGRAM, 0), ls = socket(AF_UNIX, SOCK_STREAM, 0);
    int tcp = socket(AF_INET, SOCK_STREAM, 0), p[2], bound = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(p), 0);
    sa_family_t autobind = AF_UNIX;
    assert_int_equal(bind(ls, (struct sockaddr *)&autobind, sizeof(autobind)), 0);
    assert_int_equal(listen(ls, 1), 0);
    assert_int_equal(bind(bound, (struct sockaddr *)&autobind, sizeof(autobind)), 0);
    assert_int_equal(vcore_check_stream(sv[0]), 0);
    assert_int_equal(vcore_check_stream(ls), -EPROTO);
    assert_int_equal(vcore_check_stream(dg), -EPROTO);
    assert_int_equal(vcore_check_stream(tcp), -EPROTO);
    assert_int_equal(vcore_check_stream(p[0]), -EPROTO);
    assert_int_equal(vcore_check_stream(-1), -EPROTO);
    assert_int_equal(vcore_check_unbound_dgram(dg), 0);
    assert_int_equal(vcore_check_unbound_dgram(bound), -EPROTO);
    assert_int_equal(vcore_check_unbound_dgram(sv[0]), -EPROTO);
    assert_int_equal(vcore_check_unbound_dgram(p[0]), -EPROTO);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(vcore_check_unbound_dgram(udp), -EPROTO);
    close(udp);
    close(sv[0]);
    close(sv[1]);
    close(dg);
    close(ls);
    close(tcp);
    close(p[0]);
    close(p[1]);
    close(bound);
}

/* ---- socket operations --------------------------------------------------------- */

static void bind_and_listen_states(void **state)
{
    (void)state;
    const char *why = NULL;
    int plain = socket(AF_UNIX, SOCK_STREAM, 0);
    expect_fail(vcore_bind(plain, VSOCK_CID_ANY, 1, &why), -ENOTSOCK, "not a vsock socket");
    expect_fail(vcore_listen(plain, &why), -ENOTSOCK, "not a vsock socket");
    expect_fail(vcore_connect(plain, 3, 1, &why), -ENOTSOCK, "not a vsock socket");
    expect_fail(vcore_accept(plain, 0, NULL, NULL, &why), -ENOTSOCK, "not a vsock socket");
    close(plain);

    int s = vcore_socket(SOCK_NONBLOCK | SOCK_CLOEXEC, &why);
    assert_true(s >= 0);
    expect_fail(vcore_bind(s, 16, 6400, &why), -EADDRNOTAVAIL, "not a local CID");
    assert_int_equal(vcore_bind(s, 0, 6400, &why), 0); /* the console's CID, on the parent */
    expect_fail(vcore_bind(s, 3, 6400, &why), -EINVAL, "socket already bound");
    expect_fail(vcore_accept(s, 0, NULL, NULL, &why), -EINVAL, "socket is not listening");
    assert_int_equal(vcore_listen(s, &why), 0);
    assert_int_equal(vcore_listen(s, &why), 0); /* again: only the backlog would change */
    /* the fd keeps its number and its flags; the mailbox is at run/vsock/0 */
    assert_int_equal(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    assert_int_equal(fcntl(s, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    char path[160];
    snprintf(path, sizeof(path), "%s/vsock/0/6400", tl_run_dir);
    assert_int_equal(access(path, F_OK), 0);
    struct vcore_entry e;
    assert_int_equal(vcore_get(s, &e), 1);
    assert_int_equal(e.state, VCORE_LISTENING);
    assert_int_equal(e.lcid, 0);
    assert_int_equal(e.lport, 6400);
    expect_fail(vcore_connect(s, 3, 1, &why), -EINVAL, "socket is listening");
    uint32_t cid = 0;
    assert_int_equal(vcore_local_cid(&cid, &why), 0);
    assert_int_equal(cid, 3);
    assert_int_equal(vcore_close(s), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(vcore_get(s, &e), 0);
}

static void connect_and_accept(void **state)
{
    (void)state;
    const char *why = NULL;
    int l = vcore_socket(0, &why);
    assert_int_equal(vcore_bind(l, VSOCK_CID_ANY, 6500, &why), 0);
    assert_int_equal(vcore_listen(l, &why), 0);
    assert_int_equal(fcntl(l, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(fcntl(l, F_GETFD) & FD_CLOEXEC, 0);

    int c = vcore_socket(SOCK_CLOEXEC, &why);
    expect_fail(vcore_connect(c, VSOCK_CID_ANY, 6500, &why), -EINVAL,
                "cannot connect to a wildcard address");
    expect_fail(vcore_connect(c, 3, VSOCK_PORT_ANY, &why), -EINVAL,
                "cannot connect to a wildcard address");
    expect_fail(vcore_connect(c, 3, 6501, &why), -ECONNRESET, "nothing listens at that address");
    /* a bound port is the connection's source port */
    assert_int_equal(vcore_bind(c, VSOCK_CID_ANY, 4444, &why), 0);
    int fdnum = c;
    assert_int_equal(vcore_connect(c, 3, 6500, &why), 0);
    assert_int_equal(c, fdnum);
    assert_int_equal(fcntl(c, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    expect_fail(vcore_connect(c, 3, 6500, &why), -EISCONN, "socket is already connected");
    expect_fail(vcore_listen(c, &why), -EINVAL, "socket is connected");
    struct vcore_entry e;
    assert_int_equal(vcore_get(c, &e), 1);
    assert_int_equal(e.lcid, 3);
    assert_int_equal(e.lport, 4444);
    assert_int_equal(e.pcid, 3);
    assert_int_equal(e.pport, 6500);

    uint32_t pc = 0, pp = 0;
    int a = vcore_accept(l, SOCK_NONBLOCK, &pc, &pp, &why);
    assert_true(a >= 0);
    assert_int_equal(pc, 3);
    assert_int_equal(pp, 4444);
    assert_int_equal(fcntl(a, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    assert_int_equal(fcntl(a, F_GETFD) & FD_CLOEXEC, 0);
    assert_int_equal(vcore_get(a, &e), 1);
    assert_int_equal(e.state, VCORE_CONNECTED);
    assert_int_equal(e.lport, 6500);
    assert_int_equal(e.pport, 4444);
    assert_int_equal(write(c, "ping", 4), 4);
    char buf[8];
    assert_int_equal(read(a, buf, 4), 4);
    assert_memory_equal(buf, "ping", 4);
    vcore_close(a);
    vcore_close(c);

    /* SOCK_CLOEXEC on accept */
    c = vcore_socket(0, &why);
    assert_int_equal(vcore_connect(c, 3, 6500, &why), 0);
    a = vcore_accept(l, SOCK_CLOEXEC, NULL, NULL, &why);
    assert_int_equal(fcntl(a, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(fcntl(a, F_GETFL) & O_NONBLOCK, 0);
    vcore_close(a);
    vcore_close(c);
    vcore_close(l);
}

/* Which claimed sources an accept believes (docs/vsock.md §5). */
static void accept_believes_only_vouched_claims(void **state)
{
    (void)state;
    const char *why = NULL;
    int l = vcore_socket(SOCK_NONBLOCK, &why);
    assert_int_equal(vcore_bind(l, 3, 6600, &why), 0);
    assert_int_equal(vcore_listen(l, &why), 0);
    char dir[128], cid_dir[160];
    parent_dir(dir, sizeof(dir));
    snprintf(cid_dir, sizeof(cid_dir), "%s/vsock/20", tl_run_dir);
    assert_int_equal(mkdir(cid_dir, 0755), 0); /* ours: we vouch for enclave 20 */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static const struct vsock_hello dropped[] = {
        { 2, 1, 3, 6600 },                      /* the host CID */
        { 0, 1, 3, 6600 },                      /* the hypervisor */
        { VSOCK_CID_ANY, 1, 3, 6600 },          /* a wildcard */
        { 21, 1, 3, 6600 },                     /* nobody vouches */
        { 3, VSOCK_PORT_ANY, 3, 6600 },         /* no source port */
        { 3, 1, 0, 6600 },                      /* another CID */
        { 3, 1, 3, 6601 },                      /* another port */
    };
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        assert_int_equal(vcore_send_hello(dir, 6600, &dropped[i], sv[1], MSG_DONTWAIT, 0, &why),
                         0);
    struct vsock_hello good = { 20, 9, 3, 6600 };
    assert_int_equal(vcore_send_hello(dir, 6600, &good, sv[1], MSG_DONTWAIT, 0, &why), 0);
    uint32_t pc = 0, pp = 0;
    int a = vcore_accept(l, 0, &pc, &pp, &why);
    assert_true(a >= 0);
    assert_int_equal(pc, 20);
    assert_int_equal(pp, 9);
    vcore_close(a);
    expect_fail(vcore_accept(l, 0, NULL, NULL, &why), -EAGAIN, "no pending connection");
    close(sv[0]);
    close(sv[1]);
    vcore_close(l);
}

/* Only the process that made a listener's file removes it, and only while
 * the file is still that socket. */
static void close_removes_only_its_own_file(void **state)
{
    (void)state;
    const char *why = NULL;
    char path[160];
    snprintf(path, sizeof(path), "%s/vsock/3/6700", tl_run_dir);
    int l = vcore_socket(0, &why);
    assert_int_equal(vcore_bind(l, 3, 6700, &why), 0);
    assert_int_equal(vcore_listen(l, &why), 0);
    pid_t pid = fork();
    if (pid == 0)
        _exit(vcore_close(l) == 0 ? 0 : 1);
    assert_int_equal(tl_child_status(pid), 0);
    assert_int_equal(access(path, F_OK), 0);
    /* replaced behind its back by another socket: left alone */
    assert_int_equal(unlink(path), 0);
    int other = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(other, (struct sockaddr *)&sa, sizeof(sa)), 0);
    vcore_close(l);
    assert_int_equal(access(path, F_OK), 0);
    close(other);
}

/* The options of an emulated socket (what the seccomp supervisor answers). */
static void socket_options(void **state)
{
    (void)state;
    struct vcore_entry e;
    vcore_entry_init(&e);
    int v = 0;
    socklen_t len = sizeof(v);
    assert_int_equal(vcore_sockopt_get(&e, SOL_SOCKET, SO_DOMAIN, &v, &len), 0);
    assert_int_equal(v, AF_VSOCK);
    assert_int_equal(len, sizeof(int));
    assert_int_equal(vcore_sockopt_get(&e, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
    assert_int_equal(v, 0);
    e.so_error = ECONNRESET;
    assert_int_equal(vcore_sockopt_get(&e, SOL_SOCKET, SO_ERROR, &v, &len), 0);
    assert_int_equal(v, ECONNRESET);
    /* the Unix socket underneath answers the rest of SOL_SOCKET */
    assert_int_equal(vcore_sockopt_get(&e, SOL_SOCKET, SO_RCVBUF, &v, &len), 1);
    assert_int_equal(vcore_sockopt_set(&e, SOL_SOCKET, SO_RCVBUF, &v, len), 1);
    /* a short buffer, an unknown option, another level */
    len = 2;
    assert_int_equal(vcore_sockopt_get(&e, SOL_SOCKET, SO_TYPE, &v, &len), -EINVAL);
    uint64_t u = 0;
    len = sizeof(u);
    assert_int_equal(vcore_sockopt_get(&e, AF_VSOCK, 99, &u, &len), -ENOPROTOOPT);
    assert_int_equal(vcore_sockopt_get(&e, 6 /* IPPROTO_TCP */, 1, &u, &len), -EOPNOTSUPP);
    /* buffer sizes keep min <= size <= max, as Linux */
    u = 100;
    assert_int_equal(vcore_sockopt_set(&e, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &u, sizeof(u)), 0);
    assert_int_equal(e.buf_size, 100);
    assert_int_equal(e.buf_min, 100);
    assert_int_equal(e.buf_max, 262144);
    assert_int_equal(vcore_sockopt_set(&e, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &u, 4), -EINVAL);
    /* the connect timeout: a bad one is EDOM */
    struct timeval tv = { .tv_sec = 1, .tv_usec = 5 };
    assert_int_equal(vcore_sockopt_set(&e, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv,
                                       sizeof(tv)), 0);
    assert_int_equal(e.connect_timeout_us, 1000005);
    tv.tv_usec = 1000000;
    assert_int_equal(vcore_sockopt_set(&e, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv,
                                       sizeof(tv)), -EDOM);
    struct timeval got;
    len = sizeof(got);
    assert_int_equal(vcore_sockopt_get(&e, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &got, &len), 0);
    assert_int_equal(got.tv_sec, 1);
    assert_int_equal(got.tv_usec, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(address_table),
        T(socket_options),
        T(transport_detection),
        T(run_dir_and_cid_dirs),
        T(host_dirs_and_their_modes),
        T(mailbox_open_and_stale_files),
        T(reserved_ports_need_root),
        T(mailbox_in_a_long_directory),
        T(hello_round_trip),
        T(send_hello_refusals),
        T(reserved_port_listener_must_be_roots),
        T(recv_hello_refusals),
        T(one_fd_messages),
        T(fd_kind_checks),
        T(bind_and_listen_states),
        T(connect_and_accept),
        T(accept_believes_only_vouched_claims),
        T(close_removes_only_its_own_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
