# SPDX-License-Identifier: Apache-2.0
"""Cloister's emulated vsock, end to end, with whole programs:

- C programs on <cloister/vsock.h> (tests/programs/vsock_echo) on the parent
  and "in enclaves": an enclave process is one whose CLOISTER_VSOCK_BROKER
  points at the broker of a stand-in monitor (tests/programs/vsock_monitor,
  the same broker API the runtime's monitor uses);
- unmodified python3 (its socket module, AF_VSOCK) under `cloister exec`,
  whose seccomp supervisor serves its vsock calls, on both sides (an
  "enclave" exec reaches the stand-in monitor's broker); libnsm's ioctl on
  an emulated /dev/nsm through libcloister-preload.so;
- the enclave init (cloister-init, static) as PID 1 of a throwaway root in
  new user, mount and PID namespaces: heartbeat, /cmd, /env, exit status.
"""
import os
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import BIN_DIR, BUILD_DIR, run

PROGRAMS = BUILD_DIR / "tests" / "programs"
ECHO = PROGRAMS / "vsock_echo"
MONITOR = PROGRAMS / "vsock_monitor"
PRELOAD = BUILD_DIR / "lib" / "libcloister-preload.so"
INIT = BUILD_DIR / "share" / "cloister" / "blobs" / "init"
PY = sys.executable


@pytest.fixture
def run_dir():
    # Short: Unix socket paths hold 107 bytes.
    d = Path(tempfile.mkdtemp(prefix="clv-", dir="/tmp"))
    yield d / "run"
    shutil.rmtree(d, ignore_errors=True)


def env_for(run_dir, broker=None, preload=False, extra=None):
    env = dict(os.environ)
    env["CLOISTER_RUN_DIR"] = str(run_dir)
    env.pop("CLOISTER_VSOCK_BROKER", None)
    env.pop("CLOISTER_VSOCK_TRANSPORT", None)
    if broker:
        env["CLOISTER_VSOCK_BROKER"] = str(broker)
    if preload:
        env["LD_PRELOAD"] = str(PRELOAD)
    if extra:
        env.update(extra)
    return env


def readline(proc, timeout=30):
    """One line of proc's stdout, or fail after timeout seconds."""
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    assert r, f"no output from {proc.args} within {timeout}s"
    line = proc.stdout.readline()
    assert line, f"{proc.args} ended: {proc.stderr.read() if proc.stderr else ''}"
    return line.strip()


