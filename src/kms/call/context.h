/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The condition keys of a request: every key the server puts in a call's
 * condition context (policy/context.h) is written here, and nowhere else,
 * so the list in docs/kms-policy.md ("Condition keys the server fills in")
 * can be checked against one file.
 *
 * The context is created on first use with the transport and identity
 * keys (aws:SecureTransport, aws:SourceIp, aws:PrincipalArn,
 * aws:PrincipalAccount, kms:CallerAccount); operations add the rest as they
 * learn them. Every writer returns 0, or -1 with KMSInternalException
 * recorded when memory runs out: a key silently missing could turn a
 * Deny into an Allow (a negated or ...IfExists condition).
 */
#ifndef CLOISTER_KMS_CALL_CONTEXT_H
#define CLOISTER_KMS_CALL_CONTEXT_H

#include <jansson.h>

#include <cloister/error.h>

#include "call/call.h"
#include "state/store.h"

struct policy_context;
struct recipient;

/* The context of the request, for evaluation; NULL with the call failed
 * when it cannot be created. */
const struct policy_context *call_context(struct call *c);

/* kms:KeySpec, kms:KeyUsage, kms:KeyOrigin of the key the request names. */
CL_MUST_USE int call_context_key(struct call *c, const struct store_key *k);
/* kms:RequestAlias: the alias the request named its key by. */
CL_MUST_USE int call_context_alias(struct call *c, const char *alias);
/* kms:EncryptionContext:<key> for each pair and kms:EncryptionContextKeys
 * (multi-valued); the audit line gets the keys, never the values. ctx NULL:
 * nothing (the context itself is still created). */
CL_MUST_USE int call_context_encryption(struct call *c, const json_t *ctx);
/* The EncryptionAlgorithm of a request that names none, and the only one
 * of a symmetric key (AWS's EncryptionAlgorithmSpec). */
#define KMS_ALG_SYMMETRIC_DEFAULT "SYMMETRIC_DEFAULT"

/* kms:EncryptionAlgorithm (absent in the request: KMS_ALG_SYMMETRIC_DEFAULT). */
CL_MUST_USE int call_context_encryption_algorithm(struct call *c, const char *alg);
/* kms:SigningAlgorithm and kms:MessageType (absent: RAW). */
CL_MUST_USE int call_context_signing(struct call *c, const char *alg, const char *message_type);
/* kms:MacAlgorithm (GenerateMac, VerifyMac). */
CL_MUST_USE int call_context_mac(struct call *c, const char *alg);
/* CreateGrant's keys: kms:GrantOperations (multi-valued), kms:GranteePrincipal,
 * kms:RetiringPrincipal (when given), kms:GrantConstraintType (the
 * constraint members given) and kms:GrantIsForAWSResource, always "false":
 * only an AWS service integrated with KMS makes it true, and no AWS service
 * calls this server (docs/kms-policy.md). */
CL_MUST_USE int call_context_grant(struct call *c, const json_t *operations, const char *grantee,
                                   const char *retiring, const json_t *constraints);

/* kms:KeyAgreementAlgorithm (DeriveSharedSecret). */
CL_MUST_USE int call_context_key_agreement(struct call *c, const char *alg);

/* A region condition key of a multi-Region operation: kms:ReplicaRegion
 * (ReplicateKey), kms:PrimaryRegion (UpdatePrimaryRegion). */
CL_MUST_USE int call_context_region(struct call *c, const char *key, const char *region);

/* kms:WrappingAlgorithm and kms:WrappingKeySpec (GetParametersForImport). */
CL_MUST_USE int call_context_wrapping(struct call *c, const char *alg, const char *spec);
/* kms:ExpirationModel and, when valid_to is not NULL, kms:ValidTo in
 * seconds since the epoch (ImportKeyMaterial). */
CL_MUST_USE int call_context_expiration(struct call *c, const char *model, const double *valid_to);
/* kms:RecipientAttestation:* of the call's verified Recipient. */
CL_MUST_USE int call_context_recipient(struct call *c, const struct recipient *r);

/* Forgets every key but the transport and identity ones (ReEncrypt: the
 * destination key is authorized with its own encryption context). */
void call_context_restart(struct call *c);

/*
 * kms:RecipientAttestation:ImageSha384 (= PCR0) and :PCR<n> for every PCR
 * of a Recipient's document, lowercase hex, into any context: the server's
 * (call_context_recipient) and `cloister-kms explain --attestation-doc`'s.
 */
CL_MUST_USE int context_add_recipient(struct policy_context *ctx, const struct recipient *r,
                                      struct cl_error *err);

#endif
