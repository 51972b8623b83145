/* SPDX-License-Identifier: Apache-2.0 */
/* The parent instance's world for a host program (parent_env.h). */
#include "parent_env/parent_env.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "base/fileio.h"
#include "base/hex.h"

#define ENDPOINTS_MAX (256 * 1024)

/* The API versions whose endpoint rule sets are replaced: the ones
 * botocore's data names for KMS and STS. */
static const char *const services[][2] = { { "kms", "2014-11-01" }, { "sts", "2011-06-15" } };

static int copy_url(json_t *j, const char *name, bool required, char *out, size_t cap,
                    const char *path, struct cl_error *err)
{
    json_t *v = json_object_get(j, name);
    if (!v && !required)
        return 0;
    const char *s = json_string_value(v);
    bool clean = s != NULL;
    for (const char *c = s; clean && *c; c++)
        clean = *c > ' ' && *c < 0x7f && *c != '\'' && *c != '"' && *c != '\\';
    if (!clean || strlen(s) >= cap || (strncmp(s, "http://", 7) && strncmp(s, "https://", 8)))
        return cl_fail(err, CL_EFORMAT, "%s: %s must be an http(s) URL", path, name);
    snprintf(out, cap, "%s", s);
    return 0;
}

/* "http://HOST[:PORT][/]" to a socket address: HOST numeric (no name
 * lookup), PORT 80 when absent, nothing after the slash. */
static int url_address(const char *url, struct sockaddr_storage *ss, socklen_t *len,
                       const char *path, struct cl_error *err)
{
    char host[300], port[8] = "80";
    const char *h = url + strlen("http://");
    size_t n = strcspn(h, "/");
    bool ok = h[n] == 0 || !strcmp(h + n, "/");
    const char *end = h + n, *colon = NULL;
    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);
        ok = ok && close;
        if (ok && close + 1 < end)
            colon = close + 1;
    } else {
        colon = memchr(h, ':', n);
    }
    if (ok && colon) {
        ok = *colon == ':' && end - colon - 1 >= 1 && end - colon - 1 <= 5;
        if (ok)
            snprintf(port, sizeof(port), "%.*s", (int)(end - colon - 1), colon + 1);
        end = colon;
    }
    size_t hl = (size_t)(end - h);
    if (ok && h[0] == '[') {
        h++;
        hl -= 2;
    }
    ok = ok && hl > 0 && hl < sizeof(host);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST };
    struct addrinfo *ai = NULL;
    if (ok) {
        memcpy(host, h, hl);
        host[hl] = 0;
        ok = getaddrinfo(host, port, &hints, &ai) == 0;
    }
    if (!ok)
        return cl_fail(err, CL_EFORMAT,
                       "%s: ImdsEndpoint must be http://NUMERIC-ADDRESS[:PORT], not '%s'", path,
                       url);
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int parent_env_parse(const char *text, size_t len, const char *path, struct parent_env *pe,
                     struct cl_error *err)
{
    memset(pe, 0, sizeof(*pe));
    if (strlen(path) >= sizeof(pe->path))
        return cl_fail(err, CL_EINVAL, "endpoints file path too long");
    snprintf(pe->path, sizeof(pe->path), "%s", path);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return cl_fail(err, CL_EFORMAT, "%s: not a JSON object (%s)", path, je.text);
    }
    int rc = 0;
    const char *region = json_string_value(json_object_get(j, "Region"));
    if (!region || !*region || strlen(region) >= sizeof(pe->region) || strpbrk(region, "/'\"\\ "))
        rc = cl_fail(err, CL_EFORMAT, "%s: Region must be a region name", path);
    else
        snprintf(pe->region, sizeof(pe->region), "%s", region);
    if (rc == 0)
        rc = copy_url(j, "KmsEndpoint", true, pe->kms_url, sizeof(pe->kms_url), path, err);
    if (rc == 0)
        rc = copy_url(j, "StsEndpoint", true, pe->sts_url, sizeof(pe->sts_url), path, err);
    if (rc == 0)
        rc = copy_url(j, "ImdsEndpoint", false, pe->imds_url, sizeof(pe->imds_url), path, err);
    if (rc == 0 && pe->imds_url[0]) {
        if (strncmp(pe->imds_url, "http://", 7) != 0)
            rc = cl_fail(err, CL_EFORMAT, "%s: ImdsEndpoint must be an http:// URL", path);
        else
            rc = url_address(pe->imds_url, &pe->imds_addr, &pe->imds_addr_len, path, err);
    }
    json_t *ca = json_object_get(j, "CaCertificate");
    if (rc == 0 && ca) {
        if (!json_is_string(ca) || !strstr(json_string_value(ca), "-----BEGIN CERTIFICATE-----"))
            rc = cl_fail(err, CL_EFORMAT, "%s: CaCertificate must be a PEM certificate", path);
        else if (!(pe->ca_pem = strdup(json_string_value(ca))))
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
    }
    json_decref(j);
    if (rc < 0)
        parent_env_clear(pe);
    return rc;
}


