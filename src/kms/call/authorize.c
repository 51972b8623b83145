/* SPDX-License-Identifier: Apache-2.0 */
/* Authorization of a call (authorize.h), with a per-thread cache of parsed policies. */
#include "call/authorize.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call/context.h"
#include "policy/grant.h"
#include "policy/policy.h"

/*
 * Parsed policies, per thread, by exact text: the same key and identity
 * policies come back on every request, and parsing them is a good part of
 * a request's cost. A thread's cache lives as long as the thread.
 */
#define PCACHE_SLOTS 16

struct pcache {
    char *text[PCACHE_SLOTS];
    bool key_policy[PCACHE_SLOTS];
    struct policy *parsed[PCACHE_SLOTS];
    unsigned next;
};

static pthread_key_t pcache_key;
static pthread_once_t pcache_once = PTHREAD_ONCE_INIT;

static void pcache_free(void *arg)
{
    struct pcache *pc = arg;
    for (unsigned i = 0; i < PCACHE_SLOTS; i++) {
        free(pc->text[i]);
        policy_free(pc->parsed[i]);
    }
    free(pc);
}

static void pcache_init(void)
{
    pthread_key_create(&pcache_key, pcache_free);
}

/* A parsed policy owned by the thread's cache (do not free), or NULL with err set. */
static const struct policy *cached_policy(const char *text, bool key_policy, struct cl_error *err)
{
    pthread_once(&pcache_once, pcache_init);
    struct pcache *pc = pthread_getspecific(pcache_key);
    if (!pc) {
        pc = calloc(1, sizeof(*pc));
        if (!pc || pthread_setspecific(pcache_key, pc) != 0) {
            free(pc);
            cl_fail(err, CL_ENOMEM, "out of memory");
            return NULL;
        }
    }
    for (unsigned i = 0; i < PCACHE_SLOTS; i++)
        if (pc->text[i] && pc->key_policy[i] == key_policy && !strcmp(pc->text[i], text))
            return pc->parsed[i];
    struct policy_parse_opts o = { .key_policy = key_policy };
    struct policy *p = NULL;
    if (policy_parse(text, strlen(text), &o, &p, err) < 0)
        return NULL;
    char *copy = strdup(text);
    if (!copy) {
        policy_free(p);
        cl_fail(err, CL_ENOMEM, "out of memory");
        return NULL;
    }
    unsigned slot = pc->next++ % PCACHE_SLOTS;
    free(pc->text[slot]);
    policy_free(pc->parsed[slot]);
    pc->text[slot] = copy;
    pc->key_policy[slot] = key_policy;
    pc->parsed[slot] = p;
    return p;
}

/* The caller's identity policy, parsed on first use. */
static int identity_policy(struct call *c)
{
    if (c->identity_parsed)
        return 0;
    c->identity_parsed = true;
    if (!c->caller.identity_policy)
        return 0;
    struct cl_error err = { 0 };
    c->identity_policy = cached_policy(c->caller.identity_policy, false, &err);
    return c->identity_policy ? 0 : call_fail_internal(c, &err);
}

/* The evaluation request of the caller for action on resource (a key ARN or "*");
 * ids holds the identity policy the request points to. */
static struct policy_request caller_request(struct call *c, const char *action,
                                            const char *resource, const struct policy *ids[1])
{
    ids[0] = c->identity_policy;
    return (struct policy_request){
        .action = action,
        .principal_arn = c->caller.arn,
        .account = c->caller.account,
        .is_account_root = false,
        .resource_arn = resource,
        .identity_policies = ids,
        .n_identity = c->identity_policy ? 1 : 0,
        .context = call_context(c),
    };
}

/* Appends a decision to the audit line's "authorization" list (dec owned). */
static void audit_decision(struct call *c, const char *action, json_t *dec)
{
    if (!dec)
        return;
    json_object_set_new(dec, "action", json_string(action));
    json_t *arr = json_object_get(c->audit, "authorization");
    if (!arr) {
        arr = json_array();
        json_object_set_new(c->audit, "authorization", arr);
    }
    json_array_append_new(arr, dec);
}

void authorize_note_grant(struct call *c, const char *action, const char *grant_id,
                          const char *reason)
{
    audit_decision(c, action,
                   json_pack("{s:s, s:s, s:s, s:s}", "decision", "Allow", "source", "grant",
                             "grantId", grant_id, "reason", reason));
}

