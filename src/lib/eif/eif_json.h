/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EIF measurements as nitro-cli prints them (research/eif-and-cli.md §2.6,
 * §5.2): {"HashAlgorithm": "Sha384 { ... }", "PCR0", "PCR1", "PCR2"[, "PCR8"]}
 * with lowercase hex values, in that order (nitro-cli's BTreeMap order).
 * One place for build-enclave, describe-eif, sign-eif and the runtime's
 * describe-enclaves records.
 */
#ifndef CLOISTER_EIF_JSON_H
#define CLOISTER_EIF_JSON_H

#include <jansson.h>

#include <cloister/eif.h>

/* A new object (caller json_decref), or NULL when out of memory. */
json_t *eif_measurements_json(const struct eif_measurements *m);

/* {"Measurements": {...}}, the output of build-enclave and sign-eif. */
json_t *eif_build_info_json(const struct eif_measurements *m);

#endif
