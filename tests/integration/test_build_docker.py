# SPDX-License-Identifier: Apache-2.0
"""`cloister build-enclave` against a real Docker Engine: a private dockerd
(Debian's docker.io, started and stopped by this file, dockerd.py) holds
images made offline (`docker build` FROM scratch, `docker load`), and
build-enclave reads them through --docker-uri and builds them with
--docker-dir. The daemon path must give the ramdisks the `docker save`
tarball of the same image gives through --docker-archive, the metadata
nitro-cli's (ImageName, ImageVersion, DockerInfo), and every failure
nitro-cli's error number with the daemon's own reason and no output file.

The last part answers the Engine API calls with a stand-in on a Unix
socket, for what a daemon without a registry cannot do (a pull that
succeeds) and to pin the calls made, in order.

The EIF is read independently of Cloister's reader (eif_bytes.py): its
sections walked, the PCRs recomputed with hashlib, the cpio archives
parsed."""
import hashlib
import io
import json
import os
import re
import tarfile

import pytest

from conftest import SHARED_DIR, cloister
from dockerd import private_dockerd
from eif_bytes import cpio_entries, first_difference, measured, metadata, ramdisks

START = "Start building the Enclave Image...\n"
LOCAL = "Using the locally available Docker image...\n"
DONE = "Enclave Image successfully created.\n"
MTIME = 1700000000
RAMDISKS = SHARED_DIR / "testdata" / "nitro-cli-ramdisks"


@pytest.fixture(scope="module")
def dockerd():
    yield from private_dockerd()


# --------------------------------------------------------------------------
# independent readers (eif_bytes.py)


def metadata_text(path):
    return metadata(path).decode()


def cpio(buf):
    """{name without a trailing '/': (mode, data)}, the last of a repeated
    name winning."""
    return {e.name.rstrip("/"): (e.mode, e.data) for e in cpio_entries(buf)}


def customer(path):
    return cpio(ramdisks(path)[1])


# --------------------------------------------------------------------------
# helpers


def build(tmp_path, *args, out="out.eif", env=None):
    o = tmp_path / out
    return cloister("build-enclave", "--output-file", o, *args, env=env), o


def assert_built(p, out, stderr):
    """Success with nitro-cli's lines, and the PCRs it printed are the file's."""
    assert p.returncode == 0, p.stderr
    assert p.stderr == stderr
    m = json.loads(p.stdout)["Measurements"]
    assert {k: m[k] for k in ("PCR0", "PCR1", "PCR2")} == measured(out)
    return m


def assert_failed(p, out, code, line):
    """line: the exact last stderr line, or a compiled pattern it matches."""
    assert p.returncode == code, (p.returncode, p.stderr)
    assert p.stdout == ""
    last = p.stderr.splitlines()[-1]
    assert line.fullmatch(last) if isinstance(line, re.Pattern) else last == line, p.stderr
    assert not out.exists()
    assert [f for f in os.listdir(out.parent) if f.startswith(out.name)] == []


def tar_member(t, name, kind, mode, data=b"", target="", uid=0, i=0):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, uid, MTIME + i
    ti.linkname = target
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def make_context(d):
    """A Dockerfile FROM scratch: two files COPY'd from the context (0755,
    0600) and a tree ADDed from a tar the builder unpacks (directories
    0750/0700/1777, a setuid file and a hard link to it, a file of uid 1000,
    two symlinks). Every
    mtime is fixed, so two builds give the same layers."""
    d.mkdir()
    (d / "Dockerfile").write_text('FROM scratch\nCOPY app.sh secret.txt /\nADD tree.tar /\n'
                                  'ENV GREETING=hello\nCMD ["/app.sh", "--serve"]\n')
    (d / "app.sh").write_text("#!/bin/sh\necho hello\n")
    (d / "app.sh").chmod(0o755)
    (d / "secret.txt").write_text("s3cret\n")
    (d / "secret.txt").chmod(0o600)
    with tarfile.open(d / "tree.tar", "w", format=tarfile.PAX_FORMAT) as t:
        tar_member(t, "srv/", tarfile.DIRTYPE, 0o750, i=1)
        tar_member(t, "srv/bin/", tarfile.DIRTYPE, 0o755, i=2)
        tar_member(t, "srv/bin/tool", tarfile.REGTYPE, 0o4755, b"tool\n", i=3)
        tar_member(t, "srv/tool-link", tarfile.LNKTYPE, 0o4755, target="srv/bin/tool", i=3)
        tar_member(t, "srv/data/", tarfile.DIRTYPE, 0o700, uid=1000, i=4)
        tar_member(t, "srv/data/notes.txt", tarfile.REGTYPE, 0o640, b"notes\n", uid=1000, i=5)
        tar_member(t, "srv/shared/", tarfile.DIRTYPE, 0o1777, i=6)
        tar_member(t, "srv/current", tarfile.SYMTYPE, 0o777, target="data/notes.txt", i=7)
        tar_member(t, "lib", tarfile.SYMTYPE, 0o777, target="srv/bin", i=8)
    for f in d.iterdir():
        os.utime(f, (MTIME, MTIME))
    return d


