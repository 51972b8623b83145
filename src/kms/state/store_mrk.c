/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multi-Region keys in the SQLite store (store.h). A multi-Region key id
 * ("mrk-" + 32 hex digits) has one keys row per region it is in, each under
 * its internal id ("<id>" in the home region, "<id>@<region>" elsewhere:
 * store_internal.h, REGION_FILTER), with its own policy, description, state,
 * tags and aliases, and a copy of the same material versions (AWS: related
 * multi-Region keys "have the same key ID and key material"). The table
 * multi_region_keys names which row is the primary. Copies rather than one
 * shared row keep every other part of the store (material lookups, the
 * cache, deletion by cascade) as it is for single-Region keys; rotation
 * writes the new version to every copy in one transaction (store_keys.c).
 */
#include "state/store_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/kmsutil.h"

/* One write statement with ?1 = a, on the caller's connection. */
static int exec1(sqlite3 *db, const char *sql, const char *a, struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db, sql, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, a);
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    return rc;
}

/* The key id part of an internal id ("mrk-...", without "@region"). */
static void key_id_of(const char *internal, char out[64])
{
    const char *at = strchr(internal, '@');
    int n = at ? (int)(at - internal) : (int)strlen(internal);
    snprintf(out, 64, "%.*s", n, internal);
}

int db_mrk_set_primary(sqlite3 *db, const char *internal_id, bool replace, struct cl_error *err)
{
    char kid[64];
    key_id_of(internal_id, kid);
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db,
                     replace ? "INSERT OR REPLACE INTO multi_region_keys(key_id, primary_id)"
                               " VALUES(?,?)"
                             : "INSERT OR IGNORE INTO multi_region_keys(key_id, primary_id)"
                               " VALUES(?,?)",
                     &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, kid);
        db_bind_text(s, 2, internal_id);
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    return rc;
}

int db_mrk_members(sqlite3 *db, const char *internal_id, const char *except, json_t **ids,
                   struct cl_error *err)
{
    *ids = NULL;
    char kid[64];
    key_id_of(internal_id, kid);
    sqlite3_stmt *s = NULL;
    int rc =
        db_prep(db,
                "SELECT id FROM keys WHERE (id = ?1 OR substr(id, 1, length(?1) + 1) = ?1 || '@')"
                " AND (?2 IS NULL OR id != ?2) ORDER BY id",
                &s, err);
    json_t *arr = json_array();
    if (rc == 0 && !arr)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    if (rc == 0) {
        db_bind_text(s, 1, kid);
        db_bind_text(s, 2, except);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW)
            json_array_append_new(arr, json_string((const char *)sqlite3_column_text(s, 0)));
        if (r != SQLITE_DONE)
            rc = db_fail(err, db, "store read failed");
    }
    sqlite3_finalize(s);
    if (rc < 0)
        json_decref(arr);
    else
        *ids = arr;
    return rc;
}

/* The recorded primary's internal id; CL_ENOTFOUND when none is. */
static int db_mrk_primary(sqlite3 *db, const char *internal_id, char *primary, size_t cap,
                          struct cl_error *err)
{
    char kid[64];
    key_id_of(internal_id, kid);
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db, "SELECT primary_id FROM multi_region_keys WHERE key_id=?", &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, kid);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            db_copy_col(primary, cap, s, 0);
        else if (r == SQLITE_DONE)
            rc = cl_fail(err, CL_ENOTFOUND, "no multi-Region key %s", kid);
        else
            rc = db_fail(err, db, "store read failed");
    }
    sqlite3_finalize(s);
    return rc;
}

int store_mrk_get(struct store *st, const char *internal_id, char *primary, size_t cap,
                  json_t **members, struct cl_error *err)
{
    *members = NULL;
    sqlite3 *db;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_mrk_primary(db, internal_id, primary, cap, err);
    if (rc == 0)
        rc = db_mrk_members(db, internal_id, NULL, members, err);
    db_release(st, db);
    return rc;
}

