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

/* The command line. */
struct attest_args {
    const char *eif_path, *pk_path, *ud_hex, *nonce_hex, *ca_dir, *output;
    bool debug, help;
};

static int parse_args(int argc, char **argv, struct attest_args *a)
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
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        const char **slot = NULL;
        switch (c) {
        case 'e': slot = &a->eif_path; break;
        case 'k': slot = &a->pk_path; break;
        case 'u': slot = &a->ud_hex; break;
        case 'n': slot = &a->nonce_hex; break;
        case 'c': slot = &a->ca_dir; break;
        case 'o': slot = &a->output; break;
        case 'd': a->debug = true; break;
        case 'h':
            usage(stdout);
            a->help = true;
            return 0;
        case ':':
            return cli_fail(E_MISSING_ARGUMENT, "%s requires a value", argv[optind - 1]);
        default:
            return cli_fail(E_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
        if (slot && *slot) {
            const char *name = "";
            for (const struct option *o = opts; o->name; o++)
                if (o->val == c)
                    name = o->name;
            return cli_fail(E_INVALID_ARGUMENT, "--%s was given more than once", name);
        }
        if (slot)
            *slot = optarg;
    }
    if (optind < argc)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
    if (!a->eif_path)
        return cli_fail(E_MISSING_ARGUMENT, "--eif-path is required");
    if (!a->output && isatty(STDOUT_FILENO))
        return cli_fail(E_INVALID_ARGUMENT,
                        "the document is binary: give --output FILE or redirect stdout");
    return 0;
}

/*
 * The module of an enclave running the image: only an image the runtime
 * would start has one (its CRC matches, a signed image's certificate
 * verifies now).
 */
static int enclave_module(const struct attest_args *a, struct eif **e, struct nsm_module **m)
{
    struct cl_error err = {0};
    struct hostconf host;
    if (hostconf_load(&host, NULL, &err) < 0)
        return cli_fail_lib(err.code == CL_EFORMAT ? E_INVALID_ARGUMENT : E_FILE_OPERATION, &err);
    if (eif_open(a->eif_path, e, &err) < 0)
        return cli_fail_lib(nitro_errno_of_eif_open(err.code), &err);
    if (!eif_crc_ok(*e))
        return cli_fail(E_EIF_PARSING, "'%s': CRC mismatch (stored %08x, computed %08x)",
                        a->eif_path, eif_crc_stored(*e), eif_crc_computed(*e));
    if (eif_check_signature(*e, time(NULL), &err) < 0)
        return cli_fail_lib(E_EIF_SIGNATURE_CHECKER, &err);
    struct attest_signer *signer = NULL;
    if (attest_signer_new_from_ca(a->ca_dir, &signer, &err) < 0)
        return cli_fail_lib(nitro_errno_of_ca(err.code), &err);
    struct nsm_enclave_config cfg = {
        .measurements = eif_measurements(*e),
        .debug_mode = a->debug,
        .host = &host,
    };
    /* the module owns the signer, also when it fails */
    if (nsm_module_new_enclave(&cfg, signer, m, &err) < 0)
        return cli_fail_lib(E_UNSPECIFIED, &err);
    return 0;
}

/* Asks the module for a document exactly as an enclave would; *resp holds
 * the answer r points into (caller frees). */
static int ask_document(struct nsm_module *m, const struct nsm_request *q, uint8_t **resp,
                        struct nsm_response *r)
{
    struct cl_error err = {0};
    uint8_t req[NSM_REQUEST_MAX];
    size_t req_len = 0, resp_len = 0;
    if (nsm_request_encode(q, req, sizeof(req), &req_len) < 0)
        return cli_fail(E_INVALID_ARGUMENT, "the request exceeds %d bytes", NSM_REQUEST_MAX);
    if ((*resp = malloc(NSM_RESPONSE_MAX)) == NULL)
        return cli_fail(E_UNSPECIFIED, "out of memory");
    if (nsm_module_handle(m, req, req_len, *resp, NSM_RESPONSE_MAX, &resp_len, &err) < 0)
        return cli_fail_lib(E_UNSPECIFIED, &err);
    if (nsm_response_decode(*resp, resp_len, r) != NSM_E_SUCCESS)
        return cli_fail(E_UNSPECIFIED, "the module's response cannot be decoded");
    if (r->op != NSM_OP_ATTESTATION)
        return cli_fail(E_INVALID_ARGUMENT, "the NSM refused the request: %s",
                        r->op == NSM_OP_ERROR ? nsm_error_name(r->error) : "unexpected response");
    return 0;
}

static int write_document(const char *output, const struct nsm_bytes *doc)
{
    struct cl_error err = {0};
    if (output) {
        if (file_write_atomic(output, doc->data, doc->len, 0644, &err) < 0)
            return cli_fail_lib(E_FILE_OPERATION, &err);
        return 0;
    }
    if (fwrite(doc->data, 1, doc->len, stdout) != doc->len || fflush(stdout) != 0)
        return cli_fail(E_FILE_OPERATION, "cannot write the document to stdout");
    return 0;
}

int cmd_attest(int argc, char **argv)
{
    struct attest_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0 || a.help)
        return rc;

    struct cl_error err = {0};
    static uint8_t ud[NSM_ATTEST_FIELD_MAX], nonce[NSM_ATTEST_FIELD_MAX];
    size_t ud_len = 0, nonce_len = 0;
    uint8_t *pk = NULL, *resp = NULL;
    size_t pk_len = 0;
    struct eif *e = NULL;
    struct nsm_module *m = NULL;

    if (a.ud_hex && (rc = cli_hex_value("--user-data", a.ud_hex, ud, sizeof(ud), &ud_len)))
        goto out;
    if (a.nonce_hex &&
        (rc = cli_hex_value("--nonce", a.nonce_hex, nonce, sizeof(nonce), &nonce_len)))
        goto out;
    if (a.pk_path && file_read_all(a.pk_path, NSM_ATTEST_FIELD_MAX, &pk, &pk_len, &err) < 0) {
        cl_error_prefix(&err, "--public-key");
        rc = cli_fail_lib(err.code == CL_ELIMIT ? E_INVALID_ARGUMENT : E_FILE_OPERATION, &err);
        goto out;
    }
    if ((rc = enclave_module(&a, &e, &m)) != 0)
        goto out;
    struct nsm_request q = {
        .op = NSM_OP_ATTESTATION,
        .user_data = {a.ud_hex ? ud : NULL, ud_len},
        .nonce = {a.nonce_hex ? nonce : NULL, nonce_len},
        .public_key = {a.pk_path ? (pk ? pk : (const uint8_t *)"") : NULL, pk_len},
    };
    struct nsm_response r;
    if ((rc = ask_document(m, &q, &resp, &r)) == 0)
        rc = write_document(a.output, &r.document);
out:
    free(resp);
    free(pk);
    nsm_module_free(m);
    eif_free(e);
    return rc;
}
