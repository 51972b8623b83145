/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Principals and access keys in the SQLite store (store.h). Secret access
 * keys are wrapped with the master key under an AAD naming the access key
 * id; session tokens are kept as their SHA-256 only.
 */
#include "state/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "state/blob.h"

void store_principal_clear(struct store_principal *p)
{
    free(p->identity_policy);
    memset(p, 0, sizeof(*p));
}

int store_principal_create(struct store *st, const struct store_principal *p, double now,
                           struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc =
        db_stmt_open(st,
                     "INSERT INTO principals(arn, name, kind, unique_id, identity_policy, created)"
                     " VALUES(?,?,?,?,?,?)",
                     &db, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, p->arn);
        db_bind_text(s, 2, p->name);
        db_bind_text(s, 3, p->kind);
        db_bind_text(s, 4, p->unique_id);
        db_bind_text(s, 5, p->identity_policy);
        sqlite3_bind_double(s, 6, now);
        rc = db_step_done(db, s, NULL, err);
        if (rc == CL_EEXIST) {
            cl_error_clear(err);
            rc = cl_fail(err, CL_EEXIST, "principal %s already exists", p->arn);
        }
    }
    db_stmt_close(st, db, s);
    return rc;
}

static int db_principal_get(struct store *st, const char *arn, struct store_principal *out,
                            struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_select_one(
        st, "SELECT arn, name, kind, unique_id, identity_policy FROM principals WHERE arn=?", arn,
        &db, &s, err);
    if (rc == 1) {
        rc = 0;
        db_copy_col(out->arn, sizeof(out->arn), s, 0);
        db_copy_col(out->name, sizeof(out->name), s, 1);
        db_copy_col(out->kind, sizeof(out->kind), s, 2);
        db_copy_col(out->unique_id, sizeof(out->unique_id), s, 3);
        out->identity_policy = db_dup_col(s, 4);
    } else if (rc == 0) {
        rc = cl_fail(err, CL_ENOTFOUND, "no principal %s", arn);
    }
    db_stmt_close(st, db, s);
    return rc;
}

void store_access_key_clear(struct store_access_key *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

static void secret_aad(char *aad, size_t cap, const char *akid)
{
    snprintf(aad, cap, "cloister-kms/secret-access-key/v1/%s", akid);
}

int store_access_key_create(struct store *st, const struct store_access_key *k, double now,
                            struct cl_error *err)
{
    char aad[96];
    secret_aad(aad, sizeof(aad), k->akid);
    uint8_t *w = NULL;
    size_t wlen = 0;
    int rc = blob_gcm_seal(st->master, (const uint8_t *)aad, strlen(aad),
                           (const uint8_t *)k->secret, strlen(k->secret), &w, &wlen, err);
    if (rc < 0)
        return rc;
    sqlite3 *db;
    sqlite3_stmt *s;
    rc = db_stmt_open(
        st,
        "INSERT INTO access_keys(akid, wrapped_secret, principal_arn, caller_arn, user_id,"
        " token_hash, expiration, created) VALUES(?,?,?,?,?,?,?,?)",
        &db, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, k->akid);
        sqlite3_bind_blob(s, 2, w, (int)wlen, SQLITE_TRANSIENT);
        db_bind_text(s, 3, k->principal_arn);
        db_bind_text(s, 4, k->caller_arn);
        db_bind_text(s, 5, k->user_id);
        if (k->has_session)
            sqlite3_bind_blob(s, 6, k->token_hash, 32, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, 6);
        sqlite3_bind_double(s, 7, k->expiration);
        sqlite3_bind_double(s, 8, now);
        rc = db_step_done(db, s, NULL, err);
    }
    db_stmt_close(st, db, s);
    free(w);
    return rc;
}

int store_access_key_prune(struct store *st, double now, int *removed, struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(
        st, "DELETE FROM access_keys WHERE token_hash IS NOT NULL AND expiration < ?", &db, &s, err);
    if (rc == 0) {
        sqlite3_bind_double(s, 1, now);
        rc = db_step_done(db, s, removed, err);
    }
    db_stmt_close(st, db, s);
    return rc;
}

static int db_access_key_get(struct store *st, const char *akid, struct store_access_key *out,
                             struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc =
        db_select_one(st,
                      "SELECT akid, wrapped_secret, principal_arn, caller_arn, user_id, token_hash,"
                      " expiration FROM access_keys WHERE akid=?",
                      akid, &db, &s, err);
    if (rc == 1) {
        db_copy_col(out->akid, sizeof(out->akid), s, 0);
        char aad[96];
        secret_aad(aad, sizeof(aad), out->akid);
        uint8_t *secret = NULL;
        size_t slen = 0;
        rc = blob_gcm_open(st->master, (const uint8_t *)aad, strlen(aad), sqlite3_column_blob(s, 1),
                           (size_t)sqlite3_column_bytes(s, 1), &secret, &slen, err);
        if (rc == 0) {
            if (slen >= sizeof(out->secret))
                rc = cl_fail(err, CL_EFORMAT, "stored secret too long");
            else
                memcpy(out->secret, secret, slen + 1);
            OPENSSL_cleanse(secret, slen);
            free(secret);
        }
        db_copy_col(out->principal_arn, sizeof(out->principal_arn), s, 2);
        db_copy_col(out->caller_arn, sizeof(out->caller_arn), s, 3);
        db_copy_col(out->user_id, sizeof(out->user_id), s, 4);
        if (sqlite3_column_type(s, 5) == SQLITE_BLOB && sqlite3_column_bytes(s, 5) == 32) {
            out->has_session = true;
            memcpy(out->token_hash, sqlite3_column_blob(s, 5), 32);
        }
        out->expiration = sqlite3_column_double(s, 6);
    } else if (rc == 0) {
        rc = cl_fail(err, CL_ENOTFOUND, "no access key %s", akid);
    }
    db_stmt_close(st, db, s);
    if (rc < 0)
        store_access_key_clear(out);
    return rc;
}

int store_principal_get(struct store *st, const char *arn, struct store_principal *out,
                        struct cl_error *err)
{
    if (store_cache_get(st, C_PR, arn, 0, out, NULL, NULL))
        return 0;
    int rc = db_principal_get(st, arn, out, err);
    if (rc == 0)
        store_cache_put(st, C_PR, arn, 0, out, 0);
    return rc;
}

int store_access_key_get(struct store *st, const char *akid, struct store_access_key *out,
                         struct cl_error *err)
{
    if (store_cache_get(st, C_AK, akid, 0, out, NULL, NULL))
        return 0;
    int rc = db_access_key_get(st, akid, out, err);
    if (rc == 0)
        store_cache_put(st, C_AK, akid, 0, out, 0);
    return rc;
}
