/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister console (--enclave-id ID | --enclave-name NAME)
 * [--disconnect-timeout SECONDS]`: nitro-cli's console. Streams the
 * console of a debug-mode enclave (its monitor keeps it) to stdout until
 * the enclave ends or the timeout passes; any other enclave is refused with
 * E44, as on Nitro. An enclave that has ended shows what was kept of it
 * (rt_trace.h): its console's tail (debug mode) and why it ended, which
 * nitro-cli cannot show.
 */
#include <stdio.h>
#include <string.h>

#include "base/num.h"
#include "cli.h"
#include "commands.h"
#include "rt_cli.h"
#include "rt_state.h"
#include "rt_trace.h"
#include "rt_util.h"

int cmd_console(int argc, char **argv)
{
    const char *id = NULL, *name = NULL, *timeout = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char **slot = !strcmp(f, "--enclave-id") ? &id : !strcmp(f, "--enclave-name") ? &name
                            : !strcmp(f, "--disconnect-timeout") ? &timeout : NULL;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("Usage: %s console (--enclave-id ID | --enclave-name NAME) "
                   "[--disconnect-timeout SECONDS]\n", cli_prog());
            return 0;
        }
        int rc = cli_take_value(argc, argv, &i, slot);
        if (rc != 0)
            return rc;
    }
    if (id && name)
        return cli_fail(E_CONFLICTING_ARGUMENT, "User provided both `enclave-id` and `enclave-name`.");
    if (!id && !name)
        return cli_fail(E_MISSING_ARGUMENT, "User did not provide the `enclave-id` argument.");
    long long secs = -1;
    uint64_t t;
    if (timeout && num_parse_u64(timeout, 1ull << 40, &t) != 0)
        return cli_fail(E_INVALID_ARGUMENT,
                        "The parameter `disconnect-timeout` is not a valid integer (`%s`)", timeout);
    if (timeout)
        secs = (long long)t;

    struct cl_error err = { 0 };
    struct rt_state *st = NULL;
    json_t *records = NULL, *rec = NULL, *trace = NULL;
    int rc = 0;
    if (rt_state_open(false, &st, &err) < 0 || rt_state_list(st, &records, &err) < 0) {
        rc = cli_fail_lib(E_READ_FROM_DISK, &err);
        goto out;
    }
    rc = rt_cli_find(records, id, name, &rec, &err);
    if (rc != 0) {
        /* Not running: an enclave that ended shows what was kept of it. */
        if (rt_trace_find(st, id, name, &trace, NULL) == 0 && trace) {
            err = (struct cl_error){ 0 };
            rc = rt_cli_console_ended(st, trace, &err);
        }
    } else {
        rc = rt_cli_console(st, rec, secs, &err);
    }
    if (rc != 0)
        rc = cli_fail_lib((enum nitro_errno)rc, &err);
out:
    json_decref(trace);
    json_decref(records);
    rt_state_free(st);
    return rc;
}
