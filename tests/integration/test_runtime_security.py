# SPDX-License-Identifier: Apache-2.0
"""Regression tests of the security review (docs/security-review.md), from
real enclaves:
S1  another host user cannot speak to an enclave's NSM socket (it could get
    documents with its own public_key signed as the enclave, or extend and
    lock the enclave's PCR16-31); host root and the enclave can.
S2  the seccomp filter refuses AF_VSOCK also when the family carries high
    bits (the kernel reads an int; the filter saw 64 bits).
S3  an EIF that someone other than root can write is run from a sealed
    copy, so it cannot change between its measurement and its unpacking.
S5  the enclave has a PID limit (pids cgroup), so a fork bomb inside cannot
    take every PID of the host."""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from test_runtime import BIN_DIR, Runtime, build_image, probe_results

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="enclaves need root (namespaces, cgroups)"),
    pytest.mark.skipif(not (BIN_DIR / "cloister-monitor").exists(), reason="cloister-monitor not built"),
]

NOBODY = 65534
DESCRIBE_NSM = b"\x6b" + b"DescribeNSM"   # CBOR text "DescribeNSM" (nsm-api's encoding)


@pytest.fixture
def rt():
    # A state directory other host users can traverse (pytest's tmp is 0700),
    # as /run/cloister is: only the socket's own check may keep them out.
    top = Path(tempfile.mkdtemp(prefix="cloister-sec-", dir="/tmp"))
    top.chmod(0o755)
    r = Runtime(top)
    r.run_dir.mkdir(mode=0o755, exist_ok=True)
    yield r
    r.cleanup()
    assert r.describe() == []
    shutil.rmtree(top, ignore_errors=True)


def nsm_transact(path):
    """DescribeNSM over the socket at path: the response bytes, or None when
    the connection was closed without an answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(path))
    s.sendall(struct.pack(">I", len(DESCRIBE_NSM)) + DESCRIBE_NSM)
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            s.close()
            return None
        head += chunk
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            break
        body += chunk
    s.close()
    return body


def nsm_as_nobody(path):
    """The same from a child process running as host uid 65534."""
    code = ("import socket,struct,sys\n"
            "s=socket.socket(socket.AF_UNIX);s.settimeout(30)\n"
            "try:\n"
            " s.connect(sys.argv[1])\n"
            "except PermissionError:\n"
            " print('DENIED');sys.exit(0)\n"
            "try:\n"
            f" r={DESCRIBE_NSM!r};s.sendall(struct.pack('>I',len(r))+r);d=s.recv(4)\n"
            "except (ConnectionResetError, BrokenPipeError):\n"
            " d=b''\n"
            "print('ANSWER' if d else 'CLOSED')\n")

    def drop():
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    p = subprocess.run(["/usr/bin/python3", "-c", code, str(path)], preexec_fn=drop,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr


def monitor_fds(rt, enclave_id):
    pid = rt.record(enclave_id)["ProcessID"]
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            out.append(os.readlink(fd))
        except OSError:
            pass
    return out


def test_nsm_socket_seccomp_and_eif_copy(rt):
    tmp = rt.tmp
    eif, _ = build_image(tmp, "sec", ["/bin/probe", "hostvsock", "hostvsock-hi", "listen=5005"])
    # S3: the EIF belongs to another user, who could rewrite it at any time
    os.chown(eif, NOBODY, NOBODY)
    info, _ = rt.run_enclave(eif, "--debug-mode")
    eid = info["EnclaveID"]

    # S2: both forms of AF_VSOCK reach the emulation, never the host's: the
    # host (CID 2) is unreachable from an enclave
    res = probe_results(rt.console_lines(eid, until="PROBE hostvsock-hi"))
    assert res["hostvsock"] == ("fail", "EHOSTUNREACH")
    assert res["hostvsock-hi"] == ("fail", "EHOSTUNREACH"), res.get("hostvsock-hi")

    # S1: the endpoint lives in the monitor's own tmpfs (its mount
    # namespace), not at a path of the host's...
    mon = rt.record(eid)["ProcessID"]
    assert not (rt.run_dir / "enclaves" / eid / "nsm.sock").exists()
    assert not (rt.run_dir / "vsock" / "ctl" / "nsm").exists()
    sock = Path(f"/proc/{mon}/root") / str(rt.run_dir / "vsock" / "ctl" / "nsm").lstrip("/")
    assert sock.stat().st_mode & 0o777 == 0o666
    # ...host root is answered (a DescribeNSM response map)...
    answer = nsm_transact(sock)
    assert answer is not None and b"DescribeNSM" in answer and eid.encode() in answer
    # ...another host user cannot reach it (/proc/PID/root is the monitor's)
    rc, out, err = nsm_as_nobody(sock)
    assert (rc, out) == (0, "DENIED"), err
    # (the monitor's own check of its peer's uid stays behind this wall:
    # tests/unit/runtime/rt_security_test.c, test_nsm_peer_check)

    # S3: the monitor runs from a sealed copy, not from the user's file
    fds = monitor_fds(rt, eid)
    assert any(f.startswith("/memfd:cloister-eif") for f in fds), fds
    assert str(eif) not in fds

    # the control: a root-owned 0644 EIF is used in place
    eif2, _ = build_image(tmp, "sec2", ["/bin/probe", "listen=5006"])
    os.chmod(eif2, 0o644)
    info2, _ = rt.run_enclave(eif2)
    fds2 = monitor_fds(rt, info2["EnclaveID"])
    assert not any(f.startswith("/memfd:cloister-eif") for f in fds2), fds2
    assert str(eif2) in fds2

    # S5: a PID limit of a quarter of the host's PIDs (256..32768), never
    # above the host-wide cap; the enclave's processes in its leaf
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    rec = rt.record(eid)
    pids_dirs = [d for d in rec["Internal"]["Cgroups"] if Path(d, "pids.max").exists()]
    if not pids_dirs:
        assert any(x.startswith("pids:") for x in rec.get("LimitsNotApplied", [])), rec
    else:
        cap = int(Path(pids_dirs[0]).parent.joinpath("pids.max").read_text())
        want = str(min(cap, max(256, min(32768, pid_max // 4))))
        assert Path(pids_dirs[0], "pids.max").read_text().strip() == want
        assert str(rec["Internal"]["EnclavePID"]) in Path(pids_dirs[0], "enclave", "cgroup.procs").read_text().split()


# ---- hostile EIFs: ramdisks crafted entry by entry --------------------------

def newc(entries):
    """A cpio newc archive of (name, mode, data, nlink, rdev) as given,
    without any of cpio(1)'s checks: names may climb, links may point out."""
    out, ino = b"", 1
    for name, mode, data, nlink, rdev in entries + [("TRAILER!!!", 0, b"", 1, (0, 0))]:
        nb = name.encode() + b"\0"
        head = b"070701" + b"".join(b"%08x" % v for v in (
            ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0))
        out += head + nb + b"\0" * ((-(110 + len(nb))) % 4) + data + b"\0" * ((-len(data)) % 4)
        ino += 1
    return out


