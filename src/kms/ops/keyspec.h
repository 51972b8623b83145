/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a key spec means for the operations: its algorithms as KeyMetadata
 * and GetPublicKey list them, generating a key pair of a spec, and the DER
 * forms AWS returns (SubjectPublicKeyInfo, PKCS#8).
 */
#ifndef CLOISTER_KMS_OPS_KEYSPEC_H
#define CLOISTER_KMS_OPS_KEYSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "call/call.h"
#include "state/store.h"

/* The KeySpec of a key that names none (AWS's default: AES-256-GCM). */
#define KEY_SPEC_SYMMETRIC_DEFAULT "SYMMETRIC_DEFAULT"

bool is_symmetric(const struct store_key *k);
bool is_rsa_spec(const char *spec);
/* HMAC_224, HMAC_256, HMAC_384, HMAC_512. */
bool is_hmac_spec(const char *spec);
/* The key length in bytes of an HMAC spec (its number of bits / 8), 0 for another spec. */
size_t hmac_key_bytes(const char *spec);
/* The digest of an HMAC spec's one MacAlgorithm, HMAC_SHA_<bits>; NULL for another spec. */
const EVP_MD *hmac_digest(const char *spec);

/* ECC_NIST_P256/P384/P521: the specs that sign with ECDSA or agree keys
 * with ECDH (ECC_SECG_P256K1 signs only). */
bool is_nist_ecc_spec(const char *spec);
/* ECC_NIST_EDWARDS25519: Ed25519 (RFC 8032), signing only. */
#define KEY_SPEC_ED25519 "ECC_NIST_EDWARDS25519"

/* Whether a spec has a name in the deprecated CustomerMasterKeySpec enum
 * (botocore): the specs AWS added later (ECC_NIST_EDWARDS25519, ML_DSA_*) do
 * not, and answers leave that member out for them. */
bool has_cmk_spec(const char *spec);
/* Sets o's CustomerMasterKeySpec to spec when has_cmk_spec(spec). */
void set_cmk_spec(json_t *o, const char *spec);

/* Refuses an SM2 key or key pair (member: "KeySpec", "KeyPairSpec") with
 * UnsupportedOperationException: AWS offers SM2 only in its China Regions
 * (cn-*), so elsewhere the answer says so; in a China Region the answer is
 * that cloister-kms does not make SM2 keys (docs/kms.md). Returns -1. */
int refuse_sm2(struct call *c, const char *member);

/* A new key pair of an asymmetric spec (RSA_*, ECC_*), or NULL. */
EVP_PKEY *generate_pair(const char *spec);
/* DER SubjectPublicKeyInfo / PKCS#8 of a key; *out OPENSSL_malloc'd. -1 on failure. */
int der_public(EVP_PKEY *pk, uint8_t **out, size_t *len);
int der_pkcs8(EVP_PKEY *pk, uint8_t **out, size_t *len);

/* The SigningAlgorithms of a spec / the EncryptionAlgorithms of a key (new references). */
json_t *signing_algorithms(const char *spec);
json_t *encryption_algorithms(const struct store_key *k);
/* The KeyAgreementAlgorithms of a KEY_AGREEMENT key: ECDH (new reference). */
json_t *key_agreement_algorithms(void);
/* The MacAlgorithms of an HMAC spec: its one HMAC_SHA_<bits> (new reference). */
json_t *mac_algorithms(const char *spec);
/* Puts a key's algorithms in a KeyMetadata or GetPublicKey answer: EncryptionAlgorithms,
 * SigningAlgorithms, MacAlgorithms or KeyAgreementAlgorithms, by its usage. */
void set_algorithms(json_t *o, const struct store_key *k);

#endif
