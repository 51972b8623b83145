# SPDX-License-Identifier: Apache-2.0
"""`make install`: the programs, the blobs, libnsm and the enclave SDK
(libcloister, its headers and cloister.pc) land under PREFIX/DESTDIR, the
installed `cloister` finds its own blobs, and a program written against the
installed SDK alone builds and runs."""
import json
import os
import subprocess

from conftest import BUILD_DIR, run


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
                "include/cloister/error.h"]:
        assert (root / rel).exists(), rel

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
