#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The enclave runtime: `cloister run-enclave` until it returns, which is
# the start window (RT_START_WINDOW_MS, docs/runtime.md) after init's ready
# heartbeat, for a small image, against the floor of what any namespace
# sandbox costs on this machine,
#     unshare --mount --pid --net --ipc --uts --fork /bin/true
# (median of N runs each, the ratio and the absolute times; then the same
# less the start window, which is a fixed wait), and the resident memory of
# an idle monitor (target <= 8 MiB).
# Usage: bench/runtime.sh BUILD_DIR [N]   (needs root)
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
window=$(sed -n 's/^#define RT_START_WINDOW_MS \([0-9]*\).*/\1/p' "$src/src/runtime/rt_monitor.h")
n=${2:-9}
bin="$build/bin"
. "$src/bench/lib/enclaves.sh"
enclave_bench_setup runtime

# A small image: one static program that stays up.
mkdir -p "$tmp/root/bin"
printf '#include <unistd.h>\nint main(void){for(;;)pause();}\n' > "$tmp/idle.c"
cc -static -O2 -o "$tmp/root/bin/idle" "$tmp/idle.c"
"$bin/cloister" build-enclave --rootfs "$tmp/root" --cmd /bin/idle --output-file "$tmp/idle.eif" \
    >/dev/null 2>&1
eif_size=$(wc -c < "$tmp/idle.eif")

now_ns() { date +%s%N; }
median() { sort -n | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else print int((v[NR/2]+v[NR/2+1])/2) }'; }

: > "$tmp/run.times"
: > "$tmp/base.times"
i=0
while [ "$i" -lt "$n" ]; do
    t0=$(now_ns)
    unshare --mount --pid --net --ipc --uts --fork /bin/true
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 )) >> "$tmp/base.times"
    t0=$(now_ns)
    "$bin/cloister" run-enclave --eif-path "$tmp/idle.eif" --cpu-count 1 --memory 64 \
        > "$tmp/info.json" 2>/dev/null
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 )) >> "$tmp/run.times"
    if [ "$i" -eq 0 ]; then
        pid=$(sed -n 's/.*"ProcessID": \([0-9]*\).*/\1/p' "$tmp/info.json")
        rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")
        pss=$(awk '/^Pss:/{print $2}' "/proc/$pid/smaps_rollup")
        anon=$(awk '/^Anonymous:/{print $2}' "/proc/$pid/smaps_rollup")
    fi
    "$bin/cloister" terminate-enclave --all >/dev/null 2>&1
    i=$((i + 1))
done
run_us=$(median < "$tmp/run.times")
base_us=$(median < "$tmp/base.times")
echo "image: $eif_size bytes, memory 64 MiB, 1 CPU; median of $n runs"
awk -v r="$run_us" -v b="$base_us" 'BEGIN {
    printf "run-enclave until it returns: %.1f ms   unshare floor: %.2f ms   ratio: %.1fx (target <= 20x)\n",
           r / 1000, b / 1000, r / b }'
awk -v r="$run_us" -v b="$base_us" -v w="${window:-0}" 'BEGIN {
    printf "  less the %d ms start window: %.1f ms   ratio: %.1fx (to the heartbeat; target <= 5x)\n", w, r / 1000 - w, (r - w * 1000) / b }'
awk -v r="$rss" -v p="$pss" -v a="$anon" 'BEGIN {
    printf "monitor resident memory: RSS %.1f MiB (PSS %.1f MiB, anonymous %.1f MiB) (target RSS <= 8 MiB)\n",
           r / 1024, p / 1024, a / 1024 }'
