# SPDX-License-Identifier: Apache-2.0
"""`make install`: the programs, the blobs, libnsm and the enclave SDK
(libcloister, its headers and cloister.pc) land under PREFIX/DESTDIR, the
installed `cloister` finds its own blobs, and a program written against the
installed SDK alone builds and runs. With them: the bash completion, the
systemd units and tmpfiles.d entry as examples in share/cloister/systemd
(the Debian package puts them where systemd reads them), and the manual
pages when the build found scdoc."""
import json
import os
import re
import subprocess

from conftest import BUILD_DIR, run


def cache(name):
    """A value of the build's CMakeCache.txt, or None."""
    m = re.search(rf"^{name}:[A-Z]+=(.*)$", (BUILD_DIR / "CMakeCache.txt").read_text(), re.M)
    return m.group(1) if m else None


def test_install_tree_and_sdk(tmp_path):
    dest = tmp_path / "dest"
    prefix = "/opt/cloister"
    run(["cmake", "--install", BUILD_DIR, "--prefix", prefix], env={"DESTDIR": str(dest)},
        check=True)
    root = dest / prefix.lstrip("/")
    for rel in ["bin/cloister", "bin/cloister-kms", "bin/cloister-vsock-proxy", "bin/cloister-kmstool",
                "bin/cloister-monitor", "bin/cloister-nsm", "share/cloister/blobs/init",
                "share/cloister/blobs/bzImage", "share/cloister/blobs/cmdline",
                "lib/libcloister.a", "lib/libnsm.so.0", "lib/libcloister-preload.so",
                "lib/pkgconfig/cloister.pc", "lib/pkgconfig/libnsm.pc",
                "include/cloister/nsm.h", "include/cloister/kms.h", "include/cloister/vsock.h",
                "include/cloister/attestation.h", "include/cloister/eif.h",
                "include/cloister/error.h",
                "share/bash-completion/completions/cloister",
                "share/cloister/proxy/vsock-proxy.yaml",
                "share/cloister/systemd/cloister-kms.service",
                "share/cloister/systemd/cloister-vsock-proxy.service",
                "share/cloister/systemd/tmpfiles-cloister.conf"]:
        assert (root / rel).exists(), rel
    # The units name the programs at the prefix the build was configured with.
    configured = cache("CMAKE_INSTALL_PREFIX")
    unit = (root / "share/cloister/systemd/cloister-kms.service").read_text()
    assert f"\nExecStart={configured}/bin/cloister-kms serve " in unit
    # The manual pages: all of them with scdoc, nitro-cli's only with its name.
    pages = sorted(p.name for p in (root / "share/man").glob("man*/*")) \
        if (root / "share/man").exists() else []
    expected = ["cloister-kms.1", "cloister-kmstool.1", "cloister-monitor.8", "cloister-nsm.1",
                "cloister-vsock-proxy.1", "cloister.1"]
    nitro = cache("CLOISTER_INSTALL_NITRO_CLI") == "ON"
    if nitro:
        expected.append("nitro-cli.1")
    scdoc = cache("CLOISTER_SCDOC")
    assert pages == (sorted(expected) if scdoc and not scdoc.endswith("NOTFOUND") else [])
    assert (root / "share/bash-completion/completions/nitro-cli").exists() == nitro

    # The installed cloister builds an image from its own, installed blobs.
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "bin" / "x").write_text("#!/bin/sh\n")
    out = run([root / "bin" / "cloister", "build-enclave", "--rootfs", rootfs, "--cmd", "/bin/x",
               "--output-file", tmp_path / "x.eif"], env={"NITRO_CLI_BLOBS": ""}, check=True)
    assert len(json.loads(out.stdout)["Measurements"]["PCR0"]) == 96

    # A program that knows only the installed SDK.
    src = tmp_path / "sdk.c"
    src.write_text("#include <stdio.h>\n#include <cloister/vsock.h>\n#include <cloister/kms.h>\n"
                   "#include <cloister/attestation.h>\n#include <cloister/eif.h>\n"
                   "#include <cloister/nsm.h>\n"
                   "int main(void){printf(\"%s\\n\", vsock_transport_name(vsock_transport()));"
                   "return 0;}\n")
    pc = subprocess.run(["pkg-config", "--define-prefix", "--cflags", "--libs", "cloister"],
                        env={**os.environ, "PKG_CONFIG_PATH": str(root / "lib" / "pkgconfig")},
                        capture_output=True, text=True, check=True).stdout.split()
    run(["cc", "-o", tmp_path / "sdk", src, *pc], check=True)
    assert run([tmp_path / "sdk"], check=True).stdout == "emulated-host\n"
