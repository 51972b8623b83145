#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target in DIR for SECONDS each, on its seed corpus
# tests/fuzz/corpus/<target without _fuzz>/ (copied, so the checked-in seeds
# stay as they are). A crash fails the run and leaves the input in build dir.
set -eu
dir=$1
seconds=${2:-20}
src=$(cd "$(dirname "$0")" && pwd)
status=0
for t in "$dir"/*_fuzz; do
    [ -x "$t" ] || continue
    name=$(basename "$t" _fuzz)
    work="$dir/corpus-$name"
    mkdir -p "$work"
    [ -d "$src/corpus/$name" ] && cp -n "$src/corpus/$name"/* "$work"/ 2>/dev/null || true
    echo "fuzz: $name for ${seconds}s"
    if ! (cd "$dir" && "$t" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>"$dir/$name.log"); then
        echo "fuzz: $name FAILED, see $dir/$name.log" >&2
        tail -40 "$dir/$name.log" >&2
        status=1
    else
        grep -E 'stat::number_of_executed_units' "$dir/$name.log" || true
    fi
done
exit $status
