# SPDX-License-Identifier: Apache-2.0
"""`cloister verify-attestation` and `cloister attestation-ca`: the real AWS
vectors, the bad and derived ones, every exit status, and round trips with
documents signed under a CA made by `attestation-ca init` (the documents are
built here, in Python, independently of Cloister's issuing code)."""
import datetime
import json
import os
import re
import stat
import struct
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from conftest import SHARED_DIR, cloister

TESTDATA = SHARED_DIR / "testdata" / "attestation"

REAL = {
    "2021-03-17_anjuna_sample_prod_doc.cose": ("i-078824548edcf6519-enc01784234ec227b58", 1616018515685, False),
    "2022-10-12_evervault_debug.cose": ("i-03ad7cdb817437eeb-enc0183cc7569b3f6e1", 1665582606081, True),
    "2022-10-13_evervault_pcr8.cose": ("i-020b6af9246d90e92-enc0183d09086c24190", 1665651482136, False),
    "2022-11-09_veracruz-go.cose": ("i-04fd167167daacf3b-enc01845e97d0b3eb4e", 1668034320696, False),
    "2024-09-09_eternis_example_debug.cose": ("i-0bbf1bfe232b8c2ce-enc0191ba35c9d1b77a", 1725911352400, True),
    "2024-11-25_base-nitro-validator_reconstructed.cose": ("i-0ffabdd86626daf1f-enc019332852aac8430", 1732575521167, False),
}


def verify(*args):
    return cloister("verify-attestation", *[str(a) for a in args])


# ------------------------------------------------------------- real vectors

