# SPDX-License-Identifier: Apache-2.0
"""Multi-Region keys in cloister-kms with two boto3 clients (us-east-1, the
server's home region, and eu-west-1) against one server: CreateKey
MultiRegion, ReplicateKey, DescribeKey's MultiRegionConfiguration on both
sides, ciphertexts of either decrypted in the other (and locally, with the
material unwrapped from kms.db), rotation shared, UpdatePrimaryRegion, the
regions kept apart (keys, aliases, lists), PendingReplicaDeletion, policy
actions and condition keys, every refusal with its exact code and message,
and a restart. One real server for the module (docs/kms.md, "Regions" and
"Multi-Region keys")."""
import json
import re
import sqlite3
import struct
import time

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsserver import KmsServer

US, EU, AP = "us-east-1", "eu-west-1", "ap-south-1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = KmsServer(tmp_path_factory.mktemp("kms") / "data")
    assert s.region == US
    s.us, s.eu, s.ap = s.client(region=US), s.client(region=EU), s.client(region=AP)
    yield s
    s.stop()


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"]


def raw(srv, region, op, body):
    """A signed request in region (Debian's boto3 1.26 predates RotateKeyOnDemand,
    ListKeyRotations and RotationPeriodInDays): (status, JSON)."""
    status, text = srv.signed("TrentService." + op, body, region=region)
    return status, json.loads(text) if text else {}


def raw_ok(srv, region, op, body):
    status, out = raw(srv, region, op, body)
    assert status == 200, out
    return out


def arn(srv, region, kid):
    return f"arn:aws:kms:{region}:{srv.account}:key/{kid}"


def mrc(srv, kind, primary, replicas):
    return {"MultiRegionKeyType": kind,
            "PrimaryKey": {"Arn": arn(srv, primary[0], primary[1]), "Region": primary[0]},
            "ReplicaKeys": [{"Arn": arn(srv, r, kid), "Region": r} for r, kid in replicas]}


def material(srv, internal_id, version=1):
    """A row's material, unwrapped with master.key as the server does."""
    db = sqlite3.connect(f"file:{srv.dir / 'kms.db'}?mode=ro", uri=True)
    try:
        (wrapped,) = db.execute("SELECT wrapped FROM key_material WHERE key_id=? AND version=?",
                                (internal_id, version)).fetchone()
    finally:
        db.close()
    master = (srv.dir / "master.key").read_bytes()
    aad = f"cloister-kms/key-material/v1/{internal_id}/{version}".encode()
    return AESGCM(master).decrypt(wrapped[:12], wrapped[12:], aad)


def open_blob(key, blob, ctx=None):
    """docs/kms.md "Ciphertext blobs": header (33 bytes) + context as AAD."""
    aad = blob[:33] + struct.pack(">I", len(ctx or {}))
    for k in sorted((ctx or {}), key=lambda s: s.encode()):
        for part in (k.encode(), ctx[k].encode()):
            aad += struct.pack(">I", len(part)) + part
    return AESGCM(key).decrypt(blob[21:33], blob[33:], aad)


@pytest.fixture(scope="module")
def mrk(srv):
    """A multi-Region primary in us-east-1 replicated into eu-west-1."""
    m = srv.us.create_key(MultiRegion=True, Description="primary",
                          Tags=[{"TagKey": "side", "TagValue": "us"}])["KeyMetadata"]
    r = srv.us.replicate_key(KeyId=m["KeyId"], ReplicaRegion=EU, Description="replica",
                             Tags=[{"TagKey": "side", "TagValue": "eu"}])
    return m, r


