/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EIF's metadata section as nitro-cli writes it: the JSON in its
 * struct order, BuildTime as chrono prints it, OperatingSystem and
 * KernelVersion from the blobs' bzImage.config, and the --metadata file.
 * docs/build-enclave.md ("The metadata section") states the rules with
 * their sources.
 */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/fileio.h"

int image_rfc3339(int64_t t, char out[static 40], struct cl_error *err)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return cl_fail(err, CL_EINVAL, "build time %lld is out of range", (long long)t);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    return 0;
}

static int append(char **buf, size_t *len, const char *s)
{
    size_t l = strlen(s);
    char *nb = realloc(*buf, *len + l + 1);
    if (!nb)
        return CL_ENOMEM;
    memcpy(nb + *len, s, l + 1);
    *buf = nb;
    *len += l;
    return 0;
}

static int append_json(char **buf, size_t *len, json_t *v, size_t flags)
{
    char *s = json_dumps(v ? v : json_null(), JSON_COMPACT | JSON_ENCODE_ANY | flags);
    if (!s)
        return CL_ENOMEM;
    int rc = append(buf, len, s);
    free(s);
    return rc;
}

static int append_str(char **buf, size_t *len, const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (!j)
        return CL_EINVAL;
    int rc = append_json(buf, len, j, 0);
    json_decref(j);
    return rc;
}

int image_metadata_json(const struct image_meta *m, char **out, struct cl_error *err)
{
    *out = NULL;
    const char *when = m->build_time;
    int rc = 0;
    char *b = NULL;
    size_t l = 0;
    /* serde_json::to_vec of EifIdentityInfo: struct order, compact. */
    rc = append(&b, &l, "{\"ImageName\":");
    rc = rc ?: append_str(&b, &l, m->name);
    rc = rc ?: append(&b, &l, ",\"ImageVersion\":");
    rc = rc ?: append_str(&b, &l, m->version);
    rc = rc ?: append(&b, &l, ",\"BuildMetadata\":{\"BuildTime\":");
    rc = rc ?: append_str(&b, &l, when);
    rc = rc ?: append(&b, &l, ",\"BuildTool\":");
    rc = rc ?: append_str(&b, &l, m->build_tool);
    rc = rc ?: append(&b, &l, ",\"BuildToolVersion\":");
    rc = rc ?: append_str(&b, &l, m->build_tool_version);
    rc = rc ?: append(&b, &l, ",\"OperatingSystem\":");
    rc = rc ?: append_str(&b, &l, m->os);
    rc = rc ?: append(&b, &l, ",\"KernelVersion\":");
    rc = rc ?: append_str(&b, &l, m->kernel_version);
    rc = rc ?: append(&b, &l, "},\"DockerInfo\":");
    rc = rc ?: append_json(&b, &l, m->docker_info, JSON_SORT_KEYS);
    rc = rc ?: append(&b, &l, ",\"CustomMetadata\":");
    rc = rc ?: append_json(&b, &l, m->custom, JSON_SORT_KEYS);
    rc = rc ?: append(&b, &l, "}");
    if (rc < 0) {
        free(b);
        return cl_fail(err, rc == CL_EINVAL ? CL_EINVAL : CL_ENOMEM,
                       rc == CL_EINVAL ? "metadata strings must be UTF-8" : "out of memory");
    }
    *out = b;
    return 0;
}

int image_kernel_info(const char *config_path, char **os, char **ver, struct cl_error *err)
{
    *os = *ver = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(config_path, 1u << 20, &data, &len, err);
    if (rc < 0) {
        cl_error_clear(err);
        return cl_fail(err, CL_ENOTFOUND, "missing blob '%s'", config_path);
    }
    /* Line 3 (index 2), as nitro-cli's get_kernel_info (enclave_build). */
    char *line = (char *)data;
    for (int i = 0; i < 2 && line; i++) {
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    char *tok[4] = { 0 };
    if (line) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        /* split on ' ', '/', '-' keeping empty pieces (Rust's str::split) */
        char *p = line;
        for (int i = 0; i < 4 && p; i++) {
            tok[i] = p;
            p += strcspn(p, " /-");
            if (*p) {
                *p = '\0';
                p++;
            } else {
                p = NULL;
            }
        }
    }
    if (!tok[1] || !tok[3] || !*tok[1] || !*tok[3]) {
        rc = cl_fail(err, CL_EFORMAT,
                     "blob '%s': line 3 is not '# <OS>/<arch> <version> Kernel Configuration'",
                     config_path);
        goto out;
    }
    *os = strdup(tok[1]);
    *ver = strdup(tok[3]);
    if (!*os || !*ver) {
        free(*os);
        free(*ver);
        *os = *ver = NULL;
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    }
out:
    free(data);
    return rc;
}

int image_custom_metadata(const char *path, json_t **out, struct cl_error *err)
{
    *out = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, IMAGE_CUSTOM_METADATA_MAX, &data, &len, err);
    if (rc == CL_ELIMIT) {
        cl_error_clear(err);
        struct stat st;
        long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
        return cl_fail(err, CL_ELIMIT, "metadata file '%s' is %lld bytes, at most %d allowed", path,
                       size, IMAGE_CUSTOM_METADATA_MAX);
    }
    if (rc < 0)
        return rc;
    json_error_t je;
    *out = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    free(data);
    if (!*out)
        return cl_fail(err, CL_EFORMAT, "metadata file '%s' is not JSON: %s (line %d)", path,
                       je.text, je.line);
    return 0;
}
