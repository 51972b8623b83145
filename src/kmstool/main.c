/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-kmstool: kmstool_enclave_cli for Cloister (research/kms.md §5).
 * Runs inside an enclave; every call is attested (the Recipient parameter),
 * so the plaintext reaches only this process.
 *
 *   cloister-kmstool decrypt   --region R --aws-access-key-id ID --aws-secret-access-key S
 *                              [--aws-session-token T] --ciphertext B64
 *                              [--key-id K --encryption-algorithm A]
 *   cloister-kmstool genkey    ... --key-id K --key-spec AES-256|AES-128
 *   cloister-kmstool genrandom ... --length N
 * common: [--proxy-port 8000] [--endpoint HOST[:PORT]] [--ca-bundle PEM]
 *
 * stdout as kmstool_enclave_cli's: "PLAINTEXT: <b64>" (genkey prints
 * "CIPHERTEXT: <b64>" first); logs on stderr; exit 1 on error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <cloister/kms.h>

#include "base/base64.h"

enum { OPT_REGION = 256, OPT_PROXY_PORT, OPT_AKID, OPT_SECRET, OPT_TOKEN, OPT_CIPHERTEXT,
       OPT_KEY_ID, OPT_ALGORITHM, OPT_KEY_SPEC, OPT_LENGTH, OPT_ENDPOINT, OPT_CA_BUNDLE,
       OPT_CONTEXT };