def test_create_primary(srv):
    m = srv.us.create_key(MultiRegion=True)["KeyMetadata"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", m["KeyId"])
    assert m["Arn"] == arn(srv, US, m["KeyId"]) and m["MultiRegion"] is True
    assert m["MultiRegionConfiguration"] == mrc(srv, "PRIMARY", (US, m["KeyId"]), [])
    d = srv.us.describe_key(KeyId=m["KeyId"])["KeyMetadata"]
    assert d["MultiRegionConfiguration"] == m["MultiRegionConfiguration"]
    # single-Region keys: as before
    s = srv.us.create_key()["KeyMetadata"]
    assert s["MultiRegion"] is False and "MultiRegionConfiguration" not in s
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", s["KeyId"])
    # a primary made in another region is that region's
    e = srv.eu.create_key(MultiRegion=True, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert e["Arn"] == arn(srv, EU, e["KeyId"])
    assert e["MultiRegionConfiguration"] == mrc(srv, "PRIMARY", (EU, e["KeyId"]), [])


def test_replicate_and_describe_both_sides(srv, mrk):
    m, r = mrk
    kid = m["KeyId"]
    rm = r["ReplicaKeyMetadata"]
    assert rm["KeyId"] == kid and rm["Arn"] == arn(srv, EU, kid)
    assert rm["Description"] == "replica" and rm["KeyState"] == "Enabled" and rm["Enabled"]
    assert rm["KeySpec"] == "SYMMETRIC_DEFAULT" and rm["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert r["ReplicaTags"] == [{"TagKey": "side", "TagValue": "eu"}]
    assert json.loads(r["ReplicaPolicy"])["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{srv.account}:root"}
    want_p = mrc(srv, "PRIMARY", (US, kid), [(EU, kid)])
    want_r = mrc(srv, "REPLICA", (US, kid), [(EU, kid)])
    assert rm["MultiRegionConfiguration"] == want_r
    p = srv.us.describe_key(KeyId=kid)["KeyMetadata"]
    q = srv.eu.describe_key(KeyId=kid)["KeyMetadata"]
    assert p["MultiRegionConfiguration"] == want_p and q["MultiRegionConfiguration"] == want_r
    assert (p["Description"], q["Description"]) == ("primary", "replica")
    # separate tags, policies, state
    assert srv.us.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "side", "TagValue": "us"}]
    assert srv.eu.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "side", "TagValue": "eu"}]
    srv.eu.disable_key(KeyId=kid)
    assert srv.us.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    assert srv.eu.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"
    srv.eu.enable_key(KeyId=kid)
    # a disabled primary replicates; the replica starts Enabled
    srv.us.disable_key(KeyId=kid)
    srv.us.replicate_key(KeyId=kid, ReplicaRegion="ca-central-1")
    ca = srv.client(region="ca-central-1")
    assert ca.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    srv.us.enable_key(KeyId=kid)
    # a second replica shows in every member's configuration
    srv.us.replicate_key(KeyId=arn(srv, US, kid), ReplicaRegion=AP)
    for c, kind in ((srv.us, "PRIMARY"), (srv.eu, "REPLICA"), (srv.ap, "REPLICA")):
        got = c.describe_key(KeyId=kid)["KeyMetadata"]["MultiRegionConfiguration"]
        assert got == mrc(srv, kind, (US, kid), [(AP, kid), ("ca-central-1", kid), (EU, kid)])


def test_material_shared_and_ciphertext_interoperable(srv, mrk):
    kid = mrk[0]["KeyId"]
    assert material(srv, kid) == material(srv, f"{kid}@{EU}")
    ctx = {"purpose": "mrk", "b": "2"}
    for enc, dec, region in ((srv.us, srv.eu, EU), (srv.eu, srv.us, US)):
        blob = enc.encrypt(KeyId=kid, Plaintext=b"across regions", EncryptionContext=ctx)["CiphertextBlob"]
        assert blob[0] == 2  # docs/kms.md: version 2 names a multi-Region key id
        assert blob[1:17].hex() == kid[4:]
        out = dec.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
        assert out["Plaintext"] == b"across regions" and out["KeyId"] == arn(srv, region, kid)
        assert open_blob(material(srv, kid), blob, ctx) == b"across regions"
        with pytest.raises(ClientError) as e:
            dec.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"})
        assert err(e) == ("InvalidCiphertextException", "")
    dk = srv.eu.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert srv.us.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    # alias names in the replica's region, and a ReEncrypt across it
    srv.eu.create_alias(AliasName="alias/mrk-eu", TargetKeyId=kid)
    b = srv.eu.encrypt(KeyId="alias/mrk-eu", Plaintext=b"x")["CiphertextBlob"]
    re_ = srv.us.re_encrypt(CiphertextBlob=b, DestinationKeyId=kid)
    assert re_["SourceKeyId"] == arn(srv, US, kid)
    assert srv.eu.decrypt(CiphertextBlob=re_["CiphertextBlob"])["Plaintext"] == b"x"


