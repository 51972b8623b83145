/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-enclave's pipeline as one call: an image source becomes an EIF.
 *
 *   1. inputs    the blobs directory (bzImage, cmdline, bzImage.config,
 *                init) and the custom metadata file are checked and read
 *   2. image     for a Docker daemon source, the daemon is made to hold
 *                the image first (docker_daemon.h: pulled when missing,
 *                or built from --docker-dir); the source produces a tree
 *                and a config (image.h); the command and environment
 *                overrides are applied; the metadata section is made
 *                (image_metadata.c)
 *   3. ramdisks  the blobs and the image's tree are laid out as nitro-cli's
 *                bootstrap and customer ramdisks (ramdisk.h), streamed into
 *   4. EIF       the EIF writer (<cloister/eif.h>) after kernel, cmdline and
 *                metadata; it hashes as it writes and renames the file into
 *                place
 *
 * The image is read once and nothing big is held in memory: file contents
 * stay in the host file or an unlinked spool until the cpio writer streams
 * them into the EIF writer. A failure leaves no output file and no
 * temporary behind. docs/build-enclave.md describes each stage's rules.
 */
#ifndef CLOISTER_IMAGE_PIPELINE_H
#define CLOISTER_IMAGE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/eif.h>
#include <cloister/error.h>

enum image_source_kind {
    IMAGE_SOURCE_ROOTFS = 1,     /* image_from_rootfs() */
    IMAGE_SOURCE_DOCKER_ARCHIVE, /* image_from_docker_archive() */
    IMAGE_SOURCE_OCI_LAYOUT,     /* image_from_oci_layout() */
    IMAGE_SOURCE_OCI_ARCHIVE,    /* image_from_oci_archive() */
    IMAGE_SOURCE_DOCKER_DAEMON,  /* image_from_docker_daemon() */
};

/* Where a build failed, for callers that report failures by kind (the CLI
 * maps them to nitro-cli's error numbers). */
enum image_build_step {
    IMAGE_BUILD_INPUTS = 1, /* a blob, the kernel cmdline or config, the custom metadata */
    IMAGE_BUILD_SOURCE,     /* reading the image from its source */
    IMAGE_BUILD_OVERRIDES,  /* the command or an environment override is invalid */
    IMAGE_BUILD_COMMAND,    /* neither the image config nor the override gave a command */
    IMAGE_BUILD_METADATA,   /* making the metadata section */
    IMAGE_BUILD_RAMDISKS,   /* laying out the ramdisks (a blob, a cmd or env line, a file) */
    IMAGE_BUILD_EIF_OPEN,   /* the EIF writer refused its parameters (kernel, key, certificate) */
    IMAGE_BUILD_EIF_WRITE,  /* streaming the ramdisks into the EIF */
    IMAGE_BUILD_EIF_FINISH, /* the signature, the header, the rename into place */
    /* before IMAGE_BUILD_SOURCE, for IMAGE_SOURCE_DOCKER_DAEMON: */
    IMAGE_BUILD_DOCKER_PULL,  /* reaching the daemon, or pulling an image it does not have */
    IMAGE_BUILD_DOCKER_BUILD, /* reaching the daemon, or building docker_dir's Dockerfile */
};

/* What the build reports as it goes (nitro-cli prints a line for each). */
enum image_build_event {
    IMAGE_BUILD_READING_IMAGE,     /* the inputs are good; the image is read next */
    IMAGE_BUILD_USING_LOCAL_IMAGE, /* the Docker daemon had the image: nothing was pulled */
    IMAGE_BUILD_WORKDIR_IGNORED,   /* the image sets a WorkingDir (detail) other than "" and
                                    * "/": the enclave's command starts in / all the same */
};

/* Every string is borrowed for the duration of the call. */
struct image_build_opts {
    enum image_source_kind source;
    const char *source_ref; /* a path, "PATH:TAG", or a Docker image reference */
    /* With IMAGE_SOURCE_DOCKER_DAEMON, may be set: the directory whose
     * Dockerfile the daemon builds first, tagged source_ref (--docker-dir). */
    const char *docker_dir;
    const char *cmd;        /* NULL: the image's own (image_set_cmd() syntax) */
    const char *const *env; /* nenv "KEY=VALUE" overrides, applied in order */
    size_t nenv;
    const char *name;                 /* ImageName; NULL: the source's default */
    const char *version;              /* ImageVersion; NULL: the source's default */
    const char *build_time;           /* BuildTime text, as it is (image_rfc3339() or RFC 3339) */
    const char *custom_metadata_path; /* NULL: CustomMetadata is null */
    const char *blobs_dir;
    const char *signing_cert_path; /* both NULL: unsigned; both set: signed (PCR8) */
    const char *private_key_path;
    const char *output_path;
    /* May be NULL; called on the calling thread with ctx. detail is NULL but
     * for IMAGE_BUILD_WORKDIR_IGNORED (the WorkingDir), borrowed for the call. */
    void (*on_event)(void *ctx, enum image_build_event ev, const char *detail);
    /* May be NULL: bytes of file data written into the customer ramdisk so
     * far, of total. */
    void (*on_progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
};

struct image_build_result {
    struct eif_measurements measurements; /* on success: PCR0/1/2 (and PCR8 when signed) */
    enum image_build_step failed_step;    /* on failure: where */
};

/*
 * Builds the EIF at o->output_path. 0 with res->measurements filled, or a
 * negative CL_E* code with err's reason and res->failed_step; nothing is
 * left at output_path then (an existing file there is kept as it was).
 */
int image_build(const struct image_build_opts *o, struct image_build_result *res,
                struct cl_error *err) CL_MUST_USE;

#endif
