# SPDX-License-Identifier: Apache-2.0
"""The workshop scenario (issue 7): the whole of `make demo` as a test, and
the client's behaviour when something is wrong: a wrong alias, a corrupted
ciphertext, no enclave, no proxy, no key service. Each must be a clear error
from the client, never a hang."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR, BUILD_DIR, SOURCE_DIR, run

EXAMPLE = SOURCE_DIR / "examples" / "data-processing"
EXBIN = BUILD_DIR / "examples" / "data-processing"
AWS = "/usr/bin/aws"
REGION = "us-east-1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_make_demo_runs_the_workshop_end_to_end():
    p = run([SOURCE_DIR / "scripts" / "demo.sh", BUILD_DIR], timeout=900)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    for step in ["1. Build", "2. Run the enclave in debug mode", "3. Administrator",
                 "4. Prepare", "5. Submit", "6. The parent decrypts", "7. Add kms:RecipientAttestation:PCR0",
                 "8. The parent's own decrypt is denied", "9. The debug-mode enclave is denied",
                 "10. Terminate; run in production mode", "11. A modified server", "12. The audit log"]:
        assert step in p.stdout, step
    assert "UNEXPECTED" not in p.stdout
    assert p.stdout.rstrip().endswith(
        "The workshop ran end to end: every step's outcome was as expected.")


class Parent:
    """A parent instance: attestation CA, cloister-kms, the parent role's
    session, the key and its alias, the proxy and a production enclave."""

    def __init__(self, work: Path):
        self.procs = {}
        self.work = work
        self.run_dir = work / "run"
        self.run_dir.mkdir()
        self.env = {"CLOISTER_RUN_DIR": str(self.run_dir), "CLOISTER_CA_DIR": str(work / "ca"),
                    "CLOISTER_HOST_CONFIG": str(work / "host.conf"),
                    "CLOISTER_CLI": str(BIN_DIR / "cloister")}
        (work / "host.conf").write_text("instance_id = i-0123456789abcdef0\n")
        run([BIN_DIR / "cloister", "attestation-ca", "init", "--ca-dir", work / "ca"], check=True)
        self.data = work / "kms"
        self.kms_port = free_port()
        self.start_kms()
        self.admin_env = {"AWS_SHARED_CREDENTIALS_FILE": str(self.data / "credentials"),
                          "AWS_CONFIG_FILE": str(self.data / "config")}
        self.endpoint = f"https://127.0.0.1:{self.kms_port}"
        run([BIN_DIR / "cloister-kms", "principal", "create", "ParentInstanceRole", "--role",
             "--data-dir", self.data], check=True)
        sess = json.loads(run([BIN_DIR / "cloister-kms", "session", "create", "ParentInstanceRole",
                               "--data-dir", self.data], check=True).stdout)["Credentials"]
        (work / "parent").mkdir()
        (work / "parent" / "credentials").write_text(
            f"[default]\naws_access_key_id = {sess['AccessKeyId']}\n"
            f"aws_secret_access_key = {sess['SecretAccessKey']}\n"
            f"aws_session_token = {sess['SessionToken']}\n")
        (work / "parent" / "config").write_text(f"[default]\nregion = {REGION}\n")
        self.parent_env = {"AWS_SHARED_CREDENTIALS_FILE": str(work / "parent" / "credentials"),
                           "AWS_CONFIG_FILE": str(work / "parent" / "config"),
                           "AWS_ENDPOINT_URL": self.endpoint,
                           "AWS_CA_BUNDLE": str(self.data / "tls" / "ca.pem")}
        key = json.loads(self.admin("kms", "create-key"))["KeyMetadata"]["KeyId"]
        self.admin("kms", "create-alias", "--alias-name", "alias/my-enclave-key",
                   "--target-key-id", key)
        role = "arn:aws:iam::{}:role/ParentInstanceRole".format(
            json.loads(self.admin("sts", "get-caller-identity"))["Account"])
        policy = (EXAMPLE / "key_policy_template.json").read_text()
        account = role.split(":")[4]
        (work / "policy.json").write_text(policy.replace("ACCOUNT_ID", account)
                                          .replace("AWS_PRINCIPAL", role))
        self.admin("kms", "put-key-policy", "--key-id", key, "--policy-name", "default",
                   "--policy", f"file://{work / 'policy.json'}")
        self.start_proxy()
        eif = work / "dp.eif"
        for out in (eif, work / "dp-again.eif"):
            run([EXAMPLE / "build-image.sh", BUILD_DIR, EXBIN / "data-processing-server",
                 self.data / "tls" / "ca.pem", out], check=True, env=self.env)
        # staged afresh, the same image: the script clamps the files' times
        assert eif.read_bytes() == (work / "dp-again.eif").read_bytes()
        run([BIN_DIR / "cloister", "run-enclave", "--cpu-count", "1", "--memory", "512",
             "--eif-path", eif], check=True, env=self.env)

    def admin(self, *args):
        return run([AWS, "--endpoint-url", self.endpoint, "--ca-bundle",
                    self.data / "tls" / "ca.pem", "--region", REGION, *args],
                   env=self.admin_env, check=True).stdout

    def start_kms(self):
        self.procs["kms"] = subprocess.Popen(
            [BIN_DIR / "cloister-kms", "serve", "--data-dir", self.data, "--listen",
             f"127.0.0.1:{self.kms_port}", "--region", REGION, "--trust-root",
             self.work / "ca" / "root.pem"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.kms_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("cloister-kms did not start")

    def start_proxy(self):
        allow = self.work / "allow.yaml"
        allow.write_text(f"allowlist:\n- {{address: 127.0.0.1, port: {self.kms_port}}}\n")
        self.procs["proxy"] = subprocess.Popen(
            [BIN_DIR / "cloister-vsock-proxy", "8000", "127.0.0.1", str(self.kms_port),
             "--config", allow], env={**os.environ, **self.env}, stderr=subprocess.DEVNULL)
        sock = self.run_dir / "vsock" / "3" / "8000"
        for _ in range(100):
            if sock.exists():
                return
            time.sleep(0.05)
        raise AssertionError("proxy did not start")

    def stop(self, name):
        p = self.procs.pop(name)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)

    def client(self, *args, timeout=120):
        return run([EXBIN / "data-processing-client", *args], cwd=self.work,
                   env={**self.env, **self.parent_env}, timeout=timeout)

    def close(self):
        """Stops whatever was started, also after a set-up that failed half-way."""
        if hasattr(self, "env"):
            run([BIN_DIR / "cloister", "terminate-enclave", "--all"], env=self.env)
        for name in list(getattr(self, "procs", {})):
            self.stop(name)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    p = Parent.__new__(Parent)
    try:
        p.__init__(tmp_path_factory.mktemp("workshop"))
        yield p
    finally:
        p.close()


def prepared(parent):
    out = parent.client("--prepare", "--values", EXAMPLE / "values.txt", "--alias", "my-enclave-key")
    assert out.returncode == 0, out.stderr
    last4 = out.stdout.split("Selected value ends in: ")[1].split("\n")[0]
    return last4, (parent.work / "string.encrypted").read_text()


def test_prepare_and_submit(parent):
    last4, ct = prepared(parent)
    assert len(last4) == 4 and last4.isdigit()
    out = parent.client("--submit", "--ciphertext", "string.encrypted", "--alias", "my-enclave-key")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"last_four": last4}


def test_wrong_alias(parent):
    out = parent.client("--prepare", "--values", EXAMPLE / "values.txt", "--alias", "no-such-key")
    assert out.returncode == 1
    assert out.stderr.startswith("client: error: NotFoundException: ")
    assert "alias/no-such-key" in out.stderr


def test_corrupted_ciphertext(parent):
    prepared(parent)
    ct = (parent.work / "string.encrypted").read_text()
    # Change a character of the encrypted part (near the end: past the blob's
    # header, which names the key), keeping it valid base64.
    i = len(ct.rstrip("=")) - 8
    bad = ct[:i] + ("A" if ct[i] != "A" else "B") + ct[i + 1:]
    (parent.work / "corrupted.encrypted").write_text(bad)
    out = parent.client("--submit", "--ciphertext", "corrupted.encrypted", "--alias", "my-enclave-key")
    assert out.returncode == 2
    reply = json.loads(out.stdout)
    assert reply["error"].startswith("KMS Error. Decryption Failed. InvalidCiphertextException")
    # Not base64 at all.
    (parent.work / "junk.encrypted").write_text("not base64!")
    out = parent.client("--submit", "--ciphertext", "junk.encrypted", "--alias", "my-enclave-key")
    assert json.loads(out.stdout) == {
        "error": "KMS Error. Decryption Failed. the ciphertext is not valid base64"}


def test_missing_ciphertext_file(parent):
    out = parent.client("--submit", "--ciphertext", "nope.encrypted", "--alias", "my-enclave-key")
    assert out.returncode == 1
    assert out.stderr == "client: error: cannot read 'nope.encrypted': No such file or directory\n"


def test_enclave_not_running(parent):
    prepared(parent)
    out = parent.client("--submit", "--ciphertext", "string.encrypted", "--alias", "my-enclave-key",
                        "--cid", "99", timeout=30)
    assert out.returncode == 1
    assert out.stderr.startswith("client: error: cannot connect to the enclave (CID 99, port 5000): ")


def test_proxy_not_running(parent):
    prepared(parent)
    parent.stop("proxy")
    try:
        out = parent.client("--submit", "--ciphertext", "string.encrypted", "--alias",
                            "my-enclave-key", timeout=60)
        assert out.returncode == 2
        err = json.loads(out.stdout)["error"]
        assert err.startswith("KMS Error. Decryption Failed. cannot reach the KMS proxy at vsock 3:8000")
    finally:
        parent.start_proxy()


def test_kms_not_running(parent):
    prepared(parent)
    parent.stop("kms")
    try:
        out = parent.client("--prepare", "--values", EXAMPLE / "values.txt", "--alias",
                            "my-enclave-key", timeout=60)
        assert out.returncode == 1
        assert out.stderr.startswith("client: error: KMS request to ")
        assert "Couldn't connect to server" in out.stderr
        out = parent.client("--submit", "--ciphertext", "string.encrypted", "--alias",
                            "my-enclave-key", timeout=60)
        assert out.returncode == 2
        assert "Decryption Failed. KMS request to kms.us-east-1.amazonaws.com failed" in \
            json.loads(out.stdout)["error"]
    finally:
        parent.start_kms()
