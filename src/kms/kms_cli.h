/* SPDX-License-Identifier: Apache-2.0 */
/* How cloister-kms's subcommands say what went wrong: one line on stderr
 * and the exit status (1 for a failure, 2 for usage). */
#ifndef CLOISTER_KMS_CLI_H
#define CLOISTER_KMS_CLI_H

#include <cloister/error.h>

/* "cloister-kms: what[: reason]"; returns 1. */
int cli_fail(const char *what, const struct cl_error *err);
/* A refused argument, what it must be and what it was; returns 1. */
int cli_fail_arg(const char *what, const char *arg);
/* The usage text; returns 2. */
int cli_usage(void);

#endif
