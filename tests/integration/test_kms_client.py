# SPDX-License-Identifier: Apache-2.0
"""The SDK's KMS client (include/cloister/kms.h) against a real
cloister-kms, through tests/programs/kms_client_call: configuration errors,
the direct endpoint URL, the vsock proxy with the default host name and
endpoint overrides, session tokens, encryption context, GenerateDataKey
AES_128/AES_256, GenerateRandom bounds, attestation through an emulated
NSM (cloister-nsm-serve), and the mapping of AWS errors to codes and
"<type>: <message>" reasons (plus answers that are not AWS errors, from a
stand-in HTTPS server)."""
import base64
import http.server
import json
import os
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR, BUILD_DIR, run
from kmsserver import KmsServer

CALL = BUILD_DIR / "tests" / "programs" / "kms_client_call"
PROXY = BIN_DIR / "cloister-vsock-proxy"
NSM_SERVE = BIN_DIR / "cloister-nsm-serve"
CL_EINVAL, CL_EIO, CL_EFORMAT, CL_ENOTFOUND, CL_EPERM, CL_ELIMIT = -1, -3, -4, -7, -8, -9


def b64(d):
    return base64.b64encode(d).decode()


class Env:
    def __init__(self, d):
        self.d = Path(d)
        # an image and its NSM, whose root the key service trusts
        rootfs = self.d / "rootfs"
        rootfs.mkdir()
        (rootfs / "hello").write_text("hello\n")
        self.eif = self.d / "app.eif"
        p = run([BIN_DIR / "cloister", "build-enclave", "--rootfs", rootfs, "--cmd", "/hello",
                 "--output-file", self.eif], check=True, timeout=300)
        self.pcr0 = json.loads(p.stdout)["Measurements"]["PCR0"]
        self.nsm_sock = self.d / "nsm.sock"
        root = self.d / "nsm-root.pem"
        self.nsm = subprocess.Popen([str(NSM_SERVE), "--socket", str(self.nsm_sock), "--eif-path",
                                     str(self.eif), "--root-out", str(root)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.nsm.stdout.readline().startswith("ready ")
        self.srv = KmsServer(self.d / "kms", args=["--trust-root", str(root)])
        self.kms = self.srv.client()
        self.key = self.kms.create_key()["KeyMetadata"]["KeyId"]
        # the vsock proxy on this host's emulated vsock (CID 3, port 8000)
        self.run_dir = self.d / "run"
        self.run_dir.mkdir()
        allow = self.d / "allow.yaml"
        allow.write_text(f"allowlist:\n- {{address: 127.0.0.1, port: {self.srv.port}}}\n")
        self.proxy = subprocess.Popen([str(PROXY), "8000", "127.0.0.1", str(self.srv.port),
                                       "--config", str(allow)], env=self.env(),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if (self.run_dir / "vsock" / "3" / "8000").exists():
                break
            time.sleep(0.05)

    def env(self):
        return {**os.environ, "CLOISTER_RUN_DIR": str(self.run_dir),
                "CLOISTER_NSM_DEVICE": str(self.nsm_sock)}

    def call(self, *args, creds=None, direct=True, ca=None, extra=()):
        ak, sk = (creds or self.srv.admin)[:2]
        cmd = [str(CALL), "--region", "us-east-1", "--akid", ak, "--secret", sk,
               "--ca-bundle", ca or self.srv.ca, *extra]
        if creds and len(creds) == 3:
            cmd += ["--token", creds[2]]
        if direct:
            cmd += ["--endpoint-url", self.srv.endpoint]
        p = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                           env=self.env(), timeout=120)
        return p

    def close(self):
        self.proxy.terminate()
        self.proxy.wait(timeout=10)
        self.srv.stop()
        self.nsm.terminate()
        self.nsm.wait(timeout=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("kmsclient"))
    yield e
    e.close()


def ok(p):
    assert p.returncode == 0, p.stderr
    return {k: base64.b64decode(v) for k, v in (line.split(": ", 1) for line in p.stdout.splitlines())}


def error(p):
    assert p.returncode == 1 and p.stdout == "", (p.stdout, p.stderr)
    assert p.stderr.startswith("ERROR ") and p.stderr.endswith("\n")
    code, reason = p.stderr[6:-1].split(" ", 1)
    return int(code), reason


# --------------------------------------------------------------------------
# configuration

@pytest.mark.parametrize("args,expected", [
    (["--region", "US_EAST"], "invalid region 'US_EAST'"),
    (["--region", ""], "invalid region ''"),
    (["--region", "a" * 33], f"invalid region '{'a' * 33}'"),
    (["--akid", ""], "an access key id and a secret access key are required"),
    (["--secret", ""], "an access key id and a secret access key are required"),
    (["--endpoint", "kms.local:0"], "invalid endpoint 'kms.local:0'"),
    (["--endpoint", "kms.local:65536"], "invalid endpoint 'kms.local:65536'"),
    (["--endpoint", "kms.local:44x"], "invalid endpoint 'kms.local:44x'"),
    # digits only: strtoul() took a sign and a space
    (["--endpoint", "kms.local:+443"], "invalid endpoint 'kms.local:+443'"),
    (["--endpoint", "kms.local: 443"], "invalid endpoint 'kms.local: 443'"),
    (["--endpoint", "kms.local:-65093"], "invalid endpoint 'kms.local:-65093'"),
    (["--endpoint", ":443"], "invalid endpoint ':443'"),
    (["--endpoint-url", "http://127.0.0.1:1"],
     "the endpoint URL must start with https://, not 'http://127.0.0.1:1'"),
])
def test_configuration_errors(args, expected):
    base = ["--region", "us-east-1", "--akid", "AKIAEXAMPLE", "--secret", "s"]
    p = run([CALL, *base, *args, "random", "8"])
    assert error(p) == (CL_EINVAL, expected)


# --------------------------------------------------------------------------
# operations and their options (direct endpoint URL)

def test_encrypt_decrypt_with_encryption_context(env):
    ctx = json.dumps({"purpose": "sdk-test", "tenant": "7"})
    ct = ok(env.call("encrypt", env.key, b64(b"the secret"), ctx))["CIPHERTEXT"]
    assert ok(env.call("decrypt", b64(ct), ctx))["PLAINTEXT"] == b"the secret"
    # key id and algorithm are passed along
    assert ok(env.call("decrypt", b64(ct), ctx, env.key, "SYMMETRIC_DEFAULT"))["PLAINTEXT"] == b"the secret"
    # the context is bound: without it, or with another, KMS refuses
    for other in ("-", json.dumps({"purpose": "sdk-test"})):
        code, reason = error(env.call("decrypt", b64(ct), other))
        assert code == CL_EFORMAT and reason.startswith("InvalidCiphertextException: "), reason
    # boto3 agrees on what the client sent
    assert env.kms.decrypt(CiphertextBlob=ct, EncryptionContext=json.loads(ctx))["Plaintext"] == b"the secret"


@pytest.mark.parametrize("ctx,expected", [
    ("[1]", "the encryption context must be a JSON object, not an array"),
    ("{", "the encryption context must be a JSON object: "),
    ('{"a": 1}', "encryption context value of 'a' is not a string"),
])
def test_encryption_context_must_be_an_object_of_strings(env, ctx, expected):
    code, reason = error(env.call("encrypt", env.key, b64(b"x"), ctx))
    assert code == CL_EINVAL and reason.startswith(expected), reason


@pytest.mark.parametrize("spec,size", [("AES_128", 16), ("AES_256", 32)])
def test_generate_data_key(env, spec, size):
    out = ok(env.call("genkey", env.key, spec))
    assert len(out["PLAINTEXT"]) == size
    assert env.kms.decrypt(CiphertextBlob=out["CIPHERTEXT"])["Plaintext"] == out["PLAINTEXT"]


def test_generate_data_key_bad_spec_is_a_validation_error(env):
    code, reason = error(env.call("genkey", env.key, "AES_512"))
    assert code == CL_EFORMAT and reason.startswith("ValidationException: "), reason


@pytest.mark.parametrize("n", [1, 1024])
def test_generate_random_bounds(env, n):
    assert len(ok(env.call("random", n))["PLAINTEXT"]) == n


@pytest.mark.parametrize("n", [0, 1025])
def test_generate_random_out_of_bounds(env, n):
    assert error(env.call("random", n)) == (CL_EINVAL, f"the length must be from 1 to 1024 bytes, not {n}")


def test_not_found(env):
    code, reason = error(env.call("encrypt", "alias/nothing-here", b64(b"x")))
    assert (code, reason) == (CL_ENOTFOUND, "NotFoundException: Alias arn:aws:kms:us-east-1:"
                              f"{env.srv.account}:alias/nothing-here is not found.")
    code, reason = error(env.call("genkey", "11111111-2222-3333-4444-555555555555", "AES_256"))
    assert code == CL_ENOTFOUND and reason.startswith("NotFoundException: "), reason


def test_access_denied(env):
    u = env.srv.principal("nobody")
    code, reason = error(env.call("encrypt", env.key, b64(b"x"), creds=(u["AccessKeyId"], u["SecretAccessKey"])))
    assert code == CL_EPERM and reason.startswith(f"AccessDeniedException: User: {u['Arn']} is not authorized"), reason


def test_session_tokens(env):
    env.srv.principal("sdk-role", role=True, policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]})
    c = env.srv.session("sdk-role")["Credentials"]
    creds = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    ct = ok(env.call("encrypt", env.key, b64(b"via a session"), creds=creds))["CIPHERTEXT"]
    assert ok(env.call("decrypt", b64(ct), creds=creds))["PLAINTEXT"] == b"via a session"
    # the same temporary key without its token is not recognized
    code, reason = error(env.call("decrypt", b64(ct), creds=creds[:2]))
    assert (code, reason) == (CL_EIO, "UnrecognizedClientException: The security token included in "
                                      "the request is invalid.")
    # a long-term key with a token is not either
    code, reason = error(env.call("decrypt", b64(ct), creds=(*env.srv.admin, c["SessionToken"])))
    assert code == CL_EIO and reason.startswith("UnrecognizedClientException: "), reason


