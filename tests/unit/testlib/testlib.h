/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the unit tests share: reading the shared test vectors, and a CBOR
 * writer for hand-made inputs (headers through libcbor's encoders, so a
 * test builds exactly the bytes it means, malformed ones included).
 *
 * Every helper fails the running cmocka test on error; none returns one.
 */
#ifndef CLOISTER_TESTLIB_H
#define CLOISTER_TESTLIB_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

/* The path of rel under the shared test data ($CLOISTER_SHARED_DIR, else
 * ../shared); malloc'd, the caller frees. */
char *tl_shared_path(const char *rel);

/* The contents of a file under the shared test data (at most 1 MiB);
 * malloc'd, the caller frees. */
uint8_t *tl_read_shared(const char *rel, size_t *len);

/* Files and directories. */
/* Writes len bytes of data to path (created or truncated). */
void tl_write_file(const char *path, const void *data, size_t len);
/* The whole file at path (any size up to 1 GiB); malloc'd, the caller frees. */
uint8_t *tl_slurp(const char *path, size_t *len);
/* Makes a fresh directory /tmp/<prefix>-XXXXXX into dir (cap bytes). */
void tl_mkdtemp(char *dir, size_t cap, const char *prefix);
/* Removes path and everything under it (a missing path is fine). */
void tl_rmtree(const char *path);
/* out = dir "/" name; fails the test if it does not fit. */
void tl_path(char *out, size_t cap, const char *dir, const char *name);

/* Fails unless the lowercase hex of v[0..len) is want. */
void tl_check_hex(const uint8_t *v, size_t len, const char *want);

/* Reads from fd until EOF (or cap - 1 bytes) into buf, NUL-terminated;
 * returns the number of bytes read. Retries EINTR. */
size_t tl_read_all(int fd, char *buf, size_t cap);

/* Waits for child pid: its exit status, or 100 + the signal that killed it. */
int tl_child_status(int pid);

/* A CBOR writer into a fixed buffer. */
struct tl_cbor {
    uint8_t b[32768];
    size_t n;
};
void tl_put(struct tl_cbor *b, const void *p, size_t n);   /* raw bytes */
void tl_put1(struct tl_cbor *b, uint8_t byte);             /* one raw byte */
void tl_put_uint(struct tl_cbor *b, uint64_t v);           /* major type 0 */
void tl_put_bytes(struct tl_cbor *b, const void *p, size_t n); /* major type 2 */
void tl_put_text(struct tl_cbor *b, const char *s);        /* major type 3 */
void tl_put_array(struct tl_cbor *b, size_t n);            /* major type 4 header */
void tl_put_map(struct tl_cbor *b, size_t n);              /* major type 5 header */
/* A byte string the way serde_cbor writes a Vec<u8>: an array of uints. */
void tl_put_uint_array(struct tl_cbor *b, const uint8_t *p, size_t n);

#endif
