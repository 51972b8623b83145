# SPDX-License-Identifier: Apache-2.0
"""Checks every cloister-kms answer against botocore's KMS model.

Run by test_kms_shapes.py under the python3 that has boto3 1.43 (whose
model has all 54 operations), with a JSON object on stdin naming the
server ({endpoint, region, ca, ak, sk}). It calls every operation of the
model through boto3, some several times and in several ways, and checks
the RAW JSON body of each answer (botocore's before-parse event), before
botocore parses it leniently:

- a success against the operation's output shape, recursively: no member
  the shape lacks, every required member present, each value of the JSON
  type the protocol gives the shape's type (a timestamp is a number, a blob
  base64 text), strings in their enum and length bounds, numbers in range,
  lists within their bounds;
- a failure: a JSON object whose __type is an error the model lists for
  the operation, or one of the errors every operation may answer, with a
  string message.

Prints {"problems": [...], "succeeded": [...ops...], "failed": [...ops...]}.
"""
import base64
import binascii
import json
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Errors any AWS JSON operation may answer (authentication, throttling,
# request decoding), though the KMS model lists them for none.
COMMON_ERRORS = {
    "AccessDeniedException", "IncompleteSignature", "InvalidSignatureException",
    "MissingAuthenticationToken", "UnrecognizedClientException", "ExpiredTokenException",
    "RequestExpired", "ThrottlingException", "ValidationException", "SerializationException",
    "UnknownOperationException", "InternalFailure", "ServiceUnavailable",
}

problems = []
succeeded = set()
failed = set()


def check(value, shape, path):
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return problems.append(f"{path}: {type(value).__name__}, not an object")
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}: required member {name} missing")
        for k, v in value.items():
            if k not in shape.members:
                problems.append(f"{path}.{k}: not a member of {shape.name}")
            elif v is None:
                problems.append(f"{path}.{k}: null (an absent member is left out)")
            else:
                check(v, shape.members[k], f"{path}.{k}")
    elif t == "list":
        if not isinstance(value, list):
            return problems.append(f"{path}: not an array")
        bounds(len(value), shape, path, "length")
        for i, v in enumerate(value):
            check(v, shape.member, f"{path}[{i}]")
    elif t == "map":
        if not isinstance(value, dict):
            return problems.append(f"{path}: not an object")
        for k, v in value.items():
            check(k, shape.key, f"{path} key")
            check(v, shape.value, f"{path}[{k}]")
    elif t == "string":
        if not isinstance(value, str):
            return problems.append(f"{path}: {value!r} not a string")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value} not in {shape.name}'s enum")
        bounds(len(value), shape, path, "length")
    elif t == "blob":
        if not isinstance(value, str):
            return problems.append(f"{path}: not base64 text")
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            return problems.append(f"{path}: not base64")
        bounds(len(raw), shape, path, "byte length")
    elif t == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: {value!r} not a boolean")
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return problems.append(f"{path}: {value!r} not an integer")
        bounds(value, shape, path, "value")
    elif t == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: {value!r} not epoch seconds")
    else:
        problems.append(f"{path}: shape type {t} not checked")


def bounds(n, shape, path, what):
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and n < lo or hi is not None and n > hi:
        problems.append(f"{path}: {what} {n} outside {lo}..{hi}")


def on_response(operation_model, response_dict, **_):
    model, op, status = operation_model, operation_model.name, response_dict["status_code"]
    try:
        body = json.loads(response_dict["body"] or b"{}")
    except ValueError:
        return problems.append(f"{op}: HTTP {status}, body not JSON")
    if status < 300:
        succeeded.add(op)
        if model.output_shape is not None:
            check(body, model.output_shape, op)
        elif body != {}:
            problems.append(f"{op}: the model has no output, the answer is {body}")
        return
    failed.add(op)
    code = body.get("__type", "").split("#")[-1]
    known = {e.name for e in model.error_shapes} | COMMON_ERRORS
    if code not in known:
        problems.append(f"{op}: error {code!r} is not one the model lists for it")
    msg = body.get("message", body.get("Message"))
    if msg is not None and not isinstance(msg, str):
        problems.append(f"{op}: message not a string")


