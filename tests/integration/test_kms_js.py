# SPDX-License-Identifier: Apache-2.0
"""The AWS SDK for JavaScript v3 (@aws-sdk/client-kms from npm, pinned by
tests/js/package-lock.json and installed by scripts/install-deps.sh)
against a real cloister-kms: an HMAC round trip and a grant round trip
(tests/js/kms_round_trip.mjs). The MAC is cross-checked with Python's hmac
against the key's material."""
import base64
import hashlib
import hmac
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from test_kms_hmac import material

JS = Path(__file__).resolve().parents[1] / "js"


def run_js(srv, **extra):
    if not shutil.which("node") or not (JS / "node_modules" / "@aws-sdk" / "client-kms").is_dir():
        pytest.skip("the JS SDK is not installed (scripts/install-deps.sh test; needs Node.js 20)")
    args = {"endpoint": srv.endpoint, "region": srv.region, "ca": srv.ca,
            "admin": list(srv.admin), **extra}
    p = subprocess.run(["node", str(JS / "kms_round_trip.mjs")], input=json.dumps(args),
                       capture_output=True, text=True, timeout=120, cwd=JS)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_js_sdk_hmac_round_trip(srv):
    out = run_js(srv)
    assert out["macAlgorithms"] == ["HMAC_SHA_384"]
    assert out["macValid"] is True
    assert out["forged"] == "KMSInvalidMacException"
    kid = out["macKeyId"].rsplit("/", 1)[-1]
    want = hmac.new(material(srv, kid), b"hmac over the JS SDK", hashlib.sha384).digest()
    assert base64.b64decode(out["mac"]) == want


def test_js_sdk_grant_round_trip(srv):
    """A grantee with no policy of its own encrypts and decrypts under a
    constrained grant (with its token), then loses it to RetireGrant and a
    second grant to RevokeGrant."""
    p = srv.principal("js-grantee")
    out = run_js(srv, grantee={"arn": p["Arn"], "creds": [p["AccessKeyId"], p["SecretAccessKey"]]})
    assert out["before"] == "AccessDeniedException"
    assert out["roundTrip"] is True
    assert out["unconstrained"] == "AccessDeniedException"
    assert out["listed"] == [out["grantId"]]
    assert out["grantId"] in out["retirable"]
    assert out["afterRetire"] == "AccessDeniedException"
    assert out["afterRevoke"] == "AccessDeniedException"
