/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, and the
 * MultiRegionConfiguration DescribeKey answers. Related multi-Region keys
 * share their key id ("mrk-" + 32 hex digits) and material and live in
 * different regions of the one server (call.h, "Regions"; the store's side
 * is state/store_mrk.c); each has its own policy, description, tags,
 * aliases and state. Messages AWS does not publish are modelled on the
 * service's others (docs/kms.md, "Multi-Region keys").
 */
#include "ops/multi_region.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/authorize.h"
#include "call/context.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/ops.h"
#include "policy/policy.h"
#include "util/kmsutil.h"

#define DESCRIPTION_MAX 8192
#define REGION_MAX      32

static json_t *mrk_key(const struct call *c, const char *internal)
{
    char arn[KEY_ARN_MAX], region[32];
    kms_key_arn(c->s, internal, arn, sizeof(arn));
    kms_id_region(c->s, internal, region, sizeof(region));
    return json_pack("{s:s, s:s}", "Arn", arn, "Region", region);
}

json_t *mrk_configuration(struct call *c, const struct store_key *k)
{
    char primary[KMS_ID_MAX];
    json_t *members = NULL;
    if (store_mrk_get(c->s->store, k->id, primary, sizeof(primary), &members, NULL) < 0)
        return NULL;
    json_t *replicas = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(members, i, v)
    {
        if (strcmp(json_string_value(v), primary) != 0)
            json_array_append_new(replicas, mrk_key(c, json_string_value(v)));
    }
    json_decref(members);
    return json_pack("{s:s, s:o, s:o}", "MultiRegionKeyType",
                     strcmp(k->id, primary) ? "REPLICA" : "PRIMARY", "PrimaryKey",
                     mrk_key(c, primary), "ReplicaKeys", replicas);
}

int mrk_role(struct call *c, const struct store_key *k, bool *primary, size_t *n_replicas)
{
    char p[KMS_ID_MAX];
    json_t *members = NULL;
    struct cl_error err = { 0 };
    if (store_mrk_get(c->s->store, k->id, p, sizeof(p), &members, &err) < 0)
        return call_fail_internal(c, &err);
    *primary = !strcmp(p, k->id);
    *n_replicas = json_array_size(members) - 1;
    json_decref(members);
    return 0;
}

int mrk_sync_rotation(struct call *c, const struct store_key *k)
{
    if (strncmp(k->id, "mrk-", 4) != 0)
        return 0;
    char p[KMS_ID_MAX];
    json_t *members = NULL;
    struct cl_error err = { 0 };
    int rc = store_mrk_get(c->s->store, k->id, p, sizeof(p), &members, &err);
    size_t i;
    json_t *v;
    json_array_foreach(members, i, v)
    {
        struct store_key r;
        if (rc < 0 || !strcmp(json_string_value(v), k->id))
            continue;
        rc = store_key_get(c->s->store, json_string_value(v), &r, &err);
        if (rc < 0)
            break;
        r.rotation_enabled = k->rotation_enabled;
        r.rotation_period_days = k->rotation_period_days;
        r.next_rotation = k->next_rotation;
        rc = store_key_update(c->s->store, &r, &err);
        store_key_clear(&r);
    }
    json_decref(members);
    return rc < 0 ? call_fail_internal(c, &err) : 0;
}

/* A region member (ReplicaRegion, PrimaryRegion): the model's bounds and
 * pattern ^([a-z]+-){2,3}\d+$, then one the server serves. */
static int region_member(struct call *c, const char *member, const char *wire, const char **out)
{
    if (req_string(c->in, member, true, 1, REGION_MAX, out, &c->err) < 0)
        return -1;
    regex_t re;
    bool ok = regcomp(&re, "^([a-z]+-){2,3}[0-9]+$", REG_EXTENDED | REG_NOSUB) == 0;
    if (ok) {
        ok = regexec(&re, *out, 0, NULL, 0) == 0;
        regfree(&re);
    }
    if (!ok)
        return call_fail(c, "ValidationException",
                         "1 validation error detected: Value '%s' at '%s' failed to satisfy "
                         "constraint: Member must satisfy regular expression pattern: "
                         "^([a-z]+-){2,3}\\d+$",
                         *out, wire);
    if (!kms_region_known(c->s, *out))
        return call_fail(c, "UnsupportedOperationException",
                         "The Region %s is not supported by this service.", *out);
    return 0;
}

/* The key must be a multi-Region primary key (ReplicateKey, UpdatePrimaryRegion). */
static int require_primary(struct call *c, const struct store_key *k, bool *primary)
{
    char arn[KEY_ARN_MAX];
    key_arn(c, k, arn);
    char pub[KMS_ID_MAX];
    kms_public_id(k->id, pub, sizeof(pub));
    if (!is_mrk_id(pub))
        return call_fail(c, "UnsupportedOperationException", "%s is not a multi-Region key.", arn);
    size_t n;
    if (mrk_role(c, k, primary, &n) < 0)
        return -1;
    if (!*primary)
        return call_fail(c, "UnsupportedOperationException",
                         "%s is not a multi-Region primary key.", arn);
    return 0;
}

struct replicate_args {
    const char *region, *policy, *desc;
    bool bypass;
    const json_t *tags;
};

