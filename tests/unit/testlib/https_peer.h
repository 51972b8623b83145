/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A scripted HTTPS peer for client tests: a test CA and a server
 * certificate made on the fly (EC P-256), and a thread that serves a given
 * number of connections on a listening socket (TCP on 127.0.0.1, or an
 * emulated vsock listener), one HTTP/1.1 request each, recording every
 * request and answering what a responder callback decides.
 */
#ifndef CLOISTER_TESTLIB_HTTPS_PEER_H
#define CLOISTER_TESTLIB_HTTPS_PEER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* The CA (its certificate in ca_file, for a client's CA bundle) and the
 * server's key and certificate, valid for the DNS names given (NULL
 * terminated) and for IP 127.0.0.1. */
struct tl_tls {
    char ca_file[160];
    SSL_CTX *server;
};
void tl_tls_make(struct tl_tls *t, const char *dir, const char *tag, const char *const *dns);
void tl_tls_free(struct tl_tls *t);

/* One request as received. */
struct tl_http_request {
    char head[8192];        /* request line and headers, NUL-terminated */
    char *body;             /* malloc'd, NUL-terminated (may be empty) */
    size_t body_len;
};
/* The value of header name (case-insensitive) in head, into out; 0 if absent. */
int tl_http_header(const char *head, const char *name, char *out, size_t cap);

/* Decides the answer to req: *status and *body (malloc'd; the peer frees). */
typedef void (*tl_http_responder)(void *ctx, const struct tl_http_request *req, int *status,
                                  char **body);

enum tl_listener { TL_LISTEN_TCP, TL_LISTEN_VSOCK };

struct tl_https_peer {
    struct tl_tls *tls;
    int listen_fd;
    enum tl_listener kind;
    int connections;              /* to serve, then the thread ends */
    tl_http_responder respond;
    void *ctx;
    struct tl_http_request req[8]; /* the first 8 requests */
    int nreq;
    pthread_t thread;
};

/* A TCP listener on 127.0.0.1 at a free port (*port). */
int tl_tcp_listen(uint16_t *port);
/* A TCP socket bound on 127.0.0.1 (*port) that does not listen: connecting
 * to the port is refused for as long as the socket stays open. */
int tl_tcp_refusing(uint16_t *port);

/* Starts serving p->connections connections on p->listen_fd. */
void tl_https_start(struct tl_https_peer *p);
/* Waits for the thread; the recorded requests stay in p until
 * tl_https_clear(). */
void tl_https_join(struct tl_https_peer *p);
void tl_https_clear(struct tl_https_peer *p);

#endif
