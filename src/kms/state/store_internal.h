/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the files of the SQLite store (store_*.c) share, and nothing else
 * includes: the store object with its connection pool and read cache, the
 * statement helpers, and the read cache's operations.
 */
#ifndef CLOISTER_KMS_STATE_STORE_INTERNAL_H
#define CLOISTER_KMS_STATE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include <cloister/error.h>

#include "state/store.h"

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
#define CACHE_MAX     8192
#define CACHE_TTL     2.0

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

#define USAGE_BUCKETS 256

struct usage_entry; /* store_usage.c */

struct store {
    char *path;
    uint8_t master[32];
    pthread_mutex_t lock;
    sqlite3 *pool[POOL_MAX];
    size_t pool_n;
    pthread_mutex_t cache_lock;
    struct centry *cache[CACHE_BUCKETS];
    size_t cache_n;
    pthread_mutex_t usage_lock;
    struct usage_entry *usage[USAGE_BUCKETS]; /* last-use notes not yet on disk */
};

/* ---- connections and statements (store_db.c) ---- */

/* CL_EIO with "<what>: <SQLite's message>". */
int db_fail(struct cl_error *err, sqlite3 *db, const char *what);
/* A pooled connection (opened when the pool is empty) and its return. */
CL_MUST_USE int db_acquire(struct store *st, sqlite3 **db, struct cl_error *err);
void db_release(struct store *st, sqlite3 *db);
CL_MUST_USE int db_prep(sqlite3 *db, const char *sql, sqlite3_stmt **s, struct cl_error *err);
/* Binds text, or NULL for a NULL pointer. */
void db_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Runs a statement that returns no rows (CL_EEXIST on a constraint);
 * *changes, if not NULL, gets the row count. */
CL_MUST_USE int db_step_done(sqlite3 *db, sqlite3_stmt *s, int *changes, struct cl_error *err);
/* sqlite3_exec() of statements without parameters. */
CL_MUST_USE int db_exec(sqlite3 *db, const char *sql, struct cl_error *err);
/* Ends the connection's transaction without its changes. */
void db_rollback(sqlite3 *db);
/* Column i as a malloc'd string (NULL for NULL), or copied into dst. */
char *db_dup_col(sqlite3_stmt *s, int i);
void db_copy_col(char *dst, size_t cap, sqlite3_stmt *s, int i);
/*
 * Takes a pooled connection and prepares sql on it. On failure nothing is
 * held and *db, *s are NULL; either way db_stmt_close() may be called.
 */
CL_MUST_USE int db_stmt_open(struct store *st, const char *sql, sqlite3 **db, sqlite3_stmt **s,
                             struct cl_error *err);
void db_stmt_close(struct store *st, sqlite3 *db, sqlite3_stmt *s);
/*
 * Opens sql, binds key to ?1 and steps once: 1 when a row is there, 0 when
 * there is none, a negative CL_E* code otherwise. The caller reads the row
 * and then calls db_stmt_close(st, *db, *s) whatever this returned.
 */
CL_MUST_USE int db_select_one(struct store *st, const char *sql, const char *key, sqlite3 **db,
                              sqlite3_stmt **s, struct cl_error *err);
/*
 * Runs one write statement on a pooled connection with ?1 = a, ?2 = b (when
 * the statement has a second parameter) and ?3 = now (when now > 0);
 * *changes (if not NULL) gets the number of rows changed.
 */
CL_MUST_USE int db_exec_binds(struct store *st, const char *sql, const char *a, const char *b,
                              double now, int *changes, struct cl_error *err);

/* Wraps material and inserts it as a version of key id, inside the caller's
 * transaction (store_keys.c). */
CL_MUST_USE int db_insert_material(struct store *st, sqlite3 *db, const char *id, uint32_t version,
                                   double now, const uint8_t *m, size_t len, struct cl_error *err);

/* Sets a key's tags inside the caller's transaction (store_tags.c). */
CL_MUST_USE int db_tags_set(sqlite3 *db, const char *key_id, const json_t *tags,
                            struct cl_error *err);

/* Records how material version `version` of key_id came (store_rotations.c),
 * inside the caller's transaction. */
CL_MUST_USE int db_rotation_record(sqlite3 *db, const char *key_id, uint32_t version,
                                   bool on_demand, struct cl_error *err);

/* Writes the last-use notes not yet on disk and frees them (store_usage.c). */
void store_usage_close(struct store *st);

/* ---- the read cache (store_cache.c) ---- */

/* Looks up and copies out (a key, principal or access key into out;
 * material into a malloc'd *bytes); true on a hit. */
bool store_cache_get(struct store *st, enum ckind kind, const char *id, uint32_t ver, void *out,
                     uint8_t **bytes, size_t *len);
/* Caches a copy of value (len bytes for material). */
void store_cache_put(struct store *st, enum ckind kind, const char *id, uint32_t ver,
                     const void *value, size_t len);
/* Drops the entries of kind (and every version when ver is 0) for id. */
void store_cache_drop(struct store *st, enum ckind kind, const char *id, uint32_t ver);
/* Empties the cache; the caller holds cache_lock or is the last user. */
void store_cache_flush(struct store *st);

#endif