def attempt(fn, **kw):
    """A call whose answer, success or error, the hook checks."""
    try:
        return fn(**kw)
    except ClientError:
        return None



def key(kms, **kw):
    return kms.create_key(**kw)["KeyMetadata"]["KeyId"]


def imports(kms, sym):
    """Imported key material: an EXTERNAL key through its whole life."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
    ext = key(kms, Origin="EXTERNAL")
    kms.describe_key(KeyId=ext)
    p = kms.get_parameters_for_import(KeyId=ext, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
                                      WrappingKeySpec="RSA_3072")
    pub = serialization.load_der_public_key(p["PublicKey"])
    aes = os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=None)
    wrapped = pub.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, os.urandom(32))
    kms.import_key_material(KeyId=ext, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrapped,
                            ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=time.time() + 3600)
    kms.describe_key(KeyId=ext)
    attempt(kms.import_key_material, KeyId=ext, ImportToken=b"bad", EncryptedKeyMaterial=b"x",
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    attempt(kms.enable_key_rotation, KeyId=ext)
    kms.delete_imported_key_material(KeyId=ext)
    attempt(kms.encrypt, KeyId=ext, Plaintext=b"x")
    attempt(kms.get_parameters_for_import, KeyId=sym, WrappingAlgorithm="RSAES_OAEP_SHA_256",
            WrappingKeySpec="RSA_2048")
    attempt(kms.delete_imported_key_material, KeyId=sym)


def scenario(kms):
    """Every operation, on every kind of key it takes, and its common errors."""
    sym = key(kms, Description="shapes", Tags=[{"TagKey": "t", "TagValue": "v"}])
    rsa = key(kms, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    rsa_sign = key(kms, KeySpec="RSA_3072", KeyUsage="SIGN_VERIFY")
    ecc = key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    hmac = key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    agree = key(kms, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")
    ed = key(kms, KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")
    other = key(kms)
    for k in (sym, rsa, rsa_sign, ecc, hmac, agree, ed):
        kms.describe_key(KeyId=k)
        kms.get_key_last_usage(KeyId=k)
    for k in (rsa, rsa_sign, ecc, agree, ed):
        kms.get_public_key(KeyId=k)
    # encryption
    ct = kms.encrypt(KeyId=sym, Plaintext=b"shape", EncryptionContext={"a": "b"})
    kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"a": "b"})
    kms.re_encrypt(CiphertextBlob=ct["CiphertextBlob"], SourceEncryptionContext={"a": "b"},
                   DestinationKeyId=other)
    rct = kms.encrypt(KeyId=rsa, Plaintext=b"shape", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    kms.decrypt(KeyId=rsa, CiphertextBlob=rct["CiphertextBlob"],
                EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    attempt(kms.decrypt, CiphertextBlob=b"\0" * 40)
    kms.get_key_last_usage(KeyId=sym)
    # data keys and random
    kms.generate_data_key(KeyId=sym, KeySpec="AES_256")
    kms.generate_data_key(KeyId=sym, NumberOfBytes=17)
    kms.generate_data_key_without_plaintext(KeyId=sym, KeySpec="AES_128")
    for spec in ("RSA_2048", "ECC_NIST_P384", "ECC_SECG_P256K1"):
        kms.generate_data_key_pair(KeyId=sym, KeyPairSpec=spec)
        kms.generate_data_key_pair_without_plaintext(KeyId=sym, KeyPairSpec=spec)
    kms.generate_random(NumberOfBytes=32)
    # signatures and MACs
    # key agreement: the peer's key is the public key of another agreement key
    peer = kms.get_public_key(KeyId=key(kms, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT"))
    kms.derive_shared_secret(KeyId=agree, KeyAgreementAlgorithm="ECDH", PublicKey=peer["PublicKey"])
    attempt(kms.derive_shared_secret, KeyId=agree, KeyAgreementAlgorithm="ECDH", PublicKey=b"garbage")
    attempt(kms.derive_shared_secret, KeyId=ecc, KeyAgreementAlgorithm="ECDH", PublicKey=peer["PublicKey"])
    attempt(kms.create_key, KeySpec="RSA_2048", KeyUsage="KEY_AGREEMENT")
    attempt(kms.create_key, KeySpec="SM2")
    for k, alg in ((rsa_sign, "RSASSA_PSS_SHA_384"), (ecc, "ECDSA_SHA_256"), (ed, "ED25519_SHA_512")):
        sig = kms.sign(KeyId=k, Message=b"m", SigningAlgorithm=alg)["Signature"]
        kms.verify(KeyId=k, Message=b"m", Signature=sig, SigningAlgorithm=alg)
        attempt(kms.verify, KeyId=k, Message=b"n", Signature=sig, SigningAlgorithm=alg)
    mac = kms.generate_mac(KeyId=hmac, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    kms.verify_mac(KeyId=hmac, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256")
    attempt(kms.verify_mac, KeyId=hmac, Message=b"n", Mac=mac, MacAlgorithm="HMAC_SHA_256")
    # grants
    admin = f"arn:aws:iam::{kms.describe_key(KeyId=sym)['KeyMetadata']['AWSAccountId']}:user/admin"
    grant = dict(KeyId=sym, GranteePrincipal=admin, RetiringPrincipal=admin,
                 Operations=["Encrypt", "Decrypt", "RetireGrant"], Name="shapes",
                 Constraints={"EncryptionContextSubset": {"a": "b"}})
    g = kms.create_grant(**grant)
    kms.create_grant(**grant)
    g2 = kms.create_grant(KeyId=sym, GranteePrincipal=admin, Operations=["DescribeKey"])
    kms.encrypt(KeyId=sym, Plaintext=b"g", EncryptionContext={"a": "b"},
                GrantTokens=[g["GrantToken"]])
    attempt(kms.encrypt, KeyId=sym, Plaintext=b"g", GrantTokens=["garbage"])
    attempt(kms.create_grant, KeyId=sym, GranteePrincipal=admin, Operations=["Sign"])
    attempt(kms.create_grant, KeyId=sym, GranteePrincipal="nobody", Operations=["Encrypt"])
    kms.list_grants(KeyId=sym)
    kms.list_grants(KeyId=sym, Limit=1)
    kms.list_grants(KeyId=sym, GrantId=g["GrantId"], GranteePrincipal=admin)
    attempt(kms.list_grants, KeyId=sym, Marker="garbage")
    attempt(kms.list_grants, KeyId=sym, GrantId="bad")
    kms.list_retirable_grants(RetiringPrincipal=admin)
    kms.list_retirable_grants(RetiringPrincipal=admin, Limit=1)
    kms.retire_grant(GrantToken=g["GrantToken"])
    attempt(kms.retire_grant, GrantToken=g["GrantToken"])
    kms.revoke_grant(KeyId=sym, GrantId=g2["GrantId"])
    attempt(kms.revoke_grant, KeyId=sym, GrantId=g2["GrantId"])
    # aliases, tags, policies, description
    kms.create_alias(AliasName="alias/shapes", TargetKeyId=sym)
    kms.update_alias(AliasName="alias/shapes", TargetKeyId=other)
    kms.list_aliases()
    kms.list_aliases(KeyId=other)
    kms.list_aliases(Limit=1)
    attempt(kms.list_aliases, Marker="garbage")
    kms.delete_alias(AliasName="alias/shapes")
    kms.tag_resource(KeyId=sym, Tags=[{"TagKey": "u", "TagValue": "w"}])
    kms.untag_resource(KeyId=sym, TagKeys=["u"])
    kms.list_resource_tags(KeyId=sym)
    kms.list_resource_tags(KeyId=sym, Limit=1)
    policy = kms.get_key_policy(KeyId=sym)["Policy"]
    kms.get_key_policy(KeyId=sym, PolicyName="default")
    kms.put_key_policy(KeyId=sym, Policy=policy)
    kms.list_key_policies(KeyId=sym)
    kms.update_key_description(KeyId=sym, Description="shapes, again")
    # rotation
    kms.enable_key_rotation(KeyId=sym, RotationPeriodInDays=90)
    kms.get_key_rotation_status(KeyId=sym)
    kms.rotate_key_on_demand(KeyId=sym)
    kms.list_key_rotations(KeyId=sym)
    kms.list_key_rotations(KeyId=sym, IncludeKeyMaterial="ALL_KEY_MATERIAL", Limit=1)
    kms.disable_key_rotation(KeyId=sym)
    attempt(kms.enable_key_rotation, KeyId=ecc)
    imports(kms, sym)
    # listing
    kms.list_keys()
    kms.list_keys(Limit=2)
    # lifecycle
    kms.disable_key(KeyId=other)
    attempt(kms.encrypt, KeyId=other, Plaintext=b"x")
    kms.enable_key(KeyId=other)
    kms.schedule_key_deletion(KeyId=other, PendingWindowInDays=7)
    attempt(kms.encrypt, KeyId=other, Plaintext=b"x")
    kms.describe_key(KeyId=other)
    kms.cancel_key_deletion(KeyId=other)
    attempt(kms.describe_key, KeyId="alias/none")
    attempt(kms.describe_key, KeyId="0b5a5c5e-0000-4000-8000-000000000000")
    # multi-Region keys: the replicas live in other regions of the same server
    mrk = key(kms, MultiRegion=True)
    kms.replicate_key(KeyId=mrk, ReplicaRegion="eu-west-1", Description="replica",
                      Tags=[{"TagKey": "t", "TagValue": "v"}])
    attempt(kms.replicate_key, KeyId=mrk, ReplicaRegion="eu-west-1")
    kms.describe_key(KeyId=mrk)
    kms.update_primary_region(KeyId=mrk, PrimaryRegion="eu-west-1")
    kms.describe_key(KeyId=mrk)
    attempt(kms.update_primary_region, KeyId=mrk, PrimaryRegion="ap-south-1")
    mrk2 = key(kms, MultiRegion=True)
    kms.replicate_key(KeyId=mrk2, ReplicaRegion="ap-south-1")
    kms.schedule_key_deletion(KeyId=mrk2)
    kms.describe_key(KeyId=mrk2)
    # custom key stores: none in this account
    kms.describe_custom_key_stores()
    attempt(kms.describe_custom_key_stores, CustomKeyStoreId="cks-1234567890abcdef0")
    attempt(kms.create_custom_key_store, CustomKeyStoreName="hsm",
            CloudHsmClusterId="cluster-234567abcdefg", TrustAnchorCertificate="x",
            KeyStorePassword="kmsPswd1")
    attempt(kms.create_custom_key_store, CustomKeyStoreName="xks",
            CustomKeyStoreType="EXTERNAL_KEY_STORE",
            XksProxyUriEndpoint="https://xks.example.com", XksProxyUriPath="/kms/xks/v1",
            XksProxyConnectivity="PUBLIC_ENDPOINT",
            XksProxyAuthenticationCredential={"AccessKeyId": "A" * 20,
                                              "RawSecretAccessKey": "s" * 43})
    for fn in (kms.connect_custom_key_store, kms.disconnect_custom_key_store,
               kms.delete_custom_key_store):
        attempt(fn, CustomKeyStoreId="cks-1234567890abcdef0")
    attempt(kms.update_custom_key_store, CustomKeyStoreId="cks-1234567890abcdef0",
            NewCustomKeyStoreName="renamed")


def main():
    a = json.load(sys.stdin)
    kms = boto3.client("kms", endpoint_url=a["endpoint"], region_name=a["region"],
                       verify=a["ca"], aws_access_key_id=a["ak"],
                       aws_secret_access_key=a["sk"],
                       config=Config(retries={"max_attempts": 1}))
    kms.meta.events.register("before-parse.kms", on_response)
    try:
        scenario(kms)
    except Exception as e:  # a shape botocore cannot parse, or an answer the scenario did not expect
        problems.append(f"scenario stopped: {type(e).__name__}: {e}")
    ops = kms.meta.service_model.operation_names
    print(json.dumps({"problems": problems, "succeeded": sorted(succeeded),
                      "failed": sorted(failed), "operations": ops,
                      "version": boto3.__version__}))


if __name__ == "__main__":
    main()
