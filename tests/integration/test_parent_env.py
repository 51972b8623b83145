# SPDX-License-Identifier: Apache-2.0
"""The parent instance's world for unmodified parent programs: under
`cloister exec` (and with `eval "$(cloister env)"`), code written for EC2
finds the role's credentials in the instance metadata service (also at the
hard-coded 169.254.169.254), and AWS SDKs and CLIs reach cloister-kms with
no endpoint flag: Debian's boto3 1.26 and AWS CLI v2 2.9 (which ignore
AWS_ENDPOINT_URL_KMS) and the newer boto3 and AWS CLI v1 on PATH."""
import base64
import json
import os
import shutil
import subprocess

import pytest

from conftest import BIN_DIR, run
from test_imds import ACCOUNT, INSTANCE, ROLE, imds_server

CLOISTER = BIN_DIR / "cloister"
DEBIAN_PY = "/usr/bin/python3"
DEBIAN_AWS = "/usr/bin/aws"
PATH_PY = shutil.which("python3", path=os.environ.get("PATH", "").replace("/usr/bin:", "", 1))
PATH_AWS = shutil.which("aws")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"

# What the workshop's parent-side client does: the region and the role's
# credentials from the instance metadata service at its EC2 address, then
# boto3's default chain with no endpoint and no credentials configured.
PROGRAM = r'''
import base64, sys
import boto3, requests
md = "http://169.254.169.254/latest"
token = requests.put(md + "/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
                     timeout=5).text
h = {"X-aws-ec2-metadata-token": token}
region = requests.get(md + "/meta-data/placement/region", headers=h, timeout=5).text
role = requests.get(md + "/meta-data/iam/security-credentials/", headers=h, timeout=5).text
creds = requests.get(md + "/meta-data/iam/security-credentials/" + role, headers=h,
                     timeout=5).json()
print(region, role, creds["AccessKeyId"][:4])
kms = boto3.client("kms", region_name=region)
blob = kms.encrypt(KeyId=sys.argv[1], Plaintext=b"1234-5678")["CiphertextBlob"]
print(kms.decrypt(CiphertextBlob=blob)["Plaintext"].decode())
print(boto3.client("sts").get_caller_identity()["Arn"])
'''


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """cloister-kms with its metadata service, a key the instance's role may
    use, and the environment that names the endpoints file."""
    tmp = tmp_path_factory.mktemp("parent")
    srv = imds_server(tmp)
    admin = srv.client()
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Instance", "Effect": "Allow", "Principal": {"AWS": ROLE_ARN},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]}
    key = admin.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    admin.create_alias(AliasName="alias/parent", TargetKeyId=key)
    # nothing of the test's own AWS settings may leak in; HOME without ~/.aws
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"CLOISTER_ENDPOINTS": str(srv.dir / "endpoints.json"), "HOME": str(home),
                "XDG_RUNTIME_DIR": str(tmp / "xdg")})
    (tmp / "xdg").mkdir(mode=0o700)
    yield srv, env, tmp
    srv.stop()


def exec_(env, *cmd, timeout=120):
    p = subprocess.run([str(CLOISTER), "exec", "--", *cmd], capture_output=True, text=True,
                       env=env, timeout=timeout)
    return p


