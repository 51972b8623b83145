#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Attestation documents issued and verified per second on one core, against
# `openssl speed ecdsap384` signs and verifies per second run beside them on
# this machine (targets: ratio >= 0.8 for both). Usage: bench/attestation.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-3}
mkdir -p "$build/bench"
bin="$build/bench/attest_bench"
# Built on demand (bench/CMakeLists.txt), so that neither make nor ctest runs it.
cmake --build "$build" --target attest_bench >/dev/null

# "384 bits ecdsa (nistp384)   0.0008s   0.0010s   1250.0   1000.0": signs/s, verifies/s
line=$(openssl speed -seconds "$secs" ecdsap384 2>/dev/null | grep 'ecdsa (nistp384)' | tail -1)
ossl_sign=$(echo "$line" | awk '{print $(NF-1)}')
ossl_verify=$(echo "$line" | awk '{print $NF}')
issue=$("$bin" issue "$secs")
verify=$("$bin" verify "$secs")

awk -v i="$issue" -v v="$verify" -v s="$ossl_sign" -v w="$ossl_verify" 'BEGIN {
    printf "documents issued/s    %10.1f   openssl ecdsap384 sign/s   %10.1f   ratio %.2f (target >= 0.8)\n", i, s, i / s
    printf "documents verified/s  %10.1f   openssl ecdsap384 verify/s %10.1f   ratio %.2f (target >= 0.8)\n", v, w, v / w
}'
