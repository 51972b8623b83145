# SPDX-License-Identifier: Apache-2.0
"""Grants in cloister-kms with boto3 (1.26 knows every grant operation):
CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant;
grantees doing what only their grant lets them do, constraints honoured and
refused, grant tokens on the operations that take them, who may retire and
revoke, pagination, the kms:Grant* condition keys, `cloister-kms explain
--grant`, the audit line, and grants surviving a restart and going with
their key. Each refusal is checked with its exact code and message."""
import base64
import json
import re
import sqlite3
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from kmsserver import KMS, KmsServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = KmsServer(tmp_path_factory.mktemp("kms") / "data")
    s.kms = s.client()
    s.admin_arn = f"arn:aws:iam::{s.account}:user/admin"
    yield s
    s.stop()


def user(srv, name, policy=None):
    """A principal of its own (no identity policy: only grants and key
    policies naming it let it act) and a boto3 client of it."""
    p = srv.principal(name, policy=policy)
    return p["Arn"], srv.client(creds=(p["AccessKeyId"], p["SecretAccessKey"]))


@pytest.fixture(scope="module")
def bob(srv):
    return user(srv, "bob")


@pytest.fixture(scope="module")
def carol(srv):
    return user(srv, "carol")


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"]


def raw(srv, op, body, creds=None):
    """A signed request that bypasses botocore's client-side validation."""
    status, text = srv.signed("TrentService." + op, body, creds=creds)
    return status, json.loads(text) if text else {}


def denied(who, action, key_arn):
    return ("AccessDeniedException",
            f"User: {who} is not authorized to perform: {action} on resource: {key_arn} "
            f"because no resource-based policy allows the {action} action")


def sym_key(srv, **kw):
    return srv.kms.create_key(**kw)["KeyMetadata"]


def test_grantee_can_do_what_the_grant_allows(srv, bob):
    bob_arn, b = bob
    k = sym_key(srv)
    with pytest.raises(ClientError) as e:
        b.encrypt(KeyId=k["KeyId"], Plaintext=b"x")
    assert err(e) == denied(bob_arn, "kms:Encrypt", k["Arn"])
    g = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=bob_arn,
                             Operations=["Encrypt", "Decrypt", "DescribeKey"])
    assert re.fullmatch(r"[0-9a-f]{64}", g["GrantId"])
    assert len(g["GrantToken"]) == 88 and len(base64.b64decode(g["GrantToken"])) == 65
    # usable at once, with or without the token
    ct = b.encrypt(KeyId=k["KeyId"], Plaintext=b"secret", GrantTokens=[g["GrantToken"]])
    assert b.decrypt(CiphertextBlob=ct["CiphertextBlob"])["Plaintext"] == b"secret"
    assert b.describe_key(KeyId=k["Arn"])["KeyMetadata"]["KeyId"] == k["KeyId"]
    # only the grant's operations
    with pytest.raises(ClientError) as e:
        b.generate_data_key(KeyId=k["KeyId"], KeySpec="AES_256")
    assert err(e) == denied(bob_arn, "kms:GenerateDataKey", k["Arn"])
    # only the grantee
    carol_arn, c = user(srv, "carol2")
    with pytest.raises(ClientError) as e:
        c.encrypt(KeyId=k["KeyId"], Plaintext=b"x", GrantTokens=[g["GrantToken"]])
    assert err(e) == denied(carol_arn, "kms:Encrypt", k["Arn"])
    # the audit line names the grant that allowed the call
    lines = [json.loads(l) for l in (srv.dir / "audit.log").read_text().splitlines()]
    dec = [l for l in lines if l["operation"] == "Decrypt" and l["principal"] == bob_arn][-1]
    assert dec["result"] == "Success"
    assert {"decision": "Allow", "source": "grant", "grantId": g["GrantId"],
            "action": "kms:Decrypt"}.items() <= dec["authorization"][-1].items()


