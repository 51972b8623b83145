# SPDX-License-Identifier: Apache-2.0
# Sourced by the benchmarks that run enclaves (not run by bench/run.sh):
#   enclave_bench_setup NAME   ends the script (status 0) unless it runs as
#                              root; else makes $tmp with a runtime directory
#                              and an attestation CA of its own, and removes
#                              both (terminating the enclaves) at exit.
# Needs $bin (the build's bin/).
enclave_bench_setup() {
    if [ "$(id -u)" != 0 ]; then
        echo "$1: needs root (namespaces, cgroups); skipped"
        exit 0
    fi
    tmp=$(mktemp -d)
    export CLOISTER_RUN_DIR="$tmp/run" CLOISTER_CA_DIR="$tmp/ca"
    trap enclave_bench_cleanup EXIT INT TERM
    "$bin/cloister" attestation-ca init --ca-dir "$CLOISTER_CA_DIR" >/dev/null
}

enclave_bench_cleanup() {
    "$bin/cloister" terminate-enclave --all >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
