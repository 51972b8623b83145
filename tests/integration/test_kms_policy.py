# SPDX-License-Identifier: Apache-2.0
"""Key policies through the real cloister-kms (boto3): the default policy
text, CreateKey/PutKeyPolicy validation with AWS's exceptions and messages,
the lock-out check, evaluation of real requests (principals, role sessions,
IAM delegation, explicit deny, NotAction, and condition operators over the
keys the server fills in: encryption context, aliases, source IP, TLS,
caller account), AccessDenied messages, and `cloister-kms explain`."""
import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from kmsserver import KMS, KmsServer

DEFAULT_POLICY = """{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::%s:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"""
MPD = "MalformedPolicyDocumentException"
LOCKOUT = "The new key policy will not allow you to update the key policy in the future."
BAD_PRINCIPALS = "Policy contains a statement with one or more invalid principals."


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = KmsServer(tmp_path_factory.mktemp("kmspolicy") / "data")
    s.kms = s.client()
    # alice: a user with no identity policy (like the workshop's parent role);
    # carol: a user whose identity policy allows kms:Encrypt and kms:PutKeyPolicy;
    # enclave_role: a role, used through sessions.
    s.alice = s.principal("alice")
    s.carol = s.principal("carol", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:PutKeyPolicy", "kms:CreateKey", "kms:GetKeyPolicy"],
         "Resource": "*"}]})
    s.role = s.principal("enclave_role", role=True)
    s.other_role = s.principal("other_role", role=True)
    yield s
    s.stop()


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"]


def client_of(srv, p):
    return srv.client(creds=(p["AccessKeyId"], p["SecretAccessKey"]))


def session_client(srv, role):
    s = srv.session(role)
    c = s["Credentials"]
    return srv.client(creds=(c["AccessKeyId"], c["SecretAccessKey"]), token=c["SessionToken"]), \
        s["AssumedRoleUser"]["Arn"]


def policy(srv, *statements, admin=True):
    st = list(statements)
    if admin:
        st.insert(0, {"Sid": "Admin", "Effect": "Allow",
                      "Principal": {"AWS": f"arn:aws:iam::{srv.account}:root"}, "Action": "kms:*", "Resource": "*"})
    return json.dumps({"Version": "2012-10-17", "Statement": st})


def key_with(srv, *statements, **kw):
    m = srv.kms.create_key(Policy=policy(srv, *statements), **kw)["KeyMetadata"]
    return m["KeyId"], m["Arn"]


def allow(principal, action, condition=None, sid=None):
    s = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": "*"}
    if condition:
        s["Condition"] = condition
    if sid:
        s["Sid"] = sid
    return s


def denied_implicit(caller, action, arn):
    return ("AccessDeniedException", f"User: {caller} is not authorized to perform: {action} on resource: {arn} "
            f"because no resource-based policy allows the {action} action")


def denied_explicit(caller, action, arn):
    return ("AccessDeniedException", f"User: {caller} is not authorized to perform: {action} on resource: {arn} "
            "with an explicit deny in a resource-based policy")


def test_default_policy(srv):
    kid = srv.kms.create_key()["KeyMetadata"]["KeyId"]
    out = srv.kms.get_key_policy(KeyId=kid, PolicyName="default")
    assert out["Policy"] == DEFAULT_POLICY % srv.account
    # it delegates to IAM: alice (no identity policy) is refused, carol may Encrypt only
    alice = client_of(srv, srv.alice)
    arn = f"arn:aws:kms:{srv.region}:{srv.account}:key/{kid}"
    with pytest.raises(ClientError) as e:
        alice.encrypt(KeyId=kid, Plaintext=b"x")
    assert err(e) == denied_implicit(srv.alice["Arn"], "kms:Encrypt", arn)
    carol = client_of(srv, srv.carol)
    blob = carol.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        carol.decrypt(CiphertextBlob=blob)
    assert err(e) == denied_implicit(srv.carol["Arn"], "kms:Decrypt", arn)


