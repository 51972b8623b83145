/* SPDX-License-Identifier: Apache-2.0 */
/* A key's tags in the SQLite store (store.h). */
#include "state/store_internal.h"

int db_tags_set(sqlite3 *db, const char *key_id, const json_t *tags, struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db, "INSERT OR REPLACE INTO tags(key_id, tag_key, tag_value) VALUES(?,?,?)",
                     &s, err);
    size_t i;
    json_t *t;
    json_array_foreach((json_t *)tags, i, t)
    {
        if (rc < 0)
            break;
        sqlite3_reset(s);
        db_bind_text(s, 1, key_id);
        db_bind_text(s, 2, json_string_value(json_object_get(t, "TagKey")));
        db_bind_text(s, 3, json_string_value(json_object_get(t, "TagValue")));
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    return rc;
}

int store_tags_set(struct store *st, const char *key_id, const json_t *tags, struct cl_error *err)
{
    sqlite3 *db;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = db_tags_set(db, key_id, tags, err);
    if (rc == 0)
        rc = db_exec(db, "COMMIT", err);
    else
        db_rollback(db);
    db_release(st, db);
    return rc;
}

int store_tags_remove(struct store *st, const char *key_id, const json_t *keys,
                      struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s = NULL;
    int rc = db_acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = db_prep(db, "DELETE FROM tags WHERE key_id=? AND tag_key=?", &s, err);
    size_t i;
    json_t *k;
    json_array_foreach((json_t *)keys, i, k)
    {
        if (rc < 0)
            break;
        sqlite3_reset(s);
        db_bind_text(s, 1, key_id);
        db_bind_text(s, 2, json_string_value(k));
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    if (rc == 0)
        rc = db_exec(db, "COMMIT", err);
    else
        db_rollback(db);
    db_release(st, db);
    return rc;
}

int store_tags_list(struct store *st, const char *key_id, const char *after, size_t limit,
                    json_t **out, bool *more, struct cl_error *err)
{
    *out = NULL;
    *more = false;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(st,
                          "SELECT tag_key, tag_value FROM tags WHERE key_id=? AND tag_key > ? "
                          "ORDER BY tag_key LIMIT ?",
                          &db, &s, err);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    db_bind_text(s, 1, key_id);
    db_bind_text(s, 2, after ? after : "");
    sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (json_array_size(arr) == limit) {
            *more = true;
            break;
        }
        json_array_append_new(arr, json_pack("{s:s, s:s}", "TagKey", sqlite3_column_text(s, 0),
                                             "TagValue", sqlite3_column_text(s, 1)));
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_fail(err, db, "store read failed");
    if (rc == 0) {
        *out = arr;
        arr = NULL;
    }
    json_decref(arr);
    db_stmt_close(st, db, s);
    return rc;
}
