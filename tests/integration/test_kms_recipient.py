# SPDX-License-Identifier: Apache-2.0
"""cloister-kms and the Recipient parameter: attestation documents made by
Cloister's NSM module (cloister-nsm-serve over a real EIF, production and
--debug-mode, each with its own ephemeral attestation chain), the
CiphertextForRecipient CMS opened with the enclave key (openssl cms), the
PCR0 key-policy condition, forged/stale/untrusted documents and bad keys
with their exact errors, and boto3 1.43 (the `python3` on PATH) sending
Recipient itself."""
import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR
from kmsserver import KmsServer

NSM_SERVE = BIN_DIR / "cloister-nsm-serve"
NSM = BIN_DIR / "cloister-nsm"
CLOISTER = BIN_DIR / "cloister"
BAD = "The attestation document in Recipient is not valid: "
ZEROS = "0" * 96


class Nsm:
    """An emulated NSM module for one EIF (cloister-nsm-serve) with its own
    ephemeral root, written to root.pem."""

    def __init__(self, d, eif, debug=False):
        self.dir = Path(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sock = self.dir / "nsm.sock"
        self.root = self.dir / "root.pem"
        cmd = [str(NSM_SERVE), "--socket", str(self.sock), "--eif-path", str(eif),
               "--root-out", str(self.root)]
        if debug:
            cmd.append("--debug-mode")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("ready "), (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.module_id = line.split()[1]

    def attest(self, public_key_der=None):
        args = [str(NSM), "attest"]
        if public_key_der is not None:
            path = self.dir / "pub.der"
            path.write_bytes(public_key_der)
            args += ["--public-key", str(path)]
        p = subprocess.run(args, capture_output=True, env=dict(os.environ, CLOISTER_NSM_DEVICE=str(self.sock)),
                           timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def pcr(self, i):
        p = subprocess.run([str(NSM), "describe-pcr", str(i)], capture_output=True, text=True,
                           env=dict(os.environ, CLOISTER_NSM_DEVICE=str(self.sock)), timeout=30)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)["data"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class EnclaveKey:
    """The enclave's RSA key pair (the SDK makes RSA-2048 per client)."""

    def __init__(self, d, bits=2048, algorithm="RSA"):
        self.pem = Path(d) / f"enclave-{algorithm}-{bits}.pem"
        opts = ["-pkeyopt", f"rsa_keygen_bits:{bits}"] if algorithm == "RSA" else ["-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run(["openssl", "genpkey", "-algorithm", algorithm, *opts, "-out", str(self.pem)],
                       check=True, capture_output=True)
        self.spki = subprocess.run(["openssl", "pkey", "-in", str(self.pem), "-pubout", "-outform", "DER"],
                                   check=True, capture_output=True).stdout

    def open(self, cms_b64):
        """CiphertextForRecipient -> plaintext, with OpenSSL's own CMS decoder."""
        der = base64.b64decode(cms_b64)
        p = subprocess.run(["openssl", "cms", "-decrypt", "-inform", "DER", "-binary", "-inkey", str(self.pem)],
                           input=der, capture_output=True)
        assert p.returncode == 0, p.stderr
        return p.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("recipient")
    rootfs = d / "rootfs"
    (rootfs / "app").mkdir(parents=True)
    (rootfs / "app" / "server").write_text("#!/bin/sh\necho data-processing\n")
    eif = d / "data-processing.eif"
    p = subprocess.run([str(CLOISTER), "build-enclave", "--rootfs", str(rootfs), "--cmd", "/app/server",
                        "--output-file", str(eif)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    pcr0 = json.loads(p.stdout)["Measurements"]["PCR0"]
    prod = Nsm(d / "prod", eif)
    debug = Nsm(d / "debug", eif, debug=True)
    rogue = Nsm(d / "rogue", eif)  # its root is not trusted by the server
    roots = d / "roots.pem"
    roots.write_text(prod.root.read_text() + debug.root.read_text())
    srv = KmsServer(d / "kms", args=["--trust-root", str(roots)])
    key = EnclaveKey(d)
    ns = type("Env", (), {})()
    ns.d, ns.eif, ns.pcr0, ns.prod, ns.debug, ns.rogue, ns.srv, ns.key = d, eif, pcr0, prod, debug, rogue, srv, key
    ns.kms = srv.client()
    yield ns
    srv.stop()
    for n in (prod, debug, rogue):
        n.stop()


def b64(b):
    return base64.b64encode(b).decode()


def recipient(doc, alg="RSAES_OAEP_SHA_256"):
    r = {"AttestationDocument": b64(doc)}
    if alg is not None:
        r["KeyEncryptionAlgorithm"] = alg
    return r


def call(srv, op, body, creds=None, token=None):
    status, text = srv.signed("TrentService." + op, body, creds=creds, token=token)
    return status, (json.loads(text) if text else {})


def error(status_body):
    status, body = status_body
    assert status == 400, status_body
    return body.get("__type"), body.get("message", body.get("Message"))


def test_documents_are_what_we_think(env):
    assert env.prod.pcr(0) == env.pcr0 != ZEROS
    assert env.debug.pcr(0) == ZEROS


def test_generate_random_with_recipient(env):
    doc = env.prod.attest(env.key.spki)
    status, out = call(env.srv, "GenerateRandom", {"NumberOfBytes": 32, "Recipient": recipient(doc)})
    assert status == 200, out
    assert "Plaintext" not in out  # omitted, not null (docs/kms-policy.md, "Recipient")
    cms = base64.b64decode(out["CiphertextForRecipient"])
    # KMS's shape: BER, indefinite lengths, EnvelopedData v2
    assert cms[:2] == b"\x30\x80" and cms[13:19] == b"\xa0\x80\x30\x80\x02\x01" and cms[19] == 2
    assert len(env.key.open(out["CiphertextForRecipient"])) == 32


def test_decrypt_with_recipient(env):
    kid = env.kms.create_key()["KeyMetadata"]["KeyId"]
    blob = env.kms.encrypt(KeyId=kid, Plaintext=b"4111111111111111")["CiphertextBlob"]
    status, out = call(env.srv, "Decrypt", {"CiphertextBlob": b64(blob),
                                            "Recipient": recipient(env.prod.attest(env.key.spki))})
    assert status == 200, out
    assert "Plaintext" not in out
    assert out["KeyId"].endswith(kid) and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert env.key.open(out["CiphertextForRecipient"]) == b"4111111111111111"
    # KeyEncryptionAlgorithm may be left out
    status, out = call(env.srv, "Decrypt", {"CiphertextBlob": b64(blob),
                                            "Recipient": recipient(env.prod.attest(env.key.spki), None)})
    assert status == 200, out


def test_generate_data_key_and_pair_with_recipient(env):
    kid = env.kms.create_key()["KeyMetadata"]["KeyId"]
    status, out = call(env.srv, "GenerateDataKey", {"KeyId": kid, "KeySpec": "AES_256",
                                                    "Recipient": recipient(env.prod.attest(env.key.spki))})
    assert status == 200, out
    assert "Plaintext" not in out
    dk = env.key.open(out["CiphertextForRecipient"])
    assert len(dk) == 32
    # the CiphertextBlob is the same data key under the KMS key
    assert env.kms.decrypt(CiphertextBlob=base64.b64decode(out["CiphertextBlob"]))["Plaintext"] == dk

    status, out = call(env.srv, "GenerateDataKeyPair", {"KeyId": kid, "KeyPairSpec": "ECC_NIST_P256",
                                                        "Recipient": recipient(env.prod.attest(env.key.spki))})
    assert status == 200, out
    assert "PrivateKeyPlaintext" not in out and "PublicKey" in out and "PrivateKeyCiphertextBlob" in out
    pkcs8 = env.key.open(out["CiphertextForRecipient"])
    pub = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"], input=pkcs8,
                         capture_output=True, check=True).stdout
    assert pub == base64.b64decode(out["PublicKey"])


def test_rsa_3072_and_4096_recipients(env):
    for bits in (3072, 4096):
        k = EnclaveKey(env.d, bits)
        status, out = call(env.srv, "GenerateRandom", {"NumberOfBytes": 16,
                                                       "Recipient": recipient(env.prod.attest(k.spki))})
        assert status == 200, out
        assert len(k.open(out["CiphertextForRecipient"])) == 16


def workshop_policy(account, principal, pcr0):
    """The workshop's key policy, phase 2 (PCR0 condition)."""
    return json.dumps({
        "Version": "2012-10-17", "Id": "key-consolepolicy-3",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Enable Cloud9 Environment to Encrypt", "Effect": "Allow",
             "Principal": {"AWS": principal}, "Action": "kms:Encrypt", "Resource": "*"},
            {"Sid": "Enable Cloud9 Environment to Decrypt", "Effect": "Allow",
             "Principal": {"AWS": principal}, "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR0": pcr0.upper()}}},
        ]})


