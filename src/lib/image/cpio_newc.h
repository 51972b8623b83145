/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A cpio "newc" writer that writes exactly the bytes of the one nitro-cli's
 * linuxkit vendors (github.com/surma/gocpio; docs/build-enclave.md, "The
 * ramdisks"), so that a ramdisk's SHA-384, its PCR, is nitro-cli's:
 *
 *   - magic "070701", then 13 fields of 8 lowercase hex digits: ino, mode,
 *     uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
 *     rdevminor, namesize (name length + 1), check (0);
 *   - ino counts from 721, one per header, the trailer included;
 *   - mode is the permission bits (07777) with the file type above them;
 *   - nlink is 2 for a directory and 1 for anything else;
 *   - devmajor/devminor are 3/1 on every header; rdev holds the device;
 *   - the name and its NUL are padded with zeros to a 4-byte boundary of
 *     the archive, and so is each file's data;
 *   - the trailer "TRAILER!!!" ends the archive, which is then padded with
 *     zeros to a multiple of 512 bytes.
 *
 * Output goes to a sink in chunks; nothing but one buffer is held.
 */
#ifndef CLOISTER_IMAGE_CPIO_NEWC_H
#define CLOISTER_IMAGE_CPIO_NEWC_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

/* The file types of the mode field (shifted down by 12 bits). */
enum cpio_type {
    CPIO_FIFO = 001,
    CPIO_CHR = 002,
    CPIO_DIR = 004,
    CPIO_BLK = 006,
    CPIO_REG = 010,
    CPIO_SYMLINK = 012,
};

struct cpio_header {
    const char *name;
    enum cpio_type type;
    uint32_t perm; /* 07777 */
    uint32_t uid, gid;
    int64_t mtime; /* seconds; must fit the field: 0..0xffffffff */
    uint64_t size; /* bytes of data that follow (a symlink's: its target); < 4 GiB */
    uint32_t rdev_major, rdev_minor;
};

/* Where the archive's bytes go: 0, or a negative CL_E* code with err filled. */
typedef int (*cpio_sink_fn)(void *ctx, const void *buf, size_t len, struct cl_error *err);

struct cpio_writer;

CL_MUST_USE int cpio_writer_new(cpio_sink_fn sink, void *ctx, struct cpio_writer **out,
                                struct cl_error *err);
void cpio_writer_free(struct cpio_writer *w);

/*
 * Starts an entry. The previous entry must have had all its data written.
 * A field that does not fit 8 hex digits is CL_ELIMIT with the name.
 */
CL_MUST_USE int cpio_write_header(struct cpio_writer *w, const struct cpio_header *h,
                                  struct cl_error *err);

/* Data of the current entry; at most what its header announced, in total. */
CL_MUST_USE int cpio_write_data(struct cpio_writer *w, const void *buf, size_t len,
                                struct cl_error *err);

/* The trailer and the final padding; everything is handed to the sink. */
CL_MUST_USE int cpio_finish(struct cpio_writer *w, struct cl_error *err);

/* Bytes written so far. */
uint64_t cpio_length(const struct cpio_writer *w);

#endif