# What the image holds, as the customer ramdisk must show it (the file
# type in the mode's high bits).
IMAGE_FILES = {
    "rootfs/app.sh": (0o100755, b"#!/bin/sh\necho hello\n"),
    "rootfs/secret.txt": (0o100600, b"s3cret\n"),
    "rootfs/srv": (0o40750, b""),
    "rootfs/srv/bin/tool": (0o104755, b"tool\n"),
    "rootfs/srv/data": (0o40700, b""),
    "rootfs/srv/data/notes.txt": (0o100640, b"notes\n"),
    "rootfs/srv/shared": (0o41777, b""),
    "rootfs/srv/current": (0o120777, b"data/notes.txt"),
    "rootfs/lib": (0o120777, b"srv/bin"),
    "cmd": (0o100644, b"/app.sh\n--serve\n"),
}


def assert_image_files(eif, env):
    c = customer(eif)
    for name, want in IMAGE_FILES.items():
        assert c.get(name) == want, (name, c.get(name))
    assert c["env"][1] == "".join(e + "\n" for e in env).encode()


# bollard-stubs 1.49.1's ImageInspect and ImageConfig fields (nitro-cli's
# Docker client's model; docs/build-enclave.md, "The metadata section").
BOLLARD_INSPECT = {"Id", "Descriptor", "Manifests", "RepoTags", "RepoDigests", "Parent",
                   "Comment", "Created", "DockerVersion", "Author", "Config", "Architecture",
                   "Variant", "Os", "OsVersion", "Size", "VirtualSize", "GraphDriver", "RootFS",
                   "Metadata"}
BOLLARD_CONFIG = {"Hostname", "Domainname", "User", "AttachStdin", "AttachStdout",
                  "AttachStderr", "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd",
                  "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir", "Entrypoint",
                  "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal",
                  "StopTimeout", "Shell"}


def expected_docker_info(inspect):
    """What nitro-cli writes for a Docker 20.10 inspect answer: bollard's
    fields only, nulls left out, GraphDriver.Data null as {}."""
    info = {k: v for k, v in inspect.items() if k in BOLLARD_INSPECT and v is not None}
    info["Config"] = {k: v for k, v in inspect["Config"].items()
                      if k in BOLLARD_CONFIG and v is not None}
    info["GraphDriver"] = {"Name": inspect["GraphDriver"]["Name"],
                           "Data": inspect["GraphDriver"]["Data"] or {}}
    return info


def assert_docker_info(eif, inspect, name):
    """ImageName, ImageVersion and DockerInfo as nitro-cli's, DockerInfo's
    keys sorted at every level (serde_json's BTreeMap)."""
    text = metadata_text(eif)
    m = json.loads(text)
    assert (m["ImageName"], m["ImageVersion"]) == (name, inspect["Id"].removeprefix("sha256:"))
    assert m["DockerInfo"] == expected_docker_info(inspect)
    assert "ContainerConfig" in inspect and "ContainerConfig" not in m["DockerInfo"]

    class Pairs(list):
        pass

    def check_sorted(v):
        if isinstance(v, Pairs):
            assert [k for k, _ in v] == sorted(k for k, _ in v), [k for k, _ in v]
            v = [x for _, x in v]
        for x in v if isinstance(v, list) else []:
            check_sorted(x)

    raw = json.loads(text, object_pairs_hook=Pairs)
    assert [k for k, _ in raw][:2] == ["ImageName", "ImageVersion"]  # struct order outside
    check_sorted(dict(raw)["DockerInfo"])


