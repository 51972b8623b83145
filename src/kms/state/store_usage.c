/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When each key was last used for a cryptographic operation (store.h:
 * store_usage_note, store_usage_get), for GetKeyLastUsage.
 *
 * Every successful Encrypt or Decrypt notes its key, so writing each note
 * through to SQLite (one fsync'd transaction) would put a disk write on the
 * hot path that otherwise only reads the cache. Notes go to memory; a
 * key's note is written through when the last write of that key is at
 * least USAGE_WRITE_EVERY old, and every unwritten note is written when the
 * store closes. A reader takes the newer of memory and disk, so this
 * server answers exactly and a restart after kill -9 loses at most the
 * last USAGE_WRITE_EVERY of notes, which AWS's own eventually consistent
 * answer allows (docs/kms.md, "GetKeyLastUsage").
 */
#include "state/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kmsutil.h"

#define USAGE_WRITE_EVERY 1.0 /* seconds */

struct usage_entry {
    struct usage_entry *next;
    char key_id[320];
    struct store_usage u;
    double written; /* u.used of the last note written to disk; 0: none */
};

static unsigned bucket(const char *id)
{
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % USAGE_BUCKETS;
}

static int usage_write(struct store *st, const char *key_id, const struct store_usage *u,
                       struct cl_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    /* A key deleted meanwhile has no row to refer to: nothing is written. */
    int rc = db_stmt_open(st,
                          "INSERT OR REPLACE INTO key_last_usage"
                          "(key_id, operation, used, event_id, request_id)"
                          " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS(SELECT 1 FROM keys WHERE id=?1)",
                          &db, &s, err);
    if (rc == 0) {
        db_bind_text(s, 1, key_id);
        db_bind_text(s, 2, u->operation);
        sqlite3_bind_double(s, 3, u->used);
        db_bind_text(s, 4, u->event_id);
        db_bind_text(s, 5, u->request_id);
        rc = db_step_done(db, s, NULL, err);
    }
    db_stmt_close(st, db, s);
    return rc;
}

/* The entry of key_id, made when missing; NULL when out of memory. Under usage_lock. */
static struct usage_entry *entry_of(struct store *st, const char *key_id)
{
    struct usage_entry **pp = &st->usage[bucket(key_id)];
    for (; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->key_id, key_id))
            return *pp;
    struct usage_entry *e = calloc(1, sizeof(*e));
    if (e) {
        snprintf(e->key_id, sizeof(e->key_id), "%s", key_id);
        *pp = e;
    }
    return e;
}

int store_usage_note(struct store *st, const char *key_id, const struct store_usage *u,
                     struct cl_error *err)
{
    pthread_mutex_lock(&st->usage_lock);
    struct usage_entry *e = entry_of(st, key_id);
    bool write = false;
    if (e && u->used >= e->u.used) {
        e->u = *u;
        write = u->used - e->written >= USAGE_WRITE_EVERY;
        if (write)
            e->written = u->used; /* claimed: concurrent notes of this key stay in memory */
    }
    pthread_mutex_unlock(&st->usage_lock);
    if (!e)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return write ? usage_write(st, key_id, u, err) : 0;
}

int store_usage_get(struct store *st, const char *key_id, struct store_usage *out, bool *found,
                    struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    *found = false;
    sqlite3 *db;
    sqlite3_stmt *s;
    int r = db_select_one(st,
                          "SELECT operation, used, event_id, request_id FROM key_last_usage"
                          " WHERE key_id=?",
                          key_id, &db, &s, err);
    if (r == 1) {
        db_copy_col(out->operation, sizeof(out->operation), s, 0);
        out->used = sqlite3_column_double(s, 1);
        db_copy_col(out->event_id, sizeof(out->event_id), s, 2);
        db_copy_col(out->request_id, sizeof(out->request_id), s, 3);
        *found = true;
    }
    db_stmt_close(st, db, s);
    if (r < 0)
        return r;
    /* this process's newer note, not yet written */
    pthread_mutex_lock(&st->usage_lock);
    for (struct usage_entry *e = st->usage[bucket(key_id)]; e; e = e->next)
        if (!strcmp(e->key_id, key_id) && e->u.used > out->used) {
            *out = e->u;
            *found = true;
        }
    pthread_mutex_unlock(&st->usage_lock);
    return 0;
}

int store_usage_since(struct store *st, double *since, struct cl_error *err)
{
    char *v = NULL;
    int r = store_meta_get(st, "usage_tracking_since", &v, err); /* set by store_open */
    if (r < 0)
        return r;
    *since = strtod(v, NULL);
    free(v);
    return 0;
}

void store_usage_close(struct store *st)
{
    for (size_t i = 0; i < USAGE_BUCKETS; i++) {
        struct usage_entry *e = st->usage[i];
        while (e) {
            struct usage_entry *n = e->next;
            struct cl_error err = { 0 };
            if (e->u.used > e->written && usage_write(st, e->key_id, &e->u, &err) < 0)
                fprintf(stderr, "cloister-kms: key usage of %s not saved: %s\n", e->key_id,
                        err.reason);
            free(e);
            e = n;
        }
        st->usage[i] = NULL;
    }
}
