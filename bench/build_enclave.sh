#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# build-enclave of a 512 MiB rootfs (random files) against the baseline
# `tar -cf - ROOTFS | sha384sum`: reading the same tree once and hashing
# it once. build-enclave reads it once too, writes the cpio into the EIF
# writer, which hashes it twice (PCR0 and PCR2, on two threads), CRCs it and
# writes the EIF. Best of 3 each; prints the ratio (target <= 1.5).
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
best() { # best of 3 wall-clock seconds of "$@"
    b=""
    for _ in 1 2 3; do
        t0=$(now)
        "$@" >/dev/null 2>&1
        t1=$(now)
        b=$(echo "$t0 $t1 ${b:-999999}" | awk '{d=$2-$1; print (d<$3)?d:$3}')
    done
    echo "$b"
}
baseline() { tar -C "$work" -cf - rootfs | sha384sum; }
build_eif() { "$cloister" build-enclave --rootfs "$root" --cmd /bin/true --output-file "$work/out.eif"; }

# Warm the page cache for both, so neither pays the disk.
baseline >/dev/null
tb=$(best baseline)
tc=$(best build_eif)
ls -l "$work/out.eif" | awk '{printf "eif: %d MiB\n", $5/1048576}'
echo "tar | sha384sum:         ${tb}s"
echo "cloister build-enclave:  ${tc}s"
echo "$tc $tb" | awk '{printf "ratio: %.2fx (target <= 1.5x)\n", $1/$2}'
