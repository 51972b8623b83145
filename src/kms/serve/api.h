/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KMS JSON 1.1 API (research/kms.md §3) and STS GetCallerIdentity on
 * one endpoint: POST / with X-Amz-Target: TrentService.<Op> and
 * application/x-amz-json-1.1 is KMS; a form body
 * (application/x-www-form-urlencoded) signed for service "sts" is STS's
 * query protocol. Every request is authenticated (SigV4, sigv4.h),
 * authorized (policy.h: the key policy plus the caller's identity policy),
 * executed, answered with AWS's shapes and status codes, and written to
 * the audit log.
 */
#ifndef CLOISTER_KMS_API_H
#define CLOISTER_KMS_API_H

#include <stdbool.h>
#include <stdint.h>

#include "state/audit.h"
#include "serve/http.h"
#include "state/store.h"

struct attest_verifier;

struct kms_service {
    struct store *store;        /* borrowed */
    struct audit *audit;        /* borrowed; NULL: no audit log */
    char region[32];
    char account[16];
    struct attest_verifier *verifier;   /* borrowed; attestation roots for Recipient */
    uint32_t attestation_max_age;   /* seconds */
    int clock_skew_s;           /* allowed X-Amz-Date skew (AWS: 300) */
};

/* The http_handler of the service (arg is a struct kms_service *). */
void kms_api_handle(void *arg, const struct http_request *req, struct http_response *resp);

/* The key ARN of a key id in the service's region and account. */
void kms_key_arn(const struct kms_service *s, const char *id, char *out, size_t cap);

#endif