def test_rotation_shared(srv, mrk):
    kid = mrk[0]["KeyId"]
    old = srv.us.encrypt(KeyId=kid, Plaintext=b"v1")["CiphertextBlob"]
    raw_ok(srv, US, "RotateKeyOnDemand", {"KeyId": kid})
    new = srv.eu.encrypt(KeyId=kid, Plaintext=b"v2")["CiphertextBlob"]
    assert struct.unpack(">I", new[17:21])[0] == 2
    assert material(srv, kid, 2) == material(srv, f"{kid}@{EU}", 2) != material(srv, kid, 1)
    assert srv.us.decrypt(CiphertextBlob=new)["Plaintext"] == b"v2"
    assert srv.eu.decrypt(CiphertextBlob=old)["Plaintext"] == b"v1"
    rot = raw_ok(srv, EU, "ListKeyRotations", {"KeyId": kid})["Rotations"]
    assert [(x["KeyId"], x["RotationType"]) for x in rot] == [(kid, "ON_DEMAND")]
    assert rot == raw_ok(srv, US, "ListKeyRotations", {"KeyId": kid})["Rotations"]
    # automatic rotation: set on the primary, shared by the replicas
    raw_ok(srv, US, "EnableKeyRotation", {"KeyId": kid, "RotationPeriodInDays": 100})
    st = raw_ok(srv, EU, "GetKeyRotationStatus", {"KeyId": kid})
    assert st["KeyRotationEnabled"] and st["RotationPeriodInDays"] == 100
    assert st["KeyId"] == arn(srv, EU, kid)
    # an automatic rotation due, found by a use of the replica, rotates every related key
    db = sqlite3.connect(str(srv.dir / "kms.db"))
    with db:
        db.execute("UPDATE keys SET next_rotation=1 WHERE id=?", (f"{kid}@{EU}",))
    db.close()
    time.sleep(2.2)  # the read cache's lifetime
    b3 = srv.eu.encrypt(KeyId=kid, Plaintext=b"v3")["CiphertextBlob"]
    assert struct.unpack(">I", b3[17:21])[0] == 3
    assert material(srv, kid, 3) == material(srv, f"{kid}@{EU}", 3)
    assert srv.us.decrypt(CiphertextBlob=b3)["Plaintext"] == b"v3"
    rot = raw_ok(srv, US, "ListKeyRotations", {"KeyId": kid})["Rotations"]
    assert [x["RotationType"] for x in rot] == ["ON_DEMAND", "AUTOMATIC"]
    assert rot == raw_ok(srv, EU, "ListKeyRotations", {"KeyId": kid})["Rotations"]
    db = sqlite3.connect(f"file:{srv.dir / 'kms.db'}?mode=ro", uri=True)
    nexts = dict(db.execute("SELECT id, next_rotation FROM keys WHERE id IN (?, ?)",
                            (kid, f"{kid}@{EU}")).fetchall())
    db.close()
    assert nexts[kid] == nexts[f"{kid}@{EU}"] > time.time() + 99 * 86400
    a = arn(srv, EU, kid)
    for op in ("EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand"):
        assert raw(srv, EU, op, {"KeyId": kid}) == (400, {
            "__type": "UnsupportedOperationException",
            "Message": f"{a} is a multi-Region replica key: rotation is managed on its primary key."})
    srv.us.disable_key_rotation(KeyId=kid)
    assert srv.eu.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False