static void usage(FILE *out)
{
    fputs("usage: cloister-kmstool <decrypt|genkey|genrandom> [options]\n"
          "  --region REGION                 (default us-east-1)\n"
          "  --proxy-port PORT               vsock port of the proxy at CID 3 (default 8000)\n"
          "  --aws-access-key-id ID          required\n"
          "  --aws-secret-access-key SECRET  required\n"
          "  --aws-session-token TOKEN       with temporary credentials\n"
          "  --endpoint HOST[:PORT]          TLS name of the key service\n"
          "                                  (default kms.<region>.amazonaws.com)\n"
          "  --ca-bundle FILE                trusted CAs (default the image's trust store)\n"
          "decrypt:   --ciphertext B64 [--key-id KEY --encryption-algorithm ALG]\n"
          "           [--encryption-context JSON]\n"
          "genkey:    --key-id KEY --key-spec AES-256|AES-128\n"
          "genrandom: --length 1..1024\n",
          out);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cloister-kmstool: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int print_blob(const char *label, const uint8_t *data, size_t len)
{
    char *b64 = base64_encode(data, len);
    if (!b64)
        return fail("out of memory");
    printf("%s: %s\n", label, b64);
    OPENSSL_cleanse(b64, strlen(b64));
    free(b64);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    const char *command = argv[1];
    bool decrypt = !strcmp(command, "decrypt"), genkey = !strcmp(command, "genkey"),
         genrandom = !strcmp(command, "genrandom");
    if (!decrypt && !genkey && !genrandom) {
        usage(stderr);
        return fail("unknown command '%s'", command);
    }

    struct kms_client_config cfg = { .region = "us-east-1" };
    const char *ciphertext = NULL, *key_id = NULL, *algorithm = NULL, *key_spec = NULL,
               *length = NULL, *context = NULL;
    static const struct option opts[] = {
        { "region", required_argument, NULL, OPT_REGION },
        { "proxy-port", required_argument, NULL, OPT_PROXY_PORT },
        { "aws-access-key-id", required_argument, NULL, OPT_AKID },
        { "aws-secret-access-key", required_argument, NULL, OPT_SECRET },
        { "aws-session-token", required_argument, NULL, OPT_TOKEN },
        { "ciphertext", required_argument, NULL, OPT_CIPHERTEXT },
        { "key-id", required_argument, NULL, OPT_KEY_ID },
        { "encryption-algorithm", required_argument, NULL, OPT_ALGORITHM },
        { "encryption-context", required_argument, NULL, OPT_CONTEXT },
        { "key-spec", required_argument, NULL, OPT_KEY_SPEC },
        { "length", required_argument, NULL, OPT_LENGTH },
        { "endpoint", required_argument, NULL, OPT_ENDPOINT },
        { "ca-bundle", required_argument, NULL, OPT_CA_BUNDLE },
        { 0 },
    };
    int o;
    optind = 2;
    opterr = 0; /* our own messages, without the program's path */
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case OPT_REGION: cfg.region = optarg; break;
        case OPT_PROXY_PORT: {
            char *end;
            unsigned long p = strtoul(optarg, &end, 10);
            if (!*optarg || *end || p == 0 || p > UINT32_MAX)
                return fail("invalid --proxy-port '%s'", optarg);
            cfg.proxy_port = (uint32_t)p;
            break;
        }
        case OPT_AKID: cfg.access_key_id = optarg; break;
        case OPT_SECRET: cfg.secret_access_key = optarg; break;
        case OPT_TOKEN: cfg.session_token = optarg; break;
        case OPT_CIPHERTEXT: ciphertext = optarg; break;
        case OPT_KEY_ID: key_id = optarg; break;
        case OPT_ALGORITHM: algorithm = optarg; break;
        case OPT_CONTEXT: context = optarg; break;
        case OPT_KEY_SPEC: key_spec = optarg; break;
        case OPT_LENGTH: length = optarg; break;
        case OPT_ENDPOINT: cfg.endpoint = optarg; break;
        case OPT_CA_BUNDLE: cfg.ca_bundle = optarg; break;
        case ':':
            usage(stderr);
            return fail("option '%s' needs a value", argv[optind - 1]);
        default:
            usage(stderr);
            return fail("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return fail("unexpected argument '%s'", argv[optind]);
    if (!cfg.access_key_id || !cfg.secret_access_key)
        return fail("--aws-access-key-id and --aws-secret-access-key are required");

    if (decrypt && !ciphertext)
        return fail("decrypt needs --ciphertext");
    if (decrypt && !key_id != !algorithm)
        return fail("--key-id and --encryption-algorithm go together");
    if (genkey && (!key_id || !key_spec))
        return fail("genkey needs --key-id and --key-spec");
    const char *kms_spec = NULL;
    if (genkey) {
        if (!strcmp(key_spec, "AES-256"))
            kms_spec = "AES_256";
        else if (!strcmp(key_spec, "AES-128"))
            kms_spec = "AES_128";
        else
            return fail("invalid --key-spec '%s' (AES-256 or AES-128)", key_spec);
    }
    long n = 0;
    if (genrandom) {
        char *end;
        n = length ? strtol(length, &end, 10) : 0;
        if (!length || !*length || *end || n < 1 || n > 1024)
            return fail("genrandom needs --length from 1 to 1024");
    }

    int rc = 1;
    struct cl_error err = { 0 };
    struct kms_client *client = NULL;
    uint8_t *blob = NULL, *plain = NULL, *ct = NULL;
    size_t blob_len = 0, plain_len = 0, ct_len = 0;
    if (kms_client_new(&cfg, &client, &err) < 0)
        goto out;
    if (decrypt) {
        if (base64_decode(ciphertext, strlen(ciphertext), 64 * 1024, &blob, &blob_len, &err) < 0) {
            cl_error_prefix(&err, "--ciphertext");
            goto out;
        }
        if (kms_decrypt(client, blob, blob_len, key_id, algorithm, context, true, &plain,
                        &plain_len, &err) < 0)
            goto out;
        rc = print_blob("PLAINTEXT", plain, plain_len);
    } else if (genkey) {
        if (kms_generate_data_key(client, key_id, kms_spec, true, &ct, &ct_len, &plain,
                                  &plain_len, &err) < 0)
            goto out;
        rc = print_blob("CIPHERTEXT", ct, ct_len);
        if (rc == 0)
            rc = print_blob("PLAINTEXT", plain, plain_len);
    } else {
        if (kms_generate_random(client, (size_t)n, true, &plain, &err) < 0)
            goto out;
        plain_len = (size_t)n;
        rc = print_blob("PLAINTEXT", plain, plain_len);
    }
out:
    if (err.code)
        fail("%s", err.reason);
    if (fflush(stdout) != 0)
        rc = 1;
    if (plain)
        OPENSSL_cleanse(plain, plain_len);
    free(plain);
    free(blob);
    free(ct);
    kms_client_free(client);
    return rc;
}
