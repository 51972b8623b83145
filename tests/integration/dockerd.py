# SPDX-License-Identifier: Apache-2.0
"""A private Docker daemon for the integration tests.

Debian's dockerd (package docker.io, scripts/install-deps.sh test) started
by the test itself, with everything under one temporary directory of its
own: the socket, vfs storage (--data-root), the runtime state and the
containerd it starts (--exec-root), its pid file and its log. It changes
nothing on the host: no iptables rules, no bridge, no /etc/docker/daemon.json
(an empty --config-file instead), and the docker client it runs reads and
writes its configuration under that directory too (DOCKER_CONFIG). It is
stopped by PID (SIGTERM, then SIGKILL after 30 s), with the processes it
started, and the directory is removed, also when a test fails half-way.

    @pytest.fixture(scope="module")
    def dockerd():
        yield from private_dockerd()
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
DOCKER = shutil.which("docker") or "/usr/bin/docker"


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _descendants(pid):
    """The PIDs below pid (children first), read from /proc."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(k) for k in f.read().split()]
                out += kids
                todo += kids
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


class Dockerd:
    def __init__(self):
        # /tmp and a short name: the socket paths under it (containerd's
        # included) must fit in sun_path's 108 bytes
        self.dir = tempfile.mkdtemp(prefix="cl-dockerd-", dir="/tmp")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.proc = None
        self.log_path = os.path.join(self.dir, "dockerd.log")

    def command(self):
        """The dockerd command line that starts on this project's hosts
        (docs/build-enclave.md, "Tested against")."""
        d = self.dir
        with open(os.path.join(d, "daemon.json"), "w") as f:
            f.write("{}\n")
        return [DOCKERD, "--config-file", f"{d}/daemon.json", "--storage-driver", "vfs",
                "--iptables=false", "--ip6tables=false", "--bridge=none",
                "--data-root", f"{d}/root", "--exec-root", f"{d}/exec",
                "--pidfile", f"{d}/docker.pid", "-H", f"unix://{self.sock}"]

    def start(self, timeout=60):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, body = self.api("GET", "/_ping", timeout=2)
                if status == 200 and body == b"OK":
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"dockerd did not answer within {timeout} s:\n{self.log()}")

    def log(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def api(self, method, path, timeout=30):
        """One Engine API call: (status, body)."""
        c = _UnixHTTP(self.sock, timeout)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def env(self):
        return {"DOCKER_HOST": f"unix://{self.sock}",
                "DOCKER_CONFIG": os.path.join(self.dir, "client"),
                "DOCKER_BUILDKIT": "0"}  # the classic builder: dockerd 20.10 has no buildx here

    def docker(self, *args, check=True, timeout=300):
        env = dict(os.environ, **self.env())
        p = subprocess.run([DOCKER, *[str(a) for a in args]], capture_output=True, text=True,
                           env=env, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"docker {args} exited {p.returncode}:\n{p.stderr}")
        return p

    def inspect(self, ref):
        return json.loads(self.docker("image", "inspect", ref).stdout)[0]

    def stop(self):
        """By PID: dockerd, then whatever it started that outlived it."""
        if self.proc and self.proc.poll() is None:
            below = _descendants(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
            for pid in below:  # still ours only if its command line names our directory
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if self.dir.encode() in f.read():
                            os.kill(pid, signal.SIGKILL)
                except (FileNotFoundError, ProcessLookupError):
                    pass
        # nothing of it may stay mounted before the directory goes
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for m in sorted((m for m in mounts if m.startswith(self.dir + "/")), reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def private_dockerd():
    """A generator for a pytest fixture: a started daemon, stopped and
    removed afterwards. Skips when this host cannot have one."""
    if not os.path.exists(DOCKERD) or not os.path.exists(DOCKER):
        pytest.skip("no dockerd/docker: install Debian's docker.io (scripts/install-deps.sh test)")
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    d = Dockerd()
    try:
        d.start()
        yield d
    finally:
        d.stop()
