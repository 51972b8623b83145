# SPDX-License-Identifier: Apache-2.0
"""cloister-kms with boto3 (Debian's 1.26): the whole operation list, AWS's
error shapes and codes, pagination, tampered ciphertexts, rotation, sessions
and identity policies. One real server per module, over TLS."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
import time

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from kmsserver import KMS


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def raw(srv, op, body):
    """A signed request that bypasses botocore's client-side validation."""
    status, text = srv.signed("TrentService." + op, body)
    return status, json.loads(text) if text else {}


def b64(b):
    return base64.b64encode(b).decode()


def new_key(kms, **kw):
    return kms.create_key(**kw)["KeyMetadata"]


def test_first_start_layout(srv):
    d = srv.dir
    for name in ["credentials", "config", "tls/ca.pem", "tls/server.pem", "tls/server.key",
                 "master.key", "kms.db", "audit.log"]:
        assert (d / name).exists(), name
    assert oct((d / "master.key").stat().st_mode & 0o777) == "0o600"
    assert (d / "master.key").stat().st_size == 32
    assert oct((d / "tls/server.key").stat().st_mode & 0o777) == "0o600"
    assert oct((d / "credentials").stat().st_mode & 0o777) == "0o600"
    assert (d / "config").read_text() == f"[default]\nregion = {srv.region}\n"
    assert (d / "credentials").read_text().startswith("[default]\naws_access_key_id = AKIA")
    # the server certificate names the endpoints clients use
    out = subprocess.run(["openssl", "x509", "-in", str(d / "tls/server.pem"), "-noout", "-ext",
                          "subjectAltName"], capture_output=True, text=True, check=True).stdout
    assert "DNS:localhost" in out and "IP Address:127.0.0.1" in out
    assert f"DNS:kms.{srv.region}.amazonaws.com" in out
    subprocess.run(["openssl", "verify", "-CAfile", str(d / "tls/ca.pem"), str(d / "tls/server.pem")],
                   check=True, capture_output=True)


def test_caller_identity(srv):
    sts = srv.client("sts")
    ident = sts.get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{srv.account}:user/admin"
    assert ident["Account"] == srv.account
    assert ident["UserId"].startswith("AIDA")


def test_create_describe_list(kms, srv):
    m = new_key(kms, Description="first", Tags=[{"TagKey": "team", "TagValue": "a"}])
    assert m["KeyState"] == "Enabled" and m["Enabled"] is True
    assert m["KeySpec"] == "SYMMETRIC_DEFAULT" and m["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert m["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert m["Arn"] == f"arn:aws:kms:{srv.region}:{srv.account}:key/{m['KeyId']}"
    assert m["AWSAccountId"] == srv.account and m["Origin"] == "AWS_KMS"
    d = kms.describe_key(KeyId=m["Arn"])["KeyMetadata"]
    assert d["KeyId"] == m["KeyId"] and d["Description"] == "first"
    ids = [k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]]
    assert m["KeyId"] in ids
    assert kms.list_resource_tags(KeyId=m["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "a"}]
    # the default key policy is AWS's
    pol = json.loads(kms.get_key_policy(KeyId=m["KeyId"], PolicyName="default")["Policy"])
    assert pol["Id"] == "key-default-1"
    st = pol["Statement"][0]
    assert st["Sid"] == "Enable IAM User Permissions"
    assert st["Principal"] == {"AWS": f"arn:aws:iam::{srv.account}:root"}
    assert st["Action"] == "kms:*" and st["Resource"] == "*"
    assert kms.list_key_policies(KeyId=m["KeyId"])["PolicyNames"] == ["default"]


def test_encrypt_decrypt_context(kms):
    kid = new_key(kms)["KeyId"]
    ctx = {"purpose": "test", "tenant": "42"}
    ct = kms.encrypt(KeyId=kid, Plaintext=b"secret", EncryptionContext=ctx)
    assert ct["KeyId"].endswith(kid) and ct["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = ct["CiphertextBlob"]
    # key id not needed: the blob carries it
    pt = kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(reversed(list(ctx.items()))))
    assert pt["Plaintext"] == b"secret" and pt["KeyId"].endswith(kid)
    for bad_ctx in [None, {"purpose": "test"}, {"purpose": "test", "tenant": "43"},
                    {"purpose": "test", "tenant": "42", "x": "y"}]:
        kw = {"EncryptionContext": bad_ctx} if bad_ctx is not None else {}
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=blob, **kw)
        assert err(e)[0] == "InvalidCiphertextException" and err(e)[2] == 400


def test_tampered_ciphertext(kms):
    kid = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"x" * 100)["CiphertextBlob"]
    # every byte of the blob is covered: header, nonce, ciphertext, tag
    for i in [0, 5, 17, 20, 25, 40, len(blob) - 1]:
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=bytes(bad))
        assert err(e)[0] in ("InvalidCiphertextException", "NotFoundException"), i
        if i not in range(1, 17):   # bytes 1..16 name the key
            assert err(e)[0] == "InvalidCiphertextException", i
    for short in [b"\x01", blob[:48], blob[:-1]]:
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=short)
        assert err(e)[0] == "InvalidCiphertextException"


