/* SPDX-License-Identifier: Apache-2.0 */
/* The one shape of a failed request (kms_error.h). */
#include "call/kms_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kms_error_status(const char *type)
{
    /* Server faults answer 500 (botocore's model marks them fault: true and
     * SDKs retry them); a DryRun that would have succeeded, 412. */
    if (!strcmp(type, "KMSInternalException") || !strcmp(type, "DependencyTimeoutException") ||
        !strcmp(type, "KeyUnavailableException"))
        return 500;
    if (!strcmp(type, "DryRunOperationException"))
        return 412;
    return 400;
}

int kms_error_sts_status(const char *code)
{
    if (!strcmp(code, "InvalidClientTokenId") || !strcmp(code, "SignatureDoesNotMatch") ||
        !strcmp(code, "MissingAuthenticationToken") || !strcmp(code, "AccessDenied"))
        return 403;
    return !strcmp(code, "InternalFailure") ? 500 : 400;
}

int kms_failv(struct kms_error *e, const char *type, const char *sts_code, const char *fmt,
              va_list ap)
{
    if (e->failed)
        return -1;
    e->failed = true;
    snprintf(e->type, sizeof(e->type), "%s", type);
    snprintf(e->sts_code, sizeof(e->sts_code), "%s", sts_code ? sts_code : "");
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    e->status = kms_error_status(type);
    return -1;
}

int kms_fail(struct kms_error *e, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kms_failv(e, type, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

int kms_fail_sts(struct kms_error *e, const char *type, const char *sts_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kms_failv(e, type, sts_code, fmt, ap);
    va_end(ap);
    return -1;
}
