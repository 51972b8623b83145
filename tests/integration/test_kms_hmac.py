# SPDX-License-Identifier: Apache-2.0
"""HMAC keys in cloister-kms with boto3: CreateKey HMAC_224/256/384/512 with
GENERATE_VERIFY_MAC, DescribeKey's MacAlgorithms, GenerateMac and VerifyMac.
Every MAC is cross-checked with Python's hmac against the key's material,
unwrapped here from kms.db with master.key (docs/kms.md: AES-256-GCM under
the AAD cloister-kms/key-material/v1/<id>/<version>). Each refusal is
tested with its exact code and message. One real server for the module."""
import base64
import hashlib
import hmac
import json
import sqlite3

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsserver import KmsServer

SPECS = {"HMAC_224": ("HMAC_SHA_224", hashlib.sha224, 28),
         "HMAC_256": ("HMAC_SHA_256", hashlib.sha256, 32),
         "HMAC_384": ("HMAC_SHA_384", hashlib.sha384, 48),
         "HMAC_512": ("HMAC_SHA_512", hashlib.sha512, 64)}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = KmsServer(tmp_path_factory.mktemp("kms") / "data")
    s.kms = s.client()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keys(srv):
    """One key of each HMAC spec: spec -> KeyMetadata."""
    return {spec: srv.kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
            for spec in SPECS}


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"]


def raw(srv, op, body):
    """A signed request that bypasses botocore's client-side validation."""
    status, text = srv.signed("TrentService." + op, body)
    return status, json.loads(text) if text else {}


def b64(b):
    return base64.b64encode(b).decode()


def material(srv, key_id, version=1):
    """The key's material, unwrapped with master.key as the server does."""
    db = sqlite3.connect(f"file:{srv.dir / 'kms.db'}?mode=ro", uri=True)
    try:
        (wrapped,) = db.execute("SELECT wrapped FROM key_material WHERE key_id=? AND version=?",
                                (key_id, version)).fetchone()
    finally:
        db.close()
    master = (srv.dir / "master.key").read_bytes()
    aad = f"cloister-kms/key-material/v1/{key_id}/{version}".encode()
    return AESGCM(master).decrypt(wrapped[:12], wrapped[12:], aad)


def test_create_and_describe(srv, keys):
    for spec, m in keys.items():
        alg = SPECS[spec][0]
        assert m["KeySpec"] == spec and m["CustomerMasterKeySpec"] == spec
        assert m["KeyUsage"] == "GENERATE_VERIFY_MAC" and m["KeyState"] == "Enabled"
        assert m["MacAlgorithms"] == [alg]
        assert "EncryptionAlgorithms" not in m and "SigningAlgorithms" not in m
        d = srv.kms.describe_key(KeyId=m["KeyId"])["KeyMetadata"]
        assert d["MacAlgorithms"] == [alg] and d["KeySpec"] == spec
        assert d["KeyUsage"] == "GENERATE_VERIFY_MAC"
        # material as long as the spec says, stored wrapped like every key's
        assert len(material(srv, m["KeyId"])) == SPECS[spec][2]
    listed = {k["KeyId"] for k in srv.kms.list_keys()["Keys"]}
    assert {m["KeyId"] for m in keys.values()} <= listed


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_generate_verify_cross_checked(srv, keys, spec):
    m = keys[spec]
    alg, h, _ = SPECS[spec]
    secret = material(srv, m["KeyId"])
    for msg in [b"x", b"message to authenticate", bytes(range(256)) * 16]:
        r = srv.kms.generate_mac(KeyId=m["KeyId"], Message=msg, MacAlgorithm=alg)
        assert r["KeyId"] == m["Arn"] and r["MacAlgorithm"] == alg
        assert r["Mac"] == hmac.new(secret, msg, h).digest()
        v = srv.kms.verify_mac(KeyId=m["KeyId"], Message=msg, MacAlgorithm=alg, Mac=r["Mac"])
        assert v == {"KeyId": m["Arn"], "MacValid": True, "MacAlgorithm": alg,
                     "ResponseMetadata": v["ResponseMetadata"]}
    # a MAC computed here verifies there
    v = srv.kms.verify_mac(KeyId=m["KeyId"], Message=b"local", MacAlgorithm=alg,
                           Mac=hmac.new(secret, b"local", h).digest())
    assert v["MacValid"] is True


