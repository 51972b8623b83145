/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the subcommands share (cli.h): nitro-cli's error reporting
 * (aws-nitro-enclaves-cli src/common/mod.rs, construct_error_message: one
 * "[ Exx ] ..." message on stderr and the E-number as exit status), its
 * pretty JSON output, and clap's option-value errors.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"

static bool as_nitro_cli;

void cli_set_name(const char *argv0)
{
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;
    base = base ? base + 1 : argv0;
    as_nitro_cli = base && !strcmp(base, "nitro-cli");
}

const char *cli_prog(void)
{
    return as_nitro_cli ? "nitro-cli" : "cloister";
}

bool cli_is_nitro_cli(void)
{
    return as_nitro_cli;
}

int cli_fail(enum nitro_errno e, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    /* nitro-cli's link (document_errors.rs, construct_help_link) exists for
     * its own numbers only; Cloister's E70-E79 have no page there. No error
     * log line: Cloister keeps no /var/log/nitro_enclaves (nitro-cli too
     * leaves the line out when it has no log). */
    if (as_nitro_cli && e <= E_EIF_SIGNING)
        fprintf(stderr, "[ E%02d ] %s. %s\n\nFor more details, please visit "
                "https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E%02d\n",
                (int)e, nitro_error_title(e), detail, (int)e);
    else
        fprintf(stderr, "[ E%02d ] %s. %s\n", (int)e, nitro_error_title(e), detail);
    return e == E_UNSPECIFIED ? 1 : (int)e;
}

int cli_fail_lib(enum nitro_errno e, const struct cl_error *err)
{
    if (!err || err->reason[0] == '\0')
        return cli_fail(e, "%s", err ? cl_code_name(err->code) : "unknown failure");
    return cli_fail(e, "%s", err->reason);
}

int cli_print_json(json_t *json)
{
    int rc = 0;
    char *text = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!text)
        rc = cli_fail(E_SERDE, "cannot serialize the output");
    else if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
        rc = cli_fail(E_SERDE, "cannot write the output");
    free(text);
    json_decref(json);
    return rc;
}

int cli_take_value(int argc, char **argv, int *i, const char **slot)
{
    const char *f = argv[*i];
    if (!slot)
        return cli_fail(E_INVALID_ARGUMENT, "Found argument '%s' which wasn't expected", f);
    if (*slot)
        return cli_fail(E_INVALID_ARGUMENT, "The argument '%s' was provided more than once", f);
    if (*i + 1 >= argc)
        return cli_fail(E_MISSING_ARGUMENT, "User did not provide a value for `%s`.", f + 2);
    *slot = argv[++*i];
    return 0;
}

int cli_hex_value(const char *what, const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    struct cl_error err = { 0 };
    if (hex_decode(out, cap, len, hex, &err) < 0)
        return cli_fail(E_INVALID_ARGUMENT, "%s: %s", what, err.reason);
    return 0;
}
