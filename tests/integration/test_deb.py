# SPDX-License-Identifier: Apache-2.0
"""The Debian package (debian/, docs/packaging.md).

scripts/build-deb.sh, what `make deb` runs, builds the packages from the
tree with dpkg-buildpackage (about 1.5 minutes with one compiler job, once
per run of this file). Their contents, control fields and units are
checked exactly; then they are installed with apt into a clean Debian 12
root made by mmdebstrap (variant apt, plus man-db, and systemd, curl and
python3 for the boot below; about a minute with the Debian mirror), where
`cloister --version`, `nitro-cli --version` and `man` run and the units
pass `systemd-analyze verify` and `security`. The root is then booted with
systemd-nspawn (private network), where both services are started and
used: the key service answers HTTPS as its system user, the proxy carries
vsock connections as a dynamic user. Last, `apt-get remove` must leave no
file of the packages and nothing named after them (units, their
deb-systemd-helper records), and `apt-get purge` the same.

Everything here needs root (chroot, nspawn). The mirror is
$CLOISTER_DEBIAN_MIRROR, default http://deb.debian.org/debian.
$CLOISTER_DEB_DIR=DIR tests the .debs in DIR instead of building them.
"""
import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import BIN_DIR, BUILD_DIR, SOURCE_DIR, run

MIRROR = os.environ.get("CLOISTER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ["cloister", "libcloister-dev", "cloister-nitro-cli"]


def version():
    text = (SOURCE_DIR / "CMakeLists.txt").read_text()
    return re.search(r"^project\(cloister VERSION ([0-9.]+)", text, re.M).group(1)


def arch():
    return run(["dpkg", "--print-architecture"], check=True).stdout.strip()


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """The .debs scripts/build-deb.sh builds from this tree, by package name;
    or, when $CLOISTER_DEB_DIR names a directory, the .debs already there
    (e.g. `make deb`'s build/deb), not rebuilt."""
    given = os.environ.get("CLOISTER_DEB_DIR")
    out = Path(given) if given else tmp_path_factory.mktemp("deb")
    if not given:
        run([SOURCE_DIR / "scripts" / "build-deb.sh", out], env={"JOBS": "1"}, timeout=1800,
            check=True)
    found = {p.name.split("_")[0]: p for p in out.glob("*.deb")}
    yield found
    if not given:
        shutil.rmtree(out, ignore_errors=True)


def member(deb, path):
    """The bytes of one file of a .deb."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.extractfile("." + path).read()


def contents(deb):
    """{path: (mode, link target or None)} of a .deb's files and links (no directories)."""
    listing = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True,
                             check=True).stdout
    out = {}
    with tarfile.open(fileobj=io.BytesIO(listing)) as tar:
        for m in tar.getmembers():
            if m.isdir():
                continue
            out[m.name.lstrip(".")] = (m.mode, m.linkname if m.issym() else None)
    return out


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name], check=True).stdout.strip()


def test_changelog_is_at_the_cmake_version():
    top = (SOURCE_DIR / "debian" / "changelog").read_text().splitlines()[0]
    assert top.startswith(f"cloister ({version()}) "), top


