# SPDX-License-Identifier: Apache-2.0
"""The enclave runtime with real enclaves: run-enclave, describe-enclaves,
console, terminate-enclave (one, by name, --all), several enclaves at once,
stale records of a crashed monitor, every wrong flag with its exact error,
and the NSM of an enclave (a document whose PCR0 is describe-eif's, accepted
by verify-attestation with the local root; zeros in debug mode).

Each test has its own runtime directory (CLOISTER_RUN_DIR) and attestation
CA (CLOISTER_CA_DIR), so the files run side by side. Test images are made
with `cloister build-enclave --rootfs` from cloister-enclave-probe (a test
program of src/runtime/probe, dynamically linked: the image carries it and
the libraries ldd names). The helpers here are also used by
test_runtime_isolation.py."""
import hashlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR, BUILD_DIR, run

PROBE = BUILD_DIR / "tests" / "programs" / "cloister-enclave-probe"
ID_RE = re.compile(r"^i-0000000000000000-enc[0-9a-f]{16}$")
RUN_INFO_KEYS = ["EnclaveName", "EnclaveID", "ProcessID", "EnclaveCID", "NumberOfCPUs",
                 "CPUIDs", "MemoryMiB"]
DESCRIBE_KEYS = RUN_INFO_KEYS + ["State", "Flags", "Measurements"]
ZERO = "0" * 96

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="enclaves need root (namespaces, cgroups)"),
    pytest.mark.skipif(not (BIN_DIR / "cloister-monitor").exists(), reason="cloister-monitor not built"),
]


# --------------------------------------------------------------------------
# helpers (shared with test_runtime_isolation.py)

def online_cpus():
    text = Path("/sys/devices/system/cpu/online").read_text().strip()
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


class Runtime:
    """A runtime directory and attestation CA of one test."""

    def __init__(self, tmp, init_ca=True):
        self.tmp = Path(tmp)
        self.run_dir = self.tmp / "run"
        self.ca_dir = self.tmp / "ca"
        self.env = {"CLOISTER_RUN_DIR": str(self.run_dir), "CLOISTER_CA_DIR": str(self.ca_dir)}
        if init_ca:
            self.cl("attestation-ca", "init", "--ca-dir", self.ca_dir, check=True)

    def cl(self, *args, check=False, timeout=120):
        return run([BIN_DIR / "cloister", *args], env=self.env, check=check, timeout=timeout)

    def run_enclave(self, eif, *flags, memory="128", cpus="1"):
        args = ["run-enclave", "--eif-path", eif, "--memory", memory, "--cpu-count", cpus, *flags]
        p = self.cl(*args, check=True)
        return json.loads(p.stdout), p.stderr

    def describe(self, *flags):
        return json.loads(self.cl("describe-enclaves", *flags, check=True).stdout)

    def record(self, enclave_id):
        return json.loads((self.run_dir / "enclaves" / enclave_id / "record.json").read_text())

    def console_lines(self, enclave_id, until="PROBE-DONE", limit=90):
        """Streams the console until a line starts with `until` (or it ends)."""
        p = subprocess.Popen([str(BIN_DIR / "cloister"), "console", "--enclave-id", enclave_id],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **self.env})
        lines, done = [], threading.Event()

        def reader():
            for line in p.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith(until):
                    break
            done.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        done.wait(limit)   # a safety limit, not a timing assertion
        p.kill()
        _, err = p.communicate()
        t.join(5)
        assert lines, f"no console output; stderr: {err}"
        return list(lines)

    def cleanup(self):
        self.cl("terminate-enclave", "--all")


def copy_with_libs(binary, root, dest):
    """Copies an executable into root at dest with every library ldd names."""
    target = root / dest.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    out = run(["ldd", binary], check=True).stdout
    for lib in re.findall(r"(/\S+)", out):
        t = root / lib.lstrip("/")
        if not t.exists():
            t.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(lib), t)