int parent_env_load(struct parent_env *pe, bool *named, struct cl_error *err)
{
    memset(pe, 0, sizeof(*pe));
    const char *path = getenv(PARENT_ENV_ENDPOINTS_VAR);
    *named = path && *path;
    if (!*named) {
        path = PARENT_ENV_ENDPOINTS_DEFAULT;
        if (access(path, F_OK) < 0)
            return cl_fail(err, CL_ENOTFOUND, "no endpoints file at %s", path);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, ENDPOINTS_MAX, &data, &len, err);
    if (rc == 0)
        rc = parent_env_parse((const char *)data, len, path, pe, err);
    free(data);
    return rc;
}

/* ---- the generated files ----------------------------------------------------- */

/* A directory of the user's own that nobody else may write into. */
static bool own_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
           !(st.st_mode & 022);
}

/*
 * The user's own directory for the generated files, made 0700 if missing:
 * under $XDG_RUNTIME_DIR when that is the user's own, else in /tmp (sticky:
 * nobody else can rename it away once it is ours).
 */
static int private_dir(char *out, size_t cap, struct cl_error *err)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    bool in_tmp = !(xdg && *xdg && own_dir(xdg));
    if (in_tmp)
        snprintf(out, cap, "/tmp/cloister-%u", (unsigned)getuid());
    else
        snprintf(out, cap, "%s/cloister", xdg);
    if (mkdir(out, 0700) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", out);
    struct stat st;
    if (lstat(out, &st) < 0)
        return cl_fail_errno(err, CL_EIO, "cannot stat %s", out);
    const char *hint = in_tmp ? " (set XDG_RUNTIME_DIR to a directory of your own)" : "";
    if (S_ISLNK(st.st_mode))
        return cl_fail(err, CL_EPERM, "%s is a symbolic link, not a private directory of this "
                                      "user%s", out, hint);
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
        return cl_fail(err, CL_EPERM,
                       "%s is not a private directory of this user (owner %u, mode %03o)%s", out,
                       (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777), hint);
    return 0;
}

static int write_under(const char *dir, const char *rel, const char *text, struct cl_error *err)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    /* the directories on the way, each made once */
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = 0;
        int r = mkdir(path, 0700);
        *slash = '/';
        if (r < 0 && errno != EEXIST)
            return cl_fail_errno(err, CL_EIO, "cannot create the directories of %s", path);
    }
    /* every `cloister exec` prepares the same files: a file already holding
     * this text is left alone (no write, no fsync on a program's start) */
    size_t len = strlen(text), have_len = 0;
    uint8_t *have = NULL;
    struct stat st;
    bool same = lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() &&
                (size_t)st.st_size == len &&
                file_read_all(path, len, &have, &have_len, NULL) == 0 && have_len == len &&
                !memcmp(have, text, len);
    free(have);
    return same ? 0 : file_write_atomic(path, text, len, 0600, err);
}

/* An endpoint rule set that answers url, unless the caller gave an endpoint
 * of its own (--endpoint-url, endpoint_url): the shape of botocore's
 * endpoint-rule-set-1.json, reduced to those two rules. */
static char *rule_set(const char *url)
{
    json_t *param = json_pack("{s:s, s:b, s:s, s:s}", "builtIn", "SDK::Endpoint", "required", 0,
                              "documentation", "An endpoint the caller names", "type", "String");
    json_t *region = json_pack("{s:s, s:b, s:s, s:s}", "builtIn", "AWS::Region", "required", 0,
                               "documentation", "The region", "type", "String");
    json_t *j = json_pack(
        "{s:s, s:{s:o, s:o}, s:[{s:[{s:s, s:[{s:s}]}], s:{s:{s:s}, s:{}, s:{}}, s:s},"
        " {s:[], s:{s:s, s:{}, s:{}}, s:s}]}",
        "version", "1.0", "parameters", "Region", region, "Endpoint", param, "rules",
        "conditions", "fn", "isSet", "argv", "ref", "Endpoint", "endpoint", "url", "ref",
        "Endpoint", "properties", "headers", "type", "endpoint", "conditions", "endpoint", "url",
        url, "properties", "headers", "type", "endpoint");
    char *s = j ? json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

static int write_files(const struct parent_env *pe, struct cl_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(services) / sizeof(services[0]); i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "aws-data/%s/%s/endpoint-rule-set-1.json", services[i][0],
                 services[i][1]);
        char *text = rule_set(i == 0 ? pe->kms_url : pe->sts_url);
        rc = text ? write_under(pe->files, rel, text, err) : cl_fail(err, CL_ENOMEM, "out of memory");
        free(text);
    }
    if (rc < 0 || !pe->ca_pem)
        return rc;
    rc = write_under(pe->files, "service-ca.pem", pe->ca_pem, err);
    /* AWS_CA_BUNDLE replaces the client's trust store: the system's CAs stay in it */
    /* where OpenSSL looks: $SSL_CERT_FILE, else its built-in file (Debian:
     * /usr/lib/ssl/cert.pem, a link to /etc/ssl/certs/ca-certificates.crt) */
    const char *sys_path = getenv(X509_get_default_cert_file_env());
    if (!sys_path || !*sys_path)
        sys_path = X509_get_default_cert_file();
    uint8_t *sys = NULL;
    size_t sys_len = 0;
    if (file_read_all(sys_path, 16 << 20, &sys, &sys_len, NULL) < 0)
        sys = NULL;
    size_t n = sys_len + strlen(pe->ca_pem) + 2;
    char *bundle = rc == 0 ? malloc(n) : NULL;
    if (rc == 0 && !bundle)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    if (bundle) {
        snprintf(bundle, n, "%.*s%s%s", (int)sys_len, sys ? (const char *)sys : "",
                 sys_len && sys[sys_len - 1] != '\n' ? "\n" : "", pe->ca_pem);
        rc = write_under(pe->files, "ca-bundle.pem", bundle, err);
    }
    free(bundle);
    free(sys);
    return rc;
}

