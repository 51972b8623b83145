/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Issuing attestation documents, as the Nitro Secure Module does
 * (aws-nitro-enclaves-nsm-api docs/attestation_process.md §2;
 * docs/attestation.md, "Document format"): an untagged COSE_Sign1, protected {1: -35}, empty
 * unprotected map, ES384 r||s over the payload
 *
 *   { "module_id": text, "digest": "SHA384", "timestamp": uint (ms),
 *     "pcrs": { index: bstr(48) ... }, "certificate": leaf DER,
 *     "cabundle": [ root DER, ..., issuer-of-leaf DER ],
 *     "public_key": bstr / null, "user_data": bstr / null, "nonce": bstr / null }
 *
 * with the keys in exactly this order (the Rust struct's order, which real
 * modules emit), the timestamp in the 8-byte form, and null for absent
 * optional fields.
 *
 * The signer holds the per-enclave leaf key. Its chain is a local CA's
 * (attest_ca.h: root -> host intermediate -> leaf) or, for tests, an
 * ephemeral one generated in memory.
 */
#ifndef CLOISTER_ATTEST_ISSUE_H
#define CLOISTER_ATTEST_ISSUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

/* Bounds of the optional fields (the CDDL's user_data .size (0..1024)). */
#define ATTEST_DOC_MAX_OPTIONAL 1024

/* Lifetime of a leaf certificate, as AWS's: 3 hours. */
#define ATTEST_LEAF_LIFETIME_SECONDS (3 * 3600)

/* leaf key + leaf cert DER + cabundle DERs (root first); owns all of it. */
struct attest_signer;

/*
 * A fresh per-enclave leaf (P-384 key generated here, certificate valid 3 h)
 * issued by the host intermediate of the CA in ca_dir (created by
 * `cloister attestation-ca init`; NULL = the default directory). Rotates the
 * intermediate first when it is close to expiry (attest_ca.h). Needs read
 * access to the CA's private directory (root). On success *out is owned by
 * the caller: attest_signer_free().
 * Errors: CL_ENOTFOUND (no CA there), CL_EPERM (cannot read the keys),
 * CL_EFORMAT (damaged CA files), CL_ECRYPTO, CL_ENOMEM, CL_EIO.
 */
CL_MUST_USE int attest_signer_new_from_ca(const char *ca_dir, struct attest_signer **out,
                                          struct cl_error *err);

/* A throwaway root -> intermediate -> leaf chain in memory, for tests. */
CL_MUST_USE int attest_signer_new_ephemeral(struct attest_signer **out, struct cl_error *err);

/* Frees s (the leaf key is wiped by OpenSSL); NULL is fine. */
void attest_signer_free(struct attest_signer *s);

/* Root certificate of the signer's chain, PEM, NUL-terminated, malloc'd
 * (caller frees). Relying parties (and tests) trust it. */
CL_MUST_USE int attest_signer_root_pem(const struct attest_signer *s, char **pem,
                                       struct cl_error *err);

/* The leaf certificate (DER), owned by s. */
const uint8_t *attest_signer_leaf_der(const struct attest_signer *s, size_t *len);

/* notAfter of the leaf, Unix seconds: a module replaces its signer before this. */
int64_t attest_signer_not_after(const struct attest_signer *s);

struct attest_doc_fields {
    const char *module_id;
    uint64_t timestamp_ms;
    const uint8_t (*pcrs)[48];   /* PCR_COUNT registers */
    uint32_t pcr_mask;           /* bit i set: PCR i goes in the document (the locked ones) */
    const uint8_t *public_key; size_t public_key_len;   /* NULL: null */
    const uint8_t *user_data; size_t user_data_len;     /* NULL: null */
    const uint8_t *nonce; size_t nonce_len;             /* NULL: null */
    /* Encode the payload map with indefinite length (0xbf ... 0xff), as AWS
     * modules do since mid-2025; false: definite (0xa9), as before. */
    bool indefinite_map;
};

/*
 * Issues a document over f, signed with s's leaf key. Checks: module_id
 * non-empty (<= 256 bytes), timestamp > 0, pcrs given and pcr_mask != 0,
 * each optional field <= ATTEST_DOC_MAX_OPTIONAL bytes (CL_EINVAL / CL_ELIMIT).
 * On success *doc is malloc'd and owned by the caller.
 */
CL_MUST_USE int attest_doc_issue(struct attest_signer *s, const struct attest_doc_fields *f,
                                 uint8_t **doc, size_t *doc_len, struct cl_error *err);

#endif
