# SPDX-License-Identifier: Apache-2.0
"""`make install`: the programs, the blobs, libnsm and the enclave SDK
(libcloister, its headers and cloister.pc) land under PREFIX/DESTDIR, the
installed `cloister` finds its own blobs, and a program written against the
installed SDK alone builds and runs. With them: the bash completion, the
systemd units and tmpfiles.d entry as examples in share/cloister/systemd
(the Debian package puts them where systemd reads them), and the manual
pages when the build found scdoc. The `nitro-cli` link: not installed by
default, installed with CLOISTER_INSTALL_NITRO_CLI=ON or as the nitro-cli
component (`make install NITRO_CLI=ON`), never over another nitro-cli.
The top-level make: a configure that fails leaves nothing that breaks the
next make."""
import json
import os
import re
import shutil
import subprocess

from conftest import BUILD_DIR, SOURCE_DIR, run

NITRO_LINK_ON = re.search(r"^CLOISTER_INSTALL_NITRO_CLI:BOOL=ON$",
                          (BUILD_DIR / "CMakeCache.txt").read_text(), re.M)


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
    if not NITRO_LINK_ON:  # the default
        assert not os.path.lexists(root / "bin" / "nitro-cli")

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


def nitro_cli_checks(bin_dir, tmp_path):
    """The installed nitro-cli is nitro-cli: its version, cloister's JSON,
    nitro-cli's error wording."""
    nitro = bin_dir / "nitro-cli"
    assert os.readlink(nitro) == "cloister"
    assert run([nitro, "--version"], check=True).stdout == "Nitro CLI 1.5.0\n"
    env = {"CLOISTER_RUN_DIR": str(tmp_path / "run")}
    p = run([nitro, "describe-enclaves"], env=env, check=True)
    assert p.stdout == "[]\n"
    assert p.stdout == run([bin_dir / "cloister", "describe-enclaves"], env=env, check=True).stdout
    p = run([nitro, "terminate-enclave", "--enclave-name", "none"], env=env)
    assert (p.returncode, p.stderr) == (
        58, "[ E58 ] Enclave naming error. No enclave named 'none' is running.\n\nFor more "
            "details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E58\n")
    p = run([nitro, "attest"])
    assert p.returncode == 2 and p.stderr.startswith("error: unrecognized subcommand 'attest'\n")


def test_nitro_cli_component(tmp_path):
    """`make install NITRO_CLI=ON`: the usual install, then the nitro-cli
    component; the link is replaced by itself, never over a real one."""
    dest = tmp_path / "dest"
    prefix = "/opt/cloister"
    env = {"DESTDIR": str(dest)}
    run(["cmake", "--install", BUILD_DIR, "--prefix", prefix], env=env, check=True)
    for _ in range(2):
        run(["cmake", "--install", BUILD_DIR, "--prefix", prefix, "--component", "nitro-cli"],
            env=env, check=True)
    bin_dir = dest / prefix.lstrip("/") / "bin"
    nitro_cli_checks(bin_dir, tmp_path)

    (bin_dir / "nitro-cli").unlink()
    (bin_dir / "nitro-cli").write_text("#!/bin/sh\necho AWS\n")
    p = run(["cmake", "--install", BUILD_DIR, "--prefix", prefix, "--component", "nitro-cli"],
            env=env)
    assert p.returncode != 0
    assert "refusing to replace /opt/cloister/bin/nitro-cli: it is not Cloister's link" in \
        " ".join(p.stderr.split())
    assert (bin_dir / "nitro-cli").read_text() == "#!/bin/sh\necho AWS\n"


def test_nitro_cli_option(tmp_path):
    """CLOISTER_INSTALL_NITRO_CLI: OFF (the default), a plain install has no
    nitro-cli; ON, it has the link. A tree configured (not built) each way,
    given the built cloister, installs its top directory (cloister and, with
    the option, the link) with DESTDIR."""
    tree = tmp_path / "tree"
    for option, names in (("OFF", ["cloister"]), ("ON", ["cloister", "nitro-cli"])):
        run(["cmake", "-S", SOURCE_DIR, "-B", tree, "-DCLOISTER_TESTS=OFF",
             f"-DCLOISTER_INSTALL_NITRO_CLI={option}"], check=True)
        (tree / "bin").mkdir(exist_ok=True)
        shutil.copy2(BUILD_DIR / "bin" / "cloister", tree / "bin" / "cloister")
        dest = tmp_path / f"dest-{option}"
        run(["cmake", "-DCMAKE_INSTALL_LOCAL_ONLY=ON", "-DCMAKE_INSTALL_PREFIX=/usr/local",
             "-P", tree / "cmake_install.cmake"], env={"DESTDIR": str(dest)}, check=True)
        bin_dir = dest / "usr" / "local" / "bin"
        assert sorted(x.name for x in bin_dir.iterdir()) == names
    nitro_cli_checks(bin_dir, tmp_path)


def test_failed_configure_leaves_nothing_that_breaks_the_next_make(tmp_path):
    """`make configure` (what `make build` starts with) with a compiler that
    does not exist fails with one sentence of ours after CMake's error; the
    same make with good flags then configures the same directory (configure
    only: a build would take minutes)."""
    build = tmp_path / "build"
    bad = run(["make", "-s", "-C", SOURCE_DIR, "configure", f"BUILD={build}",
               "CMAKE_FLAGS=-DCMAKE_C_COMPILER=/nonexistent/cc"])
    assert bad.returncode != 0
    ours = [x for x in bad.stderr.splitlines() if x.startswith("cloister:")]
    assert ours == [f"cloister: configuring {build} failed (CMake says why above); the next make "
                    "configures afresh."]
    assert "is not a full path to an existing compiler tool" in " ".join(bad.stderr.split())
    assert not (build / "CMakeCache.txt").exists()
    good = run(["make", "-s", "-C", SOURCE_DIR, "configure", f"BUILD={build}",
                "CMAKE_FLAGS=-DCLOISTER_TESTS=OFF"])
    assert good.returncode == 0, good.stderr
    assert "No rule to make target" not in good.stderr
    assert (build / "Makefile").exists() and (build / "CMakeCache.txt").exists()
    # A CMakeCache.txt without a build system (what older Makefiles left):
    # the next make configures afresh instead of failing in `cmake --build`
    (build / "Makefile").unlink()
    again = run(["make", "-s", "-C", SOURCE_DIR, "configure", f"BUILD={build}",
                 "CMAKE_FLAGS=-DCLOISTER_TESTS=OFF"])
    assert again.returncode == 0, again.stderr
    assert (build / "Makefile").exists()