def test_workshop_pcr0_policy(env):
    srv = env.srv
    role = srv.principal("enclave_role", role=True)
    sess = srv.session("enclave_role")
    creds = (sess["Credentials"]["AccessKeyId"], sess["Credentials"]["SecretAccessKey"])
    token = sess["Credentials"]["SessionToken"]
    caller = sess["AssumedRoleUser"]["Arn"]
    kid = env.kms.create_key(Policy=workshop_policy(srv.account, role["Arn"], env.pcr0))["KeyMetadata"]["KeyId"]
    arn = f"arn:aws:kms:{srv.region}:{srv.account}:key/{kid}"
    # the parent encrypts
    status, out = call(srv, "Encrypt", {"KeyId": kid, "Plaintext": b64(b"4111111111111111")}, creds, token)
    assert status == 200, out
    blob = out["CiphertextBlob"]
    # ...cannot decrypt itself
    assert error(call(srv, "Decrypt", {"CiphertextBlob": blob}, creds, token)) == (
        "AccessDeniedException",
        f"User: {caller} is not authorized to perform: kms:Decrypt on resource: {arn} "
        "because no resource-based policy allows the kms:Decrypt action")
    # ...a debug-mode enclave cannot either (PCR0 all zero)
    assert error(call(srv, "Decrypt", {"CiphertextBlob": blob, "Recipient": recipient(env.debug.attest(env.key.spki))},
                      creds, token))[0] == "AccessDeniedException"
    # ...the production enclave can
    status, out = call(srv, "Decrypt", {"CiphertextBlob": blob, "Recipient": recipient(env.prod.attest(env.key.spki))},
                       creds, token)
    assert status == 200, out
    assert env.key.open(out["CiphertextForRecipient"]) == b"4111111111111111"
    # the audit line of that call names the document's module and measurements
    events = [json.loads(l) for l in (srv.dir / "audit.log").read_text().splitlines()]
    attested = [e for e in events if e.get("recipient") and e["operation"] == "Decrypt" and e["result"] == "Success"
                and e["principal"] == caller]
    assert attested
    rec = attested[-1]["recipient"]
    assert rec["attestationDocumentModuleId"] == env.prod.module_id
    assert rec["attestationDocumentEnclaveImageDigest"] == env.pcr0
    assert rec["pcrs"]["0"] == env.pcr0 and rec["debug"] is False
    assert attested[-1]["authorization"][0]["sid"] == "Enable Cloud9 Environment to Decrypt"
    debug_events = [e for e in events if e.get("recipient", {}).get("debug")]
    assert debug_events and debug_events[-1]["result"] == "AccessDeniedException"
    assert "4111111111111111" not in (srv.dir / "audit.log").read_text()


