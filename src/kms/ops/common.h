/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What several operations read and answer alike: GrantTokens, DryRun,
 * List* paging, base64 blobs in the answer, and a plaintext answered either
 * as itself or, for an attested request, as CiphertextForRecipient.
 */
#ifndef CLOISTER_KMS_OPS_COMMON_H
#define CLOISTER_KMS_OPS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "call/call.h"

#define TAGS_PER_KEY_MAX  50     /* AWS's quota of tags per key */
#define POLICY_MEMBER_MAX 131072 /* the Policy member (the document itself: POLICY_MAX_BYTES) */

/* GrantTokens: at most 10, each a token of an existing grant
 * (InvalidGrantTokenException otherwise; ops/grant_token.h). */
CL_MUST_USE int grant_tokens(struct call *c);
/* A DryRun request stops after authorization: DryRunOperationException. */
CL_MUST_USE int dry_run(struct call *c);
/* Limit (1..max, default def) and Marker of a List* call; the marker is the
 * last item returned. */
CL_MUST_USE int paging(struct call *c, long long max, long long def, long long *limit,
                       const char **marker);

/* Sets o[name] to the base64 of b (the encoded text is wiped once copied). */
void set_blob(json_t *o, const char *name, const uint8_t *b, size_t n);
/* Puts a plaintext in c->out: as CiphertextForRecipient when the request
 * carried a Recipient (the plaintext member is then omitted, as AWS does),
 * else as member. */
CL_MUST_USE int answer_secret(struct call *c, const char *member, const uint8_t *pt, size_t n);

#endif
