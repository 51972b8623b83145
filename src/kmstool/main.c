/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-kmstool: kmstool_enclave_cli for Cloister (docs/kmstool.md).
 * Runs inside an enclave; every call is attested (the Recipient parameter),
 * so the plaintext reaches only this process.
 *
 *   cloister-kmstool decrypt   --region R --aws-access-key-id ID --aws-secret-access-key S
 *                              [--aws-session-token T] --ciphertext B64
 *                              [--key-id K --encryption-algorithm A]
 *   cloister-kmstool genkey    ... --key-id K --key-spec AES-256|AES-128
 *   cloister-kmstool genrandom ... --length N
 *   cloister-kmstool derive-shared-secret ... --key-id K --public-key FILE|B64
 * common: [--proxy-port 8000] [--endpoint HOST[:PORT]] [--ca-bundle PEM]
 *
 * stdout as kmstool_enclave_cli's: "PLAINTEXT: <b64>" (genkey prints
 * "CIPHERTEXT: <b64>" first); derive-shared-secret, which kmstool_enclave_cli
 * lacks, prints "SHARED_SECRET: <b64>". Logs on stderr; exit 1 on error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cloister/kms.h>

#include "base/base64.h"
#include "base/num.h"

enum { OPT_REGION = 256, OPT_PROXY_PORT, OPT_AKID, OPT_SECRET, OPT_TOKEN, OPT_CIPHERTEXT,
       OPT_KEY_ID, OPT_ALGORITHM, OPT_KEY_SPEC, OPT_LENGTH, OPT_ENDPOINT, OPT_CA_BUNDLE,
       OPT_CONTEXT, OPT_PUBLIC_KEY };

static void usage(FILE *out)
{
    fputs("usage: cloister-kmstool <decrypt|genkey|genrandom|derive-shared-secret> [options]\n"
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
          "genrandom: --length 1..1024\n"
          "derive-shared-secret: --key-id KEY --public-key FILE|B64\n"
          "           the peer's EC public key: a PEM or DER file, or base64 DER\n",
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

enum command { DECRYPT, GENKEY, GENRANDOM, DERIVE };

/* The command line. */
struct kmstool_args {
    enum command command;
    struct kms_client_config cfg;
    const char *ciphertext, *key_id, *algorithm, *key_spec, *context, *public_key;
    const char *length_arg;
    const char *kms_spec;   /* genkey: KMS's name of --key-spec */
    size_t length;          /* genrandom: --length */
};

/* The options after the command; 0 or the exit status of a failure. */
static int parse_options(int argc, char **argv, struct kmstool_args *a)
{
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
        { "public-key", required_argument, NULL, OPT_PUBLIC_KEY },
        { 0 },
    };
    uint64_t n;
    int o;
    optind = 2;
    opterr = 0; /* our own messages, without the program's path */
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case OPT_REGION: a->cfg.region = optarg; break;
        case OPT_PROXY_PORT:
            if (num_parse_u64(optarg, UINT32_MAX, &n) != 0 || n == 0)
                return fail("invalid --proxy-port '%s'", optarg);
            a->cfg.proxy_port = (uint32_t)n;
            break;
        case OPT_AKID: a->cfg.access_key_id = optarg; break;
        case OPT_SECRET: a->cfg.secret_access_key = optarg; break;
        case OPT_TOKEN: a->cfg.session_token = optarg; break;
        case OPT_CIPHERTEXT: a->ciphertext = optarg; break;
        case OPT_KEY_ID: a->key_id = optarg; break;
        case OPT_ALGORITHM: a->algorithm = optarg; break;
        case OPT_CONTEXT: a->context = optarg; break;
        case OPT_KEY_SPEC: a->key_spec = optarg; break;
        case OPT_LENGTH: a->length_arg = optarg; break;
        case OPT_ENDPOINT: a->cfg.endpoint = optarg; break;
        case OPT_CA_BUNDLE: a->cfg.ca_bundle = optarg; break;
        case OPT_PUBLIC_KEY: a->public_key = optarg; break;
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
    return 0;
}

/* What each command needs, beyond the options' own syntax. */
static int check_command(struct kmstool_args *a)
{
    if (!a->cfg.access_key_id || !a->cfg.secret_access_key)
        return fail("--aws-access-key-id and --aws-secret-access-key are required");
    if (a->command == DECRYPT && !a->ciphertext)
        return fail("decrypt needs --ciphertext");
    if (a->command == DECRYPT && !a->key_id != !a->algorithm)
        return fail("--key-id and --encryption-algorithm go together");
    if (a->command == GENKEY) {
        if (!a->key_id || !a->key_spec)
            return fail("genkey needs --key-id and --key-spec");
        if (!strcmp(a->key_spec, "AES-256"))
            a->kms_spec = "AES_256";
        else if (!strcmp(a->key_spec, "AES-128"))
            a->kms_spec = "AES_128";
        else
            return fail("invalid --key-spec '%s' (AES-256 or AES-128)", a->key_spec);
    }
    if (a->command == DERIVE && (!a->key_id || !a->public_key))
        return fail("derive-shared-secret needs --key-id and --public-key");
    uint64_t n;
    if (a->command == GENRANDOM) {
        if (!a->length_arg || num_parse_u64(a->length_arg, 1024, &n) != 0 || n < 1)
            return fail("genrandom needs --length from 1 to 1024");
        a->length = (size_t)n;
    }
    return 0;
}

/*
 * --public-key: a file holding the peer's public key (PEM "PUBLIC KEY" or
 * DER SubjectPublicKeyInfo), or else the base64 of the DER. Either way the
 * key must parse here, so a typo fails before the enclave asks the NSM.
 * *der OPENSSL_malloc'd.
 */
static int read_public_key(const char *arg, uint8_t **der, size_t *len, struct cl_error *err)
{
    BIO *in = BIO_new_file(arg, "rb");
    EVP_PKEY *pk = NULL;
    if (in) {
        pk = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL);
        if (!pk && BIO_reset(in) == 0)
            pk = d2i_PUBKEY_bio(in, NULL);
        BIO_free(in);
    } else {
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        if (base64_decode(arg, strlen(arg), 8192, &raw, &raw_len, NULL) == 0) {
            const unsigned char *p = raw;
            pk = d2i_PUBKEY(NULL, &p, (long)raw_len);
        }
        free(raw);
    }
    unsigned char *out = NULL;
    int n = pk ? i2d_PUBKEY(pk, &out) : -1;
    EVP_PKEY_free(pk);
    ERR_clear_error(); /* a missing file or a failed parse left reasons there */
    if (n <= 0)
        return cl_fail(err, CL_EINVAL,
                       "--public-key: neither a readable PEM or DER public key file nor "
                       "base64 of a DER SubjectPublicKeyInfo");
    *der = out;
    *len = (size_t)n;
    return 0;
}