def build_image(tmp, name, cmd, extra=(), root=None):
    """An EIF whose root (a new directory, or root with what it holds) has
    the probe (as /bin/probe) and extra binaries (as /bin/<name>), running
    cmd (a list). Returns (path, describe-eif JSON)."""
    root = root or Path(tmp) / f"{name}-root"
    copy_with_libs(PROBE, root, "/bin/probe")
    for b in extra:
        copy_with_libs(b, root, "/bin/" + Path(b).name)
    eif = Path(tmp) / f"{name}.eif"
    run([BIN_DIR / "cloister", "build-enclave", "--rootfs", root, "--cmd", json.dumps(cmd),
         "--output-file", eif], check=True)
    desc = json.loads(run([BIN_DIR / "cloister", "describe-eif", "--eif-path", eif], check=True).stdout)
    return eif, desc


def probe_results(lines):
    """{check: (status, rest)} from the probe's console lines."""
    out = {}
    for line in lines:
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "PROBE":
            out[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")
    return out


def wait_gone(pid, limit=30):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace") if Path(f"/proc/{pid}/stat").exists() else ""
        if ") Z" in stat:
            return True
        time.sleep(0.05)
    return False


def cgroup_dirs(enclave_id):
    return [p for p in Path("/sys/fs/cgroup").glob(f"*/cloister/{enclave_id}")] + \
           [p for p in Path("/sys/fs/cgroup").glob(f"cloister/{enclave_id}")]


def vsock_exec(*argv):
    """A parent command line on the emulated vsock: never the host's AF_VSOCK,
    which leads out of these machines (docs/vsock.md §6)."""
    return [str(BIN_DIR / "cloister"), "exec", "--", *[str(a) for a in argv]]


class VsockListener:
    """A parent program on the emulated vsock (python3 under `cloister
    exec`): accepts one connection on port and returns what it sent."""

    def __init__(self, rt, port):
        code = ("import socket,sys\n"
                "s=socket.socket(socket.AF_VSOCK,socket.SOCK_STREAM)\n"
                "s.bind((socket.VMADDR_CID_ANY,int(sys.argv[1])));s.listen(1)\n"
                "print('LISTENING',flush=True)\n"
                "c,a=s.accept();d=b''\n"
                "while True:\n"
                "    b=c.recv(65536)\n"
                "    if not b: break\n"
                "    d+=b\n"
                "print(a[0],d.decode(),flush=True)\n")
        env = {**os.environ, **rt.env}
        self.p = subprocess.Popen(vsock_exec("/usr/bin/python3", "-c", code, str(port)), env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "LISTENING", self.p.stderr.read()

    def result(self, limit=60):
        try:
            out, err = self.p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
        return out, err


def vsock_client(rt, cid, port):
    """The parent connects to (cid, port) over the emulated vsock; returns the reply."""
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_VSOCK,socket.SOCK_STREAM)\n"
            "s.connect((int(sys.argv[1]),int(sys.argv[2])))\n"
            "print(s.recv(100).decode().strip())\n")
    return run(vsock_exec("/usr/bin/python3", "-c", code, cid, port), env=rt.env, timeout=60)


@pytest.fixture(scope="module")
def sleeper(tmp_path_factory):
    """An image that reports its host name, then stays up."""
    return build_image(tmp_path_factory.mktemp("img"), "sleeper", ["/bin/probe", "hostname"])


# --------------------------------------------------------------------------
# lifecycle