def test_aliases_and_key_identifiers(kms, srv):
    k1 = new_key(kms)["KeyId"]
    k2 = new_key(kms)["KeyId"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=k1)
    arn = f"arn:aws:kms:{srv.region}:{srv.account}"
    for ident in [k1, f"{arn}:key/{k1}", "alias/app", f"{arn}:alias/app"]:
        blob = kms.encrypt(KeyId=ident, Plaintext=b"p")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob, KeyId=ident)["Plaintext"] == b"p"
        assert kms.describe_key(KeyId=ident)["KeyMetadata"]["KeyId"] == k1
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/app", TargetKeyId=k2)
    assert err(e)[:2] == ("AlreadyExistsException",
                          f"An alias with the name {arn}:alias/app already exists")
    kms.update_alias(AliasName="alias/app", TargetKeyId=k2)
    assert kms.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == k2
    aliases = kms.list_aliases(KeyId=k2)["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/app"]
    assert aliases[0]["AliasArn"] == f"{arn}:alias/app" and aliases[0]["TargetKeyId"] == k2
    # admin operations take key ids and ARNs only
    with pytest.raises(ClientError) as e:
        kms.enable_key(KeyId="alias/app")
    assert err(e)[:2] == ("NotFoundException", "Invalid keyId 'alias/app'")
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=k1)
    assert err(e)[0] == "InvalidAliasNameException"
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="noprefix", TargetKeyId=k1)
    assert err(e)[:2] == ("InvalidAliasNameException", 'Alias must start with the prefix "alias/".')
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/bad name", TargetKeyId=k1)
    assert err(e)[0] == "ValidationException"
    assert "regular expression pattern: ^[a-zA-Z0-9:/_-]+$" in err(e)[1]
    kms.delete_alias(AliasName="alias/app")
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/app")
    assert err(e)[:2] == ("NotFoundException", f"Alias {arn}:alias/app is not found.")
    with pytest.raises(ClientError) as e:
        kms.delete_alias(AliasName="alias/app")
    assert err(e)[0] == "NotFoundException"


def test_not_found_and_bad_ids(kms, srv):
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=missing)
    assert err(e) == ("NotFoundException",
                      f"Key 'arn:aws:kms:{srv.region}:{srv.account}:key/{missing}' does not exist", 400)
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="not-a-key")
    assert err(e)[:2] == ("NotFoundException", "Invalid keyId 'not-a-key'")
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=f"arn:aws:kms:eu-west-1:{srv.account}:key/{missing}")
    assert err(e)[0] == "NotFoundException"


def test_validation_limits(kms, srv):
    kid = new_key(kms)["KeyId"]
    kms.encrypt(KeyId=kid, Plaintext=b"a" * 4096)
    assert raw(srv, "Encrypt", {"KeyId": kid, "Plaintext": b64(b"a" * 4097)}) == (400, {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value at 'plaintext' failed to satisfy "
                   "constraint: Member must have length less than or equal to 4096"})
    assert raw(srv, "Encrypt", {"KeyId": kid, "Plaintext": ""})[1]["message"].endswith(
        "Member must have length greater than or equal to 1")
    for n in (1, 1024):
        assert len(kms.generate_random(NumberOfBytes=n)["Plaintext"]) == n
    for n in (0, 1025):
        status, body = raw(srv, "GenerateRandom", {"NumberOfBytes": n})
        code, msg = body["__type"], body["message"]
        assert status == 400 and code == "ValidationException"
        assert msg == ("1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy "
                       "constraint: Member must have value %s than or equal to %d"
                       % (n, "greater" if n == 0 else "less", 1 if n == 0 else 1024))
    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId=kid)
    assert err(e)[:2] == ("ValidationException", "Please specify either number of bytes or key spec.")
    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId=kid, KeySpec="AES_256", NumberOfBytes=32)
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=kid, Plaintext=b"a", EncryptionContext={"k": "v" * 8200})
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="ENCRYPT_DECRYPT")
    assert err(e)[0] == "ValidationException"


