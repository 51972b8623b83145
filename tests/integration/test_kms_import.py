# SPDX-License-Identifier: Apache-2.0
"""Imported key material (BYOK) in cloister-kms with boto3: CreateKey with
Origin EXTERNAL, GetParametersForImport, ImportKeyMaterial and
DeleteImportedKeyMaterial. The test wraps its own material with
`cryptography` for each wrapping algorithm and wrapping key spec, and checks
that KMS really uses it: symmetric ciphertexts are opened here with the
material (docs/kms.md, "Ciphertext blobs"), MACs recomputed with hmac,
signatures verified with the imported key's public half. Expired tokens are
forged here with master.key in the documented token format (docs/kms.md,
"Imported key material"); expired material is made by moving its ValidTo
into the past in kms.db. Each refusal is tested with its exact code and
message. One real server for the module."""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import struct
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from kmsserver import KmsServer

ALGS = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1",
        "RSA_AES_KEY_WRAP_SHA_256"]
WRAP_SPECS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
TOKEN_AAD = b"cloister-kms/import-token/v1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = KmsServer(tmp_path_factory.mktemp("kms") / "data")
    s.kms = s.client()
    yield s
    s.stop()


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"]


def raw(srv, op, body):
    """A signed request that bypasses botocore's client-side validation (and
    carries members Debian's botocore 1.26 does not know)."""
    status, text = srv.signed("TrentService." + op, body)
    return status, json.loads(text) if text else {}


def raw_err(srv, op, body):
    st, ans = raw(srv, op, body)
    assert st >= 400, ans
    return ans["__type"], ans.get("message", ans.get("Message"))


def b64(b):
    return base64.b64encode(b).decode()


def wrap(material, public_der, alg):
    """EncryptedKeyMaterial as AWS documents it for each wrapping algorithm."""
    pub = serialization.load_der_public_key(public_der)
    h = hashes.SHA1() if alg.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)
    if alg.startswith("RSAES_OAEP"):
        return pub.encrypt(material, oaep)
    aes = os.urandom(32)
    return pub.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, material)


def external_key(srv, **kw):
    return srv.kms.create_key(Origin="EXTERNAL", **kw)["KeyMetadata"]


def params(srv, kid, alg="RSAES_OAEP_SHA_256", spec="RSA_2048"):
    return srv.kms.get_parameters_for_import(KeyId=kid, WrappingAlgorithm=alg, WrappingKeySpec=spec)


def do_import(srv, kid, material, alg="RSAES_OAEP_SHA_256", spec="RSA_2048", **kw):
    p = params(srv, kid, alg, spec)
    kw.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return srv.kms.import_key_material(KeyId=kid, ImportToken=p["ImportToken"],
                                       EncryptedKeyMaterial=wrap(material, p["PublicKey"], alg), **kw)


def open_blob(material, blob, context=None):
    """Decrypts a ciphertext blob of cloister-kms with the material (docs/kms.md)."""
    header = blob[:33]
    ctx = struct.pack(">I", len(context or {}))
    for k in sorted(context or {}):
        kb, vb = k.encode(), context[k].encode()
        ctx += struct.pack(">I", len(kb)) + kb + struct.pack(">I", len(vb)) + vb
    return AESGCM(material).decrypt(blob[21:33], blob[33:], header + ctx)


def forge_token(srv, key_id, valid_to, alg_byte, wrapping_key):
    """An import token in the documented format, sealed with master.key."""
    der = wrapping_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    pt = key_id.encode() + struct.pack(">Q", int(valid_to)) + bytes([alg_byte]) + der
    nonce = os.urandom(12)
    master = (srv.dir / "master.key").read_bytes()
    return b"\x01" + nonce + AESGCM(master).encrypt(nonce, pt, TOKEN_AAD)


def set_valid_to(srv, key_id, when):
    db = sqlite3.connect(str(srv.dir / "kms.db"), timeout=10)
    try:
        with db:
            db.execute("UPDATE key_imports SET valid_to=? WHERE key_id=?", (when, key_id))
    finally:
        db.close()


