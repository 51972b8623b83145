/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the COSE_Sign1 parser and the attestation document
 * parser/verifier (src/lib/cose/, src/lib/attest/). Seeds:
 * tests/fuzz/corpus/attestation/ (real AWS documents and their variants).
 * Any input must be rejected or accepted cleanly: no crash, no leak, no
 * undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>

#include <cloister/attestation.h>

#include "cose/cose.h"

static struct attest_verifier *verifier;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!verifier) {
        if (attest_verifier_new(&verifier, NULL) < 0 || attest_verifier_add_aws_root(verifier, NULL) < 0)
            abort();
    }
    struct cose_sign1 *m = NULL;
    if (cose_sign1_parse(data, size, &m, NULL) == 0) {
        size_t n = 0;
        uint8_t *tbs = NULL;
        if (!cose_sign1_payload(m, &n) || cose_sign1_alg(m) == 1)
            abort(); /* a parsed message always has a payload; alg 1 is not a signature alg */
        if (cose_sign1_sig_structure(m, &tbs, &n, NULL) == 0)
            free(tbs);
        cose_sign1_free(m);
    }
    struct attest_doc *d = NULL;
    if (attest_doc_parse_unverified(data, size, &d, NULL) == 0) {
        size_t n = 0;
        for (unsigned i = 0; i < 32; i++)
            attest_doc_pcr(d, i, &n);
        attest_doc_is_debug(d);
        attest_doc_free(d);
    }
    /* the whole path, at the time of the 2024-11-25 seed */
    struct attest_verify_opts o = { .at = 1732575521, .require_production = true, .max_age = 3600 };
    if (attest_verify(verifier, data, size, &o, &d, NULL) == 0)
        attest_doc_free(d);
    return 0;
}