def test_data_keys(kms):
    kid = new_key(kms)["KeyId"]
    d = kms.generate_data_key(KeyId=kid, KeySpec="AES_256", EncryptionContext={"a": "b"})
    assert len(d["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=d["CiphertextBlob"],
                       EncryptionContext={"a": "b"})["Plaintext"] == d["Plaintext"]
    d = kms.generate_data_key(KeyId=kid, KeySpec="AES_128")
    assert len(d["Plaintext"]) == 16
    d = kms.generate_data_key(KeyId=kid, NumberOfBytes=7)
    assert len(d["Plaintext"]) == 7
    w = kms.generate_data_key_without_plaintext(KeyId=kid, KeySpec="AES_256")
    assert "Plaintext" not in w
    assert len(kms.decrypt(CiphertextBlob=w["CiphertextBlob"])["Plaintext"]) == 32


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
                                  "ECC_SECG_P256K1"])
def test_data_key_pair(kms, spec):
    kid = new_key(kms)["KeyId"]
    p = kms.generate_data_key_pair(KeyId=kid, KeyPairSpec=spec)
    assert p["KeyPairSpec"] == spec
    priv = serialization.load_der_private_key(p["PrivateKeyPlaintext"], None)
    pub = serialization.load_der_public_key(p["PublicKey"])
    assert priv.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) == p["PublicKey"]
    again = kms.decrypt(CiphertextBlob=p["PrivateKeyCiphertextBlob"])["Plaintext"]
    assert again == p["PrivateKeyPlaintext"]
    assert pub is not None
    w = kms.generate_data_key_pair_without_plaintext(KeyId=kid, KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in w and w["PublicKey"]


def test_reencrypt(kms):
    a = new_key(kms)["KeyId"]
    b = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=a, Plaintext=b"move me", EncryptionContext={"x": "1"})["CiphertextBlob"]
    r = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"x": "1"}, DestinationKeyId=b,
                       DestinationEncryptionContext={"y": "2"})
    assert r["SourceKeyId"].endswith(a) and r["KeyId"].endswith(b)
    assert kms.decrypt(CiphertextBlob=r["CiphertextBlob"],
                       EncryptionContext={"y": "2"})["Plaintext"] == b"move me"
    with pytest.raises(ClientError) as e:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=b)
    assert err(e)[0] == "InvalidCiphertextException"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, KeyId=b, EncryptionContext={"x": "1"})
    assert err(e)[0] == "IncorrectKeyException"


def test_enable_disable_and_deletion(kms, srv):
    kid = new_key(kms)["KeyId"]
    arn = f"arn:aws:kms:{srv.region}:{srv.account}:key/{kid}"
    blob = kms.encrypt(KeyId=kid, Plaintext=b"p")["CiphertextBlob"]
    kms.disable_key(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert err(e) == ("DisabledException", f"{arn} is disabled.", 400)
    kms.enable_key(KeyId=kid)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    status, body = raw(srv, "ScheduleKeyDeletion", {"KeyId": kid, "PendingWindowInDays": 6})
    assert status == 400 and body["__type"] == "ValidationException"
    s = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert s["KeyState"] == "PendingDeletion" and s["PendingWindowInDays"] == 7
    assert s["KeyId"] == arn
    dd = s["DeletionDate"].timestamp()
    assert abs(dd - (time.time() + 7 * 86400)) < 120
    m = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert m["KeyState"] == "PendingDeletion" and m["PendingDeletionWindowInDays"] == 7
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=kid, Plaintext=b"p")
    assert err(e) == ("KMSInvalidStateException", f"{arn} is pending deletion.", 400)
    with pytest.raises(ClientError) as e:
        kms.enable_key(KeyId=kid)
    assert err(e)[0] == "KMSInvalidStateException"
    assert kms.cancel_key_deletion(KeyId=kid)["KeyId"] == arn
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as e:
        kms.cancel_key_deletion(KeyId=kid)
    assert err(e) == ("KMSInvalidStateException", f"{arn} is not pending deletion.", 400)


