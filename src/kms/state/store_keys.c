/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys and their material versions in the SQLite store (store.h). Material
 * is wrapped with the master key (AES-256-GCM, state/blob.h) under an AAD
 * naming the key and version, so a wrapped blob cannot be moved to another
 * key or version.
 */
#include "state/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/blob.h"
#include "util/kmsutil.h"

void store_key_clear(struct store_key *k)
{
    free(k->description);
    free(k->policy);
    memset(k, 0, sizeof(*k));
}

/* AAD that binds wrapped material to its key and version. */
static void material_aad(char *aad, size_t cap, const char *id, uint32_t version)
{
    snprintf(aad, cap, "cloister-kms/key-material/v1/%s/%u", id, version);
}

int db_material_insert(struct store *st, sqlite3 *db, const char *id, uint32_t version, double now,
                       const uint8_t *m, size_t len, struct cl_error *err)
{
    char aad[128];
    material_aad(aad, sizeof(aad), id, version);
    uint8_t *w = NULL;
    size_t wlen = 0;
    int rc = blob_gcm_seal(st->master, (const uint8_t *)aad, strlen(aad), m, len, &w, &wlen, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = NULL;
    rc = db_prep(db, "INSERT INTO key_material(key_id, version, created, wrapped) VALUES(?,?,?,?)",
                 &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, id);
        sqlite3_bind_int64(s, 2, version);
        sqlite3_bind_double(s, 3, now);
        sqlite3_bind_blob(s, 4, w, (int)wlen, SQLITE_TRANSIENT);
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    free(w);
    return rc;
}

int db_key_insert(sqlite3 *db, const struct store_key *k, uint32_t current_version,
                  struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc =
        db_prep(db,
                "INSERT INTO keys(id, created, description, key_usage, key_spec, origin, state,"
                " deletion_date, pending_days, rotation_enabled, rotation_period, next_rotation,"
                " policy, current_version) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, k->id);
        sqlite3_bind_double(s, 2, k->created);
        db_bind_text(s, 3, k->description ? k->description : "");
        db_bind_text(s, 4, key_usage_name(k->usage));
        db_bind_text(s, 5, k->key_spec);
        db_bind_text(s, 6, k->origin);
        db_bind_text(s, 7, key_state_name(k->state));
        sqlite3_bind_double(s, 8, k->deletion_date);
        sqlite3_bind_int(s, 9, k->pending_days);
        sqlite3_bind_int(s, 10, k->rotation_enabled);
        sqlite3_bind_int(s, 11, k->rotation_period_days);
        sqlite3_bind_double(s, 12, k->next_rotation);
        db_bind_text(s, 13, k->policy);
        sqlite3_bind_int64(s, 14, current_version);
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    return rc;
}

int store_key_create(struct store *st, const struct store_key *k, const uint8_t *material,
                     size_t material_len, const json_t *tags, struct cl_error *err)
{
    sqlite3 *db;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    rc = db_key_insert(db, k, 1, err);
    if (rc == 0 && !strncmp(k->id, "mrk-", 4)) /* a multi-Region key is made as its primary */
        rc = db_mrk_set_primary(db, k->id, false, err);
    /* a key of origin EXTERNAL starts without material (store_imports.c adds it) */
    if (rc == 0 && material)
        rc = db_material_insert(st, db, k->id, 1, k->created, material, material_len, err);
    if (rc == 0 && tags)
        rc = db_tags_set(db, k->id, tags, err);
    if (rc == 0)
        rc = db_exec(db, "COMMIT", err);
    if (rc < 0)
        db_rollback(db);
out:
    db_release(st, db);
    return rc;
}

static int db_key_get(struct store *st, const char *id, struct store_key *out, struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_select_one(st,
                           "SELECT id, created, description, key_usage, key_spec, origin, state,"
                           " deletion_date, pending_days, rotation_enabled, rotation_period,"
                           " next_rotation, policy, current_version FROM keys WHERE id=?",
                           id, &db, &s, err);
    if (rc == 1) {
        rc = 0;
        db_copy_col(out->id, sizeof(out->id), s, 0);
        out->created = sqlite3_column_double(s, 1);
        out->description = db_dup_col(s, 2);

        db_copy_col(out->key_spec, sizeof(out->key_spec), s, 4);
        db_copy_col(out->origin, sizeof(out->origin), s, 5);

        out->deletion_date = sqlite3_column_double(s, 7);
        out->pending_days = sqlite3_column_int(s, 8);
        out->rotation_enabled = sqlite3_column_int(s, 9) != 0;
        out->rotation_period_days = sqlite3_column_int(s, 10);
        out->next_rotation = sqlite3_column_double(s, 11);
        out->policy = db_dup_col(s, 12);
        out->current_version = (uint32_t)sqlite3_column_int64(s, 13);
        const char *usage = (const char *)sqlite3_column_text(s, 3);
        const char *state = (const char *)sqlite3_column_text(s, 6);
        if (!out->description || !out->policy)
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
        else if (key_usage_parse(usage ? usage : "", &out->usage) < 0 ||
                 key_state_parse(state ? state : "", &out->state) < 0)
            rc = cl_fail(err, CL_EFORMAT, "key %s has an unknown usage '%s' or state '%s'", id,
                         usage ? usage : "", state ? state : "");
        if (rc < 0)
            store_key_clear(out);
    } else if (rc == 0) {
        rc = cl_fail(err, CL_ENOTFOUND, "no key %s", id);
    }
    db_stmt_close(st, db, s);
    return rc;
}

int store_key_update(struct store *st, const struct store_key *k, struct cl_error *err)
{
    store_cache_drop(st, C_KEY, k->id, 0);
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc =
        db_stmt_open(st,
                     "UPDATE keys SET description=?, state=?, deletion_date=?, pending_days=?,"
                     " rotation_enabled=?, rotation_period=?, next_rotation=?, policy=? WHERE id=?",
                     &db, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, k->description ? k->description : "");
        db_bind_text(s, 2, key_state_name(k->state));
        sqlite3_bind_double(s, 3, k->deletion_date);
        sqlite3_bind_int(s, 4, k->pending_days);
        sqlite3_bind_int(s, 5, k->rotation_enabled);
        sqlite3_bind_int(s, 6, k->rotation_period_days);
        sqlite3_bind_double(s, 7, k->next_rotation);
        db_bind_text(s, 8, k->policy);
        db_bind_text(s, 9, k->id);
        int changes = 0;
        rc = db_step_done(db, s, &changes, err);
        if (rc == 0 && changes == 0)
            rc = cl_fail(err, CL_ENOTFOUND, "no key %s", k->id);
    }
    db_stmt_close(st, db, s);
    return rc;
}

int store_key_delete(struct store *st, const char *id, struct cl_error *err)
{
    store_cache_drop(st, C_KEY, id, 0);
    store_cache_drop(st, C_MAT, id, 0);
    if (!strncmp(id, "mrk-", 4))
        return store_mrk_delete(st, id, err);
    return db_exec_binds(st, "DELETE FROM keys WHERE id=?", id, NULL, 0, NULL, err);
}

/* Runs a query whose first column is text, collecting up to limit rows into a
 * JSON array; *more says whether a (limit+1)th row exists. */
static int collect_strings(sqlite3 *db, sqlite3_stmt *s, size_t limit, json_t **out, bool *more,
                           struct cl_error *err)
{
    json_t *arr = json_array();
    if (!arr)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    if (more)
        *more = false;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (json_array_size(arr) == limit) {
            if (more)
                *more = true;
            break;
        }
        json_array_append_new(arr, json_string((const char *)sqlite3_column_text(s, 0)));
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        json_decref(arr);
        return db_fail(err, db, "store read failed");
    }
    *out = arr;
    return 0;
}

