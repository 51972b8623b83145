/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Imported key material in the SQLite store (store.h, "Imported key
 * material"): the key_imports table, and the transactions that import,
 * delete and expire a key's material together with its state, so a crash
 * never leaves an Enabled key without material or material under a key
 * pending import.
 */
#include "state/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "state/blob.h"
#include "util/kmsutil.h"

#define FP_LEN 32

/*
 * The fingerprint of material imported into key id: HMAC-SHA-256 under a
 * key derived from the master key, so the store alone (without the master
 * key) cannot be used to test guesses of the material.
 */
static int fingerprint(const struct store *st, const char *id, const uint8_t *m, size_t len,
                       uint8_t out[FP_LEN], struct cl_error *err)
{
    static const char label[] = "cloister-kms/import-fingerprint-key/v1";
    uint8_t sub[FP_LEN];
    unsigned n = 0;
    /* the key id and its length first: the material of one key never
     * matches another's fingerprint */
    size_t idlen = strlen(id);
    size_t total = 1 + idlen + len;
    uint8_t *msg = malloc(total);
    if (!msg)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    msg[0] = (uint8_t)idlen;
    memcpy(msg + 1, id, idlen);
    memcpy(msg + 1 + idlen, m, len);
    int rc = 0;
    if (!HMAC(EVP_sha256(), st->master, 32, (const uint8_t *)label, sizeof(label) - 1, sub, &n) ||
        !HMAC(EVP_sha256(), sub, FP_LEN, msg, total, out, &n))
        rc = cl_fail_openssl(err, CL_ECRYPTO, "HMAC failed");
    OPENSSL_cleanse(sub, sizeof(sub));
    OPENSSL_cleanse(msg, total);
    free(msg);
    return rc;
}

int store_import_get(struct store *st, const char *id, struct store_import *out,
                     struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_select_one(st, "SELECT present, expires, valid_to FROM key_imports WHERE key_id=?",
                           id, &db, &s, err);
    if (rc == 1) {
        out->imported = true;
        out->present = sqlite3_column_int(s, 0) != 0;
        out->expires = sqlite3_column_int(s, 1) != 0;
        out->valid_to = sqlite3_column_double(s, 2);
        rc = 0;
    }
    db_stmt_close(st, db, s);
    return rc;
}

/* Runs sql (one ?1 = id) inside the caller's transaction. */
static int exec_id(sqlite3 *db, const char *sql, const char *id, struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db, sql, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, id);
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    return rc;
}

/* CL_EPERM when key id has the fingerprint of other material. */
static int check_same(sqlite3 *db, const char *id, const uint8_t fp[FP_LEN], struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db, "SELECT fingerprint FROM key_imports WHERE key_id=?", &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, id);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            const void *old = sqlite3_column_blob(s, 0);
            if (sqlite3_column_bytes(s, 0) != FP_LEN || CRYPTO_memcmp(old, fp, FP_LEN) != 0)
                rc = cl_fail(err, CL_EPERM, "other key material was imported into %s", id);
        } else if (r != SQLITE_DONE) {
            rc = db_fail(err, db, "store read failed");
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static int record_import(sqlite3 *db, const char *id, const uint8_t fp[FP_LEN], bool expires,
                         double valid_to, struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db,
                     "INSERT OR REPLACE INTO key_imports(key_id, fingerprint, present, expires,"
                     " valid_to, imported) VALUES(?,?,1,?,?,?)",
                     &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, id);
        sqlite3_bind_blob(s, 2, fp, FP_LEN, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 3, expires);
        sqlite3_bind_double(s, 4, expires ? valid_to : 0);
        sqlite3_bind_double(s, 5, ku_now());
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    return rc;
}

