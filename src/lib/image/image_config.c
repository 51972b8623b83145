/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an image runs: the command and environment from the image config
 * (Cmd over Entrypoint, never combined; Env), its architecture (the EIF's
 * arch flag), and the --cmd / --env overrides. The rules are nitro-cli's;
 * docs/build-enclave.md ("Command and environment") states them with their
 * sources.
 */
#include "image/image.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <cloister/eif.h>

#include "image/image_internal.h"

/* A JSON array of strings -> a new string vector. */
static int strv_from_json(json_t *arr, const char *what, char ***out, size_t *n,
                          struct cl_error *err)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr))
        return cl_fail(err, CL_EFORMAT, "image config: %s is not an array of strings", what);
    size_t len = json_array_size(arr);
    char **v = calloc(len + 1, sizeof(*v));
    if (!v)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s)) {
            image_strv_free(v, i);
            return cl_fail(err, CL_EFORMAT, "image config: %s[%zu] is not a string", what, i);
        }
        v[i] = strdup(json_string_value(s));
        if (!v[i]) {
            image_strv_free(v, i);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
    }
    *out = v;
    *n = len;
    return 0;
}

int image_apply_config(struct image *img, json_t *config, struct cl_error *err)
{
    if (!json_is_object(config))
        return cl_fail(err, CL_EFORMAT, "image config is not a JSON object");
    /* nitro-cli: the image architecture sets the EIF's arch flag; amd64 is
     * 0, arm64 sets EIF_HDR_ARCH_ARM64, anything else is an error. */
    json_t *arch = json_object_get(config, "architecture");
    if (!arch)
        arch = json_object_get(config, "Architecture");
    if (arch) {
        const char *a = json_string_value(arch);
        if (a && (!strcmp(a, "amd64") || !strcmp(a, "x86_64")))
            img->eif_flags = 0;
        else if (a && (!strcmp(a, "arm64") || !strcmp(a, "aarch64")))
            img->eif_flags = EIF_FLAG_ARCH_ARM64;
        else
            return cl_fail(err, CL_EUNSUPPORTED,
                           "unsupported image architecture '%s' (amd64 or arm64)", a ? a : "?");
    }
    json_t *cfg = json_object_get(config, "config");
    if (!cfg)
        cfg = json_object_get(config, "Config");
    if (cfg && !json_is_null(cfg) && !json_is_object(cfg))
        return cl_fail(err, CL_EFORMAT, "image config: config is not an object");
    json_t *cmd = cfg ? json_object_get(cfg, "Cmd") : NULL;
    json_t *ep = cfg ? json_object_get(cfg, "Entrypoint") : NULL;
    json_t *env = cfg ? json_object_get(cfg, "Env") : NULL;
    int rc;
    /* Cmd if present, otherwise Entrypoint; never combined (docs/build-enclave.md). */
    json_t *use = (cmd && !json_is_null(cmd)) ? cmd : (ep && !json_is_null(ep)) ? ep : NULL;
    image_strv_free(img->cmd, img->ncmd);
    img->cmd = NULL;
    img->ncmd = 0;
    img->has_cmd = false;
    if (use) {
        rc = strv_from_json(use, use == cmd ? "Cmd" : "Entrypoint", &img->cmd, &img->ncmd, err);
        if (rc < 0)
            return rc;
        img->has_cmd = img->ncmd > 0;
    }
    image_strv_free(img->env, img->nenv);
    img->env = NULL;
    img->nenv = 0;
    if (env && !json_is_null(env)) {
        rc = strv_from_json(env, "Env", &img->env, &img->nenv, err);
        if (rc < 0)
            return rc;
    }
    /* Kept only to be reported: neither nitro-cli nor AWS's init uses it
     * (docs/build-enclave.md, "Command and environment"); a value of any
     * other type has no effect either, so it is not an error. */
    free(img->workdir);
    img->workdir = NULL;
    const char *wd = cfg ? json_string_value(json_object_get(cfg, "WorkingDir")) : NULL;
    if (wd && !(img->workdir = strdup(wd)))
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return 0;
}

int image_set_cmd(struct image *img, const char *spec, struct cl_error *err)
{
    char **v = NULL;
    size_t n = 0;
    int rc = 0;
    while (isspace((unsigned char)*spec))
        spec++;
    if (*spec == '[') {
        json_error_t je;
        json_t *arr = json_loads(spec, JSON_REJECT_DUPLICATES, &je);
        if (!arr)
            return cl_fail(err, CL_EINVAL, "--cmd: not a JSON array: %s", je.text);
        rc = strv_from_json(arr, "--cmd", &v, &n, err);
        json_decref(arr);
        if (rc < 0) {
            cl_error_clear(err);
            return cl_fail(err, CL_EINVAL, "--cmd: the JSON array must hold strings only");
        }
    } else {
        char *copy = strdup(spec), *save = NULL;
        v = calloc(strlen(spec) / 2 + 2, sizeof(*v));
        if (!copy || !v) {
            free(copy);
            free(v);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
            if (!(v[n++] = strdup(t))) {
                free(copy);
                image_strv_free(v, n - 1);
                return cl_fail(err, CL_ENOMEM, "out of memory");
            }
        free(copy);
    }
    if (n == 0) {
        image_strv_free(v, n);
        return cl_fail(err, CL_EINVAL, "--cmd: empty command");
    }
    image_strv_free(img->cmd, img->ncmd);
    img->cmd = v;
    img->ncmd = n;
    img->has_cmd = true;
    return 0;
}

int image_set_env(struct image *img, const char *kv, struct cl_error *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return cl_fail(err, CL_EINVAL, "--env '%s': expected KEY=VALUE", kv);
    if (strchr(kv, '\n'))
        return cl_fail(err, CL_EINVAL, "--env '%s': contains a newline", kv);
    size_t klen = (size_t)(eq - kv);
    char *copy = strdup(kv);
    if (!copy)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    for (size_t i = 0; i < img->nenv; i++) {
        if (!strncmp(img->env[i], kv, klen) && img->env[i][klen] == '=') {
            free(img->env[i]);
            img->env[i] = copy;
            return 0;
        }
    }
    char **v = realloc(img->env, (img->nenv + 2) * sizeof(*v));
    if (!v) {
        free(copy);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    v[img->nenv++] = copy;
    v[img->nenv] = NULL;
    img->env = v;
    return 0;
}