int store_key_list(struct store *st, const char *after, size_t limit, json_t **ids, bool *more,
                   struct cl_error *err)
{
    return store_key_list_in(st, NULL, after, limit, ids, more, err);
}

int store_key_list_in(struct store *st, const char *tag, const char *after, size_t limit,
                      json_t **ids, bool *more, struct cl_error *err)
{
    *ids = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(
        st,
        "SELECT id FROM keys WHERE id > ?1 AND " REGION_FILTER("id", "?3") " ORDER BY id LIMIT ?2",
        &db, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, after ? after : "");
        sqlite3_bind_int64(s, 2, (sqlite3_int64)limit + 1);
        db_bind_text(s, 3, tag);
        rc = collect_strings(db, s, limit, ids, more, err);
    }
    db_stmt_close(st, db, s);
    return rc;
}

int store_key_list_expired(struct store *st, double now, json_t **ids, struct cl_error *err)
{
    *ids = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc =
        db_stmt_open(st, "SELECT id FROM keys WHERE state=? AND deletion_date <= ?", &db, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, key_state_name(KEY_PENDING_DELETION));
        sqlite3_bind_double(s, 2, now);
        rc = collect_strings(db, s, 100000, ids, NULL, err);
    }
    db_stmt_close(st, db, s);
    return rc;
}

int db_material_unwrap(struct store *st, const char *id, uint32_t version, const void *wrapped,
                       size_t wlen, uint8_t **m, size_t *len, struct cl_error *err)
{
    char aad[128];
    material_aad(aad, sizeof(aad), id, version);
    int rc =
        blob_gcm_open(st->master, (const uint8_t *)aad, strlen(aad), wrapped, wlen, m, len, err);
    if (rc < 0)
        cl_error_prefix(err, "key material of %s version %u does not unwrap with the master key",
                        id, version);
    return rc;
}

