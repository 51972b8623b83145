/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-kms: an AWS-KMS-compatible key service that releases keys only
 * to attested enclaves.
 *
 *   cloister-kms serve --data-dir DIR --listen HOST:PORT [--http] [--region R]
 *                [--account-id N] [--trust-root PEM]... [--aws-nitro-root]
 *                [--attestation-max-age S] [--threads N] [--config FILE]
 *   cloister-kms principal create NAME [--role] [--identity-policy FILE] --data-dir DIR
 *   cloister-kms session create ROLE [--duration S] [--session-name NAME] --data-dir DIR
 *   cloister-kms audit verify --data-dir DIR
 *   cloister-kms explain ...            (explain_cmd.c)
 *
 * The first start on an empty data directory sets everything up (see
 * setup_data_dir). Errors are one line on stderr and a non-zero exit.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include <cloister/attestation.h>
#include <cloister/error.h>

#include "call/call.h"
#include "serve/dispatch.h"
#include "state/audit.h"
#include "explain_cmd.h"
#include "base/fileio.h"
#include "base/num.h"
#include "serve/http.h"
#include "state/identities.h"
#include "util/kmsutil.h"
#include "policy/policy.h"
#include "call/request.h"
#include "state/store.h"
#include "state/tlsgen.h"

#define DEFAULT_REGION  "us-east-1"
#define DEFAULT_CA_ROOT "/var/lib/cloister/attestation-ca/root.pem"
#define ADMIN_POLICY                                                               \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"AdministratorAccess\"," \
    "\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"

static int fail(const char *what, const struct cl_error *err)
{
    fprintf(stderr, "cloister-kms: %s%s%s\n", what, err ? ": " : "", err ? err->reason : "");
    return 1;
}

/* A refused argument: what it must be, and what it was. */
static int fail_arg(const char *what, const char *arg)
{
    fprintf(stderr, "cloister-kms: %s, not '%s'\n", what, arg);
    return 1;
}

/* The bounds of the serve settings (flags and --config alike). */
#define MAX_AGE_MAX 86400
#define THREADS_MAX 256

static int usage(void)
{
    fprintf(stderr,
            "usage: cloister-kms serve --data-dir DIR --listen HOST:PORT [--http] [--region R]\n"
            "                          [--account-id N] [--trust-root PEM]... [--aws-nitro-root]\n"
            "                          [--attestation-max-age S] [--threads N] [--config FILE]\n"
            "       cloister-kms principal create NAME [--role] [--identity-policy FILE] "
            "--data-dir DIR\n"
            "       cloister-kms session create ROLE [--duration S] [--session-name NAME] "
            "--data-dir DIR\n"
            "       cloister-kms audit verify --data-dir DIR\n"
            "       cloister-kms explain --policy FILE --action ACTION --principal ARN ...\n");
    return 2;
}

/* Everything a subcommand needs from the data directory. */
struct datadir {
    char dir[2048];
    struct store *store;
    char region[32];
    char account[16];
};

static void path_in(const struct datadir *d, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", d->dir, name);
}

/* The master key file: 32 random bytes, mode 0600, created once. */
static int master_key(const char *path, uint8_t key[32], struct cl_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno != ENOENT)
            return cl_fail_errno(err, CL_EIO, "cannot stat %s", path);
        int rc = ku_random(key, 32, err);
        if (rc == 0)
            rc = file_write_atomic(path, key, 32, 0600, err);
        return rc;
    }
    if (st.st_mode & 077)
        return cl_fail(err, CL_EPERM, "%s must not be readable by group or others (mode 0600)",
                       path);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, 64, &data, &len, err);
    if (rc < 0)
        return rc;
    if (len != 32)
        rc = cl_fail(err, CL_EFORMAT, "%s holds %zu bytes, not 32", path, len);
    else
        memcpy(key, data, 32);
    OPENSSL_cleanse(data, len);
    free(data);
    return rc;
}

