/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `docker export` of a container created from an image streams, made
 * from the image's merged tree without a Docker daemon (docs/build-enclave.md,
 * "The customer ramdisk"): nitro-cli's linuxkit reads exactly this stream, so
 * the customer ramdisk is built from it.
 *
 * Two parts, as in Docker:
 *  - the init layer (moby daemon/initlayer/setup_unix.go), which Docker puts
 *    on top of every container's image: for each of /.dockerenv,
 *    /etc/resolv.conf, /etc/hosts, /etc/hostname, /dev/console (empty files),
 *    /dev/pts, /dev/shm, /proc, /sys (directories) and /etc/mtab (a symlink to
 *    /proc/mounts), whatever is not a directory along its path is removed, and
 *    what is then missing is created, mode 0755, owned by root; an existing
 *    directory keeps its mode and owner;
 *  - the export walk (moby pkg/archive, Go's filepath.Walk): depth first,
 *    each directory's entries in byte order of their names, a directory
 *    before what it holds, directory names ending in '/', no entry for the
 *    root; the second and later names of a file with several links are hard
 *    links to the first name the walk met.
 */
#ifndef CLOISTER_IMAGE_DOCKER_EXPORT_H
#define CLOISTER_IMAGE_DOCKER_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <cloister/error.h>

#include "image/image_tree.h"

/* Applies Docker's init layer to an image's merged tree. The times of what
 * it creates are 0 (Docker's are the container's creation time; linuxkit
 * replaces every one of them that reaches the ramdisk). */
CL_MUST_USE int docker_init_layer(struct image_tree *t, struct cl_error *err);

/* One entry of the export stream. Pointers are valid during the callback. */
struct export_entry {
    const char *name;                /* "bin/", "bin/app" */
    const struct image_node *node;   /* its type, symlink target, content */
    const struct image_attrs *attrs; /* the inode's */
    const char *hardlink;            /* not NULL: a hard link to this earlier name */
};

typedef int (*export_fn)(void *ctx, const struct export_entry *e, struct cl_error *err);

/* Streams t as `docker export` lists it; fn returns 0 to go on. */
CL_MUST_USE int docker_export_walk(const struct image_tree *t, export_fn fn, void *ctx,
                                   struct cl_error *err);

/* Bytes of regular-file data the walk hands on (each hard-linked file once). */
uint64_t docker_export_data_size(const struct image_tree *t);

#endif