def test_regions_apart(srv):
    single = srv.us.create_key(Description="us only")["KeyMetadata"]
    kid = single["KeyId"]
    with pytest.raises(ClientError) as e:
        srv.eu.describe_key(KeyId=kid)
    assert err(e) == ("NotFoundException", f"Key '{arn(srv, EU, kid)}' does not exist")
    # an ARN of another region is not this region's key either
    with pytest.raises(ClientError) as e:
        srv.eu.describe_key(KeyId=single["Arn"])
    assert err(e) == ("NotFoundException", f"Invalid arn {single['Arn']}")
    blob = srv.us.encrypt(KeyId=kid, Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        srv.eu.decrypt(CiphertextBlob=blob)
    assert err(e) == ("NotFoundException",
                      "The ciphertext refers to a customer master key that does not exist, does not "
                      "exist in this region, or you are not allowed to access.")
    eu_key = srv.eu.create_key(Description="eu only")["KeyMetadata"]
    assert eu_key["Arn"] == arn(srv, EU, eu_key["KeyId"])
    us_ids = {k["KeyId"] for k in srv.us.list_keys(Limit=1000)["Keys"]}
    eu_keys = srv.eu.list_keys(Limit=1000)["Keys"]
    assert kid in us_ids and eu_key["KeyId"] not in us_ids
    assert kid not in {k["KeyId"] for k in eu_keys}
    assert all(k["KeyArn"] == arn(srv, EU, k["KeyId"]) for k in eu_keys)
    # one alias name, one key per region
    srv.us.create_alias(AliasName="alias/same", TargetKeyId=kid)
    srv.eu.create_alias(AliasName="alias/same", TargetKeyId=eu_key["KeyId"])
    assert srv.us.describe_key(KeyId="alias/same")["KeyMetadata"]["KeyId"] == kid
    assert srv.eu.describe_key(KeyId="alias/same")["KeyMetadata"]["KeyId"] == eu_key["KeyId"]
    eu_aliases = srv.eu.list_aliases()["Aliases"]
    same = [a for a in eu_aliases if a["AliasName"] == "alias/same"]
    assert [(a["AliasArn"], a["TargetKeyId"]) for a in same] == [
        (f"arn:aws:kms:{EU}:{srv.account}:alias/same", eu_key["KeyId"])]
    assert all(a["AliasArn"].startswith(f"arn:aws:kms:{EU}:") for a in eu_aliases)
    us_same = [a for a in srv.us.list_aliases()["Aliases"] if a["AliasName"] == "alias/same"]
    assert [a["TargetKeyId"] for a in us_same] == [kid]
    # paging stays in its region
    page = srv.eu.list_keys(Limit=1)
    assert page["Truncated"] and len(page["Keys"]) == 1
    rest = srv.eu.list_keys(Limit=1000, Marker=page["NextMarker"])["Keys"]
    assert {k["KeyId"] for k in page["Keys"] + rest} == {k["KeyId"] for k in eu_keys}
    srv.eu.delete_alias(AliasName="alias/same")
    assert srv.us.describe_key(KeyId="alias/same")["KeyMetadata"]["KeyId"] == kid


def test_unknown_region(srv):
    c = srv.client(region="xx-fake-1")
    with pytest.raises(ClientError) as e:
        c.list_keys()
    assert err(e) == ("InvalidSignatureException",
                      "Credential should be scoped to a valid region, not 'xx-fake-1'. ")


def test_replicate_errors(srv, mrk):
    kid = mrk[0]["KeyId"]
    single = srv.us.create_key()["KeyMetadata"]
    cases = [
        (srv.us, dict(KeyId=single["KeyId"], ReplicaRegion=EU),
         ("UnsupportedOperationException", f"{single['Arn']} is not a multi-Region key.")),
        (srv.us, dict(KeyId=kid, ReplicaRegion=US),
         ("ValidationException", f"The replica Region {US} is the Region of the primary key.")),
        (srv.us, dict(KeyId=kid, ReplicaRegion=EU),
         ("AlreadyExistsException", f"{arn(srv, EU, kid)} already exists.")),
        (srv.eu, dict(KeyId=kid, ReplicaRegion="us-west-2"),
         ("UnsupportedOperationException", f"{arn(srv, EU, kid)} is not a multi-Region primary key.")),
        (srv.us, dict(KeyId=kid, ReplicaRegion="EU_WEST_1"),
         ("ValidationException", "1 validation error detected: Value 'EU_WEST_1' at 'replicaRegion' "
          "failed to satisfy constraint: Member must satisfy regular expression pattern: "
          "^([a-z]+-){2,3}\\d+$")),
        (srv.us, dict(KeyId=kid, ReplicaRegion="xx-fake-1"),
         ("UnsupportedOperationException", "The Region xx-fake-1 is not supported by this service.")),
        (srv.us, dict(KeyId=f"mrk-{'0' * 32}", ReplicaRegion=EU),
         ("NotFoundException", f"Key '{arn(srv, US, 'mrk-' + '0' * 32)}' does not exist")),
        (srv.us, dict(KeyId=kid, ReplicaRegion="us-west-2", Policy="{"),
         ("MalformedPolicyDocumentException", "The key policy is not valid JSON (line 1, column 1).")),
        (srv.us, dict(KeyId=kid, ReplicaRegion="us-west-2",
                      Tags=[{"TagKey": "aws:x", "TagValue": "v"}]),
         ("TagException", "Tags beginning with aws: are reserved")),
    ]
    for client, args, want in cases:
        with pytest.raises(ClientError) as e:
            client.replicate_key(**args)
        assert err(e) == want, args
    # nothing was made in us-west-2 by the refused requests
    west = srv.client(region="us-west-2")
    with pytest.raises(ClientError) as e:
        west.describe_key(KeyId=kid)
    assert err(e) == ("NotFoundException", f"Key '{arn(srv, 'us-west-2', kid)}' does not exist")
    # a missing member is the model's validation error (raw: boto3 checks it first)
    st, text = srv.signed("TrentService.ReplicateKey", {"KeyId": kid})
    assert (st, json.loads(text)) == (400, {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'replicaRegion' failed to satisfy "
                   "constraint: Member must not be null"})


def test_update_primary_region(srv):
    m = srv.us.create_key(MultiRegion=True)["KeyMetadata"]
    kid = m["KeyId"]
    srv.us.replicate_key(KeyId=kid, ReplicaRegion=EU)
    single = srv.us.create_key()["KeyMetadata"]
    cases = [
        (dict(KeyId=kid, PrimaryRegion=AP), ("NotFoundException", f"Key '{arn(srv, AP, kid)}' does not exist")),
        (dict(KeyId=kid, PrimaryRegion=US), ("ValidationException", f"{arn(srv, US, kid)} is already the primary key.")),
        (dict(KeyId=single["KeyId"], PrimaryRegion=EU),
         ("UnsupportedOperationException", f"{single['Arn']} is not a multi-Region key.")),
        (dict(KeyId=kid, PrimaryRegion="nowhere"),
         ("ValidationException", "1 validation error detected: Value 'nowhere' at 'primaryRegion' "
          "failed to satisfy constraint: Member must satisfy regular expression pattern: "
          "^([a-z]+-){2,3}\\d+$")),
    ]
    for args, want in cases:
        with pytest.raises(ClientError) as e:
            srv.us.update_primary_region(**args)
        assert err(e) == want, args
    with pytest.raises(ClientError) as e:
        srv.eu.update_primary_region(KeyId=kid, PrimaryRegion=US)
    assert err(e) == ("UnsupportedOperationException", f"{arn(srv, EU, kid)} is not a multi-Region primary key.")
    assert raw(srv, US, "UpdatePrimaryRegion", {"KeyId": arn(srv, US, kid), "PrimaryRegion": EU}) == (200, {})
    assert srv.eu.describe_key(KeyId=kid)["KeyMetadata"]["MultiRegionConfiguration"] == \
        mrc(srv, "PRIMARY", (EU, kid), [(US, kid)])
    assert srv.us.describe_key(KeyId=kid)["KeyMetadata"]["MultiRegionConfiguration"] == \
        mrc(srv, "REPLICA", (EU, kid), [(US, kid)])
    # the new primary replicates; the old one no longer can
    srv.eu.replicate_key(KeyId=kid, ReplicaRegion=AP)
    with pytest.raises(ClientError) as e:
        srv.us.replicate_key(KeyId=kid, ReplicaRegion="us-west-2")
    assert err(e) == ("UnsupportedOperationException", f"{arn(srv, US, kid)} is not a multi-Region primary key.")
    # rotation follows the primary's role
    raw_ok(srv, EU, "RotateKeyOnDemand", {"KeyId": kid})
    assert srv.ap.encrypt(KeyId=kid, Plaintext=b"p")["CiphertextBlob"][17:21] == b"\0\0\0\2"


def test_policy_actions_and_condition_keys(srv):
    root = f"arn:aws:iam::{srv.account}:root"
    m = srv.us.create_key(MultiRegion=True)["KeyMetadata"]
    kid = m["KeyId"]
    user_arn = f"arn:aws:iam::{srv.account}:user/replicator"
    ident = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:ReplicateKey", "kms:UpdatePrimaryRegion",
                                       "kms:DescribeKey", "kms:PutKeyPolicy"], "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ReplicaRegion": AP}}}]}
    p = srv.principal("replicator", policy=ident)
    us = srv.client(creds=(p["AccessKeyId"], p["SecretAccessKey"]), region=US)
    # kms:CreateKey in the replica's region is needed as well (the identity policy)
    with pytest.raises(ClientError) as e:
        us.replicate_key(KeyId=kid, ReplicaRegion=EU)
    assert err(e) == ("AccessDeniedException",
                      f"User: {user_arn} is not authorized to perform: kms:CreateKey because no "
                      "identity-based policy allows the kms:CreateKey action")
    us.replicate_key(KeyId=kid, ReplicaRegion=AP)
    # kms:ReplicaRegion and kms:PrimaryRegion in the key policy
    pol = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:ReplicateKey", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ReplicaRegion": "us-west-2"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:UpdatePrimaryRegion", "Resource": "*",
         "Condition": {"StringEquals": {"kms:PrimaryRegion": AP}}}]}
    k2 = srv.us.create_key(MultiRegion=True, Policy=json.dumps(pol))["KeyMetadata"]
    admin = f"arn:aws:iam::{srv.account}:user/admin"
    with pytest.raises(ClientError) as e:
        srv.us.replicate_key(KeyId=k2["KeyId"], ReplicaRegion="us-west-2")
    assert err(e) == ("AccessDeniedException", f"User: {admin} is not authorized to perform: "
                      f"kms:ReplicateKey on resource: {k2['Arn']} with an explicit deny in a "
                      "resource-based policy")
    srv.us.replicate_key(KeyId=k2["KeyId"], ReplicaRegion=AP, Policy=json.dumps(pol))
    srv.us.replicate_key(KeyId=k2["KeyId"], ReplicaRegion=EU)
    with pytest.raises(ClientError) as e:
        srv.us.update_primary_region(KeyId=k2["KeyId"], PrimaryRegion=AP)
    assert err(e) == ("AccessDeniedException", f"User: {admin} is not authorized to perform: "
                      f"kms:UpdatePrimaryRegion on resource: {k2['Arn']} with an explicit deny in a "
                      "resource-based policy")
    srv.us.update_primary_region(KeyId=k2["KeyId"], PrimaryRegion=EU)
    # the replica's own policy is asked too: AP's denies kms:UpdatePrimaryRegion to AP
    with pytest.raises(ClientError) as e:
        srv.eu.update_primary_region(KeyId=k2["KeyId"], PrimaryRegion=AP)
    assert err(e) == ("AccessDeniedException", f"User: {admin} is not authorized to perform: "
                      f"kms:UpdatePrimaryRegion on resource: {arn(srv, AP, k2['KeyId'])} with an "
                      "explicit deny in a resource-based policy")


