#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark (bench/*.sh, in name order). Each prints its own
# figures and the ratio against a baseline it runs beside itself on this
# machine. Usage: bench/run.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
status=0
for b in "$here"/*.sh; do
    [ "$(basename "$b")" = run.sh ] && continue
    echo "== $(basename "$b" .sh)"
    if ! sh "$b" "$build"; then
        echo "bench: $(basename "$b") failed" >&2
        status=1
    fi
done
exit $status
