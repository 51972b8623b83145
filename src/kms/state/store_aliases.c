/* SPDX-License-Identifier: Apache-2.0 */
/* Aliases in the SQLite store (store.h). */
#include "state/store_internal.h"

int store_alias_create(struct store *st, const char *name, const char *key_id, double now,
                       struct cl_error *err)
{
    return db_exec_binds(st,
                         "INSERT INTO aliases(name, key_id, created, updated) VALUES(?1,?2,?3,?3)",
                         name, key_id, now, NULL, err);
}

int store_alias_update(struct store *st, const char *name, const char *key_id, double now,
                       struct cl_error *err)
{
    int changes = 0;
    int rc = db_exec_binds(st, "UPDATE aliases SET key_id=?2, updated=?3 WHERE name=?1", name,
                           key_id, now, &changes, err);
    if (rc == 0 && changes == 0)
        rc = cl_fail(err, CL_ENOTFOUND, "no alias %s", name);
    return rc;
}

int store_alias_delete(struct store *st, const char *name, struct cl_error *err)
{
    int changes = 0;
    int rc = db_exec_binds(st, "DELETE FROM aliases WHERE name=?1", name, NULL, 0, &changes, err);
    if (rc == 0 && changes == 0)
        rc = cl_fail(err, CL_ENOTFOUND, "no alias %s", name);
    return rc;
}

int store_alias_get(struct store *st, const char *name, char **key_id, struct cl_error *err)
{
    *key_id = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_select_one(st, "SELECT key_id FROM aliases WHERE name=?", name, &db, &s, err);
    if (rc == 1) {
        *key_id = db_dup_col(s, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = cl_fail(err, CL_ENOTFOUND, "no alias %s", name);
    }
    db_stmt_close(st, db, s);
    return rc;
}

int store_alias_list(struct store *st, const char *key_id, const char *after, size_t limit,
                     json_t **out, bool *more, struct cl_error *err)
{
    return store_alias_list_in(st, NULL, key_id, after, limit, out, more, err);
}

int store_alias_list_in(struct store *st, const char *tag, const char *key_id, const char *after,
                        size_t limit, json_t **out, bool *more, struct cl_error *err)
{
    *out = NULL;
    *more = false;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(st,
                          "SELECT name, key_id, created, updated FROM aliases WHERE name > ?1"
                          " AND (?2 IS NULL OR key_id = ?2) AND " REGION_FILTER(
                              "name", "?4") " ORDER BY name LIMIT ?3",
                          &db, &s, err);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    if (!arr)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    if (rc == 0) {
        db_bind_text(s, 1, after ? after : "");
        db_bind_text(s, 2, key_id);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
        db_bind_text(s, 4, tag);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            if (json_array_size(arr) == limit) {
                *more = true;
                break;
            }
            json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:f}", "AliasName",
                                                 sqlite3_column_text(s, 0), "TargetKeyId",
                                                 sqlite3_column_text(s, 1), "CreationDate",
                                                 sqlite3_column_double(s, 2), "LastUpdatedDate",
                                                 sqlite3_column_double(s, 3)));
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            rc = db_fail(err, db, "store read failed");
    }
    if (rc == 0) {
        *out = arr;
        arr = NULL;
    }
    json_decref(arr);
    db_stmt_close(st, db, s);
    return rc;
}
