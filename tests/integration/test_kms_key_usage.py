# SPDX-License-Identifier: Apache-2.0
"""GetKeyLastUsage in cloister-kms: which calls count as a use (a success
of an operation in the model's KeyLastUsage Operation enum, for every key
whose material it read), the ids it reports (the audit line's eventId and
requestId), TrackingStartDate, the key policy action, each refusal with its
exact error, and what survives a restart and a kill -9 (docs/kms.md,
"GetKeyLastUsage"). Raw signed requests: boto3 1.26 predates the
operation; test_kms_shapes.py checks it through boto3 1.43."""
import json
import sqlite3
import time

import pytest

from kmsserver import KmsServer


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = KmsServer(tmp_path_factory.mktemp("kms") / "data")
    yield s
    s.stop()


def call(srv, op, body, creds=None):
    status, text = srv.signed("TrentService." + op, body, creds=creds)
    return status, json.loads(text) if text else {}


def ok(srv, op, body):
    status, out = call(srv, op, body)
    assert status == 200, out
    return out


def last(srv, kid):
    return ok(srv, "GetKeyLastUsage", {"KeyId": kid})


def new_key(srv, **kw):
    return ok(srv, "CreateKey", kw)["KeyMetadata"]


def audit_line(srv, request_id):
    for line in (srv.dir / "audit.log").read_text().splitlines():
        ev = json.loads(line)
        if ev.get("requestId") == request_id:
            return ev
    raise AssertionError(f"no audit line for {request_id}")


def test_a_new_key_was_never_used(srv):
    md = new_key(srv)
    out = last(srv, md["KeyId"])
    assert out == {"KeyId": md["KeyId"], "KeyLastUsage": {},
                   "KeyCreationDate": md["CreationDate"],
                   "TrackingStartDate": md["CreationDate"]}
    # by ARN too; the ids of the answer are the key's id
    assert last(srv, md["Arn"])["KeyId"] == md["KeyId"]


def test_each_cryptographic_success_is_noted_with_its_ids(srv):
    kid = new_key(srv)["KeyId"]
    ct = ok(srv, "Encrypt", {"KeyId": kid, "Plaintext": "aGk=", "EncryptionContext": {"a": "b"}})
    u = last(srv, kid)["KeyLastUsage"]
    assert u["Operation"] == "Encrypt"
    ev = audit_line(srv, u["KmsRequestId"])
    assert ev["operation"] == "Encrypt" and ev["result"] == "Success"
    assert ev["eventId"] == u["CloudTrailEventId"]
    assert abs(u["Timestamp"] - time.time()) < 60
    ok(srv, "Decrypt", {"CiphertextBlob": ct["CiphertextBlob"], "EncryptionContext": {"a": "b"}})
    assert last(srv, kid)["KeyLastUsage"]["Operation"] == "Decrypt"
    ok(srv, "GenerateDataKeyWithoutPlaintext", {"KeyId": kid, "KeySpec": "AES_256"})
    assert last(srv, kid)["KeyLastUsage"]["Operation"] == "GenerateDataKeyWithoutPlaintext"


