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
# Reproducible: every file's time is SOURCE_DATE_EPOCH (default 0).
set -eu
build=$1 server=$2 ca=$3 out=$4 name=${5:-data-processing}
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/etc/ssl/certs"
"$here/../../scripts/rootfs-add-program.sh" "$root" "$server" /usr/bin/server
cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"

# The customer ramdisk holds each file's time, as nitro-cli's does: clamp
# them all to SOURCE_DATE_EPOCH (default 0), so that the same inputs give
# the same PCRs wherever and whenever they are staged.
find "$root" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +

"$build/bin/cloister" build-enclave --rootfs "$root" --cmd /usr/bin/server \
    --name "$name" --version 1.0 --output-file "$out"