class Monitor:
    """A stand-in monitor serving the vsock broker of one enclave CID."""

    def __init__(self, run_dir, cid, heartbeat=False):
        args = [MONITOR, run_dir, str(cid)] + (["--heartbeat"] if heartbeat else [])
        self.proc = subprocess.Popen([str(a) for a in args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = readline(self.proc)
        assert line.startswith("BROKER "), line
        self.host_dir = Path(line.split(" ", 1)[1])
        self.broker = self.host_dir / "broker"
        self.stats = None

    def stop(self):
        out, err = self.proc.communicate(timeout=30)   # closes stdin: the monitor stops
        assert self.proc.returncode == 0, err
        for line in out.splitlines():
            if line.startswith("STATS "):
                self.stats = dict(kv.split("=") for kv in line.split()[1:])
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def monitors(run_dir):
    made = []

    def make(cid, heartbeat=False):
        m = Monitor(run_dir, cid, heartbeat)
        made.append(m)
        return m

    yield make
    for m in made:
        m.kill()


def start(args, env):
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# ---- C programs on <cloister/vsock.h> ----------------------------------------

def test_parent_to_parent(run_dir):
    env = env_for(run_dir)
    srv = start([ECHO, "listen", "any", "5000"], env)
    assert readline(srv) == "LISTENING 3 5000"
    cli = run([ECHO, "connect", "3", "5000", "hello parent"], env=env, check=True)
    lines = cli.stdout.splitlines()
    local_port = lines[0].split()[2]
    assert lines[0] == f"LOCAL 3 {local_port}"
    assert lines[1] == "REMOTE 3 5000"
    assert lines[2] == "GOT hello parent"
    rc, out, err = finish(srv)
    assert rc == 0, err
    # The listener saw the connector's true port; its socket file is gone.
    assert out.splitlines() == [f"PEER 3 {local_port}"]
    assert not (run_dir / "vsock" / "3" / "5000").exists()


def test_enclave_and_parent_both_ways(run_dir, monitors):
    m = monitors(16)
    parent = env_for(run_dir)
    enclave = env_for(run_dir, broker=m.broker)
    assert run([ECHO, "cid"], env=enclave, check=True).stdout == "CID 16 emulated-enclave\n"
    assert run([ECHO, "cid"], env=parent, check=True).stdout == "CID 3 emulated-host\n"

    # enclave -> parent: the parent sees the enclave's CID, stamped by the broker.
    srv = start([ECHO, "listen", "3", "6000"], parent)
    assert readline(srv) == "LISTENING 3 6000"
    cli = run([ECHO, "connect", "3", "6000", "from the enclave"], env=enclave, check=True)
    local = cli.stdout.splitlines()[0].split()
    assert local[:2] == ["LOCAL", "16"]
    assert cli.stdout.splitlines()[2] == "GOT from the enclave"
    rc, out, err = finish(srv)
    assert rc == 0, err
    assert out.strip() == f"PEER 16 {local[2]}"

    # parent -> enclave
    srv = start([ECHO, "listen", "any", "7000"], enclave)
    assert readline(srv) == "LISTENING 16 7000"
    assert (run_dir / "vsock" / "16" / "7000").is_socket()
    cli = run([ECHO, "connect", "16", "7000", "to the enclave"], env=parent, check=True)
    assert cli.stdout.splitlines()[1:] == ["REMOTE 16 7000", "GOT to the enclave"]
    rc, out, err = finish(srv)
    assert rc == 0, err
    assert out.strip().startswith("PEER 3 ")
    m.stop()
    assert m.stats == {"connects": "1", "refused": "0", "listens": "1", "malformed": "0"}
    # The monitor removed everything it made.
    assert not (run_dir / "vsock" / "16").exists()
    assert not m.host_dir.exists()


def test_enclave_cannot_reach_another_enclave(run_dir, monitors):
    a, b = monitors(16), monitors(17)
    srv = start([ECHO, "listen", "any", "7000"], env_for(run_dir, broker=a.broker))
    assert readline(srv) == "LISTENING 16 7000"
    for cid in ("16", "17", "0", "2"):
        cli = run([ECHO, "connect", cid, "7000", "sneaky"], env=env_for(run_dir, broker=b.broker))
        assert cli.returncode == 1
        assert cli.stderr == (f"ERROR EHOSTUNREACH vsock connect to ({cid}, 7000): an enclave "
                              "may connect only to its parent (CID 3): No route to host\n")
    # The listener in A got nothing; the parent still reaches it.
    run([ECHO, "connect", "16", "7000", "parent"], env=env_for(run_dir), check=True)
    rc, out, err = finish(srv)
    assert rc == 0, err
    assert out.strip().startswith("PEER 3 ")
    b.stop()
    assert b.stats["refused"] == "4"
    assert b.stats["connects"] == "0"


def test_nothing_listening(run_dir, monitors):
    m = monitors(16)
    for env in (env_for(run_dir), env_for(run_dir, broker=m.broker)):
        cli = run([ECHO, "connect", "3", "4444", "x"], env=env)
        assert cli.returncode == 1
        assert cli.stderr == ("ERROR ECONNRESET vsock connect to (3, 4444): nothing listens at "
                              "that address: Connection reset by peer\n")
    # An enclave CID nobody runs.
    cli = run([ECHO, "connect", "99", "1", "x"], env=env_for(run_dir))
    assert cli.returncode == 1
    assert "ECONNRESET" in cli.stderr


def test_reserved_ports_belong_to_root():
    """Ports below 1024 need privilege, as on Linux vsock: a non-root program
    can neither listen there through the library nor plant its own socket
    file that root's clients would then reach (security review V1)."""
    # A run directory other users can reach (pytest's own tmp is root's only).
    run_dir = Path(tempfile.mkdtemp(prefix="cloister-vsock-", dir="/tmp"))
    run_dir.chmod(0o755)
    try:
        _reserved_ports(run_dir)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _reserved_ports(run_dir):
    env = env_for(run_dir)
    # The parent's directory exists once anything has listened.
    srv = start([ECHO, "listen", "any", "5001"], env)
    assert readline(srv) == "LISTENING 3 5001"
    run([ECHO, "connect", "3", "5001", "x"], env=env, check=True)
    finish(srv)
    nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    p = run([*nobody, ECHO, "listen", "any", "80"], env=env, timeout=30)
    assert p.returncode == 1
    assert p.stderr.startswith("ERROR EACCES ")
    assert "ports below 1024 are reserved for root" in p.stderr
    # A socket file planted by hand at a reserved port is not a listener.
    planted = run_dir / "vsock" / "3" / "81"
    plant = subprocess.Popen(
        [*nobody, "/usr/bin/python3", "-c",
         "import socket, sys, time; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
         "s.bind(sys.argv[1]); print('bound', flush=True); time.sleep(30)", str(planted)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert plant.stdout.readline().strip() == "bound"
        cli = run([ECHO, "connect", "3", "81", "secret"], env=env)
        assert cli.returncode == 1
        assert cli.stderr == ("ERROR ECONNRESET vsock connect to (3, 81): the listener of a "
                              "reserved port (below 1024) is not root's: Connection reset by "
                              "peer\n")
    finally:
        plant.kill()
        plant.wait()
    # Root may listen on a reserved port, and connections reach it.
    srv = start([ECHO, "listen", "any", "80"], env)
    assert readline(srv) == "LISTENING 3 80"
    cli = run([ECHO, "connect", "3", "80", "privileged"], env=env, check=True)
    assert "GOT privileged" in cli.stdout
    finish(srv)


def test_heartbeat_goes_to_its_own_monitor(run_dir, monitors):
    # Two enclaves booting at once each reach their own monitor on (3, 9000).
    a, b = monitors(16, heartbeat=True), monitors(17, heartbeat=True)
    for m in (a, b):
        hb = run([ECHO, "heartbeat"], env=env_for(run_dir, broker=m.broker), check=True)
        assert hb.stdout == "HEARTBEAT OK\n"
        assert readline(m.proc) == "READY"


# ---- unmodified python3 under `cloister exec` -----------------------------------

CLOISTER = BIN_DIR / "cloister"


def vsock_exec(*args):
    """A command line run with the emulated vsock (the seccomp supervisor)."""
    return [CLOISTER, "exec", "--", *args]

SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.bind((socket.VMADDR_CID_ANY, int(sys.argv[1])))
s.listen()
print("LISTENING", *s.getsockname(), flush=True)
assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
c, addr = s.accept()
assert c.getpeername() == addr
assert c.family == socket.AF_VSOCK
print("ACCEPTED", *addr, *c.getsockname(), flush=True)
data = b""
while chunk := c.recv(65536):
    data += chunk
c.sendall(data[::-1])
c.shutdown(socket.SHUT_WR)
c.close()
s.close()
"""

CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.settimeout(30)
s.connect((int(sys.argv[1]), int(sys.argv[2])))
print("CONNECTED", *s.getsockname(), *s.getpeername(), flush=True)
payload = bytes(range(256)) * 4096
s.sendall(payload)
s.shutdown(socket.SHUT_WR)
back = b""
while chunk := s.recv(65536):
    back += chunk
print("OK" if back == payload[::-1] else "MISMATCH", len(back), flush=True)
"""


def test_python_under_exec(run_dir, monitors):
    m = monitors(16)
    parent = env_for(run_dir)
    enclave = env_for(run_dir, broker=m.broker)
    for srv_env, cli_env, dst_cid, srv_cid, cli_cid in (
            (enclave, parent, 16, 16, 3),     # parent -> enclave
            (parent, enclave, 3, 3, 16),      # enclave -> parent
            (parent, parent, 3, 3, 3)):       # parent -> parent
        srv = start(vsock_exec(PY, "-c", SERVER, "5000"), srv_env)
        assert readline(srv) == f"LISTENING {srv_cid} 5000"
        cli = run(vsock_exec(PY, "-c", CLIENT, str(dst_cid), "5000"), env=cli_env)
        assert cli.returncode == 0, cli.stderr
        connected, ok = cli.stdout.splitlines()
        c = connected.split()
        assert c[0] == "CONNECTED" and c[1] == str(cli_cid) and c[3:] == [str(srv_cid), "5000"]
        assert ok == f"OK {256 * 4096}"
        rc, out, err = finish(srv)
        assert rc == 0, err
        assert out.strip() == f"ACCEPTED {cli_cid} {c[2]} {srv_cid} 5000"


ERRORS = r"""
import errno, socket
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
try:
    s.connect((17, 5000))
except OSError as e:
    print("other enclave", errno.errorcode[e.errno])
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
try:
    s.connect((3, 4444))
except OSError as e:
    print("no listener", errno.errorcode[e.errno])
try:
    socket.socket(socket.AF_VSOCK, socket.SOCK_DGRAM)
except OSError as e:
    print("dgram", errno.errorcode[e.errno])
l = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
l.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
l.listen()
l.settimeout(0.1)
try:
    l.accept()
except TimeoutError:
    print("accept timeout")
print("port any", l.getsockname()[1] >= 1024)
l.setsockopt(socket.AF_VSOCK, socket.SO_VM_SOCKETS_BUFFER_SIZE, 65536)
print("buffer", l.getsockopt(socket.AF_VSOCK, socket.SO_VM_SOCKETS_BUFFER_SIZE))
n = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
n.setblocking(False)
print("non-blocking", errno.errorcode[n.connect_ex((3, 4444))],
      errno.errorcode[n.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)],
      n.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
"""


def test_python_errors_under_exec(run_dir, monitors):
    m = monitors(16)
    out = run(vsock_exec(PY, "-c", ERRORS), env=env_for(run_dir, broker=m.broker))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "other enclave EHOSTUNREACH",
        "no listener ECONNRESET",
        "dgram ESOCKTNOSUPPORT",
        "accept timeout",
        "port any True",
        "buffer 65536",
        "non-blocking EINPROGRESS ECONNRESET 0",
    ]


# The supervisor knows a socket by its inode, not by its number: a
# duplicate, a socket kept across exec and a reused number are all right.
ACROSS_EXEC = r"""
import os, socket, sys
if len(sys.argv) > 1:
    s = socket.socket(fileno=int(sys.argv[1]))
    print("after exec", s.family == socket.AF_VSOCK, s.getsockname()[1])
    sys.exit(0)
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.bind((socket.VMADDR_CID_ANY, 5050))
d = s.dup()
print("dup", d.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) == socket.AF_VSOCK)
t = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
fd = t.detach()
os.close(fd)
u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
print("reused", u.fileno() == fd, u.family == socket.AF_INET, u.getsockname())
os.set_inheritable(s.fileno(), True)
sys.stdout.flush()
os.execv(sys.executable, [sys.executable, __file__, str(s.fileno())])
"""


def test_sockets_are_known_across_dup_and_exec(run_dir, tmp_path):
    script = tmp_path / "across.py"
    script.write_text(ACROSS_EXEC)
    out = run(vsock_exec(PY, script), env=env_for(run_dir))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["dup True", "reused True True ('0.0.0.0', 0)",
                                       "after exec True 5050"]


NSM_IOCTL = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class nsm_message(ctypes.Structure):
    _fields_ = [("request", iovec), ("response", iovec)]
fd = os.open(sys.argv[1], os.O_RDWR)
req = b"\x6bDescribeNSM"           # CBOR text "DescribeNSM", as libnsm sends it
reqbuf = ctypes.create_string_buffer(req, len(req))
resp = ctypes.create_string_buffer(0x3000)
msg = nsm_message(iovec(ctypes.addressof(reqbuf), len(req)), iovec(ctypes.addressof(resp), 0x3000))
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
r = libc.ioctl(fd, 0xC0200A00, ctypes.byref(msg))
print("ioctl", r, msg.response.len > 0, b"DescribeNSM" in resp.raw[:msg.response.len],
      b"module_id" in resp.raw[:msg.response.len])
big = ctypes.create_string_buffer(0x1001)
msg = nsm_message(iovec(ctypes.addressof(big), 0x1001), iovec(ctypes.addressof(resp), 0x3000))
r = libc.ioctl(fd, 0xC0200A00, ctypes.byref(msg))
print("too big", r, os.strerror(ctypes.get_errno()))
os.close(fd)
"""


def test_libnsm_ioctl_on_emulated_dev_nsm(run_dir, tmp_path):
    serve = BIN_DIR / "cloister-nsm-serve"
    if not serve.exists():
        pytest.skip("cloister-nsm-serve (NSM) not built")
    sock = Path(tempfile.mkdtemp(prefix="clnsm-", dir="/tmp")) / "nsm"
    srv = start([serve, "--socket", sock, "--root-out", tmp_path / "root.pem"], os.environ)
    try:
        assert readline(srv).startswith("ready ")
        out = run([PY, "-c", NSM_IOCTL, sock],
                  env=env_for(run_dir, preload=True, extra={"CLOISTER_NSM_DEVICE": str(sock)}))
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == ["ioctl 0 True True True",
                                           "too big -1 Message too long"]
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(sock.parent, ignore_errors=True)


# ---- the enclave init --------------------------------------------------------------

def can_unshare():
    if not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "-rm", "--pid", "--fork", "true"], capture_output=True)
    return r.returncode == 0


needs_unshare = pytest.mark.skipif(not can_unshare(), reason="user namespaces unavailable")


def make_root(base, cmd=None, env=None):
    root = base / "root"
    for d in ("usr", "bin", "lib", "lib64", "proc", "tmp", "dev/cloister-vsock"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(INIT, root / "init")
    if cmd is not None:
        (root / "cmd").write_text("".join(line + "\n" for line in cmd))
    if env is not None:
        (root / "env").write_text("".join(line + "\n" for line in env))
    return root


def run_init(root, broker_dir=None, stdin=None):
    """Runs the init as PID 1 of root, in new user, mount and PID namespaces,
    with the host's /usr, /bin and /lib bound in (for sh) and the broker's
    directory at /dev/cloister-vsock, as the runtime mounts it."""
    mounts = "".join(f"mount --rbind /{d} {root}/{d} 2>/dev/null; "
                     for d in ("usr", "bin", "lib", "lib64") if os.path.isdir(f"/{d}"))
    if broker_dir:
        mounts += f"mount --bind {broker_dir} {root}/dev/cloister-vsock; "
    script = f"{mounts} exec chroot {root} /init"
    return subprocess.run(["unshare", "-rm", "--pid", "--fork", "sh", "-c", script],
                          capture_output=True, text=True, timeout=60, input=stdin,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


@needs_unshare
def test_init_heartbeat_cmd_env(run_dir, monitors, tmp_path):
    m = monitors(16, heartbeat=True)
    root = make_root(tmp_path,
                     cmd=["sh", "-c", 'echo "pid=$$ cwd=$(pwd) foo=$FOO"; '
                                      'sh -c "sleep 0.1" & exit 7'],
                     env=["FOO=bar baz", "PATH=/usr/bin:/bin"])
    r = run_init(root, m.host_dir)
    assert r.returncode == 7, r.stderr
    # PID 1 is init, so the command is a child of it; the cwd is /.
    out = r.stdout.strip()
    assert out.startswith("pid=") and out.endswith(" cwd=/ foo=bar baz")
    assert out != "pid=1 cwd=/ foo=bar baz"
    assert readline(m.proc) == "READY"
    # AWS's init removes cmd and env once read.
    assert not (root / "cmd").exists() and not (root / "env").exists()


@needs_unshare
def test_init_defaults_without_cmd_and_env(run_dir, monitors, tmp_path):
    m = monitors(16, heartbeat=True)
    root = make_root(tmp_path)
    r = run_init(root, m.host_dir, stdin='echo "$PATH"; exit 3\n')
    assert r.returncode == 3, r.stderr
    assert r.stdout == "/sbin:/usr/sbin:/bin:/usr/bin\n"


@needs_unshare
def test_init_command_not_found_and_signal(run_dir, monitors, tmp_path):
    m = monitors(16, heartbeat=True)
    root = make_root(tmp_path, cmd=["no-such-command"], env=["PATH=/bin"])
    r = run_init(root, m.host_dir)
    assert r.returncode == 127
    assert r.stderr == ("init: cannot run 'no-such-command': No such file or directory "
                        "(searched PATH /bin:/sbin:/usr/sbin:/usr/bin)\n")
    m2 = monitors(17, heartbeat=True)
    root = make_root(tmp_path / "b", cmd=["sh", "-c", "kill -TERM $$"], env=["PATH=/bin"])
    r = run_init(root, m2.host_dir)
    assert r.returncode == 128 + 15


@needs_unshare
def test_init_fails_without_parent(tmp_path):
    # No broker and nobody listening: the heartbeat fails and init exits, as
    # AWS's init does (the enclave dies).
    root = make_root(tmp_path, cmd=["sh", "-c", "echo should not run"])
    r = run_init(root)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == ("init: ready heartbeat to the parent failed: vsock connect to (3, 9000): "
                        "nothing listens at that address: Connection reset by peer\n")


def test_init_is_static():
    data = INIT.read_bytes()
    assert data[:4] == b"\x7fELF"
    # No program interpreter: a static executable runs in any image.
    r = run(["readelf", "-l", INIT]) if shutil.which("readelf") else None
    if r is not None:
        assert "INTERP" not in r.stdout
