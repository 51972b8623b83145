# SPDX-License-Identifier: Apache-2.0
"""describe-eif, pcr and sign-eif, driven through the `cloister` program.

EIFs are made here from the published format with struct + zlib (docs/eif.md),
independently of the C writer; the golden file's
SHA-256 is the one the C writer's unit test checks, so the two writers agree
byte for byte, and files the C code rewrites (sign-eif) are rebuilt here and
compared byte for byte.
"""
import hashlib
import json
import os
import re
import struct
import subprocess
import zlib

import pytest

from conftest import cloister, run

META = (b'{"ImageName":"test","ImageVersion":"1.0","BuildMetadata":{"BuildTime":'
        b'"1970-01-01T00:00:00+00:00","BuildTool":"eif_build","BuildToolVersion":"0.2.0",'
        b'"OperatingSystem":"OS","KernelVersion":"kernel"},"DockerInfo":null,'
        b'"CustomMetadata":null}')
KERNEL, CMDLINE = b"KERNEL-IMAGE-BYTES", b"console=ttyS0"
RD0, RD1 = b"BOOTSTRAP-RAMDISK", b"CUSTOMER-RAMDISK"
GOLDEN = [(1, KERNEL), (2, CMDLINE), (5, META), (3, RD0), (3, RD1)]
PCR0 = "4541030825759155bac3f026205d33a32833c3b0bb6944a8815aee91a0fc3a86a17cc2fb07fcf025c0b57539baa86941"
PCR1 = "abddfb347cd3cd963c6b3d95012a59797b5087c1ea5b5d1a73b3b80ed1727fde7545ccb5828ce494d566004ef97c0d8d"
PCR2 = "57c908f2faaef8a69f9318beb295f1ee46f58603c808c3b1ef4609e003f82e7f815c0ab813a477fac470e9abb4ac8a4d"
EMPTY_PCR = "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a"


def make_eif(sections, version=4, flags=0, num_sections=None, fix_crc=True):
    """The EIF bytes of (type, data) sections, contiguous from 548."""
    offsets, body, off = [], b"", 548
    for t, d in sections:
        offsets.append(off)
        body += struct.pack(">HHQ", t, 0, len(d)) + d
        off += 12 + len(d)
    n = len(sections) if num_sections is None else num_sections
    table_o = (offsets + [0] * 32)[:32]
    table_s = ([len(d) for _, d in sections] + [0] * 32)[:32]
    head = (b".eif" + struct.pack(">HHQQHH", version, flags, 1 << 30, 2, 0, n)
            + struct.pack(">32Q", *table_o) + struct.pack(">32Q", *table_s) + b"\0" * 4)
    crc = zlib.crc32(head + body) if fix_crc else 0
    return head + struct.pack(">I", crc) + body


def ext(digest):
    return hashlib.sha384(b"\0" * 48 + digest).hexdigest()


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def write(path, data):
    path.write_bytes(data)
    return path


def describe(path):
    p = cloister("describe-eif", "--eif-path", path)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return p.stdout, json.loads(p.stdout)


def make_key_cert(tmp, curve, name="signer", days=2):
    key, cert = tmp / f"{name}-{curve}.key", tmp / f"{name}-{curve}.pem"
    run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", key], check=True)
    run(["openssl", "req", "-new", "-x509", "-sha384", "-key", key, "-out", cert, "-days", str(days),
         "-subj", f"/C=US/O=Cloister Test/CN={name}"], check=True)
    return key, cert


def pcr8_of(cert):
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return ext(hashlib.sha384(der).digest())


def split_sections(data):
    """Walks an EIF sequentially; returns [(type, data)]."""
    out, off = [], 548
    while off < len(data):
        t, _, size = struct.unpack(">HHQ", data[off:off + 12])
        out.append((t, data[off + 12:off + 12 + size]))
        off += 12 + size
    return out


# ---------- the golden vector ----------

def test_python_writer_matches_the_golden_vector():
    data = make_eif(GOLDEN)
    assert len(data) == 910
    assert data[544:548] == bytes.fromhex("c689d869")
    # the same digest eif_test checks on the C writer's output
    assert hashlib.sha256(data).hexdigest() == \
        "1422e6814d6b54f3f5fcb553df382b1ac146f4304900443f6c513c43a235124d"


