#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# cloister-vsock-proxy against socat doing the same forwarding on the same
# path. Under Cloister the vsock side of the parent is a Unix stream socket,
# so the baseline is `socat UNIX-LISTEN:... TCP:...`. Both runs use the same
# client (socat; for the proxy under `cloister exec`, so that socat's own
# VSOCK-CONNECT works unchanged on the emulated vsock) and the same sink (socat to
# /dev/null), with 256 KiB buffers, and are timed from the client's start to
# the sink's end: a 1 GiB stream, best of 3; then connections per second
# (sequential one-byte echoes).
#
# Usage: bench/proxy.sh BUILD_DIR [BYTES]
set -eu
build=$(cd "${1:-build}" && pwd)
bytes=${2:-1073741824}
work=$(mktemp -d)
export CLOISTER_RUN_DIR="$work/run"
mkdir -p "$CLOISTER_RUN_DIR"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

sink_port=$(port)
printf 'allowlist:\n- {address: 127.0.0.1, port: %s}\n' "$sink_port" >"$work/allow.yaml"
"$build/bin/cloister-vsock-proxy" 8000 127.0.0.1 "$sink_port" --config "$work/allow.yaml" -w 2 &
pids="$pids $!"
socat UNIX-LISTEN:"$work/socat.sock",fork,backlog=128 TCP:127.0.0.1:"$sink_port" &
pids="$pids $!"
sleep 0.5

# One timed transfer: $1 = client address for socat, $2 = a command prefix
# (`cloister exec --` for the emulated vsock; never the host's AF_VSOCK).
transfer() {
    socat -u -b 262144 TCP-LISTEN:"$sink_port",reuseaddr OPEN:/dev/null &
    sink=$!
    sleep 0.2
    t0=$(now)
    $2 socat -u -b 262144 OPEN:/dev/zero,readbytes="$bytes" "$1"
    wait "$sink"
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
best() { sort -g | head -1; }

proxy_s=$(for _ in 1 2 3; do transfer VSOCK-CONNECT:3:8000 "$build/bin/cloister exec --"; done | best)
socat_s=$(for _ in 1 2 3; do transfer UNIX-CONNECT:"$work/socat.sock" ""; done | best)
mib=$((bytes / 1048576))
printf 'proxy throughput: %d MiB in %.3f s = %.0f MiB/s\n' "$mib" "$proxy_s" "$(echo "$mib / $proxy_s" | bc -l)"
printf 'socat throughput: %d MiB in %.3f s = %.0f MiB/s\n' "$mib" "$socat_s" "$(echo "$mib / $socat_s" | bc -l)"
printf 'throughput ratio (proxy / socat, higher is better; target >= 1.0, >= 1.5 with splice): %.2f\n' \
    "$(echo "$socat_s / $proxy_s" | bc -l)"

# Connections per second: the same C client (vsock_stream) through each
# forwarder, to one threaded echo server; sequential one-byte echoes.
/usr/bin/python3 -c '
import socketserver, sys
class H(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            d = self.request.recv(65536)
            if not d:
                break
            self.request.sendall(d)
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$sink_port" &
pids="$pids $!"
sleep 0.5
n=1000
p=$("$build/tests/programs/vsock_stream" connect-rate 3 8000 $n | sed 's/.*seconds=//')
s=$("$build/tests/programs/vsock_stream" unix-connect-rate "$work/socat.sock" $n | sed 's/.*seconds=//')
printf 'proxy: %d connections in %.3f s = %.0f/s\n' "$n" "$p" "$(echo "$n / $p" | bc -l)"
printf 'socat: %d connections in %.3f s = %.0f/s\n' "$n" "$s" "$(echo "$n / $s" | bc -l)"
printf 'connections ratio (proxy / socat, higher is better; target >= 1.0): %.2f\n' \
    "$(echo "$s / $p" | bc -l)"
