# SPDX-License-Identifier: Apache-2.0
"""cloister-kmstool inside real Cloister enclaves, through
cloister-vsock-proxy and cloister-kms, plus scripts/rootfs-add-program.sh
and kmstool's flag errors.

The image holds cloister-kmstool and a small driver (tests/programs/
kmstool_driver.c), each with its libraries (rootfs-add-program.sh), and the
key service's CA as the image's trust store
(/etc/ssl/certs/ca-certificates.crt), so kmstool runs with its defaults:
host kms.us-east-1.amazonaws.com (a name cloister-kms's certificate
carries), proxy vsock 3:8000. The driver listens on vsock 5000 and runs
the argv the test sends, answering exit status, stdout and stderr, so one
production and one debug enclave of the same image serve every test.

Between the proxy and cloister-kms sits a recording TCP relay: the tests
assert that the bytes crossing the parent are TLS records and never carry
a plaintext, in raw form or in base64."""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR, BUILD_DIR, SOURCE_DIR, run
from kmsserver import KmsServer
from test_runtime import Runtime, vsock_exec

KMSTOOL = BIN_DIR / "cloister-kmstool"
PROXY = BIN_DIR / "cloister-vsock-proxy"
DRIVER = BUILD_DIR / "tests" / "programs" / "kmstool_driver"
ADD = SOURCE_DIR / "scripts" / "rootfs-add-program.sh"
DRIVER_PORT = 5000
ERR = "cloister-kmstool: error: "

def b64(data):
    return base64.b64encode(data).decode()


# --------------------------------------------------------------------------
# a recording TCP relay (the parent's view of the traffic)

class Relay:
    """127.0.0.1:port -> 127.0.0.1:dest; records each connection's bytes."""

    def __init__(self, dest_port):
        self.dest = dest_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []   # [{"up": bytearray, "down": bytearray}]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            rec = {"up": bytearray(), "down": bytearray()}
            with self.lock:
                self.conns.append(rec)
            s = socket.create_connection(("127.0.0.1", self.dest))
            threading.Thread(target=self._pump, args=(c, s, rec["up"]), daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, rec["down"]), daemon=True).start()

    def _pump(self, a, b, record):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                with self.lock:
                    record.extend(d)
                b.sendall(d)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def take(self):
        """The connections recorded since the last take()."""
        with self.lock:
            out, self.conns = self.conns, []
        return out

    def close(self):
        self.sock.close()


def assert_only_tls(conns, *secrets):
    """Every recorded connection starts with a TLS handshake record in both
    directions, and no secret crosses, raw or in base64 (any alignment)."""
    assert conns, "nothing crossed the relay"
    needles = []
    for s in secrets:
        needles.append(s)
        for shift in range(3):
            # base64 of the secret starting at any offset inside a longer blob
            enc = base64.b64encode(b"\0" * shift + s)[4:-4]
            needles.append(enc)
            needles.append(enc.decode().encode())
    for rec in conns:
        up, down = bytes(rec["up"]), bytes(rec["down"])
        # TLS record: content type 22 (handshake), version 3.x; ClientHello = 1
        assert up[0] == 0x16 and up[1] == 0x03 and up[5] == 0x01, up[:16].hex()
        assert down[0] == 0x16 and down[1] == 0x03 and down[5] == 0x02, down[:16].hex()
        for n in needles:
            assert n not in up and n not in down, n


# --------------------------------------------------------------------------
# the world: attestation CA, runtime, key service, relay, proxy, enclaves

def build_kmstool_image(tmp, ca_pem, other_ca_pem, name="kmstool"):
    root = Path(tmp) / f"{name}-root"
    root.mkdir()
    run([ADD, root, KMSTOOL], check=True)
    run([ADD, root, DRIVER, "/bin/driver"], check=True)
    certs = root / "etc" / "ssl" / "certs"
    certs.mkdir(parents=True)
    shutil.copy(ca_pem, certs / "ca-certificates.crt")
    shutil.copy(other_ca_pem, root / "etc" / "other-ca.pem")   # a CA that is not the key service's
    eif = Path(tmp) / f"{name}.eif"
    p = run([BIN_DIR / "cloister", "build-enclave", "--rootfs", root, "--cmd",
             json.dumps(["/bin/driver", str(DRIVER_PORT)]), "--output-file", eif], check=True,
            timeout=300)
    return eif, json.loads(p.stdout)["Measurements"]["PCR0"]