def test_multi_region_condition_keys(srv):
    root = f"arn:aws:iam::{srv.account}:root"
    admin = f"arn:aws:iam::{srv.account}:user/admin"
    pol = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:MultiRegionKeyType": "REPLICA"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
         "Condition": {"Bool": {"kms:MultiRegion": "true"}}}]}
    m = srv.us.create_key(MultiRegion=True, Policy=json.dumps(pol))["KeyMetadata"]
    srv.us.replicate_key(KeyId=m["KeyId"], ReplicaRegion=EU, Policy=json.dumps(pol))
    srv.us.encrypt(KeyId=m["KeyId"], Plaintext=b"p")
    with pytest.raises(ClientError) as e:
        srv.eu.encrypt(KeyId=m["KeyId"], Plaintext=b"p")
    assert err(e) == ("AccessDeniedException", f"User: {admin} is not authorized to perform: "
                      f"kms:Encrypt on resource: {arn(srv, EU, m['KeyId'])} with an explicit deny "
                      "in a resource-based policy")
    s1 = srv.us.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", MultiRegion=True,
                           Policy=json.dumps(pol))["KeyMetadata"]
    s2 = srv.us.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY",
                           Policy=json.dumps(pol))["KeyMetadata"]
    srv.us.sign(KeyId=s2["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    with pytest.raises(ClientError) as e:
        srv.us.sign(KeyId=s1["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert err(e) == ("AccessDeniedException", f"User: {admin} is not authorized to perform: "
                      f"kms:Sign on resource: {s1['Arn']} with an explicit deny in a "
                      "resource-based policy")
    # an asymmetric multi-Region key's replica has the same public key
    srv.us.replicate_key(KeyId=s1["KeyId"], ReplicaRegion=EU)
    assert srv.eu.get_public_key(KeyId=s1["KeyId"])["PublicKey"] == \
        srv.us.get_public_key(KeyId=s1["KeyId"])["PublicKey"]


def test_pending_replica_deletion(srv):
    m = srv.us.create_key(MultiRegion=True)["KeyMetadata"]
    kid, parn = m["KeyId"], m["Arn"]
    srv.us.replicate_key(KeyId=kid, ReplicaRegion=EU)
    out = srv.us.schedule_key_deletion(KeyId=kid, PendingWindowInDays=9)
    assert out == {"KeyId": parn, "KeyState": "PendingReplicaDeletion", "PendingWindowInDays": 9,
                   "ResponseMetadata": out["ResponseMetadata"]}
    d = srv.us.describe_key(KeyId=kid)["KeyMetadata"]
    assert d["KeyState"] == "PendingReplicaDeletion" and d["PendingDeletionWindowInDays"] == 9
    assert "DeletionDate" not in d and d["Enabled"] is False
    with pytest.raises(ClientError) as e:
        srv.us.encrypt(KeyId=kid, Plaintext=b"p")
    assert err(e) == ("KMSInvalidStateException", f"{parn} is pending replica deletion.")
    with pytest.raises(ClientError) as e:
        srv.us.replicate_key(KeyId=kid, ReplicaRegion=AP)
    assert err(e) == ("KMSInvalidStateException", f"{parn} is pending replica deletion.")
    # the replica keeps working; once it is deleted, the primary's window starts
    assert srv.eu.encrypt(KeyId=kid, Plaintext=b"p")["KeyId"] == arn(srv, EU, kid)
    srv.eu.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    db = sqlite3.connect(str(srv.dir / "kms.db"))
    with db:  # the replica's date passes
        db.execute("UPDATE keys SET deletion_date=1 WHERE id=?", (f"{kid}@{EU}",))
    db.close()
    time.sleep(2.2)  # the read cache's lifetime (docs/kms.md, "Durability")
    with pytest.raises(ClientError) as e:
        srv.eu.describe_key(KeyId=kid)
    assert err(e) == ("NotFoundException", f"Key '{arn(srv, EU, kid)}' does not exist")
    d = srv.us.describe_key(KeyId=kid)["KeyMetadata"]
    assert d["KeyState"] == "PendingDeletion" and d["PendingDeletionWindowInDays"] == 9
    assert abs(d["DeletionDate"].timestamp() - (time.time() + 9 * 86400)) < 120
    assert d["MultiRegionConfiguration"] == mrc(srv, "PRIMARY", (US, kid), [])
    # canceling a PendingReplicaDeletion works as for PendingDeletion
    m2 = srv.us.create_key(MultiRegion=True)["KeyMetadata"]
    srv.us.replicate_key(KeyId=m2["KeyId"], ReplicaRegion=EU)
    srv.us.schedule_key_deletion(KeyId=m2["KeyId"])
    srv.us.cancel_key_deletion(KeyId=m2["KeyId"])
    assert srv.us.describe_key(KeyId=m2["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    # a primary without replicas goes to PendingDeletion at once
    m3 = srv.us.create_key(MultiRegion=True)["KeyMetadata"]
    assert srv.us.schedule_key_deletion(KeyId=m3["KeyId"], PendingWindowInDays=7)["KeyState"] == "PendingDeletion"


def test_restart_and_audit(srv, mrk):
    kid = mrk[0]["KeyId"]
    blob = srv.eu.encrypt(KeyId=kid, Plaintext=b"durable")["CiphertextBlob"]
    before_us = srv.us.describe_key(KeyId=kid)["KeyMetadata"]
    before_eu = srv.eu.describe_key(KeyId=kid)["KeyMetadata"]
    eu_keys = srv.eu.list_keys(Limit=1000)["Keys"]
    srv.stop()
    srv.start()
    srv.us, srv.eu, srv.ap = srv.client(region=US), srv.client(region=EU), srv.client(region=AP)
    assert srv.us.describe_key(KeyId=kid)["KeyMetadata"] == before_us
    assert srv.eu.describe_key(KeyId=kid)["KeyMetadata"] == before_eu
    assert srv.eu.list_keys(Limit=1000)["Keys"] == eu_keys
    assert srv.us.decrypt(CiphertextBlob=blob)["Plaintext"] == b"durable"
    p = srv.cli("audit", "verify")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in (srv.dir / "audit.log").read_text().splitlines()]
    rep = [x for x in lines if x["operation"] == "ReplicateKey" and x["result"] == "Success"]
    assert rep and rep[0]["keyId"] == arn(srv, US, kid)


def test_store_before_regions_opens(tmp_path):
    """A store made before multi-Region keys (no multi_region_keys table) keeps
    its keys, aliases and ciphertexts in the home region."""
    s = KmsServer(tmp_path / "data")
    try:
        kms = s.client()
        kid = kms.create_key(Description="old")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/old", TargetKeyId=kid)
        blob = kms.encrypt(KeyId="alias/old", Plaintext=b"old")["CiphertextBlob"]
        assert blob[0] == 1
        s.stop()
        db = sqlite3.connect(str(s.dir / "kms.db"))
        db.execute("DROP TABLE multi_region_keys")
        db.commit()
        db.close()
        s.start()
        kms = s.client()
        assert kms.describe_key(KeyId="alias/old")["KeyMetadata"]["Arn"] == arn(s, US, kid)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"old"
        assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [kid]
        m = kms.create_key(MultiRegion=True)["KeyMetadata"]
        assert m["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    finally:
        s.stop()
