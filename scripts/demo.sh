#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# `make demo` (until the workshop scenario lands): builds a small enclave
# image without any Docker daemon and shows what an enclave's measurements
# are. Usage: scripts/demo.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
cloister="$build/bin/cloister"
demo="$build/demo"
rm -rf "$demo"
mkdir -p "$demo"

if [ -t 1 ]; then
    say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    say() { printf '\n== %s\n' "$*"; }
fi

say "1. An image without Docker: a root filesystem holding one static program"
mkdir -p "$demo/rootfs/bin"
cat >"$demo/hello.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    const char *g = getenv("GREETING");
    printf("%s from inside the enclave\n", g ? g : "Hello");
    return 0;
}
C
cc -static -Os -s -o "$demo/rootfs/bin/hello" "$demo/hello.c"
echo "rootfs: $(cd "$demo/rootfs" && find . | sort | tr '\n' ' ')"

say "2. cloister build-enclave: the rootfs becomes an EIF (command and environment given here)"
echo "\$ cloister build-enclave --rootfs rootfs --cmd /bin/hello --env GREETING=Bonjour --name hello --version 1.0 --output-file hello.eif"
"$cloister" build-enclave --rootfs "$demo/rootfs" --cmd /bin/hello --env GREETING=Bonjour \
    --name hello --version 1.0 --output-file "$demo/hello.eif"
echo "PCR0 measures the whole image (kernel-profile descriptor, cmdline, both ramdisks),"
echo "PCR1 the runtime profile + bootstrap (the same for every image built with these blobs),"
echo "PCR2 your application only."

say "3. Reproducible: the same input gives the same bytes, whatever the build time"
SOURCE_DATE_EPOCH=1700000000 "$cloister" build-enclave --rootfs "$demo/rootfs" --cmd /bin/hello \
    --env GREETING=Bonjour --name hello --version 1.0 --output-file "$demo/again.eif" 2>/dev/null |
    grep PCR0
echo "(PCR0 above is unchanged; only the unmeasured BuildTime in the metadata moved)"
"$cloister" build-enclave --rootfs "$demo/rootfs" --cmd /bin/hello --env GREETING=Bonjour \
    --name hello --version 1.0 --output-file "$demo/twice.eif" >/dev/null 2>&1
cmp "$demo/hello.eif" "$demo/twice.eif" && echo "two builds: byte-identical"

say "4. Change the application, PCR2 and PCR0 change, PCR1 does not"
"$cloister" build-enclave --rootfs "$demo/rootfs" --cmd /bin/hello --env GREETING=Hola \
    --name hello --version 1.1 --output-file "$demo/modified.eif" 2>/dev/null

if command -v umoci >/dev/null 2>&1; then
    say "5. The same program as an OCI image made with umoci (no daemon): --oci-layout"
    (
        cd "$demo"
        umoci init --layout oci >/dev/null
        umoci new --image oci:hello >/dev/null
        umoci unpack --rootless --image oci:hello bundle >/dev/null 2>&1
        cp -a rootfs/bin bundle/rootfs/
        umoci repack --image oci:hello bundle >/dev/null
        umoci config --image oci:hello --config.cmd /bin/hello --config.env GREETING=Bonjour >/dev/null
    )
    "$cloister" build-enclave --oci-layout "$demo/oci:hello" --output-file "$demo/oci.eif" |
        tee "$demo/oci.json"
    echo "(the image config gave the command and environment: Cmd and Env, as nitro-cli takes them)"
    if "$cloister" describe-eif --eif-path "$demo/hello.eif" | grep -q "$(grep PCR2 "$demo/oci.json")"; then
        echo "Same files, same command, same environment: the same PCR2 as the rootfs build."
    fi
fi

say "6. cloister describe-eif --eif-path hello.eif"
"$cloister" describe-eif --eif-path "$demo/hello.eif"

say "Done: the images are in $demo"
