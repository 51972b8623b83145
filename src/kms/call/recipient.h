/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Recipient parameter of Decrypt, GenerateDataKey, GenerateDataKeyPair
 * and GenerateRandom (research/kms.md §1): verify the attestation document
 * (through include/cloister/attestation.h), require its RSA public key,
 * expose its measurements as condition keys, wrap a plaintext into
 * CiphertextForRecipient. Owner: KMS-POLICY.
 *
 * Debug-mode documents (all-zero PCRs) are NOT refused here: key policies
 * decide, as in AWS (research §1.6).
 */
#ifndef CLOISTER_KMS_RECIPIENT_H
#define CLOISTER_KMS_RECIPIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include <cloister/error.h>

#include "policy/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* AttestationDocument is 1..262144 bytes (botocore RecipientInfo). */
#define RECIPIENT_DOC_MAX_BYTES 262144

struct attest_verifier; /* include/cloister/attestation.h */

struct recipient_opts {
    /* Borrowed: the server's trust roots (local attestation CA, --trust-root,
     * AWS root G1) and chain cache. Thread-safe once its roots are added. */
    struct attest_verifier *verifier;
    uint32_t max_age_s;      /* documents older than this are refused (0: 300) */
    int64_t at;              /* verification time, Unix seconds; 0 = now */
};

struct recipient; /* a verified Recipient; owns its memory */

/*
 * Verifies a Recipient. key_encryption_algorithm may be NULL (absent) or
 * must be "RSAES_OAEP_SHA_256"; doc must be 1..262144 bytes.
 * On failure returns a negative code and puts AWS's message in err->reason;
 * recipient_error_type(code) gives the exception type to answer with:
 *  - CL_EINVAL  -> "ValidationException" (missing/oversized document, bad
 *                  KeyEncryptionAlgorithm: "1 validation error detected: ...")
 *  - any other  -> "InvalidRequestException"-style refusal of the document,
 *                  see recipient_error_type() and docs/kms-policy.md.
 */
int recipient_verify(const uint8_t *doc, size_t doc_len, const char *key_encryption_algorithm,
                     const struct recipient_opts *o, struct recipient **out,
                     struct cl_error *err);
void recipient_free(struct recipient *r);

/* AWS exception type for an error code of recipient_verify(). Never NULL. */
const char *recipient_error_type(int code);

/* Accessors (owned by r). */
const char *recipient_module_id(const struct recipient *r);
uint64_t recipient_timestamp_ms(const struct recipient *r);
/* PCR i (0..31) as 96 lowercase hex digits, or NULL if the document lacks it. */
const char *recipient_pcr_hex(const struct recipient *r, unsigned i);
/* true when every PCR present is all zeros (a debug-mode enclave). */
bool recipient_is_debug(const struct recipient *r);
int recipient_rsa_bits(const struct recipient *r);

/*
 * Adds kms:RecipientAttestation:ImageSha384 (= PCR0) and
 * kms:RecipientAttestation:PCR<n> for every PCR of the document, lowercase
 * hex (research §2.1), to ctx.
 */
int recipient_add_context(const struct recipient *r, struct policy_context *ctx,
                          struct cl_error *err);

/*
 * The audit-log object of an attested request (CloudTrail's
 * additionalEventData.recipient in spirit): {"attestationDocumentModuleId",
 * "attestationDocumentEnclaveImageDigest" (PCR0), "pcrs": {"0": hex, ...},
 * "debug": bool}. New reference; NULL on ENOMEM.
 */
json_t *recipient_audit_json(const struct recipient *r);

/* CiphertextForRecipient: plaintext wrapped in CMS to the document's RSA
 * key (cms.h). *out malloc'd, caller frees. */
int recipient_wrap(const struct recipient *r, const uint8_t *plaintext, size_t len,
                   uint8_t **out, size_t *out_len, struct cl_error *err);

#ifdef __cplusplus
}
#endif

#endif
