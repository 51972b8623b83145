/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister describe-enclaves [--metadata]`: nitro-cli's JSON array of
 * EnclaveDescribeInfo (docs/runtime.md; aws-nitro-enclaves-cli
 * src/common/json_output.rs), one object per
 * running enclave of this runtime directory ($CLOISTER_RUN_DIR), in CID
 * order: EnclaveName, EnclaveID, ProcessID (the monitor), EnclaveCID,
 * NumberOfCPUs, CPUIDs, MemoryMiB, State (RUNNING or TERMINATING; an
 * enclave that ended is not listed: rt_trace.h keeps why), Flags (DEBUG_MODE or
 * NONE), Measurements (the image's PCRs, also for debug-mode enclaves,
 * whose documents carry zeros: nitro-cli shows them alike), then with
 * --metadata ImageName, ImageVersion and Metadata. Cloister adds
 * LimitsNotApplied (the cgroup limits the host refused), only when there
 * is something to say. Stale records are cleaned first.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "rt_cli.h"
#include "rt_state.h"

int cmd_describe_enclaves(int argc, char **argv)
{
    bool metadata = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--metadata")) {
            metadata = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Usage: %s describe-enclaves [--metadata]\n", cli_prog());
            return 0;
        } else {
            return cli_fail(E_INVALID_ARGUMENT, "Found argument '%s' which wasn't expected", argv[i]);
        }
    }
    struct cl_error err = { 0 };
    struct rt_state *st = NULL;
    json_t *records = NULL;
    int rc = 0;
    if (rt_state_open(false, &st, &err) < 0 || rt_state_list(st, &records, &err) < 0) {
        rc = cli_fail_lib(E_READ_FROM_DISK, &err);
        goto out;
    }
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        const char *state = rt_rec_str(r, "State");
        if (state && !strcmp(state, "STARTING"))
            continue;  /* run-enclave has not returned for it yet */
        json_array_append_new(out, rt_cli_describe_json(r, metadata));
    }
    rc = cli_print_json(out);
out:
    json_decref(records);
    rt_state_free(st);
    return rc;
}
