/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Docker Engine API client (docker_engine.h): finding the daemon, the
 * version negotiation, one call through libcurl over the Unix socket, and
 * the JSON message streams of pulls and builds. The Engine API's calls
 * and their answers are documented at docs.docker.com/engine/api/ (the
 * "Versioning" section for the /vX.Y/ prefix and GET /version).
 */
#include "image/docker_engine.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "base/fileio.h"

/* cl_fail() with "; <hint>" after the reason when there is a hint. */
static int fail_hint(struct cl_error *err, int code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_hint(struct cl_error *err, int code, const char *hint, const char *fmt, ...)
{
    char msg[CL_ERROR_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cl_fail(err, code, "%s%s%s", msg, hint ? "; " : "", hint ? hint : "");
}

/* The daemon's socket: socket_path, else $DOCKER_HOST's unix:// path, else
 * the default, as the docker CLI and nitro-cli's client look for it. */
static int find_socket(const char *socket_path, const char *hint, const char **sock,
                       struct cl_error *err)
{
    const char *dh = getenv("DOCKER_HOST");
    if (socket_path)
        *sock = socket_path;
    else if (!dh || !*dh)
        *sock = DOCKER_ENGINE_DEFAULT;
    else if (!strncmp(dh, "unix://", 7) && dh[7])
        *sock = dh + 7;
    else
        return fail_hint(err, CL_EUNSUPPORTED, hint,
                         "DOCKER_HOST '%s' is not supported: Cloister reaches the Docker daemon "
                         "through its Unix socket (unix://PATH)",
                         dh);
    return 0;
}

/* Is anyone there? A plain connect first, so that the error names the
 * socket and the system's reason rather than libcurl's. */
static int check_reachable(const char *sock, const char *hint, struct cl_error *err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(sock) >= sizeof(sa.sun_path))
        return fail_hint(err, CL_ENOTFOUND, hint,
                         "no Docker daemon is reachable at %s (the path is too long for a socket)",
                         sock);
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (s >= 0)
            close(s);
        return fail_hint(err, CL_ENOTFOUND, hint, "no Docker daemon is reachable at %s (%s)", sock,
                         strerror(e));
    }
    close(s);
    return 0;
}

/* "<major>.<minor>", digits only, each at most 4 of them. */
static bool parse_version(const char *s, unsigned v[2])
{
    for (int i = 0; i < 2; i++) {
        unsigned n = 0, digits = 0;
        for (; *s >= '0' && *s <= '9' && digits < 5; s++, digits++)
            n = n * 10 + (unsigned)(*s - '0');
        if (digits == 0 || digits > 4 || *s != (i == 0 ? '.' : '\0'))
            return false;
        v[i] = n;
        s++;
    }
    return true;
}

static int version_cmp(const unsigned a[2], const unsigned b[2])
{
    return a[0] != b[0] ? (a[0] < b[0] ? -1 : 1) : (a[1] < b[1] ? -1 : a[1] > b[1]);
}

int docker_engine_pick_version(const char *server, char out[static 12], struct cl_error *err)
{
    unsigned s[2], max[2], min[2];
    if (!server || !parse_version(server, s))
        return cl_fail(err, CL_EFORMAT,
                       "the Docker daemon's ApiVersion '%s' is not <major>.<minor>",
                       server ? server : "(none)");
    if (!parse_version(DOCKER_ENGINE_API_MAX, max) || !parse_version(DOCKER_ENGINE_API_MIN, min))
        return cl_fail(err, CL_EINVAL, "bad built-in API version");
    if (version_cmp(s, min) < 0)
        return cl_fail(err, CL_EUNSUPPORTED,
                       "the Docker daemon speaks Engine API %s; Cloister needs %s or later", server,
                       DOCKER_ENGINE_API_MIN);
    const unsigned *v = version_cmp(s, max) < 0 ? s : max;
    snprintf(out, 12, "%u.%u", v[0] % 10000, v[1] % 10000);
    return 0;
}

/* ---- the message streams ---- */

