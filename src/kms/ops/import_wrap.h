/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cryptography of importing key material (docs/kms.md, "Imported key
 * material"): the import token, the unwrapping of EncryptedKeyMaterial by
 * each wrapping algorithm AWS documents, and what material fits a key spec.
 */
#ifndef CLOISTER_KMS_OPS_IMPORT_WRAP_H
#define CLOISTER_KMS_OPS_IMPORT_WRAP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <cloister/error.h>

#include "state/store.h"

/* The wrapping algorithms cloister-kms serves (AWS's AlgorithmSpec names). */
enum wrap_alg {
    WRAP_RSAES_OAEP_SHA_1 = 1,
    WRAP_RSAES_OAEP_SHA_256 = 2,
    WRAP_RSA_AES_KEY_WRAP_SHA_1 = 3,
    WRAP_RSA_AES_KEY_WRAP_SHA_256 = 4,
};

/* The enum of a name; CL_EUNSUPPORTED for any other (RSAES_PKCS1_V1_5, SM2PKE). */
CL_MUST_USE int wrap_alg_parse(const char *name, enum wrap_alg *out);

/* What an import token carries. */
struct import_token {
    char key_id[37];
    double valid_to; /* seconds since the epoch */
    enum wrap_alg alg;
    EVP_PKEY *wrapping; /* the wrapping private key (owned) */
};
void import_token_clear(struct import_token *t);

/*
 * Makes the token of a GetParametersForImport answer: 0x01 then, sealed
 * under the master key (store_seal), key id || ParametersValidTo (8 bytes,
 * big-endian seconds) || wrapping algorithm (1 byte) || the wrapping
 * private key's PKCS#8 DER. *out malloc'd.
 */
CL_MUST_USE int import_token_make(struct store *st, const char *key_id, double valid_to,
                                  enum wrap_alg alg, EVP_PKEY *wrapping, uint8_t **out, size_t *len,
                                  struct cl_error *err);
/* Opens a token; CL_EFORMAT when it is not one of this store's. */
CL_MUST_USE int import_token_read(struct store *st, const uint8_t *tok, size_t len,
                                  struct import_token *out, struct cl_error *err);

/* Unwraps EncryptedKeyMaterial; CL_ECRYPTO when it does not unwrap. *out
 * malloc'd (the caller wipes and frees). */
CL_MUST_USE int import_unwrap(EVP_PKEY *wrapping, enum wrap_alg alg, const uint8_t *in, size_t len,
                              uint8_t **out, size_t *out_len, struct cl_error *err);

/*
 * Checks material against a key spec (SYMMETRIC_DEFAULT: 32 bytes; HMAC:
 * AWS's length range; RSA/ECC: a PKCS#8 private key of that size or curve)
 * and gives it as the store keeps it (a private key: its DER, as CreateKey
 * stores generated ones). CL_EFORMAT with the reason when it does not fit.
 * *stored malloc'd (the caller wipes and frees).
 */
CL_MUST_USE int import_material_check(const char *spec, const uint8_t *m, size_t len,
                                      uint8_t **stored, size_t *stored_len, struct cl_error *err);

#endif
