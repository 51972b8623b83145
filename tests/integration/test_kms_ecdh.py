# SPDX-License-Identifier: Apache-2.0
"""Key agreement and the new key specs in cloister-kms: CreateKey ECC_NIST_P256/
P384/P521 with KEY_AGREEMENT (ECC_SECG_P256K1 signs only, as botocore's
model says), KeyAgreementAlgorithms in
DescribeKey and GetPublicKey, DeriveSharedSecret (every secret cross-checked
with Python's `cryptography`: ECDH of a local private key and the KMS key's
public key), the peer key's checks (garbage, off the curve, another curve,
another algorithm), kms:DeriveSharedSecret and kms:KeyAgreementAlgorithm in
policies, DeriveSharedSecret with a Recipient (the secret only as
CiphertextForRecipient), Ed25519 signing keys (signatures verified with
`cryptography`) and SM2 answered as outside the China Regions. Each refusal
with its exact code and message. Debian's boto3 1.26 predates
DeriveSharedSecret: it is sent as raw signed requests, and once with the
boto3 1.43 on PATH."""
import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from conftest import BIN_DIR
from kmsserver import KmsServer

CURVES = {"ECC_NIST_P256": ec.SECP256R1, "ECC_NIST_P384": ec.SECP384R1,
          "ECC_NIST_P521": ec.SECP521R1}
BAD_PEER = ("PublicKey is not a valid DER-encoded elliptic curve public key "
            "(X.509 SubjectPublicKeyInfo).")


@pytest.fixture(scope="module")
def keys(srv):
    """One KEY_AGREEMENT key of each ECC spec: spec -> KeyMetadata (raw JSON:
    boto3 1.26 drops KeyAgreementAlgorithms, a member it does not know)."""
    return {spec: ok(srv, "CreateKey", {"KeySpec": spec, "KeyUsage": "KEY_AGREEMENT"})["KeyMetadata"]
            for spec in CURVES}


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"]


def b64(b):
    return base64.b64encode(b).decode()


def raw(srv, op, body, creds=None):
    status, text = srv.signed("TrentService." + op, body, creds=creds)
    return status, json.loads(text) if text else {}


def ok(srv, op, body):
    status, ans = raw(srv, op, body)
    assert status == 200, ans
    return ans


def refused(srv, op, body, creds=None):
    status, ans = raw(srv, op, body, creds)
    assert status in (400, 412), (status, ans)
    return ans["__type"], ans.get("message", ans.get("Message"))


def spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def derive(srv, key_id, peer_der, **extra):
    status, ans = raw(srv, "DeriveSharedSecret", {"KeyId": key_id, "KeyAgreementAlgorithm": "ECDH",
                                                  "PublicKey": b64(peer_der), **extra})
    assert status == 200, ans
    return ans


def local_secret(kms, key_id, private):
    """ECDH done here: the local private key and the KMS key's public key."""
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    return private.exchange(ec.ECDH(), pub)


def test_create_describe_get_public_key(srv, keys):
    for spec, m in keys.items():
        assert (m["KeySpec"], m["KeyUsage"], m["KeyAgreementAlgorithms"]) == (spec, "KEY_AGREEMENT", ["ECDH"])
        assert "SigningAlgorithms" not in m and "EncryptionAlgorithms" not in m
        d = ok(srv, "DescribeKey", {"KeyId": m["KeyId"]})["KeyMetadata"]
        assert (d["KeyUsage"], d["KeyAgreementAlgorithms"]) == ("KEY_AGREEMENT", ["ECDH"])
        assert "SigningAlgorithms" not in d
        p = ok(srv, "GetPublicKey", {"KeyId": m["KeyId"]})
        assert (p["KeyUsage"], p["KeySpec"], p["KeyAgreementAlgorithms"]) == ("KEY_AGREEMENT", spec, ["ECDH"])
        assert "SigningAlgorithms" not in p
        pub = serialization.load_der_public_key(base64.b64decode(p["PublicKey"]))
        assert isinstance(pub.curve, CURVES[spec])


