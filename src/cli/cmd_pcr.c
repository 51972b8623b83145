/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister pcr --input FILE | --signing-certificate PEM`: nitro-cli's
 * get_file_pcr (docs/eif.md, "The commands"): {"PCR": ext(SHA384(file))}
 * or {"PCR8": ext(SHA384(DER(cert)))}. The two flags conflict (E02).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cloister/eif.h>

#include "cli.h"
#include "commands.h"
#include "base/fileio.h"
#include "base/hex.h"

/* A PEM certificate file bigger than this is not a certificate. */
#define CERT_FILE_MAX (1u << 20)

int cmd_pcr(int argc, char **argv)
{
    static const struct option opts[] = {
        { "input", required_argument, NULL, 'i' },
        { "signing-certificate", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *input = NULL, *cert = NULL;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        switch (c) {
        case 'i':
        case 's': {
            const char **slot = c == 'i' ? &input : &cert;
            if (*slot)
                return cli_fail(E_INVALID_ARGUMENT, "--%s was given more than once",
                                c == 'i' ? "input" : "signing-certificate");
            *slot = optarg;
            break;
        }
        case 'h':
            printf("Usage: %s pcr (--input FILE | --signing-certificate PEM)\n", cli_prog());
            return 0;
        case ':':
            return cli_fail(E_MISSING_ARGUMENT, "%s requires a value", argv[optind - 1]);
        default:
            return cli_fail(E_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
    if (input && cert)
        return cli_fail(E_CONFLICTING_ARGUMENT,
                        "--input and --signing-certificate cannot be used together");
    if (!input && !cert)
        return cli_fail(E_MISSING_ARGUMENT,
                        "one of --input or --signing-certificate is required");

    uint8_t pcr[48];
    struct cl_error err = { 0 };
    if (input) {
        /* nitro-cli: "Failed to open file" is a FileOperationFailure */
        if (eif_pcr_of_file(input, pcr, &err) < 0)
            return cli_fail_lib(err.code == CL_ECRYPTO ? E_HASHER : E_FILE_OPERATION, &err);
    } else {
        uint8_t *pem = NULL;
        size_t len = 0;
        if (file_read_all(cert, CERT_FILE_MAX, &pem, &len, &err) < 0)
            return cli_fail_lib(E_FILE_OPERATION, &err);
        int rc = eif_pcr8_of_cert_pem(pem, len, pcr, &err);
        free(pem);
        /* nitro-cli: "Failed to deserialize .pem" is a HasherError */
        if (rc < 0)
            return cli_fail_lib(E_HASHER, &err);
    }
    char hex[2 * 48 + 1];
    hex_encode(hex, pcr, sizeof(pcr));
    json_t *out = json_object();
    json_object_set_new(out, input ? "PCR" : "PCR8", json_string(hex));
    return cli_print_json(out);
}
