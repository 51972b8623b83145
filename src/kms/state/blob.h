/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cloister's ciphertext blob (what Encrypt returns as CiphertextBlob) and
 * the AES-256-GCM helpers the store uses to wrap key material at rest.
 *
 * AWS does not publish its symmetric ciphertext format (docs/kms.md,
 * "Ciphertext blobs"); ours, version 1, is
 *
 *   offset  size  field
 *   0       1     format version, 0x01
 *   1       16    key id (the UUID's 16 bytes)
 *   17      4     key material version, big-endian (rotation keeps old ones)
 *   21      12    GCM nonce (random)
 *   33      n     AES-256-GCM ciphertext of the plaintext
 *   33+n    16    GCM tag
 *
 * Version 2 (BLOB_VERSION_MRK) is the same for a multi-Region key: its 16
 * bytes are the 32 hex digits after "mrk-" of its key id. The header names
 * the key id, not its region, so every related multi-Region key (which
 * shares the id and the material) opens it.
 *
 * The additional authenticated data is the 33-byte header followed by the
 * encryption context serialized without ambiguity: a 4-byte big-endian pair
 * count, then for each pair in byte order of the keys, 4-byte length + key,
 * 4-byte length + value. So any change to the header, the ciphertext, the
 * tag or the context fails authentication (InvalidCiphertextException).
 */
#ifndef CLOISTER_KMS_BLOB_H
#define CLOISTER_KMS_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#define BLOB_VERSION     1
#define BLOB_VERSION_MRK 2
#define BLOB_HEADER_LEN  33
#define BLOB_TAG_LEN     16
#define BLOB_OVERHEAD    (BLOB_HEADER_LEN + BLOB_TAG_LEN)

/*
 * Encrypts pt under key (32 bytes) for the key id and material version.
 * ctx is an encryption context (a JSON object of strings) or NULL.
 * *out is malloc'd (caller frees).
 */
CL_MUST_USE int blob_seal(const uint8_t key[32], const uint8_t key_id[16],
                          uint32_t material_version, const json_t *ctx, const uint8_t *pt,
                          size_t pt_len, uint8_t **out, size_t *out_len, struct cl_error *err);

/* blob_seal() for a key id as text: a UUID (version 1) or a multi-Region
 * key id "mrk-<32 hex>" (version 2). */
CL_MUST_USE int blob_seal_key(const uint8_t key[32], const char *key_id, uint32_t material_version,
                              const json_t *ctx, const uint8_t *pt, size_t pt_len, uint8_t **out,
                              size_t *out_len, struct cl_error *err);

/*
 * Reads the header of a blob without decrypting: CL_EFORMAT when it is too
 * short or of another version. blob_peek_key() gives the key id as text.
 */
CL_MUST_USE int blob_peek_key(const uint8_t *blob, size_t len, char key_id[37],
                              uint32_t *material_version, struct cl_error *err);
CL_MUST_USE int blob_peek(const uint8_t *blob, size_t len, uint8_t key_id[16],
                          uint32_t *material_version, struct cl_error *err);

/*
 * Decrypts and authenticates a blob with key and ctx (must be the context
 * used at encryption). CL_EFORMAT for a malformed blob, CL_ECRYPTO when
 * authentication fails. *pt is malloc'd; the caller wipes and frees it.
 */
CL_MUST_USE int blob_open(const uint8_t key[32], const json_t *ctx, const uint8_t *blob, size_t len,
                          uint8_t **pt, size_t *pt_len, struct cl_error *err);

/* The unambiguous serialization of an encryption context (see above);
 * malloc'd. ctx NULL or empty gives 4 zero bytes. */
CL_MUST_USE int blob_context_aad(const json_t *ctx, uint8_t **out, size_t *out_len,
                                 struct cl_error *err);

/*
 * Generic AES-256-GCM with a random nonce: out = nonce(12) || ct || tag(16).
 * Used to wrap key material and secrets under the master key.
 */
CL_MUST_USE int blob_gcm_seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len,
                              const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len,
                              struct cl_error *err);
CL_MUST_USE int blob_gcm_open(const uint8_t key[32], const uint8_t *aad, size_t aad_len,
                              const uint8_t *in, size_t in_len, uint8_t **pt, size_t *pt_len,
                              struct cl_error *err);

#endif
