/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers the key service's layers share, at the bottom of them:
 * UUIDs (key ids, request ids), dates (SigV4's format, ISO 8601), SHA-256
 * in hex, random bytes, wiping frees and a growable buffer.
 */
#ifndef CLOISTER_KMS_KMSUTIL_H
#define CLOISTER_KMS_KMSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cloister/error.h>

/* A random (version 4) UUID in lowercase: 36 characters and a NUL. */
void ku_uuid4(char out[37]);

/* True when s is a lowercase-or-uppercase 8-4-4-4-12 hex UUID. */
bool ku_is_uuid(const char *s);

/* UUID text <-> 16 bytes. ku_uuid_parse fails with CL_EFORMAT. */
CL_MUST_USE int ku_uuid_parse(const char *s, uint8_t out[16], struct cl_error *err);
void ku_uuid_format(const uint8_t in[16], char out[37]);

/* Seconds since the epoch with millisecond precision. */
double ku_now(void);

/* YYYYMMDDTHHMMSSZ (SigV4's X-Amz-Date), 17 bytes with the NUL. */
void ku_amz_date(time_t t, char out[17]);

/* Parses YYYYMMDDTHHMMSSZ exactly; CL_EFORMAT otherwise. */
CL_MUST_USE int ku_parse_amz_date(const char *s, time_t *out, struct cl_error *err);

/* ISO 8601 UTC with seconds: 2026-01-01T00:00:00Z (33 bytes is plenty). */
void ku_iso8601(time_t t, char out[32]);

/* hex(SHA-256(data)), 65 bytes with the NUL. */
void ku_sha256_hex(const void *data, size_t len, char out[65]);

/* Random bytes from OpenSSL's DRBG; CL_ECRYPTO if it fails. */
CL_MUST_USE int ku_random(void *buf, size_t len, struct cl_error *err);

/* free() after wiping the whole block (malloc_usable_size): for memory that
 * held secrets. cloister-kms also gives it to jansson as its free function,
 * so request and response JSON (plaintexts, data keys) is wiped too. */
void ku_wipe_free(void *p);
/* realloc() that wipes the old block (its first used bytes) once copied.
 * NULL on failure, p left untouched. */
void *ku_wipe_realloc(void *p, size_t used, size_t new_size);

/* A growable byte buffer; an allocation failure sticks in oom (checked once at the end). */
struct ku_buf {
    char *p; /* owned; NUL-terminated while not oom */
    size_t len, cap;
    bool oom;
};
void ku_buf_add(struct ku_buf *b, const void *data, size_t len);
void ku_buf_adds(struct ku_buf *b, const char *s);
void ku_buf_printf(struct ku_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ku_buf_free(struct ku_buf *b); /* wipes and frees */

#endif