/* The replica's row: the primary's shared properties, the request's own. */
static void replica_of(struct call *c, const struct store_key *p, const struct replicate_args *a,
                       char *policy, struct store_key *r)
{
    char pub[KMS_ID_MAX];
    kms_public_id(p->id, pub, sizeof(pub));
    kms_internal_id(c->s, a->region, pub, r->id, sizeof(r->id));
    r->created = ku_now();
    r->description = (char *)(a->desc ? a->desc : "");
    r->usage = p->usage;
    memcpy(r->key_spec, p->key_spec, sizeof(r->key_spec));
    memcpy(r->origin, p->origin, sizeof(r->origin));
    r->state = KEY_ENABLED;
    /* automatic rotation is a shared property (rotation.c keeps it so) */
    r->rotation_enabled = p->rotation_enabled;
    r->rotation_period_days = p->rotation_period_days;
    r->next_rotation = p->next_rotation;
    r->policy = policy;
    r->current_version = p->current_version;
}

/* Creates the replica after the checks; fills c->out. */
static int replicate(struct call *c, const struct store_key *p, const struct replicate_args *a)
{
    struct store_key r = { 0 };
    replica_of(c, p, a, NULL, &r);
    char rarn[KEY_ARN_MAX];
    kms_key_arn(c->s, r.id, rarn, sizeof(rarn));
    struct store_key existing;
    if (store_key_get(c->s->store, r.id, &existing, NULL) == 0) {
        store_key_clear(&existing);
        return call_fail(c, "AlreadyExistsException", "%s already exists.", rarn);
    }
    char *policy = NULL;
    if (a->policy) {
        if (authorize_key_policy(c, a->policy, rarn, a->bypass) < 0)
            return -1;
        policy = strdup(a->policy);
    } else {
        policy = policy_default_text("aws", c->s->account);
    }
    if (!policy)
        return call_fail_internal(c, NULL);
    r.policy = policy;
    struct cl_error err = { 0 };
    int rc = store_key_replicate(c->s->store, p->id, &r, a->tags, &err);
    if (rc == CL_EEXIST)
        rc = call_fail(c, "AlreadyExistsException", "%s already exists.", rarn);
    else if (rc < 0)
        rc = call_fail_internal(c, &err);
    if (rc == 0) {
        json_t *meta = key_metadata(c, &r);
        json_t *tags = a->tags ? json_deep_copy(a->tags) : json_array();
        c->out = json_pack("{s:o, s:s, s:o}", "ReplicaKeyMetadata", meta, "ReplicaPolicy", policy,
                           "ReplicaTags", tags);
    }
    free(policy);
    return rc;
}

int op_replicate_key(struct call *c)
{
    struct replicate_args a = { 0 };
    if (req_string(c->in, "Policy", false, 1, POLICY_MEMBER_MAX, &a.policy, &c->err) < 0 ||
        req_string(c->in, "Description", false, 0, DESCRIPTION_MAX, &a.desc, &c->err) < 0 ||
        req_bool(c->in, "BypassPolicyLockoutSafetyCheck", &a.bypass, &c->err) < 0 ||
        req_tags(c->in, "Tags", false, TAGS_PER_KEY_MAX, &a.tags, &c->err) < 0 ||
        region_member(c, "ReplicaRegion", "replicaRegion", &a.region) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    bool primary;
    int rc = require_primary(c, &k, &primary);
    if (rc == 0)
        rc = require_not_pending(c, &k);
    if (rc == 0 && !strcmp(a.region, c->region))
        rc = call_fail(c, "ValidationException",
                       "The replica Region %s is the Region of the primary key.", a.region);
    /* AWS: kms:ReplicateKey on the primary key, kms:CreateKey (and with Tags
     * kms:TagResource) in an IAM policy of the replica's Region */
    if (rc == 0)
        rc = call_context_region(c, "kms:ReplicaRegion", a.region);
    if (rc == 0)
        rc = authorize(c, "kms:ReplicateKey", &k);
    if (rc == 0)
        rc = authorize(c, "kms:CreateKey", NULL);
    if (rc == 0 && a.tags)
        rc = authorize(c, "kms:TagResource", NULL);
    if (rc == 0)
        rc = replicate(c, &k, &a);
    store_key_clear(&k);
    return rc;
}

int op_update_primary_region(struct call *c)
{
    const char *region;
    if (region_member(c, "PrimaryRegion", "primaryRegion", &region) < 0)
        return -1;
    struct store_key k, r = { 0 };
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    bool primary;
    int rc = require_primary(c, &k, &primary);
    if (rc == 0)
        rc = require_not_pending(c, &k);
    char pub[KMS_ID_MAX], rid[KMS_ID_MAX], rarn[KEY_ARN_MAX];
    kms_public_id(k.id, pub, sizeof(pub));
    kms_internal_id(c->s, region, pub, rid, sizeof(rid));
    kms_key_arn(c->s, rid, rarn, sizeof(rarn));
    if (rc == 0 && !strcmp(rid, k.id))
        rc = call_fail(c, "ValidationException", "%s is already the primary key.", rarn);
    if (rc == 0) {
        int r2 = store_key_get(c->s->store, rid, &r, NULL);
        if (r2 == CL_ENOTFOUND)
            rc = call_fail(c, "NotFoundException", "Key '%s' does not exist", rarn);
        else if (r2 < 0)
            rc = call_fail_internal(c, NULL);
    }
    if (rc == 0)
        rc = require_not_pending(c, &r);
    /* AWS: kms:UpdatePrimaryRegion on the primary key and on the replica */
    if (rc == 0)
        rc = call_context_region(c, "kms:PrimaryRegion", region);
    if (rc == 0)
        rc = authorize(c, "kms:UpdatePrimaryRegion", &k);
    if (rc == 0)
        rc = authorize(c, "kms:UpdatePrimaryRegion", &r);
    if (rc == 0) {
        struct cl_error err = { 0 };
        if (store_mrk_set_primary(c->s->store, rid, &err) < 0)
            rc = call_fail_internal(c, &err);
    }
    if (rc == 0)
        c->out = json_object();
    store_key_clear(&k);
    store_key_clear(&r);
    return rc;
}