static int db_material_get(struct store *st, const char *id, uint32_t version, uint8_t **material,
                           size_t *len, struct cl_error *err)
{
    *material = NULL;
    *len = 0;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(st, "SELECT wrapped FROM key_material WHERE key_id=? AND version=?", &db,
                          &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, id);
        sqlite3_bind_int64(s, 2, version);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            rc = db_material_unwrap(st, id, version, sqlite3_column_blob(s, 0),
                                    (size_t)sqlite3_column_bytes(s, 0), material, len, err);
        } else if (r == SQLITE_DONE) {
            rc = cl_fail(err, CL_ENOTFOUND, "no material version %u for key %s", version, id);
        } else {
            rc = db_fail(err, db, "store read failed");
        }
    }
    db_stmt_close(st, db, s);
    return rc;
}

/*
 * A multi-Region key's related keys share their material (AWS: "the same
 * key material"): the new version goes to every one of them in the
 * rotation's transaction, so a ciphertext of any decrypts in all.
 */
static int rotate_replicas(struct store *st, sqlite3 *db, const char *id, uint32_t version,
                           double now, const uint8_t *material, size_t len, double next,
                           bool on_demand, struct cl_error *err)
{
    if (strncmp(id, "mrk-", 4) != 0)
        return 0;
    json_t *ids = NULL;
    int rc = db_mrk_members(db, id, id, &ids, err);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *other = json_string_value(v);
        store_cache_drop(st, C_KEY, other, 0);
        if (rc == 0)
            rc = db_material_insert(st, db, other, version, now, material, len, err);
        if (rc == 0)
            rc = db_rotation_record(db, other, version, on_demand, err);
        sqlite3_stmt *s = NULL;
        if (rc == 0)
            rc = db_prep(db,
                         "UPDATE keys SET current_version=?, next_rotation ="
                         " CASE WHEN rotation_enabled THEN ? ELSE next_rotation END WHERE id=?",
                         &s, err);
        if (rc == 0) {
            sqlite3_bind_int64(s, 1, version);
            sqlite3_bind_double(s, 2, next);
            db_bind_text(s, 3, other);
            rc = db_step_done(db, s, NULL, err);
        }
        sqlite3_finalize(s);
    }
    json_decref(ids);
    return rc;
}

int store_key_rotate(struct store *st, const char *id, const uint8_t *material, size_t len,
                     double next_rotation, bool on_demand, uint32_t *new_version,
                     struct cl_error *err)
{
    store_cache_drop(st, C_KEY, id, 0);
    sqlite3 *db;
    sqlite3_stmt *s = NULL;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    uint32_t cur = 0;
    rc = db_prep(db, "SELECT current_version FROM keys WHERE id=?", &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, id);
        if (sqlite3_step(s) == SQLITE_ROW)
            cur = (uint32_t)sqlite3_column_int64(s, 0);
        else
            rc = cl_fail(err, CL_ENOTFOUND, "no key %s", id);
    }
    sqlite3_finalize(s);
    s = NULL;
    double now = ku_now(); /* one rotation date for every related key */
    if (rc == 0)
        rc = db_material_insert(st, db, id, cur + 1, now, material, len, err);
    if (rc == 0)
        rc = db_rotation_record(db, id, cur + 1, on_demand, err);
    if (rc == 0)
        rc =
            rotate_replicas(st, db, id, cur + 1, now, material, len, next_rotation, on_demand, err);
    if (rc == 0)
        rc = db_prep(db, "UPDATE keys SET current_version=?, next_rotation=? WHERE id=?", &s, err);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, cur + 1);
        sqlite3_bind_double(s, 2, next_rotation);
        db_bind_text(s, 3, id);
        rc = db_step_done(db, s, NULL, err);
    }
    if (rc == 0)
        rc = db_exec(db, "COMMIT", err);
    if (rc < 0)
        db_rollback(db);
    else
        *new_version = cur + 1;
out:
    sqlite3_finalize(s);
    db_release(st, db);
    return rc;
}

int store_key_get(struct store *st, const char *id, struct store_key *out, struct cl_error *err)
{
    if (store_cache_get(st, C_KEY, id, 0, out, NULL, NULL))
        return 0;
    int rc = db_key_get(st, id, out, err);
    if (rc == 0)
        store_cache_put(st, C_KEY, id, 0, out, 0);
    return rc;
}

int store_material_get(struct store *st, const char *id, uint32_t version, uint8_t **material,
                       size_t *len, struct cl_error *err)
{
    if (version != 0 && store_cache_get(st, C_MAT, id, version, NULL, material, len))
        return 0;
    int rc = db_material_get(st, id, version, material, len, err);
    if (rc == 0)
        store_cache_put(st, C_MAT, id, version, *material, *len);
    return rc;
}
