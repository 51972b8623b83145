# SPDX-License-Identifier: Apache-2.0
"""The audit log: one JSON line per request (successes, denials,
authentication failures), chained by SHA-256; `cloister-kms audit verify`
accepts the intact log and finds an edit, a removed line, a truncated end;
the server refuses to start on a broken chain. No plaintext or secret in it."""
import base64
import json
import shutil

import pytest
from botocore.exceptions import ClientError

from kmsserver import KmsServer


def lines(srv):
    return (srv.dir / "audit.log").read_text().splitlines()


@pytest.fixture
def srv(tmp_path):
    s = KmsServer(tmp_path / "data")
    kms = s.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"TOP-SECRET-PLAINTEXT",
                       EncryptionContext={"tenant": "SECRET-CONTEXT-VALUE"})["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "SECRET-CONTEXT-VALUE"})
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob)
    s.client(creds=(s.admin[0], "wrong" * 8)).list_keys if False else None
    with pytest.raises(ClientError):
        s.client(creds=(s.admin[0], "w" * 40)).list_keys()
    s.kid = kid
    s.stop()
    yield s
    s.stop()


def verify(srv):
    return srv.cli("audit", "verify")


def test_events_and_no_secrets(srv):
    ev = [json.loads(l) for l in lines(srv)]
    assert [e["operation"] for e in ev] == ["CreateKey", "Encrypt", "Decrypt", "Decrypt", "ListKeys"]
    assert [e["result"] for e in ev] == ["Success", "Success", "Success", "InvalidCiphertextException",
                                         "InvalidSignatureException"]
    assert ev[0]["prev"] == "0" * 64
    for e in ev:
        assert set(["time", "requestId", "principal", "operation", "keyId", "result"]) <= set(e)
    assert ev[1]["keyId"].endswith(srv.kid)
    assert ev[1]["principal"].endswith(":user/admin")
    assert ev[1]["encryptionContextKeys"] == ["tenant"]
    assert ev[1]["authorization"][0]["decision"] == "Allow"
    text = (srv.dir / "audit.log").read_text()
    secret = (srv.dir / "credentials").read_text().split("aws_secret_access_key = ")[1].strip()
    for needle in ["TOP-SECRET-PLAINTEXT", base64.b64encode(b"TOP-SECRET-PLAINTEXT").decode(),
                   "SECRET-CONTEXT-VALUE", secret]:
        assert needle not in text
    p = verify(srv)
    assert p.returncode == 0 and "5 lines, chain intact" in p.stdout


def test_edit_detected(srv):
    l = lines(srv)
    l[1] = l[1].replace('"Success"', '"AccessDeniedException"')
    (srv.dir / "audit.log").write_text("\n".join(l) + "\n")
    p = verify(srv)
    assert p.returncode == 1
    assert "line 3: chain broken" in p.stderr


def test_removed_line_detected(srv):
    l = lines(srv)
    del l[2]
    (srv.dir / "audit.log").write_text("\n".join(l) + "\n")
    p = verify(srv)
    assert p.returncode == 1 and "line 3: chain broken" in p.stderr


def test_truncated_end_detected(srv):
    l = lines(srv)
    (srv.dir / "audit.log").write_text("\n".join(l[:3]) + "\n")
    p = verify(srv)
    assert p.returncode == 1
    assert "truncated: the log has 3 lines, the head records 5" in p.stderr


def test_server_refuses_broken_log(srv):
    l = lines(srv)
    l[0] = l[0].replace("CreateKey", "DeleteKey")
    (srv.dir / "audit.log").write_text("\n".join(l) + "\n")
    with pytest.raises(AssertionError) as e:
        srv.start()
    assert "fails verification" in str(e.value)
    # moving the log aside (with its head) starts a new chain
    shutil.move(srv.dir / "audit.log", srv.dir / "audit.log.broken")
    shutil.move(srv.dir / "audit.log.head", srv.dir / "audit.log.head.broken")
    srv.start()
    srv.client().list_keys()
    srv.stop()
    assert verify(srv).returncode == 0


def test_torn_last_line_cut_on_start(srv):
    """A kill -9 in the middle of an audit write(2) leaves a line without its
    newline: `audit verify` reports it, the next start cuts it off and goes on
    with an intact chain."""
    log = srv.dir / "audit.log"
    whole = log.read_bytes()
    torn = b'{"prev":"' + b"a" * 64 + b'","time":"2026-'
    log.write_bytes(whole + torn)
    p = verify(srv)
    assert p.returncode == 1 and "line 6: incomplete (no newline)" in p.stderr
    srv.start()
    srv.client().list_keys()
    srv.stop()
    assert log.read_bytes().startswith(whole) and torn not in log.read_bytes()
    p = verify(srv)
    assert p.returncode == 0 and "6 lines, chain intact" in p.stdout


def test_torn_line_before_the_head_is_not_cut(srv):
    """A log cut in the middle of a line the head already counts is not a
    crash's torn write: the server still refuses it."""
    log = srv.dir / "audit.log"
    l = lines(srv)
    log.write_text("\n".join(l[:3]) + "\n" + l[3][:40])
    with pytest.raises(AssertionError) as e:
        srv.start()
    assert "fails verification" in str(e.value) and "line 4: incomplete (no newline)" in str(e.value)