def test_the_packages_and_what_each_holds(debs, tmp_path):
    v, a = version(), arch()
    assert sorted(debs) == ["cloister", "cloister-dbgsym", "cloister-nitro-cli", "libcloister-dev"]
    assert debs["cloister"].name == f"cloister_{v}_{a}.deb"
    assert debs["cloister-nitro-cli"].name == f"cloister-nitro-cli_{v}_all.deb"

    multiarch = run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], check=True).stdout.strip()
    docs = {f"/usr/share/doc/cloister/{p.name}" for p in (SOURCE_DIR / "docs").glob("*.md")}
    programs = ["cloister", "cloister-kms", "cloister-kmstool", "cloister-monitor",
                "cloister-nsm", "cloister-vsock-proxy"]
    man1 = ["cloister", "cloister-kms", "cloister-kmstool", "cloister-nsm", "cloister-vsock-proxy"]
    expected = {f"/usr/bin/{p}" for p in programs} | {
        f"/usr/share/man/man1/{p}.1.gz" for p in man1} | {
        "/usr/share/man/man8/cloister-monitor.8.gz",
        "/usr/share/cloister/blobs/bzImage", "/usr/share/cloister/blobs/bzImage.config",
        "/usr/share/cloister/blobs/cmdline", "/usr/share/cloister/blobs/init",
        "/usr/share/cloister/proxy/vsock-proxy.yaml",
        f"/usr/lib/{multiarch}/libnsm.so.0", f"/usr/lib/{multiarch}/libnsm.so.{v}",
        "/usr/lib/libcloister-preload.so",
        "/lib/systemd/system/cloister-kms.service", "/lib/systemd/system/cloister-vsock-proxy.service",
        "/usr/lib/tmpfiles.d/cloister.conf",
        "/usr/share/bash-completion/completions/cloister",
        "/usr/share/doc/cloister/README.md", "/usr/share/doc/cloister/changelog.gz",
        "/usr/share/doc/cloister/copyright",
        "/usr/share/lintian/overrides/cloister",
    } | docs
    files = contents(debs["cloister"])
    assert set(files) == expected
    for p in programs:
        assert files[f"/usr/bin/{p}"] == (0o755, None), p
    assert files["/usr/share/cloister/blobs/init"] == (0o755, None)
    assert files["/lib/systemd/system/cloister-kms.service"] == (0o644, None)
    assert files[f"/usr/lib/{multiarch}/libnsm.so.0"] == (0o777, f"libnsm.so.{v}")

    assert set(contents(debs["libcloister-dev"])) == {
        f"/usr/include/cloister/{h}.h" for h in ["attestation", "eif", "error", "kms", "nsm", "vsock"]
    } | {
        f"/usr/lib/{multiarch}/libcloister.a", f"/usr/lib/{multiarch}/libnsm.so",
        f"/usr/lib/{multiarch}/pkgconfig/cloister.pc", f"/usr/lib/{multiarch}/pkgconfig/libnsm.pc",
        "/usr/share/doc/libcloister-dev/changelog.gz", "/usr/share/doc/libcloister-dev/copyright",
    }

    nitro = contents(debs["cloister-nitro-cli"])
    assert nitro == {
        "/usr/bin/nitro-cli": (0o777, "cloister"),
        "/usr/share/man/man1/nitro-cli.1.gz": (0o644, None),
        "/usr/share/bash-completion/completions/nitro-cli": (0o644, None),
        "/usr/share/doc/cloister-nitro-cli/changelog.gz": (0o644, None),
        "/usr/share/doc/cloister-nitro-cli/copyright": (0o644, None),
    }

    # The init blob (measured into PCR1) is packaged as the build linked it:
    # dh_strip, which would drop its .comment section, left it alone.
    init = tmp_path / "init"
    init.write_bytes(member(debs["cloister"], "/usr/share/cloister/blobs/init"))
    sections = run(["readelf", "-S", "-W", init], check=True).stdout
    assert " .comment " in sections and ".gnu_debuglink" not in sections
    assert re.search(r"Type:\s+EXEC ", run(["readelf", "-h", init], check=True).stdout)  # no PIE

    assert field(debs["cloister-nitro-cli"], "Conflicts") == "aws-nitro-enclaves-cli"
    assert field(debs["cloister-nitro-cli"], "Depends") == f"cloister (>= {v}), cloister (<< {v}.1~)"
    assert field(debs["libcloister-dev"], "Depends").startswith(f"cloister (= {v}), ")
    depends = [d.split(" ")[0] for d in field(debs["cloister"], "Depends").split(", ")]
    assert depends[0] == "adduser" and "libseccomp2" in depends and "libcbor0.8" in depends


def unit_settings(deb, name):
    """The [Service] settings of a unit in the package, as {key: [values]}."""
    text = member(deb, f"/lib/systemd/system/{name}").decode()
    service = text.split("[Service]", 1)[1].split("[Install]", 1)[0]
    out = {}
    for line in service.splitlines():
        if line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return text, out


HARDENING = {
    "NoNewPrivileges": ["yes"], "CapabilityBoundingSet": [""], "ProtectSystem": ["strict"],
    "ProtectHome": ["yes"], "PrivateTmp": ["yes"], "ProtectKernelTunables": ["yes"],
    "ProtectKernelModules": ["yes"], "ProtectControlGroups": ["yes"],
    "SystemCallFilter": ["@system-service", "~@privileged"],
}


