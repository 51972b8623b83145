/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the enclave subcommands of `cloister` share (run-enclave,
 * describe-enclaves, console, terminate-enclave): finding an enclave by ID
 * or name, streaming a console, terminating through the monitor. Functions
 * return 0 or a nitro-cli E-number (src/cli/cli.h) with err's reason, for
 * the command to print with cli_fail().
 */
#ifndef CLOISTER_RT_CLI_H
#define CLOISTER_RT_CLI_H

#include <stdbool.h>

#include <jansson.h>

#include <cloister/error.h>

#include "rt_state.h"

/*
 * The record (borrowed from records) of the enclave with this ID or name.
 * Unknown ID: E40 (no socket path for it, as nitro-cli); unknown name: E58.
 */
int rt_cli_find(json_t *records, const char *id, const char *name, json_t **rec,
                struct cl_error *err);

/*
 * nitro-cli's console: prints "Connecting to the console for enclave
 * <cid>..." and "Successfully connected to the console." on stdout, then
 * copies the enclave's console to stdout until the enclave ends or
 * timeout_s seconds pass (< 0: no timeout). E44 for an enclave not in
 * debug mode or whose monitor refuses, E45/E46 for read/write failures.
 */
int rt_cli_console(struct rt_state *st, json_t *rec, long long timeout_s, struct cl_error *err);

/*
 * The console of an enclave that has ended (trace: rt_trace.h): what its
 * console kept, on stdout, then "The enclave <id> ended at <time>:
 * <reason>." on stderr. E44, with the reason, for an enclave that was not
 * in debug mode (nothing of its console is kept).
 */
int rt_cli_console_ended(struct rt_state *st, json_t *trace, struct cl_error *err);

/*
 * Asks the monitor of rec to terminate its enclave (SIGTERM) and waits for
 * it to be gone (it removes the record); a monitor that does not answer in
 * time is killed and its record cleaned as stale.
 */
int rt_cli_terminate(struct rt_state *st, json_t *rec, struct cl_error *err);

/* The JSON nitro-cli prints for a terminated enclave. */
json_t *rt_cli_terminate_json(json_t *rec);

/* describe-enclaves' object for a record (metadata: ImageName, ImageVersion, Metadata). */
json_t *rt_cli_describe_json(json_t *rec, bool metadata);

#endif
