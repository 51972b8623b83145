/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vsock-proxy allowlist, in AWS's YAML format
 * (aws-nitro-enclaves-cli vsock_proxy/configs/vsock-proxy.yaml):
 *
 *     allowlist:
 *     - {address: kms.us-east-1.amazonaws.com, port: 443}
 *     - {address: 127.0.0.1, port: 8080}
 *
 * Matching is AWS's (vsock_proxy/src/proxy.rs, check_allowlist): an entry
 * matches when its port equals the remote port and its address is the same
 * string as the remote address, or resolves to an IP equal to the remote
 * address's resolved IP. There are no wildcards.
 */
#ifndef CLOISTER_PROXY_ALLOWLIST_H
#define CLOISTER_PROXY_ALLOWLIST_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#define ALLOWLIST_MAX_ENTRIES 4096
#define ALLOWLIST_MAX_FILE (1024 * 1024)

struct allowlist_entry {
    char *address; /* owned */
    uint16_t port;
};

struct allowlist {
    struct allowlist_entry *entries; /* owned, count elements */
    size_t count;
};

/*
 * Parses YAML text. On success *out is filled and owned by the caller
 * (allowlist_release). Errors name the line of the offending node.
 */
CL_MUST_USE int allowlist_parse(const char *yaml, size_t len, struct allowlist *out,
                                struct cl_error *err);

/* Reads and parses a file (at most ALLOWLIST_MAX_FILE bytes). */
CL_MUST_USE int allowlist_load(const char *path, struct allowlist *out, struct cl_error *err);

void allowlist_release(struct allowlist *al);

/*
 * Is remote_addr:remote_port allowed? remote_ip is the textual IP that
 * remote_addr resolved to; family restricts the resolution of entries
 * (AF_UNSPEC, AF_INET or AF_INET6). Returns 1 allowed, 0 not allowed.
 */
int allowlist_allows(const struct allowlist *al, const char *remote_addr, const char *remote_ip,
                     uint16_t remote_port, int family);

#endif
