# SPDX-License-Identifier: Apache-2.0
"""EIFs laid out as nitro-cli writes them run under Cloister with the PCRs
the image defines (issue 4). No nitro-cli EIF is small enough to ship
(docs/eif.md), so this test writes one byte by byte in
nitro-cli's layout (docs/eif.md, docs/build-enclave.md): a foreign kernel and cmdline, a
bootstrap ramdisk with `dev/`, an `init` that is not Cloister's and `nsm.ko`,
a gzip-compressed customer ramdisk with `rootfs/`, `cmd` and `env`, and
nitro-cli's metadata. The runtime must measure it as describe-eif does, run
the command with Cloister's own init (the image's init is for a Nitro VM),
and serve documents with those PCRs."""
import gzip
import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from conftest import BIN_DIR, run
from test_runtime import Runtime

AWS_CMDLINE = (b"reboot=k panic=30 pci=off nomodules console=ttyS0 i8042.noaux i8042.nomux "
               b"i8042.nopnp i8042.dumbkbd random.trust_cpu=on")
METADATA = json.dumps({
    "ImageName": "hello", "ImageVersion": "v1",
    "BuildMetadata": {"BuildTime": "2025-10-05T13:12:27.410516995+00:00", "BuildTool": "nitro-cli",
                      "BuildToolVersion": "1.4.2", "OperatingSystem": "Linux",
                      "KernelVersion": "4.14.256"},
    "DockerInfo": {"Architecture": "amd64", "Id": "sha256:" + "ab" * 32},
    "CustomMetadata": None}, separators=(",", ":")).encode()


def cpio_newc(root: Path) -> bytes:
    """A newc archive of root, entries sorted, owner 0 (as linuxkit writes)."""
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    return subprocess.run(["cpio", "-o", "-H", "newc", "--owner", "0:0", "--quiet"], cwd=root,
                          input=("\n".join(names) + "\n").encode(), capture_output=True,
                          check=True).stdout


def write_eif(path: Path, kernel: bytes, cmdline: bytes, ramdisks):
    """EIF v4 in nitro-cli's section order: kernel, cmdline, metadata, ramdisks."""
    sections = [(1, kernel), (2, cmdline), (5, METADATA)] + [(3, r) for r in ramdisks]
    offsets, sizes, body, off = [], [], b"", 548
    for kind, data in sections:
        offsets.append(off)
        sizes.append(len(data))
        body += struct.pack(">HHQ", kind, 0, len(data)) + data
        off += 12 + len(data)
    pad = [0] * (32 - len(sections))
    header = struct.pack(">4sHHQQHH32Q32QI", b".eif", 4, 0, 1 << 30, 2, 0, len(sections),
                         *(offsets + pad), *(sizes + pad), 0)
    crc = zlib.crc32(body, zlib.crc32(header))
    path.write_bytes(header + struct.pack(">I", crc) + body)


@pytest.fixture
def nitro_eif(tmp_path):
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\n#include <unistd.h>\n'
                   'int main(void){printf("hello from a nitro-cli image\\n");fflush(stdout);'
                   'sleep(60);return 0;}\n')
    boot, cust = tmp_path / "boot", tmp_path / "cust"
    (boot / "dev").mkdir(parents=True)
    # A foreign init: if the runtime ran it, the enclave would print this and die.
    aws_init = tmp_path / "init.c"
    aws_init.write_text('#include <stdio.h>\nint main(void){puts("AWS INIT RAN");return 1;}\n')
    run(["gcc", "-static", "-O2", "-o", boot / "init", aws_init], check=True)
    (boot / "nsm.ko").write_bytes(os.urandom(2048))
    (cust / "rootfs" / "bin").mkdir(parents=True)
    for d in ("dev", "run", "sys", "var", "proc", "tmp"):
        (cust / "rootfs" / d).mkdir()
    run(["gcc", "-static", "-O2", "-o", cust / "rootfs" / "bin" / "hello", src], check=True)
    (cust / "cmd").write_text("/bin/hello\n")
    (cust / "env").write_text("PATH=/bin\nGREETING=nitro\n")
    eif = tmp_path / "nitro.eif"
    write_eif(eif, os.urandom(4096), AWS_CMDLINE,
              [cpio_newc(boot), gzip.compress(cpio_newc(cust), mtime=0)])
    return eif


def test_a_nitro_cli_layout_eif_runs_with_its_pcrs(tmp_path, nitro_eif):
    rt = Runtime(tmp_path)
    try:
        d = json.loads(rt.cl("describe-eif", "--eif-path", nitro_eif, check=True).stdout)
        assert d["CheckCRC"] is True and d["EifVersion"] == 4
        assert d["ImageName"] == "hello" and d["Metadata"]["BuildTool"] == "nitro-cli"
        info, _ = rt.run_enclave(nitro_eif, "--debug-mode", memory="256")
        lines = rt.console_lines(info["EnclaveID"], until="hello from a nitro-cli image")
        assert "hello from a nitro-cli image" in lines
        assert "AWS INIT RAN" not in lines
        (rec,) = rt.describe()
        assert rec["Measurements"] == d["Measurements"]
        # The same PCRs attest: `cloister attest` issues what this enclave's NSM would.
        doc = tmp_path / "doc.cose"
        rt.cl("attest", "--eif-path", nitro_eif, "--ca-dir", rt.ca_dir, "--output", doc, check=True)
        v = rt.cl("verify-attestation", "--document", doc, "--root", rt.ca_dir / "root.pem",
                  "--pcr", "0=" + d["Measurements"]["PCR0"], "--pcr", "1=" + d["Measurements"]["PCR1"],
                  "--pcr", "2=" + d["Measurements"]["PCR2"])
        assert v.returncode == 0, v.stderr
    finally:
        rt.cleanup()
