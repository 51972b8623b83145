/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Recipient parameter of Decrypt, GenerateDataKey, GenerateDataKeyPair
 * and GenerateRandom, checked in one place: recipient_read() reads its
 * members, verifies the attestation document (include/cloister/
 * attestation.h), requires its RSA public key, writes the audit object and
 * the kms:RecipientAttestation:* condition keys; recipient_wrap() makes
 * CiphertextForRecipient. docs/kms-policy.md, "Recipient", says what is
 * checked and where each rule comes from.
 *
 * Debug-mode documents (all-zero PCRs) are NOT refused here: key policies
 * decide, as in AWS.
 */
#ifndef CLOISTER_KMS_CALL_RECIPIENT_H
#define CLOISTER_KMS_CALL_RECIPIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "call/call.h"

/* AttestationDocument is 1..262144 bytes (botocore's RecipientInfo). */
#define RECIPIENT_DOC_MAX_BYTES 262144

struct attest_verifier; /* include/cloister/attestation.h */

struct recipient_opts {
    /* Borrowed: the server's trust roots (local attestation CA, --trust-root,
     * AWS root G1) and chain cache. Thread-safe once its roots are added. */
    struct attest_verifier *verifier;
    uint32_t max_age_s; /* documents older than this are refused (0: 300) */
    int64_t at;         /* verification time, Unix seconds; 0 = now */
};

struct recipient; /* a verified Recipient; owns its memory */

/*
 * THE Recipient path of a request: c->in's "Recipient" member, if present
 * and not null: KeyEncryptionAlgorithm absent or RSAES_OAEP_SHA_256,
 * AttestationDocument 1..RECIPIENT_DOC_MAX_BYTES bytes of base64, the
 * document verified with the service's roots and maximum age. On success
 * c->recipient holds it, the audit line has its "recipient" object and the
 * context its condition keys; on a refusal the audit line has
 * "recipientError". 0, or -1 with the error recorded in the call.
 */
CL_MUST_USE int recipient_read(struct call *c);

/*
 * Verifies an attestation document for use as a Recipient: signature,
 * chain to o's roots, age, an RSA public key of 2048 to 4096 bits. On
 * failure returns a negative code with AWS-style text in err->reason;
 * recipient_error_type(code) gives the exception type to answer with.
 */
CL_MUST_USE int recipient_verify(const uint8_t *doc, size_t doc_len, const struct recipient_opts *o,
                                 struct recipient **out, struct cl_error *err);

/* The fields of a document WITHOUT verifying anything (a what-if tool's:
 * `cloister-kms explain --attestation-doc`); it cannot be wrapped to. */
CL_MUST_USE int recipient_parse_unverified(const uint8_t *doc, size_t doc_len,
                                           struct recipient **out, struct cl_error *err);
void recipient_free(struct recipient *r);

/* AWS exception type for an error code of recipient_verify(). Never NULL. */
const char *recipient_error_type(int code);

/* Accessors (owned by r). */
const char *recipient_module_id(const struct recipient *r);
uint64_t recipient_timestamp_ms(const struct recipient *r);
/* PCR i (0..31) as lowercase hex, or NULL if the document lacks it. */
const char *recipient_pcr_hex(const struct recipient *r, unsigned i);
/* true when every PCR present is all zeros (a debug-mode enclave). */
bool recipient_is_debug(const struct recipient *r);
int recipient_rsa_bits(const struct recipient *r);

/*
 * The audit-log object of an attested request (CloudTrail's
 * additionalEventData.recipient in spirit): {"attestationDocumentModuleId",
 * "attestationDocumentEnclaveImageDigest" (PCR0), "pcrs": {"0": hex, ...},
 * "debug": bool, "timestampMs"}. New reference; NULL on ENOMEM.
 */
json_t *recipient_audit_json(const struct recipient *r);

/* CiphertextForRecipient: plaintext wrapped in CMS to the document's RSA
 * key (cms/cms.h). *out malloc'd, caller frees. */
CL_MUST_USE int recipient_wrap(const struct recipient *r, const uint8_t *plaintext, size_t len,
                               uint8_t **out, size_t *out_len, struct cl_error *err);

#endif