def reg(name, data=b"x", mode=0o644):
    return (name, 0o100000 | mode, data, 1, (0, 0))


def dire(name):
    return (name, 0o040755, b"", 2, (0, 0))


def hostile_eif(tmp, name, customer):
    from test_nitro_eif import write_eif
    eif = Path(tmp) / f"{name}.eif"
    write_eif(eif, b"\0" * 4096, b"console=ttyS0", [newc([dire("dev")]), newc(customer)])
    return eif


def base_customer():
    return [dire("rootfs"), dire("rootfs/bin"), reg("env", b"PATH=/bin\n")]


def test_hostile_ramdisks_stay_inside(rt):
    tmp = rt.tmp
    marker = Path(tempfile.mkdtemp(prefix="cloister-host-", dir="/tmp"))
    try:
        # a name that climbs out of the enclave's root
        climb = "../" * 12 + str(marker / "climbed").lstrip("/")
        eif = hostile_eif(tmp, "climb", base_customer() + [reg("cmd", b"/bin/x\n"), reg(climb)])
        p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "64", "--cpu-count", "1")
        assert p.returncode != 0
        assert not (marker / "climbed").exists()

        # a symlink to a host directory, then a file through it: the link is
        # replaced by a directory of the enclave's own (libarchive's
        # SECURE_SYMLINKS with UNLINK), never followed
        eif = hostile_eif(tmp, "link", base_customer() + [
            reg("cmd", b"/bin/x\n"), ("rootfs/out", 0o120777, str(marker).encode(), 1, (0, 0)),
            reg("rootfs/out/through-link")])
        p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "64", "--cpu-count", "1")
        assert not (marker / "through-link").exists()
        assert list(marker.iterdir()) == []
        if p.returncode == 0:
            rt.cl("terminate-enclave", "--all")

        # a hard link to a host file (absolute) does not reach the host either
        (marker / "victim").write_text("host data")
        eif = hostile_eif(tmp, "hard", base_customer() + [
            reg("cmd", b"/bin/x\n"), (f"rootfs/hl", 0o100644, b"", 2, (0, 0))])
        # (newc expresses a hard link by a shared inode; libarchive resolves it
        # within the archive only, so nothing outside can be named)
        p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "64", "--cpu-count", "1")
        assert (marker / "victim").read_text() == "host data"
        if p.returncode == 0:
            rt.cl("terminate-enclave", "--all")

        # cmd as a FIFO: refused at once instead of waiting for a writer
        eif = hostile_eif(tmp, "fifo", base_customer() + [("cmd", 0o010644, b"", 1, (0, 0))])
        p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "64", "--cpu-count", "1")
        assert p.returncode != 0
        assert "the image's /cmd is not a readable file under 1 MiB" in p.stdout + p.stderr, \
            p.stdout + p.stderr
    finally:
        shutil.rmtree(marker, ignore_errors=True)


def test_netlink_route_only(rt):
    """Netlink: the enclave's own routes (NETLINK_ROUTE, by SOCK_DGRAM and by
    SOCK_RAW as glibc and iproute2 open it) and nothing else: the host's
    device events (NETLINK_KOBJECT_UEVENT bound to group 1 received the
    host's uevents before) and every other protocol are refused (EPERM)."""
    eif, _ = build_image(rt.tmp, "nl", ["/bin/probe", "--exit", "netlink"])
    info, _ = rt.run_enclave(eif, "--debug-mode")
    res = probe_results(rt.console_lines(info["EnclaveID"], until="PROBE route-links"))
    assert res["netlink-0"] == ("ok", "")
    for proto in range(1, 32):
        assert res[f"netlink-{proto}"] == ("fail", "EPERM"), (proto, res[f"netlink-{proto}"])
    assert res["uevent-bind"] == ("fail", "EPERM")
    assert res["netlink-hi"] == ("fail", "EPERM")
    assert res["route-links"] == ("ok", "lo")
