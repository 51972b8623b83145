# SPDX-License-Identifier: Apache-2.0
"""vsock for every program (docs/vsock.md §6): a statically linked C program
(tests/programs/vsock_plain.c) and a Go program (tests/programs/go, Go's own
runtime, CGO_ENABLED=0, raw system calls for the vsock address), neither
with any Cloister library, each alone in an enclave image with no shell and
no Python: each asks its CID of /dev/vsock, connects to a parent listener and
then serves the parent on a port of its own. The parent's side is python3
under `cloister exec`."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run
from test_runtime import BIN_DIR, BUILD_DIR, VsockListener, vsock_exec

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="enclaves need root (namespaces, cgroups)"),
    pytest.mark.skipif(not (BIN_DIR / "cloister-monitor").exists(), reason="cloister-monitor not built"),
]

PLAIN = BUILD_DIR / "tests" / "programs" / "vsock_plain"
GO_SOURCE = Path(__file__).resolve().parents[1] / "programs" / "go" / "vsock_go.go"


def static_only(path):
    out = subprocess.run(["file", "-b", str(path)], capture_output=True, text=True).stdout
    assert "statically linked" in out, out
    return path


def go_program(tmp_path):
    go = shutil.which("go")
    assert go, "golang-go is installed by scripts/install-deps.sh"
    out = tmp_path / "vsock_go"
    env = {**os.environ, "HOME": str(tmp_path), "GOCACHE": str(tmp_path / "gocache"),
           "GOPATH": str(tmp_path / "gopath"), "CGO_ENABLED": "0", "GO111MODULE": "off"}
    subprocess.run([go, "build", "-o", str(out), str(GO_SOURCE)], check=True, env=env,
                   capture_output=True, timeout=600)
    return static_only(out)


CLIENT = ("import socket,sys\n"
          "s=socket.socket(socket.AF_VSOCK,socket.SOCK_STREAM)\n"
          "s.connect((int(sys.argv[1]),int(sys.argv[2])))\n"
          "s.sendall(b'ping')\n"
          "print(s.recv(100).decode())\n")


def lone_program_image(tmp_path, name, program, args):
    """An EIF whose root holds the program alone, as /bin/<name>."""
    root = tmp_path / f"{name}-root"
    (root / "bin").mkdir(parents=True)
    shutil.copy(program, root / "bin" / name)
    eif = tmp_path / f"{name}.eif"
    run([BIN_DIR / "cloister", "build-enclave", "--rootfs", root, "--cmd",
         json.dumps([f"/bin/{name}", *args]), "--output-file", eif], check=True)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == ["bin", f"bin/{name}"]
    return eif


def serve_through_an_enclave(rt, tmp_path, name, program, parent_port, port, word):
    eif = lone_program_image(tmp_path, name, program, [str(parent_port), str(port)])
    listener = VsockListener(rt, parent_port)
    info, _ = rt.run_enclave(eif, "--debug-mode")
    cid = info["EnclaveCID"]
    out, err = listener.result()
    # the program's CID from /dev/vsock, and the parent saw it connect from there
    assert out.strip() == f"{cid} {word} {cid}", (out, err)
    lines = rt.console_lines(info["EnclaveID"], until=f"{name}: cid")
    assert lines[-1] == f"{name}: cid {cid} listening on {port}", lines
    reply = run(vsock_exec("/usr/bin/python3", "-c", CLIENT, cid, port), env=rt.env, timeout=60)
    assert reply.returncode == 0, reply.stderr
    return reply.stdout.strip()


def test_a_static_c_program(rt, tmp_path):
    program = tmp_path / "vsock_plain"
    shutil.copy(static_only(PLAIN), program)
    got = serve_through_an_enclave(rt, tmp_path, "vsock_plain", program, 7301, 5006, "static")
    assert got == "static-echo ping from 3"


def test_a_go_program(rt, tmp_path):
    got = serve_through_an_enclave(rt, tmp_path, "vsock_go", go_program(tmp_path), 7302, 5007, "go")
    assert got == "go-echo ping from 3"
