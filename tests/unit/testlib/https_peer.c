/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib/https_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cloister/vsock.h>

#include "testlib/testlib.h"

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, long serial)
{
    X509 *c = X509_new();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_pubkey(c, key);
    return c;
}

void tl_tls_make(struct tl_tls *t, const char *dir, const char *tag, const char *const *dns)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
    assert_non_null(ca_key);
    assert_non_null(key);
    char cn[64];
    snprintf(cn, sizeof(cn), "Cloister test CA %s", tag);
    X509 *ca = new_cert(ca_key, cn, 1);
    X509_set_issuer_name(ca, X509_get_subject_name(ca));
    add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca, ca, NID_subject_key_identifier, "hash");
    assert_true(X509_sign(ca, ca_key, EVP_sha256()) > 0);

    X509 *leaf = new_cert(key, "kms test server", 2);
    X509_set_issuer_name(leaf, X509_get_subject_name(ca));
    char san[512] = "IP:127.0.0.1";
    for (size_t i = 0; dns && dns[i]; i++) {
        strncat(san, ",DNS:", sizeof(san) - strlen(san) - 1);
        strncat(san, dns[i], sizeof(san) - strlen(san) - 1);
    }
    add_ext(leaf, ca, NID_subject_alt_name, san);
    add_ext(leaf, ca, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(leaf, ca, NID_ext_key_usage, "serverAuth");
    add_ext(leaf, ca, NID_authority_key_identifier, "keyid");
    assert_true(X509_sign(leaf, ca_key, EVP_sha256()) > 0);

    char name[64];
    snprintf(name, sizeof(name), "ca-%s.pem", tag);
    tl_path(t->ca_file, sizeof(t->ca_file), dir, name);
    FILE *f = fopen(t->ca_file, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, ca), 1);
    fclose(f);

    t->server = SSL_CTX_new(TLS_server_method());
    assert_non_null(t->server);
    assert_int_equal(SSL_CTX_use_certificate(t->server, leaf), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(t->server, key), 1);
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
}

void tl_tls_free(struct tl_tls *t)
{
    SSL_CTX_free(t->server);
    t->server = NULL;
}

int tl_tcp_refusing(uint16_t *port)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return l;
}

int tl_tcp_listen(uint16_t *port)
{
    int l = tl_tcp_refusing(port);
    assert_int_equal(listen(l, 8), 0);
    return l;
}

int tl_http_header(const char *head, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            const char *end = strstr(v, "\r\n");
            size_t len = end ? (size_t)(end - v) : strlen(v);
            if (len >= cap)
                len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return 1;
        }
    }
    return 0;
}

static bool write_all(SSL *s, const char *p, size_t n)
{
    while (n > 0) {
        int w = SSL_write(s, p, n > 65536 ? 65536 : (int)n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one request into r; false if the client went away first. */
static bool read_request(SSL *s, struct tl_http_request *r)
{
    size_t got = 0;
    char *end = NULL;
    while (!(end = strstr(r->head, "\r\n\r\n"))) {
        if (got + 1 >= sizeof(r->head))
            return false;
        int n = SSL_read(s, r->head + got, (int)(sizeof(r->head) - 1 - got));
        if (n <= 0)
            return false;
        got += (size_t)n;
        r->head[got] = '\0';
    }
    char v[64];
    size_t len = tl_http_header(r->head, "Content-Length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
    size_t have = got - (size_t)(end + 4 - r->head);
    r->body = calloc(1, len + 1);
    memcpy(r->body, end + 4, have < len ? have : len);
    end[2] = '\0'; /* the head keeps its last CRLF */
    if (tl_http_header(r->head, "Expect", v, sizeof(v)) && !strcasecmp(v, "100-continue") &&
        have < len && !write_all(s, "HTTP/1.1 100 Continue\r\n\r\n", 25))
        return false;
    while (have < len) {
        int n = SSL_read(s, r->body + have, (int)(len - have));
        if (n <= 0)
            return false;
        have += (size_t)n;
    }
    r->body_len = len;
    return true;
}

static void serve_one(struct tl_https_peer *p, int c)
{
    SSL *s = SSL_new(p->tls->server);
    SSL_set_fd(s, c);
    struct tl_http_request r;
    memset(&r, 0, sizeof(r));
    bool ok = SSL_accept(s) == 1 && read_request(s, &r);
    if (ok) {
        int status = 500;
        char *body = NULL;
        p->respond(p->ctx, &r, &status, &body);
        char head[256];
        size_t blen = body ? strlen(body) : 0;
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %d Scripted\r\nContent-Type: application/x-amz-json-1.1\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, blen);
        if (write_all(s, head, (size_t)n) && blen)
            write_all(s, body, blen);
        free(body);
        SSL_shutdown(s);
    }
    SSL_free(s);
    if (ok && p->nreq < 8)
        p->req[p->nreq++] = r;
    else
        free(r.body);
}

static void *serve(void *arg)
{
    struct tl_https_peer *p = arg;
    for (int i = 0; i < p->connections; i++) {
        int c = p->kind == TL_LISTEN_TCP ? accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC)
                                         : vsock_accept(p->listen_fd, NULL, NULL, NULL);
        if (c < 0)
            break;
        serve_one(p, c);
        if (p->kind == TL_LISTEN_TCP)
            close(c);
        else
            vsock_close(c);
    }
    return NULL;
}

void tl_https_start(struct tl_https_peer *p)
{
    /* A client that gives up mid-answer must not kill the test with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    p->nreq = 0;
    assert_int_equal(pthread_create(&p->thread, NULL, serve, p), 0);
}

void tl_https_join(struct tl_https_peer *p)
{
    pthread_join(p->thread, NULL);
}

void tl_https_clear(struct tl_https_peer *p)
{
    for (int i = 0; i < p->nreq; i++)
        free(p->req[i].body);
    p->nreq = 0;
}
