/* SPDX-License-Identifier: Apache-2.0 */
/* Lowercase hexadecimal, as nitro-cli prints PCRs (Rust's hex::encode). */
#ifndef CLOISTER_HEX_H
#define CLOISTER_HEX_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

/* Writes 2*len lowercase hex digits and a NUL into out (size >= 2*len + 1). */
void hex_encode(char *out, const uint8_t *in, size_t len);

/*
 * Decodes hex (either case; no prefix, no spaces) into out. The number of
 * bytes written goes to *out_len. Fails with CL_EFORMAT on an odd length or
 * a non-hex digit, and with CL_ELIMIT when the result exceeds out_cap.
 */
CL_MUST_USE int hex_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *hex,
                           struct cl_error *err);

#endif
