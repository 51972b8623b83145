/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encrypting under a key and decrypting a ciphertext, as Encrypt, Decrypt,
 * ReEncrypt and the data-key operations do: symmetric keys seal Cloister's
 * ciphertext blob (state/blob.h) with their current material, RSA
 * ENCRYPT_DECRYPT keys use raw RSAES-OAEP with SHA-1 or SHA-256.
 */
#ifndef CLOISTER_KMS_OPS_CIPHER_H
#define CLOISTER_KMS_OPS_CIPHER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "call/call.h"
#include "state/store.h"

/* Encrypts pt under k with alg (NULL: KMS_ALG_SYMMETRIC_DEFAULT) and the
 * encryption context ctx; *out malloc'd (caller frees). */
CL_MUST_USE int encrypt_with(struct call *c, struct store_key *k, const char *alg,
                             const json_t *ctx, const uint8_t *pt, size_t n, uint8_t **out,
                             size_t *out_len);

/*
 * Decrypts a ciphertext: the key comes from the blob (symmetric) or from
 * key_ident (asymmetric, required then). key_ident, when given for a
 * symmetric blob, must name the same key (IncorrectKeyException). action
 * is the permission checked on the key, with the encryption context ctx.
 * *k is filled (caller clears); *pt malloc'd (caller wipes and frees).
 */
CL_MUST_USE int decrypt_blob(struct call *c, const uint8_t *blob, size_t blen, const json_t *ctx,
                             const char *key_ident, const char *alg, const char *action,
                             struct store_key *k, uint8_t **pt, size_t *pt_len);

#endif