def test_rotation_keeps_old_material(srv, kms):
    kid = new_key(kms)["KeyId"]
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=kid)
    st = kms.get_key_rotation_status(KeyId=kid)
    assert st["KeyRotationEnabled"] is True
    old = kms.encrypt(KeyId=kid, Plaintext=b"before")["CiphertextBlob"]
    # RotateKeyOnDemand (newer than Debian's boto3): sent as a raw signed request
    status, body = srv.signed("TrentService.RotateKeyOnDemand", {"KeyId": kid})
    assert status == 200, body
    new = kms.encrypt(KeyId=kid, Plaintext=b"after")["CiphertextBlob"]
    assert old[17:21] == b"\x00\x00\x00\x01" and new[17:21] == b"\x00\x00\x00\x02"
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    kms.disable_key_rotation(KeyId=kid)
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False
    asym = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.enable_key_rotation(KeyId=asym)
    assert err(e)[0] == "UnsupportedOperationException"


def test_tags(kms):
    kid = new_key(kms)["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": f"k{i:02d}", "TagValue": str(i)} for i in range(5)])
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "k00", "TagValue": "new"}])
    kms.untag_resource(KeyId=kid, TagKeys=["k04"])
    p1 = kms.list_resource_tags(KeyId=kid, Limit=2)
    assert p1["Truncated"] is True
    p2 = kms.list_resource_tags(KeyId=kid, Limit=2, Marker=p1["NextMarker"])
    assert p2["Truncated"] is False
    tags = p1["Tags"] + p2["Tags"]
    assert tags == [{"TagKey": "k00", "TagValue": "new"}, {"TagKey": "k01", "TagValue": "1"},
                    {"TagKey": "k02", "TagValue": "2"}, {"TagKey": "k03", "TagValue": "3"}]
    with pytest.raises(ClientError) as e:
        kms.tag_resource(KeyId=kid, Tags=[{"TagKey": f"x{i}", "TagValue": ""} for i in range(47)])
    assert err(e)[0] == "LimitExceededException"
    with pytest.raises(ClientError) as e:
        kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "aws:x", "TagValue": ""}])
    assert err(e)[0] == "TagException"


def test_pagination(kms, srv):
    mine = {new_key(kms)["KeyId"] for _ in range(5)}
    seen, marker, pages = [], None, 0
    while True:
        kw = {"Limit": 2}
        if marker:
            kw["Marker"] = marker
        page = kms.list_keys(**kw)
        pages += 1
        seen += [k["KeyId"] for k in page["Keys"]]
        assert len(page["Keys"]) <= 2
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert mine <= set(seen) and len(seen) == len(set(seen)) and pages >= 3
    with pytest.raises(ClientError) as e:
        kms.list_keys(Marker="garbage")
    assert err(e)[0] == "InvalidMarkerException"
    assert raw(srv, "ListKeys", {"Limit": 1001})[1]["__type"] == "ValidationException"
    for i in range(3):
        kms.create_alias(AliasName=f"alias/page-{i}", TargetKeyId=sorted(mine)[0])
    a = kms.list_aliases(Limit=1)
    assert a["Truncated"] is True and len(a["Aliases"]) == 1
    allnames = []
    for page in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 2}):
        allnames += [x["AliasName"] for x in page["Aliases"]]
    assert {"alias/page-0", "alias/page-1", "alias/page-2"} <= set(allnames)


@pytest.mark.parametrize("spec,alg", [("RSA_2048", "RSASSA_PSS_SHA_256"),
                                      ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384"),
                                      ("ECC_NIST_P256", "ECDSA_SHA_256"),
                                      ("ECC_NIST_P384", "ECDSA_SHA_384"),
                                      ("ECC_NIST_P521", "ECDSA_SHA_512")])
