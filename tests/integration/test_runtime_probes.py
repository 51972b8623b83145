# SPDX-License-Identifier: Apache-2.0
"""Exhaustion and host-information probes from inside real enclaves
(cloister-enclave-probe), one test per finding of the runtime's red-team
pass, each failing on the runtime before it was fixed:

1. the monitor's work for an enclave (NSM documents, the console, vsock)
   runs inside the enclave's cgroups: on its CPUs, in its memory and PID
   limits (it ran in the host's root cgroup with every CPU);
2. host uevents: test_runtime_security.py::test_netlink_route_only;
3. all enclaves together live under one parent cgroup whose PID, memory
   and CPU limits the host sets (allocator.yaml): fork bombs in several
   enclaves at once stop at that cap, and run-enclave refuses what the
   pool cannot take (E21, E22, E27);
4. /proc shows the enclave's own machine: no host path in mountinfo, its
   memory limit as MemTotal, its CPUs, its uptime, its boot_id (through
   lxcfs, started here privately as Debian packages it).

The probes that held before stay in test_runtime_isolation.py (network,
host files and processes, namespaces, mount, ptrace, raw and packet
sockets, bpf, keyrings) and here (perf, io_uring, userfaultfd, x32; kill -9
of the monitor)."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from test_runtime import BIN_DIR, E, Runtime, build_image, online_cpus, probe_results, wait_gone

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="enclaves need root (namespaces, cgroups)"),
    pytest.mark.skipif(not (BIN_DIR / "cloister-monitor").exists(), reason="cloister-monitor not built"),
]

CGROUP_ROOT = Path("/sys/fs/cgroup")


@pytest.fixture(scope="module")
def lxcfs(tmp_path_factory):
    """A private lxcfs (Debian's package), mounted in a temporary directory
    and stopped by its PID."""
    exe = shutil.which("lxcfs")
    assert exe, "lxcfs is missing: scripts/install-deps.sh test installs it"
    d = tmp_path_factory.mktemp("lxcfs")
    mnt = d / "mnt"
    mnt.mkdir()
    p = subprocess.Popen([exe, "-f", "-l", "-p", str(d / "lxcfs.pid"), str(mnt)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (mnt / "proc" / "meminfo").exists():
        assert p.poll() is None, p.stderr.read().decode()
        assert time.monotonic() < deadline, "lxcfs did not mount"
        time.sleep(0.05)
    yield mnt
    p.terminate()
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    if any(line.split()[1] == str(mnt) for line in Path("/proc/mounts").read_text().splitlines()):
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def rt(lxcfs):
    top = Path(tempfile.mkdtemp(prefix="cloister-probe-", dir="/tmp"))
    r = Runtime(top)
    r.env["CLOISTER_LXCFS"] = str(lxcfs)
    yield r
    r.cleanup()
    shutil.rmtree(top, ignore_errors=True)


def cgroup_of(pid):
    """{controller: path} of a process (v1 lines; "" for the unified one)."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctls, path = line.split(":", 2)
        for c in (ctls.split(",") if ctls else [""]):
            out[c] = path
    return out


def status_field(pid, name):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def cpu_list(ids):
    return ",".join(str(i) for i in ids)


def test_the_monitor_works_inside_the_enclaves_limits(rt, tmp_path):
    """Finding 1: four processes asking for attestation documents in a
    loop; the monitor that signs them (every thread of it) is in the
    enclave's cgroups, on the enclave's CPU; init in the enclave's leaf."""
    eif, _ = build_image(tmp_path, "nsm", ["/bin/probe", "nsmloop=4:2", "wait"])
    info, _ = rt.run_enclave(eif, "--debug-mode", cpus="1")
    eid, mon = info["EnclaveID"], info["ProcessID"]
    rec = rt.record(eid)
    init = rec["Internal"]["EnclavePID"]
    mon_cg, init_cg = cgroup_of(mon), cgroup_of(init)
    for ctl in ["cpuset", "memory", "pids"]:
        if ctl not in mon_cg:   # a controller only the unified hierarchy has
            ctl = ""
        assert mon_cg[ctl] == f"/cloister/{eid}/monitor", (ctl, mon_cg)
        assert init_cg[ctl] == f"/cloister/{eid}/enclave", (ctl, init_cg)
    want = cpu_list(info["CPUIDs"])
    assert status_field(mon, "Cpus_allowed_list") == want
    for task in Path(f"/proc/{mon}/task").iterdir():
        assert (task / "status").read_text().count(f"Cpus_allowed_list:\t{want}\n") == 1, task
    res = [l for l in rt.console_lines(eid) if l.startswith("PROBE nsmloop")]
    assert len(res) == 4 and all(re.fullmatch(r"PROBE nsmloop ok docs=[1-9]\d*", l) for l in res), res
    # the enclave's CPU time (v1 cpuacct, where the host has it) holds the monitor's
    acct = CGROUP_ROOT / "cpuacct" / "cloister" / eid
    if acct.exists():
        total = int((acct / "cpuacct.usage").read_text())
        mon_part = int((acct / "monitor" / "cpuacct.usage").read_text())
        assert 0 < mon_part < total


def allocator(tmp_path, **keys):
    p = tmp_path / "allocator.yaml"
    p.write_text("---\n" + "".join(f"{k}: {v}\n" for k, v in keys.items()))
    return p


def remove_parent(name):
    for d in CGROUP_ROOT.glob(f"*/{name}"):
        d.rmdir()
    if (CGROUP_ROOT / name).exists():
        (CGROUP_ROOT / name).rmdir()


def test_fork_bombs_stop_at_the_host_wide_cap(rt, tmp_path):
    """Finding 3: two enclaves fork as much as they can at once; together
    they stop at the host's pids_max (each enclave alone could reach a
    quarter of pid_max before), and run-enclave refuses what the pool cannot take."""
    parent = f"cloister-probe-{os.getpid()}"
    cpus = online_cpus()
    conf = allocator(tmp_path, memory_mib=300, cpu_pool=cpus[-1], pids_max=200, cgroup_parent=parent)
    rt.env["CLOISTER_ALLOCATOR"] = str(conf)
    try:
        pids = CGROUP_ROOT / "pids" / parent
        eif, _ = build_image(tmp_path, "bomb", ["/bin/probe", "sleep=1500", "forkbomb=3000"])
        infos = [rt.run_enclave(eif, "--debug-mode", cpus="1")[0] for _ in range(2)]
        assert all(i["CPUIDs"] == [cpus[-1]] for i in infos)
        # the pool's memory is taken: a third enclave is refused as nitro-cli refuses it
        p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "128", "--cpu-count", "1")
        assert (p.returncode, p.stderr) == (27, "Start allocating memory...\n" + E(
            27, "Insufficient memory available",
            f"User provided `memory` is 128 MB, but the enclaves' memory pool has 44 MB left "
            f"(memory_mib 300 in {conf}, 256 MB used by running enclaves)"))
        if len(cpus) > 1:
            p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "16", "--cpu-ids", str(cpus[0]))
            assert (p.returncode, p.stderr) == (21, E(
                21, "No such CPU available in the pool",
                f"User provided `cpu-ids` contains CPU {cpus[0]}, which is not available in the pool.\n"
                f"The CPU pool of {conf} is {cpus[-1]} (1 CPUs)."))
        p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "16", "--cpu-count", "2")
        assert (p.returncode, p.stderr) == (22, E(
            22, "Insufficient CPUs available in the pool",
            f"User provided `cpu-count` is 2, which is more than the configured CPU pool size.\n"
            f"The CPU pool of {conf} is {cpus[-1]} (1 CPUs)."))

        results = [probe_results(rt.console_lines(i["EnclaveID"], until="PROBE forkbomb"))
                   for i in infos]
        counts = []
        for r in results:
            status, rest = r["forkbomb"]
            assert status == "fail" and rest.startswith("EAGAIN count="), r["forkbomb"]
            counts.append(int(rest.split("=")[1]))
        if pids.exists():
            assert (pids / "pids.max").read_text().strip() == "200"
            assert sum(counts) <= 200, counts
            for i in infos:
                assert (pids / i["EnclaveID"] / "pids.max").read_text().strip() == "200"
        mem = CGROUP_ROOT / "memory" / parent
        if mem.exists():
            assert int((mem / "memory.limit_in_bytes").read_text()) == 300 * 1024 * 1024
        cpuset = CGROUP_ROOT / "cpuset" / parent
        if cpuset.exists():
            assert (cpuset / "cpuset.cpus").read_text().strip() == str(cpus[-1])
    finally:
        rt.cleanup()
        remove_parent(parent)