def test_what_is_not_a_use(srv):
    """Failures, and operations outside the enum, leave the note alone."""
    kid = new_key(srv)["KeyId"]
    ct = ok(srv, "Encrypt", {"KeyId": kid, "Plaintext": "aGk=", "EncryptionContext": {"a": "b"}})
    before = last(srv, kid)["KeyLastUsage"]
    status, out = call(srv, "Decrypt", {"CiphertextBlob": ct["CiphertextBlob"]})
    assert (status, out["__type"]) == (400, "InvalidCiphertextException")
    ok(srv, "DescribeKey", {"KeyId": kid})
    ok(srv, "RotateKeyOnDemand", {"KeyId": kid})
    ok(srv, "ListKeyRotations", {"KeyId": kid})
    assert last(srv, kid)["KeyLastUsage"] == before
    ec = new_key(srv, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    ok(srv, "GetPublicKey", {"KeyId": ec})
    assert last(srv, ec)["KeyLastUsage"] == {}


def test_re_encrypt_notes_both_keys_and_signing_its_key(srv):
    src, dst = new_key(srv)["KeyId"], new_key(srv)["KeyId"]
    ct = ok(srv, "Encrypt", {"KeyId": src, "Plaintext": "aGk="})
    out = ok(srv, "ReEncrypt", {"CiphertextBlob": ct["CiphertextBlob"], "DestinationKeyId": dst})
    a, b = last(srv, src)["KeyLastUsage"], last(srv, dst)["KeyLastUsage"]
    assert a["Operation"] == b["Operation"] == "ReEncrypt"
    assert a["KmsRequestId"] == b["KmsRequestId"]
    assert out["SourceKeyId"].endswith(src)
    ec = new_key(srv, KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyId"]
    sig = ok(srv, "Sign", {"KeyId": ec, "Message": "bQ==", "SigningAlgorithm": "ECDSA_SHA_384"})
    assert last(srv, ec)["KeyLastUsage"]["Operation"] == "Sign"
    ok(srv, "Verify", {"KeyId": ec, "Message": "bQ==", "Signature": sig["Signature"],
                       "SigningAlgorithm": "ECDSA_SHA_384"})
    assert last(srv, ec)["KeyLastUsage"]["Operation"] == "Verify"
    mac = new_key(srv, KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["KeyId"]
    ok(srv, "GenerateMac", {"KeyId": mac, "Message": "bQ==", "MacAlgorithm": "HMAC_SHA_384"})
    assert last(srv, mac)["KeyLastUsage"]["Operation"] == "GenerateMac"


def test_refusals(srv):
    kid = new_key(srv)["KeyId"]
    missing = "0b5a5c5e-0000-4000-8000-000000000000"
    arn = f"arn:aws:kms:{srv.region}:{srv.account}:key/{missing}"
    assert call(srv, "GetKeyLastUsage", {"KeyId": missing}) == (
        400, {"__type": "NotFoundException", "message": f"Key '{arn}' does not exist"})
    ok(srv, "CreateAlias", {"AliasName": "alias/usage", "TargetKeyId": kid})
    assert call(srv, "GetKeyLastUsage", {"KeyId": "alias/usage"}) == (
        400, {"__type": "NotFoundException", "message": "Invalid keyId 'alias/usage'"})
    assert call(srv, "GetKeyLastUsage", {}) == (
        400, {"__type": "ValidationException",
              "message": "1 validation error detected: Value null at 'keyId' failed to satisfy "
                         "constraint: Member must not be null"})
    p = srv.principal("usage-nothing", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:DescribeKey"], "Resource": "*"}]})
    status, out = call(srv, "GetKeyLastUsage", {"KeyId": kid},
                       (p["AccessKeyId"], p["SecretAccessKey"]))
    assert (status, out["__type"]) == (400, "AccessDeniedException")
    assert "kms:GetKeyLastUsage" in out["Message"]


def test_notes_survive_stop_and_kill9(tmp_path):
    s = KmsServer(tmp_path / "data")
    try:
        kid = new_key(s)["KeyId"]
        ok(s, "Encrypt", {"KeyId": kid, "Plaintext": "aGk="})  # first note: written
        ok(s, "GenerateDataKey", {"KeyId": kid, "NumberOfBytes": 8})  # in memory only
        want = last(s, kid)["KeyLastUsage"]
        assert want["Operation"] == "GenerateDataKey"
        s.stop()  # a clean stop writes what was in memory
        s.start()
        assert last(s, kid)["KeyLastUsage"] == want
        time.sleep(1.1)  # a note older than a second is written through
        ok(s, "GenerateRandom", {"NumberOfBytes": 8})
        ok(s, "Encrypt", {"KeyId": kid, "Plaintext": "aGk="})
        want = last(s, kid)["KeyLastUsage"]
        s.kill9()
        s.start()
        assert last(s, kid)["KeyLastUsage"] == want
        # a key deleted takes its note with it
        ok(s, "ScheduleKeyDeletion", {"KeyId": kid, "PendingWindowInDays": 7})
    finally:
        s.stop()
    db = sqlite3.connect(str(tmp_path / "data" / "kms.db"))
    assert db.execute("SELECT operation FROM key_last_usage WHERE key_id=?",
                      (kid,)).fetchall() == [("Encrypt",)]
    db.execute("PRAGMA foreign_keys=ON")  # as the server's connections have it
    db.execute("DELETE FROM keys WHERE id=?", (kid,))
    db.commit()
    assert db.execute("SELECT count(*) FROM key_last_usage").fetchall() == [(0,)]


def test_tracking_starts_with_the_first_server_that_notes(tmp_path):
    """A key older than the store's tracking (a store written by a version
    that did not note use) reports TrackingStartDate after its creation."""
    s = KmsServer(tmp_path / "data")
    try:
        md = new_key(s)
        s.stop()
        db = sqlite3.connect(str(tmp_path / "data" / "kms.db"))
        db.execute("DELETE FROM meta WHERE name='usage_tracking_since'")
        db.commit()
        db.close()
        time.sleep(0.05)
        s.start()
        out = last(s, md["KeyId"])
        assert out["KeyCreationDate"] == md["CreationDate"]
        assert out["TrackingStartDate"] > out["KeyCreationDate"]
        assert out["KeyLastUsage"] == {}
    finally:
        s.stop()