def test_reencrypt_and_data_keys_by_grant(srv, bob):
    bob_arn, b = bob
    src, dst = sym_key(srv), sym_key(srv)
    ct = srv.kms.encrypt(KeyId=src["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        b.re_encrypt(CiphertextBlob=ct, DestinationKeyId=dst["KeyId"])
    assert err(e) == denied(bob_arn, "kms:ReEncryptFrom", src["Arn"])
    srv.kms.create_grant(KeyId=src["KeyId"], GranteePrincipal=bob_arn, Operations=["ReEncryptFrom"])
    with pytest.raises(ClientError) as e:
        b.re_encrypt(CiphertextBlob=ct, DestinationKeyId=dst["KeyId"])
    assert err(e) == denied(bob_arn, "kms:ReEncryptTo", dst["Arn"])
    srv.kms.create_grant(KeyId=dst["KeyId"], GranteePrincipal=bob_arn,
                         Operations=["ReEncryptTo", "GenerateDataKey"])
    out = b.re_encrypt(CiphertextBlob=ct, DestinationKeyId=dst["KeyId"])
    assert srv.kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == b"p"
    assert len(b.generate_data_key(KeyId=dst["KeyId"], NumberOfBytes=16)["Plaintext"]) == 16


def test_signing_and_public_key_by_grant(srv, bob):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    bob_arn, b = bob
    k = srv.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        b.sign(KeyId=k["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert err(e) == denied(bob_arn, "kms:Sign", k["Arn"])
    g = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=bob_arn,
                             Operations=["Sign", "Verify", "GetPublicKey"])
    t = [g["GrantToken"]]
    sig = b.sign(KeyId=k["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256",
                 GrantTokens=t)["Signature"]
    assert b.verify(KeyId=k["KeyId"], Message=b"m", Signature=sig,
                    SigningAlgorithm="ECDSA_SHA_256", GrantTokens=t)["SignatureValid"]
    pub = serialization.load_der_public_key(
        b.get_public_key(KeyId=k["KeyId"], GrantTokens=t)["PublicKey"])
    pub.verify(sig, b"m", ec.ECDSA(hashes.SHA256()))  # cross-checked here


def test_constraints(srv, bob):
    bob_arn, b = bob
    k = sym_key(srv)
    srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=bob_arn,
                         Operations=["Encrypt", "DescribeKey"],
                         Constraints={"EncryptionContextSubset": {"purpose": "test"}})
    ok = [{"purpose": "test"}, {"purpose": "test", "more": "x"},
          {"PURPOSE": "test"}]  # keys without case, as AWS compares them
    for ctx in ok:
        b.encrypt(KeyId=k["KeyId"], Plaintext=b"x", EncryptionContext=ctx)
    for ctx in [None, {"purpose": "TEST"}, {"other": "test"}]:
        kw = {"EncryptionContext": ctx} if ctx else {}
        with pytest.raises(ClientError) as e:
            b.encrypt(KeyId=k["KeyId"], Plaintext=b"x", **kw)
        assert err(e) == denied(bob_arn, "kms:Encrypt", k["Arn"])
    # a constraint does not apply to DescribeKey
    b.describe_key(KeyId=k["KeyId"])

    k2 = sym_key(srv)
    srv.kms.create_grant(KeyId=k2["KeyId"], GranteePrincipal=bob_arn, Operations=["Encrypt"],
                         Constraints={"EncryptionContextEquals": {"a": "1", "b": "2"}})
    b.encrypt(KeyId=k2["KeyId"], Plaintext=b"x", EncryptionContext={"b": "2", "a": "1"})
    for ctx in [{"a": "1"}, {"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "3"}]:
        with pytest.raises(ClientError) as e:
            b.encrypt(KeyId=k2["KeyId"], Plaintext=b"x", EncryptionContext=ctx)
        assert err(e) == denied(bob_arn, "kms:Encrypt", k2["Arn"])


def test_grant_tokens_are_validated(srv):
    k = sym_key(srv)
    rsa = srv.kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    ct = srv.kms.encrypt(KeyId=k["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    unknown = base64.b64encode(b"\x01" + bytes(64)).decode()  # well formed, no such grant
    calls = [
        ("Encrypt", {"KeyId": k["KeyId"], "Plaintext": "eA=="}),
        ("Decrypt", {"CiphertextBlob": base64.b64encode(ct).decode()}),
        ("ReEncrypt", {"CiphertextBlob": base64.b64encode(ct).decode(),
                       "DestinationKeyId": k["KeyId"]}),
        ("GenerateDataKey", {"KeyId": k["KeyId"], "NumberOfBytes": 8}),
        ("GenerateDataKeyWithoutPlaintext", {"KeyId": k["KeyId"], "NumberOfBytes": 8}),
        ("GenerateDataKeyPair", {"KeyId": k["KeyId"], "KeyPairSpec": "ECC_NIST_P256"}),
        ("GenerateDataKeyPairWithoutPlaintext", {"KeyId": k["KeyId"], "KeyPairSpec": "ECC_NIST_P256"}),
        ("DescribeKey", {"KeyId": k["KeyId"]}),
        ("GetPublicKey", {"KeyId": rsa["KeyId"]}),
        ("Sign", {"KeyId": rsa["KeyId"], "Message": "bQ==", "SigningAlgorithm": "RSASSA_PSS_SHA_256"}),
        ("Verify", {"KeyId": rsa["KeyId"], "Message": "bQ==", "Signature": "AA==",
                    "SigningAlgorithm": "RSASSA_PSS_SHA_256"}),
        ("CreateGrant", {"KeyId": k["KeyId"], "GranteePrincipal": srv.admin_arn,
                         "Operations": ["Encrypt"]}),
    ]
    for op, body in calls:
        for token in ["garbage", unknown, "QUJD"]:
            status, out = raw(srv, op, {**body, "GrantTokens": [token]})
            assert (status, out) == (400, {"__type": "InvalidGrantTokenException",
                                           "message": "Invalid grant token."}), op
    # a real token is accepted on each of them
    tok = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=srv.admin_arn,
                               Operations=["Encrypt"])["GrantToken"]
    for op, body in calls:
        status, out = raw(srv, op, {**body, "GrantTokens": [tok]})
        assert status == 200 or out["__type"] == "KMSInvalidSignatureException", (op, out)
    # a retired grant's token no longer resolves
    srv.kms.retire_grant(GrantToken=tok)
    with pytest.raises(ClientError) as e:
        srv.kms.encrypt(KeyId=k["KeyId"], Plaintext=b"x", GrantTokens=[tok])
    assert err(e) == ("InvalidGrantTokenException", "Invalid grant token.")


def test_operations_must_suit_the_key(srv):
    sym = sym_key(srv)
    rsa_enc = srv.kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    ecc = srv.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    hmac = srv.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    me = srv.admin_arn
    bad = [(sym, "Sign", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
           (sym, "GetPublicKey", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
           (sym, "GenerateMac", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
           (rsa_enc, "Sign", "RSA_2048", "ENCRYPT_DECRYPT"),
           (rsa_enc, "GenerateDataKey", "RSA_2048", "ENCRYPT_DECRYPT"),
           (ecc, "Encrypt", "ECC_NIST_P256", "SIGN_VERIFY"),
           (ecc, "GenerateDataKeyPair", "ECC_NIST_P256", "SIGN_VERIFY"),
           (hmac, "Encrypt", "HMAC_256", "GENERATE_VERIFY_MAC"),
           (hmac, "Verify", "HMAC_256", "GENERATE_VERIFY_MAC")]
    for k, op, spec, usage in bad:
        with pytest.raises(ClientError) as e:
            srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=me,
                                 Operations=["DescribeKey", op])
        assert err(e) == ("ValidationException",
                          f"Grant operation {op} is not valid for a key with KeySpec {spec} "
                          f"and KeyUsage {usage}."), (spec, op)
    good = [(sym, ["Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey",
                   "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair",
                   "GenerateDataKeyPairWithoutPlaintext", "CreateGrant", "RetireGrant",
                   "DescribeKey"]),
            (rsa_enc, ["Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"]),
            (ecc, ["Sign", "Verify", "GetPublicKey", "DescribeKey"]),
            (hmac, ["GenerateMac", "VerifyMac", "RetireGrant"])]
    for k, ops in good:
        srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=me, Operations=ops)
    # constraints need an encryption context: symmetric keys only
    for k in (rsa_enc, hmac):
        with pytest.raises(ClientError) as e:
            srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=me, Operations=["DescribeKey"],
                                 Constraints={"EncryptionContextSubset": {"a": "b"}})
        assert err(e) == ("ValidationException",
                          f"Grant constraints are not valid for a key with KeySpec "
                          f"{k['KeySpec']}: only symmetric encryption keys take an encryption "
                          f"context.")


def test_create_grant_validation(srv):
    k = sym_key(srv)
    ok = {"KeyId": k["KeyId"], "GranteePrincipal": srv.admin_arn, "Operations": ["Encrypt"]}
    enum = ("Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncryptFrom, "
            "ReEncryptTo, Sign, Verify, GetPublicKey, CreateGrant, RetireGrant, DescribeKey, "
            "GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateMac, VerifyMac, "
            "DeriveSharedSecret")
    cases = [
        ({k2: v for k2, v in ok.items() if k2 != "GranteePrincipal"}, "ValidationException",
         "1 validation error detected: Value null at 'granteePrincipal' failed to satisfy "
         "constraint: Member must not be null"),
        ({k2: v for k2, v in ok.items() if k2 != "Operations"}, "ValidationException",
         "1 validation error detected: Value null at 'operations' failed to satisfy constraint: "
         "Member must not be null"),
        ({k2: v for k2, v in ok.items() if k2 != "KeyId"}, "ValidationException",
         "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
         "Member must not be null"),
        ({**ok, "Operations": []}, "ValidationException",
         "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: "
         "Member must have length greater than or equal to 1"),
        ({**ok, "Operations": ["Encrypt", "Frob"]}, "ValidationException",
         "1 validation error detected: Value '[Frob]' at 'operations' failed to satisfy "
         f"constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{enum}]]"),
        ({**ok, "GranteePrincipal": "bad principal"}, "ValidationException",
         "1 validation error detected: Value 'bad principal' at 'granteePrincipal' failed to "
         "satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"),
        ({**ok, "RetiringPrincipal": "x" * 257}, "ValidationException",
         "1 validation error detected: Value at 'retiringPrincipal' failed to satisfy constraint: "
         "Member must have length less than or equal to 256"),
        ({**ok, "Name": "has space"}, "ValidationException",
         "1 validation error detected: Value 'has space' at 'name' failed to satisfy constraint: "
         "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"),
        ({**ok, "GranteePrincipal": "bob"}, "InvalidArnException",
         "ARN does not refer to a valid principal: bob"),
        ({**ok, "RetiringPrincipal": "arn:aws:iam::12:user/x"}, "InvalidArnException",
         "ARN does not refer to a valid principal: arn:aws:iam::12:user/x"),
        ({**ok, "Constraints": {"EncryptionContextSubset": {str(i): "v" for i in range(9)}}},
         "ValidationException", "A grant constraint can have at most 8 encryption context pairs."),
        ({**ok, "Constraints": {"EncryptionContextEquals": {"a": "v" * 385}}},
         "ValidationException",
         "An encryption context value in a grant constraint can have at most 384 characters."),
        ({**ok, "Constraints": "x"}, "SerializationException",
         "Unexpected value type for 'Constraints': expected a structure"),
        ({**ok, "KeyId": "alias/nope"}, "NotFoundException", "Invalid keyId 'alias/nope'"),
        ({**ok, "DryRun": True}, "DryRunOperationException",
         "The request would have succeeded, but the DryRun option is set."),
    ]
    for body, code, msg in cases:
        status, out = raw(srv, "CreateGrant", body)
        assert out.get("__type") == code and out.get("message") == msg, (body, out)
    # DryRun made nothing
    assert srv.kms.list_grants(KeyId=k["KeyId"])["Grants"] == []
    # a key pending deletion takes no grant
    srv.kms.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7)
    status, out = raw(srv, "CreateGrant", ok)
    assert out == {"__type": "KMSInvalidStateException", "message": f"{k['Arn']} is pending deletion."}


def test_name_makes_create_grant_idempotent(srv, bob):
    bob_arn, _ = bob
    k = sym_key(srv)
    kw = dict(KeyId=k["KeyId"], GranteePrincipal=bob_arn, Operations=["Encrypt", "Decrypt"],
              Name="app/grant-1", Constraints={"EncryptionContextSubset": {"a": "b"}})
    g1 = srv.kms.create_grant(**kw)
    g2 = srv.kms.create_grant(**kw)
    assert (g1["GrantId"], g1["GrantToken"]) == (g2["GrantId"], g2["GrantToken"])
    g3 = srv.kms.create_grant(**{**kw, "Operations": ["Encrypt"]})
    assert g3["GrantId"] != g1["GrantId"]
    g4 = srv.kms.create_grant(**{k2: v for k2, v in kw.items() if k2 != "Name"})
    assert g4["GrantId"] not in (g1["GrantId"], g3["GrantId"])
    assert len(srv.kms.list_grants(KeyId=k["KeyId"])["Grants"]) == 3


def test_list_grants(srv, bob, carol):
    bob_arn, _ = bob
    carol_arn, _ = carol
    k = sym_key(srv)
    made = []
    for i in range(5):
        kw = dict(KeyId=k["KeyId"], GranteePrincipal=bob_arn if i % 2 else carol_arn,
                  Operations=["Encrypt"])
        if i == 0:
            kw.update(Name="first", RetiringPrincipal=carol_arn,
                      Constraints={"EncryptionContextEquals": {"k": "v"}})
        made.append(srv.kms.create_grant(**kw)["GrantId"])
    page = srv.kms.list_grants(KeyId=k["Arn"])
    assert page["Truncated"] is False and "NextMarker" not in page
    assert sorted(g["GrantId"] for g in page["Grants"]) == sorted(made)
    first = next(g for g in page["Grants"] if g["GrantId"] == made[0])
    assert first.pop("CreationDate").timestamp() == pytest.approx(time.time(), abs=120)
    assert first == {"KeyId": k["Arn"], "GrantId": made[0], "Name": "first",
                     "GranteePrincipal": carol_arn, "RetiringPrincipal": carol_arn,
                     "IssuingAccount": f"arn:aws:iam::{srv.account}:root",
                     "Operations": ["Encrypt"],
                     "Constraints": {"EncryptionContextEquals": {"k": "v"}}}
    other = next(g for g in page["Grants"] if g["GrantId"] == made[1])
    assert set(other) == {"KeyId", "GrantId", "CreationDate", "GranteePrincipal",
                          "IssuingAccount", "Operations"}
    # pages of 2
    seen, marker = [], None
    while True:
        p = srv.kms.list_grants(KeyId=k["KeyId"], Limit=2, **({"Marker": marker} if marker else {}))
        seen += [g["GrantId"] for g in p["Grants"]]
        assert len(p["Grants"]) <= 2
        if not p["Truncated"]:
            break
        marker = p["NextMarker"]
    assert seen == sorted(made)
    # filters
    only = srv.kms.list_grants(KeyId=k["KeyId"], GrantId=made[3])["Grants"]
    assert [g["GrantId"] for g in only] == [made[3]]
    bobs = srv.kms.list_grants(KeyId=k["KeyId"], GranteePrincipal=bob_arn)["Grants"]
    assert sorted(g["GrantId"] for g in bobs) == sorted([made[1], made[3]])
    # refusals
    with pytest.raises(ClientError) as e:
        srv.kms.list_grants(KeyId=k["KeyId"], Marker="garbage")
    assert err(e) == ("InvalidMarkerException", "Invalid marker garbage")
    other_key = sym_key(srv)
    with pytest.raises(ClientError) as e:  # a marker of another key's list
        srv.kms.list_grants(KeyId=other_key["KeyId"], Marker=marker)
    assert err(e)[0] == "InvalidMarkerException"
    with pytest.raises(ClientError) as e:
        srv.kms.list_grants(KeyId=k["KeyId"], GrantId="abc")
    assert err(e) == ("InvalidGrantIdException", "Invalid grant ID abc.")
    status, out = raw(srv, "ListGrants", {"KeyId": k["KeyId"], "Limit": 101})
    assert out == {"__type": "ValidationException", "message":
                   "1 validation error detected: Value '101' at 'limit' failed to satisfy "
                   "constraint: Member must have value less than or equal to 100"}
    with pytest.raises(ClientError) as e:
        srv.kms.list_grants(KeyId="alias/x")
    assert err(e) == ("NotFoundException", "Invalid keyId 'alias/x'")
    # kms:ListGrants is a key policy action: bob has none
    with pytest.raises(ClientError) as e:
        bob[1].list_grants(KeyId=k["KeyId"])
    assert err(e) == denied(bob_arn, "kms:ListGrants", k["Arn"])


def test_list_retirable_grants(srv):
    ret_arn, _ = user(srv, "retirer")
    k1, k2 = sym_key(srv), sym_key(srv)
    made = sorted(srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=srv.admin_arn,
                                       RetiringPrincipal=ret_arn,
                                       Operations=["Decrypt"])["GrantId"] for k in (k1, k2, k1))
    srv.kms.create_grant(KeyId=k1["KeyId"], GranteePrincipal=ret_arn, Operations=["Decrypt"])
    seen, marker = [], None
    while True:
        p = srv.kms.list_retirable_grants(RetiringPrincipal=ret_arn, Limit=1,
                                          **({"Marker": marker} if marker else {}))
        seen += p["Grants"]
        if not p["Truncated"]:
            break
        marker = p["NextMarker"]
    assert [g["GrantId"] for g in seen] == made
    assert {g["KeyId"] for g in seen} == {k1["Arn"], k2["Arn"]}
    assert srv.kms.list_retirable_grants(
        RetiringPrincipal=f"arn:aws:iam::{srv.account}:user/nobody")["Grants"] == []
    with pytest.raises(ClientError) as e:
        srv.kms.list_retirable_grants(RetiringPrincipal=ret_arn, Marker="garbage")
    assert err(e) == ("InvalidMarkerException", "Invalid marker garbage")
    status, out = raw(srv, "ListRetirableGrants", {})
    assert out == {"__type": "ValidationException", "message":
                   "1 validation error detected: Value null at 'retiringPrincipal' failed to "
                   "satisfy constraint: Member must not be null"}


def test_retire_grant(srv):
    g_arn, g = user(srv, "grantee-r")
    r_arn, r = user(srv, "retiring-r")
    k = sym_key(srv)
    # the retiring principal retires with the grant id and key id
    a = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=g_arn, RetiringPrincipal=r_arn,
                             Operations=["Encrypt"])
    g.encrypt(KeyId=k["KeyId"], Plaintext=b"x")
    with pytest.raises(ClientError) as e:  # the grantee may not: RetireGrant is not its operation
        g.retire_grant(KeyId=k["Arn"], GrantId=a["GrantId"])
    assert err(e) == denied(g_arn, "kms:RetireGrant", k["Arn"])
    r.retire_grant(KeyId=k["Arn"], GrantId=a["GrantId"])
    with pytest.raises(ClientError) as e:
        g.encrypt(KeyId=k["KeyId"], Plaintext=b"x")
    assert err(e) == denied(g_arn, "kms:Encrypt", k["Arn"])
    # the grantee retires a grant that allows RetireGrant, with its token
    b = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=g_arn,
                             Operations=["Encrypt", "RetireGrant"])
    g.retire_grant(GrantToken=b["GrantToken"])
    assert srv.kms.list_grants(KeyId=k["KeyId"])["Grants"] == []
    # a principal whose policy allows kms:RetireGrant (the administrator)
    c = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=g_arn, Operations=["Encrypt"])
    srv.kms.retire_grant(KeyId=k["KeyId"], GrantId=c["GrantId"])
    # refusals
    cases = [
        ({}, "ValidationException",
         "Either a grant token, or both a grant ID and a key ID, must be specified."),
        ({"GrantId": c["GrantId"]}, "ValidationException",
         "Either a grant token, or both a grant ID and a key ID, must be specified."),
        ({"GrantToken": "garbage"}, "InvalidGrantTokenException", "Invalid grant token."),
        ({"GrantToken": b["GrantToken"]}, "InvalidGrantTokenException", "Invalid grant token."),
        ({"KeyId": k["KeyId"], "GrantId": "xyz"}, "InvalidGrantIdException", "Invalid grant ID xyz."),
        ({"KeyId": k["KeyId"], "GrantId": c["GrantId"]}, "NotFoundException",
         f"Grant ID {c['GrantId']} not found"),
        ({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "GrantId": c["GrantId"]},
         "NotFoundException",
         f"Key 'arn:aws:kms:{srv.region}:{srv.account}:key/1234abcd-12ab-34cd-56ef-1234567890ab' "
         "does not exist"),
    ]
    for body, code, msg in cases:
        status, out = raw(srv, "RetireGrant", body)
        assert out.get("__type") == code and out.get("message") == msg, (body, out)
    # a grant of another key is not found under this one
    k2 = sym_key(srv)
    d = srv.kms.create_grant(KeyId=k2["KeyId"], GranteePrincipal=g_arn, Operations=["Encrypt"])
    status, out = raw(srv, "RetireGrant", {"KeyId": k["KeyId"], "GrantId": d["GrantId"]})
    assert out == {"__type": "NotFoundException", "message": f"Grant ID {d['GrantId']} not found"}
    # DryRun retires nothing
    status, out = raw(srv, "RetireGrant", {"GrantToken": d["GrantToken"], "DryRun": True})
    assert out["__type"] == "DryRunOperationException"
    assert len(srv.kms.list_grants(KeyId=k2["KeyId"])["Grants"]) == 1


def test_revoke_grant(srv, bob):
    bob_arn, b = bob
    k = sym_key(srv)
    a = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=bob_arn, RetiringPrincipal=bob_arn,
                             Operations=["Encrypt", "RetireGrant"])
    # revoking needs kms:RevokeGrant in a policy: neither grantee nor retiring principal has it
    with pytest.raises(ClientError) as e:
        b.revoke_grant(KeyId=k["KeyId"], GrantId=a["GrantId"])
    assert err(e) == denied(bob_arn, "kms:RevokeGrant", k["Arn"])
    status, out = raw(srv, "RevokeGrant", {"KeyId": k["KeyId"], "GrantId": a["GrantId"],
                                           "DryRun": True})
    assert out["__type"] == "DryRunOperationException"
    b.encrypt(KeyId=k["KeyId"], Plaintext=b"x")
    assert srv.kms.revoke_grant(KeyId=k["Arn"], GrantId=a["GrantId"])["ResponseMetadata"]
    with pytest.raises(ClientError) as e:
        b.encrypt(KeyId=k["KeyId"], Plaintext=b"x")
    assert err(e) == denied(bob_arn, "kms:Encrypt", k["Arn"])
    cases = [
        ({"KeyId": k["KeyId"], "GrantId": a["GrantId"]}, "NotFoundException",
         f"Grant ID {a['GrantId']} not found"),
        ({"KeyId": k["KeyId"], "GrantId": "g" * 64}, "InvalidGrantIdException",
         f"Invalid grant ID {'g' * 64}."),
        ({"KeyId": k["KeyId"]}, "ValidationException",
         "1 validation error detected: Value null at 'grantId' failed to satisfy constraint: "
         "Member must not be null"),
        ({"GrantId": a["GrantId"]}, "ValidationException",
         "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
         "Member must not be null"),
    ]
    for body, code, msg in cases:
        status, out = raw(srv, "RevokeGrant", body)
        assert out.get("__type") == code and out.get("message") == msg, (body, out)


