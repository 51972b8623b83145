# SPDX-License-Identifier: Apache-2.0
"""ListKeyRotations and the List* markers of cloister-kms: the response
shapes, pagination with opaque markers, each documented error with its
code and message, the key policy action; and the same through boto3 1.43
(the `python3` on PATH, whose KMS model knows ListKeyRotations), with the
answers checked against botocore's output shapes. One server per module."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest



def call(srv, op, body, creds=None):
    status, text = srv.signed("TrentService." + op, body, creds=creds)
    return status, json.loads(text) if text else {}


def fails(srv, op, body, creds=None):
    status, out = call(srv, op, body, creds)
    assert status >= 400, out
    return out["__type"], out.get("message", out.get("Message")), status


def new_key(kms, **kw):
    return kms.create_key(**kw)["KeyMetadata"]["KeyId"]


def rotations(srv, kid, **kw):
    status, out = call(srv, "ListKeyRotations", {"KeyId": kid, **kw})
    assert status == 200, out
    return out


def test_list_key_rotations_shape_and_types(srv, kms):
    kid = new_key(kms)
    out = rotations(srv, kid)
    assert out == {"Rotations": [], "Truncated": False}
    for _ in range(2):  # Debian's boto3 1.26 predates RotateKeyOnDemand
        assert call(srv, "RotateKeyOnDemand", {"KeyId": kid})[0] == 200
    out = rotations(srv, kid)
    assert out["Truncated"] is False and "NextMarker" not in out
    rs = out["Rotations"]
    assert [r["RotationType"] for r in rs] == ["ON_DEMAND", "ON_DEMAND"]
    assert [r["KeyMaterialState"] for r in rs] == ["NON_CURRENT", "CURRENT"]
    for r in rs:
        assert set(r) == {"KeyId", "KeyMaterialId", "KeyMaterialState", "RotationDate",
                          "RotationType"}
        assert r["KeyId"] == kid
        assert len(r["KeyMaterialId"]) == 64 and set(r["KeyMaterialId"]) <= set("0123456789abcdef")
        assert isinstance(r["RotationDate"], (int, float))
    assert rs[0]["RotationDate"] <= rs[1]["RotationDate"]
    assert rs[0]["KeyMaterialId"] != rs[1]["KeyMaterialId"]
    # the first material only with ALL_KEY_MATERIAL, without date or type
    allm = rotations(srv, kid, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert len(allm) == 3 and allm[1:] == rs
    assert set(allm[0]) == {"KeyId", "KeyMaterialId", "KeyMaterialState"}
    assert allm[0]["KeyMaterialState"] == "NON_CURRENT"
    assert rotations(srv, kid, IncludeKeyMaterial="ROTATIONS_ONLY")["Rotations"] == rs
    # the key's ARN names it too; the material id is stable
    arn = kms.describe_key(KeyId=kid)["KeyMetadata"]["Arn"]
    assert rotations(srv, arn)["Rotations"] == rs
    # old ciphertexts still decrypt
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"])[
        "Plaintext"] == b"x"


def test_list_key_rotations_pagination(srv, kms):
    kid = new_key(kms)
    for _ in range(5):
        call(srv, "RotateKeyOnDemand", {"KeyId": kid})
    seen, marker, pages = [], None, 0
    while True:
        body = {"Limit": 2, **({"Marker": marker} if marker else {})}
        out = rotations(srv, kid, **body)
        pages += 1
        assert len(out["Rotations"]) <= 2
        seen += out["Rotations"]
        if not out["Truncated"]:
            assert "NextMarker" not in out
            break
        marker = out["NextMarker"]
        assert 1 <= len(marker) <= 1024
    assert pages == 3 and seen == rotations(srv, kid)["Rotations"] and len(seen) == 5
    # a marker resumes only the list it came from
    first = rotations(srv, kid, Limit=1)
    other = new_key(kms)
    for body in ({"KeyId": other, "Marker": first["NextMarker"]},
                 {"KeyId": kid, "Marker": first["NextMarker"], "IncludeKeyMaterial": "ALL_KEY_MATERIAL"},
                 {"KeyId": kid, "Marker": "garbage"},
                 {"KeyId": kid, "Marker": first["NextMarker"][:-4]}):
        t, msg, status = fails(srv, "ListKeyRotations", body)
        assert (t, status) == ("InvalidMarkerException", 400)
        assert msg == f"Invalid marker {body['Marker']}"


def test_list_key_rotations_errors(srv, kms):
    arn = lambda k: f"arn:aws:kms:{srv.region}:{srv.account}:key/{k}"
    kid = new_key(kms)
    assert fails(srv, "ListKeyRotations", {})[0] == "ValidationException"
    for bad in ({"Limit": 0}, {"Limit": 1001}, {"IncludeKeyMaterial": "SOME"}, {"Marker": ""}):
        assert fails(srv, "ListKeyRotations", {"KeyId": kid, **bad})[0] == "ValidationException", bad
    assert rotations(srv, kid, Limit=1000)["Truncated"] is False
    missing = "11111111-2222-3333-4444-555555555555"
    assert fails(srv, "ListKeyRotations", {"KeyId": missing}) == (
        "NotFoundException", f"Key '{arn(missing)}' does not exist", 400)
    assert fails(srv, "ListKeyRotations", {"KeyId": "alias/nope"}) == (
        "NotFoundException", "Invalid keyId 'alias/nope'", 400)
    asym = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    assert fails(srv, "ListKeyRotations", {"KeyId": asym}) == (
        "UnsupportedOperationException",
        f"{arn(asym)} key spec is ECC_NIST_P256: key rotations are listed for symmetric "
        "encryption keys only.", 400)
    kms.disable_key(KeyId=kid)
    assert rotations(srv, kid)["Rotations"] == []
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert fails(srv, "ListKeyRotations", {"KeyId": kid}) == (
        "KMSInvalidStateException", f"{arn(kid)} is pending deletion.", 400)


def test_list_key_rotations_key_policy(srv, kms):
    p = srv.principal("rot-reader", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:ListKeyRotations"], "Resource": "*"}]})
    creds = (p["AccessKeyId"], p["SecretAccessKey"])
    kid = new_key(kms)
    status, out = call(srv, "ListKeyRotations", {"KeyId": kid}, creds)
    assert status == 200 and out["Rotations"] == []
    p2 = srv.principal("rot-nothing", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:GetKeyRotationStatus"], "Resource": "*"}]})
    t, msg, status = fails(srv, "ListKeyRotations", {"KeyId": kid},
                           (p2["AccessKeyId"], p2["SecretAccessKey"]))
    assert (t, status) == ("AccessDeniedException", 400)
    assert "kms:ListKeyRotations" in msg


def test_list_markers_validated(srv, kms):
    """Every List* with a Marker refuses one it did not answer."""
    kid = new_key(kms)
    for i in range(3):
        kms.create_alias(AliasName=f"alias/mark-{i}", TargetKeyId=kid)
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": f"t{i}", "TagValue": ""} for i in range(3)])
    cases = [("ListAliases", {}), ("ListAliases", {"KeyId": kid}), ("ListKeys", {}),
             ("ListResourceTags", {"KeyId": kid})]
    for op, body in cases:
        for bad in ("garbage", "alias/mark-0", kid, "t0", "AAAAAAAAAAAA"):
            t, msg, status = fails(srv, op, {**body, "Marker": bad})
            assert (t, msg, status) == ("InvalidMarkerException", f"Invalid marker {bad}", 400), op
        status, page = call(srv, op, {**body, "Limit": 1})
        assert status == 200 and page["Truncated"] is True
        status, nxt = call(srv, op, {**body, "Limit": 1, "Marker": page["NextMarker"]})
        assert status == 200, nxt
    # a marker of one list does not resume another
    status, page = call(srv, "ListAliases", {"KeyId": kid, "Limit": 1})
    assert fails(srv, "ListAliases", {"Marker": page["NextMarker"]})[0] == "InvalidMarkerException"
    assert fails(srv, "ListKeys", {"Marker": page["NextMarker"]})[0] == "InvalidMarkerException"
    # the paginators of Debian's boto3 walk each list whole
    names = [a["AliasName"] for pg in kms.get_paginator("list_aliases").paginate(
        KeyId=kid, PaginationConfig={"PageSize": 1}) for a in pg["Aliases"]]
    assert names == ["alias/mark-0", "alias/mark-1", "alias/mark-2"]
    tags = [t["TagKey"] for pg in kms.get_paginator("list_resource_tags").paginate(
        KeyId=kid, PaginationConfig={"PageSize": 1}) for t in pg["Tags"]]
    assert tags == ["t0", "t1", "t2"]


BOTO3_143 = r'''
import json, sys, boto3, botocore
from botocore.config import Config
a = json.load(sys.stdin)
kms = boto3.client("kms", endpoint_url=a["endpoint"], region_name=a["region"], verify=a["ca"],
                   aws_access_key_id=a["ak"], aws_secret_access_key=a["sk"],
                   config=Config(retries={"max_attempts": 1}))
model = kms.meta.service_model
problems = []

def check(value, shape, path):
    """value (as botocore parsed it) against the output shape, recursively."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return problems.append(f"{path}: not an object")
        for k, v in value.items():
            if k == "ResponseMetadata" and path == "$":
                continue
            if k not in shape.members:
                problems.append(f"{path}.{k}: not in {shape.name}")
            else:
                check(v, shape.members[k], f"{path}.{k}")
    elif t == "list":
        for i, v in enumerate(value):
            check(v, shape.member, f"{path}[{i}]")
    elif t == "string":
        if not isinstance(value, str):
            return problems.append(f"{path}: not a string")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value} not in {shape.enum}")
        mn, mx = shape.metadata.get("min"), shape.metadata.get("max")
        if (mn is not None and len(value) < mn) or (mx is not None and len(value) > mx):
            problems.append(f"{path}: length {len(value)}")
    elif t == "boolean" and not isinstance(value, bool):
        problems.append(f"{path}: not a boolean")
    elif t == "timestamp" and not hasattr(value, "year"):
        problems.append(f"{path}: not a timestamp")