ENCLAVE_CLIENT = r"""
import json, socket, sys, time
cid, port = int(sys.argv[1]), int(sys.argv[2])
argv = json.loads(sys.stdin.read())
for attempt in range(600):
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    try:
        s.connect((cid, port))
        break
    except OSError:
        s.close()
        time.sleep(0.1)
else:
    sys.exit("the enclave's driver never answered")
s.sendall(b"".join(a.encode() + b"\0" for a in argv))
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.buffer.write(data)
"""


def parse_reply(data):
    m = re.match(rb"EXIT (\d+)\nSTDOUT (\d+)\n", data)
    assert m, data[:200]
    rest = data[m.end():]
    n = int(m.group(2))
    out, rest = rest[:n], rest[n:]
    m2 = re.match(rb"STDERR (\d+)\n", rest)
    assert m2, rest[:200]
    err = rest[m2.end():]
    assert len(err) == int(m2.group(1))
    return int(m.group(1)), out.decode(), err.decode()


class World:
    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.rt = Runtime(self.tmp)
        self.srv = KmsServer(self.tmp / "kms", args=["--trust-root", str(self.rt.ca_dir / "root.pem")])
        self.kms = self.srv.client()
        self.relay = Relay(self.srv.port)
        allow = self.tmp / "allow.yaml"
        allow.write_text(f"allowlist:\n- {{address: 127.0.0.1, port: {self.relay.port}}}\n")
        self.proxy_log = open(self.tmp / "proxy.log", "w+")
        self.proxy = subprocess.Popen(
            [str(PROXY), "8000", "127.0.0.1", str(self.relay.port), "--config", str(allow)],
            env={**os.environ, **self.rt.env}, stdout=subprocess.DEVNULL, stderr=self.proxy_log)
        sock = self.rt.run_dir / "vsock" / "3" / "8000"
        for _ in range(200):
            if sock.exists():
                break
            assert self.proxy.poll() is None, (self.tmp / "proxy.log").read_text()
            time.sleep(0.05)
        self.eif, self.pcr0 = build_kmstool_image(self.tmp, self.srv.ca, self.rt.ca_dir / "root.pem")
        self.prod, _ = self.rt.run_enclave(self.eif, memory="256")
        self.debug, _ = self.rt.run_enclave(self.eif, "--debug-mode", memory="256")
        self.setup_principals()

    def setup_principals(self):
        acct = self.srv.account
        other = "ab" * 48

        def random_policy(pcr0):
            return {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "kms:GenerateRandom", "Resource": "*",
                 "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR0": pcr0}}}]}
        # long-term keys of a user whose identity policy lets an enclave with
        # this image's PCR0 (written in upper case: the condition ignores case)
        # ask for random bytes; another user is tied to a different PCR0.
        u = self.srv.principal("enclave-app", policy=random_policy(self.pcr0.upper()))
        self.user_arn, self.creds = u["Arn"], (u["AccessKeyId"], u["SecretAccessKey"])
        w = self.srv.principal("wrong-image", policy=random_policy(other))
        self.wrong_creds = (w["AccessKeyId"], w["SecretAccessKey"])
        # a role, used through a session token
        self.srv.principal("enclave-role", role=True)
        sess = self.srv.session("enclave-role")
        c = sess["Credentials"]
        self.role_arn = sess["AssumedRoleUser"]["Arn"].rsplit("/", 1)[0].replace(
            ":sts::", ":iam::").replace(":assumed-role/", ":role/")
        self.session = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

        def key_policy(pcr0):
            return json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                 "Action": "kms:*", "Resource": "*"},
                {"Sid": "Enclave", "Effect": "Allow",
                 "Principal": {"AWS": [self.user_arn, self.role_arn]},
                 "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
                 "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR0": pcr0}}}]})
        self.key = self.kms.create_key(Policy=key_policy(self.pcr0.upper()))["KeyMetadata"]["KeyId"]
        self.other_key = self.kms.create_key(Policy=key_policy(other))["KeyMetadata"]["KeyId"]

    def enclave(self, info, *args, creds=None, token=None):
        """Runs cloister-kmstool ARGS in the enclave; (exit, stdout, stderr)."""
        ak, sk = (creds or self.creds)[:2]
        argv = ["/bin/cloister-kmstool", *args, "--aws-access-key-id", ak, "--aws-secret-access-key", sk]
        if token:
            argv += ["--aws-session-token", token]
        return self.exec(info, argv)

    def exec(self, info, argv):
        p = subprocess.run(vsock_exec("/usr/bin/python3", "-c", ENCLAVE_CLIENT, info["EnclaveCID"],
                                      DRIVER_PORT), input=json.dumps(argv).encode(),
                           capture_output=True, env={**os.environ, **self.rt.env}, timeout=180)
        assert p.returncode == 0, p.stderr
        return parse_reply(p.stdout)

    def close(self):
        """Stops whatever was started, also after a set-up that failed half-way."""
        if getattr(self, "rt", None):
            self.rt.cleanup()
        proxy = getattr(self, "proxy", None)
        if proxy and proxy.poll() is None:
            proxy.terminate()
            try:
                proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait()
        if getattr(self, "proxy_log", None):
            self.proxy_log.close()
        if getattr(self, "relay", None):
            self.relay.close()
        if getattr(self, "srv", None):
            self.srv.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if os.geteuid() != 0 or not (BIN_DIR / "cloister-monitor").exists():
        pytest.skip("enclaves need root and cloister-monitor")
    w = World.__new__(World)
    try:
        w.__init__(tmp_path_factory.mktemp("kmstool"))
        yield w
    finally:
        w.close()


