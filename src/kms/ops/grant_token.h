/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Grant ids and grant tokens. A grant id is 64 lowercase hex digits (32
 * random bytes), as AWS's are. A grant token is the base64 of a version
 * byte (1), the grant id's 32 bytes and 32 random bytes: opaque to the
 * client, like AWS's, and stored with the grant, so a token resolves to its
 * grant by lookup and cannot be made up (AWS documents tokens as not
 * secret: they are not wiped or compared as secrets). A token that does not
 * decode to that shape, or that no grant holds (a retired or revoked
 * grant's), is InvalidGrantTokenException.
 */
#ifndef CLOISTER_KMS_OPS_GRANT_TOKEN_H
#define CLOISTER_KMS_OPS_GRANT_TOKEN_H

#include <stdbool.h>

#include <jansson.h>

#include <cloister/error.h>

#include "call/call.h"

#define GRANT_ID_LEN    64 /* hex digits */
#define GRANT_TOKEN_MAX 8192

/* A new grant id and its token (token: GRANT_TOKEN_LEN + 1 bytes). */
#define GRANT_TOKEN_LEN 88
CL_MUST_USE int grant_token_new(struct call *c, char id[GRANT_ID_LEN + 1],
                                char token[GRANT_TOKEN_LEN + 1]);

/* Is s a grant id's form (64 hex digits)? */
bool grant_id_valid(const char *s);

/* The grant a token names (*g new reference), or InvalidGrantTokenException. */
CL_MUST_USE int grant_token_resolve(struct call *c, const char *token, json_t **g);

#endif
