/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An enclave image as build-enclave reads it: its tree, its command and
 * environment, and what its metadata says. pipeline.h turns one into an
 * EIF; this header is what the sources give it. None of the sources needs
 * a Docker daemon (the one that does says so and names the others):
 *
 *   image_from_rootfs()          a directory: the image's tree as it is
 *                                (source_rootfs.c)
 *   image_from_docker_archive()  a `docker save` tarball: manifest.json,
 *                                the config, layer tars (plain or gzip)
 *                                (source_docker_archive.c)
 *   image_from_oci_layout()      an OCI image layout directory (index.json
 *   image_from_oci_archive()     -> manifest -> config + layers), or a tar
 *                                of one; every blob's digest is checked
 *                                (source_oci.c)
 *   image_from_docker_daemon()   `docker save` of an image a reachable
 *                                local daemon has, through its Engine API
 *                                (source_docker_daemon.c; pulling or
 *                                building it first: docker_daemon.h)
 *
 * Layers are applied in order with whiteouts (image_layer.h). From the
 * image config, as nitro-cli's build-enclave does (image_config.c; the
 * rules and their sources are in docs/build-enclave.md, "Command and
 * environment"): the command is Config.Cmd if present, otherwise
 * Config.Entrypoint, never both; the environment is Config.Env; WORKDIR
 * and USER are not carried (the enclave's init runs the command as root
 * from /): WORKDIR is kept in struct image only for build-enclave's note.
 *
 * A reference may name one image of several: "DIR:TAG" / "FILE:TAG" picks
 * the manifest whose org.opencontainers.image.ref.name (OCI) or RepoTags
 * entry (docker) is TAG; the whole text is tried as a path first.
 */
#ifndef CLOISTER_IMAGE_H
#define CLOISTER_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "image/image_tree.h"

/* Bounds on the JSON documents of an image (manifests, index, config). */
#define IMAGE_JSON_MAX (16u << 20)

struct image {
    struct image_tree *tree; /* owned; left empty once grafted into the customer ramdisk */
    char **cmd;              /* owned, ncmd strings (NULL-terminated array) */
    size_t ncmd;
    bool has_cmd; /* a command: the config's Cmd or Entrypoint, or image_set_cmd() */
    char **env;   /* owned, nenv "KEY=VALUE" strings */
    size_t nenv;
    char *workdir; /* owned: the config's WorkingDir, NULL when it has none (never used:
                    * the enclave's command starts in /; build-enclave says so) */
    json_t *config;        /* owned reference: the image config (DockerInfo); NULL for a rootfs */
    char *default_name;    /* owned: ImageName when --name is not given */
    char *default_version; /* owned: ImageVersion when --version is not given */
    uint16_t eif_flags;    /* EIF header flags from the image's architecture */
};

/*
 * Each returns a new image in *out (caller frees with image_free()).
 * spool_dir: where the unlinked spool of layer contents goes (NULL: $TMPDIR
 * or /tmp). Bad input fails with a reason naming the file, the layer and
 * the entry.
 */
CL_MUST_USE int image_from_rootfs(const char *dir, struct image **out, struct cl_error *err);
CL_MUST_USE int image_from_docker_archive(const char *ref, const char *spool_dir,
                                          struct image **out, struct cl_error *err);
CL_MUST_USE int image_from_oci_layout(const char *ref, const char *spool_dir, struct image **out,
                                      struct cl_error *err);
CL_MUST_USE int image_from_oci_archive(const char *ref, const char *spool_dir, struct image **out,
                                       struct cl_error *err);
/*
 * uri as `docker` takes it (":latest" added when it has no ':'), an image
 * the daemon has: CL_ENOTFOUND "the Docker daemon has no image '<ref>'"
 * otherwise (docker_daemon_pull() gets it first). socket_path NULL:
 * $DOCKER_HOST when it is unix://PATH, else /var/run/docker.sock. Without
 * a reachable daemon: CL_ENOTFOUND "no Docker daemon is reachable at
 * <path> (<why>); build without one from --docker-archive FILE (a `docker
 * save` tarball), --oci-layout DIR, --oci-archive FILE or --rootfs DIR".
 * DockerInfo is nitro-cli's (docker_inspect.h).
 */
CL_MUST_USE int image_from_docker_daemon(const char *uri, const char *socket_path,
                                         const char *spool_dir, struct image **out,
                                         struct cl_error *err);
void image_free(struct image *img);

/*
 * --cmd: replaces the command. A value starting with '[' is a JSON array
 * of strings (Docker's exec form); anything else is split on whitespace.
 */
CL_MUST_USE int image_set_cmd(struct image *img, const char *spec, struct cl_error *err);
/* --env KEY=VALUE: sets or replaces KEY. */
CL_MUST_USE int image_set_env(struct image *img, const char *kv, struct cl_error *err);

/*
 * Fills cmd/env/has_cmd/workdir/eif_flags from an image config object (the config
 * blob of an OCI or docker image). Exposed for tests.
 */
CL_MUST_USE int image_apply_config(struct image *img, json_t *config, struct cl_error *err);

/* ---- the metadata section (image_metadata.c; docs/build-enclave.md, "The metadata section") ----
 */

struct image_meta {
    const char *name, *version;
    const char *build_time; /* RFC 3339 text (image_rfc3339()) */
    const char *build_tool; /* "cloister" */
    const char *build_tool_version;
    const char *os, *kernel_version; /* from image_kernel_info() */
    json_t *docker_info;             /* borrowed; NULL -> null */
    json_t *custom;                  /* borrowed; NULL -> null */
};

/*
 * The compact JSON of the metadata section, keys in nitro-cli's struct
 * order (ImageName, ImageVersion, BuildMetadata{BuildTime, BuildTool,
 * BuildToolVersion, OperatingSystem, KernelVersion}, DockerInfo,
 * CustomMetadata), every key present; DockerInfo and CustomMetadata with
 * their object keys sorted (serde_json::Value's BTreeMap). *out malloc'd.
 */
CL_MUST_USE int image_metadata_json(const struct image_meta *m, char **out, struct cl_error *err);

/* RFC 3339 as chrono's to_rfc3339() prints a UTC time: 1970-01-01T00:00:00+00:00 */
CL_MUST_USE int image_rfc3339(int64_t t, char out[static 40], struct cl_error *err);

/*
 * OperatingSystem and KernelVersion from line 3 of a blobs dir's
 * bzImage.config, as nitro-cli parses it: split on ' ', '/' and '-'
 * (empty pieces kept), tokens 1 and 3. "# Linux/x86_64 4.14.256-209...
 * Kernel Configuration" -> "Linux", "4.14.256". *os and *ver malloc'd.
 */
CL_MUST_USE int image_kernel_info(const char *config_path, char **os, char **ver,
                                  struct cl_error *err);

/*
 * --metadata FILE: at most 4096 bytes (nitro-cli's MAX_META_FILE_SIZE) of
 * JSON. *out is a new reference.
 */
#define IMAGE_CUSTOM_METADATA_MAX 4096
CL_MUST_USE int image_custom_metadata(const char *path, json_t **out, struct cl_error *err);

#endif