def test_run_describe_console_terminate(rt, sleeper):
    eif, desc = sleeper
    info, err = rt.run_enclave(eif, "--debug-mode", "--enclave-name", "first")
    assert list(info) == RUN_INFO_KEYS
    assert info["EnclaveName"] == "first"
    assert ID_RE.match(info["EnclaveID"])
    assert info["EnclaveCID"] == 16
    assert info["NumberOfCPUs"] == 1 and len(info["CPUIDs"]) == 1
    assert info["CPUIDs"][0] in online_cpus()
    assert info["MemoryMiB"] == 128
    assert err.splitlines() == [
        "Start allocating memory...",
        f"Started enclave with enclave-cid: 16, memory: 128 MiB, cpu-ids: [{info['CPUIDs'][0]}]"]
    monitor = info["ProcessID"]
    assert Path(f"/proc/{monitor}/cmdline").read_bytes().split(b"\0")[0] == b"cloister-monitor"

    described = rt.describe()
    assert len(described) == 1
    d = described[0]
    assert list(d) == DESCRIBE_KEYS
    assert {k: d[k] for k in RUN_INFO_KEYS} == info
    assert d["State"] == "RUNNING" and d["Flags"] == "DEBUG_MODE"
    assert d["Measurements"] == desc["Measurements"]
    meta = rt.describe("--metadata")[0]
    assert list(meta) == DESCRIBE_KEYS + ["ImageName", "ImageVersion", "Metadata"]
    assert meta["ImageName"] == desc["ImageName"]
    assert meta["ImageVersion"] == desc["ImageVersion"]
    assert meta["Metadata"] == desc["Metadata"]

    lines = rt.console_lines(info["EnclaveID"])
    assert lines[:2] == ["Connecting to the console for enclave 16...",
                         "Successfully connected to the console."]
    assert "PROBE hostname ok enclave" in lines
    # the console by name, with a disconnect timeout: ends by itself
    p = rt.cl("console", "--enclave-name", "first", "--disconnect-timeout", "1")
    assert p.returncode == 0 and "PROBE hostname ok enclave" in p.stdout

    p = rt.cl("terminate-enclave", "--enclave-id", info["EnclaveID"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"EnclaveName": "first", "EnclaveID": info["EnclaveID"],
                                    "Terminated": True}
    assert list(json.loads(p.stdout)) == ["EnclaveName", "EnclaveID", "Terminated"]
    assert p.stderr == f"Successfully terminated enclave {info['EnclaveID']}.\n"
    assert wait_gone(monitor)
    assert rt.describe() == []
    edir = rt.run_dir / "enclaves"
    assert not edir.exists() or list(edir.iterdir()) == []
    assert cgroup_dirs(info["EnclaveID"]) == []
    assert not (rt.run_dir / "vsock" / "ctl" / "16").exists()


def test_first_run_enclave_creates_the_attestation_ca(tmp_path, sleeper):
    """No CA yet: the first run-enclave makes it and says so once, with the
    root's fingerprint; two run-enclave at once make one CA between them
    (the creation is locked); later ones say nothing about it; the
    enclaves' documents verify against that root."""
    r = Runtime(tmp_path, init_ca=False)
    try:
        results = [None, None]

        def start(i):
            results[i] = r.cl("run-enclave", "--eif-path", sleeper[0], "--memory", "128",
                              "--cpu-count", "1")

        threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [p.returncode for p in results] == [0, 0], [p.stderr for p in results]
        root = r.ca_dir / "root.pem"
        fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(root.read_text())).hexdigest()
        created = (f"Created the attestation CA in {r.ca_dir}: its root certificate {root} has "
                   f"the SHA-256 fingerprint {fingerprint}")
        lines = [p.stderr.splitlines() for p in results]
        assert sorted(len(x) for x in lines) == [2, 3]
        first = max(lines, key=len)
        assert first[0] == created
        assert [x[-2] for x in lines] == ["Start allocating memory..."] * 2
        assert sum(p.stderr.count("attestation CA") for p in results) == 1
        assert json.loads(r.cl("attestation-ca", "show", "--ca-dir", r.ca_dir,
                               check=True).stdout)["RootSHA256"] == fingerprint
        assert oct((r.ca_dir / "private").stat().st_mode & 0o777) == "0o700"

        _, err = r.run_enclave(sleeper[0])
        assert err.splitlines()[0] == "Start allocating memory..."
        assert "attestation CA" not in err
        assert len(r.describe()) == 3
    finally:
        r.cleanup()
    assert r.describe() == []