def test_grantee_creates_grants_within_its_own(srv, bob, carol):
    bob_arn, b = bob
    carol_arn, c = carol
    k = sym_key(srv)
    srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=bob_arn,
                         Operations=["Encrypt", "Decrypt", "CreateGrant"],
                         Constraints={"EncryptionContextSubset": {"team": "a"}})
    # the same operations or fewer, constraints as strict or stricter
    b.create_grant(KeyId=k["KeyId"], GranteePrincipal=carol_arn, Operations=["Encrypt"],
                   Constraints={"EncryptionContextSubset": {"team": "a", "app": "x"}})
    b.create_grant(KeyId=k["KeyId"], GranteePrincipal=carol_arn, Operations=["Decrypt"],
                   Constraints={"EncryptionContextEquals": {"team": "a"}})
    c.encrypt(KeyId=k["KeyId"], Plaintext=b"x", EncryptionContext={"team": "a", "app": "x"})
    refused = [
        dict(Operations=["GenerateDataKey"],
             Constraints={"EncryptionContextSubset": {"team": "a"}}),
        dict(Operations=["Encrypt"]),
        dict(Operations=["Encrypt"], Constraints={"EncryptionContextSubset": {"team": "b"}}),
    ]
    for kw in refused:
        with pytest.raises(ClientError) as e:
            b.create_grant(KeyId=k["KeyId"], GranteePrincipal=carol_arn, **kw)
        assert err(e) == denied(bob_arn, "kms:CreateGrant", k["Arn"]), kw


