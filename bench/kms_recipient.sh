#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Decrypt with Recipient per second (issue 5): cloister-kms answering an
# attested Decrypt - SigV4, the attestation document verified each time
# (COSE ES384 signature, certificate chain, freshness), the key policy with
# the document's PCRs, the audit line, and the CMS CiphertextForRecipient
# (RSA-OAEP + AES-256-CBC) - against `openssl speed ecdsap384` verifies per
# second (the ECDSA P-384 verify is the floor of the request's cost).
# Target ratio >= 0.6.
#
# The ratio is per CPU-second: openssl speed divides by the CPU time it used,
# and the server's requests are divided by the server's CPU time (user +
# system, /proc/PID/stat) during the run, so a shared, loaded machine does
# not skew it. The wall-clock figures (wrk's requests/s against
# `openssl speed -elapsed`) are printed too.
#
# One attestation document is issued up front (`cloister attest` over a tiny
# EIF, signed by a throwaway attestation CA that the server trusts) and
# reused inside its maximum age; wrk replays one pre-signed Decrypt request
# carrying it over 16 keep-alive TLS connections.
#
# Usage: bench/kms_recipient.sh BUILD_DIR [SECONDS]
set -eu
build=$(cd "${1:-build}" && pwd)
secs=${2:-5}
conns=16
cores=$(nproc 2>/dev/null || echo 2)
threads=$cores
[ "$threads" -gt 4 ] && threads=4
py=/usr/bin/python3
for tool in wrk openssl "$py"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "kms_recipient bench: $tool is not installed" >&2; exit 1; }
done
work=$(mktemp -d /tmp/cloister-kms-recipient-bench.XXXXXX)
kms_pid=
cleanup() {
    [ -n "$kms_pid" ] && kill "$kms_pid" 2>/dev/null && wait "$kms_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# --- one attestation document with the enclave's RSA-2048 key in it
"$build/bin/cloister" attestation-ca init --ca-dir "$work/ca" >/dev/null
mkdir -p "$work/rootfs/app"
printf '#!/bin/sh\necho bench\n' >"$work/rootfs/app/server"
chmod +x "$work/rootfs/app/server"
"$build/bin/cloister" build-enclave --rootfs "$work/rootfs" --cmd /app/server \
    --output-file "$work/bench.eif" >/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/enclave.pem" 2>/dev/null
openssl pkey -in "$work/enclave.pem" -pubout -outform DER -out "$work/enclave.der"
"$build/bin/cloister" attest --eif-path "$work/bench.eif" --ca-dir "$work/ca" \
    --public-key "$work/enclave.der" --output "$work/doc.bin"

# --- cloister-kms trusting that CA; documents accepted for 10 minutes so the
# one document lasts the whole run (the request's signature lasts 5)
"$build/bin/cloister-kms" serve --data-dir "$work/kms" --listen 127.0.0.1:0 \
    --trust-root "$work/ca/root.pem" --attestation-max-age 600 \
    >"$work/kms.out" 2>"$work/kms.err" &
kms_pid=$!
i=0
until grep -q listening "$work/kms.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$work/kms.err" >&2; exit 1; }
    sleep 0.1
done
kms_port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/kms.out")

# --- a key, a ciphertext, the pre-signed Decrypt with Recipient as a wrk script;
# the answer is checked once (CiphertextForRecipient opened with the
# enclave key by `openssl cms`) so the benchmark measures a working request.
"$py" - "$work" "$kms_port" <<'PYEOF'
import base64, configparser, json, subprocess, sys, urllib.request, ssl
import boto3, botocore.auth, botocore.awsrequest, botocore.credentials
work, port = sys.argv[1], sys.argv[2]
cp = configparser.ConfigParser(); cp.read(f"{work}/kms/credentials")
ak, sk = cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"]
region = open(f"{work}/kms/config").read().split("=")[1].strip()
url = f"https://127.0.0.1:{port}/"
kms = boto3.client("kms", endpoint_url=url, region_name=region, aws_access_key_id=ak,
                   aws_secret_access_key=sk, verify=f"{work}/kms/tls/ca.pem")
kid = kms.create_key()["KeyMetadata"]["KeyId"]
secret = b"k" * 32
blob = base64.b64encode(kms.encrypt(KeyId=kid, Plaintext=secret)["CiphertextBlob"]).decode()
doc = base64.b64encode(open(f"{work}/doc.bin", "rb").read()).decode()
body = json.dumps({"CiphertextBlob": blob, "Recipient": {
    "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": doc}})
