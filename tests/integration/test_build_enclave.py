# SPDX-License-Identifier: Apache-2.0
"""`cloister build-enclave`: every image source but the Docker daemon
(rootfs, OCI layout and archive made with umoci, docker-save tarballs made
here; the daemon is test_build_docker.py's), the ramdisk layout and its
reproducibility, the metadata, signing, and every bad input with its exact
error, exit status and no output left behind.

The EIF is checked independently of Cloister's reader (eif_bytes.py): the
sections walked, the cpio archives parsed, the PCRs recomputed with hashlib
(docs/eif.md)."""
import hashlib
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import tarfile

import pytest

from conftest import BUILD_DIR, SHARED_DIR, cloister, run
from eif_bytes import cpio_entries, measured, metadata, pcr, ramdisks as ramdisk_bytes, sections

BLOBS = BUILD_DIR / "share" / "cloister" / "blobs"

# --------------------------------------------------------------------------
# independent readers (eif_bytes.py)


def ramdisks(path):
    return [cpio_entries(d) for d in ramdisk_bytes(path)]


def customer(path):
    return {e[0]: e for e in ramdisks(path)[1]}


# --------------------------------------------------------------------------
# helpers


def build(tmp_path, *args, out="out.eif", env=None):
    o = tmp_path / out
    p = cloister("build-enclave", "--output-file", o, *args, env=env)
    return p, o


def workdir_note(workdir):
    return (f"Note: the image's WorkingDir '{workdir}' is not used: the enclave's command "
            "starts in /, as on Nitro Enclaves.\n")


