/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DockerInfo of an EIF built from a Docker daemon, as nitro-cli writes
 * it. nitro-cli does not copy the daemon's `docker image inspect` answer:
 * its Docker client (bollard 0.19, with the API models of
 * bollard-stubs 1.49.1-rc.28.4.0) reads the answer into its ImageInspect
 * struct and nitro-cli turns that struct back into JSON (serde_json's
 * json!(), keys sorted). So DockerInfo holds only the fields that struct
 * knows (Docker 20.10's Container and ContainerConfig are dropped), a
 * field that was null or absent is left out, and a few nulls become empty
 * values (GraphDriver.Data null -> {}). docs/build-enclave.md ("The
 * metadata section") lists the fields.
 */
#ifndef CLOISTER_IMAGE_DOCKER_INSPECT_H
#define CLOISTER_IMAGE_DOCKER_INSPECT_H

#include <jansson.h>

#include <cloister/error.h>

/*
 * inspect (borrowed): the answer of GET /images/{name}/json. *out: a new
 * object, the DockerInfo nitro-cli would write. A field of the wrong type,
 * or a required one missing (where bollard refuses the answer), is
 * CL_EFORMAT "the image inspect's '<path>' <what>".
 */
CL_MUST_USE int docker_inspect_info(json_t *inspect, json_t **out, struct cl_error *err);

#endif
