# SPDX-License-Identifier: Apache-2.0
"""A real cloister-kms for the key service's integration tests: started on a
free 127.0.0.1 port (the server binds port 0 and prints the one it got) with
its own temporary data directory, and clients for it (boto3, raw signed
requests). Used by tests/integration/test_kms*.py."""
import configparser
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.config import Config

from conftest import BIN_DIR

KMS = BIN_DIR / "cloister-kms"
LISTEN_RE = re.compile(r"listening on (https?)://127\.0\.0\.1:(\d+) \(region (\S+), account (\d+),")
IMDS_RE = re.compile(r"^cloister-kms: instance metadata on (http://127\.0\.0\.1:\d+) ")


class KmsServer:
    def __init__(self, data_dir, http=False, args=(), env=None):
        self.dir = Path(data_dir)
        self.http = http
        self.args = list(args)
        self.env = env
        self.proc = None
        self.imds = None
        self.start()

    def start(self):
        cmd = [str(KMS), "serve", "--data-dir", str(self.dir), "--listen", "127.0.0.1:0"]
        if self.http:
            cmd.append("--http")
        cmd += self.args
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.dir.parent / (self.dir.name + ".stderr"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, **(self.env or {})})
        line = self.proc.stdout.readline()
        m = LISTEN_RE.search(line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"cloister-kms did not start: {line!r} "
                                 f"{(self.dir.parent / (self.dir.name + '.stderr')).read_text()}")
        self.scheme, self.port, self.region, self.account = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        self.endpoint = f"{self.scheme}://127.0.0.1:{self.port}"
        if "--imds" in self.args:
            # the second line says where the instance metadata service is
            imds = IMDS_RE.search(self.proc.stdout.readline())
            assert imds, "no instance metadata line"
            self.imds = imds.group(1)
        cp = configparser.ConfigParser()
        cp.read(self.dir / "credentials")
        self.admin = (cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"])

    @property
    def ca(self):
        return str(self.dir / "tls" / "ca.pem")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def client(self, service="kms", creds=None, token=None, region=None):
        ak, sk = creds or self.admin
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=region or self.region,
            aws_access_key_id=ak, aws_secret_access_key=sk, aws_session_token=token,
            verify=self.ca if self.scheme == "https" else False,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}))

    def cli(self, *args, **kw):
        """cloister-kms principal/session/audit ... --data-dir DIR; parsed JSON or the process."""
        proc = subprocess.run([str(KMS), *args, "--data-dir", str(self.dir)], capture_output=True,
                              text=True, timeout=60)
        return proc

    def principal(self, name, policy=None, role=False):
        args = ["principal", "create", name]
        if role:
            args.append("--role")
        if policy is not None:
            path = self.dir.parent / f"{name}-policy.json"
            path.write_text(json.dumps(policy))
            args += ["--identity-policy", str(path)]
        p = self.cli(*args)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def session(self, role, duration=None):
        args = ["session", "create", role]
        if duration is not None:
            args += ["--duration", str(duration)]
        p = self.cli(*args)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def signed(self, target, body, creds=None, token=None, service="kms", region=None,
               when=None, mutate=None, content_type="application/x-amz-json-1.1"):
        """Sends one request signed with botocore's SigV4 (optionally at another
        time, or changed after signing by mutate(request)); returns (status, body)."""
        import requests
        ak, sk = creds or self.admin
        headers = {"Content-Type": content_type}
        if target:
            headers["X-Amz-Target"] = target
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        req = botocore.awsrequest.AWSRequest(method="POST", url=self.endpoint + "/", data=data,
                                             headers=headers)
        c = botocore.credentials.Credentials(ak, sk, token)
        signer = botocore.auth.SigV4Auth(c, service, region or self.region)
        if when is not None:
            import datetime
            from unittest import mock
            fixed = datetime.datetime.utcfromtimestamp(when)
            with mock.patch("botocore.auth.datetime") as dt:
                dt.datetime.utcnow.return_value = fixed
                dt.datetime.now.return_value = fixed
                signer.add_auth(req)
        else:
            signer.add_auth(req)
        if mutate:
            mutate(req)
        prepared = req.prepare()
        r = requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers),
                          verify=self.ca if self.scheme == "https" else False, timeout=30)
        return r.status_code, r.text


def wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
