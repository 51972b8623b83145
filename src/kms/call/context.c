/* SPDX-License-Identifier: Apache-2.0 */
/* The condition keys of a request, written in one place (context.h). */
#include "call/context.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cloister/attestation.h>

#include "call/recipient.h"
#include "policy/context.h"

/* The call's context, created with the transport and identity keys. */
static struct policy_context *context_of(struct call *c)
{
    if (c->pctx)
        return c->pctx;
    struct cl_error err = { 0 };
    struct policy_context *pc = NULL;
    int rc = policy_context_new(&pc, &err);
    if (rc == 0)
        rc = policy_context_add(pc, "aws:SecureTransport", c->tls ? "true" : "false", &err);
    if (rc == 0 && c->peer_ip[0])
        rc = policy_context_add(pc, "aws:SourceIp", c->peer_ip, &err);
    if (rc == 0)
        rc = policy_context_add(pc, "aws:PrincipalArn", c->caller.arn, &err);
    if (rc == 0)
        rc = policy_context_add(pc, "aws:PrincipalAccount", c->caller.account, &err);
    if (rc == 0)
        rc = policy_context_add(pc, "kms:CallerAccount", c->caller.account, &err);
    if (rc < 0) {
        policy_context_free(pc);
        call_fail_internal(c, &err);
        return NULL;
    }
    c->pctx = pc;
    return pc;
}

/* Adds one key to the call's context. */
static int add(struct call *c, const char *key, const char *value)
{
    struct policy_context *pc = context_of(c);
    if (!pc)
        return -1;
    struct cl_error err = { 0 };
    if (policy_context_add(pc, key, value, &err) < 0)
        return call_fail_internal(c, &err);
    return 0;
}

const struct policy_context *call_context(struct call *c)
{
    return context_of(c);
}

int call_context_key(struct call *c, const struct store_key *k)
{
    if (add(c, "kms:KeySpec", k->key_spec) < 0 ||
        add(c, "kms:KeyUsage", key_usage_name(k->usage)) < 0 ||
        add(c, "kms:KeyOrigin", k->origin) < 0)
        return -1;
    /* kms:MultiRegion and, for a multi-Region key, kms:MultiRegionKeyType */
    bool mrk = !strncmp(k->id, "mrk-", 4);
    if (add(c, "kms:MultiRegion", mrk ? "true" : "false") < 0)
        return -1;
    char primary[KMS_ID_MAX];
    json_t *members = NULL;
    if (mrk && store_mrk_get(c->s->store, k->id, primary, sizeof(primary), &members, NULL) == 0) {
        json_decref(members);
        return add(c, "kms:MultiRegionKeyType", strcmp(primary, k->id) ? "REPLICA" : "PRIMARY");
    }
    return 0;
}

int call_context_region(struct call *c, const char *key, const char *region)
{
    return add(c, key, region);
}

int call_context_alias(struct call *c, const char *alias)
{
    return add(c, "kms:RequestAlias", alias);
}

int call_context_encryption(struct call *c, const json_t *ctx)
{
    if (!context_of(c))
        return -1;
    if (!ctx)
        return 0;
    /* the audit line names the context keys, never their values */
    json_t *keys = json_array();
    int rc = keys ? 0 : call_fail_internal(c, NULL);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ctx, k, v)
    {
        if (rc < 0)
            break;
        /* sized to the key (the whole context is at most 8192 bytes): a
         * fixed buffer would cut long keys and let two of them collide */
        static const char prefix[] = "kms:EncryptionContext:";
        size_t klen = strlen(k);
        char *name = malloc(sizeof(prefix) + klen);
        if (!name) {
            rc = call_fail_internal(c, NULL);
            break;
        }
        memcpy(name, prefix, sizeof(prefix) - 1);
        memcpy(name + sizeof(prefix) - 1, k, klen + 1);
        rc = add(c, name, json_string_value(v));
        free(name);
        if (rc == 0)
            rc = add(c, "kms:EncryptionContextKeys", k);
        if (rc == 0)
            json_array_append_new(keys, json_string(k));
    }
    if (rc == 0)
        json_object_set_new(c->audit, "encryptionContextKeys", keys);
    else
        json_decref(keys);
    return rc;
}