def test_wrong_secret(env):
    code, reason = error(env.call("random", 8, creds=(env.srv.admin[0], "wrong")))
    assert code == CL_EIO and reason.startswith("InvalidSignatureException: "), reason


def test_wrong_ca_bundle(env):
    other = env.d / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(env.d / "other.key"), "-out", str(other), "-subj", "/CN=other",
                    "-days", "1"], check=True, capture_output=True)
    # direct: the reason names the URL
    assert error(env.call("random", 8, ca=str(other))) == (
        CL_EIO, f"KMS request to {env.srv.endpoint} failed: SSL peer certificate or SSH remote key was not OK")
    assert error(env.call("random", 8, ca=str(env.d / "missing.pem"))) == (
        CL_EIO, f"KMS request to {env.srv.endpoint} failed: Problem with the SSL CA cert (path? access rights?)")
    # through the proxy: the reason names the TLS host
    assert error(env.call("random", 8, ca=str(other), direct=False)) == (
        CL_EIO, "KMS request to kms.us-east-1.amazonaws.com failed: SSL peer certificate or SSH remote key was not OK")


# --------------------------------------------------------------------------
# through the vsock proxy: the TLS name is the configured host, not the URL's

def test_through_the_proxy_with_the_default_host_name(env):
    ct = ok(env.call("encrypt", env.key, b64(b"proxied"), direct=False))["CIPHERTEXT"]
    assert ok(env.call("decrypt", b64(ct), direct=False))["PLAINTEXT"] == b"proxied"


