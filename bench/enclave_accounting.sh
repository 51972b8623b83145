#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What one enclave costs the host: a 1-CPU production enclave runs four
# processes asking its NSM for attestation documents in a loop and floods
# its console, all at once, for S seconds. The monitor signs the documents
# and drains the console on the enclave's behalf; both are charged to the
# enclave (docs/runtime.md, "What an enclave is charged for"). Printed,
# as a ratio to the enclave's limit (1 CPU):
#   - the enclave's cgroup (monitor + enclave), from cpuacct where the host has it;
#   - the whole host's busy CPU time over the same window (/proc/stat),
#     which holds what no cgroup sees (the kernel's softirq work) and
#     everything else the host runs: run it on an idle machine;
#   - the monitor alone (its /proc/PID/stat, all threads).
# Before the monitor was charged to its enclave the same load drove ~1.9
# CPUs of a 2-CPU host.
# Usage: bench/enclave_accounting.sh BUILD_DIR [SECONDS]   (needs root)
#   LOAD='"nsmloop=4:10", "sleep=10000"' replaces the load (probe checks, JSON
#   strings), e.g. to measure the attestation loops or the flood alone.
set -eu
build=$(cd "${1:-build}" && pwd)
secs=${2:-10}
bin="$build/bin"
probe="$build/tests/programs/cloister-enclave-probe"
if [ ! -x "$probe" ]; then
    echo "enclave_accounting: $probe is not built (CLOISTER_TESTS=ON); skipped"
    exit 0
fi
. "$(dirname "$0")/lib/enclaves.sh"
enclave_bench_setup enclave_accounting

# The probe with its libraries, as the integration tests put it in images.
mkdir -p "$tmp/root/bin"
cp "$probe" "$tmp/root/bin/probe"
for lib in $(ldd "$probe" | grep -o '/[^ ]*'); do
    mkdir -p "$tmp/root$(dirname "$lib")"
    cp -L "$lib" "$tmp/root$lib"
done
# it starts the load after a second, so that run-enclave returns first
"$bin/cloister" build-enclave --rootfs "$tmp/root" \
    --cmd "[\"/bin/probe\", \"sleep=1000\", ${LOAD:-\"nsmloop=4:$secs\", \"flood=$secs\"}, \"wait\"]" \
    --output-file "$tmp/load.eif" >/dev/null 2>&1
"$bin/cloister" run-enclave --eif-path "$tmp/load.eif" --cpu-count 1 --memory 128 > "$tmp/info.json"
id=$(sed -n 's/.*"EnclaveID": "\([^"]*\)".*/\1/p' "$tmp/info.json")
mon=$(sed -n 's/.*"ProcessID": \([0-9]*\).*/\1/p' "$tmp/info.json")
acct=/sys/fs/cgroup/cpuacct/cloister/$id/cpuacct.usage

host_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }   # ticks
mon_ticks() { awk '{ print $14 + $15 }' "/proc/$mon/stat"; }
acct_ns() { if [ -r "$acct" ]; then cat "$acct"; else echo 0; fi; }
tick=$(getconf CLK_TCK)

sleep 1
t0=$(date +%s%N); h0=$(host_busy); m0=$(mon_ticks); a0=$(acct_ns)
sleep $((secs - 2))
t1=$(date +%s%N); h1=$(host_busy); m1=$(mon_ticks); a1=$(acct_ns)
"$bin/cloister" terminate-enclave --all >/dev/null 2>&1

awk -v t="$((t1 - t0))" -v h="$((h1 - h0))" -v m="$((m1 - m0))" -v a="$((a1 - a0))" -v hz="$tick" \
    -v n="$(nproc)" -v s="$secs" -v what="${LOAD:-4 NSM attestation loops + console flood}" 'BEGIN {
    wall = t / 1e9
    printf "1-CPU enclave, %s, %.1f s measured of %d s\n", what, wall, s
    if (a > 0)
        printf "enclave cgroup (monitor + enclave): %.2f CPUs = %.2fx its limit\n", a / 1e9 / wall, a / 1e9 / wall
    printf "whole host (%d CPUs, everything it runs): %.2f CPUs = %.2fx the enclave'"'"'s limit\n",
           n, h / hz / wall, h / hz / wall
    printf "the monitor alone: %.2f CPUs\n", m / hz / wall }'
