/* SPDX-License-Identifier: Apache-2.0 */
/* A key's tags: TagResource, UntagResource, ListResourceTags. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "call/authorize.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/marker.h"
#include "ops/ops.h"

/* Would adding tags leave the key with more than TAGS_PER_KEY_MAX? The
 * limit counts the tags the key would have afterwards. */
static int check_tag_limit(struct call *c, const struct store_key *k, const json_t *tags)
{
    struct cl_error err = { 0 };
    json_t *cur = NULL;
    bool more;
    if (store_tags_list(c->s->store, k->id, NULL, 1000, &cur, &more, &err) < 0)
        return call_fail_internal(c, &err);
    size_t have = json_array_size(cur), added = 0;
    size_t i, j;
    json_t *t, *u;
    json_array_foreach(tags, i, t)
    {
        bool found = false;
        json_array_foreach(cur, j, u)
        {
            if (json_equal(json_object_get(t, "TagKey"), json_object_get(u, "TagKey")))
                found = true;
        }
        added += !found;
    }
    json_decref(cur);
    if (have + added > TAGS_PER_KEY_MAX)
        return call_fail(c, "LimitExceededException", "A key can have at most %d tags.",
                         TAGS_PER_KEY_MAX);
    return 0;
}

int op_tag_resource(struct call *c)
{
    const json_t *tags;
    if (req_tags(c->in, "Tags", true, TAGS_PER_KEY_MAX, &tags, &c->err) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:TagResource", &k);
    if (rc == 0)
        rc = check_tag_limit(c, &k, tags);
    if (rc == 0) {
        struct cl_error err = { 0 };
        if (store_tags_set(c->s->store, k.id, tags, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

int op_untag_resource(struct call *c)
{
    const json_t *keys;
    if (req_string_list(c->in, "TagKeys", true, 1, 128, &keys, &c->err) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:UntagResource", &k);
    if (rc == 0) {
        struct cl_error err = { 0 };
        if (store_tags_remove(c->s->store, k.id, keys, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    store_key_clear(&k);
    return rc;
}

int op_list_resource_tags(struct call *c)
{
    long long limit;
    const char *marker;
    struct store_key k;
    if (paging(c, 50, 50, &limit, &marker) < 0 || load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    char scope[128], *after = NULL;
    snprintf(scope, sizeof(scope), "ListResourceTags/%s", k.id);
    int rc = marker_read(c, scope, marker, &after);
    if (rc == 0)
        rc = authorize(c, "kms:ListResourceTags", &k);
    if (rc == 0) {
        json_t *tags = NULL;
        bool more = false;
        struct cl_error err = { 0 };
        if (store_tags_list(c->s->store, k.id, after, (size_t)limit, &tags, &more, &err) < 0) {
            rc = call_fail_internal(c, &err);
        } else {
            c->out = json_pack("{s:o, s:b}", "Tags", tags, "Truncated", more);
            if (more)
                marker_set_next(c->out, scope,
                                json_string_value(json_object_get(
                                    json_array_get(tags, json_array_size(tags) - 1), "TagKey")));
        }
    }
    free(after);
    store_key_clear(&k);
    return rc;
}
