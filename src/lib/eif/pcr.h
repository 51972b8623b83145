/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one PCR operation of Nitro: extend = SHA384(old || data).
 * EIF measurements (PCR0/1/2/8) are one extend of the content digest from
 * 48 zero bytes; PCR3/PCR4 are one extend of a raw string; the NSM's
 * ExtendPCR is an extend of raw request data
 * (docs/eif.md, "The format as implemented"; docs/nsm.md, "The module").
 */
#ifndef CLOISTER_PCR_H
#define CLOISTER_PCR_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#define PCR_SIZE 48  /* SHA-384 */
#define PCR_COUNT 32 /* registers of the NSM */

/*
 * Each returns 0, or CL_ECRYPTO when OpenSSL cannot run SHA-384 (only out of
 * memory); the register is then left unchanged.
 */

/* pcr = SHA384(pcr || data). */
CL_MUST_USE int pcr_extend(uint8_t pcr[static PCR_SIZE], const void *data, size_t len,
                           struct cl_error *err) __attribute__((warn_unused_result));

/* out = SHA384(48 zero bytes || data): one extend from a zero register. */
CL_MUST_USE int pcr_from_zero(uint8_t out[static PCR_SIZE], const void *data, size_t len,
                              struct cl_error *err) __attribute__((warn_unused_result));

/* out = SHA384(48 zero bytes || SHA384(content)): `nitro-cli pcr --input`. */
CL_MUST_USE int pcr_of_content(uint8_t out[static PCR_SIZE], const void *content, size_t len,
                               struct cl_error *err) __attribute__((warn_unused_result));

#endif
