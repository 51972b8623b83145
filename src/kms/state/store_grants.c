/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Grants in the SQLite store (store.h). Operations and constraints are kept
 * as the JSON text of the request's members, so a grant is answered exactly
 * as it was made; the key's deletion cascades to its grants.
 */
#include "state/store_internal.h"

#include <stdlib.h>
#include <string.h>

#define GRANT_COLUMNS                                                                        \
    "grant_id, key_id, name, created, grantee, retiring, issuing, operations, constraints, " \
    "token"

/* Binds a JSON member's text to i (NULL when absent). */
static void bind_member(sqlite3_stmt *s, int i, const json_t *g, const char *member)
{
    db_bind_text(s, i, json_string_value(json_object_get(g, member)));
}

/* Binds a JSON member's serialization to i (NULL when absent). */
static int bind_json(sqlite3_stmt *s, int i, const json_t *g, const char *member)
{
    const json_t *v = json_object_get(g, member);
    if (!v) {
        sqlite3_bind_null(s, i);
        return 0;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return -1;
    sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
    free(text);
    return 0;
}

int store_grant_create(struct store *st, const json_t *g, const char *token, struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(st, "INSERT INTO grants(" GRANT_COLUMNS ") VALUES(?,?,?,?,?,?,?,?,?,?)",
                          &db, &s, err);
    if (rc < 0)
        return rc;
    bind_member(s, 1, g, "GrantId");
    bind_member(s, 2, g, "KeyId");
    bind_member(s, 3, g, "Name");
    sqlite3_bind_double(s, 4, json_number_value(json_object_get(g, "CreationDate")));
    bind_member(s, 5, g, "GranteePrincipal");
    bind_member(s, 6, g, "RetiringPrincipal");
    bind_member(s, 7, g, "IssuingAccount");
    if (bind_json(s, 8, g, "Operations") < 0 || bind_json(s, 9, g, "Constraints") < 0)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    db_bind_text(s, 10, token);
    if (rc == 0)
        rc = db_step_done(db, s, NULL, err);
    db_stmt_close(st, db, s);
    return rc;
}

/* Sets o[name] to column i's text, unless it is NULL. */
static void set_text(json_t *o, const char *name, sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    if (t)
        json_object_set_new(o, name, json_string((const char *)t));
}

/* Sets o[name] to column i parsed as JSON, unless it is NULL. */
static void set_json(json_t *o, const char *name, sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    if (t)
        json_object_set_new(o, name, json_loads((const char *)t, 0, NULL));
}

/* The grant of the current row (columns in GRANT_COLUMNS order). */
static json_t *row_grant(sqlite3_stmt *s)
{
    json_t *g = json_object();
    if (!g)
        return NULL;
    set_text(g, "GrantId", s, 0);
    set_text(g, "KeyId", s, 1);
    set_text(g, "Name", s, 2);
    json_object_set_new(g, "CreationDate", json_real(sqlite3_column_double(s, 3)));
    set_text(g, "GranteePrincipal", s, 4);
    set_text(g, "RetiringPrincipal", s, 5);
    set_text(g, "IssuingAccount", s, 6);
    set_json(g, "Operations", s, 7);
    set_json(g, "Constraints", s, 8);
    return g;
}

/* One grant selected by sql with ?1 = key; *token when asked for. */
static int grant_one(struct store *st, const char *sql, const char *key, json_t **g, char **token,
                     struct cl_error *err)
{
    *g = NULL;
    if (token)
        *token = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_select_one(st, sql, key, &db, &s, err);
    if (rc == 1) {
        *g = row_grant(s);
        if (token)
            *token = db_dup_col(s, 9);
        rc = *g && (!token || *token) ? 0 : cl_fail(err, CL_ENOMEM, "out of memory");
        if (rc < 0) { /* nothing half-made goes back */
            json_decref(*g);
            *g = NULL;
            if (token) {
                free(*token);
                *token = NULL;
            }
        }
    } else if (rc == 0) {
        rc = cl_fail(err, CL_ENOTFOUND, "no such grant");
    }
    db_stmt_close(st, db, s);
    return rc;
}

int store_grant_get(struct store *st, const char *grant_id, json_t **g, char **token,
                    struct cl_error *err)
{
    return grant_one(st, "SELECT " GRANT_COLUMNS " FROM grants WHERE grant_id=?", grant_id, g,
                     token, err);
}

int store_grant_by_token(struct store *st, const char *token, json_t **g, struct cl_error *err)
{
    return grant_one(st, "SELECT " GRANT_COLUMNS " FROM grants WHERE token=?", token, g, NULL, err);
}

int store_grant_delete(struct store *st, const char *grant_id, struct cl_error *err)
{
    int changes = 0;
    int rc =
        db_exec_binds(st, "DELETE FROM grants WHERE grant_id=?", grant_id, NULL, 0, &changes, err);
    if (rc == 0 && changes == 0)
        rc = cl_fail(err, CL_ENOTFOUND, "no such grant");
    return rc;
}

int store_grant_list(struct store *st, const struct store_grant_filter *f, const char *after,
                     size_t limit, json_t **out, bool *more, struct cl_error *err)
{
    *out = NULL;
    *more = false;
    sqlite3 *db;
    sqlite3_stmt *s;
    /* ?1 selects by key, or by retiring principal when the key is NULL */
    int rc = db_stmt_open(st,
                          "SELECT " GRANT_COLUMNS " FROM grants WHERE "
                          "(CASE WHEN ?1 IS NULL THEN retiring=?2 ELSE key_id=?1 END) "
                          "AND (?3 IS NULL OR grant_id=?3) AND (?4 IS NULL OR grantee=?4) "
                          "AND grant_id > ?5 ORDER BY grant_id LIMIT ?6",
                          &db, &s, err);
    if (rc < 0)
        return rc;
    db_bind_text(s, 1, f->key_id);
    db_bind_text(s, 2, f->retiring);
    db_bind_text(s, 3, f->grant_id);
    db_bind_text(s, 4, f->grantee);
    db_bind_text(s, 5, after ? after : "");
    sqlite3_bind_int64(s, 6, (sqlite3_int64)limit + 1);
    json_t *arr = json_array();
    int r = SQLITE_DONE;
    while (arr && (r = sqlite3_step(s)) == SQLITE_ROW) {
        if (json_array_size(arr) == limit) {
            *more = true;
            break;
        }
        if (json_array_append_new(arr, row_grant(s)) < 0) {
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            break;
        }
    }
    if (!arr)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    else if (rc == 0 && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_fail(err, db, "store read failed");
    if (rc == 0) {
        *out = arr;
        arr = NULL;
    }
    json_decref(arr);
    db_stmt_close(st, db, s);
    return rc;
}

int store_grant_count(struct store *st, const char *key_id, const char *grantee, long long *n,
                      struct cl_error *err)
{
    *n = 0;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(
        st, "SELECT count(*) FROM grants WHERE key_id=?1 AND (?2 IS NULL OR grantee=?2)", &db, &s,
        err);
    if (rc < 0)
        return rc;
    db_bind_text(s, 1, key_id);
    db_bind_text(s, 2, grantee);
    if (sqlite3_step(s) == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    else
        rc = db_fail(err, db, "store read failed");
    db_stmt_close(st, db, s);
    return rc;
}