def test_grant_condition_keys(srv):
    d_arn, d = user(srv, "dave")
    bob_arn = f"arn:aws:iam::{srv.account}:user/bob"
    root = f"arn:aws:iam::{srv.account}:root"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*",
         "Resource": "*"},
        {"Sid": "dave", "Effect": "Allow", "Principal": {"AWS": d_arn}, "Action": "kms:CreateGrant",
         "Resource": "*", "Condition": {
             "ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "Decrypt"]},
             "StringEquals": {"kms:GranteePrincipal": bob_arn},
             "Bool": {"kms:GrantIsForAWSResource": "false"},
             "StringEqualsIfExists": {"kms:RetiringPrincipal": d_arn},
             "ForAnyValue:StringEquals": {"kms:GrantConstraintType": "EncryptionContextSubset"}}}]}
    k = srv.kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    ok = dict(KeyId=k["KeyId"], GranteePrincipal=bob_arn, Operations=["Encrypt"],
              Constraints={"EncryptionContextSubset": {"a": "b"}})
    d.create_grant(**ok)
    d.create_grant(**{**ok, "RetiringPrincipal": d_arn, "Operations": ["Encrypt", "Decrypt"]})
    for bad in [{"Operations": ["Encrypt", "GenerateDataKey"]},
                {"GranteePrincipal": d_arn},
                {"RetiringPrincipal": bob_arn},
                {"Constraints": {"EncryptionContextEquals": {"a": "b"}}}]:
        with pytest.raises(ClientError) as e:
            d.create_grant(**{**ok, **bad})
        assert err(e) == denied(d_arn, "kms:CreateGrant", k["Arn"]), bad
    no_constraint = {k2: v for k2, v in ok.items() if k2 != "Constraints"}
    with pytest.raises(ClientError) as e:
        d.create_grant(**no_constraint)
    assert err(e) == denied(d_arn, "kms:CreateGrant", k["Arn"])