def test_derive_matches_local_ecdh(srv, kms, keys):
    for spec, m in keys.items():
        mine = ec.generate_private_key(CURVES[spec]())
        ans = derive(srv, m["KeyId"], spki(mine.public_key()))
        assert set(ans) == {"KeyId", "SharedSecret", "KeyAgreementAlgorithm", "KeyOrigin"}
        assert (ans["KeyId"], ans["KeyAgreementAlgorithm"], ans["KeyOrigin"]) == (m["Arn"], "ECDH", "AWS_KMS")
        secret = base64.b64decode(ans["SharedSecret"])
        # the raw x-coordinate: as long as the curve's field
        assert len(secret) == (mine.curve.key_size + 7) // 8
        assert secret == local_secret(kms, m["KeyId"], mine)
    # by alias and by ARN, the same secret
    m = keys["ECC_NIST_P256"]
    kms.create_alias(AliasName="alias/agree", TargetKeyId=m["KeyId"])
    mine = ec.generate_private_key(ec.SECP256R1())
    a = derive(srv, "alias/agree", spki(mine.public_key()))["SharedSecret"]
    b = derive(srv, m["Arn"], spki(mine.public_key()))["SharedSecret"]
    assert a == b == b64(local_secret(kms, m["KeyId"], mine))


def test_derive_is_a_use_of_the_key(srv, keys):
    """GetKeyLastUsage: a successful DeriveSharedSecret is a use, a refused one is not."""
    kid = keys["ECC_NIST_P521"]["KeyId"]
    mine = ec.generate_private_key(ec.SECP521R1())
    derive(srv, kid, spki(mine.public_key()))
    u = ok(srv, "GetKeyLastUsage", {"KeyId": kid})["KeyLastUsage"]
    assert u["Operation"] == "DeriveSharedSecret"
    refused(srv, "DeriveSharedSecret", {"KeyId": kid, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(b"x")})
    assert ok(srv, "GetKeyLastUsage", {"KeyId": kid})["KeyLastUsage"] == u


def test_peer_key_checks(srv, keys):
    kid = keys["ECC_NIST_P256"]["KeyId"]
    good = spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    off_curve = bytearray(good)
    off_curve[-1] ^= 1  # y no longer satisfies the curve equation
    # the same SubjectPublicKeyInfo with the point compressed (SEC 1 2.3.3)
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    algid = good[2:2 + 2 + good[3]]
    bits = bytes([0x03, len(point) + 1, 0]) + point
    compressed = bytes([0x30, len(algid) + len(bits)]) + algid + bits
    body = lambda pk: {"KeyId": kid, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(pk)}
    for bad in (b"garbage", bytes(off_curve), good + b"\0", good[:-1],
                spki(rsa.generate_private_key(65537, 2048).public_key()),
                spki(ed25519.Ed25519PrivateKey.generate().public_key())):
        assert refused(srv, "DeriveSharedSecret", body(bad)) == ("ValidationException", BAD_PEER)
    for curve in (ec.SECP384R1, ec.SECP256K1):
        other = spki(ec.generate_private_key(curve()).public_key())
        assert refused(srv, "DeriveSharedSecret", body(other)) == (
            "ValidationException", "PublicKey is not on the curve of key spec ECC_NIST_P256; the peer's "
            "key pair must use the same curve as the KMS key.")
    assert raw(srv, "DeriveSharedSecret", body(compressed))[0] == 200


