/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Custom key stores: CreateCustomKeyStore, DescribeCustomKeyStores,
 * ConnectCustomKeyStore, DisconnectCustomKeyStore, UpdateCustomKeyStore,
 * DeleteCustomKeyStore, answered as AWS answers an account and Region that
 * has none and cannot make one: a custom key store needs a CloudHSM
 * cluster or an external key store proxy that KMS reaches, and
 * cloister-kms has neither (docs/kms.md, "Custom key stores").
 *
 * So: the list is empty, every store id or name is not found, and a
 * creation fails where AWS's would first fail for such an account: the
 * cluster is not found, the proxy's VPC endpoint service is not found, or
 * its public endpoint cannot be reached (cloister-kms never connects to a
 * proxy). Each request is validated against botocore's model first and
 * authorized with its own action, as AWS does, so a caller without
 * permission still learns nothing.
 */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "call/authorize.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/marker.h"
#include "ops/ops.h"

static const char *const STORE_TYPES[] = { "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE", NULL };
static const char *const CONNECTIVITY[] = { "PUBLIC_ENDPOINT", "VPC_ENDPOINT_SERVICE", NULL };

/* A string member of the model with a pattern. ere is the pattern in POSIX
 * extended syntax (\d spelled [0-9]); shown is the model's own text, which
 * AWS prints in the message. */
struct patterned {
    const char *member, *field;
    size_t min, max;
    const char *ere, *shown;
};

static const struct patterned CLUSTER_ID = {
    "CloudHsmClusterId",         "cloudHsmClusterId", 19, 24, "^cluster-[2-7a-zA-Z]{11,16}$",
    "cluster-[2-7a-zA-Z]{11,16}"
};
static const struct patterned XKS_ENDPOINT = {
    "XksProxyUriEndpoint",      "xksProxyUriEndpoint",     10, 128,
    "^https://[a-zA-Z0-9.-]+$", "^https://[a-zA-Z0-9.-]+$"
};
static const struct patterned XKS_PATH = {
    "XksProxyUriPath",
    "xksProxyUriPath",
    10,
    128,
    "^(/[a-zA-Z0-9/_-]+/kms/xks/v[0-9]{1,2})$|^(/kms/xks/v[0-9]{1,2})$",
    "^(/[a-zA-Z0-9\\/_-]+/kms/xks/v\\d{1,2})$|^(/kms/xks/v\\d{1,2})$"
};
static const struct patterned XKS_VPCE = {
    "XksProxyVpcEndpointServiceName",
    "xksProxyVpcEndpointServiceName",
    20,
    64,
    "^(com|eu)\\.amazonaws\\.vpce\\.([a-z]+-){2,3}[0-9]+\\.vpce-svc-[0-9a-z]+$",
    "^(com|eu)\\.amazonaws\\.vpce\\.([a-z]+-){2,3}\\d+\\.vpce-svc-[0-9a-z]+$"
};
static const struct patterned XKS_OWNER = { "XksProxyVpcEndpointServiceOwner",
                                            "xksProxyVpcEndpointServiceOwner",
                                            12,
                                            12,
                                            "^[0-9]{12}$",
                                            "[0-9]{12}" };