def test_create_external_key(srv):
    m = external_key(srv, Description="byok")
    assert m["Origin"] == "EXTERNAL" and m["KeyState"] == "PendingImport" and m["Enabled"] is False
    assert m["KeySpec"] == "SYMMETRIC_DEFAULT" and m["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert "ExpirationModel" not in m and "ValidTo" not in m
    d = srv.kms.describe_key(KeyId=m["KeyId"])["KeyMetadata"]
    assert (d["Origin"], d["KeyState"], d["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    # no material in the store until an import
    db = sqlite3.connect(f"file:{srv.dir / 'kms.db'}?mode=ro", uri=True)
    n = db.execute("SELECT count(*) FROM key_material WHERE key_id=?", (m["KeyId"],)).fetchone()[0]
    db.close()
    assert n == 0
    with pytest.raises(ClientError) as e:
        srv.kms.encrypt(KeyId=m["KeyId"], Plaintext=b"x")
    assert err(e) == ("KMSInvalidStateException", f"{m['Arn']} is pending import.")
    for fn in (srv.kms.enable_key, srv.kms.disable_key):
        with pytest.raises(ClientError) as e:
            fn(KeyId=m["KeyId"])
        assert err(e) == ("KMSInvalidStateException", f"{m['Arn']} is pending import.")
    # other origins stay refused
    for origin in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"):
        with pytest.raises(ClientError) as e:
            srv.kms.create_key(Origin=origin)
        assert err(e) == ("UnsupportedOperationException",
                          f"Origin {origin} is not supported by cloister-kms; only AWS_KMS and EXTERNAL.")


def test_parameters(srv):
    m = external_key(srv)
    for spec, bits in WRAP_SPECS.items():
        before = time.time()
        p = params(srv, m["KeyId"], "RSA_AES_KEY_WRAP_SHA_256", spec)
        assert p["KeyId"] == m["Arn"]
        pub = serialization.load_der_public_key(p["PublicKey"])
        assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == bits
        # ParametersValidTo: 24 hours
        valid = p["ParametersValidTo"].timestamp()
        assert before - 1 + 86400 <= valid <= time.time() + 86400
        # a fresh wrapping key per call
        assert params(srv, m["KeyId"], "RSA_AES_KEY_WRAP_SHA_256", spec)["PublicKey"] != p["PublicKey"]


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("spec", sorted(WRAP_SPECS))
def test_symmetric_round_trip(srv, alg, spec):
    m = external_key(srv)
    material = os.urandom(32)
    do_import(srv, m["KeyId"], material, alg, spec)  # its answer: test_multi_version_members
    d = srv.kms.describe_key(KeyId=m["KeyId"])["KeyMetadata"]
    assert (d["KeyState"], d["Enabled"], d["ExpirationModel"]) == ("Enabled", True,
                                                                  "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert "ValidTo" not in d
    ctx = {"purpose": "byok"}
    ct = srv.kms.encrypt(KeyId=m["KeyId"], Plaintext=b"imported", EncryptionContext=ctx)["CiphertextBlob"]
    assert srv.kms.decrypt(CiphertextBlob=ct, EncryptionContext=ctx)["Plaintext"] == b"imported"
    # the ciphertext is made with the imported material itself
    assert open_blob(material, ct, ctx) == b"imported"


def test_hmac_import(srv):
    m = external_key(srv, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    assert m["KeyState"] == "PendingImport"
    material = os.urandom(48)  # HMAC_256 takes 32 to 64 bytes
    do_import(srv, m["KeyId"], material, "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072")
    mac = srv.kms.generate_mac(KeyId=m["KeyId"], Message=b"msg", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == hmac.new(material, b"msg", hashlib.sha256).digest()
    for spec, n in (("HMAC_224", 27), ("HMAC_224", 65), ("HMAC_512", 63), ("HMAC_512", 129)):
        k = external_key(srv, KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")
        lo, hi = {"HMAC_224": (28, 64), "HMAC_512": (64, 128)}[spec]
        with pytest.raises(ClientError) as e:
            do_import(srv, k["KeyId"], os.urandom(n), "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048")
        assert err(e) == ("IncorrectKeyMaterialException",
                          f"The key material is not valid for {k['Arn']}: {spec} key material is "
                          f"{n} bytes, not {lo} to {hi}.")


def pkcs8(key):
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_asymmetric_imports(srv):
    # RSA signing key: only an RSA_AES algorithm can carry it
    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    m = external_key(srv, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        params(srv, m["KeyId"], "RSAES_OAEP_SHA_256", "RSA_4096")
    assert err(e) == ("ValidationException", "The RSAES_OAEP_SHA_256 wrapping algorithm cannot wrap "
                      "RSA_2048 key material. Use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.")
    do_import(srv, m["KeyId"], pkcs8(priv), "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096")
    sig = srv.kms.sign(KeyId=m["KeyId"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    priv.public_key().verify(sig, b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                    salt_length=32), hashes.SHA256())
    got = srv.kms.get_public_key(KeyId=m["KeyId"])["PublicKey"]
    assert got == priv.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    # ECC P-256 directly under RSA-OAEP (its PKCS#8 fits)
    ek = ec.generate_private_key(ec.SECP256R1())
    m2 = external_key(srv, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    do_import(srv, m2["KeyId"], pkcs8(ek), "RSAES_OAEP_SHA_256", "RSA_3072")
    sig = srv.kms.sign(KeyId=m2["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    ek.public_key().verify(sig, b"m", ec.ECDSA(hashes.SHA256()))
    # a key of another curve, or not a key at all
    m3 = external_key(srv, KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")
    for material, why in ((pkcs8(ek), "it is not a private key of key spec ECC_NIST_P384"),
                          (b"\x30\x03junk", "it is not a DER-encoded PKCS #8 private key")):
        with pytest.raises(ClientError) as e:
            do_import(srv, m3["KeyId"], material, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048")
        assert err(e) == ("IncorrectKeyMaterialException",
                          f"The key material is not valid for {m3['Arn']}: {why}.")
    # P-521 under RSAES_OAEP needs more than RSA_2048
    m4 = external_key(srv, KeySpec="ECC_NIST_P521", KeyUsage="SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        params(srv, m4["KeyId"], "RSAES_OAEP_SHA_1", "RSA_2048")
    assert err(e) == ("ValidationException", "The RSAES_OAEP_SHA_1 wrapping algorithm with an RSA_2048 "
                      "wrapping key cannot wrap ECC_NIST_P521 key material. Use an RSA_AES_KEY_WRAP "
                      "algorithm or a longer wrapping key.")


def test_delete_and_reimport_same_material_only(srv):
    m = external_key(srv)
    kid, arn = m["KeyId"], m["Arn"]
    material = os.urandom(32)
    do_import(srv, kid, material)
    ct = srv.kms.encrypt(KeyId=kid, Plaintext=b"before delete")["CiphertextBlob"]
    srv.kms.delete_imported_key_material(KeyId=kid)
    d = srv.kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert d["KeyState"] == "PendingImport" and "ExpirationModel" not in d
    with pytest.raises(ClientError) as e:
        srv.kms.decrypt(CiphertextBlob=ct)
    assert err(e) == ("KMSInvalidStateException", f"{arn} is pending import.")
    # other material: refused, with any wrapping
    for alg in ("RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"):
        with pytest.raises(ClientError) as e:
            do_import(srv, kid, os.urandom(32), alg)
        assert err(e) == ("IncorrectKeyMaterialException", "The key material is not the key material "
                          f"that was previously imported into {arn}.")
    assert srv.kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingImport"
    # the same material again: the old ciphertext decrypts
    do_import(srv, kid, material, "RSA_AES_KEY_WRAP_SHA_1", "RSA_4096")
    assert srv.kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    assert srv.kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"before delete"
    # re-import into an enabled key changes its expiration; a disabled key stays disabled
    srv.kms.disable_key(KeyId=kid)
    do_import(srv, kid, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=time.time() + 3600)
    d = srv.kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert (d["KeyState"], d["ExpirationModel"]) == ("Disabled", "KEY_MATERIAL_EXPIRES")
    with pytest.raises(ClientError) as e:
        do_import(srv, kid, os.urandom(32))
    assert err(e) == ("IncorrectKeyMaterialException", "The key material is not the key material "
                      f"that was previously imported into {arn}.")
    # deleting again is harmless; a key pending deletion keeps its state
    srv.kms.delete_imported_key_material(KeyId=kid)
    srv.kms.delete_imported_key_material(KeyId=kid)
    srv.kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    with pytest.raises(ClientError) as e:
        srv.kms.delete_imported_key_material(KeyId=kid)
    assert err(e) == ("KMSInvalidStateException", f"{arn} is pending deletion.")
    with pytest.raises(ClientError) as e:
        params(srv, kid)
    assert err(e) == ("KMSInvalidStateException", f"{arn} is pending deletion.")
    # canceling the deletion of a key without material leaves it PendingImport
    srv.kms.cancel_key_deletion(KeyId=kid)
    assert srv.kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_material_expiry(srv):
    m = external_key(srv)
    kid, arn = m["KeyId"], m["Arn"]
    material = os.urandom(32)
    valid_to = int(time.time()) + 7200
    do_import(srv, kid, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    d = srv.kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert d["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and d["ValidTo"].timestamp() == valid_to
    ct = srv.kms.encrypt(KeyId=kid, Plaintext=b"expiring")["CiphertextBlob"]
    # ValidTo passes (moved into the past in the store rather than waiting)
    set_valid_to(srv, kid, time.time() - 1)
    d = srv.kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert d["KeyState"] == "PendingImport" and "ValidTo" not in d and "ExpirationModel" not in d
    with pytest.raises(ClientError) as e:
        srv.kms.decrypt(CiphertextBlob=ct)
    assert err(e) == ("KMSInvalidStateException", f"{arn} is pending import.")
    # the material is gone from the store, not just hidden
    db = sqlite3.connect(f"file:{srv.dir / 'kms.db'}?mode=ro", uri=True)
    n = db.execute("SELECT count(*) FROM key_material WHERE key_id=?", (kid,)).fetchone()[0]
    db.close()
    assert n == 0
    do_import(srv, kid, material)
    assert srv.kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"expiring"
    # expiry is noticed on use too, not only by DescribeKey
    do_import(srv, kid, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=time.time() + 600)
    set_valid_to(srv, kid, time.time() - 1)
    with pytest.raises(ClientError) as e:
        srv.kms.encrypt(KeyId=kid, Plaintext=b"x")
    assert err(e) == ("KMSInvalidStateException", f"{arn} is pending import.")


def test_expiration_rules(srv):
    m = external_key(srv)
    kid = m["KeyId"]
    material = os.urandom(32)
    cases = [
        ({"ExpirationModel": None}, "A ValidTo date is required when the ExpirationModel is "
                                    "KEY_MATERIAL_EXPIRES."),
        ({"ExpirationModel": "KEY_MATERIAL_EXPIRES"}, "A ValidTo date is required when the "
                                                      "ExpirationModel is KEY_MATERIAL_EXPIRES."),
        ({"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": time.time() + 3600},
         "A ValidTo date is not allowed when the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."),
        ({"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": time.time() - 10},
         "ValidTo must be a future date and time."),
        ({"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": time.time() + 366 * 86400},
         "ValidTo must be no more than 365 days from the request date."),
    ]
    for kw, msg in cases:
        p = params(srv, kid)
        body = {"KeyId": kid, "ImportToken": b64(p["ImportToken"]),
                "EncryptedKeyMaterial": b64(wrap(material, p["PublicKey"], "RSAES_OAEP_SHA_256"))}
        body.update({k: v for k, v in kw.items() if v is not None})
        assert raw_err(srv, "ImportKeyMaterial", body) == ("ValidationException", msg)
    body["ExpirationModel"] = "SOMETIMES"
    assert raw_err(srv, "ImportKeyMaterial", body) == (
        "ValidationException", "1 validation error detected: Value 'SOMETIMES' at 'expirationModel' "
        "failed to satisfy constraint: Member must satisfy enum value set: "
        "[KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE]")
    body["ExpirationModel"], body["ValidTo"] = "KEY_MATERIAL_EXPIRES", "tomorrow"
    assert raw_err(srv, "ImportKeyMaterial", body) == (
        "SerializationException", "Unexpected value type for 'ValidTo': expected a timestamp")
    # 365 days exactly is allowed
    do_import(srv, kid, material, ExpirationModel="KEY_MATERIAL_EXPIRES",
              ValidTo=time.time() + 365 * 86400 - 5)
    assert srv.kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"


def test_tokens(srv):
    m, other = external_key(srv), external_key(srv)
    kid, arn = m["KeyId"], m["Arn"]
    material = os.urandom(32)
    p = params(srv, kid)
    wrapped = wrap(material, p["PublicKey"], "RSAES_OAEP_SHA_256")

    def imp(token, enc=wrapped, key=kid):
        return srv.kms.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=enc,
                                           ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")

    # a token of another key
    with pytest.raises(ClientError) as e:
        imp(params(srv, other["KeyId"])["ImportToken"])
    assert err(e) == ("InvalidImportTokenException", f"The import token was not issued for {arn}.")
    # garbage, a changed byte, a cut token
    tok = p["ImportToken"]
    for bad in (b"garbage", tok[:1] + bytes([tok[1] ^ 1]) + tok[2:], tok[:-1], b"\x02" + tok[1:]):
        with pytest.raises(ClientError) as e:
            imp(bad)
        assert err(e) == ("InvalidImportTokenException", "The import token is invalid.")
    # material wrapped with another key, another algorithm, or not wrapped at all
    p2 = params(srv, kid)
    for enc in (wrap(material, p2["PublicKey"], "RSAES_OAEP_SHA_256"),
                wrap(material, p["PublicKey"], "RSAES_OAEP_SHA_1"), os.urandom(256)):
        with pytest.raises(ClientError) as e:
            imp(tok, enc)
        assert err(e) == ("InvalidCiphertextException", "The EncryptedKeyMaterial does not unwrap "
                          "with the wrapping key and algorithm of the import token.")
    pk = params(srv, kid, "RSA_AES_KEY_WRAP_SHA_256")
    good = wrap(material, pk["PublicKey"], "RSA_AES_KEY_WRAP_SHA_256")
    for enc in (good[:256], good[:-8], good[:256] + os.urandom(40)):
        with pytest.raises(ClientError) as e:
            imp(pk["ImportToken"], enc)
        assert err(e) == ("InvalidCiphertextException", "The EncryptedKeyMaterial does not unwrap "
                          "with the wrapping key and algorithm of the import token.")
    # wrong length of symmetric material
    with pytest.raises(ClientError) as e:
        imp(tok, wrap(os.urandom(16), p["PublicKey"], "RSAES_OAEP_SHA_256"))
    assert err(e) == ("IncorrectKeyMaterialException", f"The key material is not valid for {arn}: "
                      "SYMMETRIC_DEFAULT key material is 16 bytes, not 32.")
    # a token forged here in the documented format: valid until tomorrow, it
    # works (so the format is the server's); expired, it is refused
    wk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = wk.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    enc = wrap(material, pub, "RSAES_OAEP_SHA_256")
    with pytest.raises(ClientError) as e:
        imp(forge_token(srv, kid, time.time() - 1, 2, wk), enc)
    assert err(e) == ("ExpiredImportTokenException",
                      "The import token expired; call GetParametersForImport for a new one.")
    # a forged token with its tag changed: invalid, not expired
    with pytest.raises(ClientError) as e:
        imp(forge_token(srv, kid, time.time() - 1, 2, wk)[:-1] + b"\0", enc)
    assert err(e) == ("InvalidImportTokenException", "The import token is invalid.")
    imp(forge_token(srv, kid, time.time() + 86400, 2, wk), enc)
    assert srv.kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    # the real token works too, for the same material, and several times
    imp(tok)
    imp(tok)


def test_refusals(srv):
    aws = srv.kms.create_key()["KeyMetadata"]
    ext = external_key(srv)
    msg = f"{aws['Arn']} origin is AWS_KMS which is not valid for this operation."
    with pytest.raises(ClientError) as e:
        params(srv, aws["KeyId"])
    assert err(e) == ("UnsupportedOperationException", msg)
    p = params(srv, ext["KeyId"])
    with pytest.raises(ClientError) as e:
        srv.kms.import_key_material(KeyId=aws["KeyId"], ImportToken=p["ImportToken"],
                                    EncryptedKeyMaterial=b"x", ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert err(e) == ("UnsupportedOperationException", msg)
    with pytest.raises(ClientError) as e:
        srv.kms.delete_imported_key_material(KeyId=aws["KeyId"])
    assert err(e) == ("UnsupportedOperationException", msg)
    # wrapping algorithms and specs AWS does not serve in a commercial Region
    for alg, spec, want in [
            ("RSAES_PKCS1_V1_5", "RSA_2048", "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported."),
            ("SM2PKE", "SM2", "The SM2 wrapping key spec and the SM2PKE wrapping algorithm are supported "
                              "only in China Regions."),
            ("SM2PKE", "RSA_2048", "The SM2 wrapping key spec and the SM2PKE wrapping algorithm are "
                                   "supported only in China Regions."),
            ("RSAES_OAEP_SHA_256", "SM2", "The SM2 wrapping key spec and the SM2PKE wrapping algorithm "
                                          "are supported only in China Regions.")]:
        assert raw_err(srv, "GetParametersForImport", {"KeyId": ext["KeyId"], "WrappingAlgorithm": alg,
                                                       "WrappingKeySpec": spec}) == (
            "UnsupportedOperationException", want)
    # model validation
    assert raw_err(srv, "GetParametersForImport", {"KeyId": ext["KeyId"], "WrappingAlgorithm": "AES",
                                                   "WrappingKeySpec": "RSA_2048"}) == (
        "ValidationException", "1 validation error detected: Value 'AES' at 'wrappingAlgorithm' failed "
        "to satisfy constraint: Member must satisfy enum value set: [RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, "
        "RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE]")
    assert raw_err(srv, "GetParametersForImport", {"KeyId": ext["KeyId"],
                                                   "WrappingAlgorithm": "RSAES_OAEP_SHA_1"}) == (
        "ValidationException", "1 validation error detected: Value null at 'wrappingKeySpec' failed to "
        "satisfy constraint: Member must not be null")
    assert raw_err(srv, "ImportKeyMaterial", {"KeyId": ext["KeyId"], "ImportToken": b64(b"t")}) == (
        "ValidationException", "1 validation error detected: Value null at 'encryptedKeyMaterial' failed "
        "to satisfy constraint: Member must not be null")
    assert raw_err(srv, "ImportKeyMaterial", {"KeyId": ext["KeyId"], "ImportToken": b64(b"t" * 6145),
                                              "EncryptedKeyMaterial": b64(b"x")}) == (
        "ValidationException", "1 validation error detected: Value at 'importToken' failed to satisfy "
        "constraint: Member must have length less than or equal to 6144")
    missing = ext["Arn"].replace(ext["KeyId"], "11111111-2222-4333-8444-555555555555")
    with pytest.raises(ClientError) as e:
        params(srv, missing)
    assert err(e) == ("NotFoundException", f"Key '{missing}' does not exist")
    with pytest.raises(ClientError) as e:
        srv.kms.delete_imported_key_material(KeyId="alias/x")
    assert err(e) == ("NotFoundException", "Invalid keyId 'alias/x'")
    # no rotation of imported material
    do_import(srv, ext["KeyId"], os.urandom(32))
    for op in ("EnableKeyRotation", "RotateKeyOnDemand"):
        assert raw_err(srv, op, {"KeyId": ext["KeyId"]}) == (
            "UnsupportedOperationException",
            f"{ext['Arn']} origin is EXTERNAL which is not valid for this operation.")


def test_multi_version_members(srv):
    m = external_key(srv)
    kid, arn = m["KeyId"], m["Arn"]
    material = os.urandom(32)

    def body(**kw):
        p = params(srv, kid)
        b = {"KeyId": kid, "ImportToken": b64(p["ImportToken"]),
             "EncryptedKeyMaterial": b64(wrap(material, p["PublicKey"], "RSAES_OAEP_SHA_256")),
             "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
        b.update(kw)
        return b

    assert raw_err(srv, "ImportKeyMaterial", body(ImportType="EXISTING_KEY_MATERIAL")) == (
        "ValidationException", f"ImportType EXISTING_KEY_MATERIAL: no key material was imported into "
        f"{arn} before.")
    st, ans = raw(srv, "ImportKeyMaterial", body(ImportType="NEW_KEY_MATERIAL",
                                                 KeyMaterialDescription="first import"))
    assert st == 200 and ans["KeyId"] == arn and len(ans["KeyMaterialId"]) == 64
    mid = ans["KeyMaterialId"]
    # the same id in ListKeyRotations
    st, rot = raw(srv, "ListKeyRotations", {"KeyId": kid, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"})
    assert [r["KeyMaterialId"] for r in rot["Rotations"]] == [mid]
    assert raw_err(srv, "ImportKeyMaterial", body(ImportType="NEW_KEY_MATERIAL")) == (
        "UnsupportedOperationException", f"{arn} already has imported key material; cloister-kms keeps "
        "one key material per key, so ImportType NEW_KEY_MATERIAL is not supported after the first import.")
    assert raw_err(srv, "ImportKeyMaterial", body(ImportType="NEW_KEY_MATERIAL", KeyMaterialId=mid)) == (
        "ValidationException", "You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.")
    wrong = "0" * 64
    assert raw_err(srv, "ImportKeyMaterial", body(KeyMaterialId=wrong)) == (
        "IncorrectKeyMaterialException", f"Key material ID {wrong} is not associated with {arn}.")
    assert raw_err(srv, "ImportKeyMaterial", body(KeyMaterialId="G" * 64)) == (
        "ValidationException", f"1 validation error detected: Value '{'G' * 64}' at 'keyMaterialId' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-f0-9]+$")
    st, ans = raw(srv, "ImportKeyMaterial", body(ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=mid))
    assert st == 200 and ans == {"KeyId": arn, "KeyMaterialId": mid}
    assert raw_err(srv, "DeleteImportedKeyMaterial", {"KeyId": kid, "KeyMaterialId": wrong}) == (
        "NotFoundException", f"Key material ID {wrong} is not associated with {arn}.")
    st, ans = raw(srv, "DeleteImportedKeyMaterial", {"KeyId": kid, "KeyMaterialId": mid})
    assert st == 200 and ans == {"KeyId": arn, "KeyMaterialId": mid}
    # symmetric keys only
    h = external_key(srv, KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")
    p = params(srv, h["KeyId"])
    assert raw_err(srv, "ImportKeyMaterial", {
        "KeyId": h["KeyId"], "ImportToken": b64(p["ImportToken"]),
        "EncryptedKeyMaterial": b64(wrap(os.urandom(48), p["PublicKey"], "RSAES_OAEP_SHA_256")),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ImportType": "NEW_KEY_MATERIAL"}) == (
        "ValidationException", "ImportType, KeyMaterialId and KeyMaterialDescription are only valid for "
        "symmetric encryption keys.")


def test_policy_actions_and_condition_keys(srv):
    root = f"arn:aws:iam::{srv.account}:root"
    admin = f"arn:aws:iam::{srv.account}:user/admin"
    pol = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:GetParametersForImport", "Resource": "*",
         "Condition": {"StringNotEquals": {"kms:WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:GetParametersForImport", "Resource": "*",
         "Condition": {"StringNotEquals": {"kms:WrappingKeySpec": "RSA_4096"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:ImportKeyMaterial", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:ImportKeyMaterial", "Resource": "*",
         "Condition": {"NumericGreaterThan": {"kms:ValidTo": str(int(time.time()) + 7200)}}}]}
    m = srv.kms.create_key(Origin="EXTERNAL", Policy=json.dumps(pol))["KeyMetadata"]
    kid, arn = m["KeyId"], m["Arn"]

    def denied(action):
        return ("AccessDeniedException", f"User: {admin} is not authorized to perform: {action} "
                f"on resource: {arn} with an explicit deny in a resource-based policy")

    for alg, spec in (("RSAES_OAEP_SHA_256", "RSA_4096"), ("RSA_AES_KEY_WRAP_SHA_256", "RSA_2048")):
        with pytest.raises(ClientError) as e:
            params(srv, kid, alg, spec)
        assert err(e) == denied("kms:GetParametersForImport")
    material = os.urandom(32)
    alg = "RSA_AES_KEY_WRAP_SHA_256"
    for kw in ({"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"},
               {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": time.time() + 86400}):
        with pytest.raises(ClientError) as e:
            do_import(srv, kid, material, alg, "RSA_4096", **kw)
        assert err(e) == denied("kms:ImportKeyMaterial")
    do_import(srv, kid, material, alg, "RSA_4096", ExpirationModel="KEY_MATERIAL_EXPIRES",
              ValidTo=time.time() + 3600)
    assert srv.kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    # kms:DeleteImportedKeyMaterial is its own action
    pol["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "kms:DeleteImportedKeyMaterial",
                             "Resource": "*"})
    srv.kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(pol))
    with pytest.raises(ClientError) as e:
        srv.kms.delete_imported_key_material(KeyId=kid)
    assert err(e) == denied("kms:DeleteImportedKeyMaterial")


def test_audit(srv):
    m = external_key(srv)
    material = os.urandom(32)
    do_import(srv, m["KeyId"], material)
    srv.kms.delete_imported_key_material(KeyId=m["KeyId"])
    text = (srv.dir / "audit.log").read_text()
    ev = [json.loads(l) for l in text.splitlines()][-3:]
    assert [(e["operation"], e["result"]) for e in ev] == [
        ("GetParametersForImport", "Success"), ("ImportKeyMaterial", "Success"),
        ("DeleteImportedKeyMaterial", "Success")]
    assert all(e["keyId"].endswith(m["KeyId"]) for e in ev)
    assert b64(material) not in text
    assert srv.cli("audit", "verify").returncode == 0


def test_survives_restart(srv):
    m = external_key(srv)
    kid = m["KeyId"]
    material = os.urandom(32)
    valid_to = int(time.time()) + 3600
    do_import(srv, kid, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    ct = srv.kms.encrypt(KeyId=kid, Plaintext=b"durable")["CiphertextBlob"]
    pending = external_key(srv)
    p = params(srv, pending["KeyId"])
    srv.kill9()
    srv.start()
    srv.kms = srv.client()
    d = srv.kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert (d["KeyState"], d["Origin"], d["ExpirationModel"]) == ("Enabled", "EXTERNAL",
                                                                  "KEY_MATERIAL_EXPIRES")
    assert d["ValidTo"].timestamp() == valid_to
    assert srv.kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"durable"
    assert srv.kms.describe_key(KeyId=pending["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    # a token issued before the restart still works; other material is still refused
    srv.kms.import_key_material(KeyId=pending["KeyId"], ImportToken=p["ImportToken"],
                                EncryptedKeyMaterial=wrap(material, p["PublicKey"], "RSAES_OAEP_SHA_256"),
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    with pytest.raises(ClientError) as e:
        do_import(srv, kid, os.urandom(32))
    assert err(e) == ("IncorrectKeyMaterialException", "The key material is not the key material "
                      f"that was previously imported into {m['Arn']}.")
    assert srv.cli("audit", "verify").returncode == 0