def encrypt(world, secret, key=None):
    return b64(world.kms.encrypt(KeyId=key or world.key, Plaintext=secret)["CiphertextBlob"])


def denied(world, action, key=None, user="user/enclave-app"):
    """kmstool's whole output when cloister-kms refuses: exit 1, nothing on
    stdout, the AWS error type and message on stderr."""
    acct, region = world.srv.account, world.srv.region
    if key:
        why = (f"on resource: arn:aws:kms:{region}:{acct}:key/{key} because no resource-based "
               "policy")
    else:  # a key-less operation, in AWS's words
        why = "because no identity-based policy"
    return (1, "", f"{ERR}AccessDeniedException: User: arn:aws:iam::{acct}:{user} is not authorized "
                   f"to perform: {action} {why} allows the {action} action\n")


# --------------------------------------------------------------------------
# decrypt

def test_decrypt_when_pcr0_matches_and_only_tls_crosses(world):
    secret = b"4111-1111-1111-1111 " + os.urandom(8).hex().encode()
    ct = encrypt(world, secret)
    world.relay.take()
    rc, out, err = world.enclave(world.prod, "decrypt", "--ciphertext", ct)
    assert (rc, out) == (0, f"PLAINTEXT: {b64(secret)}\n"), err
    assert_only_tls(world.relay.take(), secret)


def test_decrypt_with_session_token_key_id_and_algorithm(world):
    secret = os.urandom(24)
    ct = encrypt(world, secret)
    ak, sk, token = world.session
    rc, out, err = world.enclave(world.prod, "decrypt", "--ciphertext", ct, "--key-id", world.key,
                                 "--encryption-algorithm", "SYMMETRIC_DEFAULT", "--region", "us-east-1",
                                 "--proxy-port", "8000", creds=(ak, sk), token=token)
    assert (rc, out) == (0, f"PLAINTEXT: {b64(secret)}\n"), err


