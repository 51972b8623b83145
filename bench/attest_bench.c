/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation throughput on one core: documents issued per second
 * (attest_doc_issue: payload encoding + ES384 signature) and documents
 * verified per second (attest_verify with the chain cache warm: COSE and
 * payload parsing, cache lookup, ES384 verification, policy checks).
 * Usage: attest_bench issue|verify SECONDS (of CPU time). Prints "<ops/s>".
 * Built and run by bench/attestation.sh, never by ctest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cloister/attestation.h>

#include "attest_ca/attest_issue.h"

/* CPU time of this process, as `openssl speed` measures by default (user
 * time), so that the ratio does not depend on what else the machine runs. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "issue") && strcmp(argv[1], "verify"))) {
        fprintf(stderr, "usage: attest_bench issue|verify SECONDS\n");
        return 2;
    }
    double seconds = atof(argv[2]);
    struct cl_error err = { 0 };
    struct attest_signer *s = NULL;
    if (attest_signer_new_ephemeral(&s, &err) < 0) {
        fprintf(stderr, "signer: %s\n", err.reason);
        return 1;
    }
    static uint8_t pcrs[32][48];
    for (int i = 0; i < 32; i++)
        memset(pcrs[i], i, 48);
    static const uint8_t nonce[32] = { 1 };
    struct attest_doc_fields f = {
        .module_id = "i-0123456789abcdef0-enc0123456789abcdef",
        .timestamp_ms = (uint64_t)time(NULL) * 1000,
        .pcrs = (const uint8_t(*)[48])pcrs,
        .pcr_mask = 0xffff,
        .nonce = nonce,
        .nonce_len = sizeof(nonce),
    };
    uint8_t *doc = NULL;
    size_t len = 0;
    long n = 0;
    double t0 = now_s(), t = t0;
    if (!strcmp(argv[1], "issue")) {
        while (t - t0 < seconds) {
            for (int i = 0; i < 16; i++, n++) {
                if (attest_doc_issue(s, &f, &doc, &len, &err) < 0) {
                    fprintf(stderr, "issue: %s\n", err.reason);
                    return 1;
                }
                free(doc);
            }
            t = now_s();
        }
    } else {
        struct attest_verifier *v = NULL;
        char *pem = NULL;
        if (attest_doc_issue(s, &f, &doc, &len, &err) < 0 || attest_verifier_new(&v, &err) < 0 ||
            attest_signer_root_pem(s, &pem, &err) < 0 ||
            attest_verifier_add_root_pem(v, pem, strlen(pem), &err) < 0) {
            fprintf(stderr, "setup: %s\n", err.reason);
            return 1;
        }
        struct attest_expected_pcr want = { 0, pcrs[0], 48 };
        struct attest_verify_opts o = { .pcrs = &want, .pcr_count = 1, .nonce = nonce,
                                        .nonce_len = sizeof(nonce) };
        while (t - t0 < seconds) {
            for (int i = 0; i < 16; i++, n++) {
                if (attest_verify(v, doc, len, &o, NULL, &err) < 0) {
                    fprintf(stderr, "verify: %s\n", err.reason);
                    return 1;
                }
            }
            t = now_s();
        }
        free(pem);
        free(doc);
        attest_verifier_free(v);
    }
    printf("%.1f\n", n / (t - t0));
    attest_signer_free(s);
    return 0;
}