def test_a_ca_without_its_keys_is_said_once(tmp_path, sleeper):
    """A CA directory with only a root.pem (a relying party's copy) is not
    replaced; the enclave's boot failure says why, once."""
    r = Runtime(tmp_path, init_ca=False)
    other = Runtime(tmp_path / "other")
    r.ca_dir.mkdir()
    shutil.copy(other.ca_dir / "root.pem", r.ca_dir / "root.pem")
    p = r.cl("run-enclave", "--eif-path", sleeper[0], "--memory", "128", "--cpu-count", "1")
    assert (p.returncode, p.stdout) == (36, "")
    assert p.stderr == ("Start allocating memory...\n"
                        f"[ E36 ] Enclave boot failure. '{r.ca_dir}' holds a root.pem but not the "
                        f"CA's private keys ({r.ca_dir}/private)\n")
    assert sorted(x.name for x in r.ca_dir.iterdir()) == ["root.pem"]
    assert r.describe() == []


def test_console_refused_without_debug_mode(rt, sleeper):
    info, _ = rt.run_enclave(sleeper[0])
    assert rt.describe()[0]["Flags"] == "NONE"
    p = rt.cl("console", "--enclave-id", info["EnclaveID"])
    assert p.returncode == 44
    assert p.stderr == ("[ E44 ] Enclave console connection failure. The enclave "
                        f"{info['EnclaveID']} was not started in debug mode (--debug-mode): "
                        "its console cannot be read.\n")
    assert p.stdout == ""
    p = rt.cl("terminate-enclave", "--enclave-name", "sleeper")
    assert p.returncode == 0 and json.loads(p.stdout)["EnclaveID"] == info["EnclaveID"]


def test_unknown_enclave(rt):
    p = rt.cl("terminate-enclave", "--enclave-id", "i-0000000000000000-enc0000000000000001")
    assert p.returncode == 40
    assert p.stderr == ("[ E40 ] Socket path not found. No enclave with ID "
                        f"'i-0000000000000000-enc0000000000000001' is running (no record under {rt.run_dir}).\n")
    p = rt.cl("console", "--enclave-name", "nope")
    assert (p.returncode, p.stderr) == (58, "[ E58 ] Enclave naming error. No enclave named 'nope' is running.\n")
    p = rt.cl("terminate-enclave", "--all")
    assert (p.returncode, json.loads(p.stdout)) == (0, [])
    assert rt.describe() == []


def test_several_at_once_names_cids_and_terminate_all(rt, sleeper):
    eif = sleeper[0]
    results = [None] * 3

    def start(i):
        results[i] = rt.cl("run-enclave", "--eif-path", eif, "--memory", "128", "--cpu-count", "1")

    threads = [threading.Thread(target=start, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    infos = []
    for p in results:
        assert p.returncode == 0, p.stderr
        infos.append(json.loads(p.stdout))
    assert sorted(i["EnclaveCID"] for i in infos) == [16, 17, 18]
    assert sorted(i["EnclaveName"] for i in infos) == ["sleeper", "sleeper_1", "sleeper_2"]
    assert len({i["EnclaveID"] for i in infos}) == 3
    # an explicit CID, then the same CID again
    fourth, _ = rt.run_enclave(eif, "--enclave-cid", "40", cpus=str(len(online_cpus())))
    assert fourth["EnclaveCID"] == 40 and fourth["EnclaveName"] == "sleeper_3"
    assert fourth["CPUIDs"] == online_cpus()   # enclaves share CPUs with the parent
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "128", "--cpu-count", "1",
              "--enclave-cid", "40")
    assert p.returncode == 33
    assert p.stderr == "Start allocating memory...\n" + E(33, "Start enclave ioctl failure",
                                                          "the enclave CID 40 is already in use")
    # CID 0 means: pick one
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "128", "--cpu-count", "1", "--enclave-cid", "0")
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith("The enclave CID will be auto-generated as the provided CID is 0\n")
    assert json.loads(p.stdout)["EnclaveCID"] == 19
    described = rt.describe()
    assert [d["EnclaveCID"] for d in described] == [16, 17, 18, 19, 40]

    p = rt.cl("terminate-enclave", "--all")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert sorted(o["EnclaveID"] for o in out) == sorted(d["EnclaveID"] for d in described)
    assert all(list(o) == ["EnclaveName", "EnclaveID", "Terminated"] and o["Terminated"] for o in out)
    assert sorted(p.stderr.splitlines()) == sorted(
        f"Successfully terminated enclave {d['EnclaveID']}." for d in described)
    assert rt.describe() == []
    for d in described:
        assert wait_gone(d["ProcessID"])


