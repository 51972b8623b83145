/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to error.c and error_openssl.c: records a failure in err. */
#ifndef CLOISTER_ERROR_RECORD_H
#define CLOISTER_ERROR_RECORD_H

#include <stdarg.h>

#include <cloister/error.h>

/*
 * Keeps the first failure only; appends ": suffix" when suffix is non-NULL.
 * Returns code.
 */
int cl_error_vrecord(struct cl_error *err, int code, const char *suffix, const char *fmt,
                     va_list ap) __attribute__((format(printf, 4, 0)));

#endif