/*
 * After an implicit deny: does a grant on k allow the caller (grant.h)?
 * 1 when one does (the decision noted in the audit line), 0 when none
 * does, -1 on a store failure (recorded).
 */
static int grant_allows(struct call *c, const char *action, const struct store_key *k,
                        const struct policy_request *req)
{
    if (!policy_grant_operation(action))
        return 0;
    struct cl_error err = { 0 };
    json_t *grants = NULL;
    bool more = false;
    struct store_grant_filter f = { .key_id = k->id };
    if (store_grant_list(c->s->store, &f, NULL, GRANTS_PER_KEY_MAX, &grants, &more, &err) < 0)
        return call_fail_internal(c, &err);
    /* CreateGrant by a grant: the new grant's constraints must be as strict */
    const json_t *new_constraints =
        strcmp(action, "kms:CreateGrant") == 0 ? json_object_get(c->in, "Constraints") : NULL;
    struct policy_grant_result gr;
    policy_grants_evaluate(grants, req, new_constraints, &gr, NULL);
    json_decref(grants);
    if (gr.index < 0)
        return 0;
    authorize_note_grant(c, action, gr.grant_id, gr.reason);
    return 1;
}

/* The key policy and identity policy, then (with_grants) the key's grants. */
static int decide(struct call *c, const char *action, const struct store_key *k, bool with_grants)
{
    struct cl_error err = { 0 };
    if (identity_policy(c) < 0)
        return -1;
    const struct policy *kp = NULL;
    if (k) {
        kp = cached_policy(k->policy, true, &err);
        if (!kp)
            return call_fail_internal(c, &err);
    }
    char resource[256];
    if (k)
        kms_key_arn(c->s, k->id, resource, sizeof(resource));
    else
        snprintf(resource, sizeof(resource), "*");
    const struct policy *ids[1];
    struct policy_request req = caller_request(c, action, resource, ids);
    if (!req.context)
        return -1;
    struct policy_result res;
    if (policy_evaluate(kp, &req, &res, &err) < 0)
        return call_fail_internal(c, &err);
    audit_decision(c, action, policy_result_json(&res));
    if (res.decision == POLICY_DENY_IMPLICIT && k && with_grants) {
        /* a grant turns an implicit deny into an allow, never an explicit one */
        int g = grant_allows(c, action, k, &req);
        if (g != 0)
            return g > 0 ? 0 : -1;
    }
    if (res.decision != POLICY_ALLOW) {
        char msg[1024];
        policy_denied_message(&req, &res, msg, sizeof(msg));
        return call_fail(c, "AccessDeniedException", "%s", msg);
    }
    return 0;
}

int authorize(struct call *c, const char *action, const struct store_key *k)
{
    return decide(c, action, k, true);
}

int authorize_policy(struct call *c, const char *action, const struct store_key *k)
{
    return decide(c, action, k, false);
}

/* Key policy validation: does a principal the policy names exist? Another
 * account's principals are not ours to know; our account's root always is. */
static bool principal_exists(void *arg, const char *arn)
{
    struct call *c = arg;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "arn:aws:iam::%s:", c->s->account);
    if (strncmp(arn, prefix, strlen(prefix)) != 0)
        return true;
    const char *rest = arn + strlen(prefix);
    if (!strcmp(rest, "root"))
        return true;
    struct store_principal p;
    if (store_principal_get(c->s->store, arn, &p, NULL) < 0)
        return false;
    store_principal_clear(&p);
    return true;
}

int authorize_key_policy(struct call *c, const char *text, const char *key_arn, bool bypass_lockout)
{
    struct policy_parse_opts o = { .key_policy = true,
                                   .principal_exists = principal_exists,
                                   .principal_exists_arg = c };
    if (identity_policy(c) < 0)
        return -1;
    const struct policy *ids[1];
    struct policy_request who = caller_request(c, "kms:PutKeyPolicy", key_arn, ids);
    if (!who.context)
        return -1;
    struct cl_error err = { 0 };
    int rc = policy_validate_key_policy(text, strlen(text), &o, &who, bypass_lockout, NULL, &err);
    if (rc < 0)
        return call_fail(c, policy_error_type(rc), "%s", err.reason);
    return 0;
}
