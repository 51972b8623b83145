/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How each key material version came (store.h: store_key_rotate,
 * store_rotation_list): ListKeyRotations reports each rotation's type,
 * AUTOMATIC or ON_DEMAND (botocore's RotationsListEntry).
 */
#include "state/store_internal.h"

int db_rotation_record(sqlite3 *db, const char *key_id, uint32_t version, bool on_demand,
                       struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = db_prep(db, "INSERT INTO key_rotations(key_id, version, type) VALUES(?,?,?)", &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, key_id);
        sqlite3_bind_int64(s, 2, version);
        db_bind_text(s, 3, on_demand ? "ON_DEMAND" : "AUTOMATIC");
        rc = db_step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    return rc;
}

int store_rotation_list(struct store *st, const char *id, uint32_t after, bool with_first,
                        size_t limit, json_t **out, bool *more, struct cl_error *err)
{
    *out = NULL;
    *more = false;
    json_t *arr = json_array();
    if (!arr)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(st,
                          "SELECT m.version, m.created, r.type FROM key_material m"
                          " LEFT JOIN key_rotations r ON r.key_id=m.key_id AND r.version=m.version"
                          " WHERE m.key_id=? AND m.version > ? ORDER BY m.version LIMIT ?",
                          &db, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, id);
        sqlite3_bind_int64(s, 2, with_first || after > 1 ? after : 1);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            if (json_array_size(arr) == limit) {
                *more = true;
                break;
            }
            sqlite3_int64 v = sqlite3_column_int64(s, 0);
            json_t *row = json_pack("{s:I, s:f}", "Version", (json_int_t)v, "Created",
                                    sqlite3_column_double(s, 1));
            if (v > 1) {
                const unsigned char *t = sqlite3_column_text(s, 2);
                json_object_set_new(row, "Type",
                                    json_string(t ? (const char *)t : "AUTOMATIC"));
            }
            json_array_append_new(arr, row);
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            rc = db_fail(err, db, "store read failed");
    }
    db_stmt_close(st, db, s);
    if (rc < 0)
        json_decref(arr);
    else
        *out = arr;
    return rc;
}
