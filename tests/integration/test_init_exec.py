# SPDX-License-Identifier: Apache-2.0
"""How the enclave's init starts the command, from real enclaves
(docs/runtime.md, "How the command is started"): as AWS's init does with
glibc's execvpe,
- a file the kernel refuses with ENOEXEC (a script whose "#!" is not on
  line 1) runs through /bin/sh, in /, whatever WorkingDir the image sets;
- a name without '/' is searched in the image's PATH, then in AWS init's
  default directories;
- when nothing runs, init prints one line with the path and the reason on
  the console and exits 127 (not found) or 126 (found, not runnable):
  run-enclave reports it as E36 with that line (debug mode), and `console`
  of the ended enclave prints it with the status.

Images are built with `cloister build-enclave` from a directory (--rootfs)
or from a docker-save archive made here (for the image config's
WorkingDir)."""
import json
import os
import re
import tarfile

import pytest

from test_build_enclave import docker_archive
from test_runtime import BIN_DIR, PROBE, copy_with_libs
from test_runtime_console import TIME, run_fails, wait_ended

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="enclaves need root (namespaces, cgroups)"),
    pytest.mark.skipif(not (BIN_DIR / "cloister-monitor").exists(), reason="cloister-monitor not built"),
]

DEFAULT_PATH = "/sbin:/usr/sbin:/bin:/usr/bin"  # AWS init's own PATH
# "#!/bin/sh" on line 2: the kernel refuses the file (ENOEXEC)
LATE_SHEBANG = "# started by init through /bin/sh\n#!/bin/sh\necho \"$0|$*\"\npwd\n"
ID = r"i-0000000000000000-enc[0-9a-f]{16}"


def make_root(tmp_path, name, files=(), with_sh=False, probe_at=None):
    """A root directory: files is [(path, text, mode)]; /bin/sh (the host's,
    with its libraries) when with_sh; the probe at probe_at."""
    root = tmp_path / f"{name}-root"
    root.mkdir()
    if with_sh:
        copy_with_libs("/bin/sh", root, "/bin/sh")
    if probe_at:
        copy_with_libs(PROBE, root, probe_at)
    for path, text, mode in files:
        f = root / path.lstrip("/")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
        f.chmod(mode)
    return root


def build_rootfs(rt, tmp_path, root, cmd, *env):
    eif = tmp_path / f"{root.name}.eif"
    args = ["build-enclave", "--rootfs", root, "--cmd", json.dumps(cmd), "--output-file", eif]
    for e in env:
        args += ["--env", e]
    p = rt.cl(*args)
    assert p.returncode == 0, p.stderr
    return eif


def run_to_its_end(rt, eif, name):
    """Runs a debug enclave that ends after its start window; what ended() says."""
    p = rt.cl("run-enclave", "--eif-path", eif, "--memory", "128", "--cpu-count", "1",
              "--debug-mode", "--enclave-name", name)
    assert p.returncode == 0, p.stderr
    wait_ended(rt, name)
    return ended(rt, name)


def ended(rt, name):
    """console of the ended debug enclave: (stdout, the status its reason says)."""
    p = rt.cl("console", "--enclave-name", name)
    assert p.returncode == 0, p.stderr
    m = re.fullmatch(f"The enclave {ID} ended at {TIME}: its command exited with status "
                     r"(\d+)\.\n", p.stderr)
    assert m, p.stderr
    return p.stdout, int(m.group(1))