def test_explicit_deny_beats_a_grant(srv):
    e_arn, e_client = user(srv, "eve")
    root = f"arn:aws:iam::{srv.account}:root"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*",
         "Resource": "*"},
        {"Sid": "no-eve", "Effect": "Deny", "Principal": {"AWS": e_arn}, "Action": "kms:Encrypt",
         "Resource": "*"}]}
    k = srv.kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=e_arn, Operations=["Encrypt"])
    with pytest.raises(ClientError) as e:
        e_client.encrypt(KeyId=k["KeyId"], Plaintext=b"x")
    assert err(e) == ("AccessDeniedException",
                      f"User: {e_arn} is not authorized to perform: kms:Encrypt on resource: "
                      f"{k['Arn']} with an explicit deny in a resource-based policy")


def test_role_grant_covers_its_sessions(srv):
    role = srv.principal("grant-role", role=True)
    sess = srv.session("grant-role")["Credentials"]
    c = srv.client(creds=(sess["AccessKeyId"], sess["SecretAccessKey"]), token=sess["SessionToken"])
    k = sym_key(srv)
    srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=role["Arn"], Operations=["Encrypt"])
    c.encrypt(KeyId=k["KeyId"], Plaintext=b"x")


def test_explain_names_the_grant(srv, tmp_path):
    bob_arn = f"arn:aws:iam::{srv.account}:user/bob"
    k = sym_key(srv)
    g = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=bob_arn, Operations=["Decrypt"],
                             Constraints={"EncryptionContextSubset": {"app": "x"}})
    listing = srv.kms.list_grants(KeyId=k["KeyId"])
    listing.pop("ResponseMetadata")
    (tmp_path / "grants.json").write_text(json.dumps(listing, default=str))
    (tmp_path / "policy.json").write_text(srv.kms.get_key_policy(KeyId=k["KeyId"], PolicyName="default")["Policy"])

    def explain(*extra):
        p = subprocess.run([str(KMS), "explain", "--policy", str(tmp_path / "policy.json"),
                            "--action", "kms:Decrypt", "--principal", bob_arn,
                            "--resource", k["Arn"], "--grant", str(tmp_path / "grants.json"),
                            *extra], capture_output=True, text=True, timeout=30)
        return p.returncode, json.loads(p.stdout)

    rc, out = explain("--context", "kms:EncryptionContext:app=x",
                      "--context", "kms:EncryptionContextKeys=app")
    assert rc == 0
    assert out["Decision"] == "Allow"
    assert out["DecidedBy"] == {"Policy": "grant", "GrantId": g["GrantId"]}
    assert out["Reason"].startswith(f"grant {g['GrantId']} allows it: ")
    assert out["Grants"] == [{"GrantId": g["GrantId"], "Applies": True, "Why": out["Grants"][0]["Why"]}]
    rc, out = explain("--context", "kms:EncryptionContext:app=y")
    assert rc == 1 and out["Decision"] == "ImplicitDeny"
    assert out["Grants"][0] == {
        "GrantId": g["GrantId"], "Applies": False,
        "Why": "the request's encryption context does not include its EncryptionContextSubset "
               "constraint"}


