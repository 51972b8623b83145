# SPDX-License-Identifier: Apache-2.0
"""The six custom key store operations of cloister-kms, answered as AWS
answers an account that has no custom key store and cannot make one (no
CloudHSM cluster, no reachable external key store proxy): each answer with
its exact code and message, validation first, then authorization, then the
refusal (docs/kms.md, "Custom key stores")."""
import json

import pytest

STORE = "cks-1234567890abcdef0"
XKS = {"CustomKeyStoreName": "xks", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
       "XksProxyUriEndpoint": "https://xks.example.com", "XksProxyUriPath": "/kms/xks/v1",
       "XksProxyAuthenticationCredential": {"AccessKeyId": "A" * 20,
                                            "RawSecretAccessKey": "s" * 43}}
HSM = {"CustomKeyStoreName": "hsm", "CloudHsmClusterId": "cluster-234567abcdefg",
       "TrustAnchorCertificate": "-----BEGIN CERTIFICATE-----", "KeyStorePassword": "kmsPswd1"}


def call(srv, op, body, creds=None):
    status, text = srv.signed("TrentService." + op, body, creds=creds)
    out = json.loads(text) if text else {}
    return status, out.get("__type"), out.get("message", out.get("Message")), out


def test_the_account_has_none(srv):
    status, _, _, out = call(srv, "DescribeCustomKeyStores", {})
    assert (status, out) == (200, {"CustomKeyStores": [], "Truncated": False})
    assert call(srv, "DescribeCustomKeyStores", {"CustomKeyStoreId": STORE})[:3] == (
        400, "CustomKeyStoreNotFoundException",
        f"No custom key store with ID {STORE} exists in this account and Region.")
    assert call(srv, "DescribeCustomKeyStores", {"CustomKeyStoreName": "mine"})[:3] == (
        400, "CustomKeyStoreNotFoundException",
        "No custom key store with name mine exists in this account and Region.")
    assert call(srv, "DescribeCustomKeyStores",
                {"CustomKeyStoreId": STORE, "CustomKeyStoreName": "mine"})[:3] == (
        400, "ValidationException",
        "You can specify either CustomKeyStoreId or CustomKeyStoreName, but not both.")
    assert call(srv, "DescribeCustomKeyStores", {"Marker": "garbage"})[:3] == (
        400, "InvalidMarkerException", "Invalid marker garbage")


@pytest.mark.parametrize("op", ["ConnectCustomKeyStore", "DisconnectCustomKeyStore",
                                "DeleteCustomKeyStore", "UpdateCustomKeyStore"])
def test_no_store_to_act_on(srv, op):
    assert call(srv, op, {"CustomKeyStoreId": STORE})[:3] == (
        400, "CustomKeyStoreNotFoundException",
        f"No custom key store with ID {STORE} exists in this account and Region.")
    assert call(srv, op, {})[:3] == (
        400, "ValidationException",
        "1 validation error detected: Value null at 'customKeyStoreId' failed to satisfy "
        "constraint: Member must not be null")


def test_creating_one_fails_where_aws_would(srv):
    assert call(srv, "CreateCustomKeyStore", HSM)[:3] == (
        400, "CloudHsmClusterNotFoundException",
        "CloudHSM cluster cluster-234567abcdefg was not found in this account and Region.")
    assert call(srv, "CreateCustomKeyStore", {**XKS, "XksProxyConnectivity": "PUBLIC_ENDPOINT"}
                )[:3] == (400, "XksProxyUriUnreachableException",
                          "KMS cannot reach the external key store proxy at "
                          "https://xks.example.com/kms/xks/v1.")
    vpce = "com.amazonaws.vpce.us-east-1.vpce-svc-0123abc"
    assert call(srv, "CreateCustomKeyStore",
                {**XKS, "XksProxyConnectivity": "VPC_ENDPOINT_SERVICE",
                 "XksProxyVpcEndpointServiceName": vpce})[:3] == (
        400, "XksProxyVpcEndpointServiceNotFoundException",
        f"VPC endpoint service {vpce} was not found in this account and Region.")


def test_create_validation(srv):
    bad_cluster = {**HSM, "CloudHsmClusterId": "cluster-1bcdefghijk"}
    assert call(srv, "CreateCustomKeyStore", bad_cluster)[:3] == (
        400, "ValidationException",
        "1 validation error detected: Value 'cluster-1bcdefghijk' at 'cloudHsmClusterId' failed "
        "to satisfy constraint: Member must satisfy regular expression pattern: "
        "cluster-[2-7a-zA-Z]{11,16}")
    assert call(srv, "CreateCustomKeyStore", {"CustomKeyStoreName": "hsm"})[:3] == (
        400, "ValidationException",
        "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for an "
        "AWS_CLOUDHSM custom key store.")
    assert call(srv, "CreateCustomKeyStore", {**XKS, "XksProxyUriPath": "/xks"})[:3] == (
        400, "ValidationException",
        "1 validation error detected: Value '/xks' at 'xksProxyUriPath' failed to satisfy "
        "constraint: Member must have length greater than or equal to 10")
    assert call(srv, "CreateCustomKeyStore", {**XKS, "XksProxyUriPath": "/kms/xks/v1x"})[:3] == (
        400, "ValidationException",
        "1 validation error detected: Value '/kms/xks/v1x' at 'xksProxyUriPath' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "^(/[a-zA-Z0-9\\/_-]+/kms/xks/v\\d{1,2})$|^(/kms/xks/v\\d{1,2})$")
    assert call(srv, "CreateCustomKeyStore", XKS)[:3] == (
        400, "ValidationException",
        "XksProxyUriEndpoint, XksProxyUriPath and XksProxyConnectivity are required for an "
        "EXTERNAL_KEY_STORE custom key store.")
    no_cred = {k: v for k, v in XKS.items() if k != "XksProxyAuthenticationCredential"}
    assert call(srv, "CreateCustomKeyStore", no_cred)[:3] == (
        400, "ValidationException",
        "XksProxyAuthenticationCredential is required for an external key store.")
    assert call(srv, "CreateCustomKeyStore",
                {**XKS, "XksProxyConnectivity": "VPC_ENDPOINT_SERVICE"})[:3] == (
        400, "ValidationException",
        "XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is "
        "VPC_ENDPOINT_SERVICE.")
    assert call(srv, "CreateCustomKeyStore", {**HSM, "CustomKeyStoreType": "OTHER"})[:2] == (
        400, "ValidationException")


def test_each_needs_its_permission(srv):
    p = srv.principal("cks-nothing", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:DescribeKey"], "Resource": "*"}]})
    creds = (p["AccessKeyId"], p["SecretAccessKey"])
    for op, body in [("DescribeCustomKeyStores", {}), ("CreateCustomKeyStore", HSM),
                     ("ConnectCustomKeyStore", {"CustomKeyStoreId": STORE}),
                     ("DeleteCustomKeyStore", {"CustomKeyStoreId": STORE})]:
        status, code, msg, _ = call(srv, op, body, creds)
        assert (status, code) == (400, "AccessDeniedException"), op
        assert f"kms:{op}" in msg
