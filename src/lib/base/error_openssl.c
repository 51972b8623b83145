/* SPDX-License-Identifier: Apache-2.0 */
/* cl_fail_openssl(): the error idiom with OpenSSL's reason appended. */
#include <cloister/error.h>

#include <stdarg.h>
#include <stdio.h>

#include <openssl/err.h>

#include "base/error_record.h"

int cl_fail_openssl(struct cl_error *err, int code, const char *fmt, ...)
{
    char buf[256] = "unknown OpenSSL error";
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        const char *reason = ERR_reason_error_string(e);
        if (reason)
            snprintf(buf, sizeof(buf), "%s", reason);
        else
            ERR_error_string_n(e, buf, sizeof(buf));
    }
    ERR_clear_error();
    va_list ap;
    va_start(ap, fmt);
    cl_error_vrecord(err, code, buf, fmt, ap);
    va_end(ap);
    return code;
}