@pytest.mark.parametrize("text,code,message", [
    ("{\"Version\":", MPD, "The key policy is not valid JSON (line 1, column 11)."),
    ("[]", MPD, "The key policy must be a JSON object."),
    ("{\"Statement\":[]}", MPD, "Policy is missing the Version field."),
    ("{\"Version\":\"2008-10-17\",\"Statement\":[]}", MPD, "Policy has an unsupported Version (only 2012-10-17)."),
    ("{\"Version\":\"2012-10-17\",\"Statement\":[]}", MPD, "Policy contains no statement."),
    ("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
     MPD, "Policy contains a statement with no principal."),
    ("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"bob\"},"
     "\"Action\":\"kms:*\",\"Resource\":\"*\"}]}", MPD, BAD_PRINCIPALS),
    # a well-formed ARN of a principal that does not exist
    ("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
     "\"arn:aws:iam::111122223333:user/nobody\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}", MPD, BAD_PRINCIPALS),
    ("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\","
     "\"Resource\":\"*\",\"Condition\":{\"StringEqualz\":{\"a:b\":\"c\"}}}]}",
     MPD, "Policy contains a condition with an invalid operator: StringEqualz"),
    ("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\","
     "\"Resource\":\"*\",\"Condition\":{\"ForAllValues:StringEquals\":{\"kms:EncryptionContext:k\":\"v\"}}}]}",
     MPD, "Policy contains an overly permissive condition: ForAllValues with the single-valued key "
          "kms:EncryptionContext:k."),
])
def test_validation_errors(srv, text, code, message):
    text = text.replace("111122223333", srv.account)
    kid = srv.kms.create_key()["KeyMetadata"]["KeyId"]
    for call in (lambda: srv.kms.create_key(Policy=text),
                 lambda: srv.kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=text)):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == (code, message)


def test_size_limit(srv):
    base = DEFAULT_POLICY % srv.account
    kid = srv.kms.create_key()["KeyMetadata"]["KeyId"]
    ok = base + " " * (32768 - len(base))
    srv.kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=ok)
    with pytest.raises(ClientError) as e:
        srv.kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=ok + " ")
    assert err(e) == ("LimitExceededException", "The key policy is 32769 bytes; the limit is 32768 bytes.")