def test_grants_survive_restart_and_go_with_their_key(tmp_path):
    s = KmsServer(tmp_path / "data")
    try:
        kms = s.client()
        p = s.principal("frank")
        f = lambda: s.client(creds=(p["AccessKeyId"], p["SecretAccessKey"]))
        k = kms.create_key()["KeyMetadata"]
        g = kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=p["Arn"], Operations=["Encrypt"])
        before = kms.list_grants(KeyId=k["KeyId"])["Grants"]
        s.stop()
        s.start()
        kms = s.client()
        assert kms.list_grants(KeyId=k["KeyId"])["Grants"] == before
        f().encrypt(KeyId=k["KeyId"], Plaintext=b"x", GrantTokens=[g["GrantToken"]])
        # the key's deletion date passes: the key goes, and its grants with it
        kms.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7)
        s.stop()
        db = sqlite3.connect(s.dir / "kms.db")
        db.execute("UPDATE keys SET deletion_date=1 WHERE id=?", (k["KeyId"],))
        db.commit()
        assert db.execute("SELECT count(*) FROM grants").fetchone() == (1,)
        db.close()
        s.start()
        kms = s.client()
        kms.list_keys()  # purges expired keys
        with pytest.raises(ClientError):
            kms.describe_key(KeyId=k["KeyId"])
        db = sqlite3.connect(s.dir / "kms.db")
        assert db.execute("SELECT count(*) FROM grants").fetchone() == (0,)
        db.close()
        with pytest.raises(ClientError) as e:
            f().encrypt(KeyId=k["KeyId"], Plaintext=b"x", GrantTokens=[g["GrantToken"]])
        assert err(e) == ("InvalidGrantTokenException", "Invalid grant token.")
    finally:
        s.stop()
    v = subprocess.run([str(KMS), "audit", "verify", "--data-dir", str(tmp_path / "data")],
                       capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stderr


def test_key_states_root_grantees_and_account_level_listing(srv, bob):
    bob_arn, b = bob
    k = sym_key(srv)
    srv.kms.disable_key(KeyId=k["KeyId"])
    # a disabled key takes grants; its grants are still no use while it is disabled
    g = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=bob_arn, Operations=["Encrypt"])
    with pytest.raises(ClientError) as e:
        b.encrypt(KeyId=k["KeyId"], Plaintext=b"x")
    assert err(e) == ("DisabledException", f"{k['Arn']} is disabled.")
    srv.kms.enable_key(KeyId=k["KeyId"])
    b.encrypt(KeyId=k["KeyId"], Plaintext=b"x")
    # a key pending deletion: its grants can still be listed, retired and revoked
    g2 = srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=bob_arn, Operations=["Decrypt"])
    srv.kms.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7)
    assert len(srv.kms.list_grants(KeyId=k["KeyId"])["Grants"]) == 2
    srv.kms.retire_grant(KeyId=k["KeyId"], GrantId=g["GrantId"])
    srv.kms.revoke_grant(KeyId=k["KeyId"], GrantId=g2["GrantId"])
    assert srv.kms.list_grants(KeyId=k["KeyId"])["Grants"] == []
    # a grant to the account root does not extend to the account's users
    k2 = sym_key(srv)
    srv.kms.create_grant(KeyId=k2["KeyId"], GranteePrincipal=f"arn:aws:iam::{srv.account}:root",
                         Operations=["Encrypt"])
    with pytest.raises(ClientError) as e:
        b.encrypt(KeyId=k2["KeyId"], Plaintext=b"x")
    assert err(e) == denied(bob_arn, "kms:Encrypt", k2["Arn"])
    # ListRetirableGrants is account-level: the identity policy decides
    with pytest.raises(ClientError) as e:
        b.list_retirable_grants(RetiringPrincipal=bob_arn)
    assert err(e) == ("AccessDeniedException",
                      f"User: {bob_arn} is not authorized to perform: kms:ListRetirableGrants "
                      "because no identity-based policy allows the kms:ListRetirableGrants action")


