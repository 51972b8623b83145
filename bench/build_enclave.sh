#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# build-enclave of a 512 MiB rootfs (random files) against the baseline
# `tar -cf - ROOTFS | sha384sum`: reading the same tree once and hashing
# it once. build-enclave reads it once too, writes the cpio into the EIF
# writer, which hashes it twice (PCR0 and PCR2, on two threads), CRCs it and
# writes the EIF. Runs alternate, each after a `sync` (so that the last
# run's writeback does not land on the next); best of 5 each; prints the
# ratio (goal <= 1.2 on an idle machine) and build-enclave's peak RSS.
# Usage: bench/build_enclave.sh BUILD_DIR [SIZE_MIB]
set -eu
build=$(cd "${1:-build}" && pwd)
mib=${2:-512}
cloister="$build/bin/cloister"
work=$(mktemp -d "${TMPDIR:-/tmp}/cloister-bench-build.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# 64 directories x 8 files of mib/512 MiB each (1 MiB for 512 MiB).
root="$work/rootfs"
per=$((mib * 1024 / 512)) # KiB per file
for d in $(seq 1 64); do
    mkdir -p "$root/d$d"
    for f in $(seq 1 8); do
        head -c "$((per * 1024))" /dev/urandom >"$root/d$d/f$f"
    done
done
echo "rootfs: $(du -sm "$root" | cut -f1) MiB in $(find "$root" -type f | wc -l) files"

now() { date +%s.%N; }
secs() { # wall-clock seconds of "$@", after a sync
    sync
    t0=$(now)
    "$@" >/dev/null 2>&1
    t1=$(now)
    echo "$t0 $t1" | awk '{print $2-$1}'
}
min() { echo "$1 $2" | awk '{print ($1<$2)?$1:$2}'; }
baseline() { tar -C "$work" -cf - rootfs | sha384sum; }
build_eif() { "$cloister" build-enclave --rootfs "$root" --cmd /bin/true --output-file "$work/out.eif"; }

# Warm the page cache for both, so neither pays the disk.
baseline >/dev/null
build_eif >/dev/null 2>&1
tb=999999 tc=999999
for _ in 1 2 3 4 5; do
    tb=$(min "$tb" "$(secs baseline)")
    tc=$(min "$tc" "$(secs build_eif)")
done
ls -l "$work/out.eif" | awk '{printf "eif: %d MiB\n", $5/1048576}'
echo "tar | sha384sum:         ${tb}s"
echo "cloister build-enclave:  ${tc}s"
echo "$tc $tb" | awk '{printf "ratio: %.2fx (goal <= 1.2x on an idle machine)\n", $1/$2}'
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$work/rss" "$cloister" build-enclave --rootfs "$root" --cmd /bin/true \
        --output-file "$work/out.eif" >/dev/null 2>&1
    echo "build-enclave peak RSS: $(($(cat "$work/rss") / 1024)) MiB"
fi
