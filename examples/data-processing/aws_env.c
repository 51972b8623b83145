/* SPDX-License-Identifier: Apache-2.0 */
#include "aws_env.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

static char *home_path(const char *rel)
{
    const char *home = getenv("HOME");
    char *p = NULL;
    if (home && asprintf(&p, "%s/%s", home, rel) < 0)
        p = NULL;
    return p;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/*
 * Reads `key` of [section] from an INI file (the AWS credentials/config
 * format). Returns a malloc'd value or NULL.
 */
static char *ini_get(const char *path, const char *section, const char *key)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char line[4096], *value = NULL;
    bool in_section = false;
    while (!value && fgets(line, sizeof(line), f)) {
        char *l = trim(line);
        if (*l == '#' || *l == ';' || !*l)
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (end) {
                *end = '\0';
                in_section = !strcmp(trim(l + 1), section);
            }
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in_section || !eq)
            continue;
        *eq = '\0';
        if (!strcmp(trim(l), key))
            value = strdup(trim(eq + 1));
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    return value;
}

/* ---- the instance profile, from the instance metadata service (IMDSv2) ---- */

struct text {
    char *data;
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct text *t = arg;
    size_t add = size * n;
    if (t->len + add > 64 * 1024)
        return 0;
    char *grown = malloc(t->len + add + 1);
    if (!grown)
        return 0;
    if (t->data) {
        memcpy(grown, t->data, t->len);
        OPENSSL_cleanse(t->data, t->len); /* credentials pass through here */
        free(t->data);
    }
    memcpy(grown + t->len, p, add);
    t->len += add;
    grown[t->len] = '\0';
    t->data = grown;
    return add;
}

/* One request to the metadata service; the body, or NULL unless 200
 * (*status: the HTTP status, 0 when there was no answer). */
static char *imds_request(const char *base, const char *path, const char *header, bool put,
                          long *status)
{
    *status = 0;
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    char url[1024];
    snprintf(url, sizeof(url), "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/", path);
    struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
    struct text t = { 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (header)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 2L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (put)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    if (curl_easy_perform(c) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK || *status != 200) {
        if (t.data)
            OPENSSL_cleanse(t.data, t.len);
        free(t.data);
        t.data = NULL;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return t.data;
}

static char *json_member(json_t *j, const char *name)
{
    const char *v = json_string_value(json_object_get(j, name));
    return v ? strdup(v) : NULL;
}

/*
 * The role's credentials as an EC2 instance gets them: a token, the role's
 * name, then its credentials, from AWS_EC2_METADATA_SERVICE_ENDPOINT or
 * http://169.254.169.254 (which `cloister exec` leads to Cloister's
 * metadata service). false when there is no metadata service or no role.
 */
static bool imds_credentials(struct aws_env *env)
{
    const char *off = getenv("AWS_EC2_METADATA_DISABLED");
    if (off && !strcmp(off, "true"))
        return false;
    const char *base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base || !*base)
        base = "http://169.254.169.254";
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return false;
    long status;
    char *token = imds_request(base, "latest/api/token",
                               "X-aws-ec2-metadata-token-ttl-seconds: 60", true, &status);
    /* as botocore: a service that refuses tokens (403, 404, 405) is asked
     * without one (IMDSv1); no answer at all means no service */
    if (!token && status != 403 && status != 404 && status != 405)
        return false;
    char header[256] = "", path[512];
    if (token)
        snprintf(header, sizeof(header), "X-aws-ec2-metadata-token: %s", trim(token));
    const char *h = token ? header : NULL;
    char *role = imds_request(base, "latest/meta-data/iam/security-credentials/", h, false,
                              &status);
    char *creds = NULL;
    if (role && strlen(trim(role)) < 200) {
        snprintf(path, sizeof(path), "latest/meta-data/iam/security-credentials/%s", trim(role));
        creds = imds_request(base, path, h, false, &status);
    }
    json_t *j = creds ? json_loads(creds, 0, NULL) : NULL;
    env->access_key_id = json_member(j, "AccessKeyId");
    env->secret_access_key = json_member(j, "SecretAccessKey");
    env->session_token = json_member(j, "Token");
    json_decref(j);
    if (creds) {
        OPENSSL_cleanse(creds, strlen(creds));
        free(creds);
    }
    if (token)
        OPENSSL_cleanse(token, strlen(token));
    OPENSSL_cleanse(header, sizeof(header));
    free(token);
    free(role);
    curl_global_cleanup();
    return env->access_key_id && env->secret_access_key && env->session_token;
}

int aws_env_load(struct aws_env *env, struct cl_error *err)
{
    memset(env, 0, sizeof(*env));
    const char *profile = getenv("AWS_PROFILE");
    if (!profile || !*profile)
        profile = "default";

    env->access_key_id = dup_env("AWS_ACCESS_KEY_ID");
    env->secret_access_key = dup_env("AWS_SECRET_ACCESS_KEY");
    if (env->access_key_id && env->secret_access_key) {
        env->session_token = dup_env("AWS_SESSION_TOKEN");
    } else {
        free(env->access_key_id);
        free(env->secret_access_key);
        char *creds = dup_env("AWS_SHARED_CREDENTIALS_FILE");
        if (!creds)
            creds = home_path(".aws/credentials");
        env->access_key_id = ini_get(creds, profile, "aws_access_key_id");
        env->secret_access_key = ini_get(creds, profile, "aws_secret_access_key");
        env->session_token = ini_get(creds, profile, "aws_session_token");
        free(creds);
    }
    if (!env->access_key_id || !env->secret_access_key) {
        aws_env_release(env);
        if (!imds_credentials(env)) {
            aws_env_release(env);
            return cl_fail(err, CL_ENOTFOUND,
                           "no AWS credentials (environment, shared-credentials file with profile "
                           "%s, or the instance metadata service)",
                           profile);
        }
    }

    env->region = dup_env("AWS_REGION");
    if (!env->region)
        env->region = dup_env("AWS_DEFAULT_REGION");
    if (!env->region) {
        char *config = dup_env("AWS_CONFIG_FILE");
        if (!config)
            config = home_path(".aws/config");
        char *section = NULL;
        if (strcmp(profile, "default") != 0 && asprintf(&section, "profile %s", profile) < 0)
            section = NULL;
        env->region = ini_get(config, section ? section : "default", "region");
        free(section);
        free(config);
    }
    if (!env->region) {
        aws_env_release(env);
        return cl_fail(err, CL_ENOTFOUND, "no AWS region (AWS_REGION or the config file)");
    }
    env->endpoint_url = dup_env("AWS_ENDPOINT_URL_KMS");
    if (!env->endpoint_url)
        env->endpoint_url = dup_env("AWS_ENDPOINT_URL");
    env->ca_bundle = dup_env("AWS_CA_BUNDLE");
    return 0;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void aws_env_release(struct aws_env *env)
{
    free(env->access_key_id);
    free_secret(env->secret_access_key);
    free_secret(env->session_token);
    free(env->region);
    free(env->endpoint_url);
    free(env->ca_bundle);
    memset(env, 0, sizeof(*env));
}
