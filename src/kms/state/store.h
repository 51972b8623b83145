/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key service's durable state, in SQLite (store_*.c): keys, their
 * key material versions (wrapped by the master key with AES-256-GCM),
 * aliases, key policies, tags, grants, principals, access keys and sessions.
 *
 * WAL mode with synchronous=FULL: a call that returned 0 is on disk, so a
 * key whose CreateKey was answered survives kill -9 (and power loss, as far
 * as fsync goes). Every function is safe to call from several threads at
 * once: each borrows a connection from a pool. Several processes (the
 * server and `cloister-kms principal create`) may share a store.
 */
#ifndef CLOISTER_KMS_STORE_H
#define CLOISTER_KMS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "state/key_attrs.h"

struct store; /* opaque */

/*
 * Opens (creating when missing) DIR/kms.db and its schema. master_key (32
 * bytes, copied) wraps key material and secret access keys.
 */
CL_MUST_USE int store_open(const char *path, const uint8_t master_key[32], struct store **out,
                           struct cl_error *err);
void store_close(struct store *st);

/* Settings (account id, region, ...): *value malloc'd, CL_ENOTFOUND when unset. */
CL_MUST_USE int store_meta_get(struct store *st, const char *name, char **value,
                               struct cl_error *err);
CL_MUST_USE int store_meta_set(struct store *st, const char *name, const char *value,
                               struct cl_error *err);

/* A KMS key's metadata (everything but the material). Strings owned by the
 * struct: release with store_key_clear(). */
struct store_key {
    char id[80]; /* the internal id: the key id, "@<region>" after it outside the home region */
    double created;
    char *description;
    enum key_usage usage;
    char key_spec[32]; /* SYMMETRIC_DEFAULT | RSA_2048 | ... */
    char origin[16];   /* AWS_KMS */
    enum key_state state;
    double deletion_date; /* when PendingDeletion */
    int pending_days;
    bool rotation_enabled;
    int rotation_period_days;
    double next_rotation; /* when rotation_enabled */
    char *policy;         /* the key policy document, as stored */
    uint32_t current_version;
};
void store_key_clear(struct store_key *k);

/*
 * Inserts a key with its first material version (1; none when material is
 * NULL: a key of origin EXTERNAL, pending import) and its tags (a JSON
 * array of {"TagKey","TagValue"}, or NULL), in one transaction.
 */
CL_MUST_USE int store_key_create(struct store *st, const struct store_key *k,
                                 const uint8_t *material, size_t material_len, const json_t *tags,
                                 struct cl_error *err);
/* CL_ENOTFOUND when there is no such key. */
CL_MUST_USE int store_key_get(struct store *st, const char *id, struct store_key *out,
                              struct cl_error *err);
/* Writes back the mutable fields (description, state, deletion, rotation, policy). */
CL_MUST_USE int store_key_update(struct store *st, const struct store_key *k, struct cl_error *err);
/* Removes a key, its material, aliases and tags. */
CL_MUST_USE int store_key_delete(struct store *st, const char *id, struct cl_error *err);
/*
 * Up to limit key ids greater than after (NULL: from the start), in id
 * order: a JSON array of strings (new reference). *more says whether more follow.
 */
CL_MUST_USE int store_key_list(struct store *st, const char *after, size_t limit, json_t **ids,
                               bool *more, struct cl_error *err);
/* store_key_list() of one region: tag "@<region>", or NULL for the home
 * region (whose ids have no "@"). */
CL_MUST_USE int store_key_list_in(struct store *st, const char *tag, const char *after,
                                  size_t limit, json_t **ids, bool *more, struct cl_error *err);
/* Ids of keys pending deletion whose date has passed. */
CL_MUST_USE int store_key_list_expired(struct store *st, double now, json_t **ids,
                                       struct cl_error *err);

/* Unwrapped key material of a version; *material malloc'd (caller wipes+frees). */
CL_MUST_USE int store_material_get(struct store *st, const char *id, uint32_t version,
                                   uint8_t **material, size_t *len, struct cl_error *err);
/*
 * Adds material version current+1 and makes it current, keeping the old
 * versions (so old ciphertexts still decrypt); updates next_rotation and
 * records the rotation as ON_DEMAND or AUTOMATIC (store_rotation_list).
 * *new_version receives the new version.
 */
CL_MUST_USE int store_key_rotate(struct store *st, const char *id, const uint8_t *material,
                                 size_t len, double next_rotation, bool on_demand,
                                 uint32_t *new_version, struct cl_error *err);
/*
 * A key's material versions greater than `after` (0: from the start), oldest
 * first, the first version only when with_first: up to limit objects
 * {"Version": n, "Created": unix time, "Type": "AUTOMATIC"|"ON_DEMAND"} (no
 * Type for version 1) in a JSON array (new reference); *more says whether
 * more follow. A version made before the store recorded how (a store older
 * than the key_rotations table) is listed as AUTOMATIC.
 */
CL_MUST_USE int store_rotation_list(struct store *st, const char *id, uint32_t after,
                                    bool with_first, size_t limit, json_t **out, bool *more,
                                    struct cl_error *err);

