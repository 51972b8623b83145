/* SPDX-License-Identifier: Apache-2.0 */
/* The key a request names (key_ref.h). */
#include "ops/key_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "call/context.h"
#include "call/request.h"
#include "ops/imports.h"
#include "ops/keyspec.h"
#include "util/kmsutil.h"

#define DAY 86400.0

void key_arn(const struct call *c, const struct store_key *k, char out[KEY_ARN_MAX])
{
    kms_key_arn(c->s, k->id, out, KEY_ARN_MAX);
}

void key_material_id(const char *key_id, uint32_t version, char out[65])
{
    char name[128];
    int n = snprintf(name, sizeof(name), "cloister-kms/key-material-id/v1/%s/%lld", key_id,
                     (long long)version);
    ku_sha256_hex(name, (size_t)n, out);
}

int key_import_expiry(struct call *c, struct store_key *k)
{
    if (!key_is_external(k) || k->state == KEY_PENDING_IMPORT)
        return 0;
    bool expired = false;
    struct cl_error err = { 0 };
    if (store_import_expire(c->s->store, k->id, ku_now(), &expired, &err) < 0)
        return call_fail_internal(c, &err);
    /* AWS deletes expired material and the key waits for it again
     * (docs/kms.md, "Imported key material") */
    if (expired && k->state != KEY_PENDING_DELETION)
        k->state = KEY_PENDING_IMPORT;
    return 0;
}

void purge_expired(struct call *c)
{
    json_t *ids = NULL;
    if (store_key_list_expired(c->s->store, ku_now(), &ids, NULL) < 0)
        return;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (store_key_delete(c->s->store, json_string_value(id), NULL) < 0)
            continue; /* still past its date: the next listing tries again */
    }
    json_decref(ids);
}