def test_request_validation(srv, kms, keys):
    kid = keys["ECC_NIST_P384"]["KeyId"]
    pk = b64(spki(ec.generate_private_key(ec.SECP384R1()).public_key()))
    assert refused(srv, "DeriveSharedSecret", {"KeyId": kid, "PublicKey": pk}) == (
        "ValidationException", "1 validation error detected: Value null at 'keyAgreementAlgorithm' failed "
        "to satisfy constraint: Member must not be null")
    assert refused(srv, "DeriveSharedSecret", {"KeyId": kid, "PublicKey": pk, "KeyAgreementAlgorithm": "DH"}) == (
        "ValidationException", "1 validation error detected: Value 'DH' at 'keyAgreementAlgorithm' failed to "
        "satisfy constraint: Member must satisfy enum value set: [ECDH]")
    assert refused(srv, "DeriveSharedSecret", {"KeyId": kid, "KeyAgreementAlgorithm": "ECDH"}) == (
        "ValidationException", "1 validation error detected: Value null at 'publicKey' failed to satisfy "
        "constraint: Member must not be null")
    assert refused(srv, "DeriveSharedSecret", {"KeyId": kid, "KeyAgreementAlgorithm": "ECDH",
                                               "PublicKey": b64(b"x" * 8193)}) == (
        "ValidationException", "1 validation error detected: Value at 'publicKey' failed to satisfy "
        "constraint: Member must have length less than or equal to 8192")
    # keys of other usages
    sign = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    sym = kms.create_key()["KeyMetadata"]
    for m, usage in ((sign, "SIGN_VERIFY"), (sym, "ENCRYPT_DECRYPT")):
        assert refused(srv, "DeriveSharedSecret", {"KeyId": m["KeyId"], "KeyAgreementAlgorithm": "ECDH",
                                                   "PublicKey": pk}) == (
            "InvalidKeyUsageException", f"{m['Arn']} key usage is {usage} which is not valid for DeriveSharedSecret.")
    # a key agreement key does not sign
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=kid, Message=b"m", SigningAlgorithm="ECDSA_SHA_384")
    assert err(e) == ("InvalidKeyUsageException",
                      f"{keys['ECC_NIST_P384']['Arn']} key usage is KEY_AGREEMENT which is not valid for Sign.")
    # nor encrypts, MACs or rotates
    arn = keys["ECC_NIST_P384"]["Arn"]
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=kid, Plaintext=b"x")
    assert err(e) == ("InvalidKeyUsageException", f"{arn} key usage is KEY_AGREEMENT which is not valid for Encrypt.")
    with pytest.raises(ClientError) as e:
        kms.generate_mac(KeyId=kid, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert err(e) == ("InvalidKeyUsageException",
                      f"{arn} key usage is KEY_AGREEMENT which is not valid for GenerateMac.")
    with pytest.raises(ClientError) as e:
        kms.enable_key_rotation(KeyId=kid)
    assert err(e) == ("UnsupportedOperationException", f"{arn} key spec is ECC_NIST_P384: automatic rotation "
                      "applies to symmetric encryption keys only.")
    # DryRun stops before the peer's key is looked at
    assert refused(srv, "DeriveSharedSecret", {"KeyId": kid, "KeyAgreementAlgorithm": "ECDH",
                                               "PublicKey": b64(b"garbage"), "DryRun": True}) == (
        "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
    # key states
    tmp = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    kms.disable_key(KeyId=tmp["KeyId"])
    body = {"KeyId": tmp["KeyId"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": pk}
    assert refused(srv, "DeriveSharedSecret", body) == ("DisabledException", f"{tmp['Arn']} is disabled.")
    kms.enable_key(KeyId=tmp["KeyId"])
    assert refused(srv, "DeriveSharedSecret", {**body, "DryRun": True}) == (
        "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")


def test_create_key_refusals(srv, kms):
    for spec in ("SYMMETRIC_DEFAULT", "RSA_2048", "RSA_4096", "HMAC_256", "ECC_NIST_EDWARDS25519",
                 "ECC_SECG_P256K1"):
        with pytest.raises(ClientError) as e:
            kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")
        assert err(e) == ("ValidationException", f"KeyUsage KEY_AGREEMENT is not compatible with KeySpec {spec}")
    for usage in ("ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC"):
        with pytest.raises(ClientError) as e:
            kms.create_key(KeySpec="ECC_NIST_P521", KeyUsage=usage)
        assert err(e) == ("ValidationException", f"KeyUsage {usage} is not compatible with KeySpec ECC_NIST_P521")
    # SM2: AWS offers it only in its China Regions; this server is in srv.region
    assert not srv.region.startswith("cn-")
    for usage in ("SIGN_VERIFY", "ENCRYPT_DECRYPT", "KEY_AGREEMENT"):
        with pytest.raises(ClientError) as e:
            kms.create_key(KeySpec="SM2", KeyUsage=usage)
        assert err(e) == ("UnsupportedOperationException", "KeySpec SM2 is only available in the China Regions.")
    sym = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.generate_data_key_pair(KeyId=sym, KeyPairSpec="SM2")
    assert err(e) == ("UnsupportedOperationException", "KeyPairSpec SM2 is only available in the China Regions.")


def test_sm2_in_a_china_region(tmp_path):
    s = KmsServer(tmp_path / "cn", args=["--region", "cn-north-1"])
    try:
        assert s.region == "cn-north-1"
        with pytest.raises(ClientError) as e:
            s.client().create_key(KeySpec="SM2", KeyUsage="KEY_AGREEMENT")
        assert err(e) == ("UnsupportedOperationException", "KeySpec SM2 is not supported by cloister-kms.")
    finally:
        s.stop()


def test_policy_action_and_condition_key(srv, kms):
    root = f"arn:aws:iam::{srv.account}:root"
    admin = f"arn:aws:iam::{srv.account}:user/admin"
    pol = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:DeriveSharedSecret", "Resource": "*",
         "Condition": {"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}}}]}
    m = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT", Policy=json.dumps(pol))["KeyMetadata"]
    pk = b64(spki(ec.generate_private_key(ec.SECP256R1()).public_key()))
    body = {"KeyId": m["KeyId"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": pk}
    assert refused(srv, "DeriveSharedSecret", body) == (
        "AccessDeniedException", f"User: {admin} is not authorized to perform: kms:DeriveSharedSecret "
        f"on resource: {m['Arn']} with an explicit deny in a resource-based policy")
    # the condition decides: a policy denying another algorithm lets ECDH through
    pol["Statement"][1]["Condition"] = {"StringEquals": {"kms:KeyAgreementAlgorithm": "OTHER"}}
    kms.put_key_policy(KeyId=m["KeyId"], PolicyName="default", Policy=json.dumps(pol))
    assert raw(srv, "DeriveSharedSecret", body)[0] == 200
    # a principal whose identity policy allows only kms:Sign
    p = srv.principal("agree-less", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Sign", "Resource": "*"}]})
    creds = (p["AccessKeyId"], p["SecretAccessKey"])
    t, msg = refused(srv, "DeriveSharedSecret", body, creds=creds)
    assert t == "AccessDeniedException"
    assert msg.startswith(f"User: {p['Arn']} is not authorized to perform: kms:DeriveSharedSecret on resource: {m['Arn']}")


def test_ed25519_keys(srv, kms):
    m = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kid = m["KeyId"]
    assert (m["KeySpec"], m["SigningAlgorithms"]) == ("ECC_NIST_EDWARDS25519", ["ED25519_SHA_512"])
    p = kms.get_public_key(KeyId=kid)
    assert p["SigningAlgorithms"] == ["ED25519_SHA_512"]
    # the deprecated CustomerMasterKeySpec has no name for this spec (botocore's enum): left out
    assert "CustomerMasterKeySpec" not in ok(srv, "DescribeKey", {"KeyId": kid})["KeyMetadata"]
    assert "CustomerMasterKeySpec" not in ok(srv, "GetPublicKey", {"KeyId": kid})
    pub = serialization.load_der_public_key(p["PublicKey"])
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    for msg in (b"m", b"x" * 4096):
        s = kms.sign(KeyId=kid, Message=msg, SigningAlgorithm="ED25519_SHA_512")
        assert s["SigningAlgorithm"] == "ED25519_SHA_512" and len(s["Signature"]) == 64
        pub.verify(s["Signature"], msg)  # raises on a bad signature
        v = kms.verify(KeyId=kid, Message=msg, Signature=s["Signature"], SigningAlgorithm="ED25519_SHA_512",
                       MessageType="RAW")
        assert v["SignatureValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=kid, Message=b"n", Signature=s["Signature"], SigningAlgorithm="ED25519_SHA_512")
    assert err(e) == ("KMSInvalidSignatureException", "")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=kid, Message=b"d" * 64, MessageType="DIGEST", SigningAlgorithm="ED25519_SHA_512")
    assert err(e) == ("ValidationException",
                      "MessageType DIGEST is not valid for signing algorithm ED25519_SHA_512; use RAW.")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=kid, Message=b"d" * 64, MessageType="EXTERNAL_MU", SigningAlgorithm="ED25519_SHA_512")
    assert err(e) == ("ValidationException", "MessageType EXTERNAL_MU is only valid for ML-DSA keys.")
    for alg in ("ED25519_PH_SHA_512", "ECDSA_SHA_256"):
        with pytest.raises(ClientError) as e:
            kms.sign(KeyId=kid, Message=b"m", SigningAlgorithm=alg)
        assert err(e) == ("InvalidKeyUsageException",
                          f"Algorithm {alg} is incompatible with key spec ECC_NIST_EDWARDS25519.")
    # an ECDSA key does not sign with Ed25519
    ecc = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=ecc, Message=b"m", SigningAlgorithm="ED25519_SHA_512")
    assert err(e) == ("InvalidKeyUsageException", "Algorithm ED25519_SHA_512 is incompatible with key spec "
                      "ECC_NIST_P256.")


def test_restart_keeps_keys_and_audit_verifies(tmp_path):
    s = KmsServer(tmp_path / "kms")
    try:
        kms = s.client()
        kid = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
        ed = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        mine = ec.generate_private_key(ec.SECP256R1())
        before = derive(s, kid, spki(mine.public_key()))["SharedSecret"]
        sig = kms.sign(KeyId=ed, Message=b"m", SigningAlgorithm="ED25519_SHA_512")["Signature"]
        s.kill9()
        s.start()
        kms = s.client()
        assert ok(s, "DescribeKey", {"KeyId": kid})["KeyMetadata"]["KeyAgreementAlgorithms"] == ["ECDH"]
        assert derive(s, kid, spki(mine.public_key()))["SharedSecret"] == before
        assert kms.verify(KeyId=ed, Message=b"m", Signature=sig, SigningAlgorithm="ED25519_SHA_512")["SignatureValid"]
        text = (s.dir / "audit.log").read_text()
        derives = [a for a in map(json.loads, text.splitlines()) if a["operation"] == "DeriveSharedSecret"]
        assert [(a["result"], a["keyId"].endswith(kid)) for a in derives] == [("Success", True)] * 2
        assert derives[0]["authorization"][0]["decision"] == "Allow"
        assert before not in text
    finally:
        s.stop()
    assert s.cli("audit", "verify").returncode == 0


def test_boto3_143_derive_shared_secret(srv, kms, keys):
    """The `python3` on PATH has boto3 1.43, whose KMS model has DeriveSharedSecret."""
    py = shutil.which("python3")
    if not py or Path(py).resolve() == Path("/usr/bin/python3").resolve():
        pytest.skip("no separate python3 with boto3 1.43 on PATH")
    m = keys["ECC_NIST_P521"]
    mine = ec.generate_private_key(ec.SECP521R1())
    script = """
import base64, json, sys, boto3
a = json.load(sys.stdin)
kms = boto3.client("kms", endpoint_url=a["endpoint"], region_name=a["region"], verify=a["ca"],
                   aws_access_key_id=a["ak"], aws_secret_access_key=a["sk"])
r = kms.derive_shared_secret(KeyId=a["key"], KeyAgreementAlgorithm="ECDH",
                             PublicKey=base64.b64decode(a["pub"]))
print(json.dumps({"secret": base64.b64encode(r["SharedSecret"]).decode(), "key": r["KeyId"],
                  "origin": r["KeyOrigin"]}))
"""
    args = {"endpoint": srv.endpoint, "region": srv.region, "ca": srv.ca, "ak": srv.admin[0],
            "sk": srv.admin[1], "key": m["KeyId"], "pub": b64(spki(mine.public_key()))}
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    p = subprocess.run([py, "-c", script], input=json.dumps(args), capture_output=True, text=True,
                       timeout=120, env=clean_env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert (out["key"], out["origin"]) == (m["Arn"], "AWS_KMS")
    assert base64.b64decode(out["secret"]) == local_secret(kms, m["KeyId"], mine)


# --- DeriveSharedSecret with a Recipient: attested enclaves (see test_kms_recipient.py) ---

@pytest.fixture(scope="module")
def attested(tmp_path_factory):
    """An EIF, a production and a debug-mode NSM module for it, a server trusting both roots, and
    the enclave's RSA key."""
    from test_kms_recipient import EnclaveKey, Nsm
    d = tmp_path_factory.mktemp("ecdh-recipient")
    rootfs = d / "rootfs"
    (rootfs / "app").mkdir(parents=True)
    (rootfs / "app" / "server").write_text("#!/bin/sh\necho agree\n")
    eif = d / "agree.eif"
    p = subprocess.run([str(BIN_DIR / "cloister"), "build-enclave", "--rootfs", str(rootfs), "--cmd",
                        "/app/server", "--output-file", str(eif)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    ns = type("Attested", (), {})()
    ns.pcr0 = json.loads(p.stdout)["Measurements"]["PCR0"]
    ns.prod, ns.debug = Nsm(d / "prod", eif), Nsm(d / "debug", eif, debug=True)
    roots = d / "roots.pem"
    roots.write_text(ns.prod.root.read_text() + ns.debug.root.read_text())
    ns.srv = KmsServer(d / "kms", args=["--trust-root", str(roots)])
    ns.kms = ns.srv.client()
    ns.key = EnclaveKey(d)
    yield ns
    ns.srv.stop()
    ns.prod.stop()
    ns.debug.stop()


def recipient(doc, alg="RSAES_OAEP_SHA_256"):
    r = {"AttestationDocument": b64(doc)}
    if alg is not None:
        r["KeyEncryptionAlgorithm"] = alg
    return r


def test_derive_with_recipient(attested):
    a = attested
    m = ok(a.srv, "CreateKey", {"KeySpec": "ECC_NIST_P384", "KeyUsage": "KEY_AGREEMENT"})["KeyMetadata"]
    mine = ec.generate_private_key(ec.SECP384R1())
    for alg in ("RSAES_OAEP_SHA_256", None):
        ans = derive(a.srv, m["KeyId"], spki(mine.public_key()),
                     Recipient=recipient(a.prod.attest(a.key.spki), alg))
        # the secret only for the enclave: SharedSecret omitted, not null
        assert set(ans) == {"KeyId", "CiphertextForRecipient", "KeyAgreementAlgorithm", "KeyOrigin"}
        assert (ans["KeyId"], ans["KeyAgreementAlgorithm"], ans["KeyOrigin"]) == (m["Arn"], "ECDH", "AWS_KMS")
        assert a.key.open(ans["CiphertextForRecipient"]) == local_secret(a.kms, m["KeyId"], mine)
    # the Recipient's own checks, as for the other operations
    body = {"KeyId": m["KeyId"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(spki(mine.public_key()))}
    assert refused(a.srv, "DeriveSharedSecret", {**body, "Recipient": recipient(b"not a document")}) == (
        "ValidationException",
        "The attestation document in Recipient is not valid: it is not a well-formed attestation document.")
    t, msg = refused(a.srv, "DeriveSharedSecret",
                     {**body, "Recipient": recipient(a.prod.attest(a.key.spki), "RSAES_OAEP_SHA_1")})
    assert t == "ValidationException" and "RSAES_OAEP_SHA_256" in msg
    # the audit line names the enclave
    text = (a.srv.dir / "audit.log").read_text()
    line = [e for e in map(json.loads, text.splitlines()) if e["operation"] == "DeriveSharedSecret"][0]
    assert line["recipient"]["attestationDocumentEnclaveImageDigest"] == a.pcr0.lower()


def test_recipient_condition_keys(attested):
    a = attested
    srv = a.srv
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{srv.account}:root"}, "Action": "kms:*",
         "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:DeriveSharedSecret", "Resource": "*",
         "Condition": {"StringNotEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": a.pcr0}}}]}
    m = ok(srv, "CreateKey", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT",
                              "Policy": json.dumps(policy)})["KeyMetadata"]
    mine = ec.generate_private_key(ec.SECP256R1())
    body = {"KeyId": m["KeyId"], "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(spki(mine.public_key()))}
    explicit = ("AccessDeniedException", f"User: arn:aws:iam::{srv.account}:user/admin is not authorized to "
                f"perform: kms:DeriveSharedSecret on resource: {m['Arn']} with an explicit deny in a "
                "resource-based policy")
    # no Recipient, or a debug-mode enclave (all-zero PCRs): denied
    assert refused(srv, "DeriveSharedSecret", body) == explicit
    assert refused(srv, "DeriveSharedSecret", {**body, "Recipient": recipient(a.debug.attest(a.key.spki))}) == explicit
    ans = derive(srv, m["KeyId"], spki(mine.public_key()), Recipient=recipient(a.prod.attest(a.key.spki)))
    assert a.key.open(ans["CiphertextForRecipient"]) == local_secret(a.kms, m["KeyId"], mine)
    assert srv.cli("audit", "verify").returncode == 0
