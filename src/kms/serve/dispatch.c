/* SPDX-License-Identifier: Apache-2.0 */
/* The request pipeline and the table of operations (dispatch.h). */
#include "serve/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "call/request.h"
#include "ops/ops.h"
#include "serve/answer.h"
#include "serve/authenticate.h"
#include "serve/sts.h"

static const struct kms_op OPS[] = {
    { "CancelKeyDeletion", op_cancel_key_deletion },
    { "ConnectCustomKeyStore", op_connect_custom_key_store },
    { "CreateAlias", op_create_alias },
    { "CreateCustomKeyStore", op_create_custom_key_store },
    { "CreateGrant", op_create_grant },
    { "CreateKey", op_create_key },
    { "Decrypt", op_decrypt },
    { "DeleteAlias", op_delete_alias },
    { "DeleteCustomKeyStore", op_delete_custom_key_store },
    { "DeleteImportedKeyMaterial", op_delete_imported_key_material },
    { "DeriveSharedSecret", op_derive_shared_secret },
    { "DescribeCustomKeyStores", op_describe_custom_key_stores },
    { "DescribeKey", op_describe_key },
    { "DisableKey", op_disable_key },
    { "DisableKeyRotation", op_disable_key_rotation },
    { "DisconnectCustomKeyStore", op_disconnect_custom_key_store },
    { "EnableKey", op_enable_key },
    { "EnableKeyRotation", op_enable_key_rotation },
    { "Encrypt", op_encrypt },
    { "GenerateDataKey", op_generate_data_key },
    { "GenerateDataKeyPair", op_generate_data_key_pair },
    { "GenerateDataKeyPairWithoutPlaintext", op_generate_data_key_pair_without_plaintext },
    { "GenerateDataKeyWithoutPlaintext", op_generate_data_key_without_plaintext },
    { "GenerateMac", op_generate_mac },
    { "GenerateRandom", op_generate_random },
    { "GetKeyLastUsage", op_get_key_last_usage },
    { "GetKeyPolicy", op_get_key_policy },
    { "GetKeyRotationStatus", op_get_key_rotation_status },
    { "GetParametersForImport", op_get_parameters_for_import },
    { "GetPublicKey", op_get_public_key },
    { "ImportKeyMaterial", op_import_key_material },
    { "ListAliases", op_list_aliases },
    { "ListGrants", op_list_grants },
    { "ListKeyPolicies", op_list_key_policies },
    { "ListKeyRotations", op_list_key_rotations },
    { "ListKeys", op_list_keys },
    { "ListResourceTags", op_list_resource_tags },
    { "ListRetirableGrants", op_list_retirable_grants },
    { "PutKeyPolicy", op_put_key_policy },
    { "ReEncrypt", op_re_encrypt },
    { "ReplicateKey", op_replicate_key },
    { "RetireGrant", op_retire_grant },
    { "RevokeGrant", op_revoke_grant },
    { "RotateKeyOnDemand", op_rotate_key_on_demand },
    { "ScheduleKeyDeletion", op_schedule_key_deletion },
    { "Sign", op_sign },
    { "TagResource", op_tag_resource },
    { "UntagResource", op_untag_resource },
    { "UpdateAlias", op_update_alias },
    { "UpdateCustomKeyStore", op_update_custom_key_store },
    { "UpdateKeyDescription", op_update_key_description },
    { "UpdatePrimaryRegion", op_update_primary_region },
    { "Verify", op_verify },
    { "VerifyMac", op_verify_mac },
};

#define N_OPS (sizeof(OPS) / sizeof(OPS[0]))

const struct kms_op *kms_op_find(const char *name)
{
    for (size_t i = 0; i < N_OPS; i++)
        if (!strcmp(OPS[i].name, name))
            return &OPS[i];
    return NULL;
}

const struct kms_op *kms_op_table(size_t *n)
{
    *n = N_OPS;
    return OPS;
}

/* Runs the call's operation: c->out, or c->err says why not. */
static void dispatch(struct call *c)
{
    const struct kms_op *op = kms_op_find(c->op);
    if (!op) {
        call_fail(c, "UnknownOperationException", "%s", "");
        return;
    }
    c->op = op->name; /* a static string for the audit line */
    if (op->fn(c) == 0 && !c->out)
        c->out = json_object();
    key_usage_record(c);
}

/* KMS's JSON 1.1 protocol. */
static void serve_kms(struct call *c, const struct http_request *req, struct http_response *resp)
{
    const char *target = http_header(req, "x-amz-target");
    if (!target || strncmp(target, "TrentService.", 13) != 0) {
        call_fail(c, "UnknownOperationException", "%s", "");
    } else {
        c->op = target + 13;
        if (authenticate(c, req, "kms") == 0 &&
            req_parse(req->body, req->body_len, &c->in, &c->err) == 0)
            dispatch(c);
    }
    answer_json(c, resp);
    write_audit(c, "kms.amazonaws.com");
}

/* STS's query protocol: GetCallerIdentity. */
static void serve_sts(struct call *c, const struct http_request *req, struct http_response *resp)
{
    c->sts = true;
    c->op = "GetCallerIdentity";
    if (sts_action(req->body, req->body_len, &c->err) < 0)
        c->op = NULL; /* not an action STS has here: the audit line names none */
    bool authenticated = c->op && authenticate(c, req, "sts") == 0;
    sts_render(&c->err, authenticated ? &c->caller : NULL, c->request_id, resp);
    write_audit(c, "sts.amazonaws.com");
}

static bool is_form(const struct http_request *h)
{
    const char *ct = http_header(h, "content-type");
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

void kms_handle(void *arg, const struct http_request *req, struct http_response *resp)
{
    struct call c;
    call_init(&c, arg, req->tls, req->peer_ip);
    snprintf(resp->request_id, sizeof(resp->request_id), "%s", c.request_id);
    if (strcmp(req->method, "POST") != 0 || strcmp(req->path, "/") != 0) {
        /* only POST / exists (docs/kms.md, "The API") */
        resp->status = strcmp(req->path, "/") ? 404 : 405;
        resp->content_type = "text/plain";
        resp->body = strdup(resp->status == 404 ? "Not Found\n" : "Method Not Allowed\n");
        resp->body_len = resp->body ? strlen(resp->body) : 0;
    } else if (!http_header(req, "x-amz-target") && is_form(req)) {
        serve_sts(&c, req, resp);
    } else {
        serve_kms(&c, req, resp);
    }
    call_free(&c);
}
