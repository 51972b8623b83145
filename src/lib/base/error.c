/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error idiom (include/cloister/error.h). libc only, so that the static
 * enclave init compiles it too; cl_fail_openssl() lives in error_openssl.c.
 */
#include <cloister/error.h>

#include "base/error_record.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cl_error_vrecord(struct cl_error *err, int code, const char *suffix, const char *fmt,
                     va_list ap)
{
    if (!err)
        return code;
    /* Keep the first failure: it is the root cause; callers add context. */
    if (err->code != 0)
        return code;
    err->code = code;
    int n = vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    if (n < 0)
        err->reason[0] = '\0';
    if (suffix && n >= 0 && (size_t)n < sizeof(err->reason))
        snprintf(err->reason + n, sizeof(err->reason) - (size_t)n, ": %s", suffix);
    return code;
}

int cl_fail(struct cl_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl_error_vrecord(err, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int cl_fail_errno(struct cl_error *err, int code, const char *fmt, ...)
{
    int saved = errno;
    char buf[128];
    const char *why = strerror_r(saved, buf, sizeof(buf));
    va_list ap;
    va_start(ap, fmt);
    cl_error_vrecord(err, code, why, fmt, ap);
    va_end(ap);
    errno = saved;
    return code;
}

void cl_error_prefix(struct cl_error *err, const char *fmt, ...)
{
    if (!err || err->code == 0)
        return;
    char old[CL_ERROR_REASON_MAX];
    memcpy(old, err->reason, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    /* Append ": <old reason>", truncating silently: the reason is for people. */
    size_t used = (size_t)n < sizeof(err->reason) ? (size_t)n : sizeof(err->reason) - 1;
    size_t room = sizeof(err->reason) - 1 - used;
    const char sep[] = ": ";
    size_t k = room < 2 ? room : 2;
    memcpy(err->reason + used, sep, k);
    used += k;
    room -= k;
    size_t oldlen = strnlen(old, sizeof(old));
    k = oldlen < room ? oldlen : room;
    memcpy(err->reason + used, old, k);
    err->reason[used + k] = '\0';
}

void cl_error_clear(struct cl_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->reason[0] = '\0';
}

const char *cl_code_name(int code)
{
    switch (code) {
    case CL_OK: return "success";
    case CL_EINVAL: return "invalid argument";
    case CL_ENOMEM: return "out of memory";
    case CL_EIO: return "I/O error";
    case CL_EFORMAT: return "malformed input";
    case CL_EUNSUPPORTED: return "unsupported";
    case CL_ECRYPTO: return "cryptographic failure";
    case CL_ENOTFOUND: return "not found";
    case CL_EPERM: return "not permitted";
    case CL_ELIMIT: return "limit exceeded";
    case CL_ESTATE: return "wrong state";
    case CL_EEXIST: return "already exists";
    case CL_ETIMEOUT: return "timed out";
    case CL_ECHECKSUM: return "checksum mismatch";
    case CL_EALGORITHM: return "unexpected algorithm";
    case CL_ECHAIN: return "untrusted certificate chain";
    case CL_EEXPIRED: return "certificate not valid at this time";
    case CL_ESIGNATURE: return "bad signature";
    case CL_EPCR: return "PCR mismatch";
    case CL_ENONCE: return "nonce mismatch";
    case CL_EUSERDATA: return "user data mismatch";
    case CL_EDEBUG: return "debug-mode document";
    case CL_ESTALE: return "document too old";
    default: return "unknown error";
    }
}
