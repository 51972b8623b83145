/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --docker-uri URI: the image of a local Docker daemon, through the Docker
 * Engine API over its Unix socket (GET /images/{name}/json to inspect it,
 * POST /images/create to pull it when the daemon does not have it, GET
 * /images/{name}/get for a `docker save` tarball, which is then read as
 * --docker-archive is). The socket is $DOCKER_HOST when it is
 * unix://PATH, else /var/run/docker.sock. ImageName, ImageVersion and
 * DockerInfo are nitro-cli's (docs/build-enclave.md).
 */
#include "image/image.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/fileio.h"
#include "image/image_internal.h"

#define DAEMON_HINT                                                                         \
    "build without one from --docker-archive FILE (a `docker save` tarball), --oci-layout " \
    "DIR, --oci-archive FILE or --rootfs DIR"

/* Where an answer's body goes: memory (JSON, at most IMAGE_JSON_MAX) or a file. */
struct daemon_answer {
    char *data; /* NUL-terminated */
    size_t len;
    int fd; /* >= 0: write there instead */
    bool failed;
};

static size_t curl_sink(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    struct daemon_answer *m = ctx;
    size_t n = size * nmemb;
    if (m->fd >= 0) {
        if (fd_write_all(m->fd, ptr, n, NULL) < 0) {
            m->failed = true;
            return 0;
        }
        return n;
    }
    if (m->len + n > IMAGE_JSON_MAX) {
        m->failed = true;
        return 0;
    }
    char *nd = realloc(m->data, m->len + n + 1);
    if (!nd) {
        m->failed = true;
        return 0;
    }
    memcpy(nd + m->len, ptr, n);
    m->len += n;
    nd[m->len] = '\0';
    m->data = nd;
    return n;
}

static int daemon_call(const char *sock, const char *method, const char *path,
                       struct daemon_answer *m, long *status, struct cl_error *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    char url[1024];
    snprintf(url, sizeof(url), "http://localhost%s", path);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK || m->failed)
        return cl_fail(err, CL_EIO, "Docker daemon at %s: %s %s: %s", sock, method, path,
                       m->failed ? "cannot store the answer" : curl_easy_strerror(cc));
    return 0;
}

/* The daemon's socket: socket_path, else $DOCKER_HOST's unix:// path, else the default. */
static const char *daemon_socket(const char *socket_path)
{
    const char *dh = getenv("DOCKER_HOST");
    if (socket_path)
        return socket_path;
    if (dh && !strncmp(dh, "unix://", 7))
        return dh + 7;
    return "/var/run/docker.sock";
}

/* Is anyone there? A plain connect, so that the error names the socket. */
static int daemon_reachable(const char *sock, struct cl_error *err)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (s < 0 || strlen(sock) >= sizeof(sa.sun_path)) {
        if (s >= 0)
            close(s);
        return cl_fail(err, CL_ENOTFOUND, "no Docker daemon is reachable at %s; " DAEMON_HINT,
                       sock);
    }
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(s);
        return cl_fail(err, CL_ENOTFOUND, "no Docker daemon is reachable at %s (%s); " DAEMON_HINT,
                       sock, strerror(e));
    }
    close(s);
    return 0;
}

/* `docker image inspect` of uri into *inspect (a new reference), pulling
 * the image first (as nitro-cli does) when the daemon does not have it. */