static bool valid_account(const char *a)
{
    if (strlen(a) != 12)
        return false;
    for (const char *p = a; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static bool valid_region(const char *r)
{
    size_t n = strlen(r);
    if (n < 1 || n > 30)
        return false;
    for (const char *p = r; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

/* A setting that is fixed at the first start: flag, else stored, else default. */
static int setting(struct store *st, const char *name, const char *flag, const char *def, char *out,
                   size_t cap, struct cl_error *err)
{
    char *stored = NULL;
    int rc = store_meta_get(st, name, &stored, NULL);
    if (rc == 0) {
        if (flag && strcmp(flag, stored) != 0) {
            rc = cl_fail(err, CL_ESTATE, "this data directory was set up with %s %s, not %s", name,
                         stored, flag);
        } else {
            snprintf(out, cap, "%s", stored);
        }
        free(stored);
        return rc;
    }
    snprintf(out, cap, "%s", flag ? flag : def);
    return store_meta_set(st, name, out, err);
}

/*
 * Opens (and on first use sets up) the data directory: the master key, the
 * store, the account and region, the administrator principal with its
 * credentials in DIR/credentials and the region in DIR/config, and the TLS
 * CA and server certificate under DIR/tls.
 */
static int open_datadir(const char *dir, const char *region, const char *account, struct datadir *d,
                        struct cl_error *err)
{
    memset(d, 0, sizeof(*d));
    if (strlen(dir) > 1500)
        return cl_fail(err, CL_EINVAL, "data directory path too long");
    snprintf(d->dir, sizeof(d->dir), "%s", dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", dir);
    if (region && !valid_region(region))
        return cl_fail(err, CL_EINVAL, "invalid region '%s'", region);
    if (account && !valid_account(account))
        return cl_fail(err, CL_EINVAL, "invalid account id '%s': 12 digits", account);
    char p[2100];
    uint8_t mk[32];
    path_in(d, "master.key", p, sizeof(p));
    int rc = master_key(p, mk, err);
    if (rc < 0)
        return rc;
    path_in(d, "kms.db", p, sizeof(p));
    rc = store_open(p, mk, &d->store, err);
    OPENSSL_cleanse(mk, sizeof(mk));
    if (rc < 0)
        return rc;
    char def_account[13];
    /* a fresh account id per data directory, as AWS gives each account its own */
    uint8_t r[12];
    rc = ku_random(r, sizeof(r), err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < 12; i++)
        def_account[i] = (char)('0' + r[i] % 10);
    def_account[0] = (char)('1' + r[0] % 9);
    def_account[12] = 0;
    rc = setting(d->store, "account_id", account, def_account, d->account, sizeof(d->account), err);
    if (rc == 0)
        rc = setting(d->store, "region", region, DEFAULT_REGION, d->region, sizeof(d->region), err);
    if (rc < 0)
        return rc;

    char *done = NULL;
    if (store_meta_get(d->store, "admin_arn", &done, NULL) == 0) {
        free(done);
    } else {
        json_t *cred = NULL;
        rc =
            ident_principal_create(d->store, d->account, "admin", "user", ADMIN_POLICY, &cred, err);
        if (rc < 0)
            return rc;
        char text[512];
        snprintf(text, sizeof(text),
                 "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                 json_string_value(json_object_get(cred, "AccessKeyId")),
                 json_string_value(json_object_get(cred, "SecretAccessKey")));
        path_in(d, "credentials", p, sizeof(p));
        rc = file_write_atomic(p, text, strlen(text), 0600, err);
        OPENSSL_cleanse(text, sizeof(text));
        if (rc == 0)
            rc = store_meta_set(d->store, "admin_arn",
                                json_string_value(json_object_get(cred, "Arn")), err);
        json_decref(cred);
        if (rc < 0)
            return rc;
    }
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "[default]\nregion = %s\n", d->region);
    path_in(d, "config", p, sizeof(p));
    rc = file_write_atomic(p, cfg, strlen(cfg), 0644, err);
    if (rc == 0) {
        path_in(d, "tls", p, sizeof(p));
        rc = tlsgen_ensure(p, d->region, err);
    }
    return rc;
}

static void close_datadir(struct datadir *d)
{
    store_close(d->store);
    d->store = NULL;
}

/* ---- serve ---- */

struct serve_opts {
    const char *data_dir;
    const char *listen;
    bool http;
    const char *region;
    const char *account;
    const char *roots[32];
    size_t n_roots;
    bool aws_root;
    long max_age;
    long threads;
};

static int parse_listen(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= cap)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    uint64_t p;
    if (num_parse_u64(colon + 1, 65535, &p) != 0)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

/* The config file: a JSON object with the same settings as the flags. */
static int read_config(const char *path, struct serve_opts *o, json_t **keep, struct cl_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, 1 << 20, &data, &len, err);
    if (rc < 0)
        return rc;
    json_error_t je;
    json_t *j = json_loadb((char *)data, len, JSON_REJECT_DUPLICATES, &je);
    free(data);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return cl_fail(err, CL_EFORMAT, "%s: not a JSON object (%s, line %d)", path, je.text,
                       je.line);
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (!strcmp(k, "data_dir") && json_is_string(v) && !o->data_dir)
            o->data_dir = json_string_value(v);
        else if (!strcmp(k, "listen") && json_is_string(v) && !o->listen)
            o->listen = json_string_value(v);
        else if (!strcmp(k, "http") && json_is_boolean(v))
            o->http = o->http || json_is_true(v);
        else if (!strcmp(k, "region") && json_is_string(v) && !o->region)
            o->region = json_string_value(v);
        else if (!strcmp(k, "account_id") && json_is_string(v) && !o->account)
            o->account = json_string_value(v);
        else if (!strcmp(k, "aws_nitro_root") && json_is_boolean(v))
            o->aws_root = o->aws_root || json_is_true(v);
        else if (!strcmp(k, "attestation_max_age") && json_is_integer(v) && o->max_age < 0) {
            json_int_t n = json_integer_value(v);
            if (n < 1 || n > MAX_AGE_MAX) {
                json_decref(j);
                return cl_fail(err, CL_EFORMAT, "%s: attestation_max_age must be 1..%d seconds",
                               path, MAX_AGE_MAX);
            }
            o->max_age = (long)n;
        } else if (!strcmp(k, "threads") && json_is_integer(v) && o->threads < 0) {
            json_int_t n = json_integer_value(v);
            if (n < 1 || n > THREADS_MAX) {
                json_decref(j);
                return cl_fail(err, CL_EFORMAT, "%s: threads must be 1..%d", path, THREADS_MAX);
            }
            o->threads = (long)n;
        } else if (!strcmp(k, "trust_roots") && json_is_array(v)) {
            size_t i;
            json_t *r;
            json_array_foreach(v, i, r)
            {
                if (!json_is_string(r) || o->n_roots == 32) {
                    json_decref(j);
                    return cl_fail(err, CL_EFORMAT, "%s: trust_roots must be up to 32 paths", path);
                }
                o->roots[o->n_roots++] = json_string_value(r);
            }
        } else {
            json_decref(j);
            return cl_fail(err, CL_EFORMAT, "%s: unknown or mistyped setting '%s'", path, k);
        }
    }
    *keep = j;
    return 0;
}

/*
 * The serve flags, --config's settings under them, and the listen address.
 * Returns 0, or the exit status after saying why (*cfg, which the options
 * borrow from, is the caller's to release either way).
 */
static int serve_args(int argc, char **argv, struct serve_opts *o, json_t **cfg, char *host,
                      size_t cap, uint16_t *port)
{
    const char *config = NULL;
    static const struct option longopts[] = {
        { "data-dir", required_argument, NULL, 'd' },
        { "listen", required_argument, NULL, 'l' },
        { "http", no_argument, NULL, 'H' },
        { "region", required_argument, NULL, 'r' },
        { "account-id", required_argument, NULL, 'a' },
        { "trust-root", required_argument, NULL, 't' },
        { "aws-nitro-root", no_argument, NULL, 'A' },
        { "attestation-max-age", required_argument, NULL, 'm' },
        { "threads", required_argument, NULL, 'T' },
        { "config", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    uint64_t n;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->data_dir = optarg;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 'H':
            o->http = true;
            break;
        case 'r':
            o->region = optarg;
            break;
        case 'a':
            o->account = optarg;
            break;
        case 't':
            if (o->n_roots == 32)
                return fail("at most 32 --trust-root", NULL);
            o->roots[o->n_roots++] = optarg;
            break;
        case 'A':
            o->aws_root = true;
            break;
        case 'm':
            if (num_parse_u64(optarg, MAX_AGE_MAX, &n) != 0 || n < 1)
                return fail_arg("--attestation-max-age must be 1..86400 seconds", optarg);
            o->max_age = (long)n;
            break;
        case 'T':
            if (num_parse_u64(optarg, THREADS_MAX, &n) != 0 || n < 1)
                return fail_arg("--threads must be 1..256", optarg);
            o->threads = (long)n;
            break;
        case 'c':
            config = optarg;
            break;
        default:
            return usage();
        }
    }
    if (optind != argc)
        return usage();
    struct cl_error err = { 0 };
    if (config && read_config(config, o, cfg, &err) < 0)
        return fail("bad --config", &err);
    if (!o->data_dir || !o->listen)
        return usage();
    if (parse_listen(o->listen, host, cap, port) < 0)
        return fail_arg("--listen must be HOST:PORT, PORT 0..65535", o->listen);
    return 0;
}

/* Attestation trust roots: the local attestation CA's root when present,
 * every --trust-root, and the AWS Nitro root G1 when asked. 0, or 1 after
 * saying why. */
static int open_verifier(const struct serve_opts *o, struct attest_verifier **out)
{
    struct cl_error err = { 0 };
    if (attest_verifier_new(out, &err) < 0)
        return fail("attestation verifier", &err);
    const char *ca_root = getenv("CLOISTER_ATTESTATION_ROOT");
    if (!ca_root)
        ca_root = DEFAULT_CA_ROOT;
    if (access(ca_root, R_OK) == 0 && attest_verifier_add_root_file(*out, ca_root, &err) < 0)
        return fail("cannot load the attestation CA root", &err);
    for (size_t i = 0; i < o->n_roots; i++)
        if (attest_verifier_add_root_file(*out, o->roots[i], &err) < 0)
            return fail("cannot load --trust-root", &err);
    if (o->aws_root && attest_verifier_add_aws_root(*out, &err) < 0)
        return fail("cannot load the AWS Nitro root", &err);
    return 0;
}

/* The server's TLS certificate and key from DIR/tls; 0, or 1 after saying why. */
static int read_tls(const struct datadir *d, uint8_t **cert, size_t *cert_len, uint8_t **key,
                    size_t *key_len)
{
    struct cl_error err = { 0 };
    char p[2100];
    path_in(d, "tls/server.pem", p, sizeof(p));
    if (file_read_all(p, 1 << 16, cert, cert_len, &err) < 0)
        return fail("cannot read the TLS certificate", &err);
    path_in(d, "tls/server.key", p, sizeof(p));
    if (file_read_all(p, 1 << 16, key, key_len, &err) < 0)
        return fail("cannot read the TLS key", &err);
    return 0;
}

/* Serves until SIGINT or SIGTERM; 0, or 1 after saying why it could not start. */
static int run_server(const struct serve_opts *o, const char *host, uint16_t port,
                      struct kms_service *svc, const uint8_t *cert, const uint8_t *key)
{
    /* Block the stop signals before any thread starts, then wait for them here. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct http_opts ho = {
        .host = host,
        .port = port,
        .tls = !o->http,
        .cert_pem = (const char *)cert,
        .key_pem = (const char *)key,
        .threads = o->threads > 0 ? (unsigned)o->threads : 0,
        .max_body = REQ_MAX_BODY,
        .handler = kms_handle,
        .arg = svc,
    };
    struct http_server *srv = NULL;
    struct cl_error err = { 0 };
    if (http_start(&ho, &srv, &err) < 0)
        return fail("cannot start the server", &err);
    printf(
        "cloister-kms: listening on %s://%s:%u (region %s, account %s, %zu attestation root(s))\n",
        o->http ? "http" : "https", host, http_port(srv), svc->region, svc->account,
        attest_verifier_root_count(svc->verifier));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    http_stop(srv);
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    struct serve_opts o = { .max_age = -1, .threads = -1 };
    json_t *cfg = NULL;
    char host[256];
    uint16_t port = 0;
    int status = serve_args(argc, argv, &o, &cfg, host, sizeof(host), &port);
    if (status != 0) {
        json_decref(cfg);
        return status;
    }
    status = 1;
    struct cl_error err = { 0 };
    struct datadir d;
    struct attest_verifier *verifier = NULL;
    struct audit *audit = NULL;
    uint8_t *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    char p[2100];
    if (open_datadir(o.data_dir, o.region, o.account, &d, &err) < 0) {
        fail("cannot set up the data directory", &err);
        goto out;
    }
    if (open_verifier(&o, &verifier) != 0)
        goto out;
    path_in(&d, "audit.log", p, sizeof(p));
    if (audit_open(p, &audit, &err) < 0) {
        fail("cannot open the audit log", &err);
        goto out;
    }
    struct kms_service svc = {
        .store = d.store,
        .audit = audit,
        .verifier = verifier,
        .attestation_max_age = o.max_age > 0 ? (uint32_t)o.max_age : 300,
        .clock_skew_s = 300,
    };
    snprintf(svc.region, sizeof(svc.region), "%s", d.region);
    snprintf(svc.account, sizeof(svc.account), "%s", d.account);
    if (!o.http && read_tls(&d, &cert, &cert_len, &key, &key_len) != 0)
        goto out;
    status = run_server(&o, host, port, &svc, cert, key);
out:
    if (key) {
        OPENSSL_cleanse(key, key_len);
        free(key);
    }
    free(cert);
    audit_close(audit);
    attest_verifier_free(verifier);
    close_datadir(&d);
    json_decref(cfg);
    return status;
}

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
        return fail("out of memory", NULL);
    puts(s);
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_principal(int argc, char **argv)
{
    const char *dir = data_dir_arg(&argc, argv);
    if (argc < 3 || strcmp(argv[1], "create") != 0 || !dir)
        return usage();
    const char *name = argv[2];
    const char *policy_file = NULL;
    bool role = false;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--role"))
            role = true;
        else if (!strcmp(argv[i], "--identity-policy") && i + 1 < argc)
            policy_file = argv[++i];
        else
            return usage();
    }
    struct cl_error err = { 0 };
    char *policy = NULL;
    if (policy_file) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (file_read_all(policy_file, POLICY_MAX_BYTES, &data, &len, &err) < 0)
            return fail("cannot read the identity policy", &err);
        struct policy_parse_opts po = { .key_policy = false };
        struct policy *parsed = NULL;
        int rc = policy_parse((char *)data, len, &po, &parsed, &err);
        policy_free(parsed);
        if (rc < 0) {
            free(data);
            return fail("invalid identity policy", &err);
        }
        policy = (char *)data;
    }
    struct datadir d;
    int status = 1;
    if (open_datadir(dir, NULL, NULL, &d, &err) < 0) {
        fail("cannot open the data directory", &err);
    } else {
        json_t *out = NULL;
        if (ident_principal_create(d.store, d.account, name, role ? "role" : "user", policy, &out,
                                   &err) < 0)
            fail("cannot create the principal", &err);
        else
            status = print_json(out);
    }
    close_datadir(&d);
    free(policy);
    return status;
}

static int cmd_session(int argc, char **argv)
{
    const char *dir = data_dir_arg(&argc, argv);
    if (argc < 3 || strcmp(argv[1], "create") != 0 || !dir)
        return usage();
    const char *role = argv[2];
    const char *session_name = NULL;
    long duration = 3600;
    for (int i = 3; i < argc; i++) {
        uint64_t n;
        if (!strcmp(argv[i], "--duration") && i + 1 < argc) {
            /* digits here; the range (900..43200, STS's) is ident_session_create's */
            if (num_parse_u64(argv[++i], INT32_MAX, &n) != 0)
                return fail_arg("--duration must be a number of seconds", argv[i]);
            duration = (long)n;
        } else if (!strcmp(argv[i], "--session-name") && i + 1 < argc) {
            session_name = argv[++i];
        } else {
            return usage();
        }
    }
    struct cl_error err = { 0 };
    struct datadir d;
    int status = 1;
    if (open_datadir(dir, NULL, NULL, &d, &err) < 0) {
        fail("cannot open the data directory", &err);
    } else {
        json_t *out = NULL;
        if (ident_session_create(d.store, d.account, role, session_name, duration, &out, &err) < 0)
            fail("cannot create the session", &err);
        else
            status = print_json(out);
    }
    close_datadir(&d);
    return status;
}

static int cmd_audit(int argc, char **argv)
{
    const char *dir = data_dir_arg(&argc, argv);
    if (argc != 2 || strcmp(argv[1], "verify") != 0 || !dir)
        return usage();
    char p[2100];
    snprintf(p, sizeof(p), "%s/audit.log", dir);
    size_t lines = 0;
    struct cl_error err = { 0 };
    if (audit_verify(p, &lines, &err) < 0)
        return fail("audit log verification failed", &err);
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
        return usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
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
    return usage();
}
