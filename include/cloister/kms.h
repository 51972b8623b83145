/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave SDK's KMS client: Decrypt, Encrypt, GenerateDataKey,
 * GenerateRandom and DeriveSharedSecret against AWS KMS or cloister-kms, optionally with
 * attestation (the `Recipient` parameter), from inside an enclave through
 * the parent's vsock proxy. It mirrors aws-nitro-enclaves-sdk-c's kms.h
 * (docs/kmstool.md) with Cloister's error idiom.
 *
 * The connection: a vsock stream to the proxy (CID 3, port 8000 by
 * default; emulated under Cloister, real on Nitro), TLS end to end to the
 * key service (the parent sees only TLS records), HTTP/1.1, SigV4 for
 * service "kms". The key service the enclave trusts is part of the image:
 * by default the host name is kms.<region>.amazonaws.com and the CA bundle
 * is the image's own trust store; overrides belong in the image, never in
 * what the parent sends.
 *
 * With attestation, each call makes a fresh RSA-2048 key pair, asks the NSM
 * for a document carrying its public key, sends it as the Recipient, and
 * opens CiphertextForRecipient (CMS EnvelopedData) with the private key,
 * which is then wiped. Plaintext never crosses the parent in any form.
 */
#ifndef CLOISTER_KMS_H
#define CLOISTER_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KMS_DEFAULT_PROXY_CID 3
#define KMS_DEFAULT_PROXY_PORT 8000
#define KMS_DEFAULT_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

struct kms_client_config {
    const char *region;            /* required, e.g. "us-east-1" */
    const char *endpoint;          /* TLS host name [":" port] for SNI, certificate and Host;
                                      NULL: kms.<region>.amazonaws.com */
    const char *ca_bundle;         /* PEM file; NULL: KMS_DEFAULT_CA_BUNDLE */
    uint32_t proxy_cid;            /* 0: KMS_DEFAULT_PROXY_CID */
    uint32_t proxy_port;           /* 0: KMS_DEFAULT_PROXY_PORT */
    const char *endpoint_url;      /* parent-side programs only: "https://host:port" reached
                                      directly over TCP instead of through the vsock proxy;
                                      NULL inside an enclave */
    const char *access_key_id;     /* required */
    const char *secret_access_key; /* required */
    const char *session_token;     /* NULL with long-term keys */
};

struct kms_client;

/* Copies the configuration; *out owned by the caller (kms_client_free). */
CL_MUST_USE int kms_client_new(const struct kms_client_config *cfg, struct kms_client **out,
                               struct cl_error *err);

/* Wipes the credentials and frees. NULL is allowed. */
void kms_client_free(struct kms_client *c);

/*
 * Every call below returns 0 or a negative CL_E* code. When the key service
 * answers with an error, the reason is "<AWS error type>: <message>" (for
 * example "AccessDeniedException: ...") and the code is CL_EPERM for access
 * denials, CL_ENOTFOUND for NotFoundException, CL_EFORMAT for
 * InvalidCiphertextException and ValidationException, CL_EIO otherwise.
 *
 * Outputs are malloc'd and owned by the caller; plaintexts must be wiped
 * (OPENSSL_cleanse) before free.
 */

/*
 * Decrypt. key_id and encryption_algorithm are optional (NULL);
 * encryption_context_json is an optional JSON object of strings. With
 * attest, the plaintext travels only inside CiphertextForRecipient.
 */
CL_MUST_USE int kms_decrypt(struct kms_client *c, const uint8_t *ciphertext, size_t ciphertext_len,
                            const char *key_id, const char *encryption_algorithm,
                            const char *encryption_context_json, bool attest, uint8_t **plaintext,
                            size_t *plaintext_len, struct cl_error *err);

/* Encrypt (never attested: the plaintext is the caller's). */
CL_MUST_USE int kms_encrypt(struct kms_client *c, const char *key_id, const uint8_t *plaintext,
                            size_t plaintext_len, const char *encryption_context_json,
                            uint8_t **ciphertext, size_t *ciphertext_len, struct cl_error *err);

/* GenerateDataKey with key_spec "AES_256" or "AES_128". */
CL_MUST_USE int kms_generate_data_key(struct kms_client *c, const char *key_id,
                                      const char *key_spec, bool attest, uint8_t **ciphertext,
                                      size_t *ciphertext_len, uint8_t **plaintext,
                                      size_t *plaintext_len, struct cl_error *err);

/* GenerateRandom, 1..1024 bytes. */
CL_MUST_USE int kms_generate_random(struct kms_client *c, size_t length, bool attest,
                                    uint8_t **random, struct cl_error *err);

/*
 * DeriveSharedSecret with KeyAgreementAlgorithm ECDH: the raw shared secret
 * of a KEY_AGREEMENT key (ECC_NIST_P256/P384/P521) and the peer's public
 * key, a DER SubjectPublicKeyInfo on the same curve. With attest, the
 * secret travels only inside CiphertextForRecipient.
 */
CL_MUST_USE int kms_derive_shared_secret(struct kms_client *c, const char *key_id,
                                         const uint8_t *public_key, size_t public_key_len,
                                         bool attest, uint8_t **secret, size_t *secret_len,
                                         struct cl_error *err);

#ifdef __cplusplus
}
#endif

#endif
