#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# rootfs-add-program.sh ROOTFS PROGRAM [DEST]
#
# Copies a program into an enclave root file system together with its
# dynamic loader and every shared library it needs, each at the path the
# loader will look for it (the paths ldd prints), so that the program runs
# inside an image built with `cloister build-enclave --rootfs ROOTFS`.
# DEST is the program's path inside the root (default /bin/<name>).
# Libraries already present in ROOTFS are left alone; symbolic links are
# resolved (the file is copied under the name ldd gave). A statically linked
# program is copied alone.
#
# Exit status: 0 copied; 1 an error (message on stderr); 2 usage.
set -eu

me=rootfs-add-program.sh
die() { echo "$me: error: $*" >&2; exit 1; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $me ROOTFS PROGRAM [DEST]" >&2
    exit 2
fi
rootfs=$1
program=$2
[ -d "$rootfs" ] || die "'$rootfs' is not a directory"
[ -f "$program" ] || die "'$program' is not a file"
[ -x "$program" ] || die "'$program' is not executable"
dest=${3:-/bin/$(basename "$program")}
case "$dest" in
    /*) ;;
    *) die "the destination '$dest' must be an absolute path inside the root" ;;
esac
case "/$dest/" in
    */../*) die "the destination '$dest' must not contain '..'" ;;
esac

# copy SRC DEST_IN_ROOT: regular-file copy, following links, mode kept.
copy() {
    target="$rootfs$2"
    mkdir -p "$(dirname "$target")"
    cp -L --preserve=mode "$1" "$target"
}

copy "$program" "$dest"

# ldd exits 1 with "not a dynamic executable" for static programs (and for
# scripts); anything else it cannot resolve is an error.
if ! out=$(LC_ALL=C ldd "$program" 2>&1); then
    case "$out" in
        *"not a dynamic executable"*|*"statically linked"*) exit 0 ;;
        *) die "ldd $program: $out" ;;
    esac
fi
case "$out" in
    *"statically linked"*) exit 0 ;;
esac
missing=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*\([^ ]*\) => not found.*/\1/p' |
          paste -sd, - | sed 's/,/, /g')
[ -z "$missing" ] || die "$program needs libraries that are not installed: $missing"

# Every absolute path ldd names: "libx.so => /path (addr)" and the loader
# "/lib64/ld-linux-x86-64.so.2 (addr)". linux-vdso has no path.
printf '%s\n' "$out" | sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
while IFS= read -r lib; do
    [ -e "$rootfs$lib" ] || copy "$lib" "$lib"
done