# --------------------------------------------------------------------------
# the real daemon


def test_docker_dir_builds_the_dockerfile(dockerd, tmp_path):
    """--docker-dir against an empty daemon (no build cache to reuse), then
    `docker build --no-cache` of the same directory: the same layers, so
    the same customer ramdisk."""
    for image in dockerd.docker("images", "-aq").stdout.split():
        dockerd.docker("rmi", "-f", image, check=False)
    ctx = make_context(tmp_path / "ctx")
    p, eif = build(tmp_path, "--docker-dir", ctx, "--docker-uri", "cloister-test/dir:v1",
                   env=dockerd.env())
    m = assert_built(p, eif, START + DONE)  # built, never pulled: no "Using the locally..."
    inspect = dockerd.inspect("cloister-test/dir:v1")
    assert_image_files(eif, inspect["Config"]["Env"])
    assert_docker_info(eif, inspect, "cloister-test/dir")

    dockerd.docker("build", "--no-cache", "-q", "-t", "cloister-test/dir:cli", ctx)
    p, eif2 = build(tmp_path, "--docker-uri", "cloister-test/dir:cli", out="cli.eif",
                    env=dockerd.env())
    assert assert_built(p, eif2, START + LOCAL + DONE)["PCR2"] == m["PCR2"]
    assert ramdisks(eif2) == ramdisks(eif)


@pytest.fixture(scope="module")
def cli_image(dockerd, tmp_path_factory):
    """`docker build` of the context, its EIF through --docker-uri, its
    `docker save` tarball, and its inspect answer, all made up front."""
    d = tmp_path_factory.mktemp("cli")
    ctx = make_context(d / "ctx")
    dockerd.docker("build", "--no-cache", "-q", "-t", "cloister-test/scratch:v1", ctx)
    p, eif = build(d, "--docker-uri", "cloister-test/scratch:v1", env=dockerd.env())
    dockerd.docker("save", "-o", d / "save.tar", "cloister-test/scratch:v1")
    return {"p": p, "eif": eif, "save": d / "save.tar", "dir": d,
            "inspect": dockerd.inspect("cloister-test/scratch:v1")}


def test_docker_uri_of_a_docker_build(cli_image):
    assert_built(cli_image["p"], cli_image["eif"], START + LOCAL + DONE)
    assert_image_files(cli_image["eif"], cli_image["inspect"]["Config"]["Env"])
    assert_docker_info(cli_image["eif"], cli_image["inspect"], "cloister-test/scratch")


def test_daemon_path_equals_docker_save(cli_image, tmp_path):
    """The daemon path and the archive path give the same ramdisks: the
    same PCRs, printed and recomputed, and the same bytes."""
    p, eif = build(tmp_path, "--docker-archive", cli_image["save"])
    m = assert_built(p, eif, START + DONE)
    daemon = json.loads(cli_image["p"].stdout)["Measurements"]
    assert {k: m[k] for k in ("PCR0", "PCR1", "PCR2")} == \
        {k: daemon[k] for k in ("PCR0", "PCR1", "PCR2")}
    assert ramdisks(eif) == ramdisks(cli_image["eif"])


@pytest.fixture(scope="module")
def image_a(dockerd, tmp_path_factory):
    """The shared test image A, loaded with `docker load`, built through
    --docker-uri."""
    tar = RAMDISKS / "inputs" / "oci-image-a.tar"
    if not tar.exists():
        pytest.skip(f"{tar} is not there (CLOISTER_SHARED_DIR)")
    assert dockerd.docker("load", "-i", tar).stdout == "Loaded image: nitro-test-a:v1\n"
    d = tmp_path_factory.mktemp("image-a")
    p, eif = build(d, "--docker-uri", "nitro-test-a:v1", env=dockerd.env())
    return {"p": p, "eif": eif, "tar": tar, "inspect": dockerd.inspect("nitro-test-a:v1")}


