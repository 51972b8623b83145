/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key service's HTTP/1.1 server, over libmicrohttpd: HTTPS with
 * libmicrohttpd's TLS (GnuTLS) or plain HTTP, keep-alive, a bounded request
 * body, a pool of threads each polling its share of the connections
 * (epoll). The handler sees a whole request and fills a whole response.
 */
#ifndef CLOISTER_KMS_HTTP_H
#define CLOISTER_KMS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#include "serve/sigv4.h"

#define HTTP_MAX_HEADERS 64

/* A complete request; everything is owned by the server and valid during
 * the handler call only. */
struct http_request {
    const char *method;
    const char *path;
    const struct sigv4_header *headers;
    size_t n_headers;
    const struct sigv4_header *query;
    size_t n_query;
    const uint8_t *body;
    size_t body_len;
    char peer_ip[64];
    bool tls;
};

/* Looks a header up, case-insensitively; NULL when absent. */
const char *http_header(const struct http_request *r, const char *name);
/* How many times a header occurs. */
size_t http_header_count(const struct http_request *r, const char *name);

struct http_response {
    int status;
    const char *content_type; /* static string */
    char *body;
    size_t body_len;     /* malloc'd by the handler; the server frees it */
    char request_id[40]; /* sent as x-amzn-RequestId when not empty */
    const char *extra_header; /* one more header (static name) when not NULL */
    char extra_value[64];
};

typedef void (*http_handler)(void *arg, const struct http_request *req, struct http_response *resp);

struct http_opts {
    const char *host; /* numeric address or name to bind */
    uint16_t port;    /* 0: any free port */
    bool tls;
    const char *cert_pem; /* TLS: server certificate chain, PEM */
    const char *key_pem;  /* TLS: its private key, PEM */
    unsigned threads;     /* 0: number of CPUs */
    size_t max_body;      /* larger bodies get 413 */
    http_handler handler;
    void *arg;
};

struct http_server;

CL_MUST_USE int http_start(const struct http_opts *o, struct http_server **out,
                           struct cl_error *err);
/* The port actually bound (useful with port 0). */
uint16_t http_port(const struct http_server *s);
/* "HOST:PORT" as bound, for a URL: numeric, IPv6 in brackets, a wildcard
 * address as the loopback address of its family. */
void http_url_authority(const struct http_server *s, char *out, size_t cap);
void http_stop(struct http_server *s);

#endif