static int add_var(struct parent_env *pe, size_t *n, const char *name, const char *value,
                   struct cl_error *err)
{
    if (*n == PARENT_ENV_MAX_VARS)
        return cl_fail(err, CL_ELIMIT, "too many variables");
    size_t len = strlen(name) + strlen(value) + 2;
    if (!(pe->vars[*n] = malloc(len)))
        return cl_fail(err, CL_ENOMEM, "out of memory");
    snprintf(pe->vars[(*n)++], len, "%s=%s", name, value);
    return 0;
}

/* A file's path under pe->files. */
static const char *file_path(const struct parent_env *pe, const char *rel, char *out, size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s/%s", pe->files, rel) >= cap)
        out[0] = 0;
    return out;
}

static int set_vars(struct parent_env *pe, struct cl_error *err)
{
    size_t n = 0;
    char p[8400];
    const char *more = getenv("AWS_DATA_PATH");
    /* ours first; the caller's own data path stays after it */
    file_path(pe, "aws-data", p, sizeof(p));
    if (more && *more && strlen(p) + strlen(more) + 2 < sizeof(p))
        strcat(strcat(p, ":"), more);
    int rc = add_var(pe, &n, PARENT_ENV_ENDPOINTS_VAR, pe->path, err);
    if (rc == 0)
        rc = add_var(pe, &n, "AWS_REGION", pe->region, err);
    if (rc == 0)
        rc = add_var(pe, &n, "AWS_DEFAULT_REGION", pe->region, err);
    if (rc == 0)
        rc = add_var(pe, &n, "AWS_ENDPOINT_URL_KMS", pe->kms_url, err);
    if (rc == 0)
        rc = add_var(pe, &n, "AWS_ENDPOINT_URL_STS", pe->sts_url, err);
    if (rc == 0)
        rc = add_var(pe, &n, "AWS_DATA_PATH", p, err);
    if (rc == 0 && pe->ca_pem) {
        rc = add_var(pe, &n, "AWS_CA_BUNDLE", file_path(pe, "ca-bundle.pem", p, sizeof(p)), err);
        if (rc == 0)
            rc = add_var(pe, &n, "NODE_EXTRA_CA_CERTS",
                         file_path(pe, "service-ca.pem", p, sizeof(p)), err);
    }
    if (rc == 0 && pe->imds_url[0]) {
        /* with its slash: older botocore appends "latest/..." to it as it is */
        snprintf(p, sizeof(p), "%s%s", pe->imds_url,
                 pe->imds_url[strlen(pe->imds_url) - 1] == '/' ? "" : "/");
        rc = add_var(pe, &n, "AWS_EC2_METADATA_SERVICE_ENDPOINT", p, err);
        if (rc == 0)
            rc = add_var(pe, &n, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                         pe->imds_addr.ss_family == AF_INET6 ? "IPv6" : "IPv4", err);
    }
    return rc;
}

int parent_env_prepare(struct parent_env *pe, struct cl_error *err)
{
    char dir[4000];
    int rc = private_dir(dir, sizeof(dir), err);
    if (rc < 0)
        return rc;
    /* one subdirectory per service: users of two services at once do not mix */
    uint8_t h[SHA256_DIGEST_LENGTH];
    char key[2 * 8 + 1];
    char material[1200];
    snprintf(material, sizeof(material), "%s\n%s\n%s\n%s", pe->region, pe->kms_url, pe->sts_url,
             pe->imds_url);
    SHA256((const uint8_t *)material, strlen(material), h);
    hex_encode(key, h, 8);
    snprintf(pe->files, sizeof(pe->files), "%s/%s", dir, key);
    if (mkdir(pe->files, 0700) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", pe->files);
    rc = write_files(pe, err);
    return rc == 0 ? set_vars(pe, err) : rc;
}

void parent_env_clear(struct parent_env *pe)
{
    free(pe->ca_pem);
    for (size_t i = 0; i < PARENT_ENV_MAX_VARS && pe->vars[i]; i++)
        free(pe->vars[i]);
    memset(pe, 0, sizeof(*pe));
}
