/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --docker-dir DIR --docker-uri TAG (docker_daemon.h): DIR's Dockerfile
 * built by the daemon, as nitro-cli's build_image does it (its docker.rs:
 * POST /build with the tar of DIR as the body, dockerfile "Dockerfile",
 * t = TAG). The context (docker_context.h) is written to an unlinked
 * spool file first, so that it streams to the daemon with its length
 * known. The daemon reports a failed build in the answer's messages with
 * status 200 ({"error": ...}), or with an error status before it starts
 * (a Dockerfile it cannot parse or find); either way the daemon's own
 * words are the reason. The daemon's default builder is the classic one
 * (the Engine API's "version" parameter, default 1), as for nitro-cli.
 */
#include "image/docker_daemon.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/docker_context.h"
#include "image/docker_engine.h"

/* The context of dir in an unlinked file under spool_dir: *fd at offset
 * 0, *len bytes. */
static int spool_context(const char *dir, const char *spool_dir, int *fd, uint64_t *len,
                         struct cl_error *err)
{
    char tmpl[PATH_MAX];
    const char *sd = spool_dir ? spool_dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int l = snprintf(tmpl, sizeof(tmpl), "%s/cloister-context.XXXXXX", sd);
    *fd =
        l > 0 && (size_t)l < sizeof(tmpl) ? mkostemp(tmpl, O_CLOEXEC) : (errno = ENAMETOOLONG, -1);
    if (*fd < 0)
        return cl_fail_errno(err, CL_EIO, "cannot create a temporary file in '%s'", sd);
    unlink(tmpl);
    int rc = docker_context_write(dir, *fd, err);
    struct stat st;
    if (rc == 0 && (fstat(*fd, &st) < 0 || lseek(*fd, 0, SEEK_SET) < 0))
        rc = cl_fail_errno(err, CL_EIO, "cannot read the build context back");
    if (rc == 0)
        *len = (uint64_t)st.st_size;
    return rc;
}

/* POST /build?dockerfile=Dockerfile&t=<ref> with the context as body. */
static int post_build(const struct docker_engine *e, const char *ref, int fd, uint64_t len,
                      const char *dir, struct cl_error *err)
{
    char *t = curl_easy_escape(NULL, ref, 0);
    if (!t)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    char path[4096]; /* a reference is at most 1024 bytes, 3 times that escaped */
    int l = snprintf(path, sizeof(path), "/build?dockerfile=Dockerfile&t=%s", t);
    curl_free(t);
    if (l < 0 || (size_t)l >= sizeof(path))
        return cl_fail(err, CL_ELIMIT, "the reference '%s' is too long", ref);
    struct docker_call c = { .method = "POST",
                             .path = path,
                             .upload_fd = fd,
                             .upload_len = len,
                             .content_type = "application/x-tar",
                             .download_fd = -1,
                             .messages = true };
    int rc = docker_engine_call(e, &c, err);
    if (rc == 0 && (c.status < 200 || c.status > 299 || c.msgs.error))
        rc = cl_fail(err, CL_EIO, "Docker daemon: building '%s' from '%s' failed: %s", ref, dir,
                     c.msgs.error ? c.msgs.error : docker_call_reason(&c));
    docker_call_clear(&c);
    return rc;
}

int docker_daemon_build(const char *dir, const char *uri, const char *socket_path,
                        const char *spool_dir, struct cl_error *err)
{
    char *ref = NULL;
    struct docker_engine *e = NULL;
    int fd = -1;
    uint64_t len = 0;
    int rc = docker_daemon_reference(uri, &ref, err);
    if (rc == 0)
        rc = docker_engine_open(socket_path, DOCKER_DAEMON_HINT_DIR, &e, err);
    if (rc == 0)
        rc = spool_context(dir, spool_dir, &fd, &len, err);
    if (rc == 0)
        rc = post_build(e, ref, fd, len, dir, err);
    if (fd >= 0)
        close(fd);
    docker_engine_free(e);
    free(ref);
    return rc;
}
