#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Key service throughput: Encrypt and Decrypt requests per second over TLS
# (wrk, 64 keep-alive connections, the same pre-signed SigV4 request sent
# again and again inside its 5-minute window, the audit line included)
# against nginx serving a 200-byte static response over TLS with the same
# connections, certificate and machine. Prints requests/s, p50/p99 latency
# and the ratio (target >= 0.3).
#
# Usage: bench/kms.sh BUILD_DIR [SECONDS]
set -eu
build=$(cd "${1:-build}" && pwd)
secs=${2:-5}
conns=64
threads=$(nproc 2>/dev/null || echo 2)
[ "$threads" -gt 4 ] && threads=4
py=/usr/bin/python3
for tool in wrk nginx "$py"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "kms bench: $tool is not installed" >&2; exit 1; }
done
work=$(mktemp -d /tmp/cloister-kms-bench.XXXXXX)
kms_pid=
nginx_pid=
cleanup() {
    [ -n "$kms_pid" ] && kill "$kms_pid" 2>/dev/null && wait "$kms_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- cloister-kms
"$build/bin/cloister-kms" serve --data-dir "$work/kms" --listen 127.0.0.1:0 \
    >"$work/kms.out" 2>"$work/kms.err" &
kms_pid=$!
i=0
until grep -q listening "$work/kms.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$work/kms.err" >&2; exit 1; }
    sleep 0.1
done
kms_port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/kms.out")

# Pre-signed requests, written as wrk Lua scripts.
"$py" - "$work" "$kms_port" <<'PYEOF'
import configparser, json, sys
import boto3, botocore.auth, botocore.awsrequest, botocore.credentials
work, port = sys.argv[1], sys.argv[2]
cp = configparser.ConfigParser(); cp.read(f"{work}/kms/credentials")
ak, sk = cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"]
region = open(f"{work}/kms/config").read().split("=")[1].strip()
url = f"https://127.0.0.1:{port}/"
kms = boto3.client("kms", endpoint_url=url, region_name=region, aws_access_key_id=ak,
                   aws_secret_access_key=sk, verify=f"{work}/kms/tls/ca.pem")
kid = kms.create_key()["KeyMetadata"]["KeyId"]
import base64
pt = base64.b64encode(b"x" * 32).decode()
blob = base64.b64encode(kms.encrypt(KeyId=kid, Plaintext=b"x" * 32)["CiphertextBlob"]).decode()
for op, body in [("Encrypt", {"KeyId": kid, "Plaintext": pt}), ("Decrypt", {"CiphertextBlob": blob})]:
    req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=json.dumps(body), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{op}"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk), "kms", region).add_auth(req)
    p = req.prepare()
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(p.body.decode() if isinstance(p.body, bytes) else p.body)}"]
    for k, v in p.headers.items():
        v = v.decode() if isinstance(v, bytes) else v
        lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
    # fail loudly if the server refuses the pre-signed request
    lines.append('response = function(status, headers, body) if status ~= 200 then print("HTTP " .. status .. " " .. body); os.exit(1) end end')
    open(f"{work}/{op}.lua", "w").write("\n".join(lines) + "\n")
PYEOF

# --- nginx: a 200-byte static body over TLS, same certificate, same core count
nginx_port=$(free_port)
mkdir -p "$work/nginx/logs"
body=$(head -c 200 /dev/zero | tr '\0' 'a')
cat > "$work/nginx/nginx.conf" <<NGX
worker_processes $threads;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $work/kms/tls/server.pem;
        ssl_certificate_key $work/kms/tls/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { default_type text/plain; return 200 "$body"; }
    }
}
NGX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx/stderr" &
nginx_pid=$!
i=0
until "$py" -c "import socket,sys; socket.create_connection(('127.0.0.1', $nginx_port), 0.2)" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$work/nginx/stderr" >&2; exit 1; }
    sleep 0.1
done

# wrk's output -> "rps p50_ms p99_ms"
measure() {
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@")
    echo "$out" >>"$work/wrk.log"
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "$rps $p50 $p99"
}

# Two alternating rounds, the better of each kept: the machine may be shared,
# and alternating keeps a load change from favouring one side.
ng_rps=0 en_rps=0 de_rps=0
for round in 1 2; do
    set -- $(measure https://127.0.0.1:$nginx_port/)
    if awk -v a="$1" -v b="$ng_rps" 'BEGIN {exit !(a > b)}'; then ng_rps=$1 ng_p50=$2 ng_p99=$3; fi
    set -- $(measure -s "$work/Encrypt.lua" https://127.0.0.1:$kms_port/)
    if awk -v a="$1" -v b="$en_rps" 'BEGIN {exit !(a > b)}'; then en_rps=$1 en_p50=$2 en_p99=$3; fi
    set -- $(measure -s "$work/Decrypt.lua" https://127.0.0.1:$kms_port/)
    if awk -v a="$1" -v b="$de_rps" 'BEGIN {exit !(a > b)}'; then de_rps=$1 de_p50=$2 de_p99=$3; fi
done
lines=$(wc -l <"$work/kms/audit.log")

printf '%-28s %12s %10s %10s %8s\n' "" "requests/s" "p50" "p99" "ratio"
printf '%-28s %12s %10s %10s %8s\n' "nginx 200-byte static (TLS)" "$ng_rps" "$ng_p50" "$ng_p99" "1.00"
printf '%-28s %12s %10s %10s %8s\n' "cloister-kms Encrypt" "$en_rps" "$en_p50" "$en_p99" \
    "$(awk -v a="$en_rps" -v b="$ng_rps" 'BEGIN {printf "%.2f", a / b}')"
printf '%-28s %12s %10s %10s %8s\n' "cloister-kms Decrypt" "$de_rps" "$de_p50" "$de_p99" \
    "$(awk -v a="$de_rps" -v b="$ng_rps" 'BEGIN {printf "%.2f", a / b}')"
echo "($conns connections, $threads wrk threads, best of 2 alternating ${secs}s runs; $lines audit lines written; target ratio >= 0.3)"
"$build/bin/cloister-kms" audit verify --data-dir "$work/kms" >/dev/null