def test_loaded_image_a_builds(image_a, tmp_path):
    assert_built(image_a["p"], image_a["eif"], START + LOCAL + DONE)
    c = customer(image_a["eif"])
    assert c["cmd"][1] == b"/bin/app\n--x\n" and c["env"][1] == b"A=1\nPATH=/bin\n"
    assert c["rootfs/bin/app"][0] == 0o100755 and c["rootfs/secret/token"][0] == 0o100600
    assert c["rootfs/usr/lib/abs-link"] == (0o120777, b"/bin/app")
    m = json.loads(metadata_text(image_a["eif"]))
    assert (m["ImageName"], m["ImageVersion"]) == \
        ("nitro-test-a", image_a["inspect"]["Id"].removeprefix("sha256:"))
    # the tarball itself through --docker-archive: the same customer ramdisk
    p, eif = build(tmp_path, "--docker-archive", image_a["tar"])
    assert_built(p, eif, START + DONE)
    assert ramdisks(eif)[1] == ramdisks(image_a["eif"])[1]


def test_loaded_image_a_customer_ramdisk_is_nitro_clis(image_a):
    """Image A through the daemon gives nitro-cli's customer ramdisk, byte
    for byte (testdata/nitro-cli-ramdisks/README.md)."""
    want = (RAMDISKS / "customer-a-docker" / "customer-initrd.img-initrd.img").read_bytes()
    assert hashlib.sha384(want).hexdigest().startswith("17e561cb2dc3c5cf")
    got = ramdisks(image_a["eif"])[1]
    if got != want:
        pytest.fail(f"sha384 {hashlib.sha384(got).hexdigest()}, nitro-cli's "
                    f"{hashlib.sha384(want).hexdigest()}; {first_difference(got, want)}")


# linuxkit's tables (v1.5.2 src/cmd/linuxkit/moby/build/image.go), as
# nitro-cli's linuxkit applies them to the `docker export` stream.
LK_TIME = 1492533000
LK_EXCLUDE = {".dockerenv", "Dockerfile", "dev/console", "dev/pts", "dev/shm", "etc/hostname"}
LK_HOSTS = (b"127.0.0.1       localhost\n::1     localhost ip6-localhost ip6-loopback\n"
            b"fe00::0 ip6-localnet\nff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\n"
            b"ff02::2 ip6-allrouters\n")
LK_RESOLV = b"/run/resolvconf/resolv.conf"
LK_TOUCH = {"dev/": 0o40755, "dev/pts/": 0o40755, "dev/shm/": 0o40755, "etc/": 0o40755,
            "etc/mtab": 0o120755, "etc/resolv.conf": 0o100644, "etc/hosts": 0o100644,
            "proc/": 0o40755, "sys/": 0o40755}


def linuxkit_customer(export, cmd, env):
    """The customer ramdisk's headers (name, mode, uid, gid, mtime, data)
    that nitro-cli's linuxkit writes from a real `docker export` tarball:
    an independent model of its rules, for comparing with Cloister's
    rendering of the same image without Docker."""
    kinds = {tarfile.DIRTYPE: 0o040000, tarfile.SYMTYPE: 0o120000, tarfile.LNKTYPE: 0o120000,
             tarfile.CHRTYPE: 0o020000, tarfile.BLKTYPE: 0o060000, tarfile.FIFOTYPE: 0o010000}
    out, seen = [("rootfs", 0o40755, 0, 0, LK_TIME, b"")], set()
    with tarfile.open(fileobj=io.BytesIO(export)) as t:
        for m in t:
            name = m.name + ("/" if m.isdir() else "")  # tarfile drops the '/'
            if name in LK_EXCLUDE:
                continue
            mode = kinds.get(m.type, 0o100000) | m.mode
            data = t.extractfile(m).read() if m.isreg() else m.linkname.encode()
            if m.islnk():  # a relative symbolic link to the first name
                data = os.path.relpath("rootfs/" + m.linkname,
                                       os.path.dirname("rootfs/" + name)).encode()
            mtime = m.mtime
            if name == "etc/hosts":
                data = LK_HOSTS
            elif name == "etc/resolv.conf":
                mode, data = 0o120000 | m.mode, LK_RESOLV
            if name in LK_TOUCH:
                seen.add(name)
                mtime = LK_TIME
            out.append(("rootfs/" + name, mode, m.uid, m.gid, mtime, data))
    for name in sorted(set(LK_TOUCH) - seen):
        data = LK_HOSTS if name == "etc/hosts" else LK_RESOLV if name == "etc/resolv.conf" else \
            b"/proc/mounts" if name == "etc/mtab" else b""
        mode = 0o120644 if name == "etc/resolv.conf" else LK_TOUCH[name]
        out.append(("rootfs/" + name.rstrip("/"), mode, 0, 0, LK_TIME, data))
    for d in ("", "/dev", "/run", "/sys", "/var", "/proc", "/tmp"):
        out.append(("rootfs" + d, 0o40755, 0, 0, LK_TIME, b""))
    out.append(("cmd", 0o100644, 0, 0, LK_TIME, "".join(c + "\n" for c in cmd).encode()))
    out.append(("env", 0o100644, 0, 0, LK_TIME, "".join(e + "\n" for e in env).encode()))
    return out