def test_stale_record_of_a_crashed_monitor_is_cleaned(rt, sleeper):
    info, _ = rt.run_enclave(sleeper[0], "--debug-mode")
    rec = rt.record(info["EnclaveID"])
    init_pid = rec["Internal"]["EnclavePID"]
    assert init_pid > 0
    os.kill(info["ProcessID"], signal.SIGKILL)
    assert wait_gone(info["ProcessID"])
    # the enclave dies with its monitor (PR_SET_PDEATHSIG, then its PID namespace)
    assert wait_gone(init_pid)
    edir = rt.run_dir / "enclaves" / info["EnclaveID"]
    assert (edir / "record.json").exists()          # left behind by the crash
    assert rt.describe() == []                      # detected and cleaned
    assert not edir.exists()
    assert cgroup_dirs(info["EnclaveID"]) == []
    assert not (rt.run_dir / "vsock" / "ctl" / str(info["EnclaveCID"])).exists()
    # its CID is free again
    again, _ = rt.run_enclave(sleeper[0])
    assert again["EnclaveCID"] == info["EnclaveCID"]


def test_config_file_and_memory_suffix(rt, sleeper):
    cfg = rt.tmp / "run.json"
    cfg.write_text(json.dumps({"eif_path": str(sleeper[0]), "memory_mib": 256, "cpu_count": 1,
                               "enclave_name": "from-config", "debug_mode": True, "enclave_cid": 77}))
    p = rt.cl("run-enclave", "--config", cfg)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert (info["EnclaveName"], info["EnclaveCID"], info["MemoryMiB"]) == ("from-config", 77, 256)
    assert rt.describe()[0]["Flags"] == "DEBUG_MODE"
    info2, _ = rt.run_enclave(sleeper[0], memory="1G")
    assert info2["MemoryMiB"] == 1024
    p = rt.cl("run-enclave", "--eif-path", sleeper[0], "--memory", "300m", "--cpu-ids", str(online_cpus()[-1]))
    assert p.returncode == 0, p.stderr
    info3 = json.loads(p.stdout)
    assert info3["MemoryMiB"] == 300 and info3["CPUIDs"] == [online_cpus()[-1]]


# --------------------------------------------------------------------------
# wrong flags: exact errors, nothing started

def E(code, title, detail):
    return f"[ E{code:02d} ] {title}. {detail}\n"


