/* SPDX-License-Identifier: Apache-2.0 */
#include "resolver.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

static time_t now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static int addr_to_text(const struct sockaddr *sa, char ip[static INET6_ADDRSTRLEN])
{
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    return inet_ntop(sa->sa_family, a, ip, INET6_ADDRSTRLEN) ? 0 : -1;
}

/* The smallest TTL of the A/AAAA answers for host, or -1 when DNS gives none. */
static long dns_ttl(const char *host, int family)
{
    struct __res_state st;
    memset(&st, 0, sizeof(st));
    if (res_ninit(&st) < 0)
        return -1;
    long ttl = -1;
    int types[2] = { family == AF_INET6 ? ns_t_aaaa : ns_t_a, family == AF_UNSPEC ? ns_t_aaaa : -1 };
    for (int t = 0; t < 2 && types[t] >= 0; t++) {
        unsigned char answer[4096];
        int n = res_nquery(&st, host, ns_c_in, types[t], answer, sizeof(answer));
        ns_msg msg;
        if (n <= 0 || ns_initparse(answer, n, &msg) < 0)
            continue;
        for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
            ns_rr rr;
            if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
                break;
            if ((int)ns_rr_type(rr) != types[t])
                continue;
            long v = (long)ns_rr_ttl(rr);
            if (ttl < 0 || v < ttl)
                ttl = v;
        }
        if (ttl >= 0)
            break;
    }
    res_nclose(&st);
    return ttl;
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int resolver_resolve(const char *host, uint16_t port, int family, struct resolved *out,
                     struct cl_error *err)
{
    struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    int g = getaddrinfo(host, service, &hints, &res);
    if (g != 0)
        return cl_fail(err, CL_ENOTFOUND, "DNS lookup of '%s' failed: %s", host, gai_strerror(g));
    memset(out, 0, sizeof(*out));
    memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
    out->addr_len = res->ai_addrlen;
    int rc = addr_to_text(res->ai_addr, out->ip);
    freeaddrinfo(res);
    if (rc < 0)
        return cl_fail(err, CL_EFORMAT, "cannot format the address of '%s'", host);
    if (is_ip_literal(host)) {
        out->expires = 0;
        return 0;
    }
    long ttl = dns_ttl(host, family);
    if (ttl < 0)
        ttl = RESOLVER_DEFAULT_TTL;
    if (ttl < RESOLVER_MIN_TTL)
        ttl = RESOLVER_MIN_TTL;
    out->expires = now_monotonic() + ttl;
    return 0;
}

bool resolver_expired(const struct resolved *r)
{
    return r->expires != 0 && now_monotonic() >= r->expires;
}

bool resolver_any_ip_equals(const char *host, int family, const char *ip)
{
    struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return false;
    bool found = false;
    for (struct addrinfo *a = res; a && !found; a = a->ai_next) {
        char text[INET6_ADDRSTRLEN];
        if (addr_to_text(a->ai_addr, text) == 0 && !strcmp(text, ip))
            found = true;
    }
    freeaddrinfo(res);
    return found;
}
