/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ramdisks of an enclave image, laid out as nitro-cli's build-enclave
 * makes them (docs/build-enclave.md, "The ramdisks", with its sources):
 *
 *   bootstrap:  dev/  init  [nsm.ko]                        (first ramdisk)
 *   customer:   cmd  env  rootfs/  rootfs/{dev,proc,run,sys,tmp,var}/ and
 *               the image's own tree under rootfs/
 *
 * and written as cpio "newc" archives through libarchive, reproducibly:
 * entries sorted by full path in byte order, owner and group 0, every
 * mtime the caller's (SOURCE_DATE_EPOCH), device numbers 0, inode numbers
 * given in order from 1, directories nlink 2, no padding after the
 * trailer. Hard links inside the tree are kept: the links of a group share
 * an inode number and nlink, and the data rides on the last one (the newc
 * convention GNU cpio, libarchive and the kernel's initramfs unpacker use).
 */
#ifndef CLOISTER_RAMDISK_H
#define CLOISTER_RAMDISK_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#include "image/image_tree.h"

struct ramdisk_opts {
    int64_t mtime; /* of every entry, seconds since the epoch */
    /* Called as content is written (may be NULL): bytes of file data so
     * far and in all. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
};

/* Where archive bytes go: 0, or a negative CL_E* code with err filled. */
typedef int (*ramdisk_sink_fn)(void *ctx, const void *buf, size_t len, struct cl_error *err);

/* Writes t as a cpio newc archive to sink. */
CL_MUST_USE int ramdisk_write(const struct image_tree *t, const struct ramdisk_opts *o,
                              ramdisk_sink_fn sink, void *ctx, struct cl_error *err);

/* The same into a file descriptor, buffered; *size gets the archive size. */
CL_MUST_USE int ramdisk_write_fd(const struct image_tree *t, const struct ramdisk_opts *o, int fd,
                                 uint64_t *size, struct cl_error *err);

/*
 * The bootstrap tree from a blobs directory: dev/ (0755), init (0755) and,
 * when the directory has one, nsm.ko (0755), as nitro-cli's bootstrap YAML.
 * A missing init is CL_ENOTFOUND "missing blob '<dir>/init'".
 */
CL_MUST_USE int ramdisk_bootstrap_tree(const char *blobs_dir, struct image_tree **out,
                                       struct cl_error *err);

/*
 * The customer tree: image's tree moved under rootfs/ (image must then
 * only be freed), the directories rootfs/{dev,run,sys,var,proc,tmp} added
 * with mode 0755 where the image has no such entry, and the files cmd (one
 * argv element per line) and env (one KEY=VALUE per line), mode 0644.
 * Elements with a newline are refused (the files are line-based).
 */
CL_MUST_USE int ramdisk_customer_tree(struct image_tree *image, char *const *cmd, size_t ncmd,
                                      char *const *env, size_t nenv, struct image_tree **out,
                                      struct cl_error *err);

#endif
