/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister terminate-enclave (--enclave-id ID | --enclave-name NAME | --all)`:
 * nitro-cli's terminate-enclave. The enclave's monitor is asked to end it
 * (SIGTERM); it kills the enclave's PID namespace, removes its cgroups,
 * sockets and record, and exits. Prints "Successfully terminated enclave
 * <id>." on stderr and {"EnclaveName", "EnclaveID", "Terminated": true}
 * on stdout (an array of them with --all, every enclave of this runtime
 * directory, stale records cleaned on the way). What is kept of enclaves
 * that ended by themselves (rt_trace.h) goes too: the one named, or all
 * with --all.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "rt_cli.h"
#include "rt_state.h"
#include "rt_trace.h"

int cmd_terminate_enclave(int argc, char **argv)
{
    const char *id = NULL, *name = NULL;
    bool all = false;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("Usage: %s terminate-enclave (--enclave-id ID | --enclave-name NAME | --all)\n",
                   cli_prog());
            return 0;
        }
        if (!strcmp(f, "--all")) {
            if (all)
                return cli_fail(E_INVALID_ARGUMENT, "The argument '--all' was provided more than once");
            all = true;
            continue;
        }
        const char **slot = !strcmp(f, "--enclave-id") ? &id : !strcmp(f, "--enclave-name") ? &name : NULL;
        int rc = cli_take_value(argc, argv, &i, slot);
        if (rc != 0)
            return rc;
    }
    if ((id != NULL) + (name != NULL) + all > 1)
        return cli_fail(E_CONFLICTING_ARGUMENT, "User provided both `%s` and `%s`.",
                        id ? "enclave-id" : "enclave-name", all ? "all" : "enclave-name");
    if (!id && !name && !all)
        return cli_fail(E_MISSING_ARGUMENT, "User did not provide the `enclave-id` argument.");

    struct cl_error err = { 0 };
    struct rt_state *st = NULL;
    json_t *records = NULL;
    int rc = 0;
    if (rt_state_open(false, &st, &err) < 0 || rt_state_list(st, &records, &err) < 0) {
        rc = cli_fail_lib(E_READ_FROM_DISK, &err);
        goto out;
    }
    if (all) {
        json_t *out = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(records, i, r) {
            if ((rc = rt_cli_terminate(st, r, &err)) != 0) {
                json_decref(out);
                rc = cli_fail_lib((enum nitro_errno)rc, &err);
                goto out;
            }
            fprintf(stderr, "Successfully terminated enclave %s.\n", rt_rec_str(r, "EnclaveID"));
            json_array_append_new(out, rt_cli_terminate_json(r));
        }
        rt_trace_remove(st, NULL, NULL);  /* and what was kept of ended ones */
        rc = cli_print_json(out);
        goto out;
    }
    json_t *rec = NULL, *trace = NULL;
    if ((rc = rt_cli_find(records, id, name, &rec, &err)) != 0) {
        /* An enclave that has ended: what was kept of it goes. */
        struct cl_error terr = { 0 };
        if (rt_trace_find(st, id, name, &trace, NULL) == 0 && trace &&
            rt_trace_remove(st, rt_rec_str(trace, "EnclaveID"), &terr) == 0) {
            fprintf(stderr, "Successfully terminated enclave %s.\n", rt_rec_str(trace, "EnclaveID"));
            rc = cli_print_json(rt_cli_terminate_json(trace));
        } else {
            rc = cli_fail_lib((enum nitro_errno)rc, terr.reason[0] ? &terr : &err);
        }
        json_decref(trace);
        goto out;
    }
    if ((rc = rt_cli_terminate(st, rec, &err)) != 0) {
        rc = cli_fail_lib((enum nitro_errno)rc, &err);
        goto out;
    }
    fprintf(stderr, "Successfully terminated enclave %s.\n", rt_rec_str(rec, "EnclaveID"));
    rc = cli_print_json(rt_cli_terminate_json(rec));
out:
    json_decref(records);
    rt_state_free(st);
    return rc;
}
