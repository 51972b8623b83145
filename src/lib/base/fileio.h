/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whole-file reads with a size bound, and atomic writes: an output file is
 * written to a temporary file beside it and renamed into place only when it
 * is complete, so a failure never leaves a partial file behind.
 */
#ifndef CLOISTER_FILEIO_H
#define CLOISTER_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cloister/error.h>

/*
 * Reads all of path into a new buffer, NUL-terminated for convenience (the
 * NUL is not counted in *len). Files larger than max bytes fail with
 * CL_ELIMIT before anything is allocated. On success *data is owned by the
 * caller (free(3)); on failure it is NULL.
 */
CL_MUST_USE int file_read_all(const char *path, size_t max, uint8_t **data, size_t *len,
                              struct cl_error *err);

/* Writes all len bytes to fd, retrying short writes and EINTR. */
CL_MUST_USE int fd_write_all(int fd, const void *buf, size_t len, struct cl_error *err);

/* Reads exactly len bytes from fd at offset; a short file is CL_EFORMAT. */
CL_MUST_USE int fd_pread_exact(int fd, void *buf, size_t len, off_t offset, struct cl_error *err);

/* An output file being written; see atomic_file_open(). */
struct atomic_file {
    int fd;           /* write here; -1 when closed */
    char *path;       /* the final path (owned) */
    char *tmp_path;   /* the temporary path beside it (owned) */
};

/*
 * Creates a temporary file next to path with the given mode. On success the
 * caller must end with exactly one of atomic_file_commit() or
 * atomic_file_abort(), which release everything.
 */
CL_MUST_USE int atomic_file_open(struct atomic_file *af, const char *path, mode_t mode,
                                 struct cl_error *err);

/* fsyncs the data, renames it over path, fsyncs the directory. */
CL_MUST_USE int atomic_file_commit(struct atomic_file *af, struct cl_error *err);

/* Removes the temporary file. Safe to call on a committed or zeroed file. */
void atomic_file_abort(struct atomic_file *af);

/* Writes a whole buffer to path atomically. */
CL_MUST_USE int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                  struct cl_error *err);

#endif
