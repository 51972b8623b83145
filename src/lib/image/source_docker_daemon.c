/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --docker-uri URI: the image of a local Docker daemon, through the Docker
 * Engine API (docker_engine.h). docker_daemon_pull() makes sure the daemon
 * has it, as nitro-cli's pull_image does: GET /images/{name}/json, and
 * POST /images/create?fromImage=URI only when that is 404.
 * image_from_docker_daemon() then reads it: the inspect answer again (the
 * DockerInfo, docker_inspect.h), and GET /images/{name}/get, a `docker
 * save` tarball spooled to an unlinked file and read as --docker-archive
 * is. ImageName, ImageVersion and DockerInfo are nitro-cli's
 * (docs/build-enclave.md).
 */
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/docker_daemon.h"
#include "image/docker_engine.h"
#include "image/docker_inspect.h"
#include "image/image_internal.h"

#define REFERENCE_MAX 1024

int docker_daemon_reference(const char *uri, char **ref, struct cl_error *err)
{
    *ref = NULL;
    if (!*uri)
        return cl_fail(err, CL_EINVAL, "empty Docker image reference");
    for (const char *p = uri; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            !strchr("._/:@-", *p))
            return cl_fail(err, CL_EINVAL, "invalid Docker image reference '%s'", uri);
    if (strlen(uri) > REFERENCE_MAX)
        return cl_fail(err, CL_ELIMIT, "Docker image reference '%.40s...' is over %d bytes", uri,
                       REFERENCE_MAX);
    /* nitro-cli's DockerUtil::new: "if !docker_image.contains(':')". */
    if (asprintf(ref, "%s%s", uri, strchr(uri, ':') ? "" : ":latest") < 0) {
        *ref = NULL;
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    return 0;
}

/* GET /images/{ref}/json into *inspect when the daemon has the image;
 * *status says whether it had (200) or not (404). */
static int inspect_image(const struct docker_engine *e, const char *ref, json_t **inspect,
                         long *status, struct cl_error *err)
{
    *inspect = NULL;
    char path[REFERENCE_MAX + 32];
    snprintf(path, sizeof(path), "/images/%s/json", ref);
    struct docker_call c = { .method = "GET", .path = path, .upload_fd = -1, .download_fd = -1 };
    int rc = docker_engine_call(e, &c, err);
    *status = c.status;
    if (rc == 0 && c.status == 200) {
        json_error_t je;
        *inspect = json_loadb(c.body ? c.body : "", c.len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(*inspect) || !json_string_value(json_object_get(*inspect, "Id"))) {
            json_decref(*inspect);
            *inspect = NULL;
            rc = cl_fail(err, CL_EFORMAT, "Docker daemon: inspecting '%s' gave no image Id", ref);
        }
    } else if (rc == 0 && c.status != 404) {
        rc = cl_fail(err, CL_EIO, "Docker daemon: inspecting '%s' answered %ld: %s", ref, c.status,
                     docker_call_reason(&c));
    }
    docker_call_clear(&c);
    return rc;
}

/* POST /images/create?fromImage=ref: a pull, its failure in its messages. */
static int pull_image(const struct docker_engine *e, const char *ref, struct cl_error *err)
{
    char path[REFERENCE_MAX + 32];
    snprintf(path, sizeof(path), "/images/create?fromImage=%s", ref);
    struct docker_call c = {
        .method = "POST", .path = path, .upload_fd = -1, .download_fd = -1, .messages = true
    };
    int rc = docker_engine_call(e, &c, err);
    if (rc == 0 && (c.status < 200 || c.status > 299 || c.msgs.error))
        rc = cl_fail(err, CL_EIO, "Docker daemon: pulling '%s' failed: %s", ref,
                     c.msgs.error ? c.msgs.error : docker_call_reason(&c));
    docker_call_clear(&c);
    return rc;
}

int docker_daemon_pull(const char *uri, const char *socket_path, bool *pulled, struct cl_error *err)
{
    *pulled = false;
    char *ref = NULL;
    struct docker_engine *e = NULL;
    json_t *inspect = NULL;
    long status = 0;
    int rc = docker_daemon_reference(uri, &ref, err);
    if (rc == 0)
        rc = docker_engine_open(socket_path, DOCKER_DAEMON_HINT_URI, &e, err);
    if (rc == 0)
        rc = inspect_image(e, ref, &inspect, &status, err);
    if (rc == 0 && status == 404) {
        rc = pull_image(e, ref, err);
        *pulled = rc == 0;
    }
    json_decref(inspect);
    docker_engine_free(e);
    free(ref);
    return rc;
}

/* The image as a `docker save` tarball, in an unlinked spool file: *fd. */
static int export_image(const struct docker_engine *e, const char *ref, const char *spool_dir,
                        int *fd, struct cl_error *err)
{
    char tmpl[PATH_MAX];
    const char *dir = spool_dir ? spool_dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int l = snprintf(tmpl, sizeof(tmpl), "%s/cloister-docker.XXXXXX", dir);
    *fd =
        l > 0 && (size_t)l < sizeof(tmpl) ? mkostemp(tmpl, O_CLOEXEC) : (errno = ENAMETOOLONG, -1);
    if (*fd < 0)
        return cl_fail_errno(err, CL_EIO, "cannot create a temporary file in '%s'", dir);
    unlink(tmpl);
    char path[REFERENCE_MAX + 32];
    snprintf(path, sizeof(path), "/images/%s/get", ref);
    struct docker_call c = { .method = "GET", .path = path, .upload_fd = -1, .download_fd = *fd };
    int rc = docker_engine_call(e, &c, err);
    if (rc == 0 && c.status != 200)
        rc = cl_fail(err, CL_EIO, "Docker daemon: exporting '%s' answered %ld: %s", ref, c.status,
                     docker_call_reason(&c));
    docker_call_clear(&c);
    return rc;
}

/* nitro-cli's metadata: DockerInfo from the inspect answer, ImageName the
 * reference before its first ':', ImageVersion the Id without "sha256:"
 * (enclave_build/src/lib.rs, generate_identity_info). */
static int set_metadata(struct image *img, const char *ref, json_t *inspect, struct cl_error *err)
{
    json_t *info = NULL;
    int rc = docker_inspect_info(inspect, &info, err);
    if (rc < 0)
        return rc;
    const char *id = json_string_value(json_object_get(inspect, "Id"));
    json_decref(img->config);
    img->config = info;
    free(img->default_name);
    free(img->default_version);
    img->default_name = image_name_before_colon(ref);
    img->default_version = strdup(!strncmp(id, "sha256:", 7) ? id + 7 : id);
    if (!img->default_name || !img->default_version)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return 0;
}

int image_from_docker_daemon(const char *uri, const char *socket_path, const char *spool_dir,
                             struct image **out, struct cl_error *err)
{
    *out = NULL;
    char *ref = NULL;
    struct docker_engine *e = NULL;
    struct image *img = NULL;
    json_t *inspect = NULL;
    long status = 0;
    int fd = -1;
    int rc = docker_daemon_reference(uri, &ref, err);
    if (rc == 0)
        rc = docker_engine_open(socket_path, DOCKER_DAEMON_HINT_URI, &e, err);
    if (rc == 0)
        rc = inspect_image(e, ref, &inspect, &status, err);
    if (rc == 0 && status == 404)
        rc = cl_fail(err, CL_ENOTFOUND, "the Docker daemon has no image '%s'", ref);
    if (rc == 0)
        rc = export_image(e, ref, spool_dir, &fd, err);
    if (rc == 0) {
        char fdpath[64];
        snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
        rc = image_from_docker_archive(fdpath, spool_dir, &img, err);
        if (rc < 0) /* the spool's name says little: name the image */
            cl_error_prefix(err, "Docker image '%s'", ref);
    }
    if (rc == 0)
        rc = set_metadata(img, ref, inspect, err);
    if (fd >= 0)
        close(fd);
    json_decref(inspect);
    docker_engine_free(e);
    free(ref);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}
