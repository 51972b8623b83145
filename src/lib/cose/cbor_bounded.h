/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded CBOR loading and small accessors over libcbor 0.8, shared by the
 * COSE and attestation-document code.
 *
 * libcbor's cbor_load() trusts declared container sizes (a 5-byte header can
 * ask for a 2^32-entry array) and accepts any nesting depth, so every buffer
 * is first walked with libcbor's streaming decoder (cbor_stream_decode),
 * which checks well-formedness (RFC 8949 §3, incl. indefinite lengths and
 * chunk types), that the buffer holds exactly one item (no trailing bytes,
 * no truncation), that no declared size exceeds the bytes left, and a depth
 * limit. Only then is the tree built with cbor_load().
 */
#ifndef CLOISTER_COSE_CBOR_BOUNDED_H
#define CLOISTER_COSE_CBOR_BOUNDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#include <cloister/error.h>

/* Nesting limit, tags included (a tag holds one item): a tagged COSE_Sign1
 * with an attestation payload needs 4. */
#define CBOR_BOUNDED_MAX_DEPTH 16

/*
 * Checks that buf[0..len) is exactly one well-formed CBOR item within the
 * limits above. Errors: CL_EFORMAT with a reason ("truncated CBOR",
 * "trailing bytes after the CBOR item", ...).
 */
CL_MUST_USE int cbor_bounded_check(const uint8_t *buf, size_t len, struct cl_error *err);

/*
 * cbor_bounded_check() then cbor_load(). On success *out is a new reference
 * (cbor_decref). Errors: CL_EFORMAT, CL_ENOMEM.
 */
CL_MUST_USE int cbor_bounded_load(const uint8_t *buf, size_t len, cbor_item_t **out,
                                  struct cl_error *err);

/*
 * The content of a byte string (definite, or indefinite: the chunks
 * concatenated), copied into a new buffer (malloc'd, caller frees; at
 * least 1 byte allocated so an empty string is a non-NULL pointer).
 * CL_EFORMAT if item is not a byte string.
 */
CL_MUST_USE int cbor_bounded_bytes(const cbor_item_t *item, uint8_t **out, size_t *len,
                                   struct cl_error *err);

/* The length of a byte or text string's content (definite or chunked). */
size_t cbor_bounded_string_len(const cbor_item_t *item);

/*
 * Copies a text string's content (definite or chunked) into out (cap bytes
 * including the NUL). CL_EFORMAT if not text, CL_ELIMIT if it does not fit.
 */
CL_MUST_USE int cbor_bounded_text(const cbor_item_t *item, char *out, size_t cap,
                                  struct cl_error *err);

/* True when item is a text string equal to s (definite or chunked). */
bool cbor_bounded_text_eq(const cbor_item_t *item, const char *s);

/*
 * An integer item (major type 0 or 1) as an int64_t. CL_EFORMAT if item is
 * not an integer, CL_ELIMIT if it does not fit in int64_t.
 */
CL_MUST_USE int cbor_bounded_int(const cbor_item_t *item, int64_t *out, struct cl_error *err);

/* True when a and b are equal map keys: both integers of the same value, or
 * both text (or both byte) strings with the same content. */
bool cbor_bounded_key_eq(const cbor_item_t *a, const cbor_item_t *b);

/* Is item the CBOR null (0xf6)? */
bool cbor_bounded_is_null(const cbor_item_t *item);

#endif