def ok_build(tmp_path, *args, out="out.eif", env=None, notes=""):
    p, o = build(tmp_path, *args, out=out, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ("Start building the Enclave Image...\n" + notes +
                        "Enclave Image successfully created.\n")
    j = json.loads(p.stdout)
    return j, o


def assert_failed(p, out, code, message):
    assert p.returncode == code, (p.returncode, p.stderr)
    assert p.stdout == ""
    assert p.stderr.splitlines()[-1] == message, p.stderr
    assert not out.exists()
    # no temporary file left beside the output either
    assert [f for f in os.listdir(out.parent) if f.startswith(out.name)] == []


def make_rootfs(d):
    """A root directory with fixed times (they are part of the image)."""
    (d / "bin").mkdir(parents=True)
    (d / "etc").mkdir()
    (d / "bin" / "hello").write_text("#!/bin/sh\necho hello\n")
    (d / "bin" / "hello").chmod(0o755)
    (d / "etc" / "motd").write_text("welcome\n")
    os.link(d / "etc" / "motd", d / "etc" / "motd.link")
    os.symlink("/etc/motd", d / "motd")
    os.symlink("../../../outside", d / "etc" / "far")  # stored, never followed
    (d / "tmp").mkdir(mode=0o1777)
    (d / "tmp").chmod(0o1777)
    for i, name in enumerate(["bin/hello", "etc/motd", "motd", "etc/far", "bin", "etc", "tmp"]):
        os.utime(d / name, (1700000001 + i, 1700000001 + i), follow_symlinks=False)
    return d


# What Docker's init layer and linuxkit add to every customer ramdisk
# (docs/build-enclave.md): linuxkit's time, and its `files:` tail.
LK = 1492533000
FILES_TAIL = [("rootfs", 0o40755), ("rootfs/dev", 0o40755), ("rootfs/run", 0o40755),
              ("rootfs/sys", 0o40755), ("rootfs/var", 0o40755), ("rootfs/proc", 0o40755),
              ("rootfs/tmp", 0o40755), ("cmd", 0o100644), ("env", 0o100644)]


def tar_bytes(members):
    """members: list of (TarInfo, bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def ti_file(name, data, mode=0o644, mtime=1234567):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = mtime
    return ti, data


def ti_dir(name, mode=0o755):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = mode
    return ti, None


def ti_link(name, target, kind=tarfile.SYMTYPE):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = target
    return ti, None


def docker_archive(path, layers, config, tags=("example/app:v1",), symlink_last_layer=False):
    """A `docker save` tarball: <config sha>.json, <id>/layer.tar, manifest.json."""
    cfg = json.dumps(config).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    members, names = [ti_file(cfg_name, cfg)], []
    for i, layer in enumerate(layers):
        lid = hashlib.sha256(b"layer%d" % i).hexdigest()
        names.append(f"{lid}/layer.tar")
        members.append(ti_dir(lid))
        if symlink_last_layer and i == len(layers) - 1:
            # docker save links identical layers to the first copy
            members.append(ti_link(f"{lid}/layer.tar", f"../{names[0].split('/')[0]}/layer.tar"))
        else:
            members.append(ti_file(f"{lid}/layer.tar", layer))
    manifest = [{"Config": cfg_name, "RepoTags": list(tags), "Layers": names}]
    members.append(ti_file("manifest.json", json.dumps(manifest).encode()))
    path.write_bytes(tar_bytes(members))
    return hashlib.sha256(cfg).hexdigest()


BASE_CONFIG = {"architecture": "amd64", "os": "linux",
               "config": {"Cmd": ["/bin/app", "--serve"], "Entrypoint": ["/bin/ep"],
                          "Env": ["PATH=/usr/bin:/bin", "MODE=prod"],
                          "WorkingDir": "/srv", "User": "nobody"},
               "rootfs": {"type": "layers", "diff_ids": []}}


def umoci(*args, cwd):
    return run(["umoci", *args], check=True, cwd=cwd)


@pytest.fixture
def oci(tmp_path):
    """An OCI layout made with umoci (no daemon): two layers, the second
    deleting a file, with Cmd and Entrypoint."""
    d = tmp_path / "oci"
    d.mkdir()
    umoci("init", "--layout", "img", cwd=d)
    umoci("new", "--image", "img:app", cwd=d)
    umoci("unpack", "--rootless", "--image", "img:app", "bundle", cwd=d)
    root = d / "bundle" / "rootfs"
    (root / "bin").mkdir()
    (root / "bin" / "app").write_text("#!/bin/sh\necho app\n")
    (root / "bin" / "app").chmod(0o755)
    (root / "gone").write_text("deleted in layer 2\n")
    umoci("repack", "--image", "img:app", "bundle", cwd=d)
    shutil.rmtree(d / "bundle")
    umoci("unpack", "--rootless", "--image", "img:app", "bundle", cwd=d)
    (d / "bundle" / "rootfs" / "gone").unlink()
    umoci("repack", "--image", "img:app", "bundle", cwd=d)
    umoci("config", "--image", "img:app", "--config.cmd", "/bin/app", "--config.cmd", "--serve",
          "--config.entrypoint", "/bin/ep", "--config.env", "MODE=prod", cwd=d)
    return d / "img"


# --------------------------------------------------------------------------
# rootfs


def test_rootfs_layout_measurements_and_metadata(tmp_path):
    root = make_rootfs(tmp_path / "myapp")
    j, o = ok_build(tmp_path, "--rootfs", root, "--cmd", "/bin/hello  world", "--env", "A=1",
                    "--env", "B=x=y")
    assert list(j) == ["Measurements"]
    assert list(j["Measurements"]) == ["HashAlgorithm", "PCR0", "PCR1", "PCR2"]
    assert j["Measurements"]["HashAlgorithm"] == "Sha384 { ... }"
    assert {k: j["Measurements"][k] for k in ("PCR0", "PCR1", "PCR2")} == measured(o)

    # section order kernel, cmdline, metadata, ramdisk, ramdisk; blobs as given
    s = sections(o)
    assert [t for t, _ in s] == [1, 2, 5, 3, 3]
    assert s[0][1] == (BLOBS / "bzImage").read_bytes()
    assert s[1][1] == (BLOBS / "cmdline").read_bytes().strip()

    boot, cust = ramdisks(o)
    assert [(e[0], e[1], e[2], e[3], e[5]) for e in boot] == [
        ("dev", 0o40755, 0, 0, LK), ("init", 0o100755, 0, 0, LK)]
    assert boot[1][7] == (BLOBS / "init").read_bytes()
    # the directory as a one-layer image: `docker export`'s walk under
    # rootfs/ (byte order, directories with '/'), the entries' own modes,
    # owners and times, Docker's init layer as linuxkit filters it, then
    # linuxkit's `files:`
    u, g = os.getuid(), os.getgid()
    assert [(e[0], e[1], e[2], e[3], e[5]) for e in cust] == [
        ("rootfs", 0o40755, 0, 0, LK),
        ("rootfs/bin/", 0o40755, u, g, 1700000005),
        ("rootfs/bin/hello", 0o100755, u, g, 1700000001),
        ("rootfs/dev/", 0o40755, 0, 0, LK),
        ("rootfs/dev/pts/", 0o40755, 0, 0, LK),
        ("rootfs/dev/shm/", 0o40755, 0, 0, LK),
        ("rootfs/etc/", 0o40755, u, g, LK),
        ("rootfs/etc/far", 0o120777, u, g, 1700000004),
        ("rootfs/etc/hosts", 0o100755, 0, 0, LK),
        ("rootfs/etc/motd", 0o100644, u, g, 1700000002),
        ("rootfs/etc/motd.link", 0o120644, u, g, 1700000002),
        ("rootfs/etc/mtab", 0o120777, 0, 0, LK),
        ("rootfs/etc/resolv.conf", 0o120755, 0, 0, LK),
        ("rootfs/motd", 0o120777, u, g, 1700000003),
        ("rootfs/proc/", 0o40755, 0, 0, LK),
        ("rootfs/sys/", 0o40755, 0, 0, LK),
        ("rootfs/tmp/", 0o41777, u, g, 1700000007),
    ] + [(n, m, 0, 0, LK) for n, m in FILES_TAIL]
    c = {e[0]: e for e in cust}
    assert c["cmd"][7] == b"/bin/hello\nworld\n"
    assert c["env"][7] == b"A=1\nB=x=y\n"
    assert c["rootfs/bin/hello"][7] == b"#!/bin/sh\necho hello\n"
    assert c["rootfs/motd"][7] == b"/etc/motd"
    assert c["rootfs/etc/far"][7] == b"../../../outside"
    assert c["rootfs/etc/hosts"][7].startswith(b"127.0.0.1       localhost\n")
    assert c["rootfs/etc/mtab"][7] == b"/proc/mounts"
    assert c["rootfs/etc/resolv.conf"][7] == b"/run/resolvconf/resolv.conf"
    # a hard link: the first name the walk meets has the data, the others
    # are symbolic links to it, relative to their own directory
    assert c["rootfs/etc/motd"][7] == b"welcome\n" and c["rootfs/etc/motd.link"][7] == b"motd"

    kver = (BLOBS / "bzImage.config").read_text().splitlines()[2].split(" ")[2]
    assert metadata(o) == (
        b'{"ImageName":"myapp","ImageVersion":"1.0","BuildMetadata":{"BuildTime":'
        b'"1970-01-01T00:00:00+00:00","BuildTool":"cloister","BuildToolVersion":"'
        + kver.encode() + b'","OperatingSystem":"Cloister","KernelVersion":"' + kver.encode()
        + b'"},"DockerInfo":null,"CustomMetadata":null}')

    d = cloister("describe-eif", "--eif-path", o, check=True)
    dj = json.loads(d.stdout)
    assert dj["Measurements"] == j["Measurements"] and dj["CheckCRC"] is True


def test_reproducible_and_source_date_epoch(tmp_path):
    root = make_rootfs(tmp_path / "r")
    args = ("--rootfs", root, "--cmd", '["/bin/hello"]', "--name", "n", "--version", "7")
    j1, o1 = ok_build(tmp_path, *args, out="1.eif")
    j2, o2 = ok_build(tmp_path, *args, out="2.eif")
    assert o1.read_bytes() == o2.read_bytes()
    # The files' own times are part of the image, as in nitro-cli's ramdisk:
    # touching one changes PCR0 and PCR2, not PCR1 (the bootstrap ramdisk).
    os.utime(root / "bin" / "hello", (1, 1))
    j1b, o1b = ok_build(tmp_path, *args, out="1b.eif")
    for which, same in (("PCR0", False), ("PCR1", True), ("PCR2", False)):
        assert (j1b["Measurements"][which] == j1["Measurements"][which]) == same, which
    # SOURCE_DATE_EPOCH is the BuildTime only (metadata, not measured).
    sde = {"SOURCE_DATE_EPOCH": "1700000000"}
    j3, o3 = ok_build(tmp_path, *args, out="3.eif", env=sde)
    j3b, o3b = ok_build(tmp_path, *args, out="3b.eif", env=sde)
    assert o3.read_bytes() == o3b.read_bytes()
    assert j3 == j1b
    m = json.loads(metadata(o3))
    assert m["BuildMetadata"]["BuildTime"] == "2023-11-14T22:13:20+00:00"
    assert (m["ImageName"], m["ImageVersion"]) == ("n", "7")
    # --build-time sets only BuildTime (metadata, not measured).
    j4, o4 = ok_build(tmp_path, *args, "--build-time", "2024-05-06T07:08:09.5+02:00", out="4.eif",
                      env=sde)
    assert j4 == j3
    assert json.loads(metadata(o4))["BuildMetadata"]["BuildTime"] == "2024-05-06T07:08:09.5+02:00"


def test_custom_metadata_and_blobs_env(tmp_path):
    root = make_rootfs(tmp_path / "r")
    meta = tmp_path / "meta.json"
    meta.write_text('{"z": 1, "a": {"y": true, "b": null}}')
    blobs = tmp_path / "blobs"
    shutil.copytree(BLOBS, blobs)
    (blobs / "nsm.ko").write_bytes(b"\x7fELF fake module")
    j, o = ok_build(tmp_path, "--rootfs", root, "--cmd", "x", "--metadata", meta,
                    env={"NITRO_CLI_BLOBS": str(blobs)})
    assert metadata(o).endswith(b',"CustomMetadata":{"a":{"b":null,"y":true},"z":1}}')
    boot = ramdisks(o)[0]
    assert [e[0] for e in boot] == ["dev", "init", "nsm.ko"]
    assert boot[2][7] == b"\x7fELF fake module" and boot[2][1] == 0o100755
    # 4096 bytes is still fine
    meta.write_text('{"k": "' + "x" * (4096 - 9) + '"}')
    assert meta.stat().st_size == 4096
    ok_build(tmp_path, "--rootfs", root, "--cmd", "x", "--metadata", meta, out="b.eif")


# --------------------------------------------------------------------------
# nitro-cli's own ramdisks: vectors made by its real tool chain


VECTORS = SHARED_DIR / "testdata" / "nitro-cli-ramdisks"


@pytest.mark.parametrize("source", ["--oci-archive", "--docker-archive"])
def test_customer_ramdisk_is_nitro_clis(tmp_path, source):
    """Image A through both readers of its hybrid archive: the customer
    ramdisk nitro-cli wrote for it, byte for byte, hence its PCR2."""
    want = (VECTORS / "customer-a-docker" / "customer-initrd.img-initrd.img").read_bytes()
    j, o = ok_build(tmp_path, source, VECTORS / "inputs" / "oci-image-a.tar")
    rds = [d for t, d in sections(o) if t == 3]
    assert rds[1] == want
    assert j["Measurements"]["PCR2"] == pcr(want)
    assert hashlib.sha384(want).hexdigest() == (
        VECTORS / "customer-a-docker" / "sha384.txt").read_text().split()[0]


def test_bootstrap_ramdisk_with_aws_blobs_is_nitro_clis(tmp_path):
    """With AWS's init, nsm.ko and cmdline beside a kernel, the bootstrap
    ramdisk is nitro-cli's byte for byte; PCR0 and PCR1 are then nitro-cli's
    for the same kernel (AWS's bzImage is not in the vectors)."""
    blobs = tmp_path / "aws-blobs"
    blobs.mkdir()
    for name in ("bzImage", "bzImage.config"):
        shutil.copy(BLOBS / name, blobs / name)
    for name in ("init", "nsm.ko", "cmdline"):
        shutil.copy(VECTORS / "blobs" / name, blobs / name)
    want = (VECTORS / "bootstrap" / "bootstrap-initrd.img-initrd.img").read_bytes()
    j, o = ok_build(tmp_path, "--docker-archive", VECTORS / "inputs" / "oci-image-a.tar",
                    "--blobs", blobs)
    s = sections(o)
    rds = [d for t, d in s if t == 3]
    assert rds[0] == want
    assert [d for t, d in s if t == 2][0] == (VECTORS / "blobs" / "cmdline").read_bytes().strip()
    assert {k: j["Measurements"][k] for k in ("PCR0", "PCR1", "PCR2")} == measured(o)
    assert [e[0] for e in cpio_entries(want)] == ["dev", "init", "nsm.ko"]


# --------------------------------------------------------------------------
# OCI (umoci)


def test_oci_layout_cmd_wins_over_entrypoint(tmp_path, oci):
    j, o = ok_build(tmp_path, "--oci-layout", oci)
    assert {k: j["Measurements"][k] for k in ("PCR0", "PCR1", "PCR2")} == measured(o)
    c = customer(o)
    assert c["cmd"][7] == b"/bin/app\n--serve\n"  # Cmd only, Entrypoint not prepended
    assert b"MODE=prod\n" in c["env"][7]
    assert c["rootfs/bin/app"][7] == b"#!/bin/sh\necho app\n"
    assert "rootfs/gone" not in c  # the whiteout of layer 2
    m = json.loads(metadata(o))
    assert m["ImageName"] == "img"
    cfg_digest = json.loads((oci / "blobs" / "sha256" / json.loads(
        (oci / "index.json").read_text())["manifests"][0]["digest"][7:]).read_text())["config"]["digest"]
    assert m["ImageVersion"] == cfg_digest[7:]
    assert m["DockerInfo"]["config"]["Entrypoint"] == ["/bin/ep"]
    # DockerInfo keys sorted, as serde_json::Value prints them
    raw = metadata(o).decode()
    info = raw[raw.index('"DockerInfo":') + 13:raw.index(',"CustomMetadata"')]
    assert info == json.dumps(json.loads(info), sort_keys=True, separators=(",", ":"))

    # Entrypoint alone when there is no Cmd
    run(["umoci", "config", "--image", f"{oci}:app", "--clear=config.cmd"], check=True)
    j2, o2 = ok_build(tmp_path, "--oci-layout", f"{oci}:app", out="ep.eif")
    assert customer(o2)["cmd"][7] == b"/bin/ep\n"
    # --cmd / --env override
    j3, o3 = ok_build(tmp_path, "--oci-layout", oci, "--cmd", "/bin/app -v", "--env", "MODE=dev",
                      out="ov.eif")
    c3 = customer(o3)
    assert c3["cmd"][7] == b"/bin/app\n-v\n"
    assert b"MODE=dev\n" in c3["env"][7] and b"MODE=prod" not in c3["env"][7]


def test_oci_archive_matches_layout(tmp_path, oci):
    j1, _ = ok_build(tmp_path, "--oci-layout", oci, out="l.eif")
    arch = tmp_path / "img.tar"
    run(["tar", "-C", oci, "-cf", arch, "."], check=True)
    j2, o2 = ok_build(tmp_path, "--oci-archive", arch, out="a.eif")
    assert j1 == j2
    assert json.loads(metadata(o2))["ImageName"] == "img"
    j3, _ = ok_build(tmp_path, "--oci-archive", f"{arch}:app", out="t.eif")
    assert j3 == j1


def test_oci_tampered_blob_is_refused(tmp_path, oci):
    manifest = json.loads((oci / "blobs" / "sha256" / json.loads(
        (oci / "index.json").read_text())["manifests"][0]["digest"][7:]).read_text())
    layer = manifest["layers"][0]["digest"][7:]
    p = oci / "blobs" / "sha256" / layer
    data = bytearray(p.read_bytes())
    p.chmod(0o644)
    # append a gzip member: still a valid stream, different digest
    import gzip
    p.write_bytes(bytes(data) + gzip.compress(b""))
    proc, out = build(tmp_path, "--oci-layout", oci)
    assert_failed(proc, out, 48,
                  f"[ E48 ] Could not build EIF file. OCI layout '{oci}': layer 1 "
                  f"('blobs/sha256/{layer}'): 'blobs/sha256/{layer}' does not match its digest")


def test_oci_layout_unknown_tag_and_not_a_layout(tmp_path, oci):
    proc, out = build(tmp_path, "--oci-layout", f"{oci}:nope")
    assert_failed(proc, out, 48, f"[ E48 ] Could not build EIF file. OCI layout '{oci}': "
                                 "no image tagged 'nope' in the index")
    proc, out = build(tmp_path, "--oci-layout", tmp_path)
    assert_failed(proc, out, 48, f"[ E48 ] Could not build EIF file. OCI layout '{tmp_path}': "
                                 "not an OCI image layout (no oci-layout file)")


# --------------------------------------------------------------------------
# docker save


def test_docker_archive_layers_whiteouts_links(tmp_path):
    l1 = tar_bytes([ti_dir("bin"), ti_file("bin/app", b"app v1", 0o755),
                    ti_dir("data"), ti_file("data/old", b"old"), ti_dir("data/sub"),
                    ti_file("data/sub/deep", b"deep"), ti_file("del", b"x"),
                    ti_dir("usr"), ti_dir("usr/lib"), ti_link("lib", "usr/lib"),
                    ti_file("setuid", b"s", 0o4755)])
    l2 = tar_bytes([ti_file(".wh.del", b""), ti_file("data/.wh..wh..opq", b""),
                    ti_file("data/new", b"new"), ti_file("bin/app", b"app v2", 0o755),
                    ti_link("bin/app2", "bin/app", tarfile.LNKTYPE),
                    ti_file("lib/libx.so", b"via the symlink"),
                    ti_file("./usr/.wh..wh.plnk", b"")])
    arch = tmp_path / "app.tar"
    cfg_sha = docker_archive(arch, [l1, l2], BASE_CONFIG)
    j, o = ok_build(tmp_path, "--docker-archive", arch, notes=workdir_note("/srv"))
    assert {k: j["Measurements"][k] for k in ("PCR0", "PCR1", "PCR2")} == measured(o)
    c = customer(o)
    rootfs = [e[0][7:] for e in ramdisks(o)[1][1:-len(FILES_TAIL)]]
    assert rootfs == ["bin/", "bin/app", "bin/app2", "data/", "data/new", "dev/", "dev/pts/",
                      "dev/shm/", "etc/", "etc/hosts", "etc/mtab", "etc/resolv.conf", "lib",
                      "proc/", "setuid", "sys/", "usr/", "usr/lib/", "usr/lib/libx.so"]
    assert c["rootfs/bin/app"][7] == b"app v2" and c["rootfs/bin/app2"][7] == b"app"
    # a hard-link entry's mode, owner and time become the file's, as Docker
    # applies a layer (tarfile's defaults here: 0644, 0:0, time 0)
    assert [c[n][1:6:4] for n in ("rootfs/bin/app", "rootfs/bin/app2")] == [(0o100644, 0),
                                                                             (0o120644, 0)]
    assert c["rootfs/setuid"][1] == 0o104755
    assert c["rootfs/usr/lib/libx.so"][7] == b"via the symlink"
    assert c["cmd"][7] == b"/bin/app\n--serve\n"
    assert c["env"][7] == b"PATH=/usr/bin:/bin\nMODE=prod\n"
    m = json.loads(metadata(o))
    # nitro-cli's defaults: the reference before ':', the image ID
    assert (m["ImageName"], m["ImageVersion"]) == ("example/app", cfg_sha)
    assert m["DockerInfo"] == BASE_CONFIG


def test_docker_archive_entrypoint_only_and_linked_layers(tmp_path):
    l1 = tar_bytes([ti_file("x", b"x")])
    cfg = {"architecture": "amd64", "config": {"Entrypoint": ["/x", "a b"], "Env": None}}
    arch = tmp_path / "ep.tar"
    docker_archive(arch, [l1, l1], cfg, symlink_last_layer=True)
    j, o = ok_build(tmp_path, "--docker-archive", arch)
    c = customer(o)
    assert c["cmd"][7] == b"/x\na b\n" and c["env"][7] == b""
    assert c["rootfs/x"][7] == b"x"


def test_docker_archive_arm64_sets_the_arch_flag(tmp_path):
    arch = tmp_path / "arm.tar"
    docker_archive(arch, [tar_bytes([ti_file("x", b"x")])], dict(BASE_CONFIG, architecture="arm64"))
    j, o = ok_build(tmp_path, "--docker-archive", arch, notes=workdir_note("/srv"))
    assert struct.unpack(">H", o.read_bytes()[6:8])[0] == 1


@pytest.mark.parametrize("workdir, noted", [("/app", True), ("srv/data", True), ("/", False),
                                             ("", False), (None, False)])
def test_a_working_directory_is_noted_not_used(tmp_path, workdir, noted):
    """The enclave's command starts in / whatever WorkingDir says (AWS's init
    chdirs to /): build-enclave says so on stderr; stdout and the image are
    as without it."""
    config = {"architecture": "amd64", "config": {"Cmd": ["/x"]}}
    if workdir is not None:
        config["config"]["WorkingDir"] = workdir
    arch = tmp_path / "wd.tar"
    docker_archive(arch, [tar_bytes([ti_file("x", b"x", 0o755)])], config)
    j, o = ok_build(tmp_path, "--docker-archive", arch, notes=workdir_note(workdir) if noted else "")
    assert list(j) == ["Measurements"]
    assert {k: j["Measurements"][k] for k in ("PCR0", "PCR1", "PCR2")} == measured(o)
    c = customer(o)
    assert c["cmd"][7] == b"/x\n" and c["env"][7] == b""
    assert not [n for n in c if n.startswith("rootfs/app") or n.startswith("rootfs/srv")]


def test_a_working_directory_from_an_oci_image(oci, tmp_path):
    umoci("config", "--image", "img:app", "--config.workingdir", "/srv/app", cwd=oci.parent)
    ok_build(tmp_path, "--oci-layout", f"{oci}:app", notes=workdir_note("/srv/app"))


# --------------------------------------------------------------------------
# signing


@pytest.mark.parametrize("curve", ["prime256v1", "secp384r1", "secp521r1"])
def test_signed_build_adds_pcr8(tmp_path, curve):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", key], check=True)
    run(["openssl", "req", "-new", "-x509", "-key", key, "-out", cert, "-days", "30",
         "-subj", "/CN=cloister-test"], check=True)
    root = make_rootfs(tmp_path / "r")
    j, o = ok_build(tmp_path, "--rootfs", root, "--cmd", "x", "--signing-certificate", cert,
                    "--private-key", key)
    assert list(j["Measurements"]) == ["HashAlgorithm", "PCR0", "PCR1", "PCR2", "PCR8"]
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    assert j["Measurements"]["PCR8"] == pcr(der)
    assert [t for t, _ in sections(o)] == [1, 2, 5, 3, 3, 4]
    unsigned, _ = ok_build(tmp_path, "--rootfs", root, "--cmd", "x", out="u.eif")
    assert {k: v for k, v in j["Measurements"].items() if k != "PCR8"} == unsigned["Measurements"]
    d = json.loads(cloister("describe-eif", "--eif-path", o, check=True).stdout)
    assert d["IsSigned"] is True and d["SignatureCheck"] is True


def test_signing_flags_go_together(tmp_path):
    root = make_rootfs(tmp_path / "r")
    key, cert = tmp_path / "rsa.pem", tmp_path / "rsacert.pem"
    run(["openssl", "genrsa", "-out", key, "2048"], check=True)
    run(["openssl", "req", "-new", "-x509", "-key", key, "-out", cert, "-days", "3",
         "-subj", "/CN=rsa"], check=True)
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", "--signing-certificate", cert,
                   "--private-key", key)
    assert_failed(p, out, 60, "[ E60 ] EIF signing error. the private key is not an EC key "
                              "(P-256, P-384 or P-521)")
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", "--signing-certificate", cert,
                   "--private-key", tmp_path / "none.pem")
    assert_failed(p, out, 48, f"[ E48 ] Could not build EIF file. private key: cannot open "
                              f"'{tmp_path}/none.pem': No such file or directory")
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", "--private-key", "k.pem")
    assert_failed(p, out, 1, "[ E01 ] Missing mandatory argument. --signing-certificate and "
                             "--private-key go together")