def test_a_script_without_shebang_on_line_1_runs_through_sh_in_slash(rt, tmp_path):
    """CMD ["/app/run.sh", ...]: the kernel's ENOEXEC, then /bin/sh runs it
    with the file as $0; the image's WorkingDir /app is noted at build time
    and not used (pwd is /)."""
    root = make_root(tmp_path, "late", [("/app/run.sh", LATE_SHEBANG, 0o755)], with_sh=True)
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as t:
        for child in sorted(root.iterdir()):
            t.add(child, arcname=child.name)
    arch = tmp_path / "late.tar"
    docker_archive(arch, [layer.read_bytes()],
                   {"architecture": "amd64",
                    "config": {"Cmd": ["/app/run.sh", "a", "b c"], "WorkingDir": "/app"}})
    eif = tmp_path / "late.eif"
    p = rt.cl("build-enclave", "--docker-archive", arch, "--output-file", eif)
    assert p.returncode == 0, p.stderr
    assert ("Note: the image's WorkingDir '/app' is not used: the enclave's command starts "
            "in /, as on Nitro Enclaves.\n") in p.stderr
    assert run_to_its_end(rt, eif, "late") == ("/app/run.sh|a b c\n/\n", 0)


def test_a_bare_name_is_searched_in_the_image_path(rt, tmp_path):
    """PATH from the image's env: /app/bin is none of AWS init's directories."""
    root = make_root(tmp_path, "named", probe_at="/app/bin/probe")
    eif = build_rootfs(rt, tmp_path, root, ["probe", "say=found in /app/bin", "exit=0"],
                       "PATH=/app/bin:/usr/bin")
    assert run_to_its_end(rt, eif, "named") == ("found in /app/bin\n", 0)


def test_without_path_aws_inits_default_is_searched(rt, tmp_path):
    root = make_root(tmp_path, "default", probe_at="/usr/sbin/probe")
    eif = build_rootfs(rt, tmp_path, root, ["probe", "say=found in /usr/sbin", "exit=0"])
    assert run_to_its_end(rt, eif, "default") == ("found in /usr/sbin\n", 0)


# (name, files, with /bin/sh, cmd, env, init's line, exit status)
REFUSED = [
    ("missing", [], True, ["no-such-program", "x"], ["PATH=/app/bin"],
     "init: cannot run 'no-such-program': No such file or directory (searched PATH "
     f"/app/bin:{DEFAULT_PATH})", 127),
    ("missing-path", [], True, ["/app/no-such-program"], [],
     "init: cannot run '/app/no-such-program': No such file or directory", 127),
    ("noexec", [("/app/data.txt", "data\n", 0o644)], True, ["/app/data.txt"], [],
     "init: cannot run '/app/data.txt': Permission denied", 126),
    ("noexec-named", [("/app/bin/tool", "#!/bin/sh\n", 0o644)], True, ["tool"],
     ["PATH=/app/bin"], "init: cannot run '/app/bin/tool': Permission denied", 126),
    ("nosh", [("/app/run.sh", LATE_SHEBANG, 0o755)], False, ["/app/run.sh"], [],
     "init: cannot run '/app/run.sh': Exec format error; running it with /bin/sh: No such "
     "file or directory", 126),
    ("nobash", [("/app/run.sh", "#!/bin/bash\necho hi\n", 0o755)], True, ["/app/run.sh"], [],
     "init: cannot run '/app/run.sh': No such file or directory (the file exists: the "
     "interpreter its #! line names, or its dynamic loader, is missing)", 127),
]


@pytest.mark.parametrize("name, files, with_sh, cmd, env, line, status", REFUSED,
                         ids=[r[0] for r in REFUSED])
def test_nothing_runs(rt, tmp_path, name, files, with_sh, cmd, env, line, status):
    root = make_root(tmp_path, name, files, with_sh=with_sh)
    eif = build_rootfs(rt, tmp_path, root, cmd, *env)
    p = run_fails(rt, eif, "--debug-mode", "--enclave-name", name)
    assert p.returncode == 36
    assert re.fullmatch(r"Start allocating memory\.\.\.\n\[ E36 \] Enclave boot failure\. the "
                        r"enclave ended \d+ ms after it booted: its command exited with status "
                        f"{status}; its last output:\n{re.escape(line)}\n\n", p.stderr), p.stderr
    # kept: the line on the console, the status in the reason
    assert ended(rt, name) == (line + "\n", status)
