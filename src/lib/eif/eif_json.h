/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EIF measurements as nitro-cli prints them (docs/eif.md, "The commands"):
 * {"HashAlgorithm": "Sha384 { ... }", "PCR0", "PCR1", "PCR2"[, "PCR8"]}
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

/*
 * The metadata section as describe-eif and describe-enclaves show it
 * (nitro-cli's EifDescribeInfo tail): {"ImageName", "ImageVersion",
 * "Metadata"}, where Metadata is MetadataDescribeInfo: the BuildMetadata
 * fields, DockerInfo, then CustomMetadata's members flattened in (serde's
 * flatten; a member named like a built-in field is dropped, a CustomMetadata
 * that is not an object is shown as "CustomMetadata"). eif_open() checked
 * that the section has every key. *out is a new object, or NULL when the EIF
 * has no metadata section. Errors: CL_EFORMAT (not JSON), CL_ENOMEM.
 */
CL_MUST_USE int eif_metadata_describe_json(const struct eif *e, json_t **out,
                                           struct cl_error *err);

#endif