def test_describe_golden_json_shape_and_order(tmp):
    text, j = describe(write(tmp / "g.eif", make_eif(GOLDEN)))
    assert list(j) == ["EifVersion", "Measurements", "IsSigned", "CheckCRC", "ImageName",
                       "ImageVersion", "Metadata"]
    assert j["EifVersion"] == 4
    assert list(j["Measurements"]) == ["HashAlgorithm", "PCR0", "PCR1", "PCR2"]
    assert j["Measurements"] == {"HashAlgorithm": "Sha384 { ... }", "PCR0": PCR0, "PCR1": PCR1,
                                 "PCR2": PCR2}
    assert j["IsSigned"] is False and j["CheckCRC"] is True
    assert j["ImageName"] == "test" and j["ImageVersion"] == "1.0"
    assert list(j["Metadata"]) == ["BuildTime", "BuildTool", "BuildToolVersion",
                                   "OperatingSystem", "KernelVersion", "DockerInfo"]
    assert j["Metadata"]["DockerInfo"] is None
    # serde_json::to_string_pretty layout
    assert text.startswith('{\n  "EifVersion": 4,\n  "Measurements": {\n    "HashAlgorithm"')


def test_describe_folds_custom_metadata(tmp):
    meta = json.loads(META)
    meta["DockerInfo"] = {"Id": "sha256:abc", "Os": "linux"}
    meta["CustomMetadata"] = {"team": "blue", "build": {"n": 7}}
    data = make_eif([(1, KERNEL), (2, CMDLINE), (5, json.dumps(meta).encode()), (3, RD0)])
    _, j = describe(write(tmp / "m.eif", data))
    assert list(j["Metadata"]) == ["BuildTime", "BuildTool", "BuildToolVersion",
                                   "OperatingSystem", "KernelVersion", "DockerInfo", "team",
                                   "build"]
    assert j["Metadata"]["team"] == "blue" and j["Metadata"]["build"] == {"n": 7}
    assert j["Metadata"]["DockerInfo"] == {"Id": "sha256:abc", "Os": "linux"}
    # one ramdisk: PCR2 is the empty-input PCR, PCR1 == PCR0
    assert j["Measurements"]["PCR2"] == EMPTY_PCR
    assert j["Measurements"]["PCR1"] == j["Measurements"]["PCR0"]


def test_describe_v3_without_metadata(tmp):
    data = make_eif([(1, KERNEL), (2, CMDLINE), (3, RD0), (3, RD1)], version=3)
    _, j = describe(write(tmp / "v3.eif", data))
    assert list(j) == ["EifVersion", "Measurements", "IsSigned", "CheckCRC"]
    assert j["EifVersion"] == 3
    assert j["Measurements"]["PCR0"] == PCR0 and j["Measurements"]["PCR2"] == PCR2


def test_bad_crc_is_reported_with_exit_0(tmp):
    data = bytearray(make_eif(GOLDEN))
    data[546] ^= 0xFF
    _, j = describe(write(tmp / "crc.eif", bytes(data)))
    assert j["CheckCRC"] is False
    assert j["Measurements"]["PCR0"] == PCR0


def test_measurements_of_random_ramdisks(tmp):
    k, r0, r1, r2 = (os.urandom(n) for n in (5000, 300000, 2_500_000, 1_700_001))
    data = make_eif([(1, k), (2, CMDLINE), (5, META), (3, r0), (3, r1), (3, r2)])
    _, j = describe(write(tmp / "r.eif", data))
    m = j["Measurements"]
    assert m["PCR0"] == ext(hashlib.sha384(k + CMDLINE + r0 + r1 + r2).digest())
    assert m["PCR1"] == ext(hashlib.sha384(k + CMDLINE + r0).digest())
    assert m["PCR2"] == ext(hashlib.sha384(r1 + r2).digest())
    assert j["CheckCRC"] is True


# ---------- pcr ----------

def test_pcr_input(tmp):
    p = cloister("pcr", "--input", write(tmp / "empty", b""))
    assert p.returncode == 0 and p.stdout == '{\n  "PCR": "%s"\n}\n' % EMPTY_PCR
    blob = os.urandom(100000)
    p = cloister("pcr", "--input", write(tmp / "blob", blob))
    assert json.loads(p.stdout) == {"PCR": ext(hashlib.sha384(blob).digest())}