/* Runs the command and prints its answer; 0, or 1 with err set. */
static int run(const struct kmstool_args *a, struct cl_error *err)
{
    int rc = 1;
    struct kms_client *client = NULL;
    uint8_t *blob = NULL, *plain = NULL, *ct = NULL;
    size_t blob_len = 0, plain_len = 0, ct_len = 0;
    if (kms_client_new(&a->cfg, &client, err) < 0)
        goto out;
    switch (a->command) {
    case DECRYPT:
        if (base64_decode(a->ciphertext, strlen(a->ciphertext), 64 * 1024, &blob, &blob_len,
                          err) < 0) {
            cl_error_prefix(err, "--ciphertext");
            goto out;
        }
        if (kms_decrypt(client, blob, blob_len, a->key_id, a->algorithm, a->context, true, &plain,
                        &plain_len, err) < 0)
            goto out;
        rc = print_blob("PLAINTEXT", plain, plain_len);
        break;
    case GENKEY:
        if (kms_generate_data_key(client, a->key_id, a->kms_spec, true, &ct, &ct_len, &plain,
                                  &plain_len, err) < 0)
            goto out;
        rc = print_blob("CIPHERTEXT", ct, ct_len);
        if (rc == 0)
            rc = print_blob("PLAINTEXT", plain, plain_len);
        break;
    case GENRANDOM:
        if (kms_generate_random(client, a->length, true, &plain, err) < 0)
            goto out;
        plain_len = a->length;
        rc = print_blob("PLAINTEXT", plain, plain_len);
        break;
    case DERIVE:
        if (read_public_key(a->public_key, &ct, &ct_len, err) < 0 ||
            kms_derive_shared_secret(client, a->key_id, ct, ct_len, true, &plain, &plain_len, err) <
                0)
            goto out;
        rc = print_blob("SHARED_SECRET", plain, plain_len);
        break;
    }
out:
    if (plain)
        OPENSSL_cleanse(plain, plain_len);
    free(plain);
    free(blob);
    if (a->command == DERIVE)
        OPENSSL_free(ct); /* the public key's DER */
    else
        free(ct);
    kms_client_free(client);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    struct kmstool_args a = { .cfg = { .region = "us-east-1" } };
    if (!strcmp(argv[1], "decrypt"))
        a.command = DECRYPT;
    else if (!strcmp(argv[1], "genkey"))
        a.command = GENKEY;
    else if (!strcmp(argv[1], "genrandom"))
        a.command = GENRANDOM;
    else if (!strcmp(argv[1], "derive-shared-secret"))
        a.command = DERIVE;
    else {
        usage(stderr);
        return fail("unknown command '%s'", argv[1]);
    }
    int rc = parse_options(argc, argv, &a);
    if (rc == 0)
        rc = check_command(&a);
    if (rc != 0)
        return rc;
    struct cl_error err = { 0 };
    rc = run(&a, &err);
    if (err.code)
        fail("%s", err.reason);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}