def test_grants_per_principal_quota(srv):
    q_arn, _ = user(srv, "quota")
    k = sym_key(srv)
    srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=q_arn, Operations=["Encrypt"])
    # 499 more written straight into the store (500 CreateGrant calls would be slow)
    db = sqlite3.connect(srv.dir / "kms.db", timeout=30)
    db.executemany(
        "INSERT INTO grants(grant_id, key_id, name, created, grantee, retiring, issuing, "
        "operations, constraints, token) VALUES(?,?,NULL,?,?,NULL,?,?,NULL,?)",
        [(f"{i:064x}", k["KeyId"], time.time(), q_arn, f"arn:aws:iam::{srv.account}:root",
          '["Encrypt"]', f"token-{i}") for i in range(499)])
    db.commit()
    db.close()
    with pytest.raises(ClientError) as e:
        srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=q_arn, Operations=["Encrypt"])
    assert err(e) == ("LimitExceededException",
                      f"The grantee principal {q_arn} already has 500 grants on this key.")
    # another grantee on the same key is not limited by it
    srv.kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=srv.admin_arn, Operations=["Encrypt"])


def test_audit_log_verifies(srv):
    """Last in the module: every line the tests above caused chains."""
    v = srv.cli("audit", "verify")
    assert v.returncode == 0, v.stderr
