/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the key operations share with the multi-Region ones
 * (multi_region.c): a key's metadata and its MultiRegionConfiguration.
 */
#ifndef CLOISTER_KMS_OPS_MULTI_REGION_H
#define CLOISTER_KMS_OPS_MULTI_REGION_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "call/call.h"
#include "state/store.h"

/* KeyMetadata as CreateKey, DescribeKey and ReplicateKey answer it (keys.c;
 * new reference). */
json_t *key_metadata(struct call *c, const struct store_key *k);
/* A multi-Region key's MultiRegionConfiguration (new reference; NULL when
 * the store cannot say). */
json_t *mrk_configuration(struct call *c, const struct store_key *k);
/* Whether a multi-Region key is its key id's primary, and how many
 * replicas its key id has (the primary's count; the call fails on -1). */
CL_MUST_USE int mrk_role(struct call *c, const struct store_key *k, bool *primary,
                         size_t *n_replicas);

/* Copies a multi-Region primary's rotation settings to its replicas (AWS:
 * "automatic key rotation status" is shared); nothing for other keys. */
CL_MUST_USE int mrk_sync_rotation(struct call *c, const struct store_key *k);

#endif