int store_import_put(struct store *st, const char *id, const uint8_t *material, size_t len,
                     bool expires, double valid_to, struct cl_error *err)
{
    uint8_t fp[FP_LEN];
    int rc = fingerprint(st, id, material, len, fp, err);
    if (rc < 0)
        return rc;
    store_cache_drop(st, C_KEY, id, 0);
    store_cache_drop(st, C_MAT, id, 0);
    sqlite3 *db;
    rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    rc = check_same(db, id, fp, err);
    /* the same material again: written anew (a fresh nonce), expiry replaced */
    if (rc == 0)
        rc = exec_id(db, "DELETE FROM key_material WHERE key_id=?", id, err);
    if (rc == 0)
        rc = db_material_insert(st, db, id, 1, ku_now(), material, len, err);
    if (rc == 0)
        rc = record_import(db, id, fp, expires, valid_to, err);
    if (rc == 0)
        rc = exec_id(db, "UPDATE keys SET state='Enabled' WHERE id=? AND state='PendingImport'", id,
                     err);
    if (rc == 0)
        rc = db_exec(db, "COMMIT", err);
    if (rc < 0)
        db_rollback(db);
out:
    db_release(st, db);
    /* a reader may have cached the old state between the drop and the commit */
    store_cache_drop(st, C_KEY, id, 0);
    store_cache_drop(st, C_MAT, id, 0);
    return rc;
}

/* Deletes the material of key id when `when` says so: always (NULL) or when
 * it expires at or before *when. *done says whether it was deleted. */
static int delete_material(struct store *st, const char *id, const double *when, bool *done,
                           struct cl_error *err)
{
    *done = false;
    sqlite3 *db;
    sqlite3_stmt *s = NULL;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    bool due = when == NULL;
    if (when) {
        rc = db_prep(db,
                     "SELECT 1 FROM key_imports WHERE key_id=? AND present=1 AND expires=1"
                     " AND valid_to <= ?",
                     &s, err);
        if (rc == 0) {
            db_bind_text(s, 1, id);
            sqlite3_bind_double(s, 2, *when);
            due = sqlite3_step(s) == SQLITE_ROW;
        }
    }
    if (rc == 0 && due)
        rc = exec_id(db, "DELETE FROM key_material WHERE key_id=?", id, err);
    if (rc == 0 && due)
        rc = exec_id(db, "UPDATE key_imports SET present=0 WHERE key_id=?", id, err);
    if (rc == 0 && due)
        rc = exec_id(
            db, "UPDATE keys SET state='PendingImport' WHERE id=? AND state!='PendingDeletion'", id,
            err);
    if (rc == 0)
        rc = db_exec(db, "COMMIT", err);
    if (rc < 0)
        db_rollback(db);
    else
        *done = due;
out:
    sqlite3_finalize(s);
    db_release(st, db);
    if (*done) {
        store_cache_drop(st, C_KEY, id, 0);
        store_cache_drop(st, C_MAT, id, 0);
    }
    return rc;
}

int store_import_delete(struct store *st, const char *id, struct cl_error *err)
{
    bool done;
    return delete_material(st, id, NULL, &done, err);
}

int store_import_expire(struct store *st, const char *id, double now, bool *expired,
                        struct cl_error *err)
{
    *expired = false;
    /* every request naming an EXTERNAL key comes here: a plain read first,
     * the write lock only when the material is due */
    struct store_import imp;
    int rc = store_import_get(st, id, &imp, err);
    if (rc < 0 || !imp.present || !imp.expires || imp.valid_to > now)
        return rc;
    return delete_material(st, id, &now, expired, err);
}

int store_seal(struct store *st, const char *aad, const uint8_t *pt, size_t len, uint8_t **out,
               size_t *out_len, struct cl_error *err)
{
    return blob_gcm_seal(st->master, (const uint8_t *)aad, strlen(aad), pt, len, out, out_len, err);
}

int store_unseal(struct store *st, const char *aad, const uint8_t *in, size_t len, uint8_t **pt,
                 size_t *pt_len, struct cl_error *err)
{
    return blob_gcm_open(st->master, (const uint8_t *)aad, strlen(aad), in, len, pt, pt_len, err);
}
