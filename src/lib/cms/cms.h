/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CiphertextForRecipient: CMS (RFC 5652) EnvelopedData in the exact shape
 * AWS KMS returns (docs/kms-policy.md, "CiphertextForRecipient"):
 * ContentInfo/EnvelopedData v2, BER with indefinite
 * lengths, one KeyTransRecipientInfo v2 identified by a subjectKeyIdentifier,
 * RSAES-OAEP with SHA-256 and MGF1-SHA-256 (empty label), AES-256-CBC with a
 * random 16-byte IV.
 *
 * Pure OpenSSL, in libcloister: cloister-kms encodes, the SDK's KMS client
 * (include/cloister/kms.h) decodes.
 */
#ifndef CLOISTER_CMS_H
#define CLOISTER_CMS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <cloister/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CiphertextForRecipient is at most 6144 bytes (botocore CiphertextType). */
#define CMS_RECIPIENT_MAX_BYTES 6144
/* Our subjectKeyIdentifier: SHA-256 of the recipient's SPKI DER, 32 bytes
 * like KMS's (how KMS derives its 32 bytes is unconfirmed; no consumer checks). */
#define CMS_SKI_LEN 32

/*
 * Encrypts plaintext[0..len) to the RSA public key pub (2048..4096 bits) and
 * writes the BER ContentInfo to *out (malloc'd, caller frees). Fails with
 * CL_EINVAL for a non-RSA key, CL_ECRYPTO on an OpenSSL failure.
 */
CL_MUST_USE int cms_envelope_encrypt(EVP_PKEY *pub, const uint8_t *plaintext, size_t len,
                                     uint8_t **out, size_t *out_len, struct cl_error *err);

/* As cms_envelope_encrypt(), with the DER SubjectPublicKeyInfo of pub
 * (spki[0..spki_len), used for the key identifier) given by the caller, who
 * already has it (the attestation document's public_key): saves encoding
 * the key again, which OpenSSL 3.0 makes slow. */
CL_MUST_USE int cms_envelope_encrypt_spki(EVP_PKEY *pub, const uint8_t *spki, size_t spki_len,
                                          const uint8_t *plaintext, size_t len, uint8_t **out,
                                          size_t *out_len, struct cl_error *err);

/* The parts of an EnvelopedData as the enclave SDK reads them. All owned. */
struct cms_envelope {
    uint8_t *ski;           /* subjectKeyIdentifier */
    size_t ski_len;
    uint8_t *encrypted_key; /* RSA-OAEP wrapped content-encryption key */
    size_t encrypted_key_len;
    uint8_t iv[16];
    uint8_t *ciphertext;    /* AES-256-CBC, PKCS#7 padded (chunks concatenated) */
    size_t ciphertext_len;
};

/*
 * Parses buf[0..len) (BER with indefinite or definite lengths, or DER) and
 * checks: contentType envelopedData; EnvelopedData version 2, no
 * originatorInfo; exactly one KeyTransRecipientInfo, version 2 with a [0]
 * subjectKeyIdentifier; keyEncryptionAlgorithm rsaesOaep with SHA-256 and
 * MGF1-SHA-256 (absent parameters, i.e. SHA-1, are refused); encrypted
 * content type id-data; aes-256-cbc with a 16-byte IV; trailing bytes
 * refused. CL_EFORMAT / CL_EUNSUPPORTED with a reason on failure. Free *out
 * with cms_envelope_clear().
 */
CL_MUST_USE int cms_envelope_parse(const uint8_t *buf, size_t len, struct cms_envelope *out,
                                   struct cl_error *err);
void cms_envelope_clear(struct cms_envelope *e);

/*
 * Parses, unwraps the content key with the RSA private key priv (OAEP
 * SHA-256/MGF1-SHA-256) and decrypts. *plaintext is malloc'd (caller wipes
 * and frees). A wrong key or corrupt content fails with CL_ECRYPTO
 * ("cannot unwrap the content-encryption key" / "bad padding"), never crashes.
 */
CL_MUST_USE int cms_envelope_decrypt(EVP_PKEY *priv, const uint8_t *buf, size_t len,
                                     uint8_t **plaintext, size_t *plaintext_len,
                                     struct cl_error *err);

#ifdef __cplusplus
}
#endif

#endif
