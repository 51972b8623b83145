/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_client_call: one call of the SDK's KMS client (<cloister/kms.h>), for
 * tests/integration/test_kms_client.py (never installed).
 *
 *   kms_client_call [config options] [--attest] OPERATION ARGS...
 *     encrypt KEY PLAINTEXT_B64 [CONTEXT_JSON]
 *     decrypt CIPHERTEXT_B64 [CONTEXT_JSON [KEY ALGORITHM]]   ("-" skips CONTEXT_JSON)
 *     genkey KEY SPEC
 *     random N
 *   config options: --region R --endpoint HOST[:PORT] --endpoint-url URL --ca-bundle F
 *                   --proxy-cid N --proxy-port N --akid ID --secret S --token T
 *
 * Prints "CIPHERTEXT: <b64>" and/or "PLAINTEXT: <b64>"; on failure
 * "ERROR <code> <reason>" on stderr (code: the CL_E* number) and exit 1.
 * An empty option value passes NULL-like "" to the library as given.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <cloister/kms.h>

#include "base/base64.h"

static void print_blob(const char *label, const uint8_t *d, size_t n)
{
    char *b = base64_encode(d, n);
    printf("%s: %s\n", label, b ? b : "?");
    free(b);
}

int main(int argc, char **argv)
{
    struct kms_client_config cfg = { 0 };
    bool attest = false;
    static const struct option opts[] = {
        { "region", required_argument, NULL, 'r' },   { "endpoint", required_argument, NULL, 'e' },
        { "endpoint-url", required_argument, NULL, 'u' }, { "ca-bundle", required_argument, NULL, 'c' },
        { "proxy-cid", required_argument, NULL, 'C' }, { "proxy-port", required_argument, NULL, 'P' },
        { "akid", required_argument, NULL, 'a' },     { "secret", required_argument, NULL, 's' },
        { "token", required_argument, NULL, 't' },    { "attest", no_argument, NULL, 'A' },
        { 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (o) {
        case 'r': cfg.region = optarg; break;
        case 'e': cfg.endpoint = optarg; break;
        case 'u': cfg.endpoint_url = optarg; break;
        case 'c': cfg.ca_bundle = optarg; break;
        case 'C': cfg.proxy_cid = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'P': cfg.proxy_port = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'a': cfg.access_key_id = optarg; break;
        case 's': cfg.secret_access_key = optarg; break;
        case 't': cfg.session_token = optarg; break;
        case 'A': attest = true; break;
        default: return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: kms_client_call [options] OPERATION ARGS...\n");
        return 2;
    }
    const char *op = argv[optind];
    char **a = argv + optind + 1;
    int n = argc - optind - 1;

    struct cl_error err = { 0 };
    struct kms_client *c = NULL;
    uint8_t *in = NULL, *ct = NULL, *pt = NULL;
    size_t in_len = 0, ct_len = 0, pt_len = 0;
    int rc = kms_client_new(&cfg, &c, &err);
    if (rc < 0)
        goto out;
    if (!strcmp(op, "encrypt") && (n == 2 || n == 3)) {
        if ((rc = base64_decode(a[1], strlen(a[1]), 65536, &in, &in_len, &err)) < 0)
            goto out;
        if ((rc = kms_encrypt(c, a[0], in, in_len, n == 3 ? a[2] : NULL, &ct, &ct_len, &err)) < 0)
            goto out;
        print_blob("CIPHERTEXT", ct, ct_len);
    } else if (!strcmp(op, "decrypt") && (n == 1 || n == 2 || n == 4)) {
        if ((rc = base64_decode(a[0], strlen(a[0]), 65536, &in, &in_len, &err)) < 0)
            goto out;
        const char *ctx = n >= 2 && strcmp(a[1], "-") ? a[1] : NULL;
        if ((rc = kms_decrypt(c, in, in_len, n == 4 ? a[2] : NULL, n == 4 ? a[3] : NULL, ctx,
                              attest, &pt, &pt_len, &err)) < 0)
            goto out;
        print_blob("PLAINTEXT", pt, pt_len);
    } else if (!strcmp(op, "genkey") && n == 2) {
        if ((rc = kms_generate_data_key(c, a[0], a[1], attest, &ct, &ct_len, &pt, &pt_len,
                                        &err)) < 0)
            goto out;
        print_blob("CIPHERTEXT", ct, ct_len);
        print_blob("PLAINTEXT", pt, pt_len);
    } else if (!strcmp(op, "random") && n == 1) {
        size_t len = (size_t)strtoul(a[0], NULL, 10);
        if ((rc = kms_generate_random(c, len, attest, &pt, &err)) < 0)
            goto out;
        pt_len = len;
        print_blob("PLAINTEXT", pt, pt_len);
    } else {
        fprintf(stderr, "usage: bad operation or arguments\n");
        rc = 2;
        goto out;
    }
out:
    if (rc < 0)
        fprintf(stderr, "ERROR %d %s\n", err.code, err.reason);
    if (pt)
        OPENSSL_cleanse(pt, pt_len);
    free(pt);
    free(ct);
    free(in);
    kms_client_free(c);
    return rc < 0 ? 1 : rc;
}
