/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the document decoder (attest_doc.c) and the verifier
 * (attest_verify.c) share: the decoded document and the decoding step.
 * Not part of the public interface (include/cloister/attestation.h).
 */
#ifndef CLOISTER_ATTEST_DOC_INTERNAL_H
#define CLOISTER_ATTEST_DOC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cloister/attestation.h>

#include "cose/cose.h"

struct attest_doc {
    char module_id[ATTEST_MAX_MODULE_ID + 1];
    char digest[8];
    uint64_t timestamp_ms;
    uint32_t pcr_mask;
    uint8_t pcr[ATTEST_MAX_PCRS][64];
    size_t pcr_len[ATTEST_MAX_PCRS];
    uint8_t *cert; size_t cert_len;
    uint8_t *ca[ATTEST_MAX_CABUNDLE]; size_t ca_len[ATTEST_MAX_CABUNDLE];
    size_t ca_count;
    uint8_t *public_key; size_t public_key_len;   /* NULL: null/absent */
    uint8_t *user_data; size_t user_data_len;
    uint8_t *nonce; size_t nonce_len;
    bool verified;
};

/*
 * Steps 1-3 of verification: the COSE envelope, its algorithm (ES384) and
 * the payload. *out is a new document (attest_doc_free); *cose_out, when
 * cose_out is not NULL, the envelope (cose_sign1_free), for the signature
 * check. Errors: CL_EFORMAT, CL_EALGORITHM, CL_ENOMEM.
 */
CL_MUST_USE int attest_doc_parse(const uint8_t *doc, size_t len, struct cose_sign1 **cose_out,
                                 struct attest_doc **out, struct cl_error *err);

#endif
