/* SPDX-License-Identifier: Apache-2.0 */
/* Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies (one policy, "default"). */
#include <stdlib.h>
#include <string.h>

#include "call/authorize.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/key_ref.h"
#include "ops/ops.h"

/* PolicyName: only "default" exists. */
static int policy_name(struct call *c)
{
    const char *name;
    if (req_string(c->in, "PolicyName", false, 1, 128, &name, &c->err) < 0)
        return -1;
    if (name && strcmp(name, "default") != 0)
        return call_fail(c, "NotFoundException",
                         "No such policy exists: %s. The only policy name is \"default\".", name);
    return 0;
}

int op_get_key_policy(struct call *c)
{
    struct store_key k;
    if (policy_name(c) < 0 || load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = authorize(c, "kms:GetKeyPolicy", &k);
    if (rc == 0)
        c->out = json_pack("{s:s, s:s}", "Policy", k.policy, "PolicyName", "default");
    store_key_clear(&k);
    return rc;
}

int op_put_key_policy(struct call *c)
{
    const char *text;
    bool bypass;
    if (req_string(c->in, "Policy", true, 1, POLICY_MEMBER_MAX, &text, &c->err) < 0 ||
        req_bool(c->in, "BypassPolicyLockoutSafetyCheck", &bypass, &c->err) < 0)
        return -1;
    struct store_key k;
    if (policy_name(c) < 0 || load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:PutKeyPolicy", &k);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        rc = authorize_key_policy(c, text, arn, bypass);
    }
    if (rc == 0) {
        char *copy = strdup(text);
        if (!copy) {
            rc = call_fail_internal(c, NULL);
        } else {
            free(k.policy);
            k.policy = copy;
            struct cl_error err = { 0 };
            if (store_key_update(c->s->store, &k, &err) < 0)
                rc = call_fail_internal(c, &err);
        }
    }
    store_key_clear(&k);
    return rc;
}

int op_list_key_policies(struct call *c)
{
    long long limit;
    const char *marker;
    struct store_key k;
    if (paging(c, 1000, 100, &limit, &marker) < 0 || load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    int rc = authorize(c, "kms:ListKeyPolicies", &k);
    if (rc == 0)
        c->out = json_pack("{s:[s], s:b}", "PolicyNames", "default", "Truncated", 0);
    store_key_clear(&k);
    return rc;
}
