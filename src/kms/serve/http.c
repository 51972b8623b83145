/* SPDX-License-Identifier: Apache-2.0 */
/* The key service's HTTP server over libmicrohttpd (http.h): one whole
 * request in, one whole response out; bodies bounded and wiped. */
#include "serve/http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "util/kmsutil.h"

struct http_server {
    struct MHD_Daemon *d;
    struct http_opts o;
    uint16_t port;
};

/* Per-request state kept by libmicrohttpd between calls of the access handler. */
struct conn_state {
    uint8_t *body;
    size_t len, cap;
    bool too_big;
};

const char *http_header(const struct http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

size_t http_header_count(const struct http_request *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            n++;
    return n;
}

struct kv_collect {
    struct sigv4_header *v;
    size_t n, cap;
    bool overflow;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct kv_collect *c = cls;
    if (c->n == c->cap) {
        c->overflow = true;
        return MHD_NO;
    }
    c->v[c->n].name = key;
    c->v[c->n].value = value ? value : "";
    c->n++;
    return MHD_YES;
}

static enum MHD_Result send_simple(struct MHD_Connection *conn, int status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct conn_state *cs = *con_cls;
    if (!cs) {
        cs = calloc(1, sizeof(*cs));
        if (!cs)
            return MHD_NO;
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cs->too_big || cs->len + n > s->o.max_body) {
            cs->too_big = true;  /* keep reading, answer 413 at the end */
            return MHD_YES;
        }
        if (cs->len + n > cs->cap) {
            size_t cap = cs->cap ? cs->cap : 4096;
            while (cap < cs->len + n)
                cap *= 2;
            if (cap > s->o.max_body)
                cap = s->o.max_body;
            /* the old block may hold plaintext: wiped, not just realloc'd */
            uint8_t *b = ku_wipe_realloc(cs->body, cs->len, cap + 1);
            if (!b)
                return MHD_NO;
            cs->body = b;
            cs->cap = cap;
        }
        memcpy(cs->body + cs->len, upload_data, n);
        cs->len += n;
        return MHD_YES;
    }
    if (cs->too_big)
        return send_simple(conn, MHD_HTTP_CONTENT_TOO_LARGE, "Request Entity Too Large\n");

    struct sigv4_header headers[HTTP_MAX_HEADERS], query[HTTP_MAX_HEADERS];
    struct kv_collect hc = { headers, 0, HTTP_MAX_HEADERS, false };
    struct kv_collect qc = { query, 0, HTTP_MAX_HEADERS, false };
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect, &hc);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect, &qc);
    if (hc.overflow || qc.overflow)
        return send_simple(conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers\n");

    struct http_request req = {
        .method = method, .path = url, .headers = headers, .n_headers = hc.n, .query = query,
        .n_query = qc.n, .body = cs->body ? cs->body : (const uint8_t *)"", .body_len = cs->len,
        .tls = s->o.tls,
    };
    if (cs->body)
        cs->body[cs->len] = 0;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req.peer_ip, sizeof(req.peer_ip));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req.peer_ip, sizeof(req.peer_ip));
    }
    struct http_response resp = { .status = 500, .content_type = "text/plain" };
    s->o.handler(s->o.arg, &req, &resp);

    /* Answers may carry plaintext (Decrypt, GenerateDataKey...): MHD frees
     * the body through ku_wipe_free once it is sent. */
    struct MHD_Response *r =
        resp.body ? MHD_create_response_from_buffer_with_free_callback(resp.body_len, resp.body,
                                                                       ku_wipe_free)
                  : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        ku_wipe_free(resp.body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", resp.content_type);
    if (resp.request_id[0])
        MHD_add_response_header(r, "x-amzn-RequestId", resp.request_id);
    if (resp.extra_header)
        MHD_add_response_header(r, resp.extra_header, resp.extra_value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct conn_state *cs = *con_cls;
    if (cs) {
        /* request bodies may carry plaintext */
        if (cs->body) {
            OPENSSL_cleanse(cs->body, cs->cap + 1);
            free(cs->body);
        }
        free(cs);
    }
    *con_cls = NULL;
}

int http_start(const struct http_opts *o, struct http_server **out, struct cl_error *err)
{
    *out = NULL;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", o->port);
    int g = getaddrinfo(o->host, port, &hints, &ai);
    if (g != 0)
        return cl_fail(err, CL_EINVAL, "cannot resolve %s: %s", o->host, gai_strerror(g));
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        freeaddrinfo(ai);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    s->o = *o;
    unsigned threads = o->threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 2;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[12];
    size_t k = 0;
    opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr };
    if (threads > 1)   /* one thread: the internal polling thread alone */
        opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, threads, NULL };
    opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, 120, NULL };
    opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, 4096, NULL };
    opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL };
    opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL };
    if (o->tls) {
        opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->key_pem };
        opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->cert_pem };
        opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
                                             (void *)"NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL" };
    }
    opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, s, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        free(s);
        return cl_fail(err, CL_EIO, "cannot listen on %s:%u (address in use, or bad TLS material)",
                       o->host, o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    *out = s;
    return 0;
}

uint16_t http_port(const struct http_server *s)
{
    return s->port;
}

void http_url_authority(const struct http_server *s, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    char host[INET6_ADDRSTRLEN] = "127.0.0.1";
    bool v6 = false;
    if (di && getsockname(di->listen_fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            v6 = true;
            if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
                snprintf(host, sizeof(host), "::1");
            else
                inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        } else if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            if (a->sin_addr.s_addr != htonl(INADDR_ANY))
                inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        }
    }
    snprintf(out, cap, v6 ? "[%s]:%u" : "%s:%u", host, s->port);
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