def test_units_run_unprivileged_and_hardened(debs):
    text, kms = unit_settings(debs["cloister"], "cloister-kms.service")
    for k, v in HARDENING.items():
        assert kms[k] == v, k
    assert kms["User"] == ["cloister-kms"] and kms["Group"] == ["cloister-kms"]
    assert kms["UMask"] == ["0077"]
    assert kms["StateDirectory"] == ["cloister-kms cloister-kms/tls"]
    assert kms["StateDirectoryMode"] == ["0755"]
    assert kms["ExecStart"] == [
        "/usr/bin/cloister-kms serve --data-dir /var/lib/cloister-kms --listen ${LISTEN} "
        "--endpoints-file /run/cloister-kms/endpoints.json $CLOISTER_KMS_ARGS"]
    assert kms["Environment"] == ["LISTEN=127.0.0.1:4443", '"CLOISTER_KMS_ARGS=--imds 127.0.0.1:0"']
    assert (kms["RuntimeDirectory"], kms["RuntimeDirectoryMode"]) == (["cloister-kms"], ["0755"])
    assert kms["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert not re.search(r"@[A-Z_]+@", text)   # every CMake variable was replaced

    text, proxy = unit_settings(debs["cloister"], "cloister-vsock-proxy.service")
    for k, v in HARDENING.items():
        assert proxy[k] == v, k
    assert proxy["DynamicUser"] == ["yes"]
    assert proxy["UMask"] == ["0022"]   # the vsock directory's .lock is shared
    assert proxy["ReadWritePaths"] == ["/run/cloister/vsock/3"]
    assert "PrivateUsers" not in proxy and "PrivateDevices" not in proxy
    assert proxy["ExecStart"] == [
        "/usr/bin/cloister-vsock-proxy --config ${ALLOWLIST} ${LOCAL_PORT} ${REMOTE_ADDR} "
        "${REMOTE_PORT}"]
    assert "Environment=ALLOWLIST=/usr/share/cloister/proxy/vsock-proxy.yaml" in text
    assert "Environment=REMOTE_PORT=4443" in text
    assert not re.search(r"@[A-Z_]+@", text)


def chroot(root, *args, **kw):
    return run(["chroot", root, *args], timeout=300, **kw)


def names_left(root):
    """Paths under root named after the packages, outside dpkg's own records."""
    left = []
    for dp, dn, fn in os.walk(root):
        rel = "/" + os.path.relpath(dp, root)
        if rel in ("/proc", "/sys", "/var/lib/dpkg"):
            dn[:] = []
            continue
        for n in dn + fn:
            if "cloister" in n or "nitro-cli" in n:
                left.append(os.path.normpath(f"{rel}/{n}"))
    return sorted(left)


@pytest.fixture(scope="module")
def root(debs, tmp_path_factory):
    """A clean Debian 12 root (mmdebstrap, variant apt, + man-db) with the three
    packages installed by apt from their .deb files, dependencies from the mirror."""
    if os.geteuid() != 0:
        pytest.skip("mmdebstrap's root mode (chroot) needs root")
    if not shutil.which("mmdebstrap"):
        pytest.fail("mmdebstrap is missing: scripts/install-deps.sh test installs it")
    r = tmp_path_factory.mktemp("root") / "root"
    names = [debs[p].name for p in PACKAGES]
    run(["mmdebstrap", "--variant=apt", "--include=man-db,systemd,systemd-sysv,curl,python3",
         "--customize-hook=copy-in " + " ".join(str(debs[p]) for p in PACKAGES) + " /tmp",
         "--customize-hook=chroot \"$1\" apt-get -o Dpkg::Use-Pty=0 install -y "
         "--no-install-recommends " + " ".join(f"/tmp/{n}" for n in names),
         "--customize-hook=rm -f " + " ".join(f"\"$1\"/tmp/{n}" for n in names),
         "bookworm", r, MIRROR], timeout=900, check=True)
    yield r
    mounted = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
               if line.split()[1].startswith(str(r))]
    assert mounted == [], f"still mounted, not removed: {mounted}"
    shutil.rmtree(r)


