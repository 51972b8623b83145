#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Builds the workshop's enclave image with `cloister build-enclave`:
#   build-image.sh BUILD_DIR SERVER_BINARY CA_BUNDLE OUTPUT.eif [NAME]
#
# The rootfs holds the server, the shared libraries it loads (copied from
# this machine, as the workshop's Dockerfile copies libnsm.so and its libs)
# and, as the image's trust store, the CA of the key service the enclave
# must talk to: the KMS identity is part of the measured image.
set -eu
build=$1 server=$2 ca=$3 out=$4 name=${5:-data-processing}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/usr/bin" "$root/etc/ssl/certs"
cp "$server" "$root/usr/bin/server"
cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
# The loader and every library the server needs, at the same paths.
ldd "$server" | awk '/=> \//{print $3} /^\t\/[^ ]*ld-linux/{print $1}' | sort -u |
while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
# Dynamic linking on Debian looks in /lib64 for the loader.
[ -e /lib64/ld-linux-x86-64.so.2 ] && mkdir -p "$root/lib64" &&
    cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"

"$build/bin/cloister" build-enclave --rootfs "$root" --cmd /usr/bin/server \
    --name "$name" --version 1.0 --output-file "$out"
