#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The Nitro Enclaves cryptographic-attestation workshop
# (aws-samples/aws-nitro-enclaves-workshop),
# step for step, on Cloister. Usage: workshop.sh BUILD_DIR
#
# Two identities, as in the workshop: the administrator (the console user)
# creates the key and alias and sets policies; the parent instance's role,
# with the instance profile's temporary credentials (from the instance
# metadata service) and no identity policy, runs everything else. The
# parent's commands run as the workshop writes them, under `cloister exec`
# (docs/parent.md): no endpoint flag, no credentials file.
# Every step's outcome is checked; the script exits non-zero at the first
# one that differs, and leaves no process behind.
set -eu

build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bin
ex=$build/examples/data-processing
region=us-east-1
alias=my-enclave-key
# Debian's AWS CLI (v2), which scripts/install-deps.sh installs.
aws=/usr/bin/aws

work=$(mktemp -d /tmp/cloister-workshop.XXXXXX)
export CLOISTER_RUN_DIR="$work/run"
export CLOISTER_HOST_CONFIG="$work/host.conf"
export CLOISTER_CLI="$bin/cloister"
# nitro-cli by name, as the workshop types it: cloister under nitro-cli's name
mkdir -p "$work/bin"
ln -s "$bin/cloister" "$work/bin/nitro-cli"
PATH="$work/bin:$PATH"
export CLOISTER_CA_DIR="$work/attestation-ca"
ca_dir="$CLOISTER_CA_DIR"
data="$work/kms"
pids=""

