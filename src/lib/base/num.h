/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one parser of decimal numbers for every program's arguments and
 * environment variables: digits only (no sign, no space, no base prefix),
 * overflow-checked, bounded by the caller's maximum. libc only.
 */
#ifndef CLOISTER_BASE_NUM_H
#define CLOISTER_BASE_NUM_H

#include <stdint.h>

#include <cloister/error.h>

/*
 * Parses s into *out. Returns 0, CL_EFORMAT when s is NULL, empty or holds
 * anything but the digits 0-9, or CL_ELIMIT when the value exceeds max.
 * *out is written only on success.
 */
CL_MUST_USE int num_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