def flag_cases(eif):
    n = len(online_cpus())
    base = ["--eif-path", eif, "--memory", "128"]
    return [
        (["--eif-path", eif, "--cpu-count", "1"], 1,
         E(1, "Missing mandatory argument", "User did not provide the `memory` argument.")),
        (["--memory", "128", "--cpu-count", "1"], 1,
         E(1, "Missing mandatory argument", "User did not provide the `eif-path` argument.")),
        (base, 1, E(1, "Missing mandatory argument", "User did not provide the `cpu-count` argument.")),
        (base + ["--cpu-count", "1", "--cpu-ids", "0"], 2,
         E(2, "Conflicting arguments", "User provided both `cpu-count` and `cpu-ids`.")),
        (["--eif-path", eif, "--memory", "256_mb", "--cpu-count", "1"], 3,
         E(3, "Invalid argument provided", "The parameter `memory` is not a valid integer (`256_mb`)")),
        (["--eif-path", eif, "--memory", "12K", "--cpu-count", "1"], 3,
         E(3, "Invalid argument provided", "The parameter `memory` is not a valid integer (`12K`)")),
        (base + ["--cpu-count", "one"], 3,
         E(3, "Invalid argument provided", "The parameter `cpu-count` is not a valid integer (`one`)")),
        (base + ["--cpu-ids", "0", "x"], 3,
         E(3, "Invalid argument provided", "The parameter `cpu-id` is not a valid integer (`x`)")),
        (base + ["--cpu-count", "1", "--enclave-cid", "0x1g"], 3,
         E(3, "Invalid argument provided", "The parameter `enclave-cid` is not a valid integer (`0x1g`)")),
        (base + ["--cpu-count", "1", "--enclave-cid", "1"], 3,
         E(3, "Invalid argument provided", "CID 1 is a well-known CID, not to be used for enclaves")),
        (base + ["--cpu-count", "1", "--enclave-cid", "2"], 3,
         E(3, "Invalid argument provided", "CID 2 is a well-known CID, not to be used for enclaves")),
        (base + ["--cpu-count", "1", "--enclave-cid", "3"], 3,
         E(3, "Invalid argument provided", "CID 3 is the CID of the parent VM, not to be used for enclaves")),
        (base + ["--cpu-count", "1", "--enclave-cid", "4294967295"], 3,
         E(3, "Invalid argument provided", "CID 4294967295 is a well-known CID, not to be used for enclaves")),
        (base + ["--cpu-count", "1", "--enclave-cid", "4294967296"], 3,
         E(3, "Invalid argument provided",
           "CID 4294967296 is higher than the maximum supported (u32 max) for a vsock device")),
        (base + ["--cpu-count", "1", "--bogus"], 3,
         E(3, "Invalid argument provided", "Found argument '--bogus' which wasn't expected")),
        (base + ["--cpu-count", "1", "--memory", "64"], 3,
         E(3, "Invalid argument provided", "The argument '--memory' was provided more than once")),
        (["--eif-path", eif, "--memory", "0", "--cpu-count", "1"], 26,
         E(26, "Insufficient memory requested",
           "User provided `memory` is 0 MB, and memory should be greater than 0 MB.")),
        (base + ["--cpu-count", str(n + 1)], 22,
         E(22, "Insufficient CPUs available in the pool",
           f"User provided `cpu-count` is {n + 1}, which is more than the configured CPU pool size.\n"
           f"Cloister enclaves share the {n} online CPUs of this host.")),
        (base + ["--cpu-ids", "0", "0"], 20,
         E(20, "Invalid CPU configuration",
           "User provided `cpu-ids` contains same CPU(s) (CPU(s) 0) multiple times.")),
        (base + ["--cpu-ids", "999"], 21,
         E(21, "No such CPU available in the pool",
           "User provided `cpu-ids` contains CPU 999, which is not available in the pool.")),
        (["--eif-path", "/nonexistent.eif", "--memory", "128", "--cpu-count", "1"], 19,
         E(19, "File operation failure",
           "File: '/nonexistent.eif', failing operation: 'Open' (No such file or directory).")),
        (base + ["--cpu-count", "1", "--enclave-name", ""], 58,
         E(58, "Enclave naming error", "The enclave name must be 1 to 128 printable characters.")),
    ]


def test_wrong_flags(rt, sleeper):
    for args, code, stderr in flag_cases(str(sleeper[0])):
        p = rt.cl("run-enclave", *args)
        assert (p.returncode, p.stderr, p.stdout) == (code, stderr, ""), args
    assert rt.describe() == []


