/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two ramdisks of an enclave image, byte for byte as nitro-cli's
 * build-enclave makes them with its linuxkit (docs/build-enclave.md, "The
 * ramdisks", with the public sources and the rules):
 *
 *   bootstrap:  dev  init  [nsm.ko]
 *               nitro-cli's bootstrap YAML's `files:` (with AWS's blobs, the
 *               same bytes as nitro-cli's; Cloister's own blobs have no
 *               nsm.ko);
 *   customer:   rootfs, then the image as `docker export` of a container
 *               lists it (docker_export.h) under rootfs/, filtered as
 *               linuxkit filters it (.dockerenv, Dockerfile, dev/console and
 *               etc/hostname dropped, etc/hosts replaced by linuxkit's text,
 *               etc/resolv.conf a symlink to /run/resolvconf/resolv.conf,
 *               fixed times on the entries Docker makes), then the customer
 *               YAML's `files:` (rootfs again, rootfs/{dev,run,sys,var,proc,
 *               tmp}, cmd, env).
 *
 * Both are uncompressed cpio newc archives (cpio_newc.h); hard links become
 * relative symbolic links, as linuxkit's writer makes them. Nothing big is
 * held: file data streams from where the image tree left it.
 */
#ifndef CLOISTER_RAMDISK_H
#define CLOISTER_RAMDISK_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#include "image/cpio_newc.h"
#include "image/image_tree.h"

/* linuxkit's fixed time (defaultModTime: 2017-04-18 16:30:00 UTC) of every
 * entry it makes itself. */
#define RAMDISK_LINUXKIT_MTIME 1492533000

struct ramdisk_progress {
    /* Called as file data is written (may be NULL): bytes so far, of total. */
    void (*fn)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
};

/*
 * The bootstrap ramdisk from a blobs directory: dev (0755), init (0755)
 * and, when the directory has one, nsm.ko (0755). A missing init is
 * CL_ENOTFOUND "missing blob '<dir>/init'".
 */
CL_MUST_USE int ramdisk_write_bootstrap(const char *blobs_dir, cpio_sink_fn sink, void *ctx,
                                        struct cl_error *err);

/*
 * The customer ramdisk of an image's merged tree (Docker's init layer is
 * applied to it here), with the command (one argument per line of `cmd`)
 * and the environment (one KEY=VALUE per line of `env`). Items with a
 * newline are refused (CL_EINVAL: the files are line-based).
 */
CL_MUST_USE int ramdisk_write_customer(struct image_tree *image, char *const *cmd, size_t ncmd,
                                       char *const *env, size_t nenv,
                                       const struct ramdisk_progress *progress,
                                       cpio_sink_fn sink, void *ctx, struct cl_error *err);

#endif
