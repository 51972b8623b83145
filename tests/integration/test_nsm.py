# SPDX-License-Identifier: Apache-2.0
"""The NSM end to end: a module served on a Unix socket by
`cloister-nsm-serve` (as the runtime's monitor serves it), driven by
`cloister-nsm` and by a C program linked against libnsm.so.0 through
$CLOISTER_NSM_DEVICE; and `cloister attest`, whose documents are checked
with `cloister verify-attestation` against the CA root.

EIFs are made here from the published format (docs/eif.md),
and their PCRs come from `cloister describe-eif`.
"""
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import zlib

import pytest

from conftest import BIN_DIR, BUILD_DIR, SOURCE_DIR, cloister, run

META = (b'{"ImageName":"nsm","ImageVersion":"1.0","BuildMetadata":{"BuildTime":'
        b'"1970-01-01T00:00:00+00:00","BuildTool":"eif_build","BuildToolVersion":"0.2.0",'
        b'"OperatingSystem":"OS","KernelVersion":"kernel"},"DockerInfo":null,'
        b'"CustomMetadata":null}')
INSTANCE_ID = "i-0123456789abcdef0"
ROLE_ARN = "arn:aws:iam::123456789012:role/Webserver"
# AWS's PCR3 example for that role (AWS Nitro Enclaves User Guide, "Where to get an
# enclave's measurements")
ROLE_PCR3 = ("78fce75db17cd4e0a3fb8dad3ad128ca5e77edbb2b2c7f75329dccd99aa5f6ef"
             "4fc1f1a452e315b9e98f9e312e6921e6")
ZERO = "00" * 48
EXT1 = ("cb178fcd3f328244c05c6248723fd068b3a1dda878e1ab8be911098f199958ad"
        "d55d0c27f04826d27b44d949a650694e")


def pcr_from_zero(data: bytes) -> str:
    return hashlib.sha384(b"\0" * 48 + data).hexdigest()


def make_eif(path, app=b"CUSTOMER-RAMDISK"):
    sections = [(1, b"KERNEL-IMAGE-BYTES"), (2, b"console=ttyS0"), (5, META),
                (3, b"BOOTSTRAP-RAMDISK"), (3, app)]
    offsets, body, off = [], b"", 548
    for t, d in sections:
        offsets.append(off)
        body += struct.pack(">HHQ", t, 0, len(d)) + d
        off += 12 + len(d)
    head = (b".eif" + struct.pack(">HHQQHH", 4, 0, 1 << 30, 2, 0, len(sections))
            + struct.pack(">32Q", *(offsets + [0] * 32)[:32])
            + struct.pack(">32Q", *([len(d) for _, d in sections] + [0] * 32)[:32])
            + b"\0" * 4)
    path.write_bytes(head + struct.pack(">I", zlib.crc32(head + body)) + body)
    return path