static int take_message(struct docker_messages *m, struct cl_error *err)
{
    size_t len = m->len;
    while (len && (m->line[len - 1] == '\r' || m->line[len - 1] == ' '))
        len--;
    if (len == 0)
        return 0;
    json_error_t je;
    json_t *o = json_loadb(m->line, len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return cl_fail(err, CL_EFORMAT,
                       "Docker daemon: a message of its answer is not a JSON "
                       "object");
    }
    int rc = 0;
    const char *e = json_string_value(json_object_get(o, "error"));
    if (e && !m->error && !(m->error = strdup(e)))
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    json_decref(o);
    return rc;
}

static int line_append(struct docker_messages *m, const char *p, size_t n, struct cl_error *err)
{
    if (m->len + n > DOCKER_ENGINE_MESSAGE_MAX)
        return cl_fail(err, CL_ELIMIT, "Docker daemon: a message of its answer is over %u bytes",
                       DOCKER_ENGINE_MESSAGE_MAX);
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n + 1)
            cap *= 2;
        char *nl = realloc(m->line, cap);
        if (!nl)
            return cl_fail(err, CL_ENOMEM, "out of memory");
        m->line = nl;
        m->cap = cap;
    }
    memcpy(m->line + m->len, p, n);
    m->len += n;
    return 0;
}

int docker_messages_feed(struct docker_messages *m, const char *data, size_t n,
                         struct cl_error *err)
{
    while (n) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        int rc = line_append(m, data, take, err);
        if (rc == 0 && nl) {
            rc = take_message(m, err);
            m->len = 0;
            take++;
        }
        if (rc < 0)
            return rc;
        data += take;
        n -= take;
    }
    return 0;
}

int docker_messages_end(struct docker_messages *m, struct cl_error *err)
{
    int rc = take_message(m, err);
    m->len = 0;
    return rc;
}

void docker_messages_clear(struct docker_messages *m)
{
    free(m->line);
    free(m->error);
    memset(m, 0, sizeof(*m));
}

/* ---- one call ---- */

struct transfer {
    struct docker_call *c;
    CURL *curl;
    struct cl_error *err;
    int rc; /* a failure inside a callback */
};

static int body_append(struct docker_call *c, const char *p, size_t n, struct cl_error *err)
{
    if (c->len + n > DOCKER_ENGINE_ANSWER_MAX)
        return cl_fail(err, CL_ELIMIT, "Docker daemon: an answer over %u bytes",
                       DOCKER_ENGINE_ANSWER_MAX);
    char *nb = realloc(c->body, c->len + n + 1);
    if (!nb)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    memcpy(nb + c->len, p, n);
    c->len += n;
    nb[c->len] = '\0';
    c->body = nb;
    return 0;
}

static size_t on_answer(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct transfer *t = ctx;
    struct docker_call *c = t->c;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    bool ok = status >= 200 && status < 300;
    if (ok && c->download_fd >= 0)
        t->rc = fd_write_all(c->download_fd, p, n, t->err);
    else if (ok && c->messages)
        t->rc = docker_messages_feed(&c->msgs, p, n, t->err);
    else
        t->rc = body_append(c, p, n, t->err);
    return t->rc < 0 ? 0 : n;
}

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *ctx)
{
    struct transfer *t = ctx;
    ssize_t r;
    do
        r = read(t->c->upload_fd, buf, size * nmemb);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        t->rc = cl_fail_errno(t->err, CL_EIO, "cannot read the request body");
        return CURL_READFUNC_ABORT;
    }
    return (size_t)r;
}

/* The request's options; the header list is the caller's to free. */
static int set_up(CURL *curl, const struct docker_engine *e, struct transfer *t, const char *url,
                  struct curl_slist **headers)
{
    struct docker_call *c = t->c;
    bool post = !strcmp(c->method, "POST");
    char ctype[160];
    int l = snprintf(ctype, sizeof(ctype), "Content-Type:%s%s", c->content_type ? " " : "",
                     c->content_type ? c->content_type : "");
    if (l < 0 || (size_t)l >= sizeof(ctype))
        return CL_EINVAL;
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    if (h && post && !curl_slist_append(h, ctype)) {
        curl_slist_free_all(h);
        h = NULL;
    }
    *headers = h;
    if (!h)
        return CL_ENOMEM;
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, e->socket);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    if (post && c->upload_fd >= 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(curl, CURLOPT_READDATA, t);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->upload_len);
    } else if (post) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    } else if (strcmp(c->method, "GET")) {
        return CL_EINVAL;
    }
    return 0;
}