def test_pcr_signing_certificate(tmp):
    _, cert = make_key_cert(tmp, "secp384r1")
    p = cloister("pcr", "--signing-certificate", cert)
    assert p.returncode == 0
    assert json.loads(p.stdout) == {"PCR8": pcr8_of(cert)}


@pytest.mark.parametrize("args,code,msg", [
    (["--input", "a", "--signing-certificate", "b"], 2,
     "[ E02 ] Conflicting arguments. --input and --signing-certificate cannot be used together\n"),
    ([], 1, "[ E01 ] Missing mandatory argument. one of --input or --signing-certificate is "
            "required\n"),
    (["--input"], 1, "[ E01 ] Missing mandatory argument. --input requires a value\n"),
    (["--bogus"], 3, "[ E03 ] Invalid argument provided. unknown option '--bogus'\n"),
    (["--input", "a", "--input", "b"], 3,
     "[ E03 ] Invalid argument provided. --input was given more than once\n"),
    (["--input", "/nonexistent/x"], 19,
     "[ E19 ] File operation failure. cannot open '/nonexistent/x': No such file or directory\n"),
])
def test_pcr_bad_arguments(args, code, msg):
    p = cloister("pcr", *args)
    assert (p.returncode, p.stderr, p.stdout) == (code, msg, "")


def test_pcr_certificate_not_pem(tmp):
    p = cloister("pcr", "--signing-certificate", write(tmp / "x.pem", b"not a certificate\n"))
    assert p.returncode == 57
    assert p.stderr.startswith("[ E57 ] Hasher error. not a PEM certificate")


# ---------- sign-eif ----------

def rebuild_signed(unsigned_sections, signed):
    """The signed file as this format says it must be: the original sections
    then the signature section of `signed`, fresh table and CRC."""
    sig = [d for t, d in split_sections(signed) if t == 4]
    assert len(sig) == 1
    return make_eif(unsigned_sections + [(4, sig[0])])


@pytest.mark.parametrize("curve", ["prime256v1", "secp384r1", "secp521r1"])
def test_sign_eif(tmp, curve):
    key, cert = make_key_cert(tmp, curve)
    path = write(tmp / "s.eif", make_eif(GOLDEN))
    p = cloister("sign-eif", "--eif-path", path, "--signing-certificate", cert,
                 "--private-key", key)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "Enclave Image successfully signed.\n"
    out = json.loads(p.stdout)
    assert list(out) == ["Measurements"]
    assert out["Measurements"] == {"HashAlgorithm": "Sha384 { ... }", "PCR0": PCR0,
                                   "PCR1": PCR1, "PCR2": PCR2, "PCR8": pcr8_of(cert)}
    signed = path.read_bytes()
    # byte for byte what the format prescribes around the C-made signature
    assert signed == rebuild_signed(GOLDEN, signed)
    # the signature section: [ {"signing_certificate": PEM bytes, "signature": ...} ]
    sig = split_sections(signed)[-1][1]
    assert sig[:2] == b"\x81\xa2" and sig[2:22] == b"\x73signing_certificate"

    _, j = describe(path)
    assert list(j) == ["EifVersion", "Measurements", "IsSigned", "SigningCertificate", "CheckCRC",
                       "SignatureCheck", "ImageName", "ImageVersion", "Metadata"]
    assert j["IsSigned"] is True and j["CheckCRC"] is True and j["SignatureCheck"] is True
    assert j["Measurements"]["PCR8"] == pcr8_of(cert)
    c = j["SigningCertificate"]
    assert list(c) == ["IssuerName", "Algorithm", "NotBefore", "NotAfter", "Signature"]
    assert c["IssuerName"] == {"commonName": "signer", "countryName": "US",
                               "organizationName": "Cloister Test"}
    assert list(c["IssuerName"]) == ["commonName", "countryName", "organizationName"]
    assert c["Algorithm"] == "ecdsa-with-SHA384"
    assert re.fullmatch(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT", c["NotBefore"])
    assert re.fullmatch(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT", c["NotAfter"])
    assert re.fullmatch(r"([0-9A-F]{2}:)+[0-9A-F]{2}", c["Signature"])


def test_resign_replaces_the_signature(tmp):
    k1, c1 = make_key_cert(tmp, "secp384r1", "one")
    k2, c2 = make_key_cert(tmp, "prime256v1", "two")
    path = write(tmp / "r.eif", make_eif(GOLDEN))
    for k, c in ((k1, c1), (k2, c2)):
        p = cloister("sign-eif", "--eif-path", path, "--signing-certificate", c,
                     "--private-key", k)
        assert p.returncode == 0, p.stderr
    signed = path.read_bytes()
    assert [t for t, _ in split_sections(signed)] == [1, 2, 5, 3, 3, 4]
    assert signed == rebuild_signed(GOLDEN, signed)
    _, j = describe(path)
    assert j["Measurements"]["PCR8"] == pcr8_of(c2)
    assert j["SigningCertificate"]["IssuerName"]["commonName"] == "two"
    assert j["SignatureCheck"] is True


def test_corrupted_signature_is_reported(tmp):
    key, cert = make_key_cert(tmp, "secp384r1")
    path = write(tmp / "c.eif", make_eif(GOLDEN))
    assert cloister("sign-eif", "--eif-path", path, "--signing-certificate", cert,
                    "--private-key", key).returncode == 0
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # low bit of the last byte of r||s: still a CBOR uint8
    sections = split_sections(bytes(data))
    write(path, make_eif(sections))  # fresh CRC: only the signature is wrong
    _, j = describe(path)
    assert j["IsSigned"] is True and j["CheckCRC"] is True and j["SignatureCheck"] is False


def unchanged_after(tmp, path, args, code, prefix):
    before = path.read_bytes()
    listing = sorted(os.listdir(tmp))
    p = cloister("sign-eif", "--eif-path", path, *args)
    assert p.returncode == code
    assert p.stderr.startswith(prefix), p.stderr
    assert p.stdout == ""
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp)) == listing  # no temporary file left behind