static bool matches(const char *ere, const char *value)
{
    regex_t re;
    if (regcomp(&re, ere, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool ok = regexec(&re, value, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static int req_patterned(struct call *c, const struct patterned *p, bool required, const char **out)
{
    if (req_string(c->in, p->member, required, p->min, p->max, out, &c->err) < 0)
        return -1;
    if (*out && !matches(p->ere, *out))
        return call_fail(c, "ValidationException",
                         "1 validation error detected: Value '%.128s' at '%s' failed to satisfy "
                         "constraint: Member must satisfy regular expression pattern: %s",
                         *out, p->field, p->shown);
    return 0;
}

/* XksProxyAuthenticationCredential: {AccessKeyId 20..30, RawSecretAccessKey
 * 43..64}, both required. Only its shape is checked; it is never kept. */
static int xks_credential(struct call *c, bool required, bool *present)
{
    const json_t *cred = json_object_get(c->in, "XksProxyAuthenticationCredential");
    *present = cred && !json_is_null(cred);
    if (!*present)
        return required ? call_fail(c, "ValidationException",
                                    "XksProxyAuthenticationCredential is required for an "
                                    "external key store.")
                        : 0;
    if (!json_is_object(cred))
        return call_fail(c, "SerializationException", "%s", "");
    const char *akid, *secret;
    if (req_string(cred, "AccessKeyId", true, 20, 30, &akid, &c->err) < 0 ||
        req_string(cred, "RawSecretAccessKey", true, 43, 64, &secret, &c->err) < 0)
        return -1;
    return 0;
}

static int store_not_found(struct call *c, const char *what, const char *value)
{
    return call_fail(c, "CustomKeyStoreNotFoundException",
                     "No custom key store with %s %s exists in this account and Region.", what,
                     value);
}

/* The CustomKeyStoreId member of Connect/Disconnect/Delete/Update. */
static int store_id(struct call *c, const char **id)
{
    return req_string(c->in, "CustomKeyStoreId", true, 1, 64, id, &c->err);
}

static int cloudhsm_create(struct call *c)
{
    const char *cluster, *anchor, *password;
    if (req_patterned(c, &CLUSTER_ID, false, &cluster) < 0 ||
        req_string(c->in, "TrustAnchorCertificate", false, 1, 5000, &anchor, &c->err) < 0 ||
        req_string(c->in, "KeyStorePassword", false, 7, 32, &password, &c->err) < 0)
        return -1;
    if (!cluster || !anchor || !password)
        return call_fail(c, "ValidationException",
                         "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are "
                         "required for an AWS_CLOUDHSM custom key store.");
    if (authorize(c, "kms:CreateCustomKeyStore", NULL) < 0)
        return -1;
    return call_fail(c, "CloudHsmClusterNotFoundException",
                     "CloudHSM cluster %s was not found in this account and Region.", cluster);
}

static int external_create(struct call *c)
{
    const char *endpoint, *path, *vpce, *owner, *connectivity;
    bool cred;
    if (req_patterned(c, &XKS_ENDPOINT, false, &endpoint) < 0 ||
        req_patterned(c, &XKS_PATH, false, &path) < 0 ||
        req_patterned(c, &XKS_VPCE, false, &vpce) < 0 ||
        req_patterned(c, &XKS_OWNER, false, &owner) < 0 ||
        req_enum(c->in, "XksProxyConnectivity", false, CONNECTIVITY, &connectivity, &c->err) < 0 ||
        xks_credential(c, true, &cred) < 0)
        return -1;
    if (!endpoint || !path || !connectivity)
        return call_fail(c, "ValidationException",
                         "XksProxyUriEndpoint, XksProxyUriPath and XksProxyConnectivity are "
                         "required for an EXTERNAL_KEY_STORE custom key store.");
    bool via_vpce = !strcmp(connectivity, "VPC_ENDPOINT_SERVICE");
    if (via_vpce && !vpce)
        return call_fail(c, "ValidationException",
                         "XksProxyVpcEndpointServiceName is required when XksProxyConnectivity "
                         "is VPC_ENDPOINT_SERVICE.");
    if (!via_vpce && (vpce || owner))
        return call_fail(c, "ValidationException",
                         "XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner are "
                         "only valid when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.");
    if (authorize(c, "kms:CreateCustomKeyStore", NULL) < 0)
        return -1;
    if (via_vpce)
        return call_fail(c, "XksProxyVpcEndpointServiceNotFoundException",
                         "VPC endpoint service %s was not found in this account and Region.", vpce);
    return call_fail(c, "XksProxyUriUnreachableException",
                     "KMS cannot reach the external key store proxy at %s%s.", endpoint, path);
}

int op_create_custom_key_store(struct call *c)
{
    const char *name, *type;
    if (req_string(c->in, "CustomKeyStoreName", true, 1, 256, &name, &c->err) < 0 ||
        req_enum(c->in, "CustomKeyStoreType", false, STORE_TYPES, &type, &c->err) < 0)
        return -1;
    if (type && !strcmp(type, "EXTERNAL_KEY_STORE"))
        return external_create(c);
    return cloudhsm_create(c);
}

int op_describe_custom_key_stores(struct call *c)
{
    const char *id, *name, *marker;
    long long limit;
    char *after = NULL;
    if (req_string(c->in, "CustomKeyStoreId", false, 1, 64, &id, &c->err) < 0 ||
        req_string(c->in, "CustomKeyStoreName", false, 1, 256, &name, &c->err) < 0 ||
        paging(c, 1000, 100, &limit, &marker) < 0)
        return -1;
    if (id && name)
        return call_fail(c, "ValidationException",
                         "You can specify either CustomKeyStoreId or CustomKeyStoreName, but not "
                         "both.");
    if (authorize(c, "kms:DescribeCustomKeyStores", NULL) < 0 ||
        marker_read(c, "DescribeCustomKeyStores", marker, &after) < 0)
        return -1;
    if (id)
        return store_not_found(c, "ID", id);
    if (name)
        return store_not_found(c, "name", name);
    /* no marker is ever handed out, so marker_read refused every one */
    c->out = json_pack("{s:[], s:b}", "CustomKeyStores", "Truncated", 0);
    return 0;
}

/* Connect, Disconnect and Delete: an id, and nothing has it. */
static int on_store(struct call *c, const char *action)
{
    const char *id;
    if (store_id(c, &id) < 0 || authorize(c, action, NULL) < 0)
        return -1;
    return store_not_found(c, "ID", id);
}

int op_connect_custom_key_store(struct call *c)
{
    return on_store(c, "kms:ConnectCustomKeyStore");
}

int op_disconnect_custom_key_store(struct call *c)
{
    return on_store(c, "kms:DisconnectCustomKeyStore");
}

int op_delete_custom_key_store(struct call *c)
{
    return on_store(c, "kms:DeleteCustomKeyStore");
}

int op_update_custom_key_store(struct call *c)
{
    const char *id, *new_name, *password, *cluster, *endpoint, *path, *vpce, *owner, *conn;
    bool cred;
    if (store_id(c, &id) < 0 ||
        req_string(c->in, "NewCustomKeyStoreName", false, 1, 256, &new_name, &c->err) < 0 ||
        req_string(c->in, "KeyStorePassword", false, 7, 32, &password, &c->err) < 0 ||
        req_patterned(c, &CLUSTER_ID, false, &cluster) < 0 ||
        req_patterned(c, &XKS_ENDPOINT, false, &endpoint) < 0 ||
        req_patterned(c, &XKS_PATH, false, &path) < 0 ||
        req_patterned(c, &XKS_VPCE, false, &vpce) < 0 ||
        req_patterned(c, &XKS_OWNER, false, &owner) < 0 ||
        req_enum(c->in, "XksProxyConnectivity", false, CONNECTIVITY, &conn, &c->err) < 0 ||
        xks_credential(c, false, &cred) < 0 || authorize(c, "kms:UpdateCustomKeyStore", NULL) < 0)
        return -1;
    return store_not_found(c, "ID", id);
}
