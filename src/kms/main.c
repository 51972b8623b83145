/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-kms: an AWS-KMS-compatible key service that releases keys only
 * to attested enclaves.
 *
 *   cloister-kms serve --data-dir DIR --listen HOST:PORT [--http] [--region R]
 *                [--account-id N] [--trust-root PEM]... [--aws-nitro-root]
 *                [--attestation-max-age S] [--threads N] [--config FILE]
 *                [--endpoints-file FILE] [--imds HOST:PORT] [--imds-tokens optional|required]
 *                [--imds-credential-duration S] [--imds-refresh S]        (serve_cmd.c)
 *   cloister-kms principal create NAME [--role] [--identity-policy FILE] --data-dir DIR
 *   cloister-kms session create ROLE [--duration S] [--session-name NAME] --data-dir DIR
 *   cloister-kms audit verify --data-dir DIR
 *   cloister-kms explain ...            (explain_cmd.c)
 *
 * The first start on an empty data directory sets everything up
 * (datadir.c). Errors are one line on stderr and a non-zero exit.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include <cloister/error.h>

#include "base/fileio.h"
#include "base/num.h"
#include "datadir.h"
#include "explain_cmd.h"
#include "kms_cli.h"
#include "policy/policy.h"
#include "serve_cmd.h"
#include "state/audit.h"
#include "state/identities.h"
#include "util/kmsutil.h"

/* ---- principal / session / audit ---- */

static const char *data_dir_arg(int *argc, char **argv)
{
    /* --data-dir DIR anywhere after the subcommand words */
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--data-dir") && i + 1 < *argc) {
            const char *d = argv[i + 1];
            memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 2) * sizeof(char *));
            *argc -= 2;
            return d;
        }
        if (!strncmp(argv[i], "--data-dir=", 11)) {
            const char *d = argv[i] + 11;
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i - 1) * sizeof(char *));
            *argc -= 1;
            return d;
        }
    }
    return NULL;
}

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s)
        return cli_fail("out of memory", NULL);
    puts(s);
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_principal(int argc, char **argv)
{
    const char *dir = data_dir_arg(&argc, argv);
    if (argc < 3 || strcmp(argv[1], "create") != 0 || !dir)
        return cli_usage();
    const char *name = argv[2];
    const char *policy_file = NULL;
    bool role = false;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--role"))
            role = true;
        else if (!strcmp(argv[i], "--identity-policy") && i + 1 < argc)
            policy_file = argv[++i];
        else
            return cli_usage();
    }
    struct cl_error err = { 0 };
    char *policy = NULL;
    if (policy_file) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (file_read_all(policy_file, POLICY_MAX_BYTES, &data, &len, &err) < 0)
            return cli_fail("cannot read the identity policy", &err);
        struct policy_parse_opts po = { .key_policy = false };
        struct policy *parsed = NULL;
        int rc = policy_parse((char *)data, len, &po, &parsed, &err);
        policy_free(parsed);
        if (rc < 0) {
            free(data);
            return cli_fail("invalid identity policy", &err);
        }
        policy = (char *)data;
    }
    struct datadir d;
    int status = 1;
    if (datadir_open(dir, NULL, NULL, &d, &err) < 0) {
        cli_fail("cannot open the data directory", &err);
    } else {
        json_t *out = NULL;
        if (ident_principal_create(d.store, d.account, name, role ? "role" : "user", policy, &out,
                                   &err) < 0)
            cli_fail("cannot create the principal", &err);
        else
            status = print_json(out);
    }
    datadir_close(&d);
    free(policy);
    return status;
}

static int cmd_session(int argc, char **argv)
{
    const char *dir = data_dir_arg(&argc, argv);
    if (argc < 3 || strcmp(argv[1], "create") != 0 || !dir)
        return cli_usage();
    const char *role = argv[2];
    const char *session_name = NULL;
    long duration = 3600;
    for (int i = 3; i < argc; i++) {
        uint64_t n;
        if (!strcmp(argv[i], "--duration") && i + 1 < argc) {
            /* digits here; the range (900..43200, STS's) is ident_session_create's */
            if (num_parse_u64(argv[++i], INT32_MAX, &n) != 0)
                return cli_fail_arg("--duration must be a number of seconds", argv[i]);
            duration = (long)n;
        } else if (!strcmp(argv[i], "--session-name") && i + 1 < argc) {
            session_name = argv[++i];
        } else {
            return cli_usage();
        }
    }
    struct cl_error err = { 0 };
    struct datadir d;
    int status = 1;
    if (datadir_open(dir, NULL, NULL, &d, &err) < 0) {
        cli_fail("cannot open the data directory", &err);
    } else {
        json_t *out = NULL;
        if (ident_session_create(d.store, d.account, role, session_name, duration, &out, &err) < 0)
            cli_fail("cannot create the session", &err);
        else
            status = print_json(out);
    }
    datadir_close(&d);
    return status;
}

static int cmd_audit(int argc, char **argv)
{
    const char *dir = data_dir_arg(&argc, argv);
    if (argc != 2 || strcmp(argv[1], "verify") != 0 || !dir)
        return cli_usage();
    char p[2100];
    snprintf(p, sizeof(p), "%s/audit.log", dir);
    size_t lines = 0;
    struct cl_error err = { 0 };
    if (audit_verify(p, &lines, &err) < 0)
        return cli_fail("audit log verification failed", &err);
    printf("audit log %s: %zu lines, chain intact\n", p, lines);
    return 0;
}

int main(int argc, char **argv)
{
    /* the store, keys and logs are nobody else's business */
    umask(077);
    /* Request and response JSON carries plaintexts, data keys and private
     * keys (base64): every block jansson frees is wiped first. */
    json_set_alloc_funcs(malloc, ku_wipe_free);
    if (argc < 2)
        return cli_usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        return kms_serve_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "principal"))
        return cmd_principal(argc - 1, argv + 1);
    if (!strcmp(cmd, "session"))
        return cmd_session(argc - 1, argv + 1);
    if (!strcmp(cmd, "audit"))
        return cmd_audit(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain"))
        return kms_explain_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("cloister-kms %s\n", CLOISTER_VERSION);
        return 0;
    }
    return cli_usage();
}
