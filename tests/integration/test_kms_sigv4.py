# SPDX-License-Identifier: Apache-2.0
"""SigV4 at cloister-kms's door: every way a request's authentication can be
wrong gets AWS's error type, message and status; a correct pre-signed
request is accepted again and again inside the 5-minute window."""
import json
import time


def call(srv, **kw):
    status, text = srv.signed("TrentService.ListKeys", {}, **kw)
    return status, json.loads(text)


def test_good_request_replays_within_window(srv):
    captured = {}

    def keep(req):
        captured.update(dict(req.headers))

    assert call(srv, mutate=keep)[0] == 200
    import requests
    for _ in range(3):
        r = requests.post(srv.endpoint + "/", data=b"{}", headers=captured, verify=srv.ca)
        assert r.status_code == 200 and "Keys" in r.json()


def test_wrong_signature(srv):
    assert call(srv, creds=(srv.admin[0], "x" * 40)) == (400, {
        "__type": "InvalidSignatureException",
        "message": "The request signature we calculated does not match the signature you provided. "
                   "Check your AWS Secret Access Key and signing method. Consult the service "
                   "documentation for details."})


def test_body_changed_after_signing(srv):
    def change(req):
        req.data = b'{"Limit": 1}'
    status, body = call(srv, mutate=change)
    assert (status, body["__type"]) == (400, "InvalidSignatureException")


def test_unknown_access_key(srv):
    assert call(srv, creds=("AKIAUNKNOWNUNKNOWN00", "x" * 40)) == (400, {
        "__type": "UnrecognizedClientException",
        "message": "The security token included in the request is invalid."})


def test_expired_and_future_dates(srv):
    status, body = call(srv, when=time.time() - 400)
    assert status == 400 and body["__type"] == "InvalidSignatureException"
    assert body["message"].startswith("Signature expired: ")
    assert body["message"].endswith(" - 5 min.)") and "is now earlier than" in body["message"]
    status, body = call(srv, when=time.time() + 400)
    assert status == 400 and body["__type"] == "InvalidSignatureException"
    assert body["message"].startswith("Signature not yet current: ")
    assert body["message"].endswith(" + 5 min.)")
    # inside the window
    assert call(srv, when=time.time() - 200)[0] == 200


def test_missing_authorization(srv):
    import requests
    r = requests.post(srv.endpoint + "/", data=b"{}", verify=srv.ca,
                      headers={"X-Amz-Target": "TrentService.ListKeys",
                               "Content-Type": "application/x-amz-json-1.1"})
    assert (r.status_code, r.json()) == (400, {"__type": "MissingAuthenticationTokenException",
                                               "message": "Missing Authentication Token"})


def replace_auth(fn):
    def mutate(req):
        req.headers["Authorization"] = fn(req.headers["Authorization"])
    return mutate


def test_malformed_authorization(srv):
    status, body = call(srv, mutate=replace_auth(lambda a: a.split(", Signature=")[0]))
    assert (status, body) == (400, {"__type": "IncompleteSignatureException",
                                    "message": "Authorization header requires 'Signature' parameter."})
    status, body = call(srv, mutate=replace_auth(lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")))
    assert (status, body) == (400, {"__type": "IncompleteSignatureException",
                                    "message": "Unsupported Authorization Type"})
    status, body = call(srv, mutate=replace_auth(lambda a: a.replace("/aws4_request", "/aws5_request")))
    assert status == 400 and body["__type"] == "IncompleteSignatureException"
    assert "aws4_request" in body["message"]


def test_signed_headers_must_include_host_and_date(srv):
    def drop_host(a):
        return a.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;")
    status, body = call(srv, mutate=replace_auth(drop_host))
    assert (status, body) == (400, {
        "__type": "InvalidSignatureException",
        "message": "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."})


def test_signed_header_missing_from_request(srv):
    def drop(req):
        del req.headers["X-Amz-Target"]
        req.headers["X-Amz-Target"] = "TrentService.ListKeys"
        req.headers["Authorization"] = req.headers["Authorization"].replace(
            "x-amz-target", "x-amz-targez")
    status, body = call(srv, mutate=drop)
    assert (status, body) == (400, {
        "__type": "InvalidSignatureException",
        "message": "'x-amz-targez' is a SignedHeader but is not present in the request"})


def test_missing_date(srv):
    def drop(req):
        del req.headers["X-Amz-Date"]
    status, body = call(srv, mutate=drop)
    assert (status, body) == (400, {
        "__type": "IncompleteSignatureException",
        "message": "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."})


def test_scope_region_and_service(srv):
    # every region of the aws partition is served (docs/kms.md, "Regions"); another is not
    status, body = call(srv, region="eu-west-3")
    assert status == 200, body
    status, body = call(srv, region="xx-fake-1")
    assert (status, body) == (400, {"__type": "InvalidSignatureException",
                                    "message": "Credential should be scoped to a valid region, not 'xx-fake-1'. "})
    status, body = call(srv, service="s3")
    assert (status, body) == (400, {"__type": "InvalidSignatureException",
                                    "message": "Credential should be scoped to correct service: 'kms'. "})


def test_expired_session(srv):
    srv.principal("short", role=True)
    s = srv.session("short", duration=900)["Credentials"]
    ok = call(srv, creds=(s["AccessKeyId"], s["SecretAccessKey"]), token=s["SessionToken"])
    # the role has no identity policy: authenticated, then denied
    assert ok[0] == 400 and ok[1]["__type"] == "AccessDeniedException"
    # a long-term key with a session token is not recognized
    status, body = call(srv, token="bogus")
    assert (status, body["__type"]) == (400, "UnrecognizedClientException")


def test_sts_errors_are_xml(srv):
    status, text = srv.signed(None, "Action=GetCallerIdentity&Version=2011-06-15",
                              service="sts", creds=(srv.admin[0], "y" * 40),
                              content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert status == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in text and "<ErrorResponse" in text
    status, text = srv.signed(None, "Action=AssumeRole&Version=2011-06-15", service="sts",
                              content_type="application/x-www-form-urlencoded")
    assert status == 400 and "<Code>InvalidAction</Code>" in text
    status, text = srv.signed(None, "Action=GetCallerIdentity&Version=2011-06-15", service="sts",
                              content_type="application/x-www-form-urlencoded")
    assert status == 200 and f"<Account>{srv.account}</Account>" in text
    # a KMS request signed for sts is refused
    status, text = srv.signed("TrentService.ListKeys", {}, service="sts")
    assert status == 400 and json.loads(text)["__type"] == "InvalidSignatureException"
