/* SPDX-License-Identifier: Apache-2.0 */
/* cloister-kms's one way of failing (kms_cli.h). */
#include "kms_cli.h"

#include <stdio.h>

int cli_fail(const char *what, const struct cl_error *err)
{
    fprintf(stderr, "cloister-kms: %s%s%s\n", what, err ? ": " : "", err ? err->reason : "");
    return 1;
}

/* A refused argument: what it must be, and what it was. */
int cli_fail_arg(const char *what, const char *arg)
{
    fprintf(stderr, "cloister-kms: %s, not '%s'\n", what, arg);
    return 1;
}

int cli_usage(void)
{
    fprintf(stderr,
            "usage: cloister-kms serve --data-dir DIR --listen HOST:PORT [--http] [--region R]\n"
            "                          [--account-id N] [--trust-root PEM]... [--aws-nitro-root]\n"
            "                          [--attestation-max-age S] [--threads N] [--config FILE]\n"
            "                          [--endpoints-file FILE] [--imds HOST:PORT]\n"
            "                          [--imds-tokens optional|required]\n"
            "                          [--imds-credential-duration S] [--imds-refresh S]\n"
            "       cloister-kms principal create NAME [--role] [--identity-policy FILE] "
            "--data-dir DIR\n"
            "       cloister-kms session create ROLE [--duration S] [--session-name NAME] "
            "--data-dir DIR\n"
            "       cloister-kms audit verify --data-dir DIR\n"
            "       cloister-kms explain --policy FILE --action ACTION --principal ARN ...\n");
    return 2;
}
