/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister verify-attestation --document FILE [--root PEM]... [--aws-root]
 *  [--pcr N=HEX]... [--nonce HEX] [--user-data HEX] [--at UNIX_SECONDS]
 *  [--max-age SECONDS] [--require-production] [--json]`
 *
 * Verifies an attestation document (include/cloister/attestation.h) and
 * prints a one-line verdict, or the decoded document with --json. Each way
 * of failing has its own exit status, 70-79 (docs/attestation.md), printed
 * in nitro-cli's "[ Exx ] Title. Reason" format.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include <cloister/attestation.h>

#include "base/num.h"
#include "cli.h"
#include "commands.h"
#include "base/fileio.h"
#include "base/hex.h"

#define MAX_ROOT_FILES 16

/* Exit statuses of a rejected document (docs/attestation.md). */
static const struct {
    int code;      /* CL_E* */
    int status;
    const char *title;
} verdicts[] = {
    { CL_EFORMAT, 70, "Attestation document verification failed" },
    { CL_EALGORITHM, 71, "Attestation document uses an unexpected algorithm" },
    { CL_ECHAIN, 72, "Attestation certificate chain is not trusted" },
    { CL_EEXPIRED, 73, "Attestation certificate is not valid at the verification time" },
    { CL_ESIGNATURE, 74, "Attestation document signature is invalid" },
    { CL_EPCR, 75, "Attestation document PCR mismatch" },
    { CL_ENONCE, 76, "Attestation document nonce mismatch" },
    { CL_EUSERDATA, 77, "Attestation document user data mismatch" },
    { CL_EDEBUG, 78, "Attestation document comes from a debug-mode enclave" },
    { CL_ESTALE, 79, "Attestation document is too old" },
};

static int reject(const struct cl_error *err)
{
    for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
        if (verdicts[i].code == err->code) {
            fprintf(stderr, "[ E%02d ] %s. %s\n", verdicts[i].status, verdicts[i].title, err->reason);
            return verdicts[i].status;
        }
    if (err->code == CL_ENOMEM)
        return cli_fail_lib(E_UNSPECIFIED, err);
    return cli_fail_lib(E_ATTESTATION, err);
}

static void usage(FILE *out)
{
    fprintf(out,
            "USAGE:\n"
            "    cloister verify-attestation --document FILE [--root PEM]... [--aws-root]\n"
            "        [--pcr N=HEX]... [--nonce HEX] [--user-data HEX] [--at UNIX_SECONDS]\n"
            "        [--max-age SECONDS] [--require-production] [--json]\n\n"
            "    --document FILE       the attestation document (raw COSE_Sign1 bytes)\n"
            "    --root PEM            trust the certificate(s) in this PEM file (repeatable)\n"
            "    --aws-root            trust the built-in AWS Nitro Enclaves root G1\n"
            "    --pcr N=HEX           PCR N must equal HEX (repeatable)\n"
            "    --nonce HEX           the nonce must equal HEX\n"
            "    --user-data HEX       user_data must equal HEX\n"
            "    --at UNIX_SECONDS     verify as of this time instead of now\n"
            "    --max-age SECONDS     reject documents older than this\n"
            "    --require-production  reject debug-mode documents (PCR0 zero)\n"
            "    --json                print the decoded document as JSON\n");
}

static char *hex_alloc(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (s)
        hex_encode(s, p, n);
    return s;
}

static json_t *json_hex_or_null(const uint8_t *p, size_t n)
{
    if (!p)
        return json_null();
    char *s = hex_alloc(p, n);
    json_t *j = s ? json_string(s) : json_null();
    free(s);
    return j;
}

static json_t *subject_json(const uint8_t *der, size_t len)
{
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x)
        return json_null();
    json_t *j = json_null();
    BIO *b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        char *d = NULL;
        long n = BIO_get_mem_data(b, &d);
        if (n >= 0)
            j = json_stringn(d, (size_t)n);
    }
    BIO_free(b);
    X509_free(x);
    return j;
}

static void iso_ms(char *out, size_t cap, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03uZ", buf, (unsigned)(ms % 1000));
}

static int print_json(const struct attest_doc *d)
{
    json_t *j = json_object();
    json_object_set_new(j, "module_id", json_string(attest_doc_module_id(d)));
    json_object_set_new(j, "timestamp", json_integer((json_int_t)attest_doc_timestamp_ms(d)));
    json_object_set_new(j, "digest", json_string(attest_doc_digest(d)));
    json_t *pcrs = json_object();
    for (unsigned i = 0; i < 32; i++) {
        size_t n = 0;
        const uint8_t *v = attest_doc_pcr(d, i, &n);
        if (!v)
            continue;
        char key[4];
        snprintf(key, sizeof(key), "%u", i);
        json_object_set_new(pcrs, key, json_hex_or_null(v, n));
    }
    json_object_set_new(j, "pcrs", pcrs);
    size_t n = 0;
    const uint8_t *cert = attest_doc_certificate(d, &n);
    json_object_set_new(j, "certificate", subject_json(cert, n));
    json_t *ca = json_array();
    for (size_t i = 0; i < attest_doc_cabundle_count(d); i++) {
        const uint8_t *c = attest_doc_cabundle_cert(d, i, &n);
        json_array_append_new(ca, subject_json(c, n));
    }
    json_object_set_new(j, "cabundle", ca);
    const uint8_t *p = attest_doc_public_key(d, &n);
    json_object_set_new(j, "public_key", json_hex_or_null(p, n));
    p = attest_doc_user_data(d, &n);
    json_object_set_new(j, "user_data", json_hex_or_null(p, n));
    p = attest_doc_nonce(d, &n);
    json_object_set_new(j, "nonce", json_hex_or_null(p, n));
    json_object_set_new(j, "debug_mode", json_boolean(attest_doc_is_debug(d)));
    json_object_set_new(j, "verified", json_boolean(attest_doc_verified(d)));
    return cli_print_json(j);
}

/* Decodes HEX into a malloc'd buffer (at most cap bytes). */
static int parse_hex_arg(const char *opt, const char *hex, size_t cap, uint8_t **out, size_t *len)
{
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return cli_fail(E_UNSPECIFIED, "out of memory");
    int rc = cli_hex_value(opt, hex, buf, cap, len);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

/* The command line, parsed. Buffers are owned (args_free). */
struct verify_args {
    const char *doc_path;
    const char *roots[MAX_ROOT_FILES];
    size_t n_roots;
    bool aws_root, json, help;
    struct attest_expected_pcr pcrs[32];
    uint8_t pcr_values[32][64];
    size_t n_pcrs;
    uint32_t pcr_seen;
    struct attest_verify_opts o;
    uint8_t *nonce, *user_data;
};

static void args_free(struct verify_args *a)
{
    free(a->nonce);
    free(a->user_data);
}

/* --pcr N=HEX (optarg is modified: the '=' is cut). */
static int parse_pcr(struct verify_args *a, char *arg)
{
    char *eq = strchr(arg, '=');
    if (!eq)
        return cli_fail(E_INVALID_ARGUMENT, "--pcr expects N=HEX, got '%s'", arg);
    *eq = '\0';
    uint64_t index;
    if (num_parse_u64(arg, 31, &index) != 0)
        return cli_fail(E_INVALID_ARGUMENT, "--pcr: PCR index '%s' is not 0..31", arg);
    if (a->pcr_seen & (1u << index))
        return cli_fail(E_CONFLICTING_ARGUMENT, "--pcr %" PRIu64 " is given twice", index);
    size_t len = 0;
    char what[16];
    snprintf(what, sizeof(what), "--pcr %" PRIu64, index);
    uint8_t *value = a->pcr_values[a->n_pcrs];
    int rc = cli_hex_value(what, eq + 1, value, sizeof(a->pcr_values[0]), &len);
    if (rc != 0)
        return rc;
    a->pcr_seen |= 1u << index;
    a->pcrs[a->n_pcrs++] = (struct attest_expected_pcr){ (unsigned)index, value, len };
    return 0;
}

/* A positive number of seconds for --at / --max-age. */
static int parse_seconds(const char *arg, const char *what, uint64_t *out)
{
    if (num_parse_u64(arg, INT64_MAX / 1000, out) != 0 || *out == 0)
        return cli_fail(E_INVALID_ARGUMENT, "%s, got '%s'", what, arg);
    return 0;
}

static int parse_args(int argc, char **argv, struct verify_args *a)
{
    static const struct option opts[] = {
        { "document", required_argument, NULL, 'd' },
        { "root", required_argument, NULL, 'r' },
        { "aws-root", no_argument, NULL, 'A' },
        { "pcr", required_argument, NULL, 'p' },
        { "nonce", required_argument, NULL, 'n' },
        { "user-data", required_argument, NULL, 'u' },
        { "at", required_argument, NULL, 't' },
        { "max-age", required_argument, NULL, 'm' },
        { "require-production", no_argument, NULL, 'P' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int rc = 0;
    uint64_t secs;
    optind = 1;
    opterr = 0;
    for (int c; rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        switch (c) {
        case 'd': a->doc_path = optarg; break;
        case 'r':
            if (a->n_roots == MAX_ROOT_FILES)
                return cli_fail(E_INVALID_ARGUMENT, "at most %d --root files", MAX_ROOT_FILES);
            a->roots[a->n_roots++] = optarg;
            break;
        case 'A': a->aws_root = true; break;
        case 'p': rc = parse_pcr(a, optarg); break;
        case 'n':
            free(a->nonce);
            a->nonce = NULL;
            rc = parse_hex_arg("--nonce", optarg, ATTEST_MAX_OPTIONAL, &a->nonce, &a->o.nonce_len);
            a->o.nonce = a->nonce;
            break;
        case 'u':
            free(a->user_data);
            a->user_data = NULL;
            rc = parse_hex_arg("--user-data", optarg, ATTEST_MAX_OPTIONAL, &a->user_data,
                               &a->o.user_data_len);
            a->o.user_data = a->user_data;
            break;
        case 't':
            if ((rc = parse_seconds(optarg, "--at expects Unix seconds", &secs)) == 0)
                a->o.at = (int64_t)secs;
            break;
        case 'm':
            rc = parse_seconds(optarg, "--max-age expects a positive number of seconds",
                               &a->o.max_age);
            break;
        case 'P': a->o.require_production = true; break;
        case 'j': a->json = true; break;
        case 'h': usage(stdout); a->help = true; return 0;
        case ':':
            usage(stderr);
            return cli_fail(E_MISSING_ARGUMENT, "option '%s' needs a value", argv[optind - 1]);
        default:
            usage(stderr);
            return cli_fail(E_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (rc != 0)
        return rc;
    if (optind < argc)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
    if (!a->doc_path) {
        usage(stderr);
        return cli_fail(E_MISSING_ARGUMENT, "--document is required");
    }
    if (a->n_roots == 0 && !a->aws_root)
        return cli_fail(E_MISSING_ARGUMENT,
                        "no trust anchor: give --root PEM (e.g. the attestation CA's root.pem) or --aws-root");
    a->o.pcrs = a->pcrs;
    a->o.pcr_count = a->n_pcrs;
    return 0;
}

/* A verifier trusting the roots the arguments name. */
static int make_verifier(const struct verify_args *a, struct attest_verifier **v)
{
    struct cl_error err = { 0 };
    if (attest_verifier_new(v, &err) < 0)
        return cli_fail_lib(E_UNSPECIFIED, &err);
    for (size_t i = 0; i < a->n_roots; i++)
        if (attest_verifier_add_root_file(*v, a->roots[i], &err) < 0)
            return cli_fail_lib(err.code == CL_EFORMAT ? E_INVALID_ARGUMENT : E_FILE_OPERATION, &err);
    if (a->aws_root && attest_verifier_add_aws_root(*v, &err) < 0)
        return cli_fail_lib(E_UNSPECIFIED, &err);
    return 0;
}

static void print_verdict(const struct attest_doc *d)
{
    char when[48];
    iso_ms(when, sizeof(when), attest_doc_timestamp_ms(d));
    printf("Attestation document verified: module %s, issued %s, %d PCRs, %s mode\n",
           attest_doc_module_id(d), when, __builtin_popcount(attest_doc_pcr_mask(d)),
           attest_doc_is_debug(d) ? "debug" : "production");
}

int cmd_verify_attestation(int argc, char **argv)
{
    struct verify_args a = { 0 };
    struct attest_verifier *v = NULL;
    struct attest_doc *d = NULL;
    struct cl_error err = { 0 };
    uint8_t *doc = NULL;
    size_t len = 0;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0 || a.help)
        goto out;
    if ((rc = make_verifier(&a, &v)) != 0)
        goto out;
    if (file_read_all(a.doc_path, ATTEST_MAX_DOCUMENT, &doc, &len, &err) < 0) {
        if (err.code == CL_ELIMIT) {
            err.code = CL_EFORMAT;
            rc = reject(&err);
        } else {
            rc = cli_fail_lib(E_FILE_OPERATION, &err);
        }
        goto out;
    }
    if (attest_verify(v, doc, len, &a.o, &d, &err) < 0) {
        rc = reject(&err);
        goto out;
    }
    if (a.json)
        rc = print_json(d);
    else
        print_verdict(d);
out:
    attest_doc_free(d);
    attest_verifier_free(v);
    free(doc);
    args_free(&a);
    return rc;
}