static int daemon_inspect(const char *sock, const char *uri, json_t **inspect, bool *pulled,
                          struct cl_error *err)
{
    *inspect = NULL;
    *pulled = false;
    struct daemon_answer m = { .fd = -1 };
    char path[1024];
    long status = 0;
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        free(m.data);
        m = (struct daemon_answer){ .fd = -1 };
        snprintf(path, sizeof(path), "/images/%s/json", uri);
        rc = daemon_call(sock, "GET", path, &m, &status, err);
        if (rc < 0 || status == 200)
            break;
        if (status != 404 || attempt) {
            rc = cl_fail(err, CL_EIO, "Docker daemon: inspecting '%s' answered %ld", uri, status);
            break;
        }
        free(m.data);
        m = (struct daemon_answer){ .fd = -1 };
        snprintf(path, sizeof(path), "/images/create?fromImage=%s", uri);
        rc = daemon_call(sock, "POST", path, &m, &status, err);
        if (rc == 0 && (status != 200 || (m.data && strstr(m.data, "\"error\""))))
            rc = cl_fail(err, CL_EIO, "Docker daemon: pulling '%s' failed: %.300s", uri,
                         m.data ? m.data : "");
        if (rc < 0)
            break;
        *pulled = true;
    }
    if (rc == 0) {
        json_error_t je;
        *inspect = json_loadb(m.data ? m.data : "", m.len, JSON_REJECT_DUPLICATES, &je);
        if (!json_string_value(json_object_get(*inspect, "Id")))
            rc = cl_fail(err, CL_EFORMAT, "Docker daemon: inspecting '%s' gave no image Id", uri);
    }
    free(m.data);
    if (rc < 0) {
        json_decref(*inspect);
        *inspect = NULL;
    }
    return rc;
}

/* The image as a `docker save` tarball, in an unlinked spool file: *fd. */
static int daemon_export(const char *sock, const char *uri, const char *spool_dir, int *fd,
                         struct cl_error *err)
{
    char tmpl[PATH_MAX];
    const char *dir = spool_dir ? spool_dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(tmpl, sizeof(tmpl), "%s/cloister-docker.XXXXXX", dir);
    *fd = mkostemp(tmpl, O_CLOEXEC);
    if (*fd < 0)
        return cl_fail_errno(err, CL_EIO, "cannot create a temporary file in '%s'", dir);
    unlink(tmpl);
    struct daemon_answer m = { .fd = *fd };
    char path[1024];
    long status = 0;
    snprintf(path, sizeof(path), "/images/%s/get", uri);
    int rc = daemon_call(sock, "GET", path, &m, &status, err);
    if (rc == 0 && status != 200)
        rc = cl_fail(err, CL_EIO, "Docker daemon: exporting '%s' answered %ld", uri, status);
    return rc;
}

int image_from_docker_daemon(const char *uri, const char *socket_path, const char *spool_dir,
                             struct image **out, struct cl_error *err)
{
    *out = NULL;
    const char *sock = daemon_socket(socket_path);
    for (const char *p = uri; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._/:@-", *p))
            return cl_fail(err, CL_EINVAL, "invalid Docker image reference '%s'", uri);
    if (!*uri)
        return cl_fail(err, CL_EINVAL, "empty Docker image reference");
    int rc = daemon_reachable(sock, err);
    if (rc < 0)
        return rc;

    int fd = -1;
    struct image *img = NULL;
    json_t *inspect = NULL;
    bool pulled = false;
    rc = daemon_inspect(sock, uri, &inspect, &pulled, err);
    if (rc == 0)
        rc = daemon_export(sock, uri, spool_dir, &fd, err);
    if (rc < 0)
        goto out;
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    rc = image_from_docker_archive(fdpath, spool_dir, &img, err);
    if (rc < 0)
        goto out;
    /* nitro-cli: DockerInfo is `docker image inspect`; ImageName the URI
     * before its first ':'; ImageVersion the Id without "sha256:". */
    const char *id = json_string_value(json_object_get(inspect, "Id"));
    json_decref(img->config);
    img->config = json_incref(inspect);
    free(img->default_name);
    free(img->default_version);
    img->default_name = image_name_before_colon(uri);
    img->default_version = strdup(!strncmp(id, "sha256:", 7) ? id + 7 : id);
    img->pulled = pulled;
    if (!img->default_name || !img->default_version)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
out:
    if (fd >= 0)
        close(fd);
    json_decref(inspect);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}
