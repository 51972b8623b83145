/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifying Nitro attestation documents (AWS's and Cloister's).
 *
 * A document is an untagged (or tag-18) COSE_Sign1 whose payload is the
 * attestation map (aws-nitro-enclaves-nsm-api docs/attestation_process.md
 * §2-3). attest_verify() accepts it only when, in this order:
 *
 *   1. it parses: COSE_Sign1 of 4 items, protected {1: alg}, empty
 *      unprotected map, payload and signature byte strings; no trailing
 *      bytes (CL_EFORMAT);
 *   2. alg is ES384 (CL_EALGORITHM);
 *   3. every payload field is well-formed: module_id non-empty text, digest
 *      "SHA384" (CL_EALGORITHM otherwise), timestamp > 0, pcrs 1..32 entries
 *      of index < 32 and 32/48/64-byte values, certificate and 1..16
 *      cabundle entries DER of 1..1024 bytes, public_key/user_data/nonce
 *      null or <= 1024 bytes; no duplicate or non-text keys (CL_EFORMAT);
 *   4. the certificate chains, through cabundle (untrusted intermediates),
 *      to one of the verifier's roots under RFC 5280 path validation at the
 *      verification time (CL_ECHAIN; CL_EEXPIRED when a certificate is not
 *      valid then); the leaf key is P-384 (CL_EALGORITHM);
 *   5. the COSE signature verifies with the leaf key over the payload bytes
 *      as received (CL_ESIGNATURE; high-S accepted);
 *   6. the options hold: max age (CL_ESTALE), expected PCRs (CL_EPCR),
 *      nonce (CL_ENONCE), user_data (CL_EUSERDATA), production (CL_EDEBUG),
 *      compared in constant time.
 *
 * There is no default trust anchor: a verifier without a root refuses to
 * verify (CL_EINVAL). The AWS Nitro Enclaves root G1 is built in and is
 * used only when added with attest_verifier_add_aws_root().
 *
 * Chain validation results are cached per verifier, keyed by SHA-256 of the
 * leaf and cabundle DER (and the verifier's root set); a hit still checks
 * the validity window at the verification time. The document signature is
 * checked on every call. A verifier is safe to use from several threads
 * once its roots are added.
 */
#ifndef CLOISTER_ATTESTATION_H
#define CLOISTER_ATTESTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include <cloister/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SHA-256 of the DER of the AWS Nitro Enclaves root G1. */
#define ATTEST_AWS_ROOT_G1_SHA256 \
    "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"

/* Field limits (docs/attestation_process.md §2.2 CDDL). */
#define ATTEST_MAX_PCRS 32
#define ATTEST_MAX_OPTIONAL 1024
#define ATTEST_MAX_CERT 1024
#define ATTEST_MAX_CABUNDLE 16
#define ATTEST_MAX_MODULE_ID 256
/* A whole document: far above the ~5 KiB of real ones, below the NSM's
 * 12 KiB response limit times two. */
#define ATTEST_MAX_DOCUMENT (32 * 1024)

/* ------------------------------------------------------------ verifier */

/* Trust roots + chain cache. Owns copies of its roots. */
struct attest_verifier;

CL_MUST_USE int attest_verifier_new(struct attest_verifier **out, struct cl_error *err);
void attest_verifier_free(struct attest_verifier *v);

/* Adds every certificate of a PEM file (CL_EFORMAT if it holds none). */
CL_MUST_USE int attest_verifier_add_root_file(struct attest_verifier *v, const char *pem_path,
                                              struct cl_error *err);
/* Adds every certificate of a PEM buffer. */
CL_MUST_USE int attest_verifier_add_root_pem(struct attest_verifier *v, const char *pem, size_t len,
                                             struct cl_error *err);
/* Adds one DER certificate. */
CL_MUST_USE int attest_verifier_add_root_der(struct attest_verifier *v, const uint8_t *der,
                                             size_t len, struct cl_error *err);
/* Adds one certificate (the verifier takes its own reference). */
CL_MUST_USE int attest_verifier_add_root_x509(struct attest_verifier *v, X509 *root,
                                              struct cl_error *err);
/* Adds every certificate of an X509_STORE (the store stays the caller's). */
CL_MUST_USE int attest_verifier_add_roots_from_store(struct attest_verifier *v, X509_STORE *store,
                                                     struct cl_error *err);
/* Adds the built-in AWS Nitro Enclaves root G1. */
CL_MUST_USE int attest_verifier_add_aws_root(struct attest_verifier *v, struct cl_error *err);
/* Number of roots added. */
size_t attest_verifier_root_count(const struct attest_verifier *v);

/* The built-in AWS root G1, PEM (static, NUL-terminated). */
const char *attest_aws_root_g1_pem(void);

/* --------------------------------------------------------------- options */

struct attest_expected_pcr {
    unsigned index;              /* 0..31 */
    const uint8_t *value;        /* must equal the document's PCR, byte for byte */
    size_t len;
};

struct attest_verify_opts {
    int64_t at;                  /* verification time, Unix seconds; 0: now */
    uint64_t max_age;            /* seconds; 0: no limit. Also rejects a
                                    timestamp more than 5 minutes ahead of `at`. */
    const struct attest_expected_pcr *pcrs;   /* PCRs that must match (and be present) */
    size_t pcr_count;
    const uint8_t *nonce; size_t nonce_len;          /* NULL: not checked */
    const uint8_t *user_data; size_t user_data_len;  /* NULL: not checked */
    bool require_production;     /* reject debug-mode documents (PCR0 all zero) */
};

/* ------------------------------------------------------------- document */

/* A parsed document; owns its memory. */
struct attest_doc;

/*
 * Verifies doc[0..len) as above. opts may be NULL (no policy beyond the
 * chain and signature, time = now). On success, when out is not NULL, *out
 * is the decoded document (attest_doc_free()). Errors: one CL_E* code per
 * failure (see above), CL_EINVAL without roots, CL_ENOMEM.
 */
CL_MUST_USE int attest_verify(struct attest_verifier *v, const uint8_t *doc, size_t len,
                              const struct attest_verify_opts *opts, struct attest_doc **out,
                              struct cl_error *err);

/*
 * Steps 1-3 only: decodes a document WITHOUT checking its chain or
 * signature (for tools that display a rejected document and for the fuzzer).
 * Never base a decision on its fields.
 */
CL_MUST_USE int attest_doc_parse_unverified(const uint8_t *doc, size_t len, struct attest_doc **out,
                                            struct cl_error *err);

void attest_doc_free(struct attest_doc *d);

/* Accessors; pointers are owned by d and live until attest_doc_free(). */
const char *attest_doc_module_id(const struct attest_doc *d);
uint64_t attest_doc_timestamp_ms(const struct attest_doc *d);
const char *attest_doc_digest(const struct attest_doc *d);          /* "SHA384" */
uint32_t attest_doc_pcr_mask(const struct attest_doc *d);           /* bit i: PCR i present */
const uint8_t *attest_doc_pcr(const struct attest_doc *d, unsigned index, size_t *len); /* NULL: absent */
const uint8_t *attest_doc_certificate(const struct attest_doc *d, size_t *len);
size_t attest_doc_cabundle_count(const struct attest_doc *d);
const uint8_t *attest_doc_cabundle_cert(const struct attest_doc *d, size_t i, size_t *len); /* 0 = root */
const uint8_t *attest_doc_public_key(const struct attest_doc *d, size_t *len);  /* NULL: null */
const uint8_t *attest_doc_user_data(const struct attest_doc *d, size_t *len);   /* NULL: null */
const uint8_t *attest_doc_nonce(const struct attest_doc *d, size_t *len);       /* NULL: null */
/* Debug mode: PCR0 present and all zero (a debug enclave's module zeroes
 * PCR0-2 and PCR8; a production one never measures to zero). */
bool attest_doc_is_debug(const struct attest_doc *d);
/* True when d came from a successful attest_verify(). */
bool attest_doc_verified(const struct attest_doc *d);

#ifdef __cplusplus
}
#endif

#endif