def test_a_wrong_allocator_file_is_refused(rt, tmp_path):
    conf = allocator(tmp_path, cpu_count=1, cpu_pool=0)
    rt.env["CLOISTER_ALLOCATOR"] = str(conf)
    eif, _ = build_image(tmp_path, "x", ["/bin/probe"])
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "16", "--cpu-count", "1")
    assert (p.returncode, p.stderr, p.stdout) == (20, E(
        20, "Invalid CPU configuration", f"{conf}: cpu_count and cpu_pool conflict: set only one"), "")
    rt.env["CLOISTER_ALLOCATOR"] = str(tmp_path / "missing.yaml")
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "16", "--cpu-count", "1")
    assert (p.returncode, p.stderr) == (19, E(
        19, "File operation failure", f"cannot open '{tmp_path / 'missing.yaml'}': No such file or directory"))
    assert rt.describe() == []


def host_uptime():
    return float(Path("/proc/uptime").read_text().split()[0])


def test_proc_shows_the_enclaves_own_machine(rt, tmp_path):
    """Finding 4: mountinfo names no host path; meminfo, cpuinfo, stat,
    uptime, loadavg and boot_id are the enclave's."""
    files = ["/proc/self/mountinfo", "/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime",
             "/proc/loadavg", "/proc/sys/kernel/random/boot_id"]
    eif, _ = build_image(tmp_path, "proc", ["/bin/probe", *[f"cat={f}" for f in files]])
    info, _ = rt.run_enclave(eif, "--debug-mode", memory="256", cpus="1")
    eid = info["EnclaveID"]
    lines = rt.console_lines(eid)
    text = {f: [l.split(" ", 2)[2] for l in lines if l.startswith(f"FILE {f} ")] for f in files}
    res = probe_results(lines)
    assert all(res.get("cat") for f in files)

    mounts = "\n".join(text["/proc/self/mountinfo"])
    assert len(text["/proc/self/mountinfo"]) > 5
    for host_thing in [str(rt.tmp), str(BIN_DIR.parent), "/run/cloister", eid, "devtmpfs", "/tmp/"]:
        assert host_thing not in mounts, (host_thing, mounts)

    assert text["/proc/meminfo"][0].split() == ["MemTotal:", str(256 * 1024), "kB"]
    assert sum(1 for l in text["/proc/cpuinfo"] if l.startswith("processor")) == 1
    assert len([l for l in text["/proc/stat"] if re.match(r"cpu\d+ ", l)]) == 1
    up = float(text["/proc/uptime"][0].split()[0])
    assert up < host_uptime() - 1 and up < 600, (up, host_uptime())
    running, total = text["/proc/loadavg"][0].split()[3].split("/")
    assert int(total) < 20, text["/proc/loadavg"]     # its own tasks, not the host's
    boot_id = text["/proc/sys/kernel/random/boot_id"][0]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", boot_id)
    assert boot_id != Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert rt.record(eid)["Internal"]["ProcView"] == str(Path(rt.env["CLOISTER_LXCFS"]) / "proc")


