/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister`: nitro-cli's command line for Cloister enclaves.
 * A table of subcommands drives both dispatch and the usage text; called
 * as `nitro-cli`, the top of the command line is nitro-cli's (front.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "front.h"

#ifndef CLOISTER_VERSION
#define CLOISTER_VERSION "0.0.0"
#endif

const struct command commands[] = {
    /*
     * Each subcommand has its line:
     *     { "name", cmd_name, "summary", "nitro-cli's summary" or NULL },
     * and declares `int cmd_name(int argc, char **argv);` in commands.h.
     * nitro-cli's come first, in the order of its help.
     */
    { "run-enclave", cmd_run_enclave, "Starts a new enclave", "Starts a new enclave" },
    { "terminate-enclave", cmd_terminate_enclave, "Terminates an enclave", "Terminates an enclave" },
    { "build-enclave", cmd_build_enclave, "Builds an enclave image and saves it to a file",
      "Builds an enclave image and saves it to a file" },
    { "describe-eif", cmd_describe_eif, "Returns information about the EIF found at a given path",
      "Returns information about the EIF found at a given path." },
    { "describe-enclaves", cmd_describe_enclaves, "Returns a list of the running enclaves",
      "Returns a list of the running enclaves" },
    { "console", cmd_console, "Connect to the console of an enclave", "Connect to the console of an enclave" },
    { "pcr", cmd_pcr, "Return the PCR hash value of the given input",
      "Return the PCR hash value of the given input" },
    { "sign-eif", cmd_sign_eif, "Sign an enclave image file (EIF)", "Sign EIF with the given key" },
    { "attestation-ca", cmd_attestation_ca, "Create, rotate or show the local attestation CA", NULL },
    { "attest", cmd_attest, "Issue the attestation document of an enclave running an image", NULL },
    { "verify-attestation", cmd_verify_attestation, "Verify an attestation document", NULL },
    { "exec", cmd_exec, "Run a parent-side program with the emulated vsock, KMS and metadata", NULL },
    { "env", cmd_env, "Print the parent environment for an interactive shell", NULL },
    { NULL, NULL, NULL, NULL },
};

static void usage(FILE *out)
{
    fprintf(out, "Cloister CLI %s\nCLI for enclave lifetime management\n\n", CLOISTER_VERSION);
    fprintf(out, "USAGE:\n    cloister <SUBCOMMAND> [OPTIONS]\n\nSUBCOMMANDS:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "    %-20s %s\n", c->name, c->summary);
    fprintf(out, "    %-20s %s\n", "help", "Print this message");
    fprintf(out, "\nOPTIONS:\n    -V, --version        Print version information\n");
}

int main(int argc, char **argv)
{
    cli_set_name(argv[0]);
    if (cli_is_nitro_cli())
        return front_nitro_cli_main(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return cli_fail(E_MISSING_ARGUMENT, "a subcommand is required");
    }
    const char *name = argv[1];
    if (!strcmp(name, "-V") || !strcmp(name, "--version")) {
        printf("Cloister CLI %s\n", CLOISTER_VERSION);
        return 0;
    }
    if (!strcmp(name, "help") || !strcmp(name, "-h") || !strcmp(name, "--help")) {
        usage(stdout);
        return 0;
    }
    for (const struct command *c = commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c->main(argc - 1, argv + 1);
    usage(stderr);
    return cli_fail(E_INVALID_COMMAND, "unknown subcommand '%s'", name);
}
