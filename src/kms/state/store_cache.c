/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's read cache (store_internal.h): a hash table of keys,
 * material versions, access keys and principals in front of SQLite.
 */
#include "state/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/kmsutil.h"

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

void store_cache_flush(struct store *st)
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
void store_cache_drop(struct store *st, enum ckind kind, const char *id, uint32_t ver)
{
    pthread_mutex_lock(&st->cache_lock);
    if (ver == 0 && kind == C_MAT) {
        store_cache_flush(st); /* all versions of a key: rare (deletion) */
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
bool store_cache_get(struct store *st, enum ckind kind, const char *id, uint32_t ver, void *out,
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
        case C_KEY:
            hit = copy_key(out, e->data);
            break;
        case C_PR:
            hit = copy_principal(out, e->data);
            break;
        case C_AK:
            memcpy(out, e->data, sizeof(struct store_access_key));
            hit = true;
            break;
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

void store_cache_put(struct store *st, enum ckind kind, const char *id, uint32_t ver,
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
    store_cache_drop(st, kind, id, ver);
    pthread_mutex_lock(&st->cache_lock);
    if (st->cache_n >= CACHE_MAX)
        store_cache_flush(st);
    unsigned h = chash(kind, id, ver);
    e->next = st->cache[h];
    st->cache[h] = e;
    st->cache_n++;
    pthread_mutex_unlock(&st->cache_lock);
}