def test_sign_eif_failures_leave_the_file_alone(tmp):
    key, cert = make_key_cert(tmp, "secp384r1", "a")
    key2, _ = make_key_cert(tmp, "secp384r1", "b")
    rsa = tmp / "rsa.key"
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
         rsa], check=True)
    path = write(tmp / "f.eif", make_eif(GOLDEN))
    unchanged_after(tmp, path, ["--signing-certificate", cert, "--private-key", key2], 60,
                    "[ E60 ] EIF signing error. the private key does not match the signing "
                    "certificate\n")
    unchanged_after(tmp, path, ["--signing-certificate", cert, "--private-key", rsa], 60,
                    "[ E60 ] EIF signing error. the private key is not an EC key (P-256, P-384 "
                    "or P-521)\n")
    unchanged_after(tmp, path, ["--signing-certificate", tmp / "nope.pem", "--private-key", key],
                    19, "[ E19 ] File operation failure. signing certificate: cannot open")
    bad = bytearray(make_eif(GOLDEN))
    bad[546] ^= 1
    write(path, bytes(bad))
    unchanged_after(tmp, path, ["--signing-certificate", cert, "--private-key", key], 60,
                    "[ E60 ] EIF signing error. the EIF's CRC does not match (stored 0xc689d969, "
                    "computed 0xc689d869): refusing to sign a damaged image\n")
    write(path, make_eif(GOLDEN)[:900])
    unchanged_after(tmp, path, ["--signing-certificate", cert, "--private-key", key], 35,
                    "[ E35 ] EIF file parsing error. section 4 (ramdisk) at offset 882: size 16 "
                    "runs past the end of the file (900 bytes)\n")


@pytest.mark.parametrize("args,code,msg", [
    (["--signing-certificate", "c", "--private-key", "k"], 1,
     "[ E01 ] Missing mandatory argument. --eif-path is required\n"),
    (["--eif-path", "e", "--private-key", "k"], 1,
     "[ E01 ] Missing mandatory argument. --signing-certificate is required\n"),
    (["--eif-path", "e", "--signing-certificate", "c"], 1,
     "[ E01 ] Missing mandatory argument. --private-key is required\n"),
    (["--eif-path", "e", "extra"], 3, "[ E03 ] Invalid argument provided. unexpected argument "
                                      "'extra'\n"),
])
def test_sign_eif_bad_arguments(args, code, msg):
    p = cloister("sign-eif", *args)
    assert (p.returncode, p.stderr, p.stdout) == (code, msg, "")


# ---------- describe-eif: bad input ----------

