# SPDX-License-Identifier: Apache-2.0
"""A Nitro user's Python enclave application, unmodified (docs/runtime.md):
Debian's python3 in the image, started by a shell script whose `#!/bin/sh`
is not on its first line (`CMD ["/app/run.sh"]`: init runs it through
/bin/sh as AWS's init does), a server that print()s without flushing and
serves AF_VSOCK; the parent talks to it with a plain python3 client, and
`cloister console` shows the server's lines as they are printed."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_runtime import BIN_DIR, build_image, copy_with_libs

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="enclaves need root (namespaces, cgroups)"),
    pytest.mark.skipif(not (BIN_DIR / "cloister-monitor").exists(), reason="cloister-monitor not built"),
]

PYTHON = "/usr/bin/python3"

SERVER = r'''
import socket
import sys

print("server starting", sys.version_info[:2])          # never flushed: a terminal shows it
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.bind((socket.VMADDR_CID_ANY, 5005))
s.listen()
print("listening on", s.getsockname())
while True:
    conn, (cid, port) = s.accept()
    data = conn.recv(100)
    print("from", cid, data.decode().strip())
    conn.sendall(data.upper())
    conn.close()
'''

# The first line is not the shebang: the kernel refuses the file (ENOEXEC)
# and init runs it with /bin/sh, as glibc's execvpe does for AWS's init.
RUN_SH = '''# started by the enclave's init
#!/bin/sh
cd /app
exec python3 server.py
'''


def python_modules():
    """The standard library files the server imports (and python3's start-up)."""
    code = ("import sys, socket\n"
            "for m in list(sys.modules.values()):\n"
            "    f = getattr(m, '__file__', None)\n"
            "    if f: print(f)\n")
    out = subprocess.run([PYTHON, "-S", "-c", code], capture_output=True, text=True, check=True)
    files = set(out.stdout.split())
    # what `python3` without -S imports at start-up
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    return files | set(out.stdout.split())


def python_image(tmp_path):
    root = tmp_path / "pyroot"
    copy_with_libs(PYTHON, root, "/usr/bin/python3")
    copy_with_libs("/bin/dash", root, "/bin/sh")
    for f in python_modules():
        dst = root / f.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst)
    # python3 looks for its exec_prefix by this directory
    (root / "usr/lib/python3.11/lib-dynload").mkdir(parents=True, exist_ok=True)
    (root / "app").mkdir()
    (root / "app" / "server.py").write_text(SERVER)
    (root / "app" / "run.sh").write_text(RUN_SH)
    (root / "app" / "run.sh").chmod(0o755)
    return root


def parent_client(rt, cid, port, text):
    """A plain python3 client on the parent, with the emulated vsock."""
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_VSOCK,socket.SOCK_STREAM)\n"
            "s.connect((int(sys.argv[1]),int(sys.argv[2])))\n"
            "s.sendall(sys.argv[3].encode()+b'\\n')\n"
            "print(s.recv(100).decode().strip())\n")
    p = subprocess.run([str(BIN_DIR / "cloister"), "exec", "--", PYTHON, "-c", code, str(cid),
                        str(port), text], capture_output=True, text=True, timeout=60,
                       env={**os.environ, **rt.env})
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_python_server_unmodified(rt, tmp_path):
    root = python_image(tmp_path)
    eif, _ = build_image(tmp_path, "pyapp", ["/app/run.sh"], root=root)
    info, _ = rt.run_enclave(eif, "--debug-mode", memory="256")
    cid = info["EnclaveCID"]
    lines = rt.console_lines(info["EnclaveID"], until="listening on")
    assert lines[:2] == [f"Connecting to the console for enclave {cid}...",
                         "Successfully connected to the console."], lines
    assert lines[2:] == ["server starting (3, 11)", f"listening on ({cid}, 5005)"], lines
    for word in ("hello", "again"):
        assert parent_client(rt, cid, 5005, word) == word.upper()
    # each line shows as it is printed (the console is a terminal)
    deadline = time.monotonic() + 30   # a safety limit, not a timing assertion
    while time.monotonic() < deadline:
        lines = rt.console_lines(info["EnclaveID"], until="from 3 again")
        if lines[-1] == "from 3 again":
            break
    assert lines[-2:] == ["from 3 hello", "from 3 again"], lines
    assert json.loads(rt.cl("describe-enclaves", check=True).stdout)[0]["State"] == "RUNNING"
    assert not (Path(root) / "usr/lib/cloister").exists()   # nothing of Cloister's in the image