int docker_engine_call(const struct docker_engine *e, struct docker_call *c, struct cl_error *err)
{
    char path[2048], url[2100];
    int pl = e->version[0] ? snprintf(path, sizeof(path), "/v%s%s", e->version, c->path)
                           : snprintf(path, sizeof(path), "%s", c->path);
    if (pl < 0 || (size_t)pl >= sizeof(path))
        return cl_fail(err, CL_EINVAL, "Docker daemon: the request path is too long");
    snprintf(url, sizeof(url), "http://localhost%s", path);
    CURL *curl = curl_easy_init();
    if (!curl)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    struct transfer t = { .c = c, .curl = curl, .err = err };
    struct curl_slist *headers = NULL;
    int rc = set_up(curl, e, &t, url, &headers);
    if (rc < 0) {
        rc = cl_fail(err, rc, "Docker daemon: cannot set up %s %s", c->method, path);
    } else {
        CURLcode cc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
        if (t.rc < 0)
            rc = t.rc;
        else if (cc != CURLE_OK)
            rc = cl_fail(err, CL_EIO, "Docker daemon at %s: %s %s: %s", e->socket, c->method, path,
                         curl_easy_strerror(cc));
        else if (c->messages && c->status >= 200 && c->status < 300)
            rc = docker_messages_end(&c->msgs, err);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

void docker_call_clear(struct docker_call *c)
{
    free(c->body);
    free(c->reason);
    docker_messages_clear(&c->msgs);
    c->body = c->reason = NULL;
    c->len = 0;
    c->status = 0;
}

const char *docker_call_reason(struct docker_call *c)
{
    if (c->reason)
        return c->reason;
    json_t *j = c->body ? json_loadb(c->body, c->len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (msg) {
        c->reason = strdup(msg);
    } else if (c->body && c->len) {
        size_t n = c->len;
        while (n && (c->body[n - 1] == '\n' || c->body[n - 1] == '\r'))
            n--;
        c->reason = strndup(c->body, n < 300 ? n : 300);
    } else {
        char s[32];
        snprintf(s, sizeof(s), "HTTP %ld", c->status);
        c->reason = strdup(s);
    }
    json_decref(j);
    return c->reason ? c->reason : "out of memory";
}

void docker_engine_free(struct docker_engine *e)
{
    if (!e)
        return;
    free(e->socket);
    free(e);
}

/* GET /version: the daemon's ApiVersion, then the one to use. */
static int negotiate(struct docker_engine *e, struct cl_error *err)
{
    struct docker_call c = {
        .method = "GET", .path = "/version", .upload_fd = -1, .download_fd = -1
    };
    int rc = docker_engine_call(e, &c, err);
    if (rc == 0 && c.status != 200)
        rc = cl_fail(err, CL_EIO, "Docker daemon at %s: GET /version answered %ld: %s", e->socket,
                     c.status, docker_call_reason(&c));
    json_t *v = rc == 0 ? json_loadb(c.body ? c.body : "", c.len, 0, NULL) : NULL;
    if (rc == 0)
        rc = docker_engine_pick_version(json_string_value(json_object_get(v, "ApiVersion")),
                                        e->version, err);
    if (rc < 0)
        e->version[0] = '\0';
    json_decref(v);
    docker_call_clear(&c);
    return rc;
}

int docker_engine_open(const char *socket_path, const char *hint, struct docker_engine **out,
                       struct cl_error *err)
{
    *out = NULL;
    const char *sock = NULL;
    int rc = find_socket(socket_path, hint, &sock, err);
    if (rc == 0)
        rc = check_reachable(sock, hint, err);
    if (rc < 0)
        return rc;
    struct docker_engine *e = calloc(1, sizeof(*e));
    if (!e || !(e->socket = strdup(sock))) {
        free(e);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    rc = negotiate(e, err);
    if (rc < 0) {
        docker_engine_free(e);
        return rc;
    }
    *out = e;
    return 0;
}