def checked(op, resp):
    check(resp, model.operation_model(op).output_shape, "$")
    return resp

kid = a["kid"]
out = {"version": boto3.__version__}
out["rotations"] = [r["RotationType"] for r in
                    checked("ListKeyRotations", kms.list_key_rotations(KeyId=kid))["Rotations"]]
checked("ListKeyRotations", kms.list_key_rotations(KeyId=kid, IncludeKeyMaterial="ALL_KEY_MATERIAL"))
pages = list(kms.get_paginator("list_key_rotations").paginate(
    KeyId=kid, PaginationConfig={"PageSize": 1}))
for p in pages:
    checked("ListKeyRotations", p)
out["pages"] = len(pages)
out["paged"] = [r["RotationType"] for p in pages for r in p["Rotations"]]
for op, fn in [("ListAliases", lambda: kms.list_aliases(Marker="garbage")),
               ("ListKeyRotations", lambda: kms.list_key_rotations(KeyId=kid, Marker="garbage"))]:
    try:
        fn()
        out[op] = "no error"
    except kms.exceptions.InvalidMarkerException as e:
        out[op] = e.response["Error"]["Code"]
checked("ListAliases", kms.list_aliases(Limit=1))
checked("ListKeys", kms.list_keys(Limit=1))
checked("ListResourceTags", kms.list_resource_tags(KeyId=kid, Limit=1))
out["problems"] = problems
print(json.dumps(out))
'''


def test_boto3_143_list_key_rotations(srv, kms):
    py = shutil.which("python3")
    if not py or Path(py).resolve() == Path("/usr/bin/python3").resolve():
        pytest.skip("needs the separate python3 with boto3 1.43 on PATH (ListKeyRotations)")
    kid = new_key(kms)
    for _ in range(3):
        call(srv, "RotateKeyOnDemand", {"KeyId": kid})
    args = {"endpoint": srv.endpoint, "region": srv.region, "ca": srv.ca, "ak": srv.admin[0],
            "sk": srv.admin[1], "kid": kid}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    p = subprocess.run([py, "-c", BOTO3_143], input=json.dumps(args), capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["problems"] == []
    assert out["rotations"] == ["ON_DEMAND"] * 3
    assert out["pages"] == 3 and out["paged"] == out["rotations"]
    assert out["ListAliases"] == "InvalidMarkerException"
    assert out["ListKeyRotations"] == "InvalidMarkerException"
