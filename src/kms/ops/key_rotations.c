/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ListKeyRotations: a key's material versions (store.h,
 * store_rotation_list), as botocore's KMS model shapes them
 * (ListKeyRotationsRequest/Response, RotationsListEntry): by default the
 * completed rotations, oldest first, each with its RotationDate and
 * RotationType (AUTOMATIC or ON_DEMAND, RotateKeyOnDemand's); with
 * IncludeKeyMaterial=ALL_KEY_MATERIAL the first material too (without date
 * or type). Every entry carries KeyMaterialId and KeyMaterialState
 * (CURRENT or NON_CURRENT). Only keys that rotate (symmetric encryption
 * keys) have a rotation list: UnsupportedOperationException otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/authorize.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "ops/marker.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

static const char *const INCLUDE_KEY_MATERIAL[] = { "ALL_KEY_MATERIAL", "ROTATIONS_ONLY", NULL };

/* A rotation that fell due while nobody used the key happens now, so the
 * list shows it (key_ref.c, key_material(), does it on use); a disabled key
 * does not rotate. */
static int apply_due_rotation(struct call *c, struct store_key *k)
{
    if (k->state != KEY_ENABLED || !k->rotation_enabled || ku_now() < k->next_rotation)
        return 0;
    uint8_t *m = NULL;
    size_t n = 0;
    if (key_material(c, k, 0, &m, &n) < 0)
        return -1;
    ku_wipe_free(m);
    return 0;
}

static json_t *rotation_entry(const struct store_key *k, json_t *row)
{
    json_int_t v = json_integer_value(json_object_get(row, "Version"));
    char mid[65], pub[KMS_ID_MAX];
    kms_public_id(k->id, pub, sizeof(pub)); /* related multi-Region keys share material ids */
    key_material_id(pub, (uint32_t)v, mid);
    json_t *e = json_pack("{s:s, s:s, s:s}", "KeyId", pub, "KeyMaterialId", mid, "KeyMaterialState",
                          (uint32_t)v == k->current_version ? "CURRENT" : "NON_CURRENT");
    json_t *type = json_object_get(row, "Type");
    if (type) {
        json_object_set(e, "RotationDate", json_object_get(row, "Created"));
        json_object_set(e, "RotationType", type);
    }
    return e;
}

int op_list_key_rotations(struct call *c)
{
    long long limit;
    const char *marker, *include;
    if (paging(c, 1000, 100, &limit, &marker) < 0 ||
        req_enum(c->in, "IncludeKeyMaterial", false, INCLUDE_KEY_MATERIAL, &include, &c->err) < 0)
        return -1;
    bool all = include && !strcmp(include, "ALL_KEY_MATERIAL");
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    char scope[160], *after = NULL;
    snprintf(scope, sizeof(scope), "ListKeyRotations/%s/%s", k.id, all ? "all" : "rotations");
    int rc = require_not_pending(c, &k);
    if (rc == 0 && !is_symmetric(&k)) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        rc = call_fail(c, "UnsupportedOperationException",
                       "%s key spec is %s: key rotations are listed for symmetric encryption keys "
                       "only.",
                       arn, k.key_spec);
    }
    if (rc == 0)
        rc = marker_read(c, scope, marker, &after);
    if (rc == 0)
        rc = authorize(c, "kms:ListKeyRotations", &k);
    if (rc == 0)
        rc = apply_due_rotation(c, &k);
    unsigned long long from = 0;
    if (rc == 0 && after) {
        char *end;
        from = strtoull(after, &end, 10);
        if (*end || from == 0 || from > UINT32_MAX) /* a marker of ours always parses */
            rc = call_fail(c, "InvalidMarkerException", "Invalid marker %s", marker);
    }
    json_t *rows = NULL;
    bool more = false;
    if (rc == 0) {
        struct cl_error err = { 0 };
        if (store_rotation_list(c->s->store, k.id, (uint32_t)from, all, (size_t)limit, &rows, &more,
                                &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    if (rc == 0) {
        json_t *list = json_array(), *row;
        size_t i;
        json_array_foreach(rows, i, row) json_array_append_new(list, rotation_entry(&k, row));
        c->out = json_pack("{s:o, s:b}", "Rotations", list, "Truncated", more);
        if (more) {
            char last[24];
            snprintf(last, sizeof(last), "%lld",
                     (long long)json_integer_value(json_object_get(
                         json_array_get(rows, json_array_size(rows) - 1), "Version")));
            marker_set_next(c->out, scope, last);
        }
    }
    json_decref(rows);
    free(after);
    store_key_clear(&k);
    return rc;
}