def cpio_list(buf):
    """[(name, mode, uid, gid, mtime, data)] in order."""
    return [(e.name, e.mode, e.uid, e.gid, e.mtime, e.data) for e in cpio_entries(buf)]


def test_customer_ramdisk_is_linuxkits_view_of_docker_export(dockerd, cli_image, tmp_path):
    """The image the Dockerfile built (setuid, a hard link, uid 1000,
    0750/0700/1777 directories, symlinks): the real daemon's `docker
    export` of a container made from it, filtered by a model of linuxkit's
    rules, gives the customer ramdisk Cloister wrote from the image's
    layers without Docker, header by header."""
    name = "cloister-test-export"
    dockerd.docker("create", "--name", name, "cloister-test/scratch:v1")
    try:
        dockerd.docker("export", "-o", tmp_path / "export.tar", name)
        export = (tmp_path / "export.tar").read_bytes()
    finally:
        dockerd.docker("rm", "-f", name, check=False)
    cfg = cli_image["inspect"]["Config"]
    want = linuxkit_customer(export, cfg["Cmd"], cfg["Env"])
    got = cpio_list(ramdisks(cli_image["eif"])[1])
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"header {i}"
    assert len(got) == len(want)
    assert ("rootfs/srv/tool-link", 0o124755, 0, 0, MTIME + 3, b"bin/tool") in got


# --------------------------------------------------------------------------
# failures


def test_no_daemon(tmp_path):
    sock = tmp_path / "docker.sock"
    env = {"DOCKER_HOST": f"unix://{sock}"}
    p, out = build(tmp_path, "--docker-uri", "hello:latest", env=env)
    assert_failed(p, out, 50, f"[ E50 ] Docker image pull failure. no Docker daemon is reachable "
                              f"at {sock} (No such file or directory); build without one from "
                              "--docker-archive FILE (a `docker save` tarball), --oci-layout DIR, "
                              "--oci-archive FILE or --rootfs DIR")
    ctx = make_context(tmp_path / "ctx")
    p, out = build(tmp_path, "--docker-dir", ctx, "--docker-uri", "hello", env=env)
    assert_failed(p, out, 49, f"[ E49 ] Docker image build failure. no Docker daemon is reachable "
                              f"at {sock} (No such file or directory); --docker-dir builds the "
                              "Dockerfile with one; without one, build the image with your tools "
                              "and pass it as --docker-archive FILE, --oci-layout DIR or "
                              "--oci-archive FILE")
    p, out = build(tmp_path, "--docker-uri", "hello", env={"DOCKER_HOST": "tcp://127.0.0.1:2375"})
    assert_failed(p, out, 50, "[ E50 ] Docker image pull failure. DOCKER_HOST "
                              "'tcp://127.0.0.1:2375' is not supported: Cloister reaches the "
                              "Docker daemon through its Unix socket (unix://PATH); build without "
                              "one from --docker-archive FILE (a `docker save` tarball), "
                              "--oci-layout DIR, --oci-archive FILE or --rootfs DIR")


def test_docker_dir_arguments(tmp_path):
    ctx = make_context(tmp_path / "ctx")
    p, out = build(tmp_path, "--docker-dir", ctx)
    assert_failed(p, out, 1, "[ E01 ] Missing mandatory argument. --docker-dir needs --docker-uri "
                             "TAG, the tag of the image it builds")
    p, out = build(tmp_path, "--docker-dir", ctx, "--oci-layout", ctx)
    assert_failed(p, out, 2, "[ E02 ] Conflicting arguments. --docker-dir and --oci-layout cannot "
                             "be used together")


