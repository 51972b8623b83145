#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target in DIR for SECONDS each, on its seed corpus
# tests/fuzz/corpus/<target without _fuzz>/ (copied, so the checked-in seeds
# stay as they are). Before fuzzing, each target replays the inputs that once
# crashed it, tests/fuzz/crashes/<target without _fuzz>/*, as a regression
# test. A crash fails the run; libFuzzer writes the input to
# DIR/crashes-<target>/ and the log is DIR/<target>.log. A target without any
# seed is reported (it still runs, from nothing).
# Usage: tests/fuzz/run.sh DIR [SECONDS]
set -eu
dir=$(cd "$1" && pwd)
seconds=${2:-20}
src=$(cd "$(dirname "$0")" && pwd)
status=0
found=0
for t in "$dir"/*_fuzz; do
    [ -x "$t" ] || continue
    found=$((found + 1))
    name=$(basename "$t" _fuzz)
    work="$dir/corpus-$name"
    artifacts="$dir/crashes-$name"
    mkdir -p "$work" "$artifacts"
    if [ -d "$src/crashes/$name" ] && [ -n "$(ls -A "$src/crashes/$name")" ]; then
        echo "fuzz: $name: replaying $(ls "$src/crashes/$name" | wc -l) past crash(es)"
        if ! "$t" -rss_limit_mb=2048 "$src/crashes/$name"/* >"$dir/$name.replay.log" 2>&1; then
            echo "fuzz: $name FAILED on a past crash, see $dir/$name.replay.log" >&2
            tail -40 "$dir/$name.replay.log" >&2
            status=1
            continue
        fi
    fi
    if [ -d "$src/corpus/$name" ] && [ -n "$(ls -A "$src/corpus/$name")" ]; then
        cp -n "$src/corpus/$name"/* "$work"/ 2>/dev/null || true
    else
        echo "fuzz: $name has no seeds in tests/fuzz/corpus/$name/" >&2
    fi
    echo "fuzz: $name for ${seconds}s"
    if ! (cd "$dir" && "$t" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$work" 2>"$dir/$name.log"); then
        echo "fuzz: $name FAILED, see $dir/$name.log; input(s): $(ls "$artifacts" | tr '\n' ' ')" >&2
        tail -40 "$dir/$name.log" >&2
        status=1
    else
        grep -E 'stat::number_of_executed_units' "$dir/$name.log" || true
    fi
done
if [ "$found" = 0 ]; then
    echo "fuzz: no fuzz target in $dir" >&2
    exit 1
fi
exit $status
