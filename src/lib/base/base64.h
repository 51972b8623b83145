/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict standard base64 (RFC 4648 §4), as AWS APIs carry blobs: padded, no
 * whitespace, canonical. Shared by the key service, the SDK's KMS client and
 * the tools.
 */
#ifndef CLOISTER_BASE64_H
#define CLOISTER_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

/*
 * Decodes in[0..in_len). No whitespace, no missing padding, no bits after the
 * last significant one (CL_EFORMAT). Results larger than max fail with
 * CL_ELIMIT before allocating. *out is malloc'd (caller frees; wipe it if it
 * is secret) and NUL-terminated for convenience (not counted in *out_len).
 */
CL_MUST_USE int base64_decode(const char *in, size_t in_len, size_t max, uint8_t **out,
                              size_t *out_len, struct cl_error *err);

/* Padded base64 of len bytes, NUL-terminated; malloc'd, NULL if out of memory. */
char *base64_encode(const uint8_t *in, size_t len);

#endif
