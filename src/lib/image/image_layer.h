/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One filesystem layer of a container image (a tar stream, plain, gzip or
 * zstd, read with libarchive) applied on top of an image tree, as the OCI
 * image spec's layer.md describes: entries add or replace paths, a
 * `.wh.<name>` whiteout deletes <name> from the layers below, and an opaque
 * whiteout `.wh..wh..opq` hides everything the layers below put in its
 * directory.
 *
 * Nothing is written to the host's filesystem (the tree is in memory and
 * file data goes to the tree's unlinked spool), and every entry is checked
 * first. Rejected, with these reasons (each prefixed "'<entry path>': "):
 *   "absolute path"                          a name starting with '/'
 *   "path contains '..'"                     a ".." component
 *   "symlink '<p>' -> '<t>' points out of the root"
 *                                            a path goes through a symlink
 *                                            (which extraction would follow)
 *                                            whose target climbs above the
 *                                            image root; absolute targets
 *                                            resolve from the image root, as
 *                                            they will inside the enclave
 *   "hard link to '<t>' points out of the tree"
 *                                            a link target that is absolute
 *                                            or has a ".." component
 *   "hard link to '<t>', which is not in the tree"
 *   "hard link to '<t>', which is not a regular file"
 *   "device node"                            character or block devices
 *   "unsupported file type"                  sockets and anything else
 * Symlinks that are only stored, never followed during the import, are
 * kept as they are: inside the enclave they resolve within its root.
 */
#ifndef CLOISTER_IMAGE_LAYER_H
#define CLOISTER_IMAGE_LAYER_H

#include <stdbool.h>
#include <stddef.h>

#include <cloister/error.h>

#include "image/image_tree.h"

struct archive;

/* Limits that keep a hostile layer from exhausting memory. */
#define IMAGE_MAX_NODES  (4u << 20)
#define IMAGE_MAX_LAYERS 1024

/*
 * The one libarchive reader for an image's tar streams (its layers, and
 * the OCI archive or `docker save` tarball holding them): tar formats with
 * gzip, zstd or no compression. empty_ok: an empty stream reads as an
 * archive without entries (an empty layer is a layer; an empty image
 * archive is not an archive). Caller opens it (archive_read_open*) and
 * frees it (archive_read_free). NULL when out of memory.
 */
struct archive *image_tar_reader_new(bool empty_ok);

/*
 * Applies every entry of the opened layer reader `a` to t. layer numbers
 * start at 1 and increase with each layer (whiteouts remove what lower
 * layers wrote). On failure the tree may hold part of the layer; callers
 * discard it.
 */
CL_MUST_USE int image_layer_apply(struct image_tree *t, struct archive *a, unsigned layer,
                                  struct cl_error *err);

/* The same over a buffer (tests, fuzzing). */
CL_MUST_USE int image_layer_apply_buffer(struct image_tree *t, const void *buf, size_t len,
                                         unsigned layer, struct cl_error *err);

#endif
