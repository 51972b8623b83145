# SPDX-License-Identifier: Apache-2.0
"""What an enclave must NOT be able to do, tried from inside real enclaves
by cloister-enclave-probe (src/runtime/probe), each check naming how it
fails: reaching a TCP server on the host's loopback, reaching or resolving
any network address, reading a host file (the attestation CA's private
key), seeing host processes, ptrace, mount, unshare / clone into new
namespaces, loading kernel modules, host AF_VSOCK, raw and packet sockets,
bpf, keyrings; running with capabilities or as a privileged host user;
reaching another enclave's vsock port (while the parent can); using an
image's device nodes or set-id bits. (Exceeding the memory limit ends the
enclave: test_runtime_console.py.)"""
import os
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from test_runtime import BIN_DIR, build_image, probe_results, vsock_client

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="enclaves need root (namespaces, cgroups)"),
    pytest.mark.skipif(not (BIN_DIR / "cloister-monitor").exists(), reason="cloister-monitor not built"),
]


class HostTcpServer:
    """A TCP server on the host's loopback that records whether anyone came."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
                self.connections += 1
                c.close()
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.t.join()
        self.sock.close()


def host_key_file(ca_dir):
    keys = [p for p in Path(ca_dir).rglob("*") if p.is_file() and "key" in p.name]
    assert keys, list(Path(ca_dir).rglob("*"))
    return keys[0]


def test_what_an_enclave_cannot_do(rt, tmp_path):
    server = HostTcpServer()
    # the control: the host itself reaches the server
    socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    deadline = time.monotonic() + 30
    while server.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = server.connections
    assert before == 1
    key = host_key_file(rt.ca_dir)
    checks = ["caps", "procs", "hostname", f"tcp=127.0.0.1:{server.port}", "tcp=10.0.0.1:80",
              "udp=1.1.1.1:53", "tcp=8.8.8.8:53", "resolve=example.com", f"read={key}",
              "read=/etc/hostname", "read=/etc/shadow", "ptrace", "mount", "unshare", "clone-ns",
              "module", "hostvsock", "raw", "packet", "bpf", "keyctl", "read=/bin/probe"]
    eif, _ = build_image(tmp_path, "probe", ["/bin/probe", *checks])
    info, _ = rt.run_enclave(eif, "--debug-mode")
    res = probe_results(rt.console_lines(info["EnclaveID"]))
    server.close()

    # nothing inside has a capability, no_new_privs, the seccomp filter is on
    assert res["caps"][0] == "ok"
    caps = res["caps"][1]
    for field in ["CapPrm: 0000000000000000", "CapEff: 0000000000000000",
                  "CapBnd: 0000000000000000", "NoNewPrivs: 1", "Seccomp: 2"]:
        assert field in caps, caps
    assert "uid=0 gid=0" in caps                     # root of its own user namespace...
    rec = rt.record(info["EnclaveID"])
    init_pid = rec["Internal"]["EnclavePID"]
    uids = [int(x) for x in Path(f"/proc/{init_pid}/status").read_text()
            .split("Uid:")[1].split("\n")[0].split()]
    assert all(u >= 2 ** 31 for u in uids), uids     # ...an unprivileged uid on the host
    assert Path(f"/proc/{init_pid}/ns/net").resolve() != Path("/proc/self/ns/net").resolve()

    # the host's processes are invisible: only init (PID 1) and the probe
    status, rest = res["procs"]
    assert status == "ok" and rest.split(" ", 1)[0] == "count=2", rest
    assert sorted(p.split(":")[1] for p in rest.split(" ", 1)[1].split(",")) == ["init", "probe"]
    assert res["hostname"] == ("ok", "enclave")

    # the network: its own loopback only
    # (probe_results keeps the last line of a check: look at every tcp line)
    lines = rt.console_lines(info["EnclaveID"])
    tcp_lines = {l.split()[-1]: l.split()[3] for l in lines if l.startswith("PROBE tcp ")}
    assert tcp_lines == {f"127.0.0.1:{server.port}": "ECONNREFUSED",   # not the host's loopback
                         "10.0.0.1:80": "ENETUNREACH", "8.8.8.8:53": "ENETUNREACH"}
    assert server.connections == before                # nobody from inside reached it
    assert res["udp"] == ("fail", "ENETUNREACH 1.1.1.1:53")
    assert res["resolve"][0] == "fail" and res["resolve"][1].endswith("example.com")

    # host files: the CA's private key and the host's /etc are not there
    read_lines = {l.split()[-1]: l.split()[2:4] for l in lines if l.startswith("PROBE read ")}
    assert read_lines[str(key)] == ["fail", "ENOENT"]
    assert read_lines["/etc/hostname"] == ["fail", "ENOENT"]
    assert read_lines["/etc/shadow"] == ["fail", "ENOENT"]
    assert read_lines["/bin/probe"] == ["ok", "/bin/probe"]   # its own files are

    # the kernel's dangerous doors are shut (seccomp answers EPERM)
    for check in ["ptrace", "mount", "unshare-user", "unshare-net", "clone-ns", "finit_module",
                  "init_module", "raw", "packet", "bpf", "keyctl"]:
        assert res[check] == ("fail", "EPERM"), (check, res.get(check))
    # AF_VSOCK is the emulation's, whose broker reaches only the parent
    assert res["hostvsock"] == ("fail", "EHOSTUNREACH"), res.get("hostvsock")


def test_device_nodes_setuid_and_fifos_of_an_image(rt, tmp_path):
    """build-enclave keeps an image's device nodes, FIFOs and setuid bits as
    nitro-cli does (docs/build-enclave.md); the runtime unpacks none of the
    device nodes (an enclave cannot make one, and a node would reach a host
    device), drops setuid and setgid (no_new_privs voids them anyway), keeps
    FIFOs and the sticky bit, and /dev is its own (docs/runtime.md)."""
    root = tmp_path / "devroot"
    checks = ["stat=/dev/sda", "stat=/dev/null", "read=/dev/null", "stat=/etc/kmem",
              "stat=/bin/su", "stat=/bin/sg", "stat=/srv/fifo", "stat=/srv/sticky",
              "stat=/srv/hard", "read=/srv/hard"]
    for d in ("bin", "dev", "etc", "srv"):
        (root / d).mkdir(parents=True)
    for name, mode in (("su", 0o4755), ("sg", 0o2755)):
        (root / "bin" / name).write_bytes(b"")
        (root / "bin" / name).chmod(mode)
    os.mknod(root / "dev" / "sda", 0o660 | stat.S_IFBLK, os.makedev(8, 0))
    os.mknod(root / "etc" / "kmem", 0o640 | stat.S_IFCHR, os.makedev(1, 2))
    os.mkfifo(root / "srv" / "fifo")
    (root / "srv" / "fifo").chmod(0o620)
    (root / "srv" / "sticky").mkdir()
    (root / "srv" / "sticky").chmod(0o1777)
    (root / "srv" / "file").write_text("hard-linked\n")
    os.link(root / "srv" / "file", root / "srv" / "hard")
    eif, _ = build_image(tmp_path, "devroot", ["/bin/probe", *checks], root=root)
    info, _ = rt.run_enclave(eif, "--debug-mode")
    lines = rt.console_lines(info["EnclaveID"])
    stats = {next(w for w in l.split() if w.startswith("/")): l.split(" ", 2)[2] for l in lines
             if l.startswith("PROBE stat ")}
    reads = {l.split()[-1]: l.split()[2] for l in lines if l.startswith("PROBE read ")}
    assert stats["/dev/sda"] == "fail ENOENT /dev/sda", lines
    assert stats["/dev/null"] == "ok /dev/null type=chr mode=0666 rdev=1,3"
    assert reads["/dev/null"] == "ok"
    assert stats["/etc/kmem"] == "fail ENOENT /etc/kmem"
    assert stats["/bin/su"] == "ok /bin/su type=reg mode=0755 rdev=0,0"
    assert stats["/bin/sg"] == "ok /bin/sg type=reg mode=0755 rdev=0,0"
    assert stats["/srv/fifo"] == "ok /srv/fifo type=fifo mode=0620 rdev=0,0"
    assert stats["/srv/sticky"] == "ok /srv/sticky type=dir mode=1777 rdev=0,0"
    # a hard link is a relative symbolic link in nitro-cli's ramdisk
    assert stats["/srv/hard"] == "ok /srv/hard type=lnk mode=0777 rdev=0,0"
    assert reads["/srv/hard"] == "ok"


def test_another_enclaves_vsock_port_is_unreachable(rt, tmp_path):
    server_eif, _ = build_image(tmp_path, "vserver", ["/bin/probe", "listen=5005"])
    b, _ = rt.run_enclave(server_eif, "--debug-mode")
    assert probe_results(rt.console_lines(b["EnclaveID"]))["listen"] == ("ok", "5005")
    # the parent reaches enclave B's port
    p = vsock_client(rt, str(b["EnclaveCID"]), "5005")
    assert (p.returncode, p.stdout.strip()) == (0, f"hello from {b['EnclaveCID']}"), p.stderr
    # enclave A does not, whatever CID it tries; its parent's port is a different story
    cids = [b["EnclaveCID"], 1, 2, 0, 99]
    client_eif, _ = build_image(tmp_path, "vclient", ["/bin/probe", *[f"vsock={c}:5005" for c in cids]])
    a, _ = rt.run_enclave(client_eif, "--debug-mode")
    lines = rt.console_lines(a["EnclaveID"])
    got = {l.split()[4]: l.split()[3] for l in lines if l.startswith("PROBE vsock ")}
    assert got == {f"{c}:5005": "EHOSTUNREACH" for c in cids}, lines