def test_installed_in_a_clean_root(root):
    v = version()
    assert chroot(root, "cloister", "--version", check=True).stdout == f"Cloister CLI {v}\n"
    # Under its name nitro-cli, the program is nitro-cli (docs/compatibility.md).
    assert chroot(root, "nitro-cli", "--version", check=True).stdout == "Nitro CLI 1.5.0\n"
    assert chroot(root, "cloister-kms", "--version", check=True).stdout == f"cloister-kms {v}\n"

    # man finds every page; 100 columns, so that man-db keeps no cat page.
    for page, section in [("cloister", 1), ("cloister-kms", 1), ("cloister-vsock-proxy", 1),
                          ("cloister-kmstool", 1), ("cloister-nsm", 1), ("cloister-monitor", 8),
                          ("nitro-cli", 1)]:
        out = chroot(root, "man", str(section), page, env={"MANWIDTH": "100", "LANG": "C.UTF-8"},
                     check=True).stdout.splitlines()
        assert out[0].startswith(f"{page}({section}) "), out[0]
        assert out[3].strip().startswith(f"{page} - "), out[:5]
    man = chroot(root, "man", "cloister", env={"MANWIDTH": "100", "LANG": "C.UTF-8"}).stdout
    for sub in ["build-enclave", "run-enclave", "describe-enclaves", "terminate-enclave",
                "attestation-ca", "verify-attestation", "exec"]:
        assert re.search(rf"^       {sub}\b", man, re.M), sub

    # The system user of cloister-kms.service, and the directories of the package.
    assert chroot(root, "getent", "passwd", "cloister-kms", check=True).stdout.split(":")[5:] == [
        "/var/lib/cloister-kms", "/usr/sbin/nologin\n"]
    for d in ["etc/cloister", "var/lib/cloister"]:
        assert (root / d).is_dir(), d
    assert not (root / "var/lib/cloister-kms").exists()   # made by systemd at the first start

    # The units: valid for this systemd, and hardened ("OK": exposure <= 2.0 of 10).
    for unit in ["cloister-kms.service", "cloister-vsock-proxy.service"]:
        verify = run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no",
                      f"--root={root}", unit])
        assert (verify.returncode, verify.stderr) == (0, ""), unit
        sec = run(["systemd-analyze", "security", "--offline=yes", f"--root={root}", unit,
                   "--no-pager"])
        level = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", sec.stdout)
        assert level and float(level.group(1)) <= 2.0 and level.group(2) == "OK", sec.stdout[-300:]
    # Not enabled: no link in any .wants directory.
    assert [p for p in (root / "etc/systemd/system").rglob("cloister*")] == []


# Run at boot inside the root by a oneshot unit; one "name: value" line per
# observation, then the container powers off. The emulated vsock is forced
# (no host vsock device is ever opened): CLOISTER_VSOCK_TRANSPORT=emulated.
BOOT_SCRIPT = r"""#!/bin/sh
exec >/root/boot.out 2>&1
export CLOISTER_VSOCK_TRANSPORT=emulated
say() { printf '= %s: %s\n' "$1" "$2"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
say enabled "$(systemctl is-enabled cloister-kms.service cloister-vsock-proxy.service | xargs)"
say rundir "$(stat -c '%n %a %U' /run/cloister /run/cloister/vsock /run/cloister/vsock/3 | xargs)"

systemctl start cloister-kms.service
# the endpoints file comes last, once both listeners are up (the first start
# also makes keys: seconds on a loaded machine)
for i in $(seq 600); do
    [ -e /run/cloister-kms/endpoints.json ] &&
        curl -s --cacert /var/lib/cloister-kms/tls/ca.pem -o /dev/null https://127.0.0.1:4443/ && break
    sleep 0.1
done
say kms "$(systemctl is-active cloister-kms.service) $(stat -c %U /proc/$(systemctl show -P MainPID cloister-kms.service))"
say kms-https "$(curl -s --cacert /var/lib/cloister-kms/tls/ca.pem -o /dev/null -w '%{http_code}' https://127.0.0.1:4443/)"
cd /var/lib/cloister-kms
say kms-files "$(stat -c '%n %a %U' . tls tls/ca.pem tls/ca.key credentials master.key kms.db | xargs)"
say ca-for-others "$(nobody head -1 tls/ca.pem)"
say credentials-for-others "$(nobody cat credentials >/dev/null 2>&1 && echo readable || echo refused)"
say principal "$(runuser -u cloister-kms -- cloister-kms principal create app --data-dir /var/lib/cloister-kms | grep -c '"Arn"')"
cd /
say endpoints "$(stat -c '%a %U' /run/cloister-kms/endpoints.json) $(python3 -c '
import json
e = json.load(open("/run/cloister-kms/endpoints.json"))
print(e["KmsEndpoint"], e["ImdsEndpoint"].startswith("http://127.0.0.1:"), e["InstanceId"])')"
nobody env -u XDG_RUNTIME_DIR cloister env >/tmp/env.sh
say env-kms "$(grep '^export AWS_ENDPOINT_URL_KMS=' /tmp/env.sh)"
say env-imds "$(. /tmp/env.sh; nobody curl -s "${AWS_EC2_METADATA_SERVICE_ENDPOINT}latest/meta-data/instance-id")"

python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7777)); s.listen(16)
def echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    threading.Thread(target=echo, args=(s.accept()[0],), daemon=True).start()
' &
printf 'allowlist:\n- {address: 127.0.0.1, port: 7777}\n' >/etc/cloister/echo.yaml
printf 'REMOTE_PORT=7777\nALLOWLIST=/etc/cloister/echo.yaml\nCLOISTER_VSOCK_TRANSPORT=emulated\n' \
    >/etc/default/cloister-vsock-proxy
systemctl start cloister-vsock-proxy.service
for i in $(seq 100); do [ -S /run/cloister/vsock/3/8000 ] && break; sleep 0.1; done
uid=$(stat -c %u /proc/$(systemctl show -P MainPID cloister-vsock-proxy.service))
say proxy "$(systemctl is-active cloister-vsock-proxy.service) $([ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] && echo dynamic-user || echo "uid $uid")"
say proxy-socket "$(stat -c '%a' /run/cloister/vsock/3/8000) $(stat -c '%a' /run/cloister/vsock/3/.lock)"
say proxy-echo "$(/usr/local/bin/vsock_stream echo-check 3 8000 200000 4)"
say listen-as-nobody "$(nobody timeout 2 /usr/local/bin/vsock_echo listen 3 9100 1 | head -1)"
systemctl stop cloister-vsock-proxy.service cloister-kms.service
say stopped "$(systemctl is-active cloister-kms.service cloister-vsock-proxy.service | xargs) $([ -e /run/cloister/vsock/3/8000 ] && echo socket-left || echo socket-gone) $([ -e /run/cloister-kms ] && echo endpoints-left || echo endpoints-gone)"
say security "$(systemd-analyze security --no-pager cloister-kms.service cloister-vsock-proxy.service | awk '/^cloister-[a-z-]+[.]service +[0-9.]+ / { print $1, $3 }' | xargs)"
say done yes
systemctl poweroff
"""

