# SPDX-License-Identifier: Apache-2.0
"""The instance metadata service of `cloister-kms serve --imds`: EC2's tree,
IMDSv2's token rules, the role's credentials (minted from the host
configuration's role, refreshed before expiry, accepted by the key service)
and the signed instance identity document. Real servers, raw HTTP."""
import base64
import json
import subprocess
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kmsserver import KMS, KmsServer

ROLE = "ParentInstanceRole"
ACCOUNT = "111122223333"
INSTANCE = "i-0123456789abcdef0"
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"


def host_conf(tmp_path, role=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"):
    p = tmp_path / "host.conf"
    p.write_text(f"instance_id = {INSTANCE}\nparent_role_arn = {role}\n")
    return p


def imds_server(tmp_path, *extra, role=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"):
    conf = host_conf(tmp_path, role)
    return KmsServer(tmp_path / "kms", args=["--account-id", ACCOUNT, "--imds", "127.0.0.1:0",
                                             *extra],
                     env={"CLOISTER_HOST_CONFIG": str(conf)})


@pytest.fixture
def srv(tmp_path):
    s = imds_server(tmp_path)
    yield s
    s.stop()


def get(srv, path, token=None, **kw):
    headers = {TOKEN: token} if token else {}
    return requests.get(srv.imds + path, headers=headers, timeout=5, **kw)


def put_token(srv, ttl="60", headers=None):
    h = {TTL: ttl} if ttl is not None else {}
    h.update(headers or {})
    return requests.put(srv.imds + "/latest/api/token", headers=h, timeout=5)


def test_tree(srv):
    """EC2's directory listings and values (IMDSv1: no token)."""
    expect = {
        "/": "latest",
        "/latest/": "dynamic\nmeta-data",
        "/latest/meta-data/": "iam/\ninstance-id\nplacement/\nservices/",
        "/latest/meta-data/instance-id": INSTANCE,
        "/latest/meta-data/placement/": "availability-zone\nregion",
        "/latest/meta-data/placement/region": "us-east-1",
        "/latest/meta-data/placement/availability-zone": "us-east-1a",
        "/latest/meta-data/services/partition": "aws",
        "/latest/meta-data/services/domain": "amazonaws.com",
        "/latest/meta-data/iam/": "info\nsecurity-credentials/",
        "/latest/meta-data/iam/security-credentials/": ROLE,
        "/latest/meta-data/iam/security-credentials": ROLE,
        "/latest/dynamic/instance-identity/": "document\nrsa2048\nsignature",
    }
    for path, body in expect.items():
        r = get(srv, path)
        assert (r.status_code, r.text) == (200, body), path
    for path in ["/latest/meta-data/nothing", "/latest/meta-data/iam/security-credentials/Other",
                 "/latest/user-data", "/latest/meta-data/instance-id/x"]:
        r = get(srv, path)
        assert (r.status_code, r.text) == (404, "404 - Not Found\n"), path
    info = get(srv, "/latest/meta-data/iam/info").json()
    assert info["Code"] == "Success"
    assert info["InstanceProfileArn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/{ROLE}"
    assert info["InstanceProfileId"].startswith("AIPA") and len(info["InstanceProfileId"]) == 21


def test_token_rules(srv):
    """IMDSv2: a token with a TTL; a present token is always checked; EC2's
    refusals of bad token requests."""
    r = put_token(srv, "60")
    assert r.status_code == 200 and r.headers[TTL] == "60"
    token = r.text
    r = get(srv, "/latest/meta-data/instance-id", token)
    assert (r.status_code, r.text) == (200, INSTANCE)
    assert 58 <= int(r.headers[TTL]) <= 60
    # a token that is not one of ours, or altered, or expired: 401
    forged = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    for bad in ["nonsense", forged]:
        r = get(srv, "/latest/meta-data/instance-id", bad)
        assert (r.status_code, r.text) == (401, "401 - Unauthorized\n")
    short = put_token(srv, "1").text
    time.sleep(2.1)
    assert get(srv, "/latest/meta-data/instance-id", short).status_code == 401
    # the TTL must be 1..21600 decimal seconds
    for ttl in [None, "0", "21601", "+5", "5s", ""]:
        r = put_token(srv, ttl)
        assert (r.status_code, r.text) == (400, "400 - Bad Request\n"), ttl
    assert put_token(srv, "21600").status_code == 200
    # a token fetched through a proxy (X-Forwarded-For) is refused, as on EC2
    r = put_token(srv, "60", {"X-Forwarded-For": "10.0.0.1"})
    assert (r.status_code, r.text) == (403, "403 - Forbidden\n")
    # only PUT makes tokens; only GET reads
    r = requests.get(srv.imds + "/latest/api/token", timeout=5)
    assert r.status_code == 405
    r = requests.post(srv.imds + "/latest/meta-data/instance-id", timeout=5)
    assert r.status_code == 405


def test_rebound_names_and_browsers_are_refused(srv):
    """A page whose name is rebound to loopback (DNS rebinding) sends its own
    name as Host, and a browser sends Origin: neither gets credentials."""
    port = srv.imds.rsplit(":", 1)[1]
    path = f"/latest/meta-data/iam/security-credentials/{ROLE}"
    for host in [f"evil.example:{port}", "evil.example", "127.0.0.1:1", "169.254.169.254:81"]:
        r = requests.get(srv.imds + path, headers={"Host": host}, timeout=5)
        assert (r.status_code, r.text) == (403, "403 - Forbidden\n"), host
        r = requests.put(srv.imds + "/latest/api/token", headers={"Host": host, TTL: "60"},
                         timeout=5)
        assert r.status_code == 403, host
    for host in [f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}", f"[::1]:{port}",
                 "169.254.169.254", "169.254.169.254:80", "[fd00:ec2::254]"]:
        r = requests.get(srv.imds + "/latest/meta-data/instance-id", headers={"Host": host},
                         timeout=5)
        assert (r.status_code, r.text) == (200, INSTANCE), host
    r = requests.get(srv.imds + path, headers={"Origin": "http://127.0.0.1"}, timeout=5)
    assert (r.status_code, r.text) == (403, "403 - Forbidden\n")
    # the token path with a trailing slash is the token path
    r = requests.put(srv.imds + "/latest/api/token/", headers={TTL: "60"}, timeout=5)
    assert r.status_code == 200


def test_tokens_required(tmp_path):
    s = imds_server(tmp_path, "--imds-tokens", "required")
    try:
        r = get(s, "/latest/meta-data/instance-id")
        assert (r.status_code, r.text) == (401, "401 - Unauthorized\n")
        token = put_token(s, "30").text
        r = get(s, "/latest/meta-data/instance-id", token)
        assert (r.status_code, r.text) == (200, INSTANCE)
    finally:
        s.stop()


def test_absolute_form_through_http_proxy(srv):
    """With HTTP_PROXY set to the service, code that hard-codes
    169.254.169.254 reaches it; any other host is refused."""
    proxies = {"http": srv.imds}
    r = requests.get("http://169.254.169.254/latest/meta-data/instance-id", proxies=proxies,
                     timeout=5)
    assert (r.status_code, r.text) == (200, INSTANCE)
    r = requests.put("http://169.254.169.254/latest/api/token", headers={TTL: "5"},
                     proxies=proxies, timeout=5)
    assert r.status_code == 200
    r = requests.get("http://example.com/latest/meta-data/instance-id", proxies=proxies, timeout=5)
    assert (r.status_code, r.text) == (
        403, "403 - Forbidden: only the instance metadata address is served\n")


def test_role_credentials_reach_the_key_service(srv):
    creds = get(srv, f"/latest/meta-data/iam/security-credentials/{ROLE}").json()
    assert list(creds) == ["Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey",
                           "Token", "Expiration"]
    assert creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC"
    assert creds["AccessKeyId"].startswith("ASIA")
    expires = time.mktime(time.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 6 * 3600 - 120 < expires - time.time() <= 6 * 3600 + 1   # the default, six hours
    sts = srv.client("sts", creds=(creds["AccessKeyId"], creds["SecretAccessKey"]),
                     token=creds["Token"])
    assert sts.get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{INSTANCE}"
    # the same credentials until the refresh is due
    again = get(srv, f"/latest/meta-data/iam/security-credentials/{ROLE}").json()
    assert again["AccessKeyId"] == creds["AccessKeyId"]


def test_credentials_rotate_before_expiry(tmp_path):
    """Refreshed every --imds-refresh seconds; the previous ones stay valid
    until their own expiry, and expiry is always more than fifteen minutes
    away (botocore's refresh window)."""
    s = imds_server(tmp_path, "--imds-credential-duration", "1800", "--imds-refresh", "1")
    try:
        path = f"/latest/meta-data/iam/security-credentials/{ROLE}"
        first = get(s, path).json()
        time.sleep(1.2)
        second = get(s, path).json()
        assert second["AccessKeyId"] != first["AccessKeyId"]
        assert second["LastUpdated"] >= first["LastUpdated"]
        for c in (first, second):
            sts = s.client("sts", creds=(c["AccessKeyId"], c["SecretAccessKey"]), token=c["Token"])
            assert sts.get_caller_identity()["Arn"].endswith(f"/{ROLE}/{INSTANCE}")
            left = time.mktime(time.strptime(c["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) \
                - time.timezone - time.time()
            assert left > 900
    finally:
        s.stop()


def start_fails(tmp_path, *args, role=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"):
    conf = host_conf(tmp_path, role)
    p = subprocess.run([str(KMS), "serve", "--data-dir", str(tmp_path / "kms"), "--listen",
                        "127.0.0.1:0", "--account-id", ACCOUNT, "--imds", "127.0.0.1:0", *args],
                       capture_output=True, text=True, timeout=60,
                       env={"CLOISTER_HOST_CONFIG": str(conf), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 1
    return p.stderr.strip().splitlines()[-1]


def test_refused_settings(tmp_path):
    assert start_fails(tmp_path, "--imds-refresh", "1000", "--imds-credential-duration",
                       "1800") == (
        "cloister-kms: cannot start: instance metadata service: credential refresh must be "
        "1..900 seconds (the duration less 900)")
    assert start_fails(tmp_path, "--imds-credential-duration", "900") == (
        "cloister-kms: cannot start: instance metadata service: credential duration must be "
        "1800..43200 seconds")
    conf = tmp_path / "host.conf"
    assert start_fails(tmp_path, role="arn:aws:iam::444455556666:role/Other") == (
        f"cloister-kms: cannot start: instance metadata service: {conf}: parent_role_arn "
        "arn:aws:iam::444455556666:role/Other is not a role of this key service's account "
        f"{ACCOUNT} (set the data directory up with --account-id, or name a role of {ACCOUNT})")
    p = subprocess.run([str(KMS), "serve", "--data-dir", str(tmp_path / "k2"), "--listen",
                        "127.0.0.1:0", "--imds-tokens", "sometimes"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr == "cloister-kms: --imds-tokens must be optional or required, not 'sometimes'\n"


def test_identity_document_and_signatures(srv, tmp_path):
    doc_text = get(srv, "/latest/dynamic/instance-identity/document").text
    doc = json.loads(doc_text)
    assert doc["instanceId"] == INSTANCE and doc["accountId"] == ACCOUNT
    assert doc["region"] == "us-east-1" and doc["availabilityZone"] == "us-east-1a"
    assert doc["version"] == "2017-09-30" and doc["architecture"] in ("x86_64", "arm64")
    endpoints = json.loads((srv.dir / "endpoints.json").read_text())
    cert_pem = endpoints["InstanceIdentityCertificate"]
    assert cert_pem == (srv.dir / "imds" / "identity.pem").read_text()
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    # `signature`: RSA-SHA256 over the document's bytes
    sig = base64.b64decode(get(srv, "/latest/dynamic/instance-identity/signature").text)
    cert.public_key().verify(sig, doc_text.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(Exception):
        cert.public_key().verify(sig, doc_text.encode() + b" ", padding.PKCS1v15(),
                                 hashes.SHA256())
    # `rsa2048`: PKCS #7 SignedData with the document, as EC2 documents verifying it
    p7 = get(srv, "/latest/dynamic/instance-identity/rsa2048").text
    pem = tmp_path / "rsa2048.pem"
    pem.write_text("-----BEGIN PKCS7-----\n" + p7 + "\n-----END PKCS7-----\n")
    (tmp_path / "cert.pem").write_text(cert_pem)
    v = subprocess.run(["openssl", "smime", "-verify", "-in", str(pem), "-inform", "PEM",
                        "-certfile", str(tmp_path / "cert.pem"), "-noverify"],
                       capture_output=True, text=True, timeout=30)
    assert v.returncode == 0, v.stderr
    assert v.stdout == doc_text
    assert "Verification successful" in v.stderr


def test_endpoints_file(srv):
    e = json.loads((srv.dir / "endpoints.json").read_text())
    assert list(e) == ["Region", "AccountId", "KmsEndpoint", "StsEndpoint", "CaCertificate",
                       "ImdsEndpoint", "InstanceId", "InstanceIdentityCertificate"]
    assert e["KmsEndpoint"] == e["StsEndpoint"] == srv.endpoint
    assert e["ImdsEndpoint"] == srv.imds
    assert e["CaCertificate"] == (srv.dir / "tls" / "ca.pem").read_text()
    assert (srv.dir / "endpoints.json").stat().st_mode & 0o777 == 0o644


def test_the_metadata_address_itself_in_a_network_namespace(tmp_path):
    """The third way in (docs/parent.md): 169.254.169.254 made local and
    listened on, inside a network namespace this test creates."""
    conf = host_conf(tmp_path)
    out = tmp_path / "out"
    script = f"""set -e
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
CLOISTER_HOST_CONFIG={conf} {KMS} serve --data-dir {tmp_path}/kms --listen 127.0.0.1:0 \\
    --account-id {ACCOUNT} --imds 169.254.169.254:80 >{out} 2>&1 &
pid=$!
for i in $(seq 300); do grep -q 'instance metadata on' {out} && break; sleep 0.1; done
/usr/bin/python3 -c "import requests; print(requests.get('http://169.254.169.254/latest/meta-data/instance-id', timeout=5).text)"
kill $pid
wait $pid
"""
    p = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True,
                       timeout=60)
    assert (p.returncode, p.stdout) == (0, INSTANCE + "\n"), p.stderr + out.read_text()
    assert "instance metadata on http://169.254.169.254:80 " in out.read_text()