int call_context_encryption_algorithm(struct call *c, const char *alg)
{
    return add(c, "kms:EncryptionAlgorithm", alg ? alg : KMS_ALG_SYMMETRIC_DEFAULT);
}

int call_context_signing(struct call *c, const char *alg, const char *message_type)
{
    if (add(c, "kms:SigningAlgorithm", alg) < 0 ||
        add(c, "kms:MessageType", message_type ? message_type : "RAW") < 0)
        return -1;
    return 0;
}

int call_context_mac(struct call *c, const char *alg)
{
    return add(c, "kms:MacAlgorithm", alg);
}

int call_context_grant(struct call *c, const json_t *operations, const char *grantee,
                       const char *retiring, const json_t *constraints)
{
    size_t i;
    json_t *o;
    json_array_foreach((json_t *)operations, i, o)
    {
        if (add(c, "kms:GrantOperations", json_string_value(o)) < 0)
            return -1;
    }
    if (add(c, "kms:GranteePrincipal", grantee) < 0 ||
        (retiring && add(c, "kms:RetiringPrincipal", retiring) < 0) ||
        add(c, "kms:GrantIsForAWSResource", "false") < 0)
        return -1;
    static const char *const TYPES[] = { "EncryptionContextEquals", "EncryptionContextSubset" };
    for (size_t t = 0; t < 2; t++)
        if (json_object_get(constraints, TYPES[t]) &&
            add(c, "kms:GrantConstraintType", TYPES[t]) < 0)
            return -1;
    return 0;
}

int call_context_key_agreement(struct call *c, const char *alg)
{
    return add(c, "kms:KeyAgreementAlgorithm", alg);
}

int call_context_wrapping(struct call *c, const char *alg, const char *spec)
{
    if (add(c, "kms:WrappingAlgorithm", alg) < 0 || add(c, "kms:WrappingKeySpec", spec) < 0)
        return -1;
    return 0;
}

int call_context_expiration(struct call *c, const char *model, const double *valid_to)
{
    if (add(c, "kms:ExpirationModel", model) < 0)
        return -1;
    if (!valid_to)
        return 0;
    /* whole seconds, as AWS states the key's value; Numeric and Date
     * operators both read it (policy/match.c) */
    char v[32];
    snprintf(v, sizeof(v), "%.0f", floor(*valid_to));
    return add(c, "kms:ValidTo", v);
}

int call_context_recipient(struct call *c, const struct recipient *r)
{
    struct policy_context *pc = context_of(c);
    if (!pc)
        return -1;
    struct cl_error err = { 0 };
    if (context_add_recipient(pc, r, &err) < 0)
        return call_fail_internal(c, &err);
    return 0;
}

void call_context_restart(struct call *c)
{
    policy_context_free(c->pctx);
    c->pctx = NULL;
}

int context_add_recipient(struct policy_context *ctx, const struct recipient *r,
                          struct cl_error *err)
{
    /* ImageSha384 is PCR0 under another name; both carry lowercase hex
     * (docs/kms-policy.md, "Condition keys the server fills in"). */
    int rc;
    const char *pcr0 = recipient_pcr_hex(r, 0);
    if (pcr0 &&
        (rc = policy_context_add(ctx, "kms:RecipientAttestation:ImageSha384", pcr0, err)) < 0)
        return rc;
    for (unsigned i = 0; i < ATTEST_MAX_PCRS; i++) {
        const char *h = recipient_pcr_hex(r, i);
        if (!h)
            continue;
        char key[48];
        snprintf(key, sizeof(key), "kms:RecipientAttestation:PCR%u", i);
        if ((rc = policy_context_add(ctx, key, h, err)) < 0)
            return rc;
    }
    return 0;
}
