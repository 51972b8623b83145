/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test program for Cloister's vsock (<cloister/vsock.h>), used by
 * tests/integration/test_vsock.py on both sides of a connection:
 *
 *   vsock_echo listen CID PORT [COUNT]   listen; print "LISTENING <cid> <port>";
 *                                        for COUNT (1) connections: print
 *                                        "PEER <cid> <port>", echo until EOF, shut down
 *   vsock_echo connect CID PORT TEXT     connect; print "LOCAL <cid> <port>" and
 *                                        "REMOTE <cid> <port>"; send TEXT, half-close,
 *                                        print "GOT <what came back>"
 *   vsock_echo cid                       print "CID <local cid>" and the transport
 *   vsock_echo heartbeat                 send the enclave's ready heartbeat
 *
 * Errors: "ERROR <errno name> <reason>" on stderr, exit 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cloister/vsock.h>

static const char *errname(int e)
{
    switch (e) {
    case ECONNRESET: return "ECONNRESET";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    default: return "E?";
    }
}

static int fail(const struct cl_error *err)
{
    fprintf(stderr, "ERROR %s %s\n", errname(errno), err->reason);
    return 1;
}

static uint32_t num(const char *s)
{
    if (strcmp(s, "any") == 0)
        return VSOCK_CID_ANY;
    return (uint32_t)strtoul(s, NULL, 0);
}

static int echo(int c)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            off += w;
        }
    }
    shutdown(c, SHUT_WR);
    return 0;
}

int main(int argc, char **argv)
{
    struct cl_error err = { 0 };
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "listen") == 0) {
        int count = argc >= 5 ? atoi(argv[4]) : 1;
        int l = vsock_socket(&err);
        if (l < 0 || vsock_bind_listen(l, num(argv[2]), num(argv[3]), 16, &err) < 0)
            return fail(&err);
        uint32_t cid, port;
        if (vsock_getsockname(l, &cid, &port, &err) < 0)
            return fail(&err);
        printf("LISTENING %u %u\n", cid, port);
        for (int i = 0; i < count; i++) {
            uint32_t pc, pp;
            int c = vsock_accept(l, &pc, &pp, &err);
            if (c < 0)
                return fail(&err);
            uint32_t gc, gp;
            if (vsock_getpeername(c, &gc, &gp, &err) < 0)
                return fail(&err);
            if (gc != pc || gp != pp) {
                fprintf(stderr, "ERROR E? getpeername disagrees with accept\n");
                return 1;
            }
            printf("PEER %u %u\n", pc, pp);
            echo(c);
            vsock_close(c);
        }
        vsock_close(l);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "connect") == 0) {
        int s = vsock_socket(&err);
        if (s < 0 || vsock_connect(s, num(argv[2]), num(argv[3]), &err) < 0)
            return fail(&err);
        uint32_t lc, lp, rc, rp;
        if (vsock_getsockname(s, &lc, &lp, &err) < 0 || vsock_getpeername(s, &rc, &rp, &err) < 0)
            return fail(&err);
        printf("LOCAL %u %u\nREMOTE %u %u\n", lc, lp, rc, rp);
        size_t len = strlen(argv[4]);
        if (write(s, argv[4], len) != (ssize_t)len || shutdown(s, SHUT_WR) < 0) {
            perror("ERROR E? write");
            return 1;
        }
        char buf[4096];
        size_t got = 0;
        for (;;) {
            ssize_t n = read(s, buf + got, sizeof(buf) - 1 - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        buf[got] = '\0';
        printf("GOT %s\n", buf);
        vsock_close(s);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "cid") == 0) {
        uint32_t cid;
        if (vsock_local_cid(&cid, &err) < 0)
            return fail(&err);
        printf("CID %u %s\n", cid, vsock_transport_name(vsock_transport()));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "heartbeat") == 0) {
        if (vsock_send_heartbeat(&err) < 0)
            return fail(&err);
        printf("HEARTBEAT OK\n");
        return 0;
    }
    fprintf(stderr, "usage: vsock_echo listen CID PORT [COUNT] | connect CID PORT TEXT | cid | "
                    "heartbeat\n");
    return 2;
}
