/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister attestation-ca init|rotate|show [--ca-dir DIR]`: the local
 * attestation CA (src/lib/attest_ca.h, docs/attestation.md). Relying
 * parties trust DIR/root.pem; the private keys stay in DIR/private (0700).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attest_ca/attest_ca.h"
#include "cli.h"
#include "commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "USAGE:\n"
            "    cloister attestation-ca init [--ca-dir DIR] [--force]\n"
            "    cloister attestation-ca rotate [--ca-dir DIR] [--force]\n"
            "    cloister attestation-ca show [--ca-dir DIR]\n\n"
            "    --ca-dir DIR   the CA directory (default %s)\n"
            "    --force        init: replace an existing CA; rotate: even if not due\n",
            ATTEST_CA_DEFAULT_DIR);
}

/* The CA's failures, numbered as every command that uses the CA does. */
static int lib_fail(const struct cl_error *err)
{
    return cli_fail_lib(nitro_errno_of_ca(err->code), err);
}

static void iso_time(char *out, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int show(const char *dir)
{
    struct attest_ca_info info;
    struct cl_error err = { 0 };
    if (attest_ca_info(dir, &info, &err) < 0)
        return lib_fail(&err);
    char rnb[32], rna[32], inb[32], ina[32], root_path[4200];
    iso_time(rnb, sizeof(rnb), info.root_not_before);
    iso_time(rna, sizeof(rna), info.root_not_after);
    iso_time(inb, sizeof(inb), info.intermediate_not_before);
    iso_time(ina, sizeof(ina), info.intermediate_not_after);
    snprintf(root_path, sizeof(root_path), "%s/root.pem", dir);
    json_t *j = json_object();
    json_object_set_new(j, "Directory", json_string(dir));
    json_object_set_new(j, "RootCertificate", json_string(root_path));
    json_object_set_new(j, "RootSubject", json_string(info.root_subject));
    json_object_set_new(j, "RootSHA256", json_string(info.root_sha256));
    json_object_set_new(j, "RootNotBefore", json_string(rnb));
    json_object_set_new(j, "RootNotAfter", json_string(rna));
    json_object_set_new(j, "IntermediateSubject", json_string(info.intermediate_subject));
    json_object_set_new(j, "IntermediateNotBefore", json_string(inb));
    json_object_set_new(j, "IntermediateNotAfter", json_string(ina));
    return cli_print_json(j);
}

int cmd_attestation_ca(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ca-dir", required_argument, NULL, 'd' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = ATTEST_CA_DEFAULT_DIR;
    bool force = false;
    if (argc < 2) {
        usage(stderr);
        return cli_fail(E_MISSING_ARGUMENT, "attestation-ca needs an action: init, rotate or show");
    }
    const char *action = argv[1];
    if (!strcmp(action, "--help") || !strcmp(action, "-h")) {
        usage(stdout);
        return 0;
    }
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (!*optarg)
                return cli_fail(E_INVALID_ARGUMENT, "--ca-dir needs a directory");
            dir = optarg;
            break;
        case 'f': force = true; break;
        case 'h': usage(stdout); return 0;
        default:
            usage(stderr);
            return cli_fail(E_INVALID_ARGUMENT, "unknown or incomplete option '%s'",
                            argv[optind]);
        }
    }
    if (optind < argc - 1)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind + 1]);

    struct cl_error err = { 0 };
    if (!strcmp(action, "init")) {
        if (attest_ca_init(dir, force, &err) < 0)
            return lib_fail(&err);
        struct attest_ca_info info;
        if (attest_ca_info(dir, &info, &err) < 0)
            return lib_fail(&err);
        printf("Attestation CA created in %s\n"
               "Root certificate (give it to relying parties): %s/root.pem\n"
               "Root SHA-256: %s\n", dir, dir, info.root_sha256);
        return 0;
    }
    if (!strcmp(action, "rotate")) {
        bool rotated = false;
        if (attest_ca_rotate(dir, force, &rotated, &err) < 0)
            return lib_fail(&err);
        struct attest_ca_info info;
        if (attest_ca_info(dir, &info, &err) < 0)
            return lib_fail(&err);
        char na[32];
        iso_time(na, sizeof(na), info.intermediate_not_after);
        printf("%s; the host intermediate is valid until %s\n",
               rotated ? "Intermediate rotated" : "Intermediate not due for rotation", na);
        return 0;
    }
    if (!strcmp(action, "show"))
        return show(dir);
    usage(stderr);
    return cli_fail(E_INVALID_ARGUMENT, "unknown action '%s' (init, rotate or show)", action);
}