def test_decrypt_denied_when_pcr0_differs(world):
    secret = b"never leaves " + os.urandom(8).hex().encode()
    ct = encrypt(world, secret, key=world.other_key)
    world.relay.take()
    got = world.enclave(world.prod, "decrypt", "--ciphertext", ct)
    assert got == denied(world, "kms:Decrypt", world.other_key)
    assert_only_tls(world.relay.take(), secret)


def test_decrypt_denied_in_debug_mode(world):
    secret = b"debug enclaves have zero PCRs " + os.urandom(4).hex().encode()
    ct = encrypt(world, secret)
    world.relay.take()
    got = world.enclave(world.debug, "decrypt", "--ciphertext", ct)
    assert got == denied(world, "kms:Decrypt", world.key)
    assert_only_tls(world.relay.take(), secret)


def test_the_parent_itself_cannot_decrypt_for_the_enclave_user(world):
    """Without a Recipient (no attestation) the condition key is missing: denied."""
    from botocore.exceptions import ClientError
    ct = encrypt(world, b"x")
    c = world.srv.client(creds=world.creds)
    with pytest.raises(ClientError) as e:
        c.decrypt(CiphertextBlob=base64.b64decode(ct))
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


# --------------------------------------------------------------------------
# genkey

@pytest.mark.parametrize("spec,size", [("AES-256", 32), ("AES-128", 16)])
def test_genkey_when_pcr0_matches(world, spec, size):
    world.relay.take()
    rc, out, err = world.enclave(world.prod, "genkey", "--key-id", world.key, "--key-spec", spec)
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("CIPHERTEXT: ") and lines[1].startswith("PLAINTEXT: ")
    ct = base64.b64decode(lines[0][len("CIPHERTEXT: "):], validate=True)
    key = base64.b64decode(lines[1][len("PLAINTEXT: "):], validate=True)
    assert len(key) == size
    # the data key is the one KMS wrapped: the key's administrator unwraps it
    assert world.kms.decrypt(CiphertextBlob=ct)["Plaintext"] == key
    assert_only_tls(world.relay.take(), key)


def test_genkey_with_session_token(world):
    ak, sk, token = world.session
    rc, out, err = world.enclave(world.prod, "genkey", "--key-id", world.key, "--key-spec", "AES-256",
                                 creds=(ak, sk), token=token)
    assert rc == 0 and out.startswith("CIPHERTEXT: "), err


def test_genkey_denied_when_pcr0_differs(world):
    got = world.enclave(world.prod, "genkey", "--key-id", world.other_key, "--key-spec", "AES-256")
    assert got == denied(world, "kms:GenerateDataKey", world.other_key)


def test_genkey_denied_in_debug_mode(world):
    got = world.enclave(world.debug, "genkey", "--key-id", world.key, "--key-spec", "AES-256")
    assert got == denied(world, "kms:GenerateDataKey", world.key)


def test_genkey_unknown_key(world):
    rc, out, err = world.enclave(world.prod, "genkey", "--key-id", "alias/missing", "--key-spec", "AES-256")
    assert (rc, out, err) == (1, "", f"{ERR}NotFoundException: Alias arn:aws:kms:us-east-1:"
                                     f"{world.srv.account}:alias/missing is not found.\n")


# --------------------------------------------------------------------------
# derive-shared-secret (kmstool_enclave_cli has none: docs/kmstool.md)

def agreement_key(world, spec="ECC_NIST_P256"):
    """A KEY_AGREEMENT key the enclave user may derive with when attested with this image's PCR0."""
    acct = world.srv.account
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Enclave", "Effect": "Allow", "Principal": {"AWS": world.user_arn},
         "Action": "kms:DeriveSharedSecret", "Resource": "*",
         "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR0": world.pcr0}}}]})
    status, text = world.srv.signed("TrentService.CreateKey", {"KeySpec": spec, "KeyUsage": "KEY_AGREEMENT",
                                                               "Policy": policy})
    assert status == 200, text
    return json.loads(text)["KeyMetadata"]["KeyId"]


