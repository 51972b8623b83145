/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key a request names, shared by every operation: resolving a key
 * identifier (key id, key ARN, alias name, alias ARN; docs/kms.md, "Key
 * identifiers"), the key-state rules of cryptographic and administrative
 * operations, and the key's material (rotating first when rotation is
 * due). Every function records its refusal in the call and returns -1.
 */
#ifndef CLOISTER_KMS_OPS_KEY_REF_H
#define CLOISTER_KMS_OPS_KEY_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <cloister/error.h>

#include "call/call.h"
#include "state/store.h"

#define KEYID_MAX   2048 /* KeyId members: 1..2048 characters (botocore) */
#define KEY_ARN_MAX 256

/* Which identifier forms an operation accepts (docs/kms.md, "Key identifiers"). */
enum id_forms { IDS_KEY_ONLY = 0, IDS_WITH_ALIAS = 1 };

/* Whether s is a multi-Region key id: "mrk-" and 32 hex digits. */
bool is_mrk_id(const char *s);
/* The stored name of alias `name` of the request's region (call.h, "Regions"). */
void alias_internal(const struct call *c, const char *name, char *out, size_t cap);

/* The key ARN of k. */
void key_arn(const struct call *c, const struct store_key *k, char out[KEY_ARN_MAX]);

/*
 * Resolves a key identifier and loads the key into *k (caller clears):
 * NotFoundException in AWS's words when there is none, the key named in
 * the audit line, kms:KeySpec/KeyUsage/KeyOrigin (and kms:RequestAlias
 * when named by an alias) in the condition context. A key whose deletion
 * date has passed is deleted then and is not found.
 */
CL_MUST_USE int resolve_key_id(struct call *c, const char *ident, enum id_forms forms,
                               struct store_key *k);
/* resolve_key_id() of the request's required member (KeyId, TargetKeyId...). */
CL_MUST_USE int load_key(struct call *c, const char *member, enum id_forms forms,
                         struct store_key *k);

/* Key-state rules for cryptographic operations: DisabledException,
 * KMSInvalidStateException for a key pending deletion or pending import. */
CL_MUST_USE int require_usable(struct call *c, const struct store_key *k);
/* Administrative operations: only a key pending deletion is refused. */
CL_MUST_USE int require_not_pending(struct call *c, const struct store_key *k);
/* InvalidKeyUsageException unless k's usage is usage. */
CL_MUST_USE int require_usage(struct call *c, const struct store_key *k, enum key_usage usage,
                              const char *op);

/* A material version's KeyMaterialId: the 64 hex digits botocore's
 * BackingKeyIdType asks for, stable per key and version (ListKeyRotations,
 * ImportKeyMaterial). */
void key_material_id(const char *key_id, uint32_t version, char out[65]);

/* A key of origin EXTERNAL whose imported material expired is PendingImport
 * from then (its material deleted); resolve_key_id() applies this. */
CL_MUST_USE int key_import_expiry(struct call *c, struct store_key *k);

/* Deletes keys whose waiting period is over (AWS deletes them then). */
void purge_expired(struct call *c);

/* Names key id among the keys whose material the call read, which a
 * successful cryptographic call notes for GetKeyLastUsage (key_usage.c);
 * key_material() does it. */
void key_note_used(struct call *c, const char *id);
/* Symmetric material of a version (0: the current one, rotating first when
 * due); *m malloc'd, the caller wipes and frees. */
CL_MUST_USE int key_material(struct call *c, struct store_key *k, uint32_t version, uint8_t **m,
                             size_t *len);
/* The private key of an asymmetric key, or NULL with the call failed. */
EVP_PKEY *key_private(struct call *c, struct store_key *k);

#endif