@pytest.mark.parametrize("python", [DEBIAN_PY, PATH_PY])
def test_unmodified_python_program(world, python):
    if not python:
        pytest.skip("no second python3 on PATH")
    srv, env, tmp = world
    prog = tmp / "client.py"
    prog.write_text(PROGRAM)
    p = exec_(env, python, prog, "alias/parent")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"us-east-1 {ROLE} ASIA", "1234-5678",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{INSTANCE}"]
    # without `cloister exec`, the same program cannot reach the address
    bare = subprocess.run([python, str(prog), "alias/parent"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert bare.returncode != 0


@pytest.mark.parametrize("aws", [DEBIAN_AWS, PATH_AWS])
def test_aws_cli_without_endpoint_flag(world, aws):
    if not aws or not os.path.exists(aws) or (aws == PATH_AWS and
                                              os.path.realpath(aws) == DEBIAN_AWS):
        pytest.skip("this AWS CLI is not installed")
    srv, env, tmp = world
    plain = tmp / "plain.txt"
    plain.write_bytes(b"hello")   # fileb://: the same bytes to CLI v1 and v2
    p = exec_(env, aws, "kms", "encrypt", "--key-id", "alias/parent", "--plaintext",
              f"fileb://{plain}", "--query", "CiphertextBlob", "--output", "text")
    assert p.returncode == 0, p.stderr
    blob = tmp / "blob.bin"
    blob.write_bytes(base64.b64decode(p.stdout))
    p = exec_(env, aws, "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}", "--query",
              "Plaintext", "--output", "text")
    assert (p.returncode, p.stdout.strip()) == (0, "aGVsbG8="), p.stderr
    p = exec_(env, aws, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
    assert p.stdout.strip() == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{INSTANCE}", p.stderr
    # an explicit --endpoint-url still wins over the generated rule set
    p = exec_(env, aws, "kms", "list-aliases", "--endpoint-url", "https://127.0.0.1:1",
              "--cli-connect-timeout", "2")
    assert p.returncode != 0 and "https://127.0.0.1:1" in p.stderr


def test_env_for_an_interactive_shell(world):
    srv, env, tmp = world
    p = subprocess.run([str(CLOISTER), "env"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    names = [line.split("=", 1)[0] for line in p.stdout.splitlines()]
    assert names == ["export CLOISTER_ENDPOINTS", "export AWS_REGION", "export AWS_DEFAULT_REGION",
                     "export AWS_ENDPOINT_URL_KMS", "export AWS_ENDPOINT_URL_STS",
                     "export AWS_DATA_PATH", "export AWS_CA_BUNDLE", "export NODE_EXTRA_CA_CERTS",
                     "export AWS_EC2_METADATA_SERVICE_ENDPOINT",
                     "export AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"]
    assert f"export AWS_EC2_METADATA_SERVICE_ENDPOINT='{srv.imds}/';" in p.stdout.splitlines()
    files = tmp / "xdg" / "cloister"
    assert files.stat().st_mode & 0o777 == 0o700
    # a shell that evaluates it runs the AWS CLI with the instance's role
    sh = subprocess.run(["sh", "-c", f'eval "$({CLOISTER} env)" && {DEBIAN_AWS} sts '
                         "get-caller-identity --query Arn --output text"],
                        capture_output=True, text=True, env=env, timeout=60)
    assert sh.stdout.strip() == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{INSTANCE}", sh.stderr
    # a caller's own AWS_DATA_PATH stays, after Cloister's
    p = subprocess.run([str(CLOISTER), "env"], capture_output=True, text=True,
                       env={**env, "AWS_DATA_PATH": "/opt/mine"}, timeout=30)
    line = [x for x in p.stdout.splitlines() if x.startswith("export AWS_DATA_PATH=")][0]
    assert line.endswith("/aws-data:/opt/mine';")


def test_nested_exec(world):
    """A `cloister exec` under another only runs its command (the kernel
    allows one supervisor per process tree), in the world already set."""
    srv, env, tmp = world
    p = exec_(env, str(CLOISTER), "exec", "--", DEBIAN_AWS, "sts", "get-caller-identity",
              "--query", "Arn", "--output", "text")
    assert (p.returncode, p.stdout.strip()) == (
        0, f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{INSTANCE}"), p.stderr


def test_ipv6_metadata_address(world):
    """EC2's IPv6 metadata address, [fd00:ec2::254]:80, is led there too."""
    srv, env, tmp = world
    code = ("import socket\ns = socket.socket(socket.AF_INET6)\ns.settimeout(5)\n"
            "s.connect(('fd00:ec2::254', 80))\n"
            "s.sendall(b'GET /latest/meta-data/instance-id HTTP/1.0\\r\\n\\r\\n')\n"
            "data = b''\nwhile True:\n    b = s.recv(4096)\n    if not b: break\n    data += b\n"
            "print(data.split(b'\\r\\n\\r\\n', 1)[1].decode())\n")
    p = exec_(env, DEBIAN_PY, "-c", code)
    assert (p.returncode, p.stdout.strip()) == (0, INSTANCE), p.stderr


def test_refused_endpoints(world, tmp_path):
    srv, env, tmp = world
    missing = tmp_path / "none.json"
    p = exec_({**env, "CLOISTER_ENDPOINTS": str(missing)}, "true")
    assert (p.returncode, p.stderr) == (
        19, f"[ E19 ] File operation failure. cannot open '{missing}': No such file or directory\n")
    bad = tmp_path / "bad.json"
    bad.write_text('{"Region": "us-east-1", "KmsEndpoint": "ftp://x", "StsEndpoint": "https://x"}')
    for cmd in (["exec", "--", "true"], ["env"]):
        p = subprocess.run([str(CLOISTER), *cmd], capture_output=True, text=True,
                           env={**env, "CLOISTER_ENDPOINTS": str(bad)}, timeout=30)
        assert (p.returncode, p.stderr) == (
            19, f"[ E19 ] File operation failure. {bad}: KmsEndpoint must be an http(s) URL\n")
    # the generated files live only in a directory private to the user
    shared = tmp_path / "xdg"
    shared.mkdir(mode=0o755)
    (shared / "cloister").mkdir(mode=0o755)
    p = exec_({**env, "XDG_RUNTIME_DIR": str(shared)}, "true")
    assert (p.returncode, p.stderr) == (
        19, f"[ E19 ] File operation failure. {shared}/cloister is not a private directory of "
            f"this user (owner {os.getuid()}, mode 755)\n")
    # a shared XDG_RUNTIME_DIR is passed over for /tmp/cloister-<uid>
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    p = exec_({**env, "XDG_RUNTIME_DIR": str(open_dir)}, "sh", "-c", "echo $AWS_DATA_PATH")
    assert (p.returncode, p.stdout.startswith(f"/tmp/cloister-{os.getuid()}/")) == (0, True), p.stderr
    # the metadata endpoint must be a numeric http address
    e = json.loads((srv.dir / "endpoints.json").read_text())
    e["ImdsEndpoint"] = "http://localhost:8080"
    named = tmp_path / "named.json"
    named.write_text(json.dumps(e))
    p = exec_({**env, "CLOISTER_ENDPOINTS": str(named)}, "true")
    assert (p.returncode, p.stderr) == (
        19, f"[ E19 ] File operation failure. {named}: ImdsEndpoint must be "
            "http://NUMERIC-ADDRESS[:PORT], not 'http://localhost:8080'\n")
    p = subprocess.run([str(CLOISTER), "env", "--shell"], capture_output=True, text=True,
                       env=env, timeout=30)
    assert p.returncode == 3
    assert p.stderr.startswith("[ E03 ] Invalid argument provided. unexpected argument '--shell'")


def test_blocking_redirect_holds_up_nobody(world, tmp_path):
    """A blocking connect to the metadata address whose service does not
    answer (its accept queue is full) waits on a thread of its own: the
    program's other calls, served by the same supervisor, go on."""
    import socket
    srv, env, tmp = world
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    for _ in range(2):   # Linux queues backlog + 1 connections, then drops SYNs
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(full.getsockname())
        fillers.append(f)
    e = json.loads((srv.dir / "endpoints.json").read_text())
    e["ImdsEndpoint"] = "http://127.0.0.1:%d" % full.getsockname()[1]
    stalled = tmp_path / "endpoints.json"
    stalled.write_text(json.dumps(e))
    code = ("import os, socket, threading\n"
            "def stuck():\n"
            "    socket.create_connection(('169.254.169.254', 80))\n"
            "threading.Thread(target=stuck, daemon=True).start()\n"
            "import time; time.sleep(0.5)\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); print('bound', s.getsockname()[0])\n"
            "os._exit(0)\n")
    p = exec_({**env, "CLOISTER_ENDPOINTS": str(stalled)}, DEBIAN_PY, "-c", code, timeout=60)
    assert (p.returncode, p.stdout) == (0, "bound 127.0.0.1\n"), p.stderr
    for f in fillers:
        f.close()
    full.close()


def test_blocking_redirect(world):
    """A blocking socket (no timeout) is redirected as well."""
    srv, env, tmp = world
    code = ("import socket\ns = socket.socket()\ns.connect(('169.254.169.254', 80))\n"
            "s.sendall(b'GET /latest/meta-data/instance-id HTTP/1.0\\r\\n\\r\\n')\n"
            "data = b''\nwhile True:\n    b = s.recv(4096)\n    if not b: break\n    data += b\n"
            "print(data.split(b'\\r\\n\\r\\n', 1)[1].decode())\n")
    p = exec_(env, DEBIAN_PY, "-c", code)
    assert (p.returncode, p.stdout.strip()) == (0, INSTANCE), p.stderr
