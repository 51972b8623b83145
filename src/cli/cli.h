/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every `cloister` subcommand shares: nitro-cli's error format (the
 * numbers and titles are in nitro_cli/nitro_errors.h, which the runtime
 * uses too), its JSON output and clap's option-value errors.
 *
 * A subcommand is `int cmd_<name>(int argc, char **argv)` in its own file
 * (cmd_<name>.c), registered in main.c's table. It returns 0, or the value
 * of cli_fail()/cli_fail_lib(), which printed the error once; main() exits
 * with that value, which is the error number, as nitro-cli does.
 */
#ifndef CLOISTER_CLI_H
#define CLOISTER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "nitro_cli/nitro_errors.h"

/*
 * The release of nitro-cli whose command line Cloister follows
 * (docs/compatibility.md): what `nitro-cli --version` prints.
 */
#define CLI_NITRO_CLI_VERSION "1.5.0"

/*
 * The name this program answers to, from argv[0]'s basename
 * (cli_set_name(), once, in main()): "nitro-cli" when it was called by that
 * name (a link made by `make install NITRO_CLI=ON`), then it behaves as
 * nitro-cli does (front.h), otherwise "cloister". cli_prog() is the name
 * usage texts print.
 */
void cli_set_name(const char *argv0);
const char *cli_prog(void);
bool cli_is_nitro_cli(void);

/*
 * Prints "[ Exx ] <title>. <detail>" to stderr (nitro-cli's
 * construct_error_message; called as nitro-cli, followed as nitro-cli's by
 * a blank line and the link to AWS's page for Exx, for nitro-cli's own
 * numbers E00-E60) and returns e, for `return cli_fail(...)`; for
 * E00 (unspecified, e.g. out of memory) it returns 1, so that every failure
 * is non-zero both for the callers that test `!= 0` and as exit status.
 */
int cli_fail(enum nitro_errno e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_fail() with a library error's reason as the detail. */
int cli_fail_lib(enum nitro_errno e, const struct cl_error *err);

/*
 * Prints json as serde_json::to_string_pretty does (2-space indent, keys in
 * insertion order) followed by a newline, to stdout, and takes ownership of
 * it (json_decref). Returns 0, or E_SERDE if it cannot be written.
 */
int cli_print_json(json_t *json);

/*
 * Takes the value of the option argv[*i] into *slot, with nitro-cli's
 * (clap's) errors: slot NULL (not an option of this command): E_INVALID_ARGUMENT
 * "Found argument ... which wasn't expected"; *slot already set: "... was
 * provided more than once"; no value after it: E_MISSING_ARGUMENT. Returns
 * 0 with *i moved onto the value, or the number of the error it printed.
 */
int cli_take_value(int argc, char **argv, int *i, const char **slot);

/*
 * Decodes an option's hex value (either case, base/hex.h) into out, at
 * most cap bytes, *len the count, with the one error every subcommand
 * gives: E_INVALID_ARGUMENT "<what>: <reason>" (what names the option,
 * e.g. "--nonce" or "--pcr 4"). Returns 0 or the number of the error it
 * printed.
 */
int cli_hex_value(const char *what, const char *hex, uint8_t *out, size_t cap, size_t *len);

#endif
