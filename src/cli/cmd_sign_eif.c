/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister sign-eif --eif-path F --signing-certificate C --private-key K`:
 * adds or replaces the EIF's signature section (docs/eif.md, "Signature"),
 * fixes the offsets and the CRC, replaces the file atomically,
 * and prints the build JSON (PCR0-2 unchanged, PCR8 of the certificate).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cloister/eif.h>

#include "cli.h"
#include "commands.h"
#include "eif/eif_json.h"

int cmd_sign_eif(int argc, char **argv)
{
    static const struct option opts[] = {
        { "eif-path", required_argument, NULL, 'e' },
        { "signing-certificate", required_argument, NULL, 's' },
        { "private-key", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *vals[3] = { NULL, NULL, NULL };
    static const char *const names[3] = { "eif-path", "signing-certificate", "private-key" };
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        int i = c == 'e' ? 0 : c == 's' ? 1 : c == 'k' ? 2 : -1;
        if (i >= 0) {
            if (vals[i])
                return cli_fail(E_INVALID_ARGUMENT, "--%s was given more than once", names[i]);
            vals[i] = optarg;
            continue;
        }
        switch (c) {
        case 'h':
            printf("Usage: %s sign-eif --eif-path FILE --signing-certificate PEM "
                   "--private-key PEM\n", cli_prog());
            return 0;
        case ':':
            return cli_fail(E_MISSING_ARGUMENT, "%s requires a value", argv[optind - 1]);
        default:
            return cli_fail(E_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
    for (int i = 0; i < 3; i++)
        if (!vals[i])
            return cli_fail(E_MISSING_ARGUMENT, "--%s is required", names[i]);

    struct cl_error err = { 0 };
    /* Validate the image first, so that its faults are told apart (E35)
     * from the signing faults (E60). */
    struct eif *e = NULL;
    if (eif_open(vals[0], &e, &err) < 0)
        return cli_fail_lib(nitro_errno_of_eif_open(err.code), &err);
    eif_free(e);
    struct eif_measurements m;
    if (eif_sign(vals[0], vals[1], vals[2], &m, &err) < 0)
        return cli_fail_lib(err.code == CL_EIO || err.code == CL_ENOTFOUND ? E_FILE_OPERATION
                                                                            : E_EIF_SIGNING,
                            &err);
    fprintf(stderr, "Enclave Image successfully signed.\n");
    return cli_print_json(eif_build_info_json(&m));
}
