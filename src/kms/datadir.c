/* SPDX-License-Identifier: Apache-2.0 */
/* cloister-kms's data directory, set up on first use (datadir.h). */
#include "datadir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "base/fileio.h"
#include "state/identities.h"
#include "state/tlsgen.h"
#include "util/kmsutil.h"

#define DEFAULT_REGION "us-east-1"
#define ADMIN_POLICY                                                               \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"AdministratorAccess\"," \
    "\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"

void datadir_path(const struct datadir *d, const char *name, char *out, size_t cap)
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
int datadir_open(const char *dir, const char *region, const char *account, struct datadir *d,
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
    datadir_path(d, "master.key", p, sizeof(p));
    int rc = master_key(p, mk, err);
    if (rc < 0)
        return rc;
    datadir_path(d, "kms.db", p, sizeof(p));
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
        datadir_path(d, "credentials", p, sizeof(p));
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
    datadir_path(d, "config", p, sizeof(p));
    rc = file_write_atomic(p, cfg, strlen(cfg), 0644, err);
    if (rc == 0) {
        datadir_path(d, "tls", p, sizeof(p));
        rc = tlsgen_ensure(p, d->region, err);
    }
    return rc;
}

void datadir_close(struct datadir *d)
{
    store_close(d->store);
    d->store = NULL;
}