bool is_mrk_id(const char *s)
{
    if (strncmp(s, "mrk-", 4) != 0 || strlen(s) != 36)
        return false;
    for (const char *p = s + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return false;
    return true;
}

void alias_internal(const struct call *c, const char *name, char *out, size_t cap)
{
    kms_internal_id(c->s, c->region, name, out, cap);
}

/* The internal id of the key an alias of the request's region names,
 * kms:RequestAlias recorded. */
static int alias_key_id(struct call *c, const char *alias, const char *arn_prefix, char *id,
                        size_t cap)
{
    char *target = NULL, name[400];
    struct cl_error err = { 0 };
    alias_internal(c, alias, name, sizeof(name));
    int rc = store_alias_get(c->s->store, name, &target, &err);
    if (rc == CL_ENOTFOUND)
        return call_fail(c, "NotFoundException", "Alias %s%s is not found.", arn_prefix, alias);
    if (rc < 0)
        return call_fail_internal(c, &err);
    snprintf(id, cap, "%s", target);
    free(target);
    return call_context_alias(c, alias);
}

int resolve_key_id(struct call *c, const char *ident, enum id_forms forms, struct store_key *k)
{
    char prefix[128], id[KMS_ID_MAX] = "";
    snprintf(prefix, sizeof(prefix), "arn:aws:kms:%s:%s:", c->region, c->s->account);
    size_t pl = strlen(prefix);
    const char *alias = NULL;
    if (ku_is_uuid(ident) || is_mrk_id(ident)) {
        snprintf(id, sizeof(id), "%s", ident);
    } else if (!strncmp(ident, prefix, pl) && !strncmp(ident + pl, "key/", 4) &&
               (ku_is_uuid(ident + pl + 4) || is_mrk_id(ident + pl + 4))) {
        snprintf(id, sizeof(id), "%s", ident + pl + 4);
    } else if (!strncmp(ident, "alias/", 6)) {
        alias = ident;
    } else if (!strncmp(ident, prefix, pl) && !strncmp(ident + pl, "alias/", 6)) {
        alias = ident + pl;
    } else if (!strncmp(ident, "arn:", 4)) {
        return call_fail(c, "NotFoundException", "Invalid arn %s", ident);
    } else {
        return call_fail(c, "NotFoundException", "Invalid keyId '%s'", ident);
    }
    if (alias) {
        if (forms != IDS_WITH_ALIAS)
            return call_fail(c, "NotFoundException", "Invalid keyId '%s'", ident);
        if (alias_key_id(c, alias, prefix, id, sizeof(id)) < 0)
            return -1;
    }
    for (char *p = id; *p && *p != '@'; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    if (!alias) { /* the key of that id in the request's region */
        char pub[KMS_ID_MAX];
        snprintf(pub, sizeof(pub), "%s", id);
        kms_internal_id(c->s, c->region, pub, id, sizeof(id));
    }
    struct cl_error err = { 0 };
    int rc = store_key_get(c->s->store, id, k, &err);
    if (rc == 0 && k->state == KEY_PENDING_DELETION && k->deletion_date <= ku_now()) {
        /* past its deletion date: gone, whether or not deleting it works now */
        if (store_key_delete(c->s->store, id, NULL) < 0) {
            /* it stays in the store; the next request naming it tries again */
        }
        store_key_clear(k);
        rc = CL_ENOTFOUND;
    }
    char arn[KEY_ARN_MAX];
    kms_key_arn(c->s, id, arn, sizeof(arn));
    if (rc == CL_ENOTFOUND)
        return call_fail(c, "NotFoundException", "Key '%s' does not exist", arn);
    if (rc < 0)
        return call_fail_internal(c, &err);
    call_name_key(c, id);
    if (key_import_expiry(c, k) < 0 || call_context_key(c, k) < 0) {
        store_key_clear(k);
        return -1;
    }
    return 0;
}

int load_key(struct call *c, const char *member, enum id_forms forms, struct store_key *k)
{
    const char *ident;
    if (req_string(c->in, member, true, 1, KEYID_MAX, &ident, &c->err) < 0)
        return -1;
    return resolve_key_id(c, ident, forms, k);
}

int require_usable(struct call *c, const struct store_key *k)
{
    char arn[KEY_ARN_MAX];
    key_arn(c, k, arn);
    if (k->state == KEY_DISABLED)
        return call_fail(c, "DisabledException", "%s is disabled.", arn);
    if (k->state == KEY_PENDING_IMPORT)
        return call_fail(c, "KMSInvalidStateException", "%s is pending import.", arn);
    return require_not_pending(c, k);
}

int require_not_pending(struct call *c, const struct store_key *k)
{
    char arn[KEY_ARN_MAX];
    key_arn(c, k, arn);
    if (k->state == KEY_PENDING_DELETION)
        return call_fail(c, "KMSInvalidStateException", "%s is pending deletion.", arn);
    if (k->state == KEY_PENDING_REPLICA_DELETION) /* modelled on the line above */
        return call_fail(c, "KMSInvalidStateException", "%s is pending replica deletion.", arn);
    return 0;
}

int require_usage(struct call *c, const struct store_key *k, enum key_usage usage, const char *op)
{
    if (k->usage != usage) {
        char arn[KEY_ARN_MAX];
        key_arn(c, k, arn);
        return call_fail(c, "InvalidKeyUsageException",
                         "%s key usage is %s which is not valid for %s.", arn,
                         key_usage_name(k->usage), op);
    }
    return 0;
}

void key_note_used(struct call *c, const char *id)
{
    for (unsigned i = 0; i < c->n_used_keys; i++)
        if (!strcmp(c->used_keys[i], id))
            return;
    if (c->n_used_keys < sizeof(c->used_keys) / sizeof(c->used_keys[0]))
        snprintf(c->used_keys[c->n_used_keys++], sizeof(c->used_keys[0]), "%s", id);
}

int key_material(struct call *c, struct store_key *k, uint32_t version, uint8_t **m, size_t *len)
{
    struct cl_error err = { 0 };
    if (version == 0 && k->rotation_enabled && is_symmetric(k) && ku_now() >= k->next_rotation) {
        uint8_t fresh[32];
        uint32_t nv;
        if (ku_random(fresh, sizeof(fresh), &err) < 0 ||
            store_key_rotate(c->s->store, k->id, fresh, sizeof(fresh),
                             ku_now() + k->rotation_period_days * DAY, false, &nv, &err) < 0) {
            OPENSSL_cleanse(fresh, sizeof(fresh));
            return call_fail_internal(c, &err);
        }
        OPENSSL_cleanse(fresh, sizeof(fresh));
        k->current_version = nv;
    }
    if (version == 0)
        version = k->current_version;
    if (store_material_get(c->s->store, k->id, version, m, len, &err) < 0)
        return call_fail_internal(c, &err);
    key_note_used(c, k->id);
    return 0;
}

EVP_PKEY *key_private(struct call *c, struct store_key *k)
{
    uint8_t *m = NULL;
    size_t n = 0;
    if (key_material(c, k, 1, &m, &n) < 0)
        return NULL;
    const unsigned char *p = m;
    EVP_PKEY *pk = d2i_AutoPrivateKey(NULL, &p, (long)n);
    ku_wipe_free(m);
    if (!pk) {
        struct cl_error err = { 0 };
        cl_fail_openssl(&err, CL_ECRYPTO, "stored private key does not parse");
        call_fail_internal(c, &err);
    }
    return pk;
}
