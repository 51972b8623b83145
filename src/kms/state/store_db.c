/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h over SQLite. Durability: journal_mode=WAL and synchronous=FULL
 * (https://www.sqlite.org/pragma.html#pragma_synchronous: "FULL ... WAL
 * mode ... transactions are durable across power loss"), so every committed
 * write is fsync'd before the call returns.
 */
#include "state/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/kmsutil.h"

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keys("
    "  id TEXT PRIMARY KEY, created REAL NOT NULL, description TEXT NOT NULL DEFAULT '',"
    "  key_usage TEXT NOT NULL, key_spec TEXT NOT NULL, origin TEXT NOT NULL,"
    "  state TEXT NOT NULL, deletion_date REAL NOT NULL DEFAULT 0,"
    "  pending_days INTEGER NOT NULL DEFAULT 0, rotation_enabled INTEGER NOT NULL DEFAULT 0,"
    "  rotation_period INTEGER NOT NULL DEFAULT 365, next_rotation REAL NOT NULL DEFAULT 0,"
    "  policy TEXT NOT NULL, current_version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS key_material("
    "  key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE, version INTEGER NOT NULL,"
    "  created REAL NOT NULL, wrapped BLOB NOT NULL, PRIMARY KEY(key_id, version));"
    /* how each material version after the first came: AUTOMATIC | ON_DEMAND (store_rotations.c) */
    "CREATE TABLE IF NOT EXISTS key_rotations("
    "  key_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL,"
    "  PRIMARY KEY(key_id, version),"
    "  FOREIGN KEY(key_id, version) REFERENCES key_material(key_id, version) ON DELETE CASCADE);"
    "CREATE TABLE IF NOT EXISTS aliases("
    "  name TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
    "  created REAL NOT NULL, updated REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS aliases_key ON aliases(key_id);"
    "CREATE TABLE IF NOT EXISTS tags("
    "  key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE, tag_key TEXT NOT NULL,"
    "  tag_value TEXT NOT NULL, PRIMARY KEY(key_id, tag_key));"
    "CREATE TABLE IF NOT EXISTS principals("
    "  arn TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, unique_id TEXT NOT NULL,"
    "  identity_policy TEXT, created REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS access_keys("
    "  akid TEXT PRIMARY KEY, wrapped_secret BLOB NOT NULL,"
    "  principal_arn TEXT NOT NULL REFERENCES principals(arn) ON DELETE CASCADE,"
    "  caller_arn TEXT NOT NULL, user_id TEXT NOT NULL, token_hash BLOB,"
    "  expiration REAL NOT NULL DEFAULT 0, created REAL NOT NULL);"
    /* the last cryptographic use of each key (store_usage.c) */
    "CREATE TABLE IF NOT EXISTS key_last_usage("
    "  key_id TEXT PRIMARY KEY REFERENCES keys(id) ON DELETE CASCADE, operation TEXT NOT NULL,"
    "  used REAL NOT NULL, event_id TEXT NOT NULL, request_id TEXT NOT NULL);"
    /* grants (store_grants.c): operations and constraints as JSON text, the
     * token that resolves to the grant (grant tokens are not secrets) */
    "CREATE TABLE IF NOT EXISTS grants("
    "  grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
    "  name TEXT, created REAL NOT NULL, grantee TEXT NOT NULL, retiring TEXT,"
    "  issuing TEXT NOT NULL, operations TEXT NOT NULL, constraints TEXT,"
    "  token TEXT NOT NULL UNIQUE);"
    "CREATE INDEX IF NOT EXISTS grants_key ON grants(key_id, grant_id);"
    "CREATE INDEX IF NOT EXISTS grants_retiring ON grants(retiring, grant_id);"
    /* each multi-Region key id and the internal id of its primary key; its
     * replicas are the keys rows of the same key id in other regions
     * (store_mrk.c, docs/kms.md "Multi-Region keys") */
    "CREATE TABLE IF NOT EXISTS multi_region_keys("
    "  key_id TEXT PRIMARY KEY, primary_id TEXT NOT NULL);"
    /* imported key material of keys of origin EXTERNAL (store_imports.c) */
    "CREATE TABLE IF NOT EXISTS key_imports("
    "  key_id TEXT PRIMARY KEY REFERENCES keys(id) ON DELETE CASCADE, fingerprint BLOB NOT NULL,"
    "  present INTEGER NOT NULL, expires INTEGER NOT NULL, valid_to REAL NOT NULL DEFAULT 0,"
    "  imported REAL NOT NULL);";

int db_fail(struct cl_error *err, sqlite3 *db, const char *what)
{
    return cl_fail(err, CL_EIO, "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
}

static int db_conn_open(struct store *st, sqlite3 **out, struct cl_error *err)
{
    sqlite3 *db = NULL;
    int r = sqlite3_open_v2(st->path, &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        int rc = db_fail(err, db, "cannot open the store");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        int rc = cl_fail(err, CL_EIO, "cannot configure the store: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

int db_acquire(struct store *st, sqlite3 **db, struct cl_error *err)
{
    pthread_mutex_lock(&st->lock);
    if (st->pool_n > 0) {
        *db = st->pool[--st->pool_n];
        pthread_mutex_unlock(&st->lock);
        return 0;
    }
    pthread_mutex_unlock(&st->lock);
    return db_conn_open(st, db, err);
}

void db_release(struct store *st, sqlite3 *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&st->lock);
    if (st->pool_n < POOL_MAX) {
        st->pool[st->pool_n++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&st->lock);
    if (db)
        sqlite3_close(db);
}

int store_open(const char *path, const uint8_t master_key[32], struct store **out,
               struct cl_error *err)
{
    *out = NULL;
    struct store *st = calloc(1, sizeof(*st));
    if (!st)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    st->path = strdup(path);
    memcpy(st->master, master_key, 32);
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->cache_lock, NULL);
    pthread_mutex_init(&st->usage_lock, NULL);
    sqlite3 *db = NULL;
    int rc = st->path ? db_conn_open(st, &db, err) : cl_fail(err, CL_ENOMEM, "out of memory");
    if (rc == 0) {
        char *msg = NULL;
        if (sqlite3_exec(db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
            rc = cl_fail(err, CL_EIO, "cannot create the schema: %s", msg ? msg : "?");
            sqlite3_free(msg);
        }
    }
    if (rc == 0) { /* GetKeyLastUsage's TrackingStartDate: this store's first open by a
                      server that notes key usage */
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "INSERT OR IGNORE INTO meta(name, value) VALUES('usage_tracking_since', '%.3f')",
                 ku_now());
        rc = db_exec(db, sql, err);
    }
    if (rc < 0) {
        sqlite3_close(db);
        store_close(st);
        return rc;
    }
    db_release(st, db);
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    store_usage_close(st);
    for (size_t i = 0; i < st->pool_n; i++)
        sqlite3_close(st->pool[i]);
    pthread_mutex_destroy(&st->lock);
    store_cache_flush(st);
    pthread_mutex_destroy(&st->cache_lock);
    pthread_mutex_destroy(&st->usage_lock);
    OPENSSL_cleanse(st->master, sizeof(st->master));
    free(st->path);
    free(st);
}

/* ---- small statement helpers ---- */

int db_prep(sqlite3 *db, const char *sql, sqlite3_stmt **s, struct cl_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
        return db_fail(err, db, "cannot prepare a statement");
    return 0;
}

void db_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

/* Runs a statement that returns no rows; *changes gets the row count. */
int db_step_done(sqlite3 *db, sqlite3_stmt *s, int *changes, struct cl_error *err)
{
    int r = sqlite3_step(s);
    if (r == SQLITE_CONSTRAINT)
        return cl_fail(err, CL_EEXIST, "already exists");
    if (r != SQLITE_DONE)
        return db_fail(err, db, "store write failed");
    if (changes)
        *changes = sqlite3_changes(db);
    return 0;
}

int db_exec(sqlite3 *db, const char *sql, struct cl_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = cl_fail(err, CL_EIO, "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

void db_rollback(sqlite3 *db)
{
    /* After a failed statement SQLite may have rolled back already; a
     * ROLLBACK that fails then has nothing left to undo. */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

char *db_dup_col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

void db_copy_col(char *dst, size_t cap, sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/*
 * Takes a pooled connection and prepares sql on it. On failure nothing is
 * held and *db, *s are NULL; either way db_stmt_close() may be called.
 */
int db_stmt_open(struct store *st, const char *sql, sqlite3 **db, sqlite3_stmt **s,
                 struct cl_error *err)
{
    *db = NULL;
    *s = NULL;
    int rc = db_acquire(st, db, err);
    if (rc < 0)
        return rc;
    rc = db_prep(*db, sql, s, err);
    if (rc < 0) {
        sqlite3_finalize(*s);
        *s = NULL;
        db_release(st, *db);
        *db = NULL;
    }
    return rc;
}

void db_stmt_close(struct store *st, sqlite3 *db, sqlite3_stmt *s)
{
    sqlite3_finalize(s);
    db_release(st, db);
}

/*
 * Opens sql, binds key to ?1 and steps once: 1 when a row is there, 0 when
 * there is none, a negative CL_E* code otherwise. The caller reads the row
 * and then calls db_stmt_close(st, *db, *s) whatever this returned.
 */
int db_select_one(struct store *st, const char *sql, const char *key, sqlite3 **db,
                  sqlite3_stmt **s, struct cl_error *err)
{
    int rc = db_stmt_open(st, sql, db, s, err);
    if (rc < 0)
        return rc;
    db_bind_text(*s, 1, key);
    int r = sqlite3_step(*s);
    if (r == SQLITE_ROW)
        return 1;
    if (r == SQLITE_DONE)
        return 0;
    return db_fail(err, *db, "store read failed");
}

/*
 * Runs one write statement on a pooled connection with ?1 = a, ?2 = b (when
 * the statement has a second parameter) and ?3 = now (when now > 0);
 * *changes (if not NULL) gets the number of rows changed.
 */
int db_exec_binds(struct store *st, const char *sql, const char *a, const char *b, double now,
                  int *changes, struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_stmt_open(st, sql, &db, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, a);
        if (sqlite3_bind_parameter_count(s) >= 2)
            db_bind_text(s, 2, b);
        if (now > 0)
            sqlite3_bind_double(s, 3, now);
        rc = db_step_done(db, s, changes, err);
    }
    db_stmt_close(st, db, s);
    return rc;
}

/* ---- meta ---- */

int store_meta_get(struct store *st, const char *name, char **value, struct cl_error *err)
{
    *value = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = db_select_one(st, "SELECT value FROM meta WHERE name=?", name, &db, &s, err);
    if (rc == 1)
        rc = (*value = db_dup_col(s, 0)) ? 0 : cl_fail(err, CL_ENOMEM, "out of memory");
    else if (rc == 0)
        rc = cl_fail(err, CL_ENOTFOUND, "no setting %s", name);
    db_stmt_close(st, db, s);
    return rc;
}

int store_meta_set(struct store *st, const char *name, const char *value, struct cl_error *err)
{
    return db_exec_binds(st, "INSERT OR REPLACE INTO meta(name, value) VALUES(?, ?)", name, value,
                         0, NULL, err);
}