req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body, headers={
    "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Decrypt"})
botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk), "kms", region).add_auth(req)
p = req.prepare()
headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in p.headers.items()}
ctx = ssl.create_default_context(cafile=f"{work}/kms/tls/ca.pem")
r = urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), headers=headers), context=ctx)
ans = json.loads(r.read())
assert "Plaintext" not in ans, ans
cms = base64.b64decode(ans["CiphertextForRecipient"])
out = subprocess.run(["openssl", "cms", "-decrypt", "-inform", "DER", "-binary", "-inkey",
                      f"{work}/enclave.pem"], input=cms, capture_output=True, check=True).stdout
assert out == secret, "CiphertextForRecipient does not open to the plaintext"
lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
for k, v in headers.items():
    lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
lines.append('response = function(status, headers, body) if status ~= 200 then print("HTTP " .. status .. " " .. body); os.exit(1) end end')
open(f"{work}/decrypt_recipient.lua", "w").write("\n".join(lines) + "\n")
PYEOF

# `openssl speed ecdsap384` verifies per second on one core. By default
# openssl speed divides by the USER CPU TIME it used, so its figure does not
# depend on what else runs on the machine; with -elapsed it divides by wall
# time, like wrk.
ecdsa_verifies() {
    out=$(openssl speed -seconds "$secs" "$@" ecdsap384 2>/dev/null)
    echo "$out" >>"$work/openssl-speed.log"
    echo "$out" | awk '/384 bits ecdsa \(nistp384\)/ {v = $NF} END {print v}'
}
# Server CPU time (user + system, seconds) so far.
tck=$(getconf CLK_TCK)
server_cpu() { awk -v t="$tck" '{printf "%.2f", ($14 + $15) / t}' "/proc/$kms_pid/stat"; }
# wrk's output -> "requests rps p50 p99 cpu_seconds_of_the_server"
measure() {
    c0=$(server_cpu)
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$work/decrypt_recipient.lua" \
        "https://127.0.0.1:$kms_port/")
    c1=$(server_cpu)
    echo "$out" >>"$work/wrk.log"
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "$n $rps $p50 $p99 $(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}')"
}
gt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a > b)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# Alternating rounds, the better of each kept (the machine may be shared).
sp_cpu=0 sp_wall=0 kr_cpu=0 kr=0
for round in 1 2; do
    v=$(ecdsa_verifies)
    gt "$v" "$sp_cpu" && sp_cpu=$v
    set -- $(measure)
    [ -n "${DEBUG:-}" ] && echo "measure: $*" >&2
    per_cpu=$(awk -v n="$1" -v c="$5" 'BEGIN {printf "%.1f", (c > 0) ? n / c : 0}')
    gt "$per_cpu" "$kr_cpu" && kr_cpu=$per_cpu cpu_used=$5 wall_rps=$2
    gt "$2" "$kr" && kr=$2 p50=$3 p99=$4
    v=$(ecdsa_verifies -elapsed)
    gt "$v" "$sp_wall" && sp_wall=$v
done
lines=$(wc -l <"$work/kms/audit.log")

printf '%-52s %12s\n' "openssl speed ecdsap384: verifies per CPU-second" "$sp_cpu"
printf '%-52s %12s\n' "cloister-kms: Decrypt with Recipient per CPU-second" "$kr_cpu"
printf '  (%s requests/s over %ss using %s s of server CPU)\n' "$wall_rps" "$secs" "$cpu_used"
echo "ratio (per CPU-second): $(ratio "$kr_cpu" "$sp_cpu")   (target >= 0.6)"
echo
printf '%-52s %12s\n' "openssl speed -elapsed ecdsap384: verifies/s (wall)" "$sp_wall"
printf '%-52s %12s  p50 %s  p99 %s\n' "cloister-kms: Decrypt with Recipient/s (wall)" "$kr" "$p50" "$p99"
echo "ratio (wall clock, $cores cores for the server and wrk, 1 for openssl): $(ratio "$kr" "$sp_wall")"
echo "($conns TLS keep-alive connections, $threads wrk threads, $cores cores; best of 2 alternating ${secs}s runs;"
echo " $lines audit lines written)"
"$build/bin/cloister-kms" audit verify --data-dir "$work/kms" >/dev/null
