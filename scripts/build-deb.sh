#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Builds the Debian packages (debian/, docs/packaging.md) with
# dpkg-buildpackage, from a copy of the tree, so that nothing is written
# beside the source tree (dpkg-buildpackage puts its results in the parent
# directory of the tree it builds).
#
# Usage: scripts/build-deb.sh [OUTDIR]     (default: build/deb)
#   OUTDIR/src/cloister-VERSION/   the copy (and its build-deb/ build tree)
#   OUTDIR/*.deb                   cloister, libcloister-dev, cloister-nitro-cli,
#                                  cloister-dbgsym
#   OUTDIR/*.changes, *.buildinfo  dpkg-buildpackage's records
# JOBS (default 1) is the number of compiler jobs. The copy holds the files
# git knows (tracked, and untracked ones that are not ignored) in their
# current state, or, outside a git checkout, the tree without build*/.
# Run scripts/install-deps.sh deb first (`make deb` does).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build/deb}
jobs=${JOBS:-1}

version=$(sed -n 's/^project(cloister VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
changelog=$(dpkg-parsechangelog -l "$src/debian/changelog" -SVersion)
if [ "$version" != "$changelog" ]; then
    echo "build-deb: debian/changelog is at $changelog, CMakeLists.txt at $version" >&2
    exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
copy="$out/src/cloister-$version"
rm -rf "$out/src"
mkdir -p "$copy"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Files deleted from the work tree but still in the index are skipped.
    (cd "$src" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done; exit 0' sh |
        tar --null -T - -cf -) | tar -xf - -C "$copy"
else
    (cd "$src" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$copy"
fi

rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
(cd "$copy" && dpkg-buildpackage -us -uc -b -J"$jobs")
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
ls -1 "$out"/*.deb