BOOT_UNIT = """[Unit]
Description=test_deb.py: start and use the services, then power off
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/sh /root/boot.sh
[Install]
WantedBy=multi-user.target
"""


def test_services_start_under_systemd(root):
    if not shutil.which("systemd-nspawn"):
        pytest.fail("systemd-nspawn is missing: scripts/install-deps.sh test installs it")
    (root / "root/boot.sh").write_text(BOOT_SCRIPT)
    (root / "etc/systemd/system/boot-check.service").write_text(BOOT_UNIT)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(exist_ok=True)
    (wants / "boot-check.service").symlink_to("/etc/systemd/system/boot-check.service")
    for prog in ["vsock_stream", "vsock_echo"]:
        shutil.copy(BUILD_DIR / "tests" / "programs" / prog, root / "usr/local/bin" / prog)
    # --keep-unit --register=no: no system bus or machined needed on the host.
    boot = run(["systemd-nspawn", "-q", "-D", root, f"--machine=cloister-deb-{os.getpid()}",
                "--boot", "--private-network", "--keep-unit", "--register=no"],
               timeout=300, input="")
    out = (root / "root/boot.out").read_text() if (root / "root/boot.out").exists() else ""
    got = dict(line[2:].split(": ", 1) for line in out.splitlines() if line.startswith("= "))
    assert got.get("done") == "yes", (boot.stdout[-2000:], out)
    assert got == {
        "enabled": "disabled disabled",
        "rundir": "/run/cloister 755 root /run/cloister/vsock 755 root /run/cloister/vsock/3 1777 root",
        "kms": "active cloister-kms",
        "kms-https": "405",
        "kms-files": ". 755 cloister-kms tls 755 cloister-kms tls/ca.pem 644 cloister-kms "
                     "tls/ca.key 600 cloister-kms credentials 600 cloister-kms "
                     "master.key 600 cloister-kms kms.db 600 cloister-kms",
        "ca-for-others": "-----BEGIN CERTIFICATE-----",
        "credentials-for-others": "refused",
        "principal": "1",
        "endpoints": "644 cloister-kms https://127.0.0.1:4443 True i-0000000000000000",
        "env-kms": "export AWS_ENDPOINT_URL_KMS='https://127.0.0.1:4443';",
        "env-imds": "i-0000000000000000",
        "proxy": "active dynamic-user",
        "proxy-socket": "666 644",
        "proxy-echo": "OK conns=4 bytes=200000",
        "listen-as-nobody": "LISTENING 3 9100",
        "stopped": "inactive inactive socket-gone endpoints-gone",
        "security": "cloister-kms.service OK cloister-vsock-proxy.service OK",
        "done": "yes",
    }, out
    # What the check and the services made goes; the package's files stay.
    for p in ["root/boot.sh", "root/boot.out", "usr/local/bin/vsock_stream", "usr/local/bin/vsock_echo",
              "etc/systemd/system/boot-check.service", "etc/cloister/echo.yaml",
              "etc/default/cloister-vsock-proxy"]:
        (root / p).unlink()
    (wants / "boot-check.service").unlink()
    shutil.rmtree(root / "var/lib/cloister-kms")