def test_debug_documents_allowed_when_policy_allows(env):
    # A key with the default policy: the admin's identity policy allows kms:*;
    # the debug document is verified and honoured (policies decide, docs/kms-policy.md).
    kid = env.kms.create_key()["KeyMetadata"]["KeyId"]
    blob = env.kms.encrypt(KeyId=kid, Plaintext=b"debug ok")["CiphertextBlob"]
    status, out = call(env.srv, "Decrypt", {"CiphertextBlob": b64(blob),
                                            "Recipient": recipient(env.debug.attest(env.key.spki))})
    assert status == 200, out
    assert env.key.open(out["CiphertextForRecipient"]) == b"debug ok"


def test_deny_unless_attested(env):
    srv = env.srv
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{srv.account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "RequireProductionEnclave", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
         "Resource": "*", "Condition": {"StringNotEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": env.pcr0}}},
    ]})
    kid = env.kms.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
    arn = f"arn:aws:kms:{srv.region}:{srv.account}:key/{kid}"
    blob = b64(env.kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"])
    admin = f"arn:aws:iam::{srv.account}:user/admin"
    explicit = ("AccessDeniedException", f"User: {admin} is not authorized to perform: kms:Decrypt on resource: "
                f"{arn} with an explicit deny in a resource-based policy")
    assert error(call(srv, "Decrypt", {"CiphertextBlob": blob})) == explicit
    assert error(call(srv, "Decrypt", {"CiphertextBlob": blob,
                                       "Recipient": recipient(env.debug.attest(env.key.spki))})) == explicit
    status, out = call(srv, "Decrypt", {"CiphertextBlob": blob, "Recipient": recipient(env.prod.attest(env.key.spki))})
    assert status == 200, out


def test_refused_documents(env):
    srv = env.srv
    good = env.prod.attest(env.key.spki)
    body = lambda r: {"NumberOfBytes": 8, "Recipient": r}
    # untrusted root
    assert error(call(srv, "GenerateRandom", body(recipient(env.rogue.attest(env.key.spki))))) == (
        "ValidationException", BAD + "its certificate chain does not lead to a trusted root.")
    # forged: signature and signed payload edited
    forged = bytearray(good)
    forged[-1] ^= 1
    assert error(call(srv, "GenerateRandom", body(recipient(bytes(forged))))) == (
        "ValidationException", BAD + "its signature does not verify.")
    forged = bytearray(good)
    i = forged.find(env.prod.module_id.encode())
    forged[i + 2] ^= 1
    assert error(call(srv, "GenerateRandom", body(recipient(bytes(forged))))) == (
        "ValidationException", BAD + "its signature does not verify.")
    # not a document
    assert error(call(srv, "GenerateRandom", body(recipient(b"not a document")))) == (
        "ValidationException", BAD + "it is not a well-formed attestation document.")
    # no public key, not RSA, too small
    assert error(call(srv, "GenerateRandom", body(recipient(env.prod.attest(None))))) == (
        "ValidationException", BAD + "it carries no public key.")
    ec = EnclaveKey(env.d, 0, "EC")
    assert error(call(srv, "GenerateRandom", body(recipient(env.prod.attest(ec.spki))))) == (
        "ValidationException", BAD + "its public key is not an RSA SubjectPublicKeyInfo.")
    small = EnclaveKey(env.d, 1024)
    assert error(call(srv, "GenerateRandom", body(recipient(env.prod.attest(small.spki))))) == (
        "ValidationException", BAD + "its RSA key has 1024 bits (2048 to 4096 accepted).")


def test_stale_documents(env, tmp_path):
    srv = KmsServer(tmp_path / "kms", args=["--trust-root", str(env.prod.root), "--attestation-max-age", "1"])
    try:
        doc = env.prod.attest(env.key.spki)
        time.sleep(2.2)
        assert error(call(srv, "GenerateRandom", {"NumberOfBytes": 8, "Recipient": recipient(doc)})) == (
            "ValidationException", BAD + "its timestamp is outside the accepted window (maximum age 1 seconds).")
        status, out = call(srv, "GenerateRandom", {"NumberOfBytes": 8,
                                                   "Recipient": recipient(env.prod.attest(env.key.spki))})
        assert status == 200, out
    finally:
        srv.stop()


def test_real_aws_document_is_stale(env, tmp_path, shared_dir):
    """A real Nitro document chains to the AWS root G1 but is years old."""
    real = sorted((shared_dir / "testdata" / "attestation" / "real").glob("*"))
    docs = [p for p in real if p.is_file() and p.suffix in ("", ".bin", ".cbor", ".cose")]
    if not docs:
        pytest.skip("no real AWS attestation document in testdata")
    srv = KmsServer(tmp_path / "kms", args=["--aws-nitro-root"])
    try:
        t, msg = error(call(srv, "GenerateRandom", {"NumberOfBytes": 8, "Recipient": recipient(docs[0].read_bytes())}))
        assert t == "ValidationException"
        assert msg in (BAD + "a certificate of its chain is not valid at this time.",
                       BAD + "its timestamp is outside the accepted window (maximum age 300 seconds).")
    finally:
        srv.stop()


def test_recipient_parameter_validation(env):
    srv = env.srv
    doc = env.prod.attest(env.key.spki)
    t, msg = error(call(srv, "GenerateRandom", {"NumberOfBytes": 8,
                                                "Recipient": recipient(doc, "RSAES_OAEP_SHA_1")}))
    assert t == "ValidationException"
    assert "RSAES_OAEP_SHA_256" in msg


def test_boto3_143_sends_recipient(env):
    """The `python3` on PATH has boto3 1.43, whose KMS model knows Recipient."""
    py = shutil.which("python3")
    if not py or Path(py).resolve() == Path("/usr/bin/python3").resolve():
        pytest.skip("no separate python3 with boto3 1.43 on PATH")
    kid = env.kms.create_key()["KeyMetadata"]["KeyId"]
    blob = env.kms.encrypt(KeyId=kid, Plaintext=b"via boto3 1.43")["CiphertextBlob"]
    doc = env.prod.attest(env.key.spki)
    script = """
import base64, json, sys, boto3
a = json.load(sys.stdin)
kms = boto3.client("kms", endpoint_url=a["endpoint"], region_name=a["region"], verify=a["ca"],
                   aws_access_key_id=a["ak"], aws_secret_access_key=a["sk"])
r = kms.decrypt(CiphertextBlob=base64.b64decode(a["blob"]),
                Recipient={"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
                           "AttestationDocument": base64.b64decode(a["doc"])})
g = kms.generate_random(NumberOfBytes=24, Recipient={"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
                        "AttestationDocument": base64.b64decode(a["doc"])})
print(json.dumps({"version": boto3.__version__, "has_plaintext": "Plaintext" in r,
                  "cms": base64.b64encode(r["CiphertextForRecipient"]).decode(),
                  "random": base64.b64encode(g["CiphertextForRecipient"]).decode()}))
"""
    args = {"endpoint": env.srv.endpoint, "region": env.srv.region, "ca": env.srv.ca, "ak": env.srv.admin[0],
            "sk": env.srv.admin[1], "blob": b64(blob), "doc": b64(doc)}
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    p = subprocess.run([py, "-c", script], input=json.dumps(args), capture_output=True, text=True,
                       timeout=120, env=clean_env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["version"].startswith("1.")
    assert out["has_plaintext"] is False
    assert env.key.open(out["cms"]) == b"via boto3 1.43"
    assert len(env.key.open(out["random"])) == 24
