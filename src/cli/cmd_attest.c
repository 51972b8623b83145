/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister attest --eif-path F [--debug-mode] [--public-key DER_FILE]
 *  [--user-data HEX] [--nonce HEX] [--ca-dir DIR] [--output FILE]`
 *
 * Issues the attestation document that the NSM of an enclave running this
 * image would issue, so that relying parties (key policies, verifiers,
 * tests) can have one without running an enclave. It is the same code
 * path as the runtime's: the module is nsm_module_new_enclave() over the
 * image's measurements, the debug flag and the host configuration
 * (hostconf.h: PCR3, PCR4, module_id), signed by a fresh leaf of the
 * attestation CA in --ca-dir, and the document is the module's answer to
 * an Attestation request (docs/nsm.md).
 *
 * The image must be one the runtime would start: its CRC must match and a
 * signed image's certificate must verify now (nitro-cli's run-enclave
 * checks). The document goes to --output (written atomically) or, raw, to
 * stdout (never to a terminal).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cloister/eif.h>

#include "attest_ca/attest_ca.h"
#include "attest_ca/attest_issue.h"
#include "cli.h"
#include "commands.h"
#include "base/fileio.h"
#include "base/hex.h"
#include "nsm_device/hostconf.h"
#include "nsm_device/nsm_module.h"
#include "nsm/nsm_proto.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cloister attest --eif-path FILE [--debug-mode] [--public-key DER_FILE]\n"
            "                       [--user-data HEX] [--nonce HEX] [--ca-dir DIR]\n"
            "                       [--output FILE]\n"
            "Issues the attestation document of an enclave running FILE (default CA "
            "directory %s).\n",
            ATTEST_CA_DEFAULT_DIR);
}

static int hex_option(const char *name, const char *hex, uint8_t *out, size_t *len)
{
    struct cl_error err = {0};
    if (hex_decode(out, NSM_ATTEST_FIELD_MAX, len, hex, &err) < 0)
        return cli_fail(E_INVALID_ARGUMENT, "%s: %s", name, err.reason);
    return 0;
}

/* Library errors of the CA and files, as `attestation-ca` reports them. */
static int fail_ca(const struct cl_error *err)
{
    switch (err->code) {
    case CL_EPERM: return cli_fail_lib(E_FILE_PERMISSIONS, err);
    case CL_ENOTFOUND:
    case CL_EIO: return cli_fail_lib(E_FILE_OPERATION, err);
    default: return cli_fail_lib(E_UNSPECIFIED, err);
    }
}

int cmd_attest(int argc, char **argv)
{
    static const struct option opts[] = {
        {"eif-path", required_argument, NULL, 'e'},
        {"debug-mode", no_argument, NULL, 'd'},
        {"public-key", required_argument, NULL, 'k'},
        {"user-data", required_argument, NULL, 'u'},
        {"nonce", required_argument, NULL, 'n'},
        {"ca-dir", required_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *eif_path = NULL, *pk_path = NULL, *ud_hex = NULL, *nonce_hex = NULL;
    const char *ca_dir = NULL, *output = NULL;
    bool debug = false;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        const char **slot = NULL;
        switch (c) {
        case 'e': slot = &eif_path; break;
        case 'k': slot = &pk_path; break;
        case 'u': slot = &ud_hex; break;
        case 'n': slot = &nonce_hex; break;
        case 'c': slot = &ca_dir; break;
        case 'o': slot = &output; break;
        case 'd':
            debug = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return cli_fail(E_MISSING_ARGUMENT, "%s requires a value", argv[optind - 1]);
        default:
            return cli_fail(E_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
        if (slot) {
            if (*slot) {
                const char *name = "";
                for (const struct option *o = opts; o->name; o++)
                    if (o->val == c)
                        name = o->name;
                return cli_fail(E_INVALID_ARGUMENT, "--%s was given more than once", name);
            }
            *slot = optarg;
        }
    }
    if (optind < argc)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
    if (!eif_path)
        return cli_fail(E_MISSING_ARGUMENT, "--eif-path is required");
    if (!output && isatty(STDOUT_FILENO))
        return cli_fail(E_INVALID_ARGUMENT,
                        "the document is binary: give --output FILE or redirect stdout");

    int rc = 0;
    struct cl_error err = {0};
    static uint8_t ud[NSM_ATTEST_FIELD_MAX], nonce[NSM_ATTEST_FIELD_MAX];
    size_t ud_len = 0, nonce_len = 0;
    uint8_t *pk = NULL;
    size_t pk_len = 0;
    struct eif *e = NULL;
    struct attest_signer *signer = NULL;
    struct nsm_module *m = NULL;
    uint8_t *resp = NULL;

    if (ud_hex && (rc = hex_option("--user-data", ud_hex, ud, &ud_len)))
        goto out;
    if (nonce_hex && (rc = hex_option("--nonce", nonce_hex, nonce, &nonce_len)))
        goto out;
    if (pk_path && file_read_all(pk_path, NSM_ATTEST_FIELD_MAX, &pk, &pk_len, &err) < 0) {
        cl_error_prefix(&err, "--public-key");
        rc = cli_fail_lib(err.code == CL_ELIMIT ? E_INVALID_ARGUMENT : E_FILE_OPERATION, &err);
        goto out;
    }

    struct hostconf host;
    if (hostconf_load(&host, NULL, &err) < 0) {
        rc = cli_fail_lib(err.code == CL_EFORMAT ? E_INVALID_ARGUMENT : E_FILE_OPERATION, &err);
        goto out;
    }

    if (eif_open(eif_path, &e, &err) < 0) {
        rc = cli_fail_lib(err.code == CL_ENOTFOUND || err.code == CL_EIO ||
                                  err.code == CL_EINVAL || err.code == CL_ENOMEM
                              ? E_FILE_OPERATION
                              : E_EIF_PARSING,
                          &err);
        goto out;
    }
    /* Only an image the runtime would start has an enclave to attest. */
    if (!eif_crc_ok(e)) {
        rc = cli_fail(E_EIF_PARSING, "'%s': CRC mismatch (stored %08x, computed %08x)", eif_path,
                      eif_crc_stored(e), eif_crc_computed(e));
        goto out;
    }
    if (eif_check_signature(e, time(NULL), &err) < 0) {
        rc = cli_fail_lib(E_EIF_SIGNATURE_CHECKER, &err);
        goto out;
    }

    if (attest_signer_new_from_ca(ca_dir, &signer, &err) < 0) {
        rc = fail_ca(&err);
        goto out;
    }
    struct nsm_enclave_config cfg = {
        .measurements = eif_measurements(e),
        .debug_mode = debug,
        .host = &host,
    };
    rc = nsm_module_new_enclave(&cfg, signer, &m, &err);
    signer = NULL; /* the module owns it now */
    if (rc < 0) {
        rc = cli_fail_lib(E_UNSPECIFIED, &err);
        goto out;
    }

    /* Ask the module exactly as an enclave would. */
    struct nsm_request q = {
        .op = NSM_OP_ATTESTATION,
        .user_data = {ud_hex ? ud : NULL, ud_len},
        .nonce = {nonce_hex ? nonce : NULL, nonce_len},
        .public_key = {pk_path ? (pk ? pk : (const uint8_t *)"") : NULL, pk_len},
    };
    uint8_t req[NSM_REQUEST_MAX];
    size_t req_len = 0, resp_len = 0;
    if (nsm_request_encode(&q, req, sizeof(req), &req_len) < 0) {
        rc = cli_fail(E_INVALID_ARGUMENT, "the request exceeds %d bytes", NSM_REQUEST_MAX);
        goto out;
    }
    resp = malloc(NSM_RESPONSE_MAX);
    if (resp == NULL) {
        rc = cli_fail(E_UNSPECIFIED, "out of memory");
        goto out;
    }
    if (nsm_module_handle(m, req, req_len, resp, NSM_RESPONSE_MAX, &resp_len, &err) < 0) {
        rc = cli_fail_lib(E_UNSPECIFIED, &err);
        goto out;
    }
    struct nsm_response r;
    if (nsm_response_decode(resp, resp_len, &r) != NSM_E_SUCCESS) {
        rc = cli_fail(E_UNSPECIFIED, "the module's response cannot be decoded");
        goto out;
    }
    if (r.op != NSM_OP_ATTESTATION) {
        rc = cli_fail(E_INVALID_ARGUMENT, "the NSM refused the request: %s",
                      r.op == NSM_OP_ERROR ? nsm_error_name(r.error) : "unexpected response");
        goto out;
    }

    if (output) {
        if (file_write_atomic(output, r.document.data, r.document.len, 0644, &err) < 0) {
            rc = cli_fail_lib(E_FILE_OPERATION, &err);
            goto out;
        }
    } else if (fwrite(r.document.data, 1, r.document.len, stdout) != r.document.len ||
               fflush(stdout) != 0) {
        rc = cli_fail(E_FILE_OPERATION, "cannot write the document to stdout");
        goto out;
    }
out:
    free(resp);
    free(pk);
    nsm_module_free(m);
    attest_signer_free(signer);
    eif_free(e);
    return rc;
}
