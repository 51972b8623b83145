# SPDX-License-Identifier: Apache-2.0
"""The AWS CLI v2 (/usr/bin/aws) against a fresh cloister-kms with nothing
but the files the first start writes: DIR/credentials, DIR/config and
DIR/tls/ca.pem. A handful of calls (each costs about a second)."""
import base64
import json
import os
import subprocess

import pytest


AWS = "/usr/bin/aws"


def aws(srv, *args, tmp=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(srv.dir / "credentials"),
               AWS_CONFIG_FILE=str(srv.dir / "config"), HOME=str(srv.dir.parent))
    p = subprocess.run([AWS, *args, "--endpoint-url", srv.endpoint, "--ca-bundle", srv.ca,
                        "--output", "json"], capture_output=True, text=True, env=env, timeout=120,
                       cwd=tmp)
    return p


@pytest.mark.skipif(not os.path.exists(AWS), reason="awscli v2 (/usr/bin/aws) is not installed")
def test_aws_cli_workshop_steps(srv, tmp_path):
    p = aws(srv, "sts", "get-caller-identity")
    assert p.returncode == 0, p.stderr
    ident = json.loads(p.stdout)
    assert ident["Account"] == srv.account
    assert ident["Arn"] == f"arn:aws:iam::{srv.account}:user/admin"

    p = aws(srv, "kms", "create-key", "--description", "workshop")
    assert p.returncode == 0, p.stderr
    kid = json.loads(p.stdout)["KeyMetadata"]["KeyId"]

    p = aws(srv, "kms", "create-alias", "--alias-name", "alias/my-enclave-key", "--target-key-id", kid)
    assert p.returncode == 0, p.stderr

    (tmp_path / "secret.txt").write_bytes(b"4111111111111111")
    p = aws(srv, "kms", "encrypt", "--key-id", "alias/my-enclave-key", "--plaintext",
            "fileb://secret.txt", tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    blob = base64.b64decode(json.loads(p.stdout)["CiphertextBlob"])
    (tmp_path / "blob.bin").write_bytes(blob)

    p = aws(srv, "kms", "decrypt", "--ciphertext-blob", "fileb://blob.bin", tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert base64.b64decode(out["Plaintext"]) == b"4111111111111111"
    assert out["KeyId"].endswith(kid)

    p = aws(srv, "kms", "list-keys")
    assert p.returncode == 0, p.stderr
    assert kid in [k["KeyId"] for k in json.loads(p.stdout)["Keys"]]


@pytest.mark.skipif(not os.path.exists(AWS), reason="awscli v2 (/usr/bin/aws) is not installed")
def test_aws_cli_error(srv):
    p = aws(srv, "kms", "describe-key", "--key-id", "alias/does-not-exist")
    assert p.returncode == 254
    assert ("An error occurred (NotFoundException) when calling the DescribeKey operation: Alias "
            f"arn:aws:kms:{srv.region}:{srv.account}:alias/does-not-exist is not found.") in p.stderr


@pytest.mark.skipif(not os.path.exists(AWS), reason="awscli v2 (/usr/bin/aws) is not installed")
def test_aws_cli_hmac_round_trip(srv, tmp_path):
    """create-key HMAC_256, generate-mac, verify-mac, and a forged MAC refused."""
    import hashlib
    import hmac
    from test_kms_hmac import material
    p = aws(srv, "kms", "create-key", "--key-spec", "HMAC_256", "--key-usage",
            "GENERATE_VERIFY_MAC")
    assert p.returncode == 0, p.stderr
    md = json.loads(p.stdout)["KeyMetadata"]
    assert md["MacAlgorithms"] == ["HMAC_SHA_256"]
    (tmp_path / "msg.bin").write_bytes(b"mac me over the AWS CLI")
    p = aws(srv, "kms", "generate-mac", "--key-id", md["KeyId"], "--message", "fileb://msg.bin",
            "--mac-algorithm", "HMAC_SHA_256", tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    mac = base64.b64decode(json.loads(p.stdout)["Mac"])
    assert mac == hmac.new(material(srv, md["KeyId"]), b"mac me over the AWS CLI",
                           hashlib.sha256).digest()
    (tmp_path / "mac.bin").write_bytes(mac)
    p = aws(srv, "kms", "verify-mac", "--key-id", md["KeyId"], "--message", "fileb://msg.bin",
            "--mac", "fileb://mac.bin", "--mac-algorithm", "HMAC_SHA_256", tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["MacValid"] is True
    (tmp_path / "mac.bin").write_bytes(bytes([mac[0] ^ 1]) + mac[1:])
    p = aws(srv, "kms", "verify-mac", "--key-id", md["KeyId"], "--message", "fileb://msg.bin",
            "--mac", "fileb://mac.bin", "--mac-algorithm", "HMAC_SHA_256", tmp=tmp_path)
    assert p.returncode == 254
    assert "(KMSInvalidMacException) when calling the VerifyMac operation" in p.stderr


@pytest.mark.skipif(not os.path.exists(AWS), reason="awscli v2 (/usr/bin/aws) is not installed")
def test_aws_cli_grant_round_trip(srv, tmp_path):
    """create-grant for a principal with no policy of its own, which then
    encrypts and decrypts with the grant token; list-grants, retire-grant,
    revoke-grant."""
    p = srv.principal("cli-grantee")
    (tmp_path / "credentials").write_text(
        f"[grantee]\naws_access_key_id = {p['AccessKeyId']}\n"
        f"aws_secret_access_key = {p['SecretAccessKey']}\n")

    def grantee(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
                   AWS_CONFIG_FILE=str(srv.dir / "config"), AWS_PROFILE="grantee",
                   AWS_DEFAULT_REGION=srv.region,
                   HOME=str(srv.dir.parent))
        return subprocess.run([AWS, *args, "--endpoint-url", srv.endpoint, "--ca-bundle", srv.ca,
                               "--output", "json"], capture_output=True, text=True, env=env,
                              timeout=120, cwd=tmp_path)

    kid = json.loads(aws(srv, "kms", "create-key").stdout)["KeyMetadata"]["KeyId"]
    (tmp_path / "pt.bin").write_bytes(b"granted over the AWS CLI")
    q = grantee("kms", "encrypt", "--key-id", kid, "--plaintext", "fileb://pt.bin")
    assert q.returncode == 254 and "(AccessDeniedException)" in q.stderr
    q = aws(srv, "kms", "create-grant", "--key-id", kid, "--grantee-principal", p["Arn"],
            "--operations", "Encrypt", "Decrypt", "--name", "cli")
    assert q.returncode == 0, q.stderr
    grant = json.loads(q.stdout)
    q = grantee("kms", "encrypt", "--key-id", kid, "--plaintext", "fileb://pt.bin",
                "--grant-tokens", grant["GrantToken"])
    assert q.returncode == 0, q.stderr
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(json.loads(q.stdout)["CiphertextBlob"]))
    q = grantee("kms", "decrypt", "--ciphertext-blob", "fileb://ct.bin")
    assert q.returncode == 0, q.stderr
    assert base64.b64decode(json.loads(q.stdout)["Plaintext"]) == b"granted over the AWS CLI"
    q = aws(srv, "kms", "list-grants", "--key-id", kid)
    assert q.returncode == 0, q.stderr
    listed = json.loads(q.stdout)["Grants"]
    assert [(g["GrantId"], g["Name"], g["Operations"]) for g in listed] == [
        (grant["GrantId"], "cli", ["Encrypt", "Decrypt"])]
    q = aws(srv, "kms", "retire-grant", "--key-id", kid, "--grant-id", grant["GrantId"])
    assert q.returncode == 0, q.stderr
    q = grantee("kms", "decrypt", "--ciphertext-blob", "fileb://ct.bin")
    assert q.returncode == 254 and "(AccessDeniedException)" in q.stderr
    second = json.loads(aws(srv, "kms", "create-grant", "--key-id", kid, "--grantee-principal",
                            p["Arn"], "--operations", "Encrypt").stdout)
    q = aws(srv, "kms", "revoke-grant", "--key-id", kid, "--grant-id", second["GrantId"])
    assert q.returncode == 0, q.stderr
    q = aws(srv, "kms", "revoke-grant", "--key-id", kid, "--grant-id", second["GrantId"])
    assert q.returncode == 254
    assert (f"An error occurred (NotFoundException) when calling the RevokeGrant operation: "
            f"Grant ID {second['GrantId']} not found") in q.stderr
