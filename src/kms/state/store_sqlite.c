/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h over SQLite. Durability: journal_mode=WAL and synchronous=FULL
 * (https://www.sqlite.org/pragma.html#pragma_synchronous: "FULL ... WAL
 * mode ... transactions are durable across power loss"), so every committed
 * write is fsync'd before the call returns.
 */
#include "state/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "state/blob.h"
#include "util/kmsutil.h"

#define POOL_MAX 32

/*
 * A read cache in front of SQLite for the hot path (every request looks up
 * its access key, principal, key and key material). This process is the
 * only writer of keys, and every write below invalidates what it changes;
 * entries also expire after CACHE_TTL seconds, so what another process adds
 * (principals, access keys) or a second server on the same store changes is
 * seen soon. Unwrapped material is wiped when evicted.
 */
#define CACHE_BUCKETS 1024
#define CACHE_MAX 8192
#define CACHE_TTL 2.0

enum ckind { C_KEY, C_MAT, C_AK, C_PR };

struct centry {
    struct centry *next;
    enum ckind kind;
    uint32_t ver;
    double expires;
    char id[320];
    void *data;
    size_t len;
};

struct store {
    char *path;
    uint8_t master[32];
    pthread_mutex_t lock;
    sqlite3 *pool[POOL_MAX];
    size_t pool_n;
    pthread_mutex_t cache_lock;
    struct centry *cache[CACHE_BUCKETS];
    size_t cache_n;
};

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
    "  expiration REAL NOT NULL DEFAULT 0, created REAL NOT NULL);";

static void cache_flush_locked(struct store *st);

static int db_fail(struct cl_error *err, sqlite3 *db, const char *what)
{
    return cl_fail(err, CL_EIO, "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
}

static int conn_open(struct store *st, sqlite3 **out, struct cl_error *err)
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

static int acquire(struct store *st, sqlite3 **db, struct cl_error *err)
{
    pthread_mutex_lock(&st->lock);
    if (st->pool_n > 0) {
        *db = st->pool[--st->pool_n];
        pthread_mutex_unlock(&st->lock);
        return 0;
    }
    pthread_mutex_unlock(&st->lock);
    return conn_open(st, db, err);
}

static void release(struct store *st, sqlite3 *db)
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
    sqlite3 *db = NULL;
    int rc = st->path ? conn_open(st, &db, err) : cl_fail(err, CL_ENOMEM, "out of memory");
    if (rc == 0) {
        char *msg = NULL;
        if (sqlite3_exec(db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
            rc = cl_fail(err, CL_EIO, "cannot create the schema: %s", msg ? msg : "?");
            sqlite3_free(msg);
        }
    }
    if (rc < 0) {
        sqlite3_close(db);
        store_close(st);
        return rc;
    }
    release(st, db);
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->pool_n; i++)
        sqlite3_close(st->pool[i]);
    pthread_mutex_destroy(&st->lock);
    cache_flush_locked(st);
    pthread_mutex_destroy(&st->cache_lock);
    OPENSSL_cleanse(st->master, sizeof(st->master));
    free(st->path);
    free(st);
}


/* ---- the read cache ---- */

static unsigned chash(enum ckind kind, const char *id, uint32_t ver)
{
    unsigned h = 2166136261u ^ (unsigned)kind ^ (ver * 16777619u);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % CACHE_BUCKETS;
}

static void centry_free(struct centry *e)
{
    if (e->kind == C_KEY) {
        store_key_clear(e->data);
    } else if (e->kind == C_PR) {
        store_principal_clear(e->data);
    }
    OPENSSL_cleanse(e->data, e->len);
    free(e->data);
    free(e);
}

static void cache_flush_locked(struct store *st)
{
    for (size_t i = 0; i < CACHE_BUCKETS; i++) {
        struct centry *e = st->cache[i];
        while (e) {
            struct centry *n = e->next;
            centry_free(e);
            e = n;
        }
        st->cache[i] = NULL;
    }
    st->cache_n = 0;
}

/* Drops the entries of kind (and every version when ver is 0) for id. */
static void cache_drop(struct store *st, enum ckind kind, const char *id, uint32_t ver)
{
    pthread_mutex_lock(&st->cache_lock);
    if (ver == 0 && kind == C_MAT) {
        cache_flush_locked(st);   /* all versions of a key: rare (deletion) */
    } else {
        struct centry **pp = &st->cache[chash(kind, id, ver)];
        while (*pp) {
            struct centry *e = *pp;
            if (e->kind == kind && e->ver == ver && !strcmp(e->id, id)) {
                *pp = e->next;
                centry_free(e);
                st->cache_n--;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_mutex_unlock(&st->cache_lock);
}

/* Copies of cached values; the copy functions return false on ENOMEM. */
static bool copy_key(struct store_key *dst, const struct store_key *src)
{
    *dst = *src;
    dst->description = strdup(src->description ? src->description : "");
    dst->policy = strdup(src->policy ? src->policy : "");
    if (!dst->description || !dst->policy) {
        store_key_clear(dst);
        return false;
    }
    return true;
}

static bool copy_principal(struct store_principal *dst, const struct store_principal *src)
{
    *dst = *src;
    dst->identity_policy = NULL;
    if (src->identity_policy && !(dst->identity_policy = strdup(src->identity_policy)))
        return false;
    return true;
}

/* Looks up and copies out; true on a hit. */
static bool cache_get(struct store *st, enum ckind kind, const char *id, uint32_t ver, void *out,
                      uint8_t **bytes, size_t *len)
{
    bool hit = false;
    double now = ku_now();
    pthread_mutex_lock(&st->cache_lock);
    for (struct centry *e = st->cache[chash(kind, id, ver)]; e; e = e->next) {
        if (e->kind != kind || e->ver != ver || strcmp(e->id, id) != 0)
            continue;
        if (e->expires && now > e->expires)
            break;
        switch (kind) {
        case C_KEY: hit = copy_key(out, e->data); break;
        case C_PR: hit = copy_principal(out, e->data); break;
        case C_AK: memcpy(out, e->data, sizeof(struct store_access_key)); hit = true; break;
        case C_MAT:
            *bytes = malloc(e->len + 1);
            if (*bytes) {
                memcpy(*bytes, e->data, e->len);
                (*bytes)[e->len] = 0;
                *len = e->len;
                hit = true;
            }
            break;
        }
        break;
    }
    pthread_mutex_unlock(&st->cache_lock);
    return hit;
}

static void cache_put(struct store *st, enum ckind kind, const char *id, uint32_t ver,
                      const void *value, size_t len)
{
    if (strlen(id) >= sizeof(((struct centry *)0)->id))
        return;
    struct centry *e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->kind = kind;
    e->ver = ver;
    e->expires = kind == C_MAT ? 0 : ku_now() + CACHE_TTL;
    snprintf(e->id, sizeof(e->id), "%s", id);
    bool ok = false;
    switch (kind) {
    case C_KEY:
        e->len = sizeof(struct store_key);
        e->data = calloc(1, e->len);
        ok = e->data && copy_key(e->data, value);
        break;
    case C_PR:
        e->len = sizeof(struct store_principal);
        e->data = calloc(1, e->len);
        ok = e->data && copy_principal(e->data, value);
        break;
    case C_AK:
        e->len = sizeof(struct store_access_key);
        e->data = malloc(e->len);
        if ((ok = e->data != NULL))
            memcpy(e->data, value, e->len);
        break;
    case C_MAT:
        e->len = len;
        e->data = malloc(len ? len : 1);
        if ((ok = e->data != NULL))
            memcpy(e->data, value, len);
        break;
    }
    if (!ok) {
        if (e->data && kind != C_KEY && kind != C_PR)
            OPENSSL_cleanse(e->data, e->len);
        free(e->data);
        free(e);
        return;
    }
    cache_drop(st, kind, id, ver);
    pthread_mutex_lock(&st->cache_lock);
    if (st->cache_n >= CACHE_MAX)
        cache_flush_locked(st);
    unsigned h = chash(kind, id, ver);
    e->next = st->cache[h];
    st->cache[h] = e;
    st->cache_n++;
    pthread_mutex_unlock(&st->cache_lock);
}

/* ---- small statement helpers ---- */

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **s, struct cl_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
        return db_fail(err, db, "cannot prepare a statement");
    return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

/* Runs a statement that returns no rows; *changes gets the row count. */
static int step_done(sqlite3 *db, sqlite3_stmt *s, int *changes, struct cl_error *err)
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

static int exec(sqlite3 *db, const char *sql, struct cl_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = cl_fail(err, CL_EIO, "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static char *dup_col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/*
 * Takes a pooled connection and prepares sql on it. On failure nothing is
 * held and *db, *s are NULL; either way stmt_close() may be called.
 */
static int stmt_open(struct store *st, const char *sql, sqlite3 **db, sqlite3_stmt **s,
                     struct cl_error *err)
{
    *db = NULL;
    *s = NULL;
    int rc = acquire(st, db, err);
    if (rc < 0)
        return rc;
    rc = prep(*db, sql, s, err);
    if (rc < 0) {
        sqlite3_finalize(*s);
        *s = NULL;
        release(st, *db);
        *db = NULL;
    }
    return rc;
}

static void stmt_close(struct store *st, sqlite3 *db, sqlite3_stmt *s)
{
    sqlite3_finalize(s);
    release(st, db);
}

/*
 * Opens sql, binds key to ?1 and steps once: 1 when a row is there, 0 when
 * there is none, a negative CL_E* code otherwise. The caller reads the row
 * and then calls stmt_close(st, *db, *s) whatever this returned.
 */
static int select_one(struct store *st, const char *sql, const char *key, sqlite3 **db,
                      sqlite3_stmt **s, struct cl_error *err)
{
    int rc = stmt_open(st, sql, db, s, err);
    if (rc < 0)
        return rc;
    bind_text(*s, 1, key);
    int r = sqlite3_step(*s);
    if (r == SQLITE_ROW)
        return 1;
    if (r == SQLITE_DONE)
        return 0;
    return db_fail(err, *db, "store read failed");
}

/* Runs a "SELECT count(*) ... WHERE <col>=?1" query for key. */
static int count_where(struct store *st, const char *sql, const char *key, int64_t *n,
                       struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = stmt_open(st, sql, &db, &s, err);
    if (rc == 0) {
        bind_text(s, 1, key);
        if (sqlite3_step(s) == SQLITE_ROW)
            *n = sqlite3_column_int64(s, 0);
        else
            rc = db_fail(err, db, "store read failed");
    }
    stmt_close(st, db, s);
    return rc;
}

/*
 * Runs one write statement on a pooled connection with ?1 = a, ?2 = b (when
 * the statement has a second parameter) and ?3 = now (when now > 0);
 * *changes (if not NULL) gets the number of rows changed.
 */
static int exec_binds(struct store *st, const char *sql, const char *a, const char *b, double now,
                      int *changes, struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = stmt_open(st, sql, &db, &s, err);
    if (rc == 0) {
        bind_text(s, 1, a);
        if (sqlite3_bind_parameter_count(s) >= 2)
            bind_text(s, 2, b);
        if (now > 0)
            sqlite3_bind_double(s, 3, now);
        rc = step_done(db, s, changes, err);
    }
    stmt_close(st, db, s);
    return rc;
}

/* ---- meta ---- */

int store_meta_get(struct store *st, const char *name, char **value, struct cl_error *err)
{
    *value = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = select_one(st, "SELECT value FROM meta WHERE name=?", name, &db, &s, err);
    if (rc == 1)
        rc = (*value = dup_col(s, 0)) ? 0 : cl_fail(err, CL_ENOMEM, "out of memory");
    else if (rc == 0)
        rc = cl_fail(err, CL_ENOTFOUND, "no setting %s", name);
    stmt_close(st, db, s);
    return rc;
}

int store_meta_set(struct store *st, const char *name, const char *value, struct cl_error *err)
{
    return exec_binds(st, "INSERT OR REPLACE INTO meta(name, value) VALUES(?, ?)", name, value, 0,
                      NULL, err);
}

/* ---- keys ---- */

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

static int insert_material(struct store *st, sqlite3 *db, const char *id, uint32_t version,
                           double now, const uint8_t *m, size_t len, struct cl_error *err)
{
    char aad[128];
    material_aad(aad, sizeof(aad), id, version);
    uint8_t *w = NULL;
    size_t wlen = 0;
    int rc = blob_gcm_seal(st->master, (const uint8_t *)aad, strlen(aad), m, len, &w, &wlen, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = NULL;
    rc = prep(db, "INSERT INTO key_material(key_id, version, created, wrapped) VALUES(?,?,?,?)", &s,
              err);
    if (rc == 0) {
        bind_text(s, 1, id);
        sqlite3_bind_int64(s, 2, version);
        sqlite3_bind_double(s, 3, now);
        sqlite3_bind_blob(s, 4, w, (int)wlen, SQLITE_TRANSIENT);
        rc = step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    free(w);
    return rc;
}

static int tags_set_db(sqlite3 *db, const char *key_id, const json_t *tags, struct cl_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = prep(db, "INSERT OR REPLACE INTO tags(key_id, tag_key, tag_value) VALUES(?,?,?)", &s, err);
    size_t i;
    json_t *t;
    json_array_foreach((json_t *)tags, i, t)
    {
        if (rc < 0)
            break;
        sqlite3_reset(s);
        bind_text(s, 1, key_id);
        bind_text(s, 2, json_string_value(json_object_get(t, "TagKey")));
        bind_text(s, 3, json_string_value(json_object_get(t, "TagValue")));
        rc = step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    return rc;
}

int store_key_create(struct store *st, const struct store_key *k, const uint8_t *material,
                     size_t material_len, const json_t *tags, struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s = NULL;
    int rc = acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    rc = prep(db,
              "INSERT INTO keys(id, created, description, key_usage, key_spec, origin, state,"
              " deletion_date, pending_days, rotation_enabled, rotation_period, next_rotation,"
              " policy, current_version) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,1)",
              &s, err);
    if (rc == 0) {
        bind_text(s, 1, k->id);
        sqlite3_bind_double(s, 2, k->created);
        bind_text(s, 3, k->description ? k->description : "");
        bind_text(s, 4, key_usage_name(k->usage));
        bind_text(s, 5, k->key_spec);
        bind_text(s, 6, k->origin);
        bind_text(s, 7, key_state_name(k->state));
        sqlite3_bind_double(s, 8, k->deletion_date);
        sqlite3_bind_int(s, 9, k->pending_days);
        sqlite3_bind_int(s, 10, k->rotation_enabled);
        sqlite3_bind_int(s, 11, k->rotation_period_days);
        sqlite3_bind_double(s, 12, k->next_rotation);
        bind_text(s, 13, k->policy);
        rc = step_done(db, s, NULL, err);
    }
    if (rc == 0)
        rc = insert_material(st, db, k->id, 1, k->created, material, material_len, err);
    if (rc == 0 && tags)
        rc = tags_set_db(db, k->id, tags, err);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
    if (rc < 0)
        exec(db, "ROLLBACK", NULL);
out:
    sqlite3_finalize(s);
    release(st, db);
    return rc;
}

static int db_key_get(struct store *st, const char *id, struct store_key *out, struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = select_one(st,
                        "SELECT id, created, description, key_usage, key_spec, origin, state,"
                        " deletion_date, pending_days, rotation_enabled, rotation_period,"
                        " next_rotation, policy, current_version FROM keys WHERE id=?",
                        id, &db, &s, err);
    if (rc == 1) {
        rc = 0;
        copy_col(out->id, sizeof(out->id), s, 0);
        out->created = sqlite3_column_double(s, 1);
        out->description = dup_col(s, 2);

        copy_col(out->key_spec, sizeof(out->key_spec), s, 4);
        copy_col(out->origin, sizeof(out->origin), s, 5);

        out->deletion_date = sqlite3_column_double(s, 7);
        out->pending_days = sqlite3_column_int(s, 8);
        out->rotation_enabled = sqlite3_column_int(s, 9) != 0;
        out->rotation_period_days = sqlite3_column_int(s, 10);
        out->next_rotation = sqlite3_column_double(s, 11);
        out->policy = dup_col(s, 12);
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
    stmt_close(st, db, s);
    return rc;
}

int store_key_update(struct store *st, const struct store_key *k, struct cl_error *err)
{
    cache_drop(st, C_KEY, k->id, 0);
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = stmt_open(st,
                       "UPDATE keys SET description=?, state=?, deletion_date=?, pending_days=?,"
                       " rotation_enabled=?, rotation_period=?, next_rotation=?, policy=? WHERE id=?",
                       &db, &s, err);
    if (rc == 0) {
        bind_text(s, 1, k->description ? k->description : "");
        bind_text(s, 2, key_state_name(k->state));
        sqlite3_bind_double(s, 3, k->deletion_date);
        sqlite3_bind_int(s, 4, k->pending_days);
        sqlite3_bind_int(s, 5, k->rotation_enabled);
        sqlite3_bind_int(s, 6, k->rotation_period_days);
        sqlite3_bind_double(s, 7, k->next_rotation);
        bind_text(s, 8, k->policy);
        bind_text(s, 9, k->id);
        int changes = 0;
        rc = step_done(db, s, &changes, err);
        if (rc == 0 && changes == 0)
            rc = cl_fail(err, CL_ENOTFOUND, "no key %s", k->id);
    }
    stmt_close(st, db, s);
    return rc;
}

int store_key_delete(struct store *st, const char *id, struct cl_error *err)
{
    cache_drop(st, C_KEY, id, 0);
    cache_drop(st, C_MAT, id, 0);
    return exec_binds(st, "DELETE FROM keys WHERE id=?", id, NULL, 0, NULL, err);
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
    *ids = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = stmt_open(st, "SELECT id FROM keys WHERE id > ? ORDER BY id LIMIT ?", &db, &s, err);
    if (rc == 0) {
        bind_text(s, 1, after ? after : "");
        sqlite3_bind_int64(s, 2, (sqlite3_int64)limit + 1);
        rc = collect_strings(db, s, limit, ids, more, err);
    }
    stmt_close(st, db, s);
    return rc;
}

int store_key_list_expired(struct store *st, double now, json_t **ids, struct cl_error *err)
{
    *ids = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = stmt_open(st, "SELECT id FROM keys WHERE state=? AND deletion_date <= ?", &db, &s, err);
    if (rc == 0) {
        bind_text(s, 1, key_state_name(KEY_PENDING_DELETION));
        sqlite3_bind_double(s, 2, now);
        rc = collect_strings(db, s, 100000, ids, NULL, err);
    }
    stmt_close(st, db, s);
    return rc;
}

static int db_material_get(struct store *st, const char *id, uint32_t version, uint8_t **material,
                           size_t *len, struct cl_error *err)
{
    *material = NULL;
    *len = 0;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = stmt_open(st, "SELECT wrapped FROM key_material WHERE key_id=? AND version=?", &db, &s,
                       err);
    if (rc == 0) {
        bind_text(s, 1, id);
        sqlite3_bind_int64(s, 2, version);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            char aad[128];
            material_aad(aad, sizeof(aad), id, version);
            rc = blob_gcm_open(st->master, (const uint8_t *)aad, strlen(aad), sqlite3_column_blob(s, 0),
                               (size_t)sqlite3_column_bytes(s, 0), material, len, err);
            if (rc < 0)
                cl_error_prefix(err, "key material of %s version %u does not unwrap with the master key",
                                id, version);
        } else if (r == SQLITE_DONE) {
            rc = cl_fail(err, CL_ENOTFOUND, "no material version %u for key %s", version, id);
        } else {
            rc = db_fail(err, db, "store read failed");
        }
    }
    stmt_close(st, db, s);
    return rc;
}

int store_key_rotate(struct store *st, const char *id, const uint8_t *material, size_t len,
                     double next_rotation, uint32_t *new_version, struct cl_error *err)
{
    cache_drop(st, C_KEY, id, 0);
    sqlite3 *db;
    sqlite3_stmt *s = NULL;
    int rc = acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    uint32_t cur = 0;
    rc = prep(db, "SELECT current_version FROM keys WHERE id=?", &s, err);
    if (rc == 0) {
        bind_text(s, 1, id);
        if (sqlite3_step(s) == SQLITE_ROW)
            cur = (uint32_t)sqlite3_column_int64(s, 0);
        else
            rc = cl_fail(err, CL_ENOTFOUND, "no key %s", id);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (rc == 0)
        rc = insert_material(st, db, id, cur + 1, ku_now(), material, len, err);
    if (rc == 0)
        rc = prep(db, "UPDATE keys SET current_version=?, next_rotation=? WHERE id=?", &s, err);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, cur + 1);
        sqlite3_bind_double(s, 2, next_rotation);
        bind_text(s, 3, id);
        rc = step_done(db, s, NULL, err);
    }
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
    if (rc < 0)
        exec(db, "ROLLBACK", NULL);
    else
        *new_version = cur + 1;
out:
    sqlite3_finalize(s);
    release(st, db);
    return rc;
}

int store_material_count(struct store *st, const char *id, uint32_t *count, struct cl_error *err)
{
    int64_t n = 0;
    int rc = count_where(st, "SELECT count(*) FROM key_material WHERE key_id=?", id, &n, err);
    if (rc == 0)
        *count = (uint32_t)n;
    return rc;
}

/* ---- aliases ---- */

int store_alias_create(struct store *st, const char *name, const char *key_id, double now,
                       struct cl_error *err)
{
    return exec_binds(st, "INSERT INTO aliases(name, key_id, created, updated) VALUES(?1,?2,?3,?3)",
                      name, key_id, now, NULL, err);
}

int store_alias_update(struct store *st, const char *name, const char *key_id, double now,
                       struct cl_error *err)
{
    int changes = 0;
    int rc = exec_binds(st, "UPDATE aliases SET key_id=?2, updated=?3 WHERE name=?1", name, key_id,
                        now, &changes, err);
    if (rc == 0 && changes == 0)
        rc = cl_fail(err, CL_ENOTFOUND, "no alias %s", name);
    return rc;
}

int store_alias_delete(struct store *st, const char *name, struct cl_error *err)
{
    int changes = 0;
    int rc = exec_binds(st, "DELETE FROM aliases WHERE name=?1", name, NULL, 0, &changes, err);
    if (rc == 0 && changes == 0)
        rc = cl_fail(err, CL_ENOTFOUND, "no alias %s", name);
    return rc;
}

int store_alias_get(struct store *st, const char *name, char **key_id, struct cl_error *err)
{
    *key_id = NULL;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = select_one(st, "SELECT key_id FROM aliases WHERE name=?", name, &db, &s, err);
    if (rc == 1) {
        *key_id = dup_col(s, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = cl_fail(err, CL_ENOTFOUND, "no alias %s", name);
    }
    stmt_close(st, db, s);
    return rc;
}

int store_alias_list(struct store *st, const char *key_id, const char *after, size_t limit,
                     json_t **out, bool *more, struct cl_error *err)
{
    *out = NULL;
    *more = false;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = stmt_open(st,
                       "SELECT name, key_id, created, updated FROM aliases WHERE name > ?1"
                       " AND (?2 IS NULL OR key_id = ?2) ORDER BY name LIMIT ?3",
                       &db, &s, err);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    if (!arr)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    if (rc == 0) {
        bind_text(s, 1, after ? after : "");
        bind_text(s, 2, key_id);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)limit + 1);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            if (json_array_size(arr) == limit) {
                *more = true;
                break;
            }
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:f, s:f}", "AliasName", sqlite3_column_text(s, 0),
                               "TargetKeyId", sqlite3_column_text(s, 1), "CreationDate",
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
    stmt_close(st, db, s);
    return rc;
}

/* ---- tags ---- */

int store_tags_set(struct store *st, const char *key_id, const json_t *tags, struct cl_error *err)
{
    sqlite3 *db;
    int rc = acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = tags_set_db(db, key_id, tags, err);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
    else
        exec(db, "ROLLBACK", NULL);
    release(st, db);
    return rc;
}

int store_tags_remove(struct store *st, const char *key_id, const json_t *keys, struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s = NULL;
    int rc = acquire(st, &db, err);
    if (rc < 0)
        return rc;
    rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = prep(db, "DELETE FROM tags WHERE key_id=? AND tag_key=?", &s, err);
    size_t i;
    json_t *k;
    json_array_foreach((json_t *)keys, i, k)
    {
        if (rc < 0)
            break;
        sqlite3_reset(s);
        bind_text(s, 1, key_id);
        bind_text(s, 2, json_string_value(k));
        rc = step_done(db, s, NULL, err);
    }
    sqlite3_finalize(s);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
    else
        exec(db, "ROLLBACK", NULL);
    release(st, db);
    return rc;
}

int store_tags_list(struct store *st, const char *key_id, const char *after, size_t limit,
                    json_t **out, bool *more, struct cl_error *err)
{
    *out = NULL;
    *more = false;
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = stmt_open(
        st, "SELECT tag_key, tag_value FROM tags WHERE key_id=? AND tag_key > ? ORDER BY tag_key LIMIT ?",
        &db, &s, err);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    bind_text(s, 1, key_id);
    bind_text(s, 2, after ? after : "");
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
    stmt_close(st, db, s);
    return rc;
}

int store_tags_count(struct store *st, const char *key_id, size_t *count, struct cl_error *err)
{
    int64_t n = 0;
    int rc = count_where(st, "SELECT count(*) FROM tags WHERE key_id=?", key_id, &n, err);
    if (rc == 0)
        *count = (size_t)n;
    return rc;
}

/* ---- principals and access keys ---- */

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
    int rc = stmt_open(st,
                       "INSERT INTO principals(arn, name, kind, unique_id, identity_policy, created)"
                       " VALUES(?,?,?,?,?,?)",
                       &db, &s, err);
    if (rc == 0) {
        bind_text(s, 1, p->arn);
        bind_text(s, 2, p->name);
        bind_text(s, 3, p->kind);
        bind_text(s, 4, p->unique_id);
        bind_text(s, 5, p->identity_policy);
        sqlite3_bind_double(s, 6, now);
        rc = step_done(db, s, NULL, err);
        if (rc == CL_EEXIST) {
            cl_error_clear(err);
            rc = cl_fail(err, CL_EEXIST, "principal %s already exists", p->arn);
        }
    }
    stmt_close(st, db, s);
    return rc;
}

static int db_principal_get(struct store *st, const char *arn, struct store_principal *out,
                            struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = select_one(st,
                        "SELECT arn, name, kind, unique_id, identity_policy FROM principals WHERE arn=?",
                        arn, &db, &s, err);
    if (rc == 1) {
        rc = 0;
        copy_col(out->arn, sizeof(out->arn), s, 0);
        copy_col(out->name, sizeof(out->name), s, 1);
        copy_col(out->kind, sizeof(out->kind), s, 2);
        copy_col(out->unique_id, sizeof(out->unique_id), s, 3);
        out->identity_policy = dup_col(s, 4);
    } else if (rc == 0) {
        rc = cl_fail(err, CL_ENOTFOUND, "no principal %s", arn);
    }
    stmt_close(st, db, s);
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
    int rc = blob_gcm_seal(st->master, (const uint8_t *)aad, strlen(aad), (const uint8_t *)k->secret,
                           strlen(k->secret), &w, &wlen, err);
    if (rc < 0)
        return rc;
    sqlite3 *db;
    sqlite3_stmt *s;
    rc = stmt_open(st,
                   "INSERT INTO access_keys(akid, wrapped_secret, principal_arn, caller_arn, user_id,"
                   " token_hash, expiration, created) VALUES(?,?,?,?,?,?,?,?)",
                   &db, &s, err);
    if (rc == 0) {
        bind_text(s, 1, k->akid);
        sqlite3_bind_blob(s, 2, w, (int)wlen, SQLITE_TRANSIENT);
        bind_text(s, 3, k->principal_arn);
        bind_text(s, 4, k->caller_arn);
        bind_text(s, 5, k->user_id);
        if (k->has_session)
            sqlite3_bind_blob(s, 6, k->token_hash, 32, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, 6);
        sqlite3_bind_double(s, 7, k->expiration);
        sqlite3_bind_double(s, 8, now);
        rc = step_done(db, s, NULL, err);
    }
    stmt_close(st, db, s);
    free(w);
    return rc;
}

static int db_access_key_get(struct store *st, const char *akid, struct store_access_key *out,
                             struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = select_one(st,
                        "SELECT akid, wrapped_secret, principal_arn, caller_arn, user_id, token_hash,"
                        " expiration FROM access_keys WHERE akid=?",
                        akid, &db, &s, err);
    if (rc == 1) {
        copy_col(out->akid, sizeof(out->akid), s, 0);
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
        copy_col(out->principal_arn, sizeof(out->principal_arn), s, 2);
        copy_col(out->caller_arn, sizeof(out->caller_arn), s, 3);
        copy_col(out->user_id, sizeof(out->user_id), s, 4);
        if (sqlite3_column_type(s, 5) == SQLITE_BLOB && sqlite3_column_bytes(s, 5) == 32) {
            out->has_session = true;
            memcpy(out->token_hash, sqlite3_column_blob(s, 5), 32);
        }
        out->expiration = sqlite3_column_double(s, 6);
    } else if (rc == 0) {
        rc = cl_fail(err, CL_ENOTFOUND, "no access key %s", akid);
    }
    stmt_close(st, db, s);
    if (rc < 0)
        store_access_key_clear(out);
    return rc;
}

/* ---- cached reads ---- */

int store_key_get(struct store *st, const char *id, struct store_key *out, struct cl_error *err)
{
    if (cache_get(st, C_KEY, id, 0, out, NULL, NULL))
        return 0;
    int rc = db_key_get(st, id, out, err);
    if (rc == 0)
        cache_put(st, C_KEY, id, 0, out, 0);
    return rc;
}

int store_material_get(struct store *st, const char *id, uint32_t version, uint8_t **material,
                       size_t *len, struct cl_error *err)
{
    if (version != 0 && cache_get(st, C_MAT, id, version, NULL, material, len))
        return 0;
    int rc = db_material_get(st, id, version, material, len, err);
    if (rc == 0)
        cache_put(st, C_MAT, id, version, *material, *len);
    return rc;
}

int store_principal_get(struct store *st, const char *arn, struct store_principal *out,
                        struct cl_error *err)
{
    if (cache_get(st, C_PR, arn, 0, out, NULL, NULL))
        return 0;
    int rc = db_principal_get(st, arn, out, err);
    if (rc == 0)
        cache_put(st, C_PR, arn, 0, out, 0);
    return rc;
}

int store_access_key_get(struct store *st, const char *akid, struct store_access_key *out,
                         struct cl_error *err)
{
    if (cache_get(st, C_AK, akid, 0, out, NULL, NULL))
        return 0;
    int rc = db_access_key_get(st, akid, out, err);
    if (rc == 0)
        cache_put(st, C_AK, akid, 0, out, 0);
    return rc;
}
