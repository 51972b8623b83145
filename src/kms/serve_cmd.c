/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister-kms serve`: the settings (flags, --config), the key service's
 * listener, the instance metadata service beside it (serve_imds.h) and the
 * endpoints file that tells parent programs where both are (docs/kms.md,
 * docs/parent.md).
 */
#include "serve_cmd.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include <cloister/attestation.h>
#include <cloister/error.h>

#include "base/fileio.h"
#include "base/num.h"
#include "call/request.h"
#include "datadir.h"
#include "kms_cli.h"
#include "serve/dispatch.h"
#include "serve/http.h"
#include "serve_imds.h"
#include "state/audit.h"

#define DEFAULT_CA_ROOT "/var/lib/cloister/attestation-ca/root.pem"
/* The bounds of the serve settings (flags and --config alike). */
#define MAX_AGE_MAX 86400
#define THREADS_MAX 256

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
    const char *endpoints_file;
    const char *imds;         /* HOST:PORT, or NULL: no metadata service */
    const char *imds_tokens;  /* "optional" | "required" */
    long imds_duration;
    long imds_refresh;
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
        } else if (!strcmp(k, "endpoints_file") && json_is_string(v) && !o->endpoints_file) {
            o->endpoints_file = json_string_value(v);
        } else if (!strcmp(k, "imds") && json_is_string(v) && !o->imds) {
            o->imds = json_string_value(v);
        } else if (!strcmp(k, "imds_tokens") && json_is_string(v) && !o->imds_tokens) {
            o->imds_tokens = json_string_value(v);
        } else if ((!strcmp(k, "imds_credential_duration") || !strcmp(k, "imds_refresh")) &&
                   json_is_integer(v)) {
            long *slot = k[5] == 'c' ? &o->imds_duration : &o->imds_refresh;
            json_int_t n = json_integer_value(v);
            if (n < 1 || n > 43200) {
                json_decref(j);
                return cl_fail(err, CL_EFORMAT, "%s: %s must be 1..43200 seconds", path, k);
            }
            if (*slot < 0)
                *slot = (long)n;
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
        { "endpoints-file", required_argument, NULL, 'e' },
        { "imds", required_argument, NULL, 'i' },
        { "imds-tokens", required_argument, NULL, 'k' },
        { "imds-credential-duration", required_argument, NULL, 'D' },
        { "imds-refresh", required_argument, NULL, 'R' },
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
                return cli_fail("at most 32 --trust-root", NULL);
            o->roots[o->n_roots++] = optarg;
            break;
        case 'A':
            o->aws_root = true;
            break;
        case 'm':
            if (num_parse_u64(optarg, MAX_AGE_MAX, &n) != 0 || n < 1)
                return cli_fail_arg("--attestation-max-age must be 1..86400 seconds", optarg);
            o->max_age = (long)n;
            break;
        case 'T':
            if (num_parse_u64(optarg, THREADS_MAX, &n) != 0 || n < 1)
                return cli_fail_arg("--threads must be 1..256", optarg);
            o->threads = (long)n;
            break;
        case 'c':
            config = optarg;
            break;
        case 'e':
            o->endpoints_file = optarg;
            break;
        case 'i':
            o->imds = optarg;
            break;
        case 'k':
            o->imds_tokens = optarg;
            break;
        case 'D':
        case 'R':
            if (num_parse_u64(optarg, 43200, &n) != 0 || n < 1)
                return cli_fail_arg(ch == 'D' ? "--imds-credential-duration must be 1800..43200 seconds"
                                          : "--imds-refresh must be 1..43200 seconds",
                                optarg);
            *(ch == 'D' ? &o->imds_duration : &o->imds_refresh) = (long)n;
            break;
        default:
            return cli_usage();
        }
    }
    if (optind != argc)
        return cli_usage();
    struct cl_error err = { 0 };
    if (config && read_config(config, o, cfg, &err) < 0)
        return cli_fail("bad --config", &err);
    if (!o->data_dir || !o->listen)
        return cli_usage();
    if (parse_listen(o->listen, host, cap, port) < 0)
        return cli_fail_arg("--listen must be HOST:PORT, PORT 0..65535", o->listen);
    if (o->imds_tokens && strcmp(o->imds_tokens, "optional") && strcmp(o->imds_tokens, "required"))
        return cli_fail_arg("--imds-tokens must be optional or required", o->imds_tokens);
    return 0;
}

/* Attestation trust roots: the local attestation CA's root when present,
 * every --trust-root, and the AWS Nitro root G1 when asked. 0, or 1 after
 * saying why. */
static int open_verifier(const struct serve_opts *o, struct attest_verifier **out)
{
    struct cl_error err = { 0 };
    if (attest_verifier_new(out, &err) < 0)
        return cli_fail("attestation verifier", &err);
    const char *ca_root = getenv("CLOISTER_ATTESTATION_ROOT");
    if (!ca_root)
        ca_root = DEFAULT_CA_ROOT;
    if (access(ca_root, R_OK) == 0 && attest_verifier_add_root_file(*out, ca_root, &err) < 0)
        return cli_fail("cannot load the attestation CA root", &err);
    for (size_t i = 0; i < o->n_roots; i++)
        if (attest_verifier_add_root_file(*out, o->roots[i], &err) < 0)
            return cli_fail("cannot load --trust-root", &err);
    if (o->aws_root && attest_verifier_add_aws_root(*out, &err) < 0)
        return cli_fail("cannot load the AWS Nitro root", &err);
    return 0;
}

/* The server's TLS certificate and key from DIR/tls; 0, or 1 after saying why. */
static int read_tls(const struct datadir *d, uint8_t **cert, size_t *cert_len, uint8_t **key,
                    size_t *key_len)
{
    struct cl_error err = { 0 };
    char p[2100];
    datadir_path(d, "tls/server.pem", p, sizeof(p));
    if (file_read_all(p, 1 << 16, cert, cert_len, &err) < 0)
        return cli_fail("cannot read the TLS certificate", &err);
    datadir_path(d, "tls/server.key", p, sizeof(p));
    if (file_read_all(p, 1 << 16, key, key_len, &err) < 0)
        return cli_fail("cannot read the TLS key", &err);
    return 0;
}

/* Serves until SIGINT or SIGTERM; 0, or 1 after saying why it could not start. */
/* The PEM text of DIR/name, or NULL when it cannot be read. */
static json_t *pem_of(const struct datadir *d, const char *name)
{
    char p[2100];
    datadir_path(d, name, p, sizeof(p));
    uint8_t *data = NULL;
    size_t len = 0;
    if (file_read_all(p, 1 << 16, &data, &len, NULL) < 0)
        return NULL;
    json_t *s = json_stringn((const char *)data, len);
    free(data);
    return s;
}

/*
 * The endpoints file (docs/parent.md): where a parent program finds this
 * service, its CA and its metadata service. Readable by everyone (0644):
 * it holds no secret, and `cloister exec` of any user reads it.
 */
static int write_endpoints(const struct serve_opts *o, const struct datadir *d, const char *kms_url,
                           const char *imds_url, const struct serve_imds *md, struct cl_error *err)
{
    char p[2100];
    const char *path = o->endpoints_file;
    if (!path) {
        datadir_path(d, "endpoints.json", p, sizeof(p));
        path = p;
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "Region", d->region, "AccountId", d->account,
                          "KmsEndpoint", kms_url, "StsEndpoint", kms_url);
    if (j && !o->http)
        json_object_set_new(j, "CaCertificate", pem_of(d, "tls/ca.pem"));
    if (j && imds_url) {
        json_object_set_new(j, "ImdsEndpoint", json_string(imds_url));
        json_object_set_new(j, "InstanceId", json_string(md->instance_id));
        json_object_set_new(j, "InstanceIdentityCertificate", pem_of(d, "imds/identity.pem"));
    }
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = file_write_atomic(path, text, strlen(text), 0644, err);
    free(text);
    if (rc < 0)
        cl_error_prefix(err, "endpoints file");
    return rc;
}

/* Serves until SIGINT or SIGTERM; 0, or 1 after saying why it could not start. */
static int run_server(const struct serve_opts *o, const struct datadir *d, const char *host,
                      uint16_t port, struct kms_service *svc, const uint8_t *cert,
                      const uint8_t *key)
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
    struct serve_imds md = { 0 };
    struct cl_error err = { 0 };
    char authority[80], kms_url[100], md_url[100];
    if (http_start(&ho, &srv, &err) < 0)
        return cli_fail("cannot start the server", &err);
    http_url_authority(srv, authority, sizeof(authority));
    snprintf(kms_url, sizeof(kms_url), "%s://%s", o->http ? "http" : "https", authority);
    if (o->imds) {
        struct serve_imds_opts mo = {
            .tokens_required = o->imds_tokens && !strcmp(o->imds_tokens, "required"),
            .duration_s = o->imds_duration > 0 ? o->imds_duration : IMDS_DEFAULT_DURATION,
            .refresh_s = o->imds_refresh > 0 ? o->imds_refresh : IMDS_DEFAULT_REFRESH,
        };
        char mh[256];
        if (parse_listen(o->imds, mh, sizeof(mh), &mo.port) < 0) {
            http_stop(srv);
            return cli_fail_arg("--imds must be HOST:PORT, PORT 0..65535", o->imds);
        }
        mo.host = mh;
        if (serve_imds_start(d, &mo, &md, &err) < 0) {
            http_stop(srv);
            return cli_fail("cannot start", &err);
        }
        imds_url(md.server, md_url, sizeof(md_url));
    }
    if (write_endpoints(o, d, kms_url, o->imds ? md_url : NULL, &md, &err) < 0) {
        serve_imds_stop(&md);
        http_stop(srv);
        return cli_fail("cannot start", &err);
    }
    printf("cloister-kms: listening on %s (region %s, account %s, %zu attestation root(s))\n",
           kms_url, svc->region, svc->account, attest_verifier_root_count(svc->verifier));
    if (o->imds)
        printf("cloister-kms: instance metadata on %s (instance %s, role %s, tokens %s)\n",
               md_url, md.instance_id, md.role_name[0] ? md.role_name : "none",
               o->imds_tokens ? o->imds_tokens : "optional");
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    serve_imds_stop(&md);
    http_stop(srv);
    return 0;
}

int kms_serve_main(int argc, char **argv)
{
    struct serve_opts o = { .max_age = -1, .threads = -1, .imds_duration = -1, .imds_refresh = -1 };
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
    if (datadir_open(o.data_dir, o.region, o.account, &d, &err) < 0) {
        cli_fail("cannot set up the data directory", &err);
        goto out;
    }
    if (open_verifier(&o, &verifier) != 0)
        goto out;
    datadir_path(&d, "audit.log", p, sizeof(p));
    if (audit_open(p, &audit, &err) < 0) {
        cli_fail("cannot open the audit log", &err);
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
    status = run_server(&o, &d, host, port, &svc, cert, key);
out:
    if (key) {
        OPENSSL_cleanse(key, key_len);
        free(key);
    }
    free(cert);
    audit_close(audit);
    attest_verifier_free(verifier);
    datadir_close(&d);
    json_decref(cfg);
    return status;
}

