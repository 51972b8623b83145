/* SPDX-License-Identifier: Apache-2.0 */
#include "aws_env.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        return cl_fail(err, CL_ENOTFOUND,
                       "no AWS credentials (environment or shared-credentials file, profile %s)",
                       profile);
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
