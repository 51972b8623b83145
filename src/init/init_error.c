/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two functions of <cloister/error.h> that the vsock client code uses,
 * for the static init, which does not link libcloister (and so OpenSSL).
 * Same behaviour as src/lib/error.c: the first failure is kept.
 */
#include <cloister/error.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int record(struct cl_error *err, int code, int errnum, const char *fmt, va_list ap)
{
    if (!err || err->code != 0)
        return code;
    err->code = code;
    int n = vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    if (n < 0)
        err->reason[0] = '\0';
    else if (errnum && (size_t)n < sizeof(err->reason))
        snprintf(err->reason + n, sizeof(err->reason) - (size_t)n, ": %s", strerror(errnum));
    return code;
}

int cl_fail(struct cl_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int cl_fail_errno(struct cl_error *err, int code, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    record(err, code, saved, fmt, ap);
    va_end(ap);
    errno = saved;
    return code;
}
