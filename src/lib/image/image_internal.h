/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the image sources (source_*.c) share; not for callers outside
 * src/lib/image/ (they use image.h and pipeline.h):
 *
 *   image.c       a new struct image, the default ImageName/ImageVersion,
 *                 "PATH:TAG" references
 *   blob_store.c  the files of an image directory or tar archive (OCI
 *                 layout, OCI archive, docker save), read by name below the
 *                 directory or inside the archive only, hashed as they
 *                 stream and checked against their digest
 */
#ifndef CLOISTER_IMAGE_INTERNAL_H
#define CLOISTER_IMAGE_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include <cloister/error.h>

#include "image/image.h"
#include "image/image_tree.h"

/* ---- image.c ---- */

/* An empty image (tree, no command) with the host's EIF arch flag. */
CL_MUST_USE int image_new(const char *spool_dir, struct image **out, struct cl_error *err);

/* Frees the n strings of v and v itself (NULL: nothing). */
void image_strv_free(char **v, size_t n);

/* default_name = name; default_version = the digest's hex ("sha256:<hex>"
 * -> "<hex>"), the digest itself when it has no ':', "1.0" when NULL. */
CL_MUST_USE int image_set_defaults(struct image *img, const char *name, const char *digest,
                                   struct cl_error *err);

/* The last component of path (trailing '/' ignored), without strip_ext
 * when it ends so (NULL: keep). malloc'd; NULL when out of memory. */
char *image_base_name(const char *path, const char *strip_ext);

/* nitro-cli's default ImageName: ref up to its first ':'. malloc'd. */
char *image_name_before_colon(const char *ref);

/*
 * "PATH:TAG" -> PATH and TAG when ref as a whole is not an existing path
 * and its last ':' is followed by no '/'; else PATH = ref, TAG = NULL.
 * *path and *tag malloc'd.
 */
CL_MUST_USE int image_split_ref(const char *ref, char **path, char **tag, struct cl_error *err);
/* The same for the archive sources, whose PATH must be a regular file
 * (CL_ENOTFOUND "'<path>' is not a file"). */
CL_MUST_USE int image_split_archive_ref(const char *ref, char **path, char **tag,
                                        struct cl_error *err);

/* ---- blob_store.c ---- */

enum blob_store_kind {
    BLOB_STORE_DIR,     /* files below a directory (an OCI layout) */
    BLOB_STORE_ARCHIVE, /* members of a tar file (OCI archive, docker save) */
};

/* Borrowed handles: the caller keeps dirfd open / path alive. */
struct blob_store {
    enum blob_store_kind kind;
    int dirfd;        /* BLOB_STORE_DIR */
    const char *path; /* BLOB_STORE_ARCHIVE: the tar file */
};

/*
 * "sha256:<hex>" / "sha512:<hex>" -> "blobs/<alg>/<hex>" (the OCI image
 * layout's blob path) in path[cap]. Unsupported algorithms and malformed
 * hex are refused.
 */
CL_MUST_USE int blob_digest_path(const char *digest, char *path, size_t cap, struct cl_error *err);

/*
 * Reads blob `name` (at most IMAGE_JSON_MAX bytes) as JSON into *out (a new
 * reference). digest (may be NULL): the bytes must match it
 * (CL_ECHECKSUM "'<name>' does not match its digest"). sha256_hex (may be
 * NULL): gets the lowercase hex SHA-256 of the bytes (65 bytes with NUL).
 */
CL_MUST_USE int blob_store_read_json(const struct blob_store *st, const char *name,
                                     const char *digest, json_t **out, char *sha256_hex,
                                     struct cl_error *err);

/*
 * Applies blob `name` as layer number `layer` (image_layer.h) to t,
 * checking its digest when given. Failures are prefixed
 * "layer <n> ('<name>'): ".
 */
CL_MUST_USE int blob_store_apply_layer(const struct blob_store *st, const char *name,
                                       const char *digest, unsigned layer, struct image_tree *t,
                                       struct cl_error *err);

#endif