# --------------------------------------------------------------------------
# bad input


def layer_archive(tmp_path, members, name="bad.tar"):
    arch = tmp_path / name
    docker_archive(arch, [tar_bytes(members)], BASE_CONFIG)
    layer = json.loads(tarfile.open(arch).extractfile("manifest.json").read())[0]["Layers"][0]
    return arch, layer


def dev_node(name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.CHRTYPE
    ti.devmajor, ti.devminor = 1, 3
    return ti, None


BAD_LAYERS = [
    ("dotdot", [ti_file("a/../../evil", b"x")], "'a/../../evil': path contains '..'"),
    ("absolute", [ti_file("/etc/evil", b"x")], "'/etc/evil': absolute path"),
    ("escaping symlink", [ti_link("esc", "../../.."), ti_file("esc/evil", b"x")],
     "'esc/evil': symlink 'esc' -> '../../..' points out of the root"),
    ("escaping symlink chain", [ti_dir("d"), ti_link("d/up", ".."), ti_link("d/up2", "up/.."),
                                ti_file("d/up2/x", b"x")],
     "'d/up2/x': symlink 'd/up2' -> 'up/..' points out of the root"),
    ("hard link out", [ti_link("h", "../../etc/passwd", tarfile.LNKTYPE)],
     "'h': hard link to '../../etc/passwd' points out of the tree"),
    ("hard link absolute", [ti_link("h", "/etc/passwd", tarfile.LNKTYPE)],
     "'h': hard link to '/etc/passwd' points out of the tree"),
    ("hard link missing", [ti_link("h", "nothere", tarfile.LNKTYPE)],
     "'h': hard link to 'nothere', which is not in the tree"),
]


# Times the ramdisk's cpio headers cannot hold: refused as the ramdisk is
# written, named by their place in it.
BAD_TIMES = [("before 1970", -1), ("after 2106", 1 << 32)]


@pytest.mark.parametrize("name,mtime", BAD_TIMES, ids=[b[0] for b in BAD_TIMES])
def test_time_a_cpio_header_cannot_hold(tmp_path, name, mtime):
    arch, _ = layer_archive(tmp_path, [ti_file("x", b"x", mtime=mtime)])
    p, out = build(tmp_path, "--docker-archive", arch)
    assert_failed(p, out, 48, f"[ E48 ] Could not build EIF file. 'rootfs/x': mtime {mtime} does "
                              "not fit a cpio header")


@pytest.mark.parametrize("name,members,reason", BAD_LAYERS, ids=[b[0] for b in BAD_LAYERS])
def test_bad_layer_is_refused(tmp_path, name, members, reason):
    arch, layer = layer_archive(tmp_path, members)
    p, out = build(tmp_path, "--docker-archive", arch)
    assert_failed(p, out, 48, f"[ E48 ] Could not build EIF file. docker archive '{arch}': "
                              f"layer 1 ('{layer}'): {reason}")


def test_bad_oci_layer_is_refused(tmp_path, oci):
    # the same checks in an OCI layer: append a hostile gzip layer with umoci's help
    bad = tmp_path / "bad.tar.gz"
    import gzip
    bad.write_bytes(gzip.compress(tar_bytes([ti_file("../evil", b"x")])))
    run(["umoci", "raw", "add-layer", "--image", f"{oci}:app", bad], check=True)
    p, out = build(tmp_path, "--oci-layout", oci)
    assert p.returncode == 48 and not out.exists()
    assert p.stderr.splitlines()[-1].endswith("): '../evil': path contains '..'"), p.stderr
    assert ": layer 3 ('blobs/sha256/" in p.stderr


def test_device_nodes_and_fifos_are_kept(tmp_path):
    """As nitro-cli keeps them: the type, the mode and the device numbers."""
    fifo = tarfile.TarInfo("run/fifo")
    fifo.type, fifo.mode = tarfile.FIFOTYPE, 0o620
    blk = tarfile.TarInfo("dev/loop9")
    blk.type, blk.mode, blk.devmajor, blk.devminor = tarfile.BLKTYPE, 0o660, 7, 9
    arch, _ = layer_archive(tmp_path, [dev_node("dev/null"), (blk, None), (fifo, None)])
    j, o = ok_build(tmp_path, "--docker-archive", arch, notes=workdir_note("/srv"))
    c = customer(o)
    assert (c["rootfs/dev/null"][1], c["rootfs/dev/null"][8]) == (0o20644, (1, 3))
    assert (c["rootfs/dev/loop9"][1], c["rootfs/dev/loop9"][8]) == (0o60660, (7, 9))
    assert (c["rootfs/run/fifo"][1], c["rootfs/run/fifo"][8]) == (0o10620, (0, 0))
    # the same from a directory (mknod needs CAP_MKNOD, which the suite has as root)
    root = make_rootfs(tmp_path / "r")
    os.mknod(root / "etc" / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    j, o = ok_build(tmp_path, "--rootfs", root, "--cmd", "x", out="r.eif")
    assert customer(o)["rootfs/etc/null"][8] == (1, 3)


def test_rootfs_socket_is_refused(tmp_path):
    import socket
    root = make_rootfs(tmp_path / "r")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "etc" / "sock"))
    sock.close()
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x")
    assert_failed(p, out, 48, f"[ E48 ] Could not build EIF file. rootfs '{root}': "
                              "'etc/sock': unsupported file type")


