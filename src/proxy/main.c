/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-vsock-proxy: AWS's vsock-proxy for Cloister. Listens on a vsock
 * port of the parent (CID 3) and forwards each connection to an allow-listed
 * TCP host:port. Same arguments and allowlist file as AWS's
 * (aws-nitro-enclaves-cli vsock_proxy/src/main.rs):
 *
 *   cloister-vsock-proxy [-4|-6] [--config FILE] [-w N] LOCAL_PORT REMOTE_ADDR REMOTE_PORT
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cloister/vsock.h>

#include "base/log.h"
#include "base/num.h"
#include "allowlist.h"
#include "forward.h"
#include "resolver.h"

#define DEFAULT_CONFIG "/etc/nitro_enclaves/vsock-proxy.yaml"
#define DEFAULT_WORKERS 4
#define PARENT_CID 3 /* VSOCK_PROXY_CID: the proxy listens at the parent's CID */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cloister-vsock-proxy [-4|-6] [--config FILE] [-w|--num_workers N]\n"
            "                            LOCAL_PORT REMOTE_ADDR REMOTE_PORT\n"
            "\n"
            "Forwards connections from vsock port LOCAL_PORT (at the parent, CID 3) to\n"
            "REMOTE_ADDR:REMOTE_PORT over TCP, if the allowlist in FILE permits it.\n"
            "\n"
            "  -4, --ipv4               use IPv4 only\n"
            "  -6, --ipv6               use IPv6 only\n"
            "      --config FILE        YAML allowlist [default: " DEFAULT_CONFIG "]\n"
            "  -w, --num_workers N      event-loop threads [default: 4]\n"
            "  -h, --help               print this help\n"
            "  -V, --version            print the version\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cloister-vsock-proxy: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* A decimal argument up to max; -1 otherwise. */
static long long parse_number(const char *s, uint64_t max)
{
    uint64_t v;
    return num_parse_u64(s, max, &v) == 0 ? (long long)v : -1;
}

int main(int argc, char **argv)
{
    log_init("cloister-vsock-proxy");
    const char *config = DEFAULT_CONFIG;
    long long workers = DEFAULT_WORKERS;
    int family = AF_UNSPEC;
    bool v4 = false, v6 = false;
    static const struct option opts[] = {
        { "ipv4", no_argument, NULL, '4' },
        { "ipv6", no_argument, NULL, '6' },
        { "config", required_argument, NULL, 'c' },
        { "num_workers", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "46w:hV", opts, NULL)) != -1) {
        switch (o) {
        case '4': v4 = true; family = AF_INET; break;
        case '6': v6 = true; family = AF_INET6; break;
        case 'c': config = optarg; break;
        case 'w':
            workers = parse_number(optarg, 1024);
            if (workers <= 0)
                return fail("--num_workers must be a whole number from 1 to 1024, not '%s'",
                            optarg);
            break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("cloister-vsock-proxy %s\n", CLOISTER_VERSION); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (v4 && v6)
        return fail("--ipv4 and --ipv6 conflict");
    if (argc - optind != 3) {
        usage(stderr);
        return fail("expected LOCAL_PORT REMOTE_ADDR REMOTE_PORT");
    }
    long long local_port = parse_number(argv[optind], UINT32_MAX);
    const char *remote_addr = argv[optind + 1];
    long long remote_port = parse_number(argv[optind + 2], UINT16_MAX);
    if (local_port < 0)
        return fail("invalid LOCAL_PORT '%s' (a vsock port, 0 to 4294967295)", argv[optind]);
    if (remote_port <= 0)
        return fail("invalid REMOTE_PORT '%s' (1 to 65535)", argv[optind + 2]);

    int rc = 1, listener = -1, stop_fd = -1;
    struct allowlist al = { 0 };
    struct forwarder *fwd = NULL;
    struct cl_error err = { 0 };

    if (allowlist_load(config, &al, &err) < 0) {
        fail("cannot load the allowlist: %s", err.reason);
        goto out;
    }
    struct resolved remote;
    if (resolver_resolve(remote_addr, (uint16_t)remote_port, family, &remote, &err) < 0) {
        fail("%s", err.reason);
        goto out;
    }
    if (!allowlist_allows(&al, remote_addr, remote.ip, (uint16_t)remote_port, family)) {
        fail("Error at checking the allowlist: The given address and port are not allowed "
             "(%s:%lld, resolved to %s; allowlist %s)", remote_addr, remote_port, remote.ip,
             config);
        goto out;
    }

    /* A peer that goes away must not kill the proxy. */
    signal(SIGPIPE, SIG_IGN);
    /*
     * SIGTERM and SIGINT end the proxy cleanly (its vsock address is freed).
     * Blocked before any worker thread starts, so that every thread inherits
     * the mask and the signals arrive only through stop_fd.
     */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigprocmask(SIG_BLOCK, &stop_set, NULL);
    stop_fd = signalfd(-1, &stop_set, SFD_CLOEXEC);
    if (stop_fd < 0) {
        fail("cannot watch for signals: %s", strerror(errno));
        goto out;
    }

    listener = vsock_socket(&err);
    if (listener < 0 ||
        vsock_bind_listen(listener, PARENT_CID, (uint32_t)local_port, SOMAXCONN, &err) < 0) {
        fail("cannot listen on vsock port %lld: %s", local_port, err.reason);
        goto out;
    }
    int fl = fcntl(listener, F_GETFL);
    if (fl < 0 || fcntl(listener, F_SETFL, fl | O_NONBLOCK) < 0) {
        fail("cannot make the listener non-blocking: %s", strerror(errno));
        goto out;
    }
    if (forwarder_new((unsigned)workers, &fwd, &err) < 0) {
        fail("%s", err.reason);
        goto out;
    }
    log_info("forwarding vsock port %lld to %s:%lld (%s)", local_port, remote_addr, remote_port,
             remote.ip);

    for (;;) {
        struct pollfd pfd[2] = { { .fd = listener, .events = POLLIN },
                                 { .fd = stop_fd, .events = POLLIN } };
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail("poll failed: %s", strerror(errno));
            goto out;
        }
        if (pfd[1].revents) {
            log_info("stopping");
            rc = 0;
            goto out;
        }
        uint32_t peer_cid = 0, peer_port = 0;
        cl_error_clear(&err);
        int conn = vsock_accept(listener, &peer_cid, &peer_port, &err);
        if (conn < 0 && errno == EAGAIN)
            continue;
        if (conn < 0) {
            log_warn("accept failed: %s", err.reason);
            if (err.code == CL_EINVAL || err.code == CL_EPERM)
                goto out;
            usleep(10000); /* e.g. out of file descriptors: do not spin */
            continue;
        }
        if (resolver_expired(&remote)) {
            struct resolved fresh;
            cl_error_clear(&err);
            if (resolver_resolve(remote_addr, (uint16_t)remote_port, family, &fresh, &err) == 0)
                remote = fresh;
            else
                log_warn("re-resolving %s failed, keeping %s: %s", remote_addr, remote.ip,
                         err.reason);
        }
        log_info("connection from CID %u port %u -> %s", peer_cid, peer_port, remote.ip);
        cl_error_clear(&err);
        if (forwarder_add(fwd, conn, (struct sockaddr *)&remote.addr, remote.addr_len, &err) < 0)
            log_warn("cannot forward a connection: %s", err.reason);
    }
out:
    forwarder_free(fwd);
    if (listener >= 0)
        vsock_close(listener);
    if (stop_fd >= 0)
        close(stop_fd);
    allowlist_release(&al);
    return rc;
}
