/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the NSM protocol's encoder (nsm_proto.c) and decoder
 * (nsm_proto_decode.c) share: the wire names of operations and digests.
 * Internal to nsm/.
 */
#ifndef CLOISTER_NSM_PROTO_INTERNAL_H
#define CLOISTER_NSM_PROTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsm/nsm_proto.h"

/* True when p[0..n) is exactly the text s. */
bool nsm_text_is(const uint8_t *p, size_t n, const char *s);

/* The operation named p[0..n) on the wire ("DescribePCR", ...), or NSM_OP_NONE. */
enum nsm_op nsm_op_lookup(const uint8_t *p, size_t n);

/* Unit variants, a bare text string on the wire: "DescribeNSM" and
 * "GetRandom" in requests, "LockPCR" and "LockPCRs" in responses. Every
 * other operation is a struct variant, a one-entry map. */
bool nsm_request_is_unit(enum nsm_op op);
bool nsm_response_is_unit(enum nsm_op op);

/* "SHA256", "SHA384", "SHA512"; NULL for anything else. */
const char *nsm_digest_name(enum nsm_digest d);

#endif