def with_header(data, **kw):
    """Patches header fields of an EIF (no CRC fix: structure fails first)."""
    d = bytearray(data)
    if "magic" in kw:
        d[0:4] = kw["magic"]
    if "version" in kw:
        d[4:6] = struct.pack(">H", kw["version"])
    if "num" in kw:
        d[26:28] = struct.pack(">H", kw["num"])
    if "offset" in kw:
        i, v = kw["offset"]
        d[28 + 8 * i:36 + 8 * i] = struct.pack(">Q", v)
    if "size" in kw:
        i, v = kw["size"]
        d[284 + 8 * i:292 + 8 * i] = struct.pack(">Q", v)
    return bytes(d)


G = make_eif(GOLDEN)
BAD = [
    ("truncated", G[:100], "truncated EIF: 100 bytes, the header alone is 548"),
    ("truncated-section", G[:905],
     "section 4 (ramdisk) at offset 882: size 16 runs past the end of the file (905 bytes)"),
    ("truncated-section-header", G[:553], "truncated section header at offset 548"),
    ("magic", with_header(G, magic=b"EIF."), "not an EIF: bad magic"),
    ("version", with_header(G, version=7), "unsupported EIF version 7 (supported: 2 to 4)"),
    ("num-sections", with_header(G, num=33), "num_sections 33 exceeds the maximum of 32"),
    ("count", with_header(G, num=6), "the header lists 6 sections, the file holds 5"),
    ("offset", with_header(G, offset=(3, 852)),
     "section 3: the header's offset 852 disagrees with the sequential walk (853)"),
    ("size", with_header(G, size=(2, 237)),
     "section 2: the header's size 237 disagrees with the section header (238)"),
    ("past-end", G[:882] + struct.pack(">HHQ", 3, 0, 99) + RD1,
     "section 4 (ramdisk) at offset 882: size 99 runs past the end of the file (910 bytes)"),
    ("trailing", G + b"\0" * 12, "section 5 at offset 910: invalid section type 0"),
    ("no-kernel", make_eif([(2, CMDLINE), (5, META), (1, KERNEL)]), "no ramdisk section"),
    ("kernel-after-ramdisk", make_eif([(2, CMDLINE), (5, META), (3, RD0), (1, KERNEL)]),
     "ramdisk section 2 comes before the kernel"),
    ("no-cmdline", make_eif([(1, KERNEL), (5, META), (3, RD0)]), "no cmdline section"),
    ("no-ramdisk", make_eif([(1, KERNEL), (2, CMDLINE), (5, META)]), "no ramdisk section"),
    ("no-metadata", make_eif([(1, KERNEL), (2, CMDLINE), (3, RD0)]),
     "no metadata section (mandatory in version 4)"),
    ("invalid-type", make_eif([(1, KERNEL), (2, CMDLINE), (5, META), (9, b"x"), (3, RD0)]),
     "section 3 at offset 853: invalid section type 9"),
    ("big-signature", make_eif(GOLDEN + [(4, b"\0" * 32769)]),
     "signature section of 32769 bytes exceeds the maximum of 32768"),
    ("bad-signature", make_eif(GOLDEN + [(4, b"\xa0")]),
     "malformed signature section: not a non-empty array"),
    ("bad-metadata", make_eif([(1, KERNEL), (2, CMDLINE), (5, b'{"ImageName":"x"}'), (3, RD0)]),
     "malformed metadata: missing key ImageVersion"),
]


@pytest.mark.parametrize("name,data,reason", BAD, ids=[b[0] for b in BAD])
def test_describe_rejects(tmp, name, data, reason):
    p = cloister("describe-eif", "--eif-path", write(tmp / f"{name}.eif", data))
    assert p.returncode == 35
    assert p.stderr == f"[ E35 ] EIF file parsing error. {reason}\n"
    assert p.stdout == ""


@pytest.mark.parametrize("args,code,msg", [
    ([], 1, "[ E01 ] Missing mandatory argument. --eif-path is required\n"),
    (["--eif-path"], 1, "[ E01 ] Missing mandatory argument. --eif-path requires a value\n"),
    (["--path", "x"], 3, "[ E03 ] Invalid argument provided. unknown option '--path'\n"),
    (["--eif-path", "/nonexistent.eif"], 19,
     "[ E19 ] File operation failure. cannot open '/nonexistent.eif': No such file or "
     "directory\n"),
    (["--eif-path", "/"], 19, "[ E19 ] File operation failure. '/' is a directory\n"),
])
def test_describe_bad_arguments(args, code, msg):
    p = cloister("describe-eif", *args)
    assert (p.returncode, p.stderr, p.stdout) == (code, msg, "")
