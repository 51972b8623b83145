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

/* The command line. */
struct proxy_args {
    const char *config;
    unsigned workers;
    int family;              /* AF_UNSPEC, AF_INET (-4), AF_INET6 (-6) */
    uint32_t local_port;     /* vsock */
    const char *remote_addr;
    uint16_t remote_port;    /* TCP */
    bool help;
};

/* 0, or the exit status of a failure (printed). */
static int parse_args(int argc, char **argv, struct proxy_args *a)
{
    static const struct option opts[] = {
        { "ipv4", no_argument, NULL, '4' },
        { "ipv6", no_argument, NULL, '6' },
        { "config", required_argument, NULL, 'c' },
        { "num_workers", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { 0 },
    };
    bool v4 = false, v6 = false;
    uint64_t n;
    int o;
    while ((o = getopt_long(argc, argv, "46w:hV", opts, NULL)) != -1) {
        switch (o) {
        case '4': v4 = true; a->family = AF_INET; break;
        case '6': v6 = true; a->family = AF_INET6; break;
        case 'c': a->config = optarg; break;
        case 'w':
            if (num_parse_u64(optarg, 1024, &n) != 0 || n == 0)
                return fail("--num_workers must be a whole number from 1 to 1024, not '%s'",
                            optarg);
            a->workers = (unsigned)n;
            break;
        case 'h': usage(stdout); a->help = true; return 0;
        case 'V':
            printf("cloister-vsock-proxy %s\n", CLOISTER_VERSION);
            a->help = true;
            return 0;
        default: usage(stderr); return 1;
        }
    }
    if (v4 && v6)
        return fail("--ipv4 and --ipv6 conflict");
    if (argc - optind != 3) {
        usage(stderr);
        return fail("expected LOCAL_PORT REMOTE_ADDR REMOTE_PORT");
    }
    a->remote_addr = argv[optind + 1];
    if (num_parse_u64(argv[optind], UINT32_MAX, &n) != 0)
        return fail("invalid LOCAL_PORT '%s' (a vsock port, 0 to 4294967295)", argv[optind]);
    a->local_port = (uint32_t)n;
    if (num_parse_u64(argv[optind + 2], UINT16_MAX, &n) != 0 || n == 0)
        return fail("invalid REMOTE_PORT '%s' (1 to 65535)", argv[optind + 2]);
    a->remote_port = (uint16_t)n;
    return 0;
}

/* The destination, resolved and checked against the allowlist. */
static int check_destination(const struct proxy_args *a, struct resolved *remote)
{
    struct allowlist al = { 0 };
    struct cl_error err = { 0 };
    int rc = 1;
    if (allowlist_load(a->config, &al, &err) < 0) {
        fail("cannot load the allowlist: %s", err.reason);
        goto out;
    }
    if (resolver_resolve(a->remote_addr, a->remote_port, a->family, remote, &err) < 0) {
        fail("%s", err.reason);
        goto out;
    }
    if (!allowlist_allows(&al, a->remote_addr, remote->ip, a->remote_port, a->family)) {
        fail("Error at checking the allowlist: The given address and port are not allowed "
             "(%s:%u, resolved to %s; allowlist %s)", a->remote_addr, a->remote_port, remote->ip,
             a->config);
        goto out;
    }
    rc = 0;
out:
    allowlist_release(&al);
    return rc;
}

/*
 * SIGTERM and SIGINT end the proxy cleanly (its vsock address is freed):
 * blocked before any worker thread starts, so that every thread inherits
 * the mask and the signals arrive only through the returned fd. A peer
 * that goes away must not kill the proxy: SIGPIPE is ignored.
 */
static int stop_signals(void)
{
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigprocmask(SIG_BLOCK, &stop_set, NULL);
    int fd = signalfd(-1, &stop_set, SFD_CLOEXEC);
    if (fd < 0)
        fail("cannot watch for signals: %s", strerror(errno));
    return fd;
}

/* A non-blocking vsock listener on the parent's local port; -1 (printed). */
static int open_listener(uint32_t port)
{
    struct cl_error err = { 0 };
    int listener = vsock_socket(&err);
    if (listener < 0 || vsock_bind_listen(listener, PARENT_CID, port, SOMAXCONN, &err) < 0) {
        fail("cannot listen on vsock port %u: %s", port, err.reason);
        if (listener >= 0)
            vsock_close(listener);
        return -1;
    }
    int fl = fcntl(listener, F_GETFL);
    if (fl < 0 || fcntl(listener, F_SETFL, fl | O_NONBLOCK) < 0) {
        fail("cannot make the listener non-blocking: %s", strerror(errno));
        vsock_close(listener);
        return -1;
    }
    return listener;
}

/* Accepts and forwards until a stop signal (0) or a fatal error (1). */
static int serve(const struct proxy_args *a, int listener, int stop_fd, struct forwarder *fwd,
                 struct resolved *remote)
{
    struct cl_error err = { 0 };
    for (;;) {
        struct pollfd pfd[2] = { { .fd = listener, .events = POLLIN },
                                 { .fd = stop_fd, .events = POLLIN } };
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return fail("poll failed: %s", strerror(errno));
        }
        if (pfd[1].revents) {
            log_info("stopping");
            return 0;
        }
        uint32_t peer_cid = 0, peer_port = 0;
        cl_error_clear(&err);
        int conn = vsock_accept(listener, &peer_cid, &peer_port, &err);
        if (conn < 0 && errno == EAGAIN)
            continue;
        if (conn < 0) {
            log_warn("accept failed: %s", err.reason);
            if (err.code == CL_EINVAL || err.code == CL_EPERM)
                return 1;
            usleep(10000); /* e.g. out of file descriptors: do not spin */
            continue;
        }
        if (resolver_expired(remote)) {
            struct resolved fresh;
            cl_error_clear(&err);
            if (resolver_resolve(a->remote_addr, a->remote_port, a->family, &fresh, &err) == 0)
                *remote = fresh;
            else
                log_warn("re-resolving %s failed, keeping %s: %s", a->remote_addr, remote->ip,
                         err.reason);
        }
        log_info("connection from CID %u port %u -> %s", peer_cid, peer_port, remote->ip);
        cl_error_clear(&err);
        if (forwarder_add(fwd, conn, (struct sockaddr *)&remote->addr, remote->addr_len, &err) < 0)
            log_warn("cannot forward a connection: %s", err.reason);
    }
}

int main(int argc, char **argv)
{
    log_init("cloister-vsock-proxy");
    struct proxy_args a = { .config = DEFAULT_CONFIG, .workers = DEFAULT_WORKERS,
                            .family = AF_UNSPEC };
    int rc = parse_args(argc, argv, &a);
    if (rc != 0 || a.help)
        return rc;
    struct resolved remote;
    if ((rc = check_destination(&a, &remote)) != 0)
        return rc;
    int stop_fd = stop_signals(), listener = -1;
    struct forwarder *fwd = NULL;
    struct cl_error err = { 0 };
    rc = 1;
    if (stop_fd < 0 || (listener = open_listener(a.local_port)) < 0)
        goto out;
    if (forwarder_new(a.workers, &fwd, &err) < 0) {
        fail("%s", err.reason);
        goto out;
    }
    log_info("forwarding vsock port %u to %s:%u (%s)", a.local_port, a.remote_addr,
             a.remote_port, remote.ip);
    rc = serve(&a, listener, stop_fd, fwd, &remote);
out:
    forwarder_free(fwd);
    if (listener >= 0)
        vsock_close(listener);
    if (stop_fd >= 0)
        close(stop_fd);
    return rc;
}