def test_wrong_config_files(rt, sleeper):
    eif = str(sleeper[0])
    cases = [
        ({"eif_path": eif, "memory_mib": 128}, 1,
         E(1, "Missing mandatory argument", "Missing both `cpu-count` and `cpu-ids`")),
        ({"eif_path": eif, "memory_mib": 128, "cpu_count": 1, "cpu_ids": [0]}, 2,
         E(2, "Conflicting arguments", "`cpu-count` and `cpu-ids` cannot be used together")),
        ({"eif_path": eif, "memory_mib": 128, "cpu_count": 1, "debug-mode": True}, 17,
         E(17, "Serialization error", "Invalid JSON format for config file: unknown field `debug-mode`")),
        ({"eif_path": eif, "cpu_count": 1}, 17,
         E(17, "Serialization error", "Invalid JSON format for config file: `memory_mib` is missing")),
        ({"eif_path": eif, "memory_mib": "128", "cpu_count": 1}, 17,
         E(17, "Serialization error",
           "Invalid JSON format for config file: `memory_mib` must be an unsigned integer")),
        ({"eif_path": eif, "memory_mib": 128, "cpu_count": 1, "enclave_cid": 3}, 3,
         E(3, "Invalid argument provided", "CID 3 is the CID of the parent VM, not to be used for enclaves")),
    ]
    for i, (cfg, code, stderr) in enumerate(cases):
        f = rt.tmp / f"cfg{i}.json"
        f.write_text(json.dumps(cfg))
        p = rt.cl("run-enclave", "--config", f)
        assert (p.returncode, p.stderr) == (code, stderr), cfg
    f = rt.tmp / "cfg-ok.json"
    f.write_text(json.dumps({"eif_path": eif, "memory_mib": 128, "cpu_count": 1}))
    p = rt.cl("run-enclave", "--config", f, "--memory", "128")
    assert (p.returncode, p.stderr) == (2, E(2, "Conflicting arguments",
                                             "User provided both `config` and `memory`."))
    dup = rt.tmp / "dup.json"
    dup.write_text('{"eif_path": "%s", "memory_mib": 128, "memory_mib": 256, "cpu_count": 1}' % eif)
    p = rt.cl("run-enclave", "--config", dup)
    assert p.returncode == 17 and p.stderr.startswith(
        "[ E17 ] Serialization error. Invalid JSON format for config file: duplicate object key")
    p = rt.cl("run-enclave", "--config", rt.tmp / "missing.json")
    assert p.returncode == 19 and p.stderr.startswith(
        "[ E19 ] File operation failure. Failed to open config file: ")
    assert rt.describe() == []