@pytest.mark.parametrize("endpoint", ["localhost", "127.0.0.1:4443", "kms.us-east-1.amazonaws.com:443"])
def test_endpoint_override(env, endpoint):
    assert len(ok(env.call("random", 8, direct=False, extra=["--endpoint", endpoint]))["PLAINTEXT"]) == 8


def test_endpoint_not_in_the_certificate(env):
    assert error(env.call("random", 8, direct=False, extra=["--endpoint", "kms.eu-west-1.amazonaws.com"])) == (
        CL_EIO, "KMS request to kms.eu-west-1.amazonaws.com failed: SSL peer certificate or SSH remote key was not OK")


def test_region_names_the_default_host(env):
    # eu-west-1's default host is not in the certificate of a us-east-1 key service
    p = env.call("random", 8, direct=False, extra=["--region", "eu-west-1"])
    assert error(p) == (CL_EIO, "KMS request to kms.eu-west-1.amazonaws.com failed: "
                                "SSL peer certificate or SSH remote key was not OK")


def test_proxy_port_and_cid(env):
    code, reason = error(env.call("random", 8, direct=False, extra=["--proxy-port", "8001"]))
    assert code == CL_EIO and reason.startswith("cannot reach the KMS proxy at vsock 3:8001: "), reason
    code, reason = error(env.call("random", 8, direct=False, extra=["--proxy-cid", "5"]))
    assert reason.startswith("cannot reach the KMS proxy at vsock 5:8000: "), reason


# --------------------------------------------------------------------------
# attestation (the Recipient parameter) with the emulated NSM