cleanup() {
    status=$?
    "$bin/cloister" terminate-enclave --all >/dev/null 2>&1 || true
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    if [ "$status" -ne 0 ]; then
        echo
        echo "The workshop stopped at a step whose outcome differs (exit $status)."
        echo "Logs: $work/kms.log $work/proxy.log"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok() { printf '   \033[32mOK\033[0m %s\n' "$*"; }
die() { printf '   \033[31mUNEXPECTED\033[0m %s\n' "$*"; exit 1; }


# -- set-up: the parent instance, its key service and its proxy --------------
step "Set-up: attestation CA, key service, parent role, vsock proxy"
mkdir -p "$CLOISTER_RUN_DIR"
cat >"$CLOISTER_HOST_CONFIG" <<CONF
instance_id = i-0123456789abcdef0
parent_role_arn = arn:aws:iam::111122223333:role/ParentInstanceRole
CONF
# The first run-enclave would create the CA by itself; it is made first
# here because the key service is told to trust its root.pem before any
# enclave runs.
"$bin/cloister" attestation-ca init --ca-dir "$ca_dir" >/dev/null
# The key service, and beside it the instance metadata service, which gives
# the parent the host configuration's role (created in the service's
# account, 111122223333, as the host configuration names it).
export CLOISTER_ENDPOINTS="$work/endpoints.json"
"$bin/cloister-kms" serve --data-dir "$data" --listen 127.0.0.1:0 --account-id 111122223333 \
    --region "$region" --trust-root "$ca_dir/root.pem" --imds 127.0.0.1:0 \
    --endpoints-file "$CLOISTER_ENDPOINTS" >"$work/kms.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do [ -f "$CLOISTER_ENDPOINTS" ] && break; sleep 0.1; done
[ -f "$CLOISTER_ENDPOINTS" ] || die "cloister-kms did not start (see $work/kms.log)"
endpoint=$(jq -r .KmsEndpoint "$CLOISTER_ENDPOINTS")
kms_port=${endpoint##*:}
admin() { AWS_SHARED_CREDENTIALS_FILE="$data/credentials" AWS_CONFIG_FILE="$data/config" \
    "$bin/cloister" exec -- "$aws" "$@"; }
for _ in $(seq 100); do admin kms list-keys >/dev/null 2>&1 && break; sleep 0.2; done
ok "cloister-kms on $endpoint, administrator credentials in $data/credentials"
ok "instance metadata on $(jq -r .ImdsEndpoint "$CLOISTER_ENDPOINTS") for $(jq -r .InstanceId "$CLOISTER_ENDPOINTS")"

# The parent instance: no credentials of its own (not even a ~/.aws), only
# its instance profile; its commands are the workshop's, under cloister exec.
mkdir -p "$work/parent"
parent_env="HOME=$work/parent AWS_SHARED_CREDENTIALS_FILE=$work/parent/none AWS_CONFIG_FILE=$work/parent/none"
parent() { env $parent_env "$bin/cloister" exec -- "$aws" "$@"; }
client() { (cd "$work" && env $parent_env "$bin/cloister" exec -- "$ex/data-processing-client" "$@"); }
ok "parent role: $(parent sts get-caller-identity --query Arn --output text)"

cat >"$work/vsock-proxy.yaml" <<YAML
allowlist:
- {address: 127.0.0.1, port: $kms_port}
YAML
"$bin/cloister-vsock-proxy" 8000 127.0.0.1 "$kms_port" --config "$work/vsock-proxy.yaml" \
    >"$work/proxy.log" 2>&1 &
pids="$pids $!"
ok "cloister-vsock-proxy: vsock port 8000 -> 127.0.0.1:$kms_port"

# -- 1. build the image --------------------------------------------------------
step "1. Build the enclave image and read its measurements"
"$here/build-image.sh" "$build" "$ex/data-processing-server" "$data/tls/ca.pem" \
    "$work/data-processing.eif" >"$work/build.json"
cat "$work/build.json"
pcr0=$(jq -r .Measurements.PCR0 "$work/build.json")
pcr1=$(jq -r .Measurements.PCR1 "$work/build.json")
pcr2=$(jq -r .Measurements.PCR2 "$work/build.json")
[ ${#pcr0} -eq 96 ] || die "no PCR0"
ok "PCR0 $pcr0"

# -- 2. run it in debug mode ------------------------------------------------------
step "2. Run the enclave in debug mode and read its console"
nitro-cli run-enclave --debug-mode --cpu-count 2 --memory 2500 \
    --eif-path "$work/data-processing.eif" | tee "$work/run.json"
nitro-cli console --enclave-name data-processing --disconnect-timeout 2 >"$work/console1.txt" 2>&1 || true
sed 's/^/   console| /' "$work/console1.txt"
grep -q "listening on vsock port 5000" "$work/console1.txt" || die "console shows no server"
ok "the debug console is readable"

# -- 3. key and policy ------------------------------------------------------------
step "3. Administrator creates the key, alias and policy; the parent cannot describe it"
key_id=$(admin kms create-key --description "workshop key" --query KeyMetadata.KeyId --output text)
admin kms create-alias --alias-name "alias/$alias" --target-key-id "$key_id"
identity=$(parent sts get-caller-identity)
account=$(echo "$identity" | jq -r .Account)
principal=$(echo "$identity" | jq -r .Arn)
echo "   parent identity: $principal"
# The workshop's template names the role of the instance; a session's role is
# its role ARN (arn:aws:iam::ACCOUNT:role/NAME).
role_arn=$(echo "$principal" | sed -E 's#^arn:aws:sts::([0-9]+):assumed-role/([^/]+)/.*#arn:aws:iam::\1:role/\2#')
sed -e "s#ACCOUNT_ID#$account#g" -e "s#AWS_PRINCIPAL#$role_arn#g" \
    "$here/key_policy_template.json" >"$work/policy.json"
admin kms put-key-policy --key-id "$key_id" --policy-name default --policy "file://$work/policy.json"
if parent kms describe-key --key-id "alias/$alias" >"$work/out" 2>&1; then die "describe-key allowed"; fi
grep -q AccessDeniedException "$work/out" || die "describe-key: $(cat "$work/out")"
ok "parent's describe-key: AccessDeniedException"

# -- 4. prepare --------------------------------------------------------------------
step "4. Prepare: encrypt one value with the key"
client --prepare --values "$here/values.txt" --alias "$alias" | tee "$work/prepare.txt"
last4=$(sed -n 's/^Selected value ends in: //p' "$work/prepare.txt")
[ -s "$work/string.encrypted" ] || die "no string.encrypted"
ok "last four digits $last4"

# -- 5. submit -----------------------------------------------------------------------
step "5. Submit: the enclave decrypts through KMS and returns the last four digits"
client --submit --ciphertext "$work/string.encrypted" --alias "$alias" | tee "$work/submit.json"
[ "$(jq -r .last_four "$work/submit.json")" = "$last4" ] || die "enclave answered $(cat "$work/submit.json")"
nitro-cli console --enclave-name data-processing --disconnect-timeout 2 >"$work/console2.txt" 2>&1 || true
grep "Decrypted plaintext" "$work/console2.txt" | sed 's/^/   console| /'
grep -q "Decrypted plaintext: .*$last4" "$work/console2.txt" || die "the debug console does not show the plaintext"
ok "enclave returned $last4; the debug console shows the whole plaintext (the intentional leak)"

# -- 6. the parent decrypts -----------------------------------------------------------
step "6. The parent decrypts the ciphertext itself (no condition yet)"
base64 -d "$work/string.encrypted" >"$work/ct.bin"
parent kms decrypt --ciphertext-blob "fileb://$work/ct.bin" --query Plaintext --output text | base64 -d >"$work/plain.txt"
[ "$(tail -c 4 "$work/plain.txt")" = "$last4" ] || die "parent decrypt returned something else"
ok "allowed: the parent sees the plaintext"

# -- 7. attestation condition ---------------------------------------------------------
step "7. Add kms:RecipientAttestation:PCR0 to the decrypt statement"
jq --arg pcr0 "$pcr0" '(.Statement[] | select(.Sid == "Enable Cloud9 Environment to Decrypt")).Condition =
    {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR0": $pcr0}}' \
    "$work/policy.json" >"$work/policy-attested.json"
admin kms put-key-policy --key-id "$key_id" --policy-name default --policy "file://$work/policy-attested.json"
ok "decrypt now requires PCR0 = $pcr0"

# -- 8. parent denied -------------------------------------------------------------------
step "8. The parent's own decrypt is denied"
if parent kms decrypt --ciphertext-blob "fileb://$work/ct.bin" >"$work/out" 2>&1; then die "parent decrypt allowed"; fi
grep -q AccessDeniedException "$work/out" || die "parent decrypt: $(cat "$work/out")"
ok "AccessDeniedException"

# -- 9. debug enclave denied ------------------------------------------------------------
step "9. The debug-mode enclave is denied (its PCR0 is zero)"
client --submit --ciphertext "$work/string.encrypted" --alias "$alias" >"$work/submit2.json" || true
cat "$work/submit2.json"
jq -e '.error | test("AccessDenied")' "$work/submit2.json" >/dev/null || die "debug enclave was not denied"
ok "denied"

# -- 10. production mode ------------------------------------------------------------------
step "10. Terminate; run in production mode: allowed, console refused"
nitro-cli terminate-enclave --enclave-name data-processing
nitro-cli run-enclave --cpu-count 2 --memory 2500 --eif-path "$work/data-processing.eif" >"$work/run2.json"
client --submit --ciphertext "$work/string.encrypted" --alias "$alias" | tee "$work/submit3.json"
[ "$(jq -r .last_four "$work/submit3.json")" = "$last4" ] || die "production enclave answered $(cat "$work/submit3.json")"
if nitro-cli console --enclave-name data-processing --disconnect-timeout 1 >"$work/out" 2>&1; then die "console allowed"; fi
grep -q "E44" "$work/out" || die "console: $(cat "$work/out")"
ok "enclave returned $last4; console refused: $(head -1 "$work/out")"

# -- 11. modified enclave ---------------------------------------------------------------
step "11. A modified server (returns the whole plaintext): new PCR0 and PCR2, same PCR1"
"$here/build-image.sh" "$build" "$ex/data-processing-server-modified" "$data/tls/ca.pem" \
    "$work/data-processing-modified.eif" data-processing >"$work/build2.json"
cat "$work/build2.json"
[ "$(jq -r .Measurements.PCR0 "$work/build2.json")" != "$pcr0" ] || die "PCR0 did not change"
[ "$(jq -r .Measurements.PCR2 "$work/build2.json")" != "$pcr2" ] || die "PCR2 did not change"
[ "$(jq -r .Measurements.PCR1 "$work/build2.json")" = "$pcr1" ] || die "PCR1 changed"
ok "PCR0 and PCR2 changed, PCR1 did not"
nitro-cli terminate-enclave --enclave-id "$(nitro-cli describe-enclaves | jq -r '.[0].EnclaveID')"
nitro-cli run-enclave --cpu-count 2 --memory 2500 --eif-path "$work/data-processing-modified.eif" >"$work/run3.json"
client --submit --ciphertext "$work/string.encrypted" --alias "$alias" >"$work/submit4.json" || true
cat "$work/submit4.json"
jq -e '.error | test("AccessDenied")' "$work/submit4.json" >/dev/null || die "modified enclave was not denied"
if grep -q "$(cat "$work/plain.txt")" "$work/submit4.json"; then die "plaintext left the enclave"; fi
ok "denied; no plaintext left the enclave"

# -- 12. audit --------------------------------------------------------------------------
step "12. The audit log: each attested request with its PCR0 and the decision"
jq -c 'select(.recipient != null) | {time, operation, result, debug: .recipient.debug,
        pcr0: .recipient.pcrs."0", decision: .authorization[-1].decision}' \
    "$data/audit.log" | tee "$work/audit.txt"
[ "$(wc -l <"$work/audit.txt")" -ge 3 ] || die "fewer attested requests than expected in the audit log"
"$bin/cloister-kms" audit verify --data-dir "$data"
ok "audit chain intact"

"$bin/cloister" terminate-enclave --all >/dev/null
echo
echo "The workshop ran end to end: every step's outcome was as expected."
