/* SPDX-License-Identifier: Apache-2.0 */
/* Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/authorize.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/marker.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

/* Alias names: 1-256 of [a-zA-Z0-9:/_-], "alias/" first, "alias/aws/" reserved. */
static int check_alias_name(struct call *c, const char *name, bool creating)
{
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(":/_-", *p)))
            return call_fail(c, "ValidationException",
                             "1 validation error detected: Value '%.256s' at 'aliasName' failed to "
                             "satisfy constraint: Member must satisfy regular expression pattern: "
                             "^[a-zA-Z0-9:/_-]+$",
                             name);
    if (strncmp(name, "alias/", 6) != 0 || name[6] == 0)
        return call_fail(c, "InvalidAliasNameException",
                         "Alias must start with the prefix \"alias/\".");
    if (creating && !strncmp(name, "alias/aws/", 10))
        return call_fail(c, "InvalidAliasNameException",
                         "Cannot create alias with prefix 'alias/aws/' (reserved for AWS managed "
                         "keys)");
    return 0;
}

/* The AliasName member, checked. */
static int alias_name(struct call *c, bool creating, const char **name)
{
    if (req_string(c->in, "AliasName", true, 1, 256, name, &c->err) < 0)
        return -1;
    return check_alias_name(c, *name, creating);
}

/* The key an existing alias points to (*k filled; caller clears). */
static int alias_target(struct call *c, const char *name, struct store_key *k)
{
    char *target = NULL, stored[400];
    struct cl_error err = { 0 };
    alias_internal(c, name, stored, sizeof(stored));
    int r = store_alias_get(c->s->store, stored, &target, &err);
    if (r == CL_ENOTFOUND)
        return call_fail(c, "NotFoundException", "Alias arn:aws:kms:%s:%s:%s is not found.",
                         c->region, c->s->account, name);
    if (r < 0)
        return call_fail_internal(c, &err);
    r = store_key_get(c->s->store, target, k, &err);
    free(target);
    if (r < 0)
        return call_fail_internal(c, &err);
    return 0;
}

int op_create_alias(struct call *c)
{
    const char *name;
    if (alias_name(c, true, &name) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "TargetKeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:CreateAlias", &k);
    if (rc == 0) {
        struct cl_error err = { 0 };
        char stored[400];
        alias_internal(c, name, stored, sizeof(stored));
        int r = store_alias_create(c->s->store, stored, k.id, ku_now(), &err);
        if (r == CL_EEXIST)
            rc = call_fail(c, "AlreadyExistsException",
                           "An alias with the name arn:aws:kms:%s:%s:%s already exists", c->region,
                           c->s->account, name);
        else if (r < 0)
            rc = call_fail_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

int op_update_alias(struct call *c)
{
    const char *name;
    if (alias_name(c, false, &name) < 0)
        return -1;
    struct store_key old = { 0 }, k = { 0 };
    int rc = alias_target(c, name, &old);
    if (rc == 0)
        rc = load_key(c, "TargetKeyId", IDS_KEY_ONLY, &k);
    if (rc == 0)
        rc = require_not_pending(c, &k);
    if (rc == 0 && old.usage != k.usage)
        rc = call_fail(c, "ValidationException",
                       "The new target key must have the same key usage as the current one.");
    /* AWS wants kms:UpdateAlias on both the current and the new target */
    if (rc == 0)
        rc = authorize(c, "kms:UpdateAlias", &old);
    if (rc == 0)
        rc = authorize(c, "kms:UpdateAlias", &k);
    if (rc == 0) {
        struct cl_error err = { 0 };
        char stored[400];
        alias_internal(c, name, stored, sizeof(stored));
        if (store_alias_update(c->s->store, stored, k.id, ku_now(), &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    store_key_clear(&old);
    store_key_clear(&k);
    return rc;
}

int op_delete_alias(struct call *c)
{
    const char *name;
    if (alias_name(c, false, &name) < 0)
        return -1;
    struct store_key k = { 0 };
    int rc = alias_target(c, name, &k);
    if (rc == 0) {
        call_name_key(c, k.id);
        rc = authorize(c, "kms:DeleteAlias", &k);
    }
    if (rc == 0) {
        struct cl_error err = { 0 };
        char stored[400];
        alias_internal(c, name, stored, sizeof(stored));
        if (store_alias_delete(c->s->store, stored, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

int op_list_aliases(struct call *c)
{
    long long limit;
    const char *marker, *ident;
    if (paging(c, 100, 50, &limit, &marker) < 0 ||
        req_string(c->in, "KeyId", false, 1, KEYID_MAX, &ident, &c->err) < 0)
        return -1;
    struct store_key k = { 0 };
    if (ident) {
        if (resolve_key_id(c, ident, IDS_KEY_ONLY, &k) < 0)
            return -1;
        if (authorize(c, "kms:ListAliases", &k) < 0) {
            store_key_clear(&k);
            return -1;
        }
    } else if (authorize(c, "kms:ListAliases", NULL) < 0) {
        return -1;
    }
    /* a marker resumes the list it came from: all aliases, or one key's */
    char scope[128], *after = NULL;
    snprintf(scope, sizeof(scope), "ListAliases/%s", ident ? k.id : "");
    if (marker_read(c, scope, marker, &after) < 0) {
        store_key_clear(&k);
        return -1;
    }
    purge_expired(c);
    json_t *rows = NULL;
    bool more = false;
    struct cl_error err = { 0 };
    char tag[40] = "";
    if (strcmp(c->region, c->s->region) != 0)
        snprintf(tag, sizeof(tag), "@%s", c->region);
    int rc = store_alias_list_in(c->s->store, tag[0] ? tag : NULL, ident ? k.id : NULL, after,
                                 (size_t)limit, &rows, &more, &err);
    store_key_clear(&k);
    free(after);
    if (rc < 0)
        return call_fail_internal(c, &err);
    /* the marker names the stored (region-tagged) name; the answer the alias's */
    if (more)
        marker_set_next(c->out = json_object(), scope,
                        json_string_value(json_object_get(
                            json_array_get(rows, json_array_size(rows) - 1), "AliasName")));
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a)
    {
        char aarn[512], name[400], target[KMS_ID_MAX];
        kms_public_id(json_string_value(json_object_get(a, "AliasName")), name, sizeof(name));
        kms_public_id(json_string_value(json_object_get(a, "TargetKeyId")), target, sizeof(target));
        snprintf(aarn, sizeof(aarn), "arn:aws:kms:%s:%s:%s", c->region, c->s->account, name);
        json_object_set_new(a, "AliasName", json_string(name));
        json_object_set_new(a, "TargetKeyId", json_string(target));
        json_object_set_new(a, "AliasArn", json_string(aarn));
    }
    if (!c->out)
        c->out = json_object();
    json_object_set_new(c->out, "Aliases", rows);
    json_object_set_new(c->out, "Truncated", json_boolean(more));
    return 0;
}