def test_image_checks_leave_nothing_behind(rt, sleeper):
    eif = sleeper[0]
    size = eif.stat().st_size
    minimum = -(-4 * size // (1024 * 1024))
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", str(minimum - 1), "--cpu-count", "1")
    assert p.returncode == 26
    assert p.stderr == "Start allocating memory...\n" + E(
        26, "Insufficient memory requested",
        f"User provided `memory` is {minimum - 1} MB, but based on the EIF file size, "
        f"the minimum memory should be {minimum} MB")
    # a corrupted byte: the monitor measures the file itself and refuses the CRC
    bad = rt.tmp / "bad.eif"
    data = bytearray(eif.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    p = rt.cl("run-enclave", "--eif-path", bad, "--memory", "128", "--cpu-count", "1")
    assert p.returncode == 35
    assert re.fullmatch(r"Start allocating memory\.\.\.\n\[ E35 \] EIF file parsing error\. the CRC "
                        r"of '.*bad\.eif' does not match \(stored [0-9a-f]{8}, computed [0-9a-f]{8}\)\n",
                        p.stderr), p.stderr
    # not an EIF at all
    junk = rt.tmp / "junk.eif"
    junk.write_bytes(b"not an eif" * 100)
    p = rt.cl("run-enclave", "--eif-path", junk, "--memory", "128", "--cpu-count", "1")
    assert p.returncode == 35, p.stderr
    assert rt.describe() == []
    edir = rt.run_dir / "enclaves"
    assert not edir.exists() or list(edir.iterdir()) == []


def test_wrong_flags_of_the_other_commands(rt):
    cases = [
        (["console"], 1, E(1, "Missing mandatory argument", "User did not provide the `enclave-id` argument.")),
        (["console", "--enclave-id", "a", "--enclave-name", "b"], 2,
         E(2, "Conflicting arguments", "User provided both `enclave-id` and `enclave-name`.")),
        (["console", "--enclave-name", "x", "--disconnect-timeout", "soon"], 3,
         E(3, "Invalid argument provided",
           "The parameter `disconnect-timeout` is not a valid integer (`soon`)")),
        (["terminate-enclave"], 1,
         E(1, "Missing mandatory argument", "User did not provide the `enclave-id` argument.")),
        (["terminate-enclave", "--enclave-id", "a", "--all"], 2,
         E(2, "Conflicting arguments", "User provided both `enclave-id` and `all`.")),
        (["describe-enclaves", "--verbose"], 3,
         E(3, "Invalid argument provided", "Found argument '--verbose' which wasn't expected")),
    ]
    for args, code, stderr in cases:
        p = rt.cl(*args)
        assert (p.returncode, p.stderr) == (code, stderr), args


# --------------------------------------------------------------------------
# the NSM of an enclave

def nsm_document(rt, tmp, debug):
    port = 7100 + (1 if debug else 0)
    eif, desc = build_image(tmp, "nsm-debug" if debug else "nsm",
                            ["/bin/probe", f"sendrun={port}:/bin/cloister-nsm,attest,--nonce,0a0b0c"],
                            extra=[BIN_DIR / "cloister-nsm"])
    listener = VsockListener(rt, port)
    info, _ = rt.run_enclave(eif, *(["--debug-mode"] if debug else []))
    out, err = listener.result()
    cid, _, rest = out.strip().partition(" ")
    assert int(cid) == info["EnclaveCID"], (out, err)
    assert rest.startswith("PROBE run-output "), out
    doc = tmp / ("doc-debug.cose" if debug else "doc.cose")
    doc.write_bytes(bytes.fromhex(rest.split(" ", 2)[2]))
    return doc, desc, info


def verify(rt, doc, *args):
    return rt.cl("verify-attestation", "--document", doc, "--root", rt.ca_dir / "root.pem", *args)


def test_nsm_document_production(rt, tmp_path):
    doc, desc, info = nsm_document(rt, tmp_path, debug=False)
    m = desc["Measurements"]
    p = verify(rt, doc, "--pcr", f"0={m['PCR0']}", "--pcr", f"1={m['PCR1']}",
               "--pcr", f"2={m['PCR2']}", "--nonce", "0a0b0c", "--require-production", "--json")
    assert p.returncode == 0, p.stderr
    decoded = json.loads(p.stdout)
    assert info["EnclaveID"] in json.dumps(decoded)    # module_id is the enclave ID
    # another root does not verify it
    other = Runtime(tmp_path / "other")
    p = rt.cl("verify-attestation", "--document", doc, "--root", other.ca_dir / "root.pem")
    assert p.returncode != 0


def test_nsm_document_debug_mode_has_zero_pcrs(rt, tmp_path):
    doc, desc, info = nsm_document(rt, tmp_path, debug=True)
    p = verify(rt, doc, "--pcr", f"0={ZERO}", "--pcr", f"1={ZERO}", "--pcr", f"2={ZERO}")
    assert p.returncode == 0, p.stderr
    p = verify(rt, doc, "--pcr", f"0={desc['Measurements']['PCR0']}")
    assert p.returncode != 0
    # describe-enclaves still shows the image's PCRs, and says it is a debug enclave
    d = rt.describe()[0]
    assert d["Flags"] == "DEBUG_MODE" and d["Measurements"] == desc["Measurements"]