/*
 * Imported key material (keys of origin EXTERNAL; store_imports.c). The
 * material itself is version 1 in the key's material table, wrapped like
 * every key's; the key_imports table keeps how it expires and a keyed
 * fingerprint of it (HMAC-SHA-256 under a key derived from the master key),
 * kept when the material is deleted or expires, so that only the same
 * material can be imported again.
 */
struct store_import {
    bool imported;   /* material was imported at least once */
    bool present;    /* it is there now (not deleted, not expired) */
    bool expires;    /* ExpirationModel KEY_MATERIAL_EXPIRES */
    double valid_to; /* when it expires (expires only) */
};
/* The import record of key id; all false when there is none. */
CL_MUST_USE int store_import_get(struct store *st, const char *id, struct store_import *out,
                                 struct cl_error *err);
/*
 * Imports material into key id, in one transaction: CL_EPERM when other
 * material was imported into it before; the key goes from PendingImport to
 * Enabled (another state is kept).
 */
CL_MUST_USE int store_import_put(struct store *st, const char *id, const uint8_t *material,
                                 size_t len, bool expires, double valid_to, struct cl_error *err);
/* Deletes key id's material (the fingerprint stays); the key goes to
 * PendingImport unless it is pending deletion. */
CL_MUST_USE int store_import_delete(struct store *st, const char *id, struct cl_error *err);
/* store_import_delete() when key id's material expires at or before now;
 * *expired says whether it did. */
CL_MUST_USE int store_import_expire(struct store *st, const char *id, double now, bool *expired,
                                    struct cl_error *err);
/* AES-256-GCM under the master key with aad (import tokens): nonce || ct ||
 * tag, *out malloc'd; unseal answers CL_ECRYPTO when it does not authenticate
 * (*pt malloc'd, the caller wipes and frees). */
CL_MUST_USE int store_seal(struct store *st, const char *aad, const uint8_t *pt, size_t len,
                           uint8_t **out, size_t *out_len, struct cl_error *err);
CL_MUST_USE int store_unseal(struct store *st, const char *aad, const uint8_t *in, size_t len,
                             uint8_t **pt, size_t *pt_len, struct cl_error *err);

/* A key's last successful cryptographic use (GetKeyLastUsage's KeyLastUsage). */
struct store_usage {
    char operation[48]; /* the KMS operation, e.g. Decrypt */
    double used;        /* when, seconds since the epoch */
    char event_id[37];  /* the audit line's eventId */
    char request_id[37];
};
/*
 * Notes a use of key_id. Kept in memory and written through at most once a
 * second per key (and at store_close): a kill -9 loses at most the last
 * second of notes (store_usage.c says why).
 */
CL_MUST_USE int store_usage_note(struct store *st, const char *key_id, const struct store_usage *u,
                                 struct cl_error *err);
/* The newest note of key_id, from disk or this process; *found false when none. */
CL_MUST_USE int store_usage_get(struct store *st, const char *key_id, struct store_usage *out,
                                bool *found, struct cl_error *err);
/* When this store began noting use (its TrackingStartDate). */
CL_MUST_USE int store_usage_since(struct store *st, double *since, struct cl_error *err);

/* Aliases. create: CL_EEXIST when the name is taken. update/delete/get:
 * CL_ENOTFOUND when it does not exist. get: *key_id malloc'd. */
CL_MUST_USE int store_alias_create(struct store *st, const char *name, const char *key_id,
                                   double now, struct cl_error *err);
CL_MUST_USE int store_alias_update(struct store *st, const char *name, const char *key_id,
                                   double now, struct cl_error *err);
CL_MUST_USE int store_alias_delete(struct store *st, const char *name, struct cl_error *err);
CL_MUST_USE int store_alias_get(struct store *st, const char *name, char **key_id,
                                struct cl_error *err);
/*
 * Aliases in name order after `after`, optionally only those of key_id:
 * a JSON array of {"AliasName","TargetKeyId","CreationDate","LastUpdatedDate"}.
 */
CL_MUST_USE int store_alias_list(struct store *st, const char *key_id, const char *after,
                                 size_t limit, json_t **out, bool *more, struct cl_error *err);

/* store_alias_list() of one region (tag as for store_key_list_in). */
CL_MUST_USE int store_alias_list_in(struct store *st, const char *tag, const char *key_id,
                                    const char *after, size_t limit, json_t **out, bool *more,
                                    struct cl_error *err);

/*
 * Multi-Region keys (store_mrk.c): keys whose id starts "mrk-", one row per
 * region they are in, sharing material versions. store_key_create() of
 * such a key records it as its key id's primary.
 *
 * store_mrk_get: the internal id of the primary (primary, KMS_ID_MAX bytes)
 * and the internal ids of every key with the key id of internal_id, sorted
 * (a JSON array, new reference); CL_ENOTFOUND when none is recorded.
 */
CL_MUST_USE int store_mrk_get(struct store *st, const char *internal_id, char *primary, size_t cap,
                              json_t **members, struct cl_error *err);