def test_key_identifiers_and_grant_tokens(srv, keys):
    m = keys["HMAC_256"]
    srv.kms.create_alias(AliasName="alias/hmac", TargetKeyId=m["KeyId"])
    want = srv.kms.generate_mac(KeyId=m["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    # a grant token must name a grant (test_kms_grants.py has the refusals)
    token = srv.kms.create_grant(KeyId=m["KeyId"], GranteePrincipal=f"arn:aws:iam::{srv.account}:user/admin",
                                 Operations=["GenerateMac", "VerifyMac"])["GrantToken"]
    for ident in [m["Arn"], "alias/hmac", m["Arn"].split(":key/")[0] + ":alias/hmac"]:
        r = srv.kms.generate_mac(KeyId=ident, Message=b"m", MacAlgorithm="HMAC_SHA_256",
                                 GrantTokens=[token])
        assert r["Mac"] == want and r["KeyId"] == m["Arn"]
        v = srv.kms.verify_mac(KeyId=ident, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=want,
                               GrantTokens=[token])
        assert v["MacValid"] is True


def test_invalid_mac(srv, keys):
    m = keys["HMAC_384"]
    good = srv.kms.generate_mac(KeyId=m["KeyId"], Message=b"msg", MacAlgorithm="HMAC_SHA_384")["Mac"]
    bad = [bytes([good[0] ^ 1]) + good[1:], good[:-1], good + b"\0", b"\0"]
    for mac in bad:
        with pytest.raises(ClientError) as e:
            srv.kms.verify_mac(KeyId=m["KeyId"], Message=b"msg", MacAlgorithm="HMAC_SHA_384", Mac=mac)
        assert e.value.response["Error"]["Code"] == "KMSInvalidMacException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # another message, another key of the same spec
    with pytest.raises(ClientError) as e:
        srv.kms.verify_mac(KeyId=m["KeyId"], Message=b"other", MacAlgorithm="HMAC_SHA_384", Mac=good)
    assert err(e)[0] == "KMSInvalidMacException"
    other = srv.kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        srv.kms.verify_mac(KeyId=other["KeyId"], Message=b"msg", MacAlgorithm="HMAC_SHA_384", Mac=good)
    assert err(e)[0] == "KMSInvalidMacException"


def test_create_key_refusals(srv):
    cases = [({"KeySpec": "HMAC_256"}, "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256"),
             ({"KeySpec": "HMAC_256", "KeyUsage": "ENCRYPT_DECRYPT"},
              "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256"),
             ({"KeySpec": "HMAC_512", "KeyUsage": "SIGN_VERIFY"},
              "KeyUsage SIGN_VERIFY is not compatible with KeySpec HMAC_512"),
             ({"KeyUsage": "GENERATE_VERIFY_MAC"},
              "KeyUsage GENERATE_VERIFY_MAC is not compatible with KeySpec SYMMETRIC_DEFAULT"),
             ({"KeySpec": "RSA_2048", "KeyUsage": "GENERATE_VERIFY_MAC"},
              "KeyUsage GENERATE_VERIFY_MAC is not compatible with KeySpec RSA_2048"),
             ({"KeySpec": "ECC_NIST_P256", "KeyUsage": "GENERATE_VERIFY_MAC"},
              "KeyUsage GENERATE_VERIFY_MAC is not compatible with KeySpec ECC_NIST_P256")]
    for kw, msg in cases:
        with pytest.raises(ClientError) as e:
            srv.kms.create_key(**kw)
        assert err(e) == ("ValidationException", msg), kw
    # the deprecated member names the spec too
    m = srv.kms.create_key(CustomerMasterKeySpec="HMAC_224", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert m["KeySpec"] == "HMAC_224" and m["MacAlgorithms"] == ["HMAC_SHA_224"]


def test_request_validation(srv, keys):
    kid = keys["HMAC_256"]["KeyId"]
    mac = srv.kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    ok = {"KeyId": kid, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}
    # the largest message, and one byte more
    st, _ = raw(srv, "GenerateMac", {**ok, "Message": b64(b"a" * 4096)})
    assert st == 200
    cases = [
        ("GenerateMac", {**ok, "Message": b64(b"a" * 4097)},
         "1 validation error detected: Value at 'message' failed to satisfy constraint: "
         "Member must have length less than or equal to 4096"),
        ("GenerateMac", {k: v for k, v in ok.items() if k != "Message"},
         "1 validation error detected: Value null at 'message' failed to satisfy constraint: "
         "Member must not be null"),
        ("GenerateMac", {k: v for k, v in ok.items() if k != "MacAlgorithm"},
         "1 validation error detected: Value null at 'macAlgorithm' failed to satisfy constraint: "
         "Member must not be null"),
        ("GenerateMac", {**ok, "MacAlgorithm": "HMAC_SHA_1"},
         "1 validation error detected: Value 'HMAC_SHA_1' at 'macAlgorithm' failed to satisfy "
         "constraint: Member must satisfy enum value set: [HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384, "
         "HMAC_SHA_512]"),
        ("GenerateMac", {**ok, "GrantTokens": ["t"] * 11},
         "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: "
         "Member must have length less than or equal to 10"),
        ("VerifyMac", ok,
         "1 validation error detected: Value null at 'mac' failed to satisfy constraint: "
         "Member must not be null"),
        ("VerifyMac", {**ok, "Mac": b64(b"a" * 6145)},
         "1 validation error detected: Value at 'mac' failed to satisfy constraint: "
         "Member must have length less than or equal to 6144"),
    ]
    for op, body, msg in cases:
        st, b = raw(srv, op, body)
        assert (st, b.get("__type"), b.get("message") or b.get("Message")) == \
            (400, "ValidationException", msg), (op, body.keys())
    st, b = raw(srv, "VerifyMac", {**ok, "Mac": b64(mac)})
    assert st == 200 and b["MacValid"] is True


def test_wrong_algorithm_and_usage(srv, keys):
    m = keys["HMAC_256"]
    with pytest.raises(ClientError) as e:
        srv.kms.generate_mac(KeyId=m["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_384")
    assert err(e) == ("InvalidKeyUsageException", "Algorithm HMAC_SHA_384 is incompatible with key spec HMAC_256.")
    with pytest.raises(ClientError) as e:
        srv.kms.verify_mac(KeyId=m["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_224", Mac=b"x" * 28)
    assert err(e) == ("InvalidKeyUsageException", "Algorithm HMAC_SHA_224 is incompatible with key spec HMAC_256.")
    # an encryption key and a signing key make no MAC
    for kw in [{}, {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}]:
        k = srv.kms.create_key(**kw)["KeyMetadata"]
        for op, call in [("GenerateMac", lambda: srv.kms.generate_mac(KeyId=k["KeyId"], Message=b"m",
                                                                    MacAlgorithm="HMAC_SHA_256")),
                         ("VerifyMac", lambda: srv.kms.verify_mac(KeyId=k["KeyId"], Message=b"m",
                                                                  MacAlgorithm="HMAC_SHA_256", Mac=b"x"))]:
            with pytest.raises(ClientError) as e:
                call()
            assert err(e) == ("InvalidKeyUsageException",
                              f"{k['Arn']} key usage is {k['KeyUsage']} which is not valid for {op}.")
    # an HMAC key neither encrypts, nor signs, nor has a public key or data keys
    arn, kid = m["Arn"], m["KeyId"]
    refusals = [
        (lambda: srv.kms.encrypt(KeyId=kid, Plaintext=b"p"),
         ("InvalidKeyUsageException", f"{arn} key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt.")),
        (lambda: srv.kms.sign(KeyId=kid, Message=b"p", SigningAlgorithm="ECDSA_SHA_256"),
         ("InvalidKeyUsageException", f"{arn} key usage is GENERATE_VERIFY_MAC which is not valid for Sign.")),
        (lambda: srv.kms.verify(KeyId=kid, Message=b"p", Signature=b"s", SigningAlgorithm="ECDSA_SHA_256"),
         ("InvalidKeyUsageException", f"{arn} key usage is GENERATE_VERIFY_MAC which is not valid for Verify.")),
        (lambda: srv.kms.get_public_key(KeyId=kid),
         ("UnsupportedOperationException", f"{arn} key spec is HMAC_256, which is not valid for GetPublicKey.")),
        (lambda: srv.kms.generate_data_key(KeyId=kid, KeySpec="AES_256"),
         ("InvalidKeyUsageException", f"{arn} key usage is not valid for GenerateDataKey: it is not a symmetric key.")),
        (lambda: srv.kms.enable_key_rotation(KeyId=kid),
         ("UnsupportedOperationException", f"{arn} key spec is HMAC_256: automatic rotation applies to "
                                           "symmetric encryption keys only.")),
    ]
    for call, want in refusals:
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == want
    blob = srv.kms.encrypt(KeyId=srv.kms.create_key()["KeyMetadata"]["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    for call, op in [(lambda: srv.kms.decrypt(KeyId=kid, CiphertextBlob=blob), "Decrypt"),
                     (lambda: srv.kms.decrypt(KeyId=kid, CiphertextBlob=b"\x01" * 64), "Decrypt"),
                     (lambda: srv.kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=kid,
                                                 DestinationKeyId=kid), "ReEncrypt")]:
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("InvalidKeyUsageException",
                          f"{arn} key usage is GENERATE_VERIFY_MAC which is not valid for {op}.")


def test_key_states(srv):
    m = srv.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    kid, arn = m["KeyId"], m["Arn"]
    mac = srv.kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    srv.kms.disable_key(KeyId=kid)
    calls = [lambda: srv.kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_256"),
             lambda: srv.kms.verify_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("DisabledException", f"{arn} is disabled.")
    srv.kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("KMSInvalidStateException", f"{arn} is pending deletion.")
    srv.kms.cancel_key_deletion(KeyId=kid)
    srv.kms.enable_key(KeyId=kid)
    assert srv.kms.verify_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)["MacValid"]
    missing = arn.replace(kid, "11111111-2222-4333-8444-555555555555")
    with pytest.raises(ClientError) as e:
        srv.kms.generate_mac(KeyId=missing, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert err(e) == ("NotFoundException", f"Key '{missing}' does not exist")


def test_dry_run_and_policy_actions(srv):
    root = f"arn:aws:iam::{srv.account}:root"
    admin = f"arn:aws:iam::{srv.account}:user/admin"
    pol = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:VerifyMac", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:GenerateMac", "Resource": "*",
         "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_512"}}}]}
    m = srv.kms.create_key(KeySpec="HMAC_512", KeyUsage="GENERATE_VERIFY_MAC",
                           Policy=json.dumps(pol))["KeyMetadata"]
    kid, arn = m["KeyId"], m["Arn"]
    with pytest.raises(ClientError) as e:
        srv.kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_512")
    assert err(e) == ("AccessDeniedException", f"User: {admin} is not authorized to perform: kms:GenerateMac "
                      f"on resource: {arn} with an explicit deny in a resource-based policy")
    with pytest.raises(ClientError) as e:
        srv.kms.verify_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_512", Mac=b"x" * 64)
    assert err(e) == ("AccessDeniedException", f"User: {admin} is not authorized to perform: kms:VerifyMac "
                      f"on resource: {arn} with an explicit deny in a resource-based policy")
    # DryRun stops after authorization, on an allowed key (raw requests: Debian's
    # botocore 1.26 predates DryRun)
    ok = srv.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    body = {"KeyId": ok["KeyId"], "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256", "DryRun": True}
    for op, b in [("GenerateMac", body), ("VerifyMac", {**body, "Mac": b64(b"x")})]:
        st, ans = raw(srv, op, b)
        assert (st, ans["__type"], ans.get("message") or ans.get("Message")) == (
            412, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")


def test_audit_lines(srv, keys):
    kid = keys["HMAC_224"]["KeyId"]
    mac = srv.kms.generate_mac(KeyId=kid, Message=b"SECRET-MAC-MESSAGE", MacAlgorithm="HMAC_SHA_224")["Mac"]
    with pytest.raises(ClientError):
        srv.kms.verify_mac(KeyId=kid, Message=b"SECRET-MAC-MESSAGE", MacAlgorithm="HMAC_SHA_224",
                           Mac=bytes(28))
    text = (srv.dir / "audit.log").read_text()
    ev = [json.loads(l) for l in text.splitlines()][-2:]
    assert [(e["operation"], e["result"]) for e in ev] == [("GenerateMac", "Success"),
                                                            ("VerifyMac", "KMSInvalidMacException")]
    assert all(e["keyId"].endswith(kid) for e in ev)
    assert ev[0]["authorization"][0]["decision"] == "Allow"
    for needle in [b"SECRET-MAC-MESSAGE", mac]:
        assert b64(needle) not in text
    assert "SECRET-MAC-MESSAGE" not in text
    assert srv.cli("audit", "verify").returncode == 0


def test_survives_restart(srv, keys):
    kid = keys["HMAC_512"]["KeyId"]
    before = srv.kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_512")["Mac"]
    srv.kill9()
    srv.start()
    srv.kms = srv.client()
    assert srv.kms.describe_key(KeyId=kid)["KeyMetadata"]["MacAlgorithms"] == ["HMAC_SHA_512"]
    assert srv.kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_512")["Mac"] == before