def test_lockout_check(srv):
    carol = client_of(srv, srv.carol)
    alice_only = policy(srv, allow(srv.alice["Arn"], "kms:*"), admin=False)
    # carol creating a key she could not administer: refused, unless bypassed
    with pytest.raises(ClientError) as e:
        carol.create_key(Policy=alice_only)
    assert err(e) == (MPD, LOCKOUT)
    carol.create_key(Policy=alice_only, BypassPolicyLockoutSafetyCheck=True)
    # the default-style policy keeps carol (IAM allows her kms:PutKeyPolicy) in control
    kid = carol.create_key(Policy=policy(srv))["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        carol.put_key_policy(KeyId=kid, PolicyName="default", Policy=alice_only)
    assert err(e) == (MPD, LOCKOUT)
    # a Deny of PutKeyPolicy locks out too
    deny_put = policy(srv, {"Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"})
    with pytest.raises(ClientError) as e:
        carol.put_key_policy(KeyId=kid, PolicyName="default", Policy=deny_put)
    assert err(e) == (MPD, LOCKOUT)
    carol.put_key_policy(KeyId=kid, PolicyName="default", Policy=deny_put, BypassPolicyLockoutSafetyCheck=True)
    with pytest.raises(ClientError) as e:
        carol.put_key_policy(KeyId=kid, PolicyName="default", Policy=policy(srv))
    assert err(e)[0] == "AccessDeniedException"


def test_principals_and_sessions(srv):
    kid, arn = key_with(srv, allow(srv.alice["Arn"], "kms:Encrypt"), allow(srv.role["Arn"], "kms:GenerateDataKey*"))
    alice = client_of(srv, srv.alice)
    alice.encrypt(KeyId=kid, Plaintext=b"x")  # named directly: no identity policy needed
    with pytest.raises(ClientError) as e:
        alice.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert err(e) == denied_implicit(srv.alice["Arn"], "kms:GenerateDataKey", arn)
    # the role ARN covers its sessions
    sess, sess_arn = session_client(srv, "enclave_role")
    assert sess_arn.startswith(f"arn:aws:sts::{srv.account}:assumed-role/enclave_role/")
    sess.generate_data_key(KeyId=kid, KeySpec="AES_256")
    sess.generate_data_key_without_plaintext(KeyId=kid, KeySpec="AES_256")
    with pytest.raises(ClientError) as e:
        sess.encrypt(KeyId=kid, Plaintext=b"x")
    assert err(e) == denied_implicit(sess_arn, "kms:Encrypt", arn)
    other, other_arn = session_client(srv, "other_role")
    with pytest.raises(ClientError) as e:
        other.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert err(e) == denied_implicit(other_arn, "kms:GenerateDataKey", arn)


def test_explicit_deny_and_not_action(srv):
    kid, arn = key_with(srv,
                        {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
                        {"Sid": "OnlyCrypto", "Effect": "Deny", "Principal": {"AWS": srv.alice["Arn"]},
                         "NotAction": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"})
    alice = client_of(srv, srv.alice)
    blob = alice.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
    assert alice.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    with pytest.raises(ClientError) as e:
        alice.describe_key(KeyId=kid)
    assert err(e) == denied_explicit(srv.alice["Arn"], "kms:DescribeKey", arn)
    # the admin is not alice: the Allow "*" applies
    srv.kms.describe_key(KeyId=kid)


def test_encryption_context_conditions(srv):
    kid, arn = key_with(srv,
                        allow(srv.alice["Arn"], "kms:Encrypt",
                              {"StringEquals": {"kms:EncryptionContext:Dept": ["HR", "IT"]}}),
                        allow(srv.alice["Arn"], "kms:Decrypt",
                              {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Dept", "Project"]},
                               "Null": {"kms:EncryptionContextKeys": "false"}}))
    alice = client_of(srv, srv.alice)
    blob = alice.encrypt(KeyId=kid, Plaintext=b"x", EncryptionContext={"Dept": "HR"})["CiphertextBlob"]
    alice.encrypt(KeyId=kid, Plaintext=b"x", EncryptionContext={"dept": "IT"})  # key part case-insensitive
    for ctx in ({"Dept": "hr"}, {"Other": "HR"}, {}):
        with pytest.raises(ClientError) as e:
            alice.encrypt(KeyId=kid, Plaintext=b"x", EncryptionContext=ctx)
        assert err(e) == denied_implicit(srv.alice["Arn"], "kms:Encrypt", arn)
    assert alice.decrypt(CiphertextBlob=blob, EncryptionContext={"Dept": "HR"})["Plaintext"] == b"x"
    blob2 = srv.kms.encrypt(KeyId=kid, Plaintext=b"y", EncryptionContext={"Dept": "HR", "Secret": "1"})["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        alice.decrypt(CiphertextBlob=blob2, EncryptionContext={"Dept": "HR", "Secret": "1"})
    assert err(e) == denied_implicit(srv.alice["Arn"], "kms:Decrypt", arn)
    blob3 = srv.kms.encrypt(KeyId=kid, Plaintext=b"z")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:  # no context: Null false fails
        alice.decrypt(CiphertextBlob=blob3)
    assert err(e) == denied_implicit(srv.alice["Arn"], "kms:Decrypt", arn)


def test_long_encryption_context_keys_are_not_cut(srv):
    """kms:EncryptionContext:<key> is built from the whole key: two long keys
    that share their first 600 characters stay two condition keys."""
    long_key = "k" * 600
    kid, arn = key_with(srv, allow(srv.alice["Arn"], "kms:Encrypt",
                                   {"StringEquals": {f"kms:EncryptionContext:{long_key}A": "v"}}))
    alice = client_of(srv, srv.alice)
    alice.encrypt(KeyId=kid, Plaintext=b"x", EncryptionContext={long_key + "A": "v"})
    with pytest.raises(ClientError) as e:
        alice.encrypt(KeyId=kid, Plaintext=b"x", EncryptionContext={long_key + "B": "v"})
    assert err(e) == denied_implicit(srv.alice["Arn"], "kms:Encrypt", arn)

def test_alias_ip_transport_account_conditions(srv):
    kid, arn = key_with(srv,
                        allow(srv.alice["Arn"], "kms:Encrypt", {"StringLike": {"kms:RequestAlias": "alias/app-*"}}),
                        allow(srv.alice["Arn"], "kms:GenerateRandom"),
                        allow(srv.alice["Arn"], "kms:DescribeKey",
                              {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]},
                               "Bool": {"aws:SecureTransport": "true"},
                               "StringEquals": {"kms:CallerAccount": srv.account}}),
                        allow(srv.alice["Arn"], "kms:ListResourceTags",
                              {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}),
                        {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
                         "Condition": {"StringLikeIfExists": {"kms:RequestAlias": "alias/app-blocked*"}}})
    srv.kms.create_alias(AliasName="alias/app-prod", TargetKeyId=kid)
    srv.kms.create_alias(AliasName="alias/other", TargetKeyId=kid)
    srv.kms.create_alias(AliasName="alias/app-blocked", TargetKeyId=kid)
    alice = client_of(srv, srv.alice)
    alice.encrypt(KeyId="alias/app-prod", Plaintext=b"x")
    alias_arn = f"arn:aws:kms:{srv.region}:{srv.account}:alias/app-prod"
    alice.encrypt(KeyId=alias_arn, Plaintext=b"x")
    with pytest.raises(ClientError) as e:
        alice.encrypt(KeyId="alias/other", Plaintext=b"x")
    assert err(e) == denied_implicit(srv.alice["Arn"], "kms:Encrypt", arn)
    # the Deny's ...IfExists is true when no alias was used (key absent), and
    # when the alias matches
    for key_id in (kid, "alias/app-blocked"):
        with pytest.raises(ClientError) as e:
            alice.encrypt(KeyId=key_id, Plaintext=b"x")
        assert err(e) == denied_explicit(srv.alice["Arn"], "kms:Encrypt", arn)
    alice.describe_key(KeyId=kid)  # loopback, TLS, own account
    with pytest.raises(ClientError) as e:
        alice.list_resource_tags(KeyId=kid)
    assert err(e) == denied_implicit(srv.alice["Arn"], "kms:ListResourceTags", arn)


def test_secure_transport_over_http(tmp_path):
    s = KmsServer(tmp_path / "data", http=True)
    try:
        admin_root = f"arn:aws:iam::{s.account}:root"
        pol = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": admin_root}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
        kms = s.client()
        kid = kms.create_key(Policy=pol)["KeyMetadata"]["Arn"]
        blob = kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=blob)
        assert err(e) == denied_explicit(f"arn:aws:iam::{s.account}:user/admin", "kms:Decrypt", kid)
    finally:
        s.stop()


def test_audit_records_the_deciding_statement(srv):
    kid, arn = key_with(srv, allow(srv.alice["Arn"], "kms:Encrypt", sid="AliceEncrypts"))
    client_of(srv, srv.alice).encrypt(KeyId=kid, Plaintext=b"x")
    events = [json.loads(l) for l in (srv.dir / "audit.log").read_text().splitlines()]
    ev = [e for e in events if e["operation"] == "Encrypt" and e["principal"] == srv.alice["Arn"]][-1]
    auth = ev["authorization"][0]
    assert auth["decision"] == "Allow" and auth["sid"] == "AliceEncrypts" and auth["statement"] == 1
    assert auth["source"] == "key"
    assert auth["reason"].startswith('Allowed by statement 1 (Sid "AliceEncrypts") of the key policy')


def explain(tmp_path, pol, *args):
    path = tmp_path / "policy.json"
    path.write_text(pol if isinstance(pol, str) else json.dumps(pol))
    return subprocess.run([str(KMS), "explain", "--policy", str(path), *args], capture_output=True,
                          text=True, timeout=60)


def test_explain_command(tmp_path):
    pcr0 = "ab" * 48
    pol = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Decrypt in the enclave", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:role/enclave_role"}, "Action": "kms:Decrypt",
         "Resource": "*", "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR0": pcr0.upper()}}}]}
    sess = "arn:aws:sts::111122223333:assumed-role/enclave_role/i-0123"
    p = explain(tmp_path, pol, "--action", "kms:Decrypt", "--principal", sess,
                "--context", f"kms:RecipientAttestation:PCR0={pcr0}")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["Decision"] == "Allow"
    assert out["DecidedBy"] == {"Policy": "key", "Index": 1, "Sid": "Decrypt in the enclave"}
    assert out["Statements"][1]["Conditions"][0]["Result"] is True
    p = explain(tmp_path, pol, "--action", "kms:Decrypt", "--principal", sess,
                "--context", "kms:RecipientAttestation:PCR0=" + "0" * 96)
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["Decision"] == "ImplicitDeny" and out["DecidedBy"] is None
    assert "condition StringEqualsIgnoreCase on kms:RecipientAttestation:PCR0 is false" in out["Reason"]
    # identity policies and encryption-context values (never echoed)
    ident = tmp_path / "identity.json"
    ident.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "acme"}}}]}))
    p = explain(tmp_path, pol, "--action", "kms:Encrypt", "--principal", "arn:aws:iam::111122223333:user/u",
                "--identity-policy", str(ident), "--context", "kms:EncryptionContext:tenant=SECRET-VALUE")
    assert p.returncode == 1
    assert "SECRET-VALUE" not in p.stdout
    p = explain(tmp_path, pol, "--action", "kms:Encrypt", "--principal", "arn:aws:iam::111122223333:user/u",
                "--identity-policy", str(ident), "--context", "kms:EncryptionContext:tenant=acme")
    assert p.returncode == 0
    out = json.loads(p.stdout)
    assert out["IdentityStatement"] == {"Policy": 0, "Index": 0}
    # errors: exit 2, one line on stderr
    p = explain(tmp_path, "{\"Version\":", "--action", "kms:Decrypt", "--principal", sess)
    assert p.returncode == 2
    assert p.stderr == (f"cloister-kms explain: key policy: {tmp_path / 'policy.json'} "
                        "(MalformedPolicyDocumentException): The key policy is not valid JSON (line 1, column 11).\n")
    p = explain(tmp_path, pol, "--action", "kms:Decrypt", "--principal", sess, "--context", "novalue")
    assert p.returncode == 2
    assert p.stderr == "cloister-kms explain: --context wants KEY=VALUE, got novalue\n"