/* Copies every material version of from (and how it came) to `to`. */
static int copy_material(struct store *st, sqlite3 *db, const char *from, const char *to,
                         struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db,
                     "SELECT m.version, m.created, m.wrapped, r.type FROM key_material m"
                     " LEFT JOIN key_rotations r ON r.key_id=m.key_id AND r.version=m.version"
                     " WHERE m.key_id=? ORDER BY m.version",
                     &s, err);
    if (rc == 0)
        db_bind_text(s, 1, from);
    int r = SQLITE_DONE;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        uint32_t v = (uint32_t)sqlite3_column_int64(s, 0);
        uint8_t *m = NULL;
        size_t n = 0;
        rc = db_material_unwrap(st, from, v, sqlite3_column_blob(s, 2),
                                (size_t)sqlite3_column_bytes(s, 2), &m, &n, err);
        if (rc == 0)
            rc = db_material_insert(st, db, to, v, sqlite3_column_double(s, 1), m, n, err);
        if (m) {
            OPENSSL_cleanse(m, n);
            free(m);
        }
        const unsigned char *type = sqlite3_column_text(s, 3);
        if (rc == 0 && v > 1 && type)
            rc = db_rotation_record(db, to, v, !strcmp((const char *)type, "ON_DEMAND"), err);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = db_fail(err, db, "store read failed");
    sqlite3_finalize(s);
    return rc;
}

int store_key_replicate(struct store *st, const char *primary_id, const struct store_key *replica,
                        const json_t *tags, struct cl_error *err)
{
    sqlite3 *db;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0) {
        db_release(st, db);
        return rc;
    }
    rc = db_key_insert(db, replica, replica->current_version, err);
    if (rc == 0)
        rc = copy_material(st, db, primary_id, replica->id, err);
    if (rc == 0 && tags)
        rc = db_tags_set(db, replica->id, tags, err);
    if (rc == 0)
        rc = db_exec(db, "COMMIT", err);
    if (rc < 0)
        db_rollback(db);
    db_release(st, db);
    return rc;
}

int store_mrk_set_primary(struct store *st, const char *new_primary, struct cl_error *err)
{
    sqlite3 *db;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_mrk_set_primary(db, new_primary, true, err);
    db_release(st, db);
    return rc;
}

/*
 * A primary in PendingReplicaDeletion whose last replica is gone starts its
 * own waiting period (AWS: "When the last of its replica keys is deleted,
 * the primary key's state changes to PendingDeletion").
 */
static int after_replica_gone(struct store *st, sqlite3 *db, const char *id, struct cl_error *err)
{
    char primary[80];
    int rc = db_mrk_primary(db, id, primary, sizeof(primary), err);
    if (rc == CL_ENOTFOUND)
        return 0;
    json_t *left = NULL;
    if (rc == 0)
        rc = db_mrk_members(db, id, NULL, &left, err);
    if (rc == 0 && json_array_size(left) == 0) { /* the last one: forget the key id */
        rc = exec1(db, "DELETE FROM multi_region_keys WHERE primary_id=?", primary, err);
    } else if (rc == 0 && json_array_size(left) == 1 &&
               !strcmp(json_string_value(json_array_get(left, 0)), primary)) {
        store_cache_drop(st, C_KEY, primary, 0);
        sqlite3_stmt *s = NULL;
        rc = db_prep(db,
                     "UPDATE keys SET state='PendingDeletion',"
                     " deletion_date = ? + pending_days * 86400.0"
                     " WHERE id=? AND state='PendingReplicaDeletion'",
                     &s, err);
        if (rc == 0) {
            sqlite3_bind_double(s, 1, floor(ku_now()));
            db_bind_text(s, 2, primary);
            rc = db_step_done(db, s, NULL, err);
        }
        sqlite3_finalize(s);
    }
    json_decref(left);
    return rc;
}

int store_mrk_delete(struct store *st, const char *id, struct cl_error *err)
{
    sqlite3 *db;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0) {
        db_release(st, db);
        return rc;
    }
    rc = exec1(db, "DELETE FROM keys WHERE id=?", id, err);
    if (rc == 0)
        rc = after_replica_gone(st, db, id, err);
    if (rc == 0)
        rc = db_exec(db, "COMMIT", err);
    if (rc < 0)
        db_rollback(db);
    db_release(st, db);
    return rc;
}
