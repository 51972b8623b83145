#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Cloister's emulated vsock against plain Unix sockets on this machine:
# connections per second (connect, accept, one-byte echo, close) from the
# parent and from an enclave through its monitor's broker, and stream
# throughput. The data path is a Unix socket pair, so streams should be at
# parity; connections cost a few more system calls (and, from an enclave, a
# round trip to the broker). Usage: bench/vsock.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
n=${BENCH_CONNECTIONS:-5000}
mib=${BENCH_MIB:-2048}
mkdir -p "$build/bench"
bin="$build/bench/vsock_bench"
# Built on demand (bench/CMakeLists.txt), so that neither make nor ctest runs it.
cmake --build "$build" --target vsock_bench >/dev/null

best() { # best of 3
    b=0
    for _ in 1 2 3; do
        v=$("$bin" "$1" "$2")
        b=$(awk -v a="$b" -v v="$v" 'BEGIN { print (v > a) ? v : a }')
    done
    echo "$b"
}
unix_c=$(best unix-connect "$n")
host_c=$(best host-connect "$n")
encl_c=$(best enclave-connect "$n")
unix_s=$(best unix-stream "$mib")
host_s=$(best host-stream "$mib")
awk -v u="$unix_c" -v h="$host_c" -v e="$encl_c" -v us="$unix_s" -v hs="$host_s" 'BEGIN {
    printf "connections/s parent->parent   %9.1f   unix %9.1f   ratio %.2f\n", h, u, h / u
    printf "connections/s enclave->parent  %9.1f   unix %9.1f   ratio %.2f\n", e, u, e / u
    printf "stream MiB/s  parent->parent   %9.1f   unix %9.1f   ratio %.2f\n", hs, us, hs / us
}'