/*
 * Creates replica (its id the replica's internal id) of the key primary_id
 * in one transaction: its row with the primary's current version, a copy of
 * every material version of the primary (rewrapped for the replica) and of
 * how each came, and its tags. CL_EEXIST when the replica exists.
 */
CL_MUST_USE int store_key_replicate(struct store *st, const char *primary_id,
                                    const struct store_key *replica, const json_t *tags,
                                    struct cl_error *err);
/* Makes new_primary (an internal id) its key id's primary. */
CL_MUST_USE int store_mrk_set_primary(struct store *st, const char *new_primary,
                                      struct cl_error *err);

/* Tags: set (insert or replace) each {"TagKey","TagValue"} of a JSON array;
 * remove each key of a JSON array of strings; list in key order. */
CL_MUST_USE int store_tags_set(struct store *st, const char *key_id, const json_t *tags,
                               struct cl_error *err);
CL_MUST_USE int store_tags_remove(struct store *st, const char *key_id, const json_t *keys,
                                  struct cl_error *err);
CL_MUST_USE int store_tags_list(struct store *st, const char *key_id, const char *after,
                                size_t limit, json_t **out, bool *more, struct cl_error *err);

/*
 * Grants (store_grants.c). A grant is a JSON object in ListGrants' shape
 * (GrantListEntry: GrantId, KeyId = the key id, Name, CreationDate,
 * GranteePrincipal, RetiringPrincipal, IssuingAccount, Operations,
 * Constraints), stored with its token. A grant goes with its key.
 */
/* Inserts grant g with token (CL_EEXIST when its id or token is taken). */
CL_MUST_USE int store_grant_create(struct store *st, const json_t *g, const char *token,
                                   struct cl_error *err);
/* The grant with this id (*g new reference; *token malloc'd when token is
 * not NULL), or CL_ENOTFOUND. */
CL_MUST_USE int store_grant_get(struct store *st, const char *grant_id, json_t **g, char **token,
                                struct cl_error *err);
/* The grant a token resolves to (*g new reference), or CL_ENOTFOUND. */
CL_MUST_USE int store_grant_by_token(struct store *st, const char *token, json_t **g,
                                     struct cl_error *err);
/* Deletes a grant; CL_ENOTFOUND when there is none. */
CL_MUST_USE int store_grant_delete(struct store *st, const char *grant_id, struct cl_error *err);
/* Which grants a list selects: those of key_id, or (key_id NULL) those whose
 * retiring principal is retiring; optionally only grant_id or grantee. */
struct store_grant_filter {
    const char *key_id, *retiring, *grant_id, *grantee;
};
/*
 * Up to limit grants with ids greater than after (NULL: from the start), in
 * id order: a JSON array (new reference); *more says whether more follow.
 */
CL_MUST_USE int store_grant_list(struct store *st, const struct store_grant_filter *f,
                                 const char *after, size_t limit, json_t **out, bool *more,
                                 struct cl_error *err);
/* How many grants key_id has for grantee (NULL: for anyone). */
CL_MUST_USE int store_grant_count(struct store *st, const char *key_id, const char *grantee,
                                  long long *n, struct cl_error *err);

/* Principals (IAM users and roles of the one account). */
struct store_principal {
    char arn[256];
    char name[129];
    char kind[8];          /* "user" | "role" */
    char unique_id[32];    /* AIDA... / AROA... */
    char *identity_policy; /* NULL: none; owned */
};
void store_principal_clear(struct store_principal *p);
CL_MUST_USE int store_principal_create(struct store *st, const struct store_principal *p,
                                       double now, struct cl_error *err); /* CL_EEXIST when taken */
CL_MUST_USE int store_principal_get(struct store *st, const char *arn, struct store_principal *out,
                                    struct cl_error *err);

/* Access keys: long-term (session_token NULL) or temporary (a session). */
struct store_access_key {
    char akid[32];
    char secret[64];         /* unwrapped; wipe with store_access_key_clear */
    char principal_arn[256]; /* the user or role whose policies apply */
    char caller_arn[320];    /* the identity of requests: user ARN or assumed-role session ARN */
    char user_id[160];       /* STS UserId: AIDA... or AROA...:session */
    bool has_session;
    uint8_t token_hash[32]; /* SHA-256 of the session token */
    double expiration;      /* 0 for long-term keys */
};
void store_access_key_clear(struct store_access_key *k);
CL_MUST_USE int store_access_key_create(struct store *st, const struct store_access_key *k,
                                        double now, struct cl_error *err);
/* CL_ENOTFOUND when there is no such access key id. */
CL_MUST_USE int store_access_key_get(struct store *st, const char *akid,
                                     struct store_access_key *out, struct cl_error *err);
/* Deletes the sessions' keys that expired before now (*removed: how many).
 * A cached copy may outlive the row; it is refused for its expiry anyway. */
CL_MUST_USE int store_access_key_prune(struct store *st, double now, int *removed,
                                       struct cl_error *err);

#endif
