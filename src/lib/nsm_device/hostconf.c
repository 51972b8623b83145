/* SPDX-License-Identifier: Apache-2.0 */
#include "nsm_device/hostconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"

void hostconf_defaults(struct hostconf *hc)
{
    memset(hc, 0, sizeof(*hc));
    strcpy(hc->instance_id, HOSTCONF_DEFAULT_INSTANCE_ID);
}

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool hostconf_instance_id_valid(const char *s)
{
    if (strncmp(s, "i-", 2) != 0)
        return false;
    size_t n = strlen(s + 2);
    if (n < 1 || n > HOSTCONF_INSTANCE_ID_MAX - 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_hex(s[2 + i]))
            return false;
    return true;
}

bool hostconf_role_arn_valid(const char *s)
{
    /* arn:<partition>:iam::<account>:role/<path/name> (IAM User Guide,
     * "IAM identifiers"); partitions are aws, aws-cn, aws-us-gov, ... */
    size_t n = strlen(s);
    if (n > HOSTCONF_ROLE_ARN_MAX || strncmp(s, "arn:", 4) != 0)
        return false;
    const char *p = s + 4;
    size_t part = 0;
    while ((p[part] >= 'a' && p[part] <= 'z') || p[part] == '-')
        part++;
    if (part == 0 || strncmp(p + part, ":iam::", 6) != 0)
        return false;
    p += part + 6;
    for (int i = 0; i < 12; i++, p++)
        if (*p < '0' || *p > '9')
            return false;
    if (strncmp(p, ":role/", 6) != 0)
        return false;
    p += 6;
    if (*p == '\0')
        return false;
    for (; *p; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  strchr("+=,.@_/-", c) != NULL;
        if (!ok)
            return false;
    }
    return s[n - 1] != '/';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int hostconf_parse(const char *text, size_t len, const char *name, struct hostconf *hc,
                   struct cl_error *err)
{
    hostconf_defaults(hc);
    if (memchr(text, '\0', len) != NULL)
        return cl_fail(err, CL_EFORMAT, "%s: contains a NUL byte", name);

    bool seen_id = false, seen_role = false;
    size_t lineno = 0, pos = 0;
    int rc = 0;
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);

        /* trim */
        size_t a = 0, b = n;
        while (a < b && is_blank(line[a]))
            a++;
        while (b > a && is_blank(line[b - 1]))
            b--;
        if (a == b || line[a] == '#')
            continue;
        const char *eq = memchr(line + a, '=', b - a);
        if (eq == NULL) {
            rc = cl_fail(err, CL_EFORMAT, "%s:%zu: expected 'key = value'", name, lineno);
            goto out;
        }
        size_t ke = (size_t)(eq - line), vs = ke + 1;
        while (ke > a && is_blank(line[ke - 1]))
            ke--;
        while (vs < b && is_blank(line[vs]))
            vs++;
        size_t klen = ke - a, vlen = b - vs;
        const char *key = line + a, *val = line + vs;

        if (klen == strlen("instance_id") && !memcmp(key, "instance_id", klen)) {
            if (seen_id) {
                rc = cl_fail(err, CL_EFORMAT, "%s:%zu: instance_id is set twice", name, lineno);
                goto out;
            }
            seen_id = true;
            if (vlen > HOSTCONF_INSTANCE_ID_MAX) {
                rc = cl_fail(err, CL_EFORMAT,
                             "%s:%zu: invalid instance_id (expected i- and 1 to 32 "
                             "lowercase hex digits)", name, lineno);
                goto out;
            }
            memcpy(hc->instance_id, val, vlen);
            hc->instance_id[vlen] = '\0';
            if (!hostconf_instance_id_valid(hc->instance_id)) {
                rc = cl_fail(err, CL_EFORMAT,
                             "%s:%zu: invalid instance_id '%s' (expected i- and 1 to 32 "
                             "lowercase hex digits)", name, lineno, hc->instance_id);
                goto out;
            }
        } else if (klen == strlen("parent_role_arn") && !memcmp(key, "parent_role_arn", klen)) {
            if (seen_role) {
                rc = cl_fail(err, CL_EFORMAT, "%s:%zu: parent_role_arn is set twice", name,
                             lineno);
                goto out;
            }
            seen_role = true;
            if (vlen > HOSTCONF_ROLE_ARN_MAX) {
                rc = cl_fail(err, CL_EFORMAT,
                             "%s:%zu: parent_role_arn is longer than %d bytes", name, lineno,
                             HOSTCONF_ROLE_ARN_MAX);
                goto out;
            }
            memcpy(hc->parent_role_arn, val, vlen);
            hc->parent_role_arn[vlen] = '\0';
            /* An empty value says "no role" explicitly. */
            if (vlen > 0 && !hostconf_role_arn_valid(hc->parent_role_arn)) {
                rc = cl_fail(err, CL_EFORMAT,
                             "%s:%zu: invalid parent_role_arn (expected "
                             "arn:<partition>:iam::<12-digit account>:role/<name>)",
                             name, lineno);
                goto out;
            }
        } else {
            rc = cl_fail(err, CL_EFORMAT, "%s:%zu: unknown key '%.*s'", name, lineno,
                         (int)(klen > 64 ? 64 : klen), key);
            goto out;
        }
    }
out:
    if (rc < 0)
        hostconf_defaults(hc);
    return rc;
}

int hostconf_load_file(const char *path, struct hostconf *hc, struct cl_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    hostconf_defaults(hc);
    int rc = file_read_all(path, HOSTCONF_FILE_MAX, &data, &len, err);
    if (rc < 0) {
        cl_error_prefix(err, "host configuration");
        return rc;
    }
    rc = hostconf_parse((const char *)data, len, path, hc, err);
    free(data);
    return rc;
}

int hostconf_load(struct hostconf *hc, const char **path_used, struct cl_error *err)
{
    const char *env = getenv(HOSTCONF_ENV);
    if (path_used)
        *path_used = NULL;
    if (env && *env) {
        if (path_used)
            *path_used = env;
        return hostconf_load_file(env, hc, err);
    }
    struct stat st;
    if (stat(HOSTCONF_DEFAULT_PATH, &st) < 0 && errno == ENOENT) {
        hostconf_defaults(hc);
        return 0;
    }
    if (path_used)
        *path_used = HOSTCONF_DEFAULT_PATH;
    return hostconf_load_file(HOSTCONF_DEFAULT_PATH, hc, err);
}