def test_without_lxcfs_proc_is_the_hosts_and_the_record_says_so(rt, tmp_path):
    rt.env["CLOISTER_LXCFS"] = "/nonexistent"
    eif, _ = build_image(tmp_path, "nolx", ["/bin/probe", "cat=/proc/meminfo"])
    info, _ = rt.run_enclave(eif, "--debug-mode", memory="256")
    lines = rt.console_lines(info["EnclaveID"])
    assert [l for l in lines if "MemTotal" in l][0].split()[3] == Path("/proc/meminfo").read_text().split()[1]
    assert rt.record(info["EnclaveID"])["Internal"]["ProcView"] == (
        "proc: no lxcfs at /nonexistent: the enclave's /proc/meminfo, cpuinfo, stat, uptime and "
        "loadavg are the host's")


def test_the_kernels_other_doors_and_kill_9_of_the_monitor(rt, tmp_path):
    """perf, io_uring and userfaultfd are refused; the x32 ABI kills the
    caller (the filter's bad-architecture action). Then kill -9 of the
    monitor: the enclave goes with it, and nothing of it stays mounted or
    in a cgroup."""
    eif, _ = build_image(tmp_path, "kern", ["/bin/probe", "kernel"])
    info, _ = rt.run_enclave(eif, "--debug-mode")
    eid, mon = info["EnclaveID"], info["ProcessID"]
    res = probe_results(rt.console_lines(eid))
    for check in ["perf", "io_uring", "userfaultfd"]:
        assert res[check] == ("fail", "EPERM"), (check, res.get(check))
    assert res["x32"] in [("killed", "SYS"), ("fail", "ENOSYS")], res["x32"]

    init = rt.record(eid)["Internal"]["EnclavePID"]
    os.kill(mon, signal.SIGKILL)
    assert wait_gone(mon) and wait_gone(init)
    assert rt.describe() == []            # the stale record is cleaned
    assert not list(CGROUP_ROOT.glob(f"*/cloister/{eid}")) and not list(CGROUP_ROOT.glob(f"cloister/{eid}"))
    assert str(rt.tmp) not in Path("/proc/mounts").read_text()
