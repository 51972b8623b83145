/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one shape of a failed request. Every step that can refuse a request
 * (SigV4 authentication, STS's form decoding, the request's members, the
 * key policy, an operation) records its refusal here, in AWS's words, and
 * the serving layer turns it into KMS's JSON answer or STS's XML one and
 * into the audit line's "result" and "errorMessage".
 *
 * The first failure recorded is kept: it is the root cause, and a later
 * step failing because of it must not replace the message.
 *
 * Types, statuses and the "Message"/"message" spelling: docs/kms.md,
 * "Error shapes".
 */
#ifndef CLOISTER_KMS_CALL_KMS_ERROR_H
#define CLOISTER_KMS_CALL_KMS_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

struct kms_error {
    bool failed;
    int status;        /* HTTP status of KMS's answer: 400, 412 (DryRun), 500 (server faults) */
    char type[64];     /* KMS's __type: "NotFoundException" */
    char sts_code[64]; /* STS's <Code> for the same failure ("SignatureDoesNotMatch");
                          set by the steps an STS request goes through, else "" */
    char message[1024];
};

/* Records a KMS failure (status from the type); returns -1. */
int kms_fail(struct kms_error *e, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a failure both protocols answer: KMS's type and STS's code
 * (which is also the type for STS-only failures); returns -1. */
int kms_fail_sts(struct kms_error *e, const char *type, const char *sts_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* kms_fail_sts() with a va_list; sts_code may be NULL. */
int kms_failv(struct kms_error *e, const char *type, const char *sts_code, const char *fmt,
              va_list ap) __attribute__((format(printf, 4, 0)));

/* The HTTP status KMS answers a type with. */
int kms_error_status(const char *type);

/* The HTTP status STS answers a code with: 403 for authentication and
 * authorization failures, 500 for its own faults, else 400. */
int kms_error_sts_status(const char *code);

#endif
