/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the other operations ask of imported key material (imports.c):
 * DescribeKey's ExpirationModel and ValidTo, and the state a key of
 * origin EXTERNAL returns to when its deletion is canceled.
 */
#ifndef CLOISTER_KMS_OPS_IMPORTS_H
#define CLOISTER_KMS_OPS_IMPORTS_H

#include <stdbool.h>

#include <jansson.h>

#include <cloister/error.h>

#include "call/call.h"
#include "state/store.h"

/* Origin EXTERNAL: the key's material is imported. */
bool key_is_external(const struct store_key *k);
/* Adds ExpirationModel (and ValidTo when it expires) to a KeyMetadata m
 * when k has imported material; -1 with the call failed. */
CL_MUST_USE int import_metadata(struct call *c, const struct store_key *k, json_t *m);
/* CancelKeyDeletion leaves a key Disabled, or PendingImport when it is an
 * EXTERNAL key without its material (AWS). */
CL_MUST_USE int import_state_after_cancel(struct call *c, const struct store_key *k,
                                          enum key_state *state);

#endif