def p256_spki_b64():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    return b64(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def test_derive_shared_secret_when_pcr0_matches(world):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    for spec, curve in (("ECC_NIST_P256", ec.SECP256R1), ("ECC_NIST_P521", ec.SECP521R1)):
        key = agreement_key(world, spec)
        mine = ec.generate_private_key(curve())
        spki = mine.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        world.relay.take()
        rc, out, err = world.enclave(world.prod, "derive-shared-secret", "--key-id", key, "--public-key", b64(spki))
        assert rc == 0, err
        m = re.fullmatch(r"SHARED_SECRET: (\S+)\n", out)
        assert m, out
        secret = base64.b64decode(m.group(1), validate=True)
        # the same secret as ECDH done here with the KMS key's public key
        theirs = serialization.load_der_public_key(world.kms.get_public_key(KeyId=key)["PublicKey"])
        assert secret == mine.exchange(ec.ECDH(), theirs)
        assert_only_tls(world.relay.take(), secret)


def test_derive_shared_secret_denied_in_debug_mode(world):
    key = agreement_key(world)
    got = world.enclave(world.debug, "derive-shared-secret", "--key-id", key, "--public-key",
                        p256_spki_b64())
    assert got == denied(world, "kms:DeriveSharedSecret", key)


def test_derive_shared_secret_bad_peer_key(world):
    key = agreement_key(world, "ECC_NIST_P384")
    # a P-256 key for a P-384 KMS key: the service's refusal, word for word
    rc, out, err = world.enclave(world.prod, "derive-shared-secret", "--key-id", key, "--public-key",
                                 p256_spki_b64())
    assert (rc, out, err) == (1, "", f"{ERR}ValidationException: PublicKey is not on the curve of key spec "
                                     "ECC_NIST_P384; the peer's key pair must use the same curve as the KMS key.\n")


# --------------------------------------------------------------------------
# genrandom

def test_genrandom_when_pcr0_matches(world):
    world.relay.take()
    rc, out, err = world.enclave(world.prod, "genrandom", "--length", "48")
    assert rc == 0, err
    m = re.fullmatch(r"PLAINTEXT: (\S+)\n", out)
    assert m, out
    data = base64.b64decode(m.group(1), validate=True)
    assert len(data) == 48
    assert_only_tls(world.relay.take(), data)


def test_genrandom_bounds(world):
    for n in ("1", "1024"):
        rc, out, err = world.enclave(world.prod, "genrandom", "--length", n)
        assert rc == 0, err
        assert len(base64.b64decode(out.split(" ", 1)[1])) == int(n)


def test_genrandom_denied_when_pcr0_differs(world):
    got = world.enclave(world.prod, "genrandom", "--length", "32", creds=world.wrong_creds)
    assert got == denied(world, "kms:GenerateRandom", user="user/wrong-image")


def test_genrandom_denied_in_debug_mode(world):
    got = world.enclave(world.debug, "genrandom", "--length", "32")
    assert got == denied(world, "kms:GenerateRandom")


# --------------------------------------------------------------------------
# kmstool's errors inside the enclave

def test_wrong_ca_bundle(world):
    """A bundle of another authority: the key service's certificate does not verify."""
    rc, out, err = world.enclave(world.prod, "genrandom", "--length", "8", "--ca-bundle", "/etc/other-ca.pem")
    assert (rc, out) == (1, "")
    assert err == ERR + "KMS request to kms.us-east-1.amazonaws.com failed: " \
                        "SSL peer certificate or SSH remote key was not OK\n"


def test_ca_bundle_that_is_no_bundle(world):
    for path in ("/bin/driver", "/etc/missing.pem"):
        rc, out, err = world.enclave(world.prod, "genrandom", "--length", "8", "--ca-bundle", path)
        assert (rc, out) == (1, "")
        assert err == ERR + "KMS request to kms.us-east-1.amazonaws.com failed: " \
                            "Problem with the SSL CA cert (path? access rights?)\n"


def test_endpoint_name_not_in_the_certificate(world):
    rc, out, err = world.enclave(world.prod, "genrandom", "--length", "8", "--endpoint", "kms.example.com")
    assert (rc, out) == (1, "")
    assert err == ERR + "KMS request to kms.example.com failed: " \
                        "SSL peer certificate or SSH remote key was not OK\n"


def test_endpoint_override_by_address(world):
    """--endpoint sets the TLS name (and Host): the certificate also names 127.0.0.1."""
    rc, out, err = world.enclave(world.prod, "genrandom", "--length", "8", "--endpoint", "127.0.0.1:443")
    assert rc == 0 and out.startswith("PLAINTEXT: "), err


def test_proxy_not_running(world):
    rc, out, err = world.enclave(world.prod, "genrandom", "--length", "8", "--proxy-port", "8999")
    assert (rc, out, err) == (1, "", ERR + "cannot reach the KMS proxy at vsock 3:8999: vsock connect "
                              "to (3, 8999): nothing listens at that address: Connection reset by peer\n")


def test_bad_credentials(world):
    rc, out, err = world.enclave(world.prod, "genrandom", "--length", "8",
                                 creds=("AKIAAAAAAAAAAAAAAAAA", "nope"))
    assert (rc, out, err) == (1, "", ERR + "UnrecognizedClientException: The security token included "
                              "in the request is invalid.\n")


# --------------------------------------------------------------------------
# flags (on the host: they fail before any connection)

def kmstool(*args):
    return run([KMSTOOL, *args])


KEYS = ["--aws-access-key-id", "AKIAEXAMPLE", "--aws-secret-access-key", "secret"]


@pytest.mark.parametrize("args,stderr", [
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["decrypt", *KEYS], "decrypt needs --ciphertext"),
    (["decrypt", "--ciphertext", "AAAA"], "--aws-access-key-id and --aws-secret-access-key are required"),
    (["decrypt", "--ciphertext", "AAAA", "--aws-access-key-id", "A"],
     "--aws-access-key-id and --aws-secret-access-key are required"),
    (["decrypt", *KEYS, "--ciphertext", "AAAA", "--key-id", "k"],
     "--key-id and --encryption-algorithm go together"),
    (["decrypt", *KEYS, "--ciphertext", "AAAA", "stray"], "unexpected argument 'stray'"),
    (["decrypt", *KEYS, "--ciphertext", "not base64!"], None),
    (["genkey", *KEYS, "--key-id", "k"], "genkey needs --key-id and --key-spec"),
    (["genkey", *KEYS, "--key-spec", "AES-256"], "genkey needs --key-id and --key-spec"),
    (["genkey", *KEYS, "--key-id", "k", "--key-spec", "AES_256"],
     "invalid --key-spec 'AES_256' (AES-256 or AES-128)"),
    (["genrandom", *KEYS], "genrandom needs --length from 1 to 1024"),
    (["derive-shared-secret", *KEYS, "--key-id", "k"], "derive-shared-secret needs --key-id and --public-key"),
    (["derive-shared-secret", *KEYS, "--public-key", "AAAA"],
     "derive-shared-secret needs --key-id and --public-key"),
    (["derive-shared-secret", *KEYS, "--key-id", "k", "--public-key", "not base64!"],
     "--public-key: neither a readable PEM or DER public key file nor base64 of a DER SubjectPublicKeyInfo"),
    (["derive-shared-secret", *KEYS, "--key-id", "k", "--public-key", "AAAA"],
     "--public-key: neither a readable PEM or DER public key file nor base64 of a DER SubjectPublicKeyInfo"),
    (["genrandom", *KEYS, "--length", "0"], "genrandom needs --length from 1 to 1024"),
    (["genrandom", *KEYS, "--length", "1025"], "genrandom needs --length from 1 to 1024"),
    (["genrandom", *KEYS, "--length", "12x"], "genrandom needs --length from 1 to 1024"),
    (["genrandom", *KEYS, "--length", "+8"], "genrandom needs --length from 1 to 1024"),
    (["genrandom", *KEYS, "--length", " 8"], "genrandom needs --length from 1 to 1024"),
    (["genrandom", *KEYS, "--length", "8", "--proxy-port", "0"], "invalid --proxy-port '0'"),
    (["genrandom", *KEYS, "--length", "8", "--proxy-port", "x"], "invalid --proxy-port 'x'"),
    # digits only: strtoul() took a sign and wrapped -4294967295 to port 1
    (["genrandom", *KEYS, "--length", "8", "--proxy-port", "-4294967295"],
     "invalid --proxy-port '-4294967295'"),
    (["genrandom", *KEYS, "--length", "8", "--proxy-port", "+8000"], "invalid --proxy-port '+8000'"),
    (["genrandom", *KEYS, "--length", "8", "--proxy-port", " 8000"], "invalid --proxy-port ' 8000'"),
    (["genrandom", *KEYS, "--length", "8", "--proxy-port", "4294967296"],
     "invalid --proxy-port '4294967296'"),
    (["genrandom", *KEYS, "--length", "8", "--region", "US East"], "invalid region 'US East'"),
    (["genrandom", *KEYS, "--length", "8", "--endpoint", "kms.local:99999"],
     "invalid endpoint 'kms.local:99999'"),
])
def test_bad_flags(args, stderr):
    p = kmstool(*args)
    assert (p.returncode, p.stdout) == (1, "")
    if stderr is None:
        assert p.stderr.startswith(ERR + "--ciphertext: "), p.stderr
    else:
        assert p.stderr.endswith(ERR + stderr + "\n"), p.stderr
        assert p.stderr.count(ERR) == 1