def test_missing_blob(tmp_path):
    root = make_rootfs(tmp_path / "r")
    blobs = tmp_path / "blobs"
    shutil.copytree(BLOBS, blobs)
    for blob in ("init", "bzImage", "cmdline", "bzImage.config"):
        (blobs / blob).rename(tmp_path / "aside")
        p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", "--blobs", blobs)
        assert_failed(p, out, 48, f"[ E48 ] Could not build EIF file. missing blob '{blobs}/{blob}'")
        (tmp_path / "aside").rename(blobs / blob)
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x",
                   env={"NITRO_CLI_BLOBS": str(tmp_path / "none")})
    assert_failed(p, out, 52, f"[ E52 ] Blobs path not found. '{tmp_path}/none' is not a directory "
                              "(give the blobs with --blobs DIR or NITRO_CLI_BLOBS)")


def test_metadata_over_4096_bytes(tmp_path):
    root = make_rootfs(tmp_path / "r")
    meta = tmp_path / "meta.json"
    meta.write_text('{"k": "' + "x" * (4097 - 9) + '"}')
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", "--metadata", meta)
    assert_failed(p, out, 48, f"[ E48 ] Could not build EIF file. metadata file '{meta}' is 4097 "
                              "bytes, at most 4096 allowed")
    meta.write_text("{not json")
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", "--metadata", meta)
    assert p.returncode == 48 and not out.exists()
    assert f"metadata file '{meta}' is not JSON" in p.stderr