def test_sign_verify(kms, spec, alg):
    m = new_key(kms, KeySpec=spec, KeyUsage="SIGN_VERIFY")
    assert m["SigningAlgorithms"] and "EncryptionAlgorithms" not in m
    pk = kms.get_public_key(KeyId=m["KeyId"])
    assert pk["KeySpec"] == spec and pk["KeyUsage"] == "SIGN_VERIFY" and alg in pk["SigningAlgorithms"]
    pub = serialization.load_der_public_key(pk["PublicKey"])
    msg = b"message to sign"
    sig = kms.sign(KeyId=m["KeyId"], Message=msg, SigningAlgorithm=alg)["Signature"]
    h = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[-3:]]
    # verify with an independent implementation
    if spec.startswith("ECC"):
        pub.verify(sig, msg, ec.ECDSA(h))
    elif "PSS" in alg:
        pub.verify(sig, msg, padding.PSS(padding.MGF1(h), h.digest_size), h)
    else:
        pub.verify(sig, msg, padding.PKCS1v15(), h)
    v = kms.verify(KeyId=m["KeyId"], Message=msg, Signature=sig, SigningAlgorithm=alg)
    assert v["SignatureValid"] is True
    digest = hashlib.new(h.name, msg).digest()
    v = kms.verify(KeyId=m["KeyId"], Message=digest, MessageType="DIGEST", Signature=sig,
                   SigningAlgorithm=alg)
    assert v["SignatureValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=m["KeyId"], Message=b"other", Signature=sig, SigningAlgorithm=alg)
    assert err(e)[0] == "KMSInvalidSignatureException"
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=m["KeyId"], Message=b"short", MessageType="DIGEST", SigningAlgorithm=alg)
    assert err(e)[:2] == ("ValidationException", f"Digest is invalid length for algorithm {alg}.")
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=m["KeyId"], Plaintext=b"x")
    assert err(e)[0] == "InvalidKeyUsageException"


def test_rsa_encryption_key(kms):
    m = new_key(kms, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert m["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=m["KeyId"])["PublicKey"])
    ct = pub.encrypt(b"to the key", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    pt = kms.decrypt(CiphertextBlob=ct, KeyId=m["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert pt["Plaintext"] == b"to the key"
    c2 = kms.encrypt(KeyId=m["KeyId"], Plaintext=b"y" * 190, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert kms.decrypt(CiphertextBlob=c2["CiphertextBlob"], KeyId=m["KeyId"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == b"y" * 190
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=m["KeyId"], Plaintext=b"y" * 191, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert err(e)[0] == "ValidationException"


def test_key_policy_put_and_lockout(kms, srv):
    kid = new_key(kms)["KeyId"]
    me = f"arn:aws:iam::{srv.account}:user/admin"
    good = {"Version": "2012-10-17", "Statement": [
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": me}, "Action": "kms:*",
         "Resource": "*"}]}
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(good))
    assert json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]) == good
    lockout = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": me}, "Action": "kms:Encrypt", "Resource": "*"}]}
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(lockout))
    assert err(e)[:2] == ("MalformedPolicyDocumentException",
                          "The new key policy will not allow you to update the key policy in the future.")
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=kid, PolicyName="default", Policy="{not json")
    assert err(e)[0] == "MalformedPolicyDocumentException"
    with pytest.raises(ClientError) as e:
        kms.get_key_policy(KeyId=kid, PolicyName="other")
    assert err(e)[0] == "NotFoundException"


def test_identity_without_policy_is_denied(srv, kms):
    kid = new_key(kms)["KeyId"]
    u = srv.principal("nopolicy")
    assert u["Arn"] == f"arn:aws:iam::{srv.account}:user/nopolicy"
    c = srv.client(creds=(u["AccessKeyId"], u["SecretAccessKey"]))
    with pytest.raises(ClientError) as e:
        c.encrypt(KeyId=kid, Plaintext=b"x")
    code, msg, status = err(e)
    assert (code, status) == ("AccessDeniedException", 400)
    assert msg == (f"User: {u['Arn']} is not authorized to perform: kms:Encrypt on resource: "
                   f"arn:aws:kms:{srv.region}:{srv.account}:key/{kid} because no resource-based "
                   f"policy allows the kms:Encrypt action")
    # the key policy can grant it by name, as the workshop does for its parent role
    pol = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
    pol["Statement"].append({"Sid": "enc", "Effect": "Allow", "Principal": {"AWS": u["Arn"]},
                             "Action": "kms:Encrypt", "Resource": "*"})
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(pol))
    assert c.encrypt(KeyId=kid, Plaintext=b"x")["KeyId"].endswith(kid)
    with pytest.raises(ClientError) as e:
        c.generate_random(NumberOfBytes=4)
    assert err(e)[0] == "AccessDeniedException"


def test_identity_policy_grants_through_root_statement(srv, kms):
    kid = new_key(kms)["KeyId"]
    u = srv.principal("decrypter", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]})
    c = srv.client(creds=(u["AccessKeyId"], u["SecretAccessKey"]))
    blob = c.encrypt(KeyId=kid, Plaintext=b"ok")["CiphertextBlob"]
    assert c.decrypt(CiphertextBlob=blob)["Plaintext"] == b"ok"
    with pytest.raises(ClientError) as e:
        c.disable_key(KeyId=kid)
    assert err(e)[0] == "AccessDeniedException"


