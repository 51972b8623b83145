/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What build-enclave asks of a Docker daemon before it reads an image from
 * it (image_from_docker_daemon(), image.h), the two ways nitro-cli makes
 * sure the daemon has the image:
 *
 *   docker_daemon_pull()   --docker-uri URI: nothing when the daemon has
 *                          URI ("Using the locally available Docker
 *                          image..."), else POST /images/create, as
 *                          nitro-cli's pull_image (source_docker_daemon.c)
 *   docker_daemon_build()  --docker-dir DIR --docker-uri TAG: POST /build
 *                          with DIR as the context, tagged TAG, as
 *                          nitro-cli's build_image (docker_build.c)
 *
 * A reference without ':' gets ":latest", as nitro-cli's DockerUtil::new
 * gives it (docker_daemon_reference()). socket_path NULL: $DOCKER_HOST
 * when it is unix://PATH, else /var/run/docker.sock (docker_engine.h).
 * docs/build-enclave.md ("The Docker daemon") has the rules and sources.
 */
#ifndef CLOISTER_IMAGE_DOCKER_DAEMON_H
#define CLOISTER_IMAGE_DOCKER_DAEMON_H

#include <stdbool.h>

#include <cloister/error.h>

/* What a daemon failure suggests instead, for each way in. */
#define DOCKER_DAEMON_HINT_URI                                                              \
    "build without one from --docker-archive FILE (a `docker save` tarball), --oci-layout " \
    "DIR, --oci-archive FILE or --rootfs DIR"
#define DOCKER_DAEMON_HINT_DIR                                                                   \
    "--docker-dir builds the Dockerfile with one; without one, build the image with your tools " \
    "and pass it as --docker-archive FILE, --oci-layout DIR or --oci-archive FILE"

/*
 * uri checked (letters, digits and "._/:@-" only: CL_EINVAL "invalid
 * Docker image reference '<uri>'") and given ":latest" when it has no ':'.
 * *ref malloc'd.
 */
CL_MUST_USE int docker_daemon_reference(const char *uri, char **ref, struct cl_error *err);

/*
 * Makes sure the daemon has uri: *pulled false when it had it, true once
 * pulled. No daemon: CL_ENOTFOUND "no Docker daemon is reachable at <path>
 * (<why>); " DOCKER_DAEMON_HINT_URI. A failed pull: CL_EIO "Docker daemon:
 * pulling '<ref>' failed: <the daemon's reason>".
 */
CL_MUST_USE int docker_daemon_pull(const char *uri, const char *socket_path, bool *pulled,
                                   struct cl_error *err);

/*
 * Builds the Dockerfile of dir (the context: docker_context.h) and tags
 * the image uri. The context is spooled in an unlinked file under
 * spool_dir (NULL: $TMPDIR, else /tmp). No daemon: CL_ENOTFOUND "no Docker
 * daemon is reachable at <path> (<why>); " DOCKER_DAEMON_HINT_DIR. A
 * failed build: CL_EIO "Docker daemon: building '<ref>' from '<dir>'
 * failed: <the daemon's reason>".
 */
CL_MUST_USE int docker_daemon_build(const char *dir, const char *uri, const char *socket_path,
                                    const char *spool_dir, struct cl_error *err);

#endif