def eif_pcrs(path):
    p = cloister("describe-eif", "--eif-path", path, check=True)
    return json.loads(p.stdout)["Measurements"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """An EIF, a CA and a host configuration shared by the tests."""
    d = tmp_path_factory.mktemp("nsm")
    eif = make_eif(d / "app.eif")
    ca = d / "ca"
    cloister("attestation-ca", "init", "--ca-dir", ca, check=True)
    host = d / "host.conf"
    host.write_text(f"# test host\ninstance_id = {INSTANCE_ID}\nparent_role_arn = {ROLE_ARN}\n")
    return {"dir": d, "eif": eif, "ca": ca, "host": host, "pcrs": eif_pcrs(eif)}


class Server:
    """cloister-nsm-serve on a socket; stopped by its pid."""

    def __init__(self, env, sock, *extra):
        self.sock = sock
        e = dict(os.environ, CLOISTER_HOST_CONFIG=str(env["host"]))
        self.proc = subprocess.Popen(
            [str(BIN_DIR / "cloister-nsm-serve"), "--socket", str(sock), "--eif-path",
             str(env["eif"]), "--ca-dir", str(env["ca"]), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        line = self.proc.stdout.readline()
        assert line.startswith("ready "), self.proc.stderr.read()
        self.module_id = line.split()[1]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def server(env, tmp_path):
    s = Server(env, tmp_path / "nsm.sock")
    yield s
    s.stop()


def nsm(server, *args, **kw):
    return run([BIN_DIR / "cloister-nsm", *args],
               env={"CLOISTER_NSM_DEVICE": str(server.sock)}, **kw)


def nsm_ok(server, *args):
    p = nsm(server, *args)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return p


def nsm_err(server, status, message, *args):
    p = nsm(server, *args)
    assert (p.returncode, p.stderr, p.stdout) == (status, f"cloister-nsm: {message}\n", "")


def verify(*args):
    return cloister("verify-attestation", *[str(a) for a in args])


# --------------------------------------------------------- cloister-nsm

def test_describe(server):
    d = json.loads(nsm_ok(server, "describe").stdout)
    assert d == {"version_major": 1, "version_minor": 0, "version_patch": 0,
                 "module_id": server.module_id, "max_pcrs": 32,
                 "locked_pcrs": list(range(16)), "digest": "SHA384"}
    assert server.module_id.startswith(INSTANCE_ID + "-enc")
    assert len(server.module_id) == len(INSTANCE_ID) + 4 + 16


def test_platform_registers(server, env):
    def pcr(i):
        return json.loads(nsm_ok(server, "describe-pcr", str(i)).stdout)

    assert pcr(0) == {"index": 0, "lock": True, "data": env["pcrs"]["PCR0"]}
    assert pcr(1)["data"] == env["pcrs"]["PCR1"]
    assert pcr(2)["data"] == env["pcrs"]["PCR2"]
    assert pcr(3)["data"] == ROLE_PCR3
    assert pcr(4)["data"] == pcr_from_zero(INSTANCE_ID.encode())
    assert pcr(8) == {"index": 8, "lock": True, "data": ZERO}
    assert pcr(16) == {"index": 16, "lock": False, "data": ZERO}


def test_extend_and_lock(server):
    p = nsm_ok(server, "extend-pcr", "16", "--data", "010203")
    assert json.loads(p.stdout) == {"index": 16, "data": EXT1}
    assert p.stdout.startswith('{\n  "index": 16,\n  "data": ')
    nsm_ok(server, "lock-pcr", "16")
    assert json.loads(nsm_ok(server, "describe-pcr", "16").stdout)["lock"] is True
    nsm_err(server, 3, "lock-pcr: ReadOnlyIndex", "lock-pcr", "16")
    nsm_err(server, 3, "extend-pcr: ReadOnlyIndex", "extend-pcr", "16", "--data", "00")
    nsm_err(server, 3, "extend-pcr: ReadOnlyIndex", "extend-pcr", "0", "--data", "00")
    nsm_err(server, 3, "lock-pcr: ReadOnlyIndex", "lock-pcr", "0")
    nsm_err(server, 3, "describe-pcr: InvalidIndex", "describe-pcr", "32")
    nsm_err(server, 3, "extend-pcr: InvalidIndex", "extend-pcr", "32", "--data", "00")
    nsm_err(server, 3, "lock-pcrs: InvalidIndex", "lock-pcrs", "33")
    nsm_ok(server, "lock-pcrs", "20")
    d = json.loads(nsm_ok(server, "describe").stdout)
    assert d["locked_pcrs"] == list(range(20))


def test_random(server):
    a = nsm_ok(server, "random", "300").stdout
    b = nsm_ok(server, "random", "300").stdout
    assert len(a) == 601 and a.endswith("\n") and a != b
    bytes.fromhex(a.strip())
    raw = subprocess.run([str(BIN_DIR / "cloister-nsm"), "random", "17", "--raw"],
                         capture_output=True, env=dict(os.environ, CLOISTER_NSM_DEVICE=str(server.sock)))
    assert raw.returncode == 0 and len(raw.stdout) == 17


def test_attest_from_inside(server, env, tmp_path):
    """A document asked for through cloister-nsm verifies with the CA root
    and carries the platform's registers, a user register locked since,
    and the requested fields."""
    nsm_ok(server, "extend-pcr", "16", "--data", "010203")
    nsm_ok(server, "lock-pcr", "16")
    pk = tmp_path / "pub.der"
    pk.write_bytes(bytes(range(200)))
    doc = tmp_path / "doc.cose"
    with open(doc, "wb") as out:
        p = subprocess.run([str(BIN_DIR / "cloister-nsm"), "attest", "--public-key", str(pk),
                            "--user-data", "75736572", "--nonce", "0badc0de"],
                           stdout=out, stderr=subprocess.PIPE, text=False,
                           env=dict(os.environ, CLOISTER_NSM_DEVICE=str(server.sock)))
    assert p.returncode == 0, p.stderr
    data = doc.read_bytes()
    # untagged COSE_Sign1, protected {1: -35}, empty unprotected, payload map indefinite
    assert data[:7] == bytes.fromhex("8444a1013822a0")
    assert data[7] == 0x59 and data[10] == 0xbf  # bstr(2-byte length), then the map
    v = verify("--document", doc, "--root", env["ca"] / "root.pem",
               "--pcr", f"0={env['pcrs']['PCR0']}", "--pcr", f"16={EXT1}",
               "--nonce", "0badc0de", "--user-data", "75736572", "--json")
    assert v.returncode == 0, v.stderr
    j = json.loads(v.stdout)
    assert j["module_id"] == server.module_id
    assert sorted(int(k) for k in j["pcrs"]) == list(range(17))
    assert j["pcrs"]["3"] == ROLE_PCR3
    assert j["pcrs"]["4"] == pcr_from_zero(INSTANCE_ID.encode())
    assert j["public_key"] == bytes(range(200)).hex()
    assert j["debug_mode"] is False


def test_attest_limits(server, tmp_path):
    nsm_err(server, 3, "attest: InputTooLarge", "attest", "--user-data", "00" * 1025)
    nsm_err(server, 3, "attest: InputTooLarge", "attest", "--nonce", "00" * 1025)
    big = tmp_path / "big.der"
    big.write_bytes(b"\x30" * 1025)
    nsm_err(server, 3, "attest: InputTooLarge", "attest", "--public-key", big)
    nsm_err(server, 1, "--nonce: odd number of hex digits", "attest", "--nonce", "abc")
    nsm_err(server, 1, "--user-data: invalid hex digit at position 2", "attest",
            "--user-data", "00zz")
    nsm_err(server, 4, f"cannot open '{tmp_path}/none': No such file or directory",
            "attest", "--public-key", tmp_path / "none")


def test_usage_errors(server):
    nsm_err(server, 1, "invalid PCR index 'x'", "describe-pcr", "x")
    nsm_err(server, 1, "invalid PCR index '65536'", "describe-pcr", "65536")
    # numbers are digits only, at most six of them
    nsm_err(server, 1, "invalid PCR index '+16'", "describe-pcr", "+16")
    nsm_err(server, 1, "invalid PCR index '0000016'", "describe-pcr", "0000016")
    nsm_err(server, 1, "invalid PCR index '0000016'", "extend-pcr", "0000016", "--data", "00")
    nsm_err(server, 1, "invalid range '0000016'", "lock-pcrs", "0000016")
    nsm_err(server, 1, "usage: random N [--raw] (1 <= N <= 65536)", "random", "0000008")
    assert json.loads(nsm_ok(server, "describe-pcr", "000016").stdout)["index"] == 16
    nsm_err(server, 1, "usage: extend-pcr N --data HEX", "extend-pcr", "16")
    nsm_err(server, 1, "usage: random N [--raw] (1 <= N <= 65536)", "random", "0")
    nsm_err(server, 1, "usage: describe", "describe", "extra")
    p = nsm(server, "frobnicate")
    assert p.returncode == 1
    assert p.stderr.endswith("cloister-nsm: unknown command 'frobnicate'\n")


def test_no_device(tmp_path):
    p = run([BIN_DIR / "cloister-nsm", "describe"],
            env={"CLOISTER_NSM_DEVICE": str(tmp_path / "missing")})
    assert p.returncode == 2
    assert p.stderr == (f"cloister-nsm: cannot open the NSM at {tmp_path}/missing: "
                        "No such file or directory\n")
    plain = tmp_path / "plain"
    plain.write_text("")
    p = run([BIN_DIR / "cloister-nsm", "describe"], env={"CLOISTER_NSM_DEVICE": str(plain)})
    assert p.returncode == 2
    assert p.stderr == f"cloister-nsm: cannot open the NSM at {plain}: No such device\n"


def test_debug_mode_server(env, tmp_path):
    s = Server(env, tmp_path / "dbg.sock", "--debug-mode")
    try:
        for i in (0, 1, 2, 8):
            assert json.loads(nsm_ok(s, "describe-pcr", str(i)).stdout)["data"] == ZERO
        assert json.loads(nsm_ok(s, "describe-pcr", "3").stdout)["data"] == ROLE_PCR3
    finally:
        s.stop()


def test_raw_protocol_on_the_socket(server):
    """Frames straight on the socket: a good request, garbage (the
    protocol's error, connection kept), then an oversize frame
    (InputTooLarge, connection closed)."""
    import socket
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(str(server.sock))

    def frame(payload):
        c.sendall(struct.pack(">I", len(payload)) + payload)
        n = struct.unpack(">I", c.recv(4, socket.MSG_WAITALL))[0]
        return c.recv(n, socket.MSG_WAITALL)

    assert frame(bytes.fromhex("a1674c6f636b504352a165696e6465781818")) == bytes.fromhex(
        "674c6f636b504352")  # LockPCR{24} -> "LockPCR"
    assert frame(b"\xff\xff") == bytes.fromhex("a1654572726f727049" "6e76616c69644f7065726174696f6e")
    assert frame(bytes.fromhex("6b44657363726962654e534d")).startswith(bytes.fromhex(
        "a16b44657363726962654e534da7"))  # {"DescribeNSM": {7 fields}}
    c.sendall(struct.pack(">I", 0x1001))
    n = struct.unpack(">I", c.recv(4, socket.MSG_WAITALL))[0]
    assert c.recv(n, socket.MSG_WAITALL) == bytes.fromhex("a1654572726f726d496e707574546f6f4c61726765")
    assert c.recv(1) == b""
    c.close()


# ------------------------------------------------------------- libnsm.so

PROGRAM = r"""
#include <stdio.h>
#include <nsm.h>
int main(void) {
    int32_t fd = nsm_lib_init();
    if (fd < 0) { puts("init failed"); return 1; }
    NsmDescription d;
    if (nsm_get_description(fd, &d) != ERROR_CODE_SUCCESS) return 2;
    uint8_t data[48]; uint32_t len = sizeof(data); bool lock;
    if (nsm_describe_pcr(fd, 0, &lock, data, &len) != ERROR_CODE_SUCCESS) return 3;
    uint8_t doc[16384]; uint32_t dlen = sizeof(doc);
    ErrorCode e = nsm_get_attestation_doc(fd, NULL, 0, NULL, 0, NULL, 0, doc, &dlen);
    printf("%s %u %d %u %02x%02x %d %d\n", (char *)d.module_id, d.locked_pcrs_len, lock, len,
           data[0], data[1], e, nsm_lock_pcr(fd, 3));
    nsm_lib_exit(fd);
    return 0;
}
"""


def test_libnsm_shared_library(server, env, tmp_path):
    """A program written for AWS's libnsm (#include <nsm.h>, -lnsm) builds
    against Cloister's header and runs on libnsm.so.0."""
    lib = BUILD_DIR / "lib"
    so = os.path.realpath(lib / "libnsm.so")
    p = run(["objdump", "-p", so], check=True)
    assert "SONAME               libnsm.so.0" in p.stdout
    p = run(["objdump", "-T", so], check=True)
    exported = sorted(line.split()[-1] for line in p.stdout.splitlines()
                      if " g    DF .text" in line)
    assert exported == sorted(["nsm_lib_init", "nsm_lib_exit", "nsm_extend_pcr",
                               "nsm_describe_pcr", "nsm_lock_pcr", "nsm_lock_pcrs",
                               "nsm_get_description", "nsm_get_attestation_doc",
                               "nsm_get_random"])
    src = tmp_path / "app.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "app"
    run(["cc", "-o", exe, src, "-I", SOURCE_DIR / "include" / "cloister", "-L", lib, "-lnsm"],
        check=True)
    p = run([exe], env={"CLOISTER_NSM_DEVICE": str(server.sock), "LD_LIBRARY_PATH": str(lib)})
    assert p.returncode == 0, p.stdout + p.stderr
    # ERROR_CODE_SUCCESS = 0 for the document, ERROR_CODE_READ_ONLY_INDEX = 4 for LockPCR 3
    assert p.stdout == f"{server.module_id} 16 1 48 {env['pcrs']['PCR0'][:4]} 0 4\n"
    p = run(["ldd", exe], env={"LD_LIBRARY_PATH": str(lib)})
    assert "libnsm.so.0 => " in p.stdout


# ------------------------------------------------------------ cloister attest

def attest(env, *args, host=None):
    return cloister("attest", "--eif-path", env["eif"], "--ca-dir", env["ca"], *args,
                    env={"CLOISTER_HOST_CONFIG": str(host or env["host"])})


def test_cloister_attest(env, tmp_path):
    out = tmp_path / "doc.cose"
    p = attest(env, "--nonce", "00ff", "--user-data", "aa", "--output", out)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    v = verify("--document", out, "--root", env["ca"] / "root.pem",
               "--pcr", f"0={env['pcrs']['PCR0']}", "--pcr", f"1={env['pcrs']['PCR1']}",
               "--pcr", f"2={env['pcrs']['PCR2']}", "--nonce", "00ff", "--json")
    assert v.returncode == 0, v.stderr
    j = json.loads(v.stdout)
    assert j["module_id"].startswith(INSTANCE_ID + "-enc")
    assert sorted(int(k) for k in j["pcrs"]) == list(range(16))
    assert j["pcrs"]["3"] == ROLE_PCR3
    assert j["pcrs"]["4"] == pcr_from_zero(INSTANCE_ID.encode())
    assert j["pcrs"]["8"] == ZERO
    assert (j["user_data"], j["nonce"], j["public_key"]) == ("aa", "00ff", None)
    assert j["debug_mode"] is False
    # a document from a different image does not match PCR0
    other = make_eif(tmp_path / "other.eif", app=b"MODIFIED-RAMDISK")
    p = cloister("attest", "--eif-path", other, "--ca-dir", env["ca"], "--output",
                 tmp_path / "other.cose", env={"CLOISTER_HOST_CONFIG": str(env["host"])})
    assert p.returncode == 0, p.stderr
    v = verify("--document", tmp_path / "other.cose", "--root", env["ca"] / "root.pem",
               "--pcr", f"0={env['pcrs']['PCR0']}")
    assert v.returncode != 0


def test_cloister_attest_debug_mode(env, tmp_path):
    out = tmp_path / "dbg.cose"
    p = attest(env, "--debug-mode", "--output", out)
    assert p.returncode == 0, p.stderr
    v = verify("--document", out, "--root", env["ca"] / "root.pem", "--json")
    assert v.returncode == 0, v.stderr
    j = json.loads(v.stdout)
    for i in ("0", "1", "2", "8"):
        assert j["pcrs"][i] == ZERO
    assert j["pcrs"]["3"] == ROLE_PCR3
    assert j["pcrs"]["4"] == pcr_from_zero(INSTANCE_ID.encode())
    assert j["debug_mode"] is True
    v = verify("--document", out, "--root", env["ca"] / "root.pem", "--require-production")
    assert v.returncode != 0


def test_cloister_attest_stdout_and_public_key(env, tmp_path):
    pk = tmp_path / "pk.der"
    pk.write_bytes(b"\x30\x03\x02\x01\x05")
    p = subprocess.run([str(BIN_DIR / "cloister"), "attest", "--eif-path", str(env["eif"]),
                        "--ca-dir", str(env["ca"]), "--public-key", str(pk)],
                       capture_output=True, env=dict(os.environ, CLOISTER_HOST_CONFIG=str(env["host"])))
    assert p.returncode == 0, p.stderr
    assert p.stdout[:7] == bytes.fromhex("8444a1013822a0")
    doc = tmp_path / "doc.cose"
    doc.write_bytes(p.stdout)
    v = verify("--document", doc, "--root", env["ca"] / "root.pem", "--json")
    assert json.loads(v.stdout)["public_key"] == "3003020105"


def test_cloister_attest_no_host_config(env, tmp_path):
    """Without a role, PCR3 is zero; the default instance id is nitro-cli's fallback."""
    host = tmp_path / "host.conf"
    host.write_text("")
    out = tmp_path / "doc.cose"
    p = attest(env, "--output", out, host=host)
    assert p.returncode == 0, p.stderr
    j = json.loads(verify("--document", out, "--root", env["ca"] / "root.pem", "--json").stdout)
    assert j["pcrs"]["3"] == ZERO
    assert j["pcrs"]["4"] == pcr_from_zero(b"i-0000000000000000")
    assert j["module_id"].startswith("i-0000000000000000-enc")


def test_cloister_attest_errors(env, tmp_path):
    out = tmp_path / "never.cose"

    def err(expected, *args, host=None, status=None):
        p = attest(env, "--output", out, *args, host=host)
        assert p.stderr == expected + "\n"
        assert p.returncode == int(expected[3:5])
        assert not out.exists()

    err("[ E03 ] Invalid argument provided. --nonce: invalid hex digit at position 0",
        "--nonce", "zz")
    err("[ E03 ] Invalid argument provided. --user-data: hex string decodes to 1025 bytes, "
        "at most 1024 allowed", "--user-data", "00" * 1025)
    big = tmp_path / "big.der"
    big.write_bytes(b"\0" * 1025)
    err(f"[ E03 ] Invalid argument provided. --public-key: '{big}' is 1025 bytes, at most 1024 "
        "allowed", "--public-key", big)
    err("[ E03 ] Invalid argument provided. --nonce was given more than once",
        "--nonce", "00", "--nonce", "01")
    bad = tmp_path / "bad.conf"
    bad.write_text("instance_id = i-1\nregion = x\n")
    err(f"[ E03 ] Invalid argument provided. {bad}:2: unknown key 'region'", host=bad)
    err(f"[ E19 ] File operation failure. host configuration: cannot open '{tmp_path}/nohost': "
        "No such file or directory", host=tmp_path / "nohost")
    p = cloister("attest", "--eif-path", env["eif"], "--ca-dir", tmp_path / "noca",
                 "--output", out, env={"CLOISTER_HOST_CONFIG": str(env["host"])})
    assert p.returncode == 19
    assert p.stderr == ("[ E19 ] File operation failure. no attestation CA in "
                        f"'{tmp_path}/noca' (run `cloister attestation-ca init`)\n")
    assert not out.exists()
    # the CA's failures are numbered as attestation-ca numbers them
    # (nitro_errno_of_ca): a bad directory name E03, a damaged CA E19
    p = cloister("attest", "--eif-path", env["eif"], "--ca-dir", "", "--output", out,
                 env={"CLOISTER_HOST_CONFIG": str(env["host"])})
    assert (p.returncode, p.stderr) == (3, "[ E03 ] Invalid argument provided. "
                                           "empty CA directory name\n")
    damaged = tmp_path / "damaged"
    shutil.copytree(env["ca"], damaged)
    (damaged / "private" / "intermediate.pem").write_text("not PEM\n")
    p = cloister("attest", "--eif-path", env["eif"], "--ca-dir", damaged, "--output", out,
                 env={"CLOISTER_HOST_CONFIG": str(env["host"])})
    assert p.returncode == 19, p.stderr
    assert p.stderr == (f"[ E19 ] File operation failure. '{damaged}/private/intermediate.pem' "
                        "holds no PEM private key: unsupported\n")
    assert not out.exists()
    broken = tmp_path / "broken.eif"
    data = bytearray(env["eif"].read_bytes())
    data[-1] ^= 1
    broken.write_bytes(bytes(data))
    p = cloister("attest", "--eif-path", broken, "--ca-dir", env["ca"], "--output", out,
                 env={"CLOISTER_HOST_CONFIG": str(env["host"])})
    assert p.returncode == 35
    assert p.stderr.startswith(f"[ E35 ] EIF file parsing error. '{broken}': CRC mismatch")
    assert not out.exists()
    p = cloister("attest", "--output", out)
    assert (p.returncode, p.stderr) == (1, "[ E01 ] Missing mandatory argument. "
                                           "--eif-path is required\n")