@pytest.mark.parametrize("name", sorted(REAL))
def test_real_document_verifies_at_its_time(name):
    module_id, ts, debug = REAL[name]
    p = verify("--document", TESTDATA / "real" / name, "--aws-root", "--at", ts // 1000)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert p.stdout.startswith(f"Attestation document verified: module {module_id}, issued ")
    assert p.stdout.endswith(f"{'debug' if debug else 'production'} mode\n")


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_document_fails_four_hours_later(name):
    at = REAL[name][1] // 1000 + 4 * 3600
    p = verify("--document", TESTDATA / "real" / name, "--aws-root", "--at", at)
    assert p.returncode == 73
    assert p.stderr == ("[ E73 ] Attestation certificate is not valid at the verification time. "
                        f"certificate chain is not valid at {at}: certificate has expired (depth 0)\n")
    assert p.stdout == ""


@pytest.mark.parametrize("path,at,status,message", [
    ("bad/2022-11-09_veracruz-go_bad_sig.cose", 1668034320, 74,
     "[ E74 ] Attestation document signature is invalid. COSE signature does not verify\n"),
    ("bad/2024-07-23_eternis_invalid_signature.cose", 1721770180, 74,
     "[ E74 ] Attestation document signature is invalid. COSE signature does not verify\n"),
    ("derived/2024-11-25_sig-bitflip.cose", 1732575521, 74,
     "[ E74 ] Attestation document signature is invalid. COSE signature does not verify\n"),
    ("derived/2024-11-25_truncated.cose", 1732575521, 70,
     "[ E70 ] Attestation document verification failed. COSE_Sign1: truncated CBOR at byte 4428\n"),
    ("derived/2024-11-25_trailing-byte.cose", 1732575521, 70,
     "[ E70 ] Attestation document verification failed. COSE_Sign1: 1 trailing bytes after the CBOR item\n"),
    ("derived/2024-11-25_tagged18.cose", 1732575521, 0, ""),
])
def test_bad_and_derived_vectors(path, at, status, message):
    p = verify("--document", TESTDATA / path, "--aws-root", "--at", at)
    assert p.returncode == status
    assert p.stderr == message


def test_json_decodes_the_document():
    p = verify("--document", TESTDATA / "real" / "2022-10-13_evervault_pcr8.cose", "--aws-root",
               "--at", "1665651482", "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert list(doc) == ["module_id", "timestamp", "digest", "pcrs", "certificate", "cabundle",
                         "public_key", "user_data", "nonce", "debug_mode", "verified"]
    assert doc["module_id"] == "i-020b6af9246d90e92-enc0183d09086c24190"
    assert doc["timestamp"] == 1665651482136
    assert doc["digest"] == "SHA384"
    assert sorted(doc["pcrs"], key=int) == [str(i) for i in range(16)]
    for v in doc["pcrs"].values():
        assert re.fullmatch("[0-9a-f]{96}", v)
    assert doc["pcrs"]["8"] != "0" * 96
    assert doc["cabundle"][0] == "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"
    assert len(doc["cabundle"]) == 4
    assert doc["certificate"].startswith("CN=i-020b6af9246d90e92-enc0183d09086c24190.")
    assert doc["debug_mode"] is False and doc["verified"] is True
    # --pcr with the document's own value passes, any other value fails
    pcr8 = doc["pcrs"]["8"]
    args = ["--document", TESTDATA / "real" / "2022-10-13_evervault_pcr8.cose", "--aws-root",
            "--at", "1665651482"]
    assert verify(*args, "--pcr", f"8={pcr8.upper()}").returncode == 0
    p = verify(*args, "--pcr", "8=" + "00" * 48)
    assert p.returncode == 75
    assert p.stderr == ("[ E75 ] Attestation document PCR mismatch. "
                        "PCR8 does not match the expected value\n")


def test_require_production_rejects_debug_documents():
    p = verify("--document", TESTDATA / "real" / "2022-10-12_evervault_debug.cose", "--aws-root",
               "--at", "1665582606", "--require-production")
    assert p.returncode == 78
    assert p.stderr == ("[ E78 ] Attestation document comes from a debug-mode enclave. "
                        "debug-mode document (PCR0 is zero), production required\n")
    p = verify("--document", TESTDATA / "real" / "2022-11-09_veracruz-go.cose", "--aws-root",
               "--at", "1668034320", "--require-production")
    assert p.returncode == 0


@pytest.mark.parametrize("args,status,message", [
    ([], 1, "[ E01 ] Missing mandatory argument. no trust anchor: give --root PEM "
            "(e.g. the attestation CA's root.pem) or --aws-root\n"),
    (["--aws-root", "--pcr", "32=00"], 3,
     "[ E03 ] Invalid argument provided. --pcr: PCR index '32' is not 0..31\n"),
    (["--aws-root", "--pcr", "1"], 3,
     "[ E03 ] Invalid argument provided. --pcr expects N=HEX, got '1'\n"),
    (["--aws-root", "--nonce", "zz"], 3,
     "[ E03 ] Invalid argument provided. --nonce: invalid hex digit at position 0\n"),
    (["--aws-root", "--at", "yesterday"], 3,
     "[ E03 ] Invalid argument provided. --at expects Unix seconds, got 'yesterday'\n"),
    (["--aws-root", "--root", "/nonexistent.pem"], 19, None),
])
def test_bad_arguments(args, status, message):
    p = verify("--document", TESTDATA / "real" / "2022-11-09_veracruz-go.cose", *args)
    assert p.returncode == status
    if message:
        assert p.stderr == message


def test_missing_document_option():
    p = verify("--aws-root")
    assert p.returncode == 1
    assert p.stderr.endswith("[ E01 ] Missing mandatory argument. --document is required\n")


# ------------------------------------------------------------ the local CA

@pytest.fixture
def ca_dir(tmp_path):
    d = tmp_path / "ca"
    p = cloister("attestation-ca", "init", "--ca-dir", d)
    assert p.returncode == 0, p.stderr
    assert f"Root certificate (give it to relying parties): {d}/root.pem" in p.stdout
    return d


def mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_attestation_ca_init_layout(ca_dir):
    assert mode(ca_dir) == 0o755
    assert mode(ca_dir / "root.pem") == 0o644
    assert mode(ca_dir / "intermediate.pem") == 0o644
    assert mode(ca_dir / "private") == 0o700
    assert mode(ca_dir / "private" / "root.key") == 0o600
    assert mode(ca_dir / "private" / "intermediate.pem") == 0o600
    assert b"PRIVATE KEY" not in (ca_dir / "root.pem").read_bytes()
    root = x509.load_pem_x509_certificate((ca_dir / "root.pem").read_bytes())
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert root.public_key().curve.name == "secp384r1"
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    show = cloister("attestation-ca", "show", "--ca-dir", ca_dir)
    assert show.returncode == 0
    info = json.loads(show.stdout)
    assert info["RootSHA256"] == root.fingerprint(hashes.SHA256()).hex()
    assert info["RootCertificate"] == f"{ca_dir}/root.pem"


def test_attestation_ca_refuses_to_overwrite(ca_dir):
    before = (ca_dir / "root.pem").read_bytes()
    p = cloister("attestation-ca", "init", "--ca-dir", ca_dir)
    assert p.returncode == 19
    assert p.stderr == (f"[ E19 ] File operation failure. an attestation CA already exists in "
                        f"'{ca_dir}' (use --force to replace it)\n")
    assert (ca_dir / "root.pem").read_bytes() == before
    p = cloister("attestation-ca", "init", "--ca-dir", ca_dir, "--force")
    assert p.returncode == 0
    assert (ca_dir / "root.pem").read_bytes() != before


def test_attestation_ca_rotate(ca_dir):
    p = cloister("attestation-ca", "rotate", "--ca-dir", ca_dir)
    assert p.returncode == 0
    assert p.stdout.startswith("Intermediate not due for rotation")
    before = (ca_dir / "intermediate.pem").read_bytes()
    p = cloister("attestation-ca", "rotate", "--ca-dir", ca_dir, "--force")
    assert p.returncode == 0
    assert p.stdout.startswith("Intermediate rotated")
    assert (ca_dir / "intermediate.pem").read_bytes() != before


def test_attestation_ca_bad_usage(tmp_path):
    p = cloister("attestation-ca")
    assert p.returncode == 1
    p = cloister("attestation-ca", "frobnicate", "--ca-dir", tmp_path)
    assert p.returncode == 3
    assert p.stderr.endswith("unknown action 'frobnicate' (init, rotate or show)\n")
    p = cloister("attestation-ca", "show", "--ca-dir", tmp_path / "none")
    assert p.returncode == 19


# A minimal CBOR encoder (RFC 8949 preferred serialization), enough to build
# documents shaped as the NSM shapes them.
def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor(v):
    if v is None:
        return b"\xf6"
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)