def test_sessions(srv, kms):
    kid = new_key(kms)["KeyId"]
    srv.principal("enclave-role", role=True, policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]})
    s = srv.session("enclave-role", duration=900)
    cred = s["Credentials"]
    assert cred["AccessKeyId"].startswith("ASIA") and cred["SessionToken"]
    assert cred["Expiration"].endswith("Z")
    arn = s["AssumedRoleUser"]["Arn"]
    assert arn.startswith(f"arn:aws:sts::{srv.account}:assumed-role/enclave-role/")
    sts = srv.client("sts", creds=(cred["AccessKeyId"], cred["SecretAccessKey"]),
                     token=cred["SessionToken"])
    ident = sts.get_caller_identity()
    assert ident["Arn"] == arn and ident["UserId"].startswith("AROA") and ":" in ident["UserId"]
    c = srv.client(creds=(cred["AccessKeyId"], cred["SecretAccessKey"]), token=cred["SessionToken"])
    assert c.encrypt(KeyId=kid, Plaintext=b"s")["KeyId"].endswith(kid)
    # without the token, or with another one, the key is not recognized
    for tok in [None, cred["SessionToken"][:-4] + "AAAA"]:
        bad = srv.client(creds=(cred["AccessKeyId"], cred["SecretAccessKey"]), token=tok)
        with pytest.raises(ClientError) as e:
            bad.encrypt(KeyId=kid, Plaintext=b"s")
        assert err(e) == ("UnrecognizedClientException",
                          "The security token included in the request is invalid.", 400)
    p = srv.cli("session", "create", "no-such-role")
    assert p.returncode != 0 and "no principal" in p.stderr
    p = srv.cli("session", "create", "enclave-role", "--duration", "60")
    assert p.returncode != 0 and "900..43200" in p.stderr
    for bad in ("+3600", " 3600", "3600s", "-1", "99999999999999999999"):
        p = srv.cli("session", "create", "enclave-role", "--duration", bad)
        assert (p.returncode, p.stderr) == (
            1, f"cloister-kms: --duration must be a number of seconds, not '{bad}'\n")