def test_dockerfile_that_fails_to_build(dockerd, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /\n")
    p, out = build(tmp_path, "--docker-dir", ctx, "--docker-uri", "cloister-test/bad",
                   env=dockerd.env())
    assert_failed(p, out, 49, re.compile(
        re.escape(f"[ E49 ] Docker image build failure. Docker daemon: building "
                  f"'cloister-test/bad:latest' from '{ctx}' failed: COPY failed: ") +
        ".*missing.txt.*"))
    # refused before the build starts (HTTP 400): the daemon's message too
    (ctx / "Dockerfile").write_text("FROM scratch\nBOGUS x\n")
    p, out = build(tmp_path, "--docker-dir", ctx, "--docker-uri", "cloister-test/bad",
                   env=dockerd.env())
    assert_failed(p, out, 49, f"[ E49 ] Docker image build failure. Docker daemon: building "
                              f"'cloister-test/bad:latest' from '{ctx}' failed: dockerfile parse "
                              "error line 2: unknown instruction: BOGUS")
    assert dockerd.docker("image", "inspect", "cloister-test/bad", check=False).returncode != 0
    p, out = build(tmp_path, "--docker-dir", tmp_path / "nowhere", "--docker-uri", "x",
                   env=dockerd.env())
    assert_failed(p, out, 49, f"[ E49 ] Docker image build failure. cannot open "
                              f"'{tmp_path / 'nowhere'}' as a directory: No such file or directory")


def test_context_symlinks(dockerd, tmp_path):
    """A link inside the directory is sent as what it points to (as
    nitro-cli sends it); one out of it stops the build before the daemon
    sees anything."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM scratch\nCOPY linked.txt /\nCMD ["/x"]\n')
    (ctx / "real.txt").write_text("real\n")
    os.symlink("real.txt", ctx / "linked.txt")
    p, eif = build(tmp_path, "--docker-dir", ctx, "--docker-uri", "cloister-test/links:v1",
                   env=dockerd.env())
    assert_built(p, eif, START + DONE)
    assert customer(eif)["rootfs/linked.txt"] == (0o100644, b"real\n")
    (tmp_path / "outside.txt").write_text("host file\n")
    os.symlink("../outside.txt", ctx / "leak")
    p, out = build(tmp_path, "--docker-dir", ctx, "--docker-uri", "cloister-test/links:v2",
                   out="leak.eif", env=dockerd.env())
    assert_failed(p, out, 49, f"[ E49 ] Docker image build failure. build context '{ctx}': "
                              "symlink 'leak' -> '../outside.txt' points out of the context")
    assert dockerd.docker("image", "inspect", "cloister-test/links:v2", check=False).returncode


def test_missing_image_cannot_be_pulled(dockerd, tmp_path):
    """No registry is reachable: the daemon's pull fails, E50 with its reason."""
    p, out = build(tmp_path, "--docker-uri", "cloister-test/absent:v9", env=dockerd.env())
    assert_failed(p, out, 50, re.compile(re.escape(
        "[ E50 ] Docker image pull failure. Docker daemon: pulling 'cloister-test/absent:v9' "
        "failed: ") + ".+"))


# --------------------------------------------------------------------------
# the calls, against a stand-in for the Engine API


def docker_save_tarball(path, files, config, tag):
    """A `docker save` tarball of one layer holding files {name: data}."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            tar_member(t, name, tarfile.REGTYPE, 0o755, data)
    cfg = json.dumps(config).encode()
    cfg_sha = hashlib.sha256(cfg).hexdigest()
    manifest = json.dumps([{"Config": f"{cfg_sha}.json", "RepoTags": [tag],
                            "Layers": ["l1/layer.tar"]}]).encode()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        tar_member(t, f"{cfg_sha}.json", tarfile.REGTYPE, 0o644, cfg)
        tar_member(t, "l1/", tarfile.DIRTYPE, 0o755)
        tar_member(t, "l1/layer.tar", tarfile.REGTYPE, 0o644, layer.getvalue())
        tar_member(t, "manifest.json", tarfile.REGTYPE, 0o644, manifest)
    return cfg_sha


class FakeDocker:
    """Answers the Engine API calls build-enclave makes, from one image."""

    def __init__(self, path, archive, inspect, local, api_version):
        import http.server
        import socketserver
        import threading
        self.calls, fake = [], self
        v = "/v" + min(api_version, "1.49", key=lambda s: tuple(map(int, s.split("."))))

        class Handler(http.server.BaseHTTPRequestHandler):
            def address_string(self):
                return "unix"

            def log_message(self, *a):
                pass

            def answer(self, code, body, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                fake.calls.append(("GET", self.path))
                if self.path == "/version":
                    self.answer(200, json.dumps({"ApiVersion": api_version}).encode())
                elif self.path == v + "/images/app:v1/json":
                    if fake.local:
                        self.answer(200, json.dumps(inspect).encode())
                    else:
                        self.answer(404, b'{"message":"No such image: app:v1"}')
                elif self.path == v + "/images/app:v1/get":
                    self.answer(200, archive.read_bytes(), "application/x-tar")
                else:
                    self.answer(404, b'{"message":"page not found"}')

            def do_POST(self):
                fake.calls.append(("POST", self.path))
                fake.local = True
                self.answer(200, b'{"status":"Pulling from library/app"}\r\n'
                                 b'{"status":"Downloaded"}\r\n')

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.local, self.prefix = local, v
        self.server = Server(str(path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("local", [True, False], ids=["local", "pulled"])
@pytest.mark.parametrize("api", ["1.41", "1.52"])
def test_docker_uri_calls(tmp_path, local, api):
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["/bin/app", "--serve"], "Env": ["PATH=/bin"]},
              "rootfs": {"type": "layers", "diff_ids": []}}
    arch = tmp_path / "save.tar"
    cfg_sha = docker_save_tarball(arch, {"bin/app": b"app"}, config, "app:v1")
    inspect = {"Id": "sha256:" + cfg_sha, "RepoTags": ["app:v1"], "Architecture": "amd64",
               "Config": config["config"], "Os": "linux", "Container": "abc"}
    sock = tmp_path / "docker.sock"
    fake = FakeDocker(sock, arch, inspect, local, api)
    try:
        p, o = build(tmp_path, "--docker-uri", "app:v1", env={"DOCKER_HOST": f"unix://{sock}"})
    finally:
        fake.close()
    assert_built(p, o, START + (LOCAL if local else "") + DONE)
    v = fake.prefix
    inspect_calls = [("GET", "/version"), ("GET", v + "/images/app:v1/json")]
    want = list(inspect_calls)  # docker_daemon_pull()
    if not local:
        want += [("POST", v + "/images/create?fromImage=app:v1")]
    want += inspect_calls + [("GET", v + "/images/app:v1/get")]  # image_from_docker_daemon()
    assert fake.calls == want
    m = json.loads(metadata_text(o))
    assert (m["ImageName"], m["ImageVersion"]) == ("app", cfg_sha)
    assert m["DockerInfo"] == {k: v for k, v in inspect.items() if k != "Container"}
    c = customer(o)
    assert c["cmd"][1] == b"/bin/app\n--serve\n" and c["rootfs/bin/app"][1] == b"app"
    p2, o2 = build(tmp_path, "--docker-archive", arch, out="direct.eif")
    assert_built(p2, o2, START + DONE)
    assert ramdisks(o2) == ramdisks(o)


def test_bad_image_from_the_daemon(tmp_path):
    """A layer that climbs out, read from the daemon: E48 as from a file
    (nitro-cli's number for what goes wrong once the daemon has the image),
    the image named."""
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/x"]},
              "rootfs": {"type": "layers", "diff_ids": []}}
    arch = tmp_path / "save.tar"
    cfg_sha = docker_save_tarball(arch, {"../escape": b"x"}, config, "app:v1")
    inspect = {"Id": "sha256:" + cfg_sha, "RepoTags": ["app:v1"], "Config": config["config"]}
    sock = tmp_path / "docker.sock"
    fake = FakeDocker(sock, arch, inspect, True, "1.41")
    try:
        p, out = build(tmp_path, "--docker-uri", "app:v1", env={"DOCKER_HOST": f"unix://{sock}"})
    finally:
        fake.close()
    assert_failed(p, out, 48, re.compile(re.escape(
        "[ E48 ] Could not build EIF file. Docker image 'app:v1': docker archive '/proc/self/fd/")
        + r"\d+" + re.escape("': layer 1 ('l1/layer.tar'): '../escape': path contains '..'")))