def make_document(ca_dir, pcrs, nonce=None, user_data=None, public_key=None, ts_ms=None):
    """Issues a 3-hour leaf from the CA's intermediate and signs a document."""
    blob = (ca_dir / "private" / "intermediate.pem").read_bytes()
    ikey = serialization.load_pem_private_key(blob, password=None)
    inter = x509.load_pem_x509_certificate(blob[blob.index(b"-----BEGIN CERTIFICATE"):])
    root = x509.load_pem_x509_certificate((ca_dir / "root.pem").read_bytes())
    lkey = ec.generate_private_key(ec.SECP384R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "python-leaf")]))
            .issuer_name(inter.subject)
            .public_key(lkey.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(seconds=3))
            .not_valid_after(now + datetime.timedelta(hours=3))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ikey, hashes.SHA384()))
    der = serialization.Encoding.DER
    payload = cbor({
        "module_id": "i-0123456789abcdef0-enc0123456789abcdef",
        "digest": "SHA384",
        "timestamp": ts_ms if ts_ms is not None else int(time.time() * 1000),
        "pcrs": pcrs,
        "certificate": leaf.public_bytes(der),
        "cabundle": [root.public_bytes(der), inter.public_bytes(der)],
        "public_key": public_key,
        "user_data": user_data,
        "nonce": nonce,
    })
    protected = cbor({1: -35})
    tbs = cbor(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(lkey.sign(tbs, ec.ECDSA(hashes.SHA384())))
    return cbor([protected, {}, payload, r.to_bytes(48, "big") + s.to_bytes(48, "big")])


PCRS = {i: bytes([i + 1]) * 48 for i in range(16)}


def test_ca_round_trip_and_policy(ca_dir, tmp_path):
    doc = tmp_path / "doc.cose"
    doc.write_bytes(make_document(ca_dir, PCRS, nonce=b"\x01\x02", user_data=b"hello",
                                  public_key=b"\x30\x00"))
    base = ["--document", doc, "--root", ca_dir / "root.pem"]
    p = verify(*base, "--pcr", "0=" + "01" * 48, "--pcr", "15=" + "10" * 48, "--nonce", "0102",
               "--user-data", b"hello".hex(), "--max-age", "60", "--require-production", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["nonce"] == "0102" and d["user_data"] == "68656c6c6f" and d["public_key"] == "3000"
    assert d["certificate"] == "CN=python-leaf"
    cases = [
        (["--pcr", "0=" + "02" * 48], 75, "PCR0 does not match the expected value"),
        (["--pcr", "20=" + "00" * 48], 75, "PCR20 is not in the document"),
        (["--nonce", "0103"], 76, "nonce does not match the expected value"),
        (["--user-data", "00"], 77, "user_data does not match the expected value"),
        (["--at", str(int(time.time()) + 3600), "--max-age", "60"], 79, None),
    ]
    for extra, status, reason in cases:
        p = verify(*base, *extra)
        assert p.returncode == status, (extra, p.stderr)
        if reason:
            assert p.stderr.endswith(". " + reason + "\n")
    # the AWS root does not vouch for the local CA
    p = verify("--document", doc, "--aws-root")
    assert p.returncode == 72
    assert p.stderr.startswith("[ E72 ] Attestation certificate chain is not trusted. ")
    # nor does another CA's root
    other = tmp_path / "other"
    assert cloister("attestation-ca", "init", "--ca-dir", other).returncode == 0
    assert verify("--document", doc, "--root", other / "root.pem").returncode == 72
    # trusting both is fine
    assert verify(*base, "--root", other / "root.pem", "--aws-root").returncode == 0


def test_ca_debug_document(ca_dir, tmp_path):
    pcrs = dict(PCRS)
    for i in (0, 1, 2, 8):
        pcrs[i] = bytes(48)
    doc = tmp_path / "debug.cose"
    doc.write_bytes(make_document(ca_dir, pcrs))
    base = ["--document", doc, "--root", ca_dir / "root.pem"]
    assert verify(*base).stdout.endswith("debug mode\n")
    p = verify(*base, "--require-production")
    assert p.returncode == 78


def test_tampered_ca_document(ca_dir, tmp_path):
    raw = bytearray(make_document(ca_dir, PCRS))
    i = raw.index(b"i-0123456789abcdef0")
    raw[i + 2] ^= 1  # module_id changed after signing
    doc = tmp_path / "tampered.cose"
    doc.write_bytes(bytes(raw))
    p = verify("--document", doc, "--root", ca_dir / "root.pem")
    assert p.returncode == 74
