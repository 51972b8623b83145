#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Installs the Debian 12 packages Cloister needs to build, test, demo and
# benchmark, and only those that are missing, so that it is cheap to run
# before every `make check` / `make demo`. Needs root (or sudo) only when
# something is missing.
#
# Usage: scripts/install-deps.sh [--missing] [build|deb|test|all]   (default: all)
#   --missing   install nothing: print the missing packages on one line
#               (nothing when none is) and exit 0
set -eu

list_only=""
if [ "${1:-}" = "--missing" ]; then
    list_only=1
    shift
fi

build_pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev openssl libcbor-dev libjansson-dev zlib1g-dev libarchive-dev
  libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libyaml-dev
  libseccomp-dev libcap-dev libcmocka-dev"
# Tests and the demo: pytest and the Python modules the integration tests
# import (boto3/botocore, cryptography, requests: all from Debian, run
# through /usr/bin/python3), real AWS clients (awscli v2 at /usr/bin/aws),
# umoci for OCI images without a Docker daemon, docker.io (dockerd 20.10 and
# its client) for the tests that start a private Docker daemon of their own
# (tests/integration/dockerd.py), PostgreSQL for the replicated
# key-service store, binutils (objdump) and util-linux (unshare) for the
# runtime and NSM tests, llvm (llvm-symbolizer: readable fuzz crash reports),
# golang-go (a Go program on the emulated vsock inside an enclave), and the
# baselines and tools the benchmarks use (socat, wrk, nginx, bc, hyperfine).
# test_deb.py installs the Debian package into a clean root made by
# mmdebstrap, checks man there (man-db), checks the units (systemd's
# systemd-analyze), boots the root to start them (systemd-container's
# systemd-nspawn) and runs the bash completion (bash-completion). lxcfs
# gives enclaves their own /proc/meminfo, cpuinfo, uptime... (the runtime
# binds its files when it is mounted); the probe tests mount one privately.
test_pkgs="python3 python3-pytest python3-boto3 python3-botocore
  python3-cryptography python3-requests awscli umoci docker.io jq cpio binutils
  util-linux llvm golang-go socat wrk nginx bc hyperfine postgresql iproute2 procps
  mmdebstrap man-db systemd systemd-container bash-completion lxcfs"

# The Debian package (`make deb`, scripts/build-deb.sh): the Debian tools
# (debhelper, dpkg-dev, fakeroot) and scdoc for the manual pages.
deb_pkgs="debhelper dpkg-dev fakeroot scdoc"

case "${1:-all}" in
build) wanted="$build_pkgs" ;;
deb) wanted="$build_pkgs $deb_pkgs" ;;
test | all) wanted="$build_pkgs $test_pkgs $deb_pkgs" ;;
*) echo "usage: $0 [--missing] [build|deb|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $wanted; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$list_only" ]; then
    [ -z "$missing" ] || echo "${missing# }"
    exit 0
fi

if [ -n "$missing" ]; then
    echo "cloister: installing missing Debian packages:$missing" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "cloister: need root to install:$missing" >&2; exit 1; }
        sudo=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The AWS SDK for JavaScript v3 for tests/integration/test_kms_js.py, from
# the npm registry at the versions tests/js/package-lock.json pins, into
# tests/js/node_modules (again only when the lock file changed). It needs
# Node.js 20 or later (the SDK's own requirement); with an older or no
# Node.js that test is skipped and says so.
case "${1:-all}" in
test | all)
    js=$(dirname "$0")/../tests/js
    if command -v npm >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0] < 20))' &&
        ! [ "$js/node_modules/.package-lock.json" -nt "$js/package-lock.json" ]; then
        echo "cloister: installing the JS SDK for the tests (npm ci in tests/js)" >&2
        npm ci --prefix "$js" --no-audit --no-fund --loglevel=error >/dev/null
    fi
    ;;
esac
