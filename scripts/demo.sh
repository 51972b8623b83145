#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# `make demo`: the Nitro Enclaves cryptographic-attestation workshop
# (aws-samples/aws-nitro-enclaves-workshop), end to end on Cloister, with the embedded
# defaults (SQLite store, local attestation CA). Each step is narrated and
# checked; see examples/data-processing/README.md for the walk-through.
#
# Usage: scripts/demo.sh BUILD_DIR
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
exec "$here/examples/data-processing/workshop.sh" "${1:-$here/build}"