def test_argument_errors(tmp_path):
    root = make_rootfs(tmp_path / "r")
    p, out = build(tmp_path, "--rootfs", root)
    assert_failed(p, out, 1, "[ E01 ] Missing mandatory argument. --cmd is required with --rootfs "
                             "(a directory has no image config to take the command from)")
    p, out = build(tmp_path)
    assert_failed(p, out, 1, "[ E01 ] Missing mandatory argument. one of --docker-uri, "
                             "--docker-archive, --oci-layout, --oci-archive or --rootfs is required")
    p, out = build(tmp_path, "--rootfs", root, "--oci-layout", root, "--cmd", "x")
    assert_failed(p, out, 2, "[ E02 ] Conflicting arguments. --oci-layout and --rootfs cannot be "
                             "used together")
    p = cloister("build-enclave", "--rootfs", root, "--cmd", "x")
    assert p.returncode == 1 and "--output-file is required" in p.stderr
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", "--env", "NOEQUALS")
    assert_failed(p, out, 3, "[ E03 ] Invalid argument provided. --env 'NOEQUALS': expected KEY=VALUE")
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert_failed(p, out, 3, "[ E03 ] Invalid argument provided. SOURCE_DATE_EPOCH 'yesterday' is "
                             "not a number of seconds since the epoch")
    p, out = build(tmp_path, "--rootfs", root, "--cmd", "x", "--build-time", "2024-13")
    assert p.returncode == 3 and not out.exists()


def test_image_without_a_command(tmp_path):
    arch = tmp_path / "nocmd.tar"
    docker_archive(arch, [tar_bytes([ti_file("x", b"x")])], {"architecture": "amd64", "config": {}})
    p, out = build(tmp_path, "--docker-archive", arch)
    assert_failed(p, out, 48, "[ E48 ] Could not build EIF file. the image config has neither Cmd "
                              "nor Entrypoint; give the command with --cmd")
    ok_build(tmp_path, "--docker-archive", arch, "--cmd", "/x")


def test_not_a_docker_archive(tmp_path):
    arch = tmp_path / "plain.tar"
    arch.write_bytes(tar_bytes([ti_file("x", b"x")]))
    p, out = build(tmp_path, "--docker-archive", arch)
    assert_failed(p, out, 48, f"[ E48 ] Could not build EIF file. docker archive '{arch}': "
                              "not a docker save archive (no manifest.json)")