def test_attested_calls_open_the_cms_envelope(env):
    ct = ok(env.call("encrypt", env.key, b64(b"for the enclave only")))["CIPHERTEXT"]
    assert ok(env.call("--attest", "decrypt", b64(ct), direct=False))["PLAINTEXT"] == b"for the enclave only"
    out = ok(env.call("--attest", "genkey", env.key, "AES_128", direct=False))
    assert len(out["PLAINTEXT"]) == 16
    assert env.kms.decrypt(CiphertextBlob=out["CIPHERTEXT"])["Plaintext"] == out["PLAINTEXT"]
    assert len(ok(env.call("--attest", "random", 1024, direct=False))["PLAINTEXT"]) == 1024


def test_attested_pcr0_condition(env):
    def policy(pcr0):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{env.srv.account}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": u["Arn"]}, "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR0": pcr0}}}]})
    u = env.srv.principal("pcr0-user")
    creds = (u["AccessKeyId"], u["SecretAccessKey"])
    good = env.kms.create_key(Policy=policy(env.pcr0))["KeyMetadata"]["KeyId"]
    bad = env.kms.create_key(Policy=policy("00" * 48))["KeyMetadata"]["KeyId"]
    for key, allowed in ((good, True), (bad, False)):
        ct = b64(env.kms.encrypt(KeyId=key, Plaintext=b"pcr0")["CiphertextBlob"])
        p = env.call("--attest", "decrypt", ct, creds=creds, direct=False)
        if allowed:
            assert ok(p)["PLAINTEXT"] == b"pcr0"
        else:
            code, reason = error(p)
            assert code == CL_EPERM and reason.startswith("AccessDeniedException: "), reason
        # without attestation the condition key is missing: denied either way
        assert error(env.call("decrypt", ct, creds=creds))[0] == CL_EPERM


def test_attestation_without_an_nsm(env):
    ct = ok(env.call("encrypt", env.key, b64(b"x")))["CIPHERTEXT"]
    p = subprocess.run([str(CALL), "--region", "us-east-1", "--akid", env.srv.admin[0], "--secret",
                        env.srv.admin[1], "--ca-bundle", env.srv.ca, "--endpoint-url", env.srv.endpoint,
                        "--attest", "decrypt", b64(ct)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "CLOISTER_NSM_DEVICE": str(env.d / "no-nsm")})
    assert error(p) == (CL_EIO, "cannot open the Nitro Secure Module")


# --------------------------------------------------------------------------
# answers that are not AWS errors (a stand-in HTTPS server)

class StandIn:
    def __init__(self, d, status, body):
        self.cert, self.key = d / "standin.pem", d / "standin.key"
        if not self.cert.exists():
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1"], check=True, capture_output=True)

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(h):
                h.rfile.read(int(h.headers["Content-Length"]))
                h.send_response(status)
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)

            def log_message(h, *a):
                pass
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def call(self, *args):
        return run([CALL, "--region", "us-east-1", "--akid", "AKIAEXAMPLE", "--secret", "s",
                    "--ca-bundle", self.cert, "--endpoint-url", self.url, *args])

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("status,body,expected", [
    (500, b"<html>oops</html>", (CL_EIO, "KMS answered HTTP 500 without an AWS error")),
    (400, b'{"__type": "com.amazonaws.kms#KMSInvalidStateException", "message": "pending deletion"}',
     (CL_EIO, "KMSInvalidStateException: pending deletion")),
    (400, b'{"__type": "AccessDeniedException", "Message": "capital M"}',
     (CL_EPERM, "AccessDeniedException: capital M")),
    (400, b'{"__type": "NotFoundException"}', (CL_ENOTFOUND, "NotFoundException: (no message)")),
    (200, b"not json", (CL_EFORMAT, "KMS answered with invalid JSON")),
    (200, b"[]", (CL_EFORMAT, "KMS answered with invalid JSON")),
    (200, b"{}", (CL_EFORMAT, "the KMS response has no Plaintext")),
    (200, b'{"Plaintext": "AAAA"}', (CL_EFORMAT, "KMS returned 3 random bytes, 8 were asked for")),
    pytest.param(200, b"x" * (1024 * 1024 + 1), (CL_ELIMIT, "the KMS response exceeds 1048576 bytes"),
                 id="too-big"),
])
def test_answers_that_are_not_aws_errors(tmp_path, status, body, expected):
    s = StandIn(tmp_path, status, body)
    try:
        assert error(s.call("random", 8)) == expected
    finally:
        s.close()


def test_bad_base64_in_a_response(tmp_path):
    s = StandIn(tmp_path, 200, b'{"Plaintext": "not base64!"}')
    try:
        code, reason = error(s.call("random", 8))
        assert code == CL_EFORMAT and reason.startswith("the KMS response's Plaintext: "), reason
    finally:
        s.close()
