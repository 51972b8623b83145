# SPDX-License-Identifier: Apache-2.0
"""The console and the end of an enclave, from real enclaves
(docs/runtime.md, "The console" and "When an enclave ends"):
- the console is a terminal: the enclave's stdin, stdout, stderr and
  /dev/console are one, programs see isatty() and line-buffer;
- what falls out of the console's ring is counted and said when a reader
  attaches;
- an enclave that ends by itself is not listed by describe-enclaves
  (nitro-cli's semantics), but why it ended is kept: `console` of an ended
  debug enclave prints its output and the reason, of a production one the
  reason only (E44); terminate-enclave removes what was kept;
- run-enclave waits RT_START_WINDOW_MS after the heartbeat, so a command
  that fails at once is reported with its reason (E36), and one that ends
  well at once with a note."""
import json
import os
import re
import time

import pytest

from test_runtime import BIN_DIR, build_image

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="enclaves need root (namespaces, cgroups)"),
    pytest.mark.skipif(not (BIN_DIR / "cloister-monitor").exists(), reason="cloister-monitor not built"),
]

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def run_fails(rt, eif, *flags, memory="128"):
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", memory, "--cpu-count", "1", *flags)
    assert p.returncode != 0, p.stdout
    assert p.stdout == ""
    return p


def wait_ended(rt, name, limit=60):
    """Until the enclave named name is no longer listed (a safety limit)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not [d for d in rt.describe() if d["EnclaveName"] == name]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} still runs")


def test_the_console_is_a_terminal(rt, tmp_path):
    eif, _ = build_image(tmp_path, "tty", ["/bin/probe", "tty", "say=line-buffered"])
    info, _ = rt.run_enclave(eif, "--debug-mode")
    lines = rt.console_lines(info["EnclaveID"], until="line-buffered")
    assert "PROBE tty ok stdin=1 stdout=1 stderr=1 console=1" in lines
    # printf without fflush, then the program sleeps: only a terminal's line
    # buffering shows it; and no "\r" is added (the terminal is raw)
    assert lines[-1] == "line-buffered"


def test_dropped_output_is_counted(rt, tmp_path):
    eif, _ = build_image(tmp_path, "spam", ["/bin/probe", "spam=300000"])
    info, _ = rt.run_enclave(eif, "--debug-mode")
    rt.console_lines(info["EnclaveID"])  # until PROBE-DONE: all of it was written
    p = rt.cl("console", "--enclave-id", info["EnclaveID"], "--disconnect-timeout", "1")
    assert p.returncode == 0, p.stderr
    written = 300000 // 64 * 64 + len("PROBE-DONE\n")
    assert len(p.stdout.encode()) == len("Connecting to the console for enclave 16...\n"
                                          "Successfully connected to the console.\n") + 256 * 1024
    assert p.stdout.endswith("PROBE-DONE\n")
    assert p.stderr == (f"The first {written - 256 * 1024} bytes of the enclave's output are no "
                        "longer kept (its console keeps the last 256 KiB).\n")


def test_an_enclave_that_ends_later_is_kept(rt, tmp_path):
    eif, _ = build_image(tmp_path, "late", ["/bin/probe", "say=working", "sleep=900", "exit=3"])
    info, _ = rt.run_enclave(eif, "--debug-mode", "--enclave-name", "late")
    wait_ended(rt, "late")
    assert rt.describe() == []                       # running enclaves only, as nitro-cli
    assert not (rt.run_dir / "enclaves" / info["EnclaveID"]).exists()
    for how in (("--enclave-name", "late"), ("--enclave-id", info["EnclaveID"])):
        p = rt.cl("console", *how)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "working\n"
        assert re.fullmatch(f"The enclave {info['EnclaveID']} ended at {TIME}: its command "
                            "exited with status 3.\n", p.stderr), p.stderr
    trace = json.loads((rt.run_dir / "ended" / info["EnclaveID"] / "trace.json").read_text())
    assert trace["ExitStatus"] == 3 and trace["Signal"] is None and trace["OutOfMemory"] is False
    assert (rt.run_dir / "ended").stat().st_mode & 0o777 == 0o700
    log = (rt.run_dir / "monitor.log").read_text()
    assert f"{info['EnclaveID']}: the enclave ended: its command exited with status 3" in log
    # terminate-enclave removes what was kept
    p = rt.cl("terminate-enclave", "--enclave-name", "late")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"EnclaveName": "late", "EnclaveID": info["EnclaveID"],
                                    "Terminated": True}
    p = rt.cl("console", "--enclave-name", "late")
    assert p.returncode == 58 and "No enclave named 'late' is running." in p.stderr


def test_a_killed_command_and_a_production_enclave(rt, tmp_path):
    eif, _ = build_image(tmp_path, "killed", ["/bin/probe", "sleep=900", "kill=9"])
    info, _ = rt.run_enclave(eif, "--enclave-name", "prod")   # production mode
    wait_ended(rt, "prod")
    p = rt.cl("console", "--enclave-name", "prod")
    assert p.returncode == 44
    assert re.fullmatch(r"\[ E44 \] Enclave console connection failure\. The enclave "
                        f"{info['EnclaveID']} was not started in debug mode \\(--debug-mode\\): its "
                        f"console was not kept\\. It ended at {TIME}: its command was killed by "
                        r"signal 9 \(SIGKILL\)\.\n", p.stderr.splitlines(keepends=True)[-1]), p.stderr
    assert not (rt.run_dir / "ended" / info["EnclaveID"] / "console").exists()
    # --all removes every kept trace
    p = rt.cl("terminate-enclave", "--all")
    assert p.returncode == 0 and json.loads(p.stdout) == []
    assert not (rt.run_dir / "ended").exists()


def test_a_command_that_fails_at_once(rt, tmp_path):
    eif, _ = build_image(tmp_path, "fails", ["/bin/probe", "say=about to fail", "exit=3"])
    p = run_fails(rt, eif, "--debug-mode")
    assert p.returncode == 36
    assert re.fullmatch(r"Start allocating memory\.\.\.\n\[ E36 \] Enclave boot failure\. the "
                        r"enclave ended \d+ ms after it booted: its command exited with status 3; "
                        r"its last output:\nabout to fail\n\n", p.stderr), p.stderr
    # kept all the same
    p = rt.cl("console", "--enclave-name", "fails")
    assert p.returncode == 0 and p.stdout == "about to fail\n"
    # production mode: the reason, never the output
    p = run_fails(rt, eif)
    assert re.fullmatch(r"Start allocating memory\.\.\.\n\[ E36 \] Enclave boot failure\. the "
                        r"enclave ended \d+ ms after it booted: its command exited with status "
                        r"3\n", p.stderr), p.stderr


def test_a_command_that_does_not_exist(rt, tmp_path):
    eif, _ = build_image(tmp_path, "nocmd", ["/bin/no-such-program"])
    p = run_fails(rt, eif, "--debug-mode")
    assert p.returncode == 36
    assert re.fullmatch(r"Start allocating memory\.\.\.\n\[ E36 \] Enclave boot failure\. the "
                        r"enclave ended \d+ ms after it booted: its command exited with status 127; "
                        r"its last output:\ninit: cannot run '/bin/no-such-program': No such file or "
                        r"directory\n\n", p.stderr), p.stderr


def test_a_command_that_ends_well_at_once(rt, tmp_path):
    eif, _ = build_image(tmp_path, "quick", ["/bin/probe", "say=done", "exit=0"])
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "128", "--cpu-count", "1",
              "--debug-mode", "--attach-console")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout[:p.stdout.index("}") + 1])
    # nitro-cli's output, a note, and with --attach-console what was kept
    assert p.stdout.endswith("}\ndone\n"), p.stdout
    lines = p.stderr.splitlines()
    assert lines[2] == f"The enclave {info['EnclaveID']} already ended: its command exited with status 0."
    assert re.fullmatch(f"The enclave {info['EnclaveID']} ended at {TIME}: its command exited "
                        "with status 0.", lines[3]), lines


def test_out_of_memory_is_reported(rt, tmp_path):
    eif, _ = build_image(tmp_path, "eater", ["/bin/probe", "eat=512"])
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "64", "--cpu-count", "1",
              "--debug-mode")
    if p.returncode == 0:
        d = rt.describe()
        if d and any("memory" in x for x in d[0].get("LimitsNotApplied", [])):
            pytest.skip(f"this host does not allow a memory limit: {d[0]['LimitsNotApplied']}")
    assert p.returncode == 36, p.stderr
    assert re.fullmatch(r"Start allocating memory\.\.\.\n\[ E36 \] Enclave boot failure\. the "
                        r"enclave ended \d+ ms after it booted: out of memory: the enclave exceeded "
                        r"its 64 MiB limit; its last output:\nPROBE eat start 512\n\n",
                        p.stderr), p.stderr
    p = rt.cl("console", "--enclave-name", "eater")
    assert p.returncode == 0 and p.stdout == "PROBE eat start 512\n"
    assert p.stderr.endswith(": out of memory: the enclave exceeded its 64 MiB limit.\n")
    trace = json.loads(next((rt.run_dir / "ended").iterdir()).joinpath("trace.json").read_text())
    assert trace["OutOfMemory"] is True and trace["ExitStatus"] is None
