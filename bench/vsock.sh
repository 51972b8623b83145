#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Cloister's emulated vsock against plain Unix sockets on this machine:
# connections per second (connect, accept, one-byte echo, close) from the
# parent and from an enclave through its monitor's broker, and stream
# throughput. The data path is a Unix socket pair, so streams should be at
# parity; connections cost a few more system calls (and, from an enclave, a
# round trip to the broker). Then the same parent program written against
# the kernel's interface (socket(AF_VSOCK), connect, accept) under
# `cloister exec`, whose seccomp supervisor serves those calls (docs/vsock.md
# §6): its connections against the library's (goal: within 2x) and its
# stream against the library's (goal: unchanged, no data passes through the
# supervisor). Usage: bench/vsock.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
n=${BENCH_CONNECTIONS:-5000}
mib=${BENCH_MIB:-2048}
mkdir -p "$build/bench"
bin="$build/bench/vsock_bench"
# Built on demand (bench/CMakeLists.txt), so that neither make nor ctest runs it.
cmake --build "$build" --target vsock_bench >/dev/null

best() { # best of 3; $3: a command prefix
    b=0
    for _ in 1 2 3; do
        v=$(${3:-} "$bin" "$1" "$2")
        b=$(awk -v a="$b" -v v="$v" 'BEGIN { print (v > a) ? v : a }')
    done
    echo "$b"
}
unix_c=$(best unix-connect "$n")
host_c=$(best host-connect "$n")
encl_c=$(best enclave-connect "$n")
unix_s=$(best unix-stream "$mib")
host_s=$(best host-stream "$mib")
run_dir=$(mktemp -d /tmp/clv-bench-XXXXXX)
trap 'rm -rf "$run_dir"' EXIT
export CLOISTER_RUN_DIR="$run_dir"
notify_c=$(best syscall-connect "$n" "$build/bin/cloister exec --")
notify_s=$(best syscall-stream "$mib" "$build/bin/cloister exec --")
awk -v u="$unix_c" -v h="$host_c" -v e="$encl_c" -v us="$unix_s" -v hs="$host_s" \
    -v nc="$notify_c" -v ns="$notify_s" 'BEGIN {
    printf "connections/s parent->parent   %9.1f   unix %9.1f   ratio %.2f\n", h, u, h / u
    printf "connections/s enclave->parent  %9.1f   unix %9.1f   ratio %.2f\n", e, u, e / u
    printf "stream MiB/s  parent->parent   %9.1f   unix %9.1f   ratio %.2f\n", hs, us, hs / us
    printf "connections/s AF_VSOCK, seccomp supervisor %9.1f   library %9.1f   ratio %.2f   unix ratio %.2f\n", nc, h, nc / h, nc / u
    printf "stream MiB/s  AF_VSOCK, seccomp supervisor %9.1f   library %9.1f   ratio %.2f   unix ratio %.2f\n", ns, hs, ns / hs, ns / us
}'