@pytest.mark.parametrize("args,stderr", [
    (["--listen", "127.0.0.1:+80"], "--listen must be HOST:PORT, PORT 0..65535, not '127.0.0.1:+80'"),
    (["--listen", "127.0.0.1: 80"], "--listen must be HOST:PORT, PORT 0..65535, not '127.0.0.1: 80'"),
    (["--listen", "127.0.0.1:65536"],
     "--listen must be HOST:PORT, PORT 0..65535, not '127.0.0.1:65536'"),
    (["--listen", "127.0.0.1:"], "--listen must be HOST:PORT, PORT 0..65535, not '127.0.0.1:'"),
    (["--attestation-max-age", "+300"],
     "--attestation-max-age must be 1..86400 seconds, not '+300'"),
    (["--attestation-max-age", "0"], "--attestation-max-age must be 1..86400 seconds, not '0'"),
    (["--attestation-max-age", "86401"],
     "--attestation-max-age must be 1..86400 seconds, not '86401'"),
    (["--threads", "+4"], "--threads must be 1..256, not '+4'"),
    (["--threads", " 4"], "--threads must be 1..256, not ' 4'"),
    (["--threads", "257"], "--threads must be 1..256, not '257'"),
    (["--threads", "18446744073709551617"], "--threads must be 1..256, not '18446744073709551617'"),
])
def test_serve_refuses_bad_numbers(tmp_path, args, stderr):
    listen = [] if args[0] == "--listen" else ["--listen", "127.0.0.1:0"]
    p = subprocess.run([str(KMS), "serve", "--data-dir", str(tmp_path / "kms"), *listen, *args],
                       capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (1, "", f"cloister-kms: {stderr}\n")
    assert not (tmp_path / "kms").exists()


@pytest.mark.parametrize("setting,stderr", [
    ({"threads": 0}, "threads must be 1..256"),
    ({"threads": 100000}, "threads must be 1..256"),
    ({"attestation_max_age": -5}, "attestation_max_age must be 1..86400 seconds"),
])
def test_serve_config_bounds(tmp_path, setting, stderr):
    cfg = tmp_path / "kms.json"
    cfg.write_text(json.dumps(setting))
    p = subprocess.run([str(KMS), "serve", "--data-dir", str(tmp_path / "kms"), "--listen",
                        "127.0.0.1:0", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    assert (p.returncode, p.stderr) == (1, f"cloister-kms: bad --config: {cfg}: {stderr}\n")


def test_unknown_operation_and_bad_body(srv):
    status, body = srv.signed("TrentService.NoSuchThing", {})
    assert status == 400 and json.loads(body) == {"__type": "UnknownOperationException", "message": ""}
    status, body = srv.signed("TrentService.ListKeys", b"{not json")
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    status, body = srv.signed("TrentService.ListKeys", b"[]")
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    status, body = srv.signed("TrentService.ListKeys", b'{"Limit": 1, "Limit": 2}')
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    status, body = srv.signed("TrentService.Encrypt", {"KeyId": "x", "Plaintext": "***"})
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    status, body = srv.signed("TrentService.Encrypt", {"Plaintext": "eA=="})
    assert status == 400 and json.loads(body) == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'keyId' failed to satisfy "
                   "constraint: Member must not be null"}
    status, body = srv.signed("TrentService.ListKeys", {"Limit": "5"})
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"


def test_unparsable_body_is_not_echoed(srv):
    """jansson's reason quotes the token it stopped at, which may be a
    plaintext: the answer and the audit line keep only reason and position."""
    body = b'{"KeyId": "x", "Plaintext": "U0VDUkVULVBMQUlOVEVYVA'
    status, answer = srv.signed("TrentService.Encrypt", body)
    assert status == 400 and json.loads(answer) == {
        "__type": "SerializationException",
        "message": "Could not parse the request body: premature end of input (at byte 51)"}
    assert b"U0VDUkVU" not in (srv.dir / "audit.log").read_bytes()

def test_request_size_bounded(srv):
    import requests
    r = requests.post(srv.endpoint + "/", data=b"x" * (600 * 1024), verify=srv.ca,
                      headers={"X-Amz-Target": "TrentService.ListKeys"})
    assert r.status_code == 413


def test_concurrent_clients(srv, kms):
    from concurrent.futures import ThreadPoolExecutor
    kid = new_key(kms)["KeyId"]

    def work(i):
        c = srv.client()
        blob = c.encrypt(KeyId=kid, Plaintext=str(i).encode())["CiphertextBlob"]
        return c.decrypt(CiphertextBlob=blob)["Plaintext"] == str(i).encode()

    with ThreadPoolExecutor(16) as ex:
        assert all(ex.map(work, range(64)))


def test_recipient_rejected_with_boto3_143(srv, kms, tmp_path):
    """The Recipient parameter through boto3 1.43 (the python3 on PATH, a
    child process): a document that is not a signed attestation document is
    refused and no plaintext comes back."""
    # The separate python3 on PATH has boto3 1.43, whose KMS model knows Recipient;
    # Debian's boto3 1.26 does not.
    py = shutil.which("python3")
    if not py or Path(py).resolve() == Path("/usr/bin/python3").resolve():
        pytest.skip("needs the separate python3 with boto3 1.43 on PATH (KMS Recipient)")
    kid = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"for the enclave")["CiphertextBlob"]
    script = tmp_path / "recipient.py"
    script.write_text(f"""
import base64, json, sys, boto3, botocore
from botocore.config import Config
c = boto3.client("kms", endpoint_url={srv.endpoint!r}, region_name={srv.region!r},
                 aws_access_key_id={srv.admin[0]!r}, aws_secret_access_key={srv.admin[1]!r},
                 verify={srv.ca!r}, config=Config(retries={{"max_attempts": 1}}))
out = {{}}
for name, call in [
    ("decrypt", lambda r: c.decrypt(CiphertextBlob=base64.b64decode({base64.b64encode(blob).decode()!r}), Recipient=r)),
    ("random", lambda r: c.generate_random(NumberOfBytes=8, Recipient=r)),
]:
    try:
        resp = call({{"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"not a document"}})
        out[name] = sorted(resp)
    except botocore.exceptions.ClientError as e:
        out[name] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
print(json.dumps(out))
""")
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    p = subprocess.run([py, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for name in ("decrypt", "random"):
        code, status = out[name]
        assert status == 400 and code.endswith("Exception") and code != "AccessDeniedException", out