def test_unknown_option_and_usage():
    p = kmstool("genrandom", "--lenght", "8")
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.startswith("usage: cloister-kmstool ")
    assert p.stderr.endswith(ERR + "unknown option '--lenght'\n")
    p = kmstool("genrandom", "--length")
    assert p.returncode == 1 and p.stderr.endswith(ERR + "option '--length' needs a value\n")
    p = kmstool("genrandom", "-x")
    assert p.returncode == 1 and p.stderr.endswith(ERR + "unknown option '-x'\n")
    p = kmstool()
    assert p.returncode == 1 and p.stderr.startswith(
        "usage: cloister-kmstool <decrypt|genkey|genrandom|derive-shared-secret>")
    p = kmstool("--help")
    assert p.returncode == 0 and p.stdout.startswith(
        "usage: cloister-kmstool <decrypt|genkey|genrandom|derive-shared-secret>")


def test_derive_shared_secret_public_key_forms(tmp_path):
    """--public-key takes a PEM file, a DER file or base64 DER: each parses on the host, where
    the next step, asking the NSM for a document, fails; garbage in a file is refused first."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    pub = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "peer.pem").write_bytes(pub.public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "peer.der").write_bytes(der)
    (tmp_path / "junk").write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    env = {**os.environ, "CLOISTER_NSM_DEVICE": str(tmp_path / "no-nsm")}
    for form in (str(tmp_path / "peer.pem"), str(tmp_path / "peer.der"), b64(der)):
        p = run([KMSTOOL, "derive-shared-secret", *KEYS, "--key-id", "k", "--public-key", form], env=env)
        assert (p.returncode, p.stdout, p.stderr) == (1, "", ERR + "cannot open the Nitro Secure Module\n")
    p = run([KMSTOOL, "derive-shared-secret", *KEYS, "--key-id", "k", "--public-key", str(tmp_path / "junk")],
            env=env)
    assert (p.returncode, p.stdout) == (1, "")
    assert p.stderr == (ERR + "--public-key: neither a readable PEM or DER public key file nor base64 of a DER "
                        "SubjectPublicKeyInfo\n")


# --------------------------------------------------------------------------
# scripts/rootfs-add-program.sh

def test_add_program_copies_loader_and_libraries(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    run([ADD, root, KMSTOOL], check=True)
    assert (root / "bin" / "cloister-kmstool").read_bytes() == KMSTOOL.read_bytes()
    assert os.access(root / "bin" / "cloister-kmstool", os.X_OK)
    libs = re.findall(r"(/\S+) \(0x", run(["ldd", KMSTOOL], check=True).stdout)
    assert any("ld-linux" in lib for lib in libs) and any("libcurl" in lib for lib in libs)
    for lib in libs:
        copied = root / lib.lstrip("/")
        assert copied.is_file() and not copied.is_symlink(), lib
        assert copied.read_bytes() == Path(os.path.realpath(lib)).read_bytes()
    # the program runs from the root alone
    p = run(["chroot", root, "/bin/cloister-kmstool", "--help"]) if os.geteuid() == 0 else None
    if p is not None:
        assert p.returncode == 0 and p.stdout.startswith("usage: cloister-kmstool"), p.stderr


def test_add_program_destination_and_existing_files(tmp_path):
    root = tmp_path / "root"
    (root / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
    keep = root / "lib" / "x86_64-linux-gnu" / "libc.so.6"
    keep.write_text("the image's own libc")
    run([ADD, root, KMSTOOL, "/usr/local/bin/kt"], check=True)
    assert (root / "usr" / "local" / "bin" / "kt").is_file()
    assert not (root / "bin").exists()
    assert keep.read_text() == "the image's own libc"   # present files are left alone


def test_add_program_static(tmp_path):
    init = BUILD_DIR / "share" / "cloister" / "blobs" / "init"
    if not init.exists():
        pytest.skip("no static init blob built")
    root = tmp_path / "root"
    root.mkdir()
    run([ADD, root, init, "/init"], check=True)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == ["init"]


def test_add_program_missing_library(tmp_path):
    lib = tmp_path / "libgone.so"
    src = tmp_path / "gone.c"
    src.write_text("int gone(void) { return 7; }\n")
    run(["cc", "-shared", "-fPIC", "-o", lib, src], check=True)
    main = tmp_path / "main.c"
    main.write_text("int gone(void);\nint main(void) { return gone(); }\n")
    prog = tmp_path / "needs-gone"
    run(["cc", "-o", prog, main, "-L", tmp_path, "-lgone"], check=True)
    lib.unlink()
    root = tmp_path / "root"
    root.mkdir()
    p = run([ADD, root, prog])
    assert p.returncode == 1
    assert p.stderr == (f"rootfs-add-program.sh: error: {prog} needs libraries that are not "
                        "installed: libgone.so\n")


@pytest.mark.parametrize("args,code,stderr", [
    ([], 2, "usage: rootfs-add-program.sh ROOTFS PROGRAM [DEST]\n"),
    (["{root}"], 2, "usage: rootfs-add-program.sh ROOTFS PROGRAM [DEST]\n"),
    (["{root}", "{kmstool}", "/a", "extra"], 2, "usage: rootfs-add-program.sh ROOTFS PROGRAM [DEST]\n"),
    (["{tmp}/nope", "{kmstool}"], 1, "rootfs-add-program.sh: error: '{tmp}/nope' is not a directory\n"),
    (["{root}", "{tmp}/nope"], 1, "rootfs-add-program.sh: error: '{tmp}/nope' is not a file\n"),
    (["{root}", "{tmp}/plain"], 1, "rootfs-add-program.sh: error: '{tmp}/plain' is not executable\n"),
    (["{root}", "{kmstool}", "bin/kt"], 1,
     "rootfs-add-program.sh: error: the destination 'bin/kt' must be an absolute path inside the root\n"),
    (["{root}", "{kmstool}", "/bin/../../kt"], 1,
     "rootfs-add-program.sh: error: the destination '/bin/../../kt' must not contain '..'\n"),
])
def test_add_program_errors(tmp_path, args, code, stderr):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "plain").write_text("data")
    fmt = {"root": root, "tmp": tmp_path, "kmstool": KMSTOOL}
    p = run([ADD, *[a.format(**fmt) for a in args]])
    assert (p.returncode, p.stderr) == (code, stderr.format(**fmt))
    assert list(root.iterdir()) == []