def test_remove_and_purge_leave_nothing(root):
    listed = chroot(root, "dpkg", "-L", *PACKAGES, check=True).stdout.splitlines()
    paths = sorted({p for p in listed if p.startswith("/") and p != "/."})
    assert "/usr/bin/cloister" in paths and "/lib/systemd/system/cloister-kms.service" in paths

    chroot(root, "apt-get", "-o", "Dpkg::Use-Pty=0", "remove", "-y", *PACKAGES, check=True)
    left = [p for p in paths if os.path.lexists(f"{root}{p}")]
    # What remains must be a directory another package owns (/usr/bin, ...).
    owned = chroot(root, "dpkg", "-S", *left).stdout if left else ""
    owners = {}
    for line in owned.splitlines():
        pkgs, path = line.split(": ", 1)
        owners[path] = pkgs.split(", ")
    assert [p for p in left if not (os.path.isdir(f"{root}{p}") and p in owners
                                   and not set(owners[p]) & set(PACKAGES))] == []
    assert names_left(root) == []
    # dpkg keeps only cloister's record (its postrm runs again at purge).
    state = chroot(root, "dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *PACKAGES)
    assert state.stdout == "cloister rc \n", state

    chroot(root, "apt-get", "-o", "Dpkg::Use-Pty=0", "purge", "-y", "cloister", check=True)
    assert names_left(root) == []
    assert chroot(root, "dpkg-query", "-W", "cloister").returncode == 1


COMPLETE = """
source /usr/share/bash-completion/bash_completion
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1))
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
_cloister 2>/dev/null
printf '%s\\n' "${COMPREPLY[@]}"
"""


def complete(*words):
    script = SOURCE_DIR / "src" / "cli" / "cloister.bash-completion"
    return run(["bash", "-c", COMPLETE, "complete", script, *words],
               check=True).stdout.split()


def test_bash_completion_knows_every_subcommand_and_flag(tmp_path):
    if not Path("/usr/share/bash-completion/bash_completion").exists():
        pytest.fail("bash-completion is missing: scripts/install-deps.sh test installs it")
    usage = run([BIN_DIR / "cloister", "--help"], check=True).stdout
    subcommands = re.findall(r"^    ([a-z-]+) {2,}", usage.split("SUBCOMMANDS:")[1], re.M)
    assert sorted(complete("cloister", "")) == sorted(subcommands + ["--help", "--version"])
    # Under the name nitro-cli: nitro-cli's subcommands only, as its --help lists them.
    link = tmp_path / "nitro-cli"
    link.symlink_to(BIN_DIR / "cloister")
    usage = run([link, "--help"], check=True).stdout
    nitro = re.findall(r"^  ([a-z-]+) {2,}", usage.split("Commands:")[1], re.M)
    assert "build-enclave" in nitro and "exec" not in nitro
    assert sorted(complete("nitro-cli", "")) == sorted(nitro + ["--help", "--version"])
    assert complete("nitro-cli", "attest", "--") == []
    for sub in subcommands:
        if sub in ("help", "exec"):
            continue
        text = run([BIN_DIR / "cloister", sub, "--help"]).stdout
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))
        if sub == "attestation-ca":
            got = set(complete("cloister", sub, "init", "--")) | set(
                complete("cloister", sub, "show", "--"))
        else:
            got = set(complete("cloister", sub, "--"))
        assert flags <= got, (sub, flags - got)
    assert complete("cloister", "attestation-ca", "") == ["init", "rotate", "show", "--help"]
    assert complete("cloister", "run-enclave", "--enclave-") == ["--enclave-cid", "--enclave-name"]
    # exec completes the command it runs, and that command's arguments.
    assert "bash" in complete("cloister", "exec", "bas")
    assert "bash" in complete("cloister", "exec", "--", "bas")
    assert complete("cloister", "exec", "-") == ["--", "--help"]
