/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Name resolution for the proxy, with expiry. AWS's vsock-proxy re-resolves
 * the remote name once its record's TTL has passed (aws-nitro-enclaves-cli
 * PR #606, fixing #553), so a moved endpoint keeps working; so does this.
 */
#ifndef CLOISTER_PROXY_RESOLVER_H
#define CLOISTER_PROXY_RESOLVER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <cloister/error.h>

/* TTL used when the DNS answer gives none (names from /etc/hosts, no DNS). */
#define RESOLVER_DEFAULT_TTL 60
#define RESOLVER_MIN_TTL 1

struct resolved {
    struct sockaddr_storage addr; /* the first address, port set */
    socklen_t addr_len;
    char ip[INET6_ADDRSTRLEN];    /* the same address as text */
    time_t expires;               /* CLOCK_MONOTONIC seconds; 0 for IP literals (never) */
};

/*
 * Resolves host (a name or an IP literal) for a TCP connection to port,
 * restricted to family (AF_UNSPEC, AF_INET, AF_INET6). Takes the first
 * record, as AWS's proxy does.
 */
CL_MUST_USE int resolver_resolve(const char *host, uint16_t port, int family, struct resolved *out,
                                 struct cl_error *err);

/* Has *r expired (and so should be resolved again)? */
bool resolver_expired(const struct resolved *r);

/* Does host resolve (within family) to an address whose text is ip? */
bool resolver_any_ip_equals(const char *host, int family, const char *ip);

#endif
