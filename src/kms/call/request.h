/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding of KMS JSON 1.1 request bodies (docs/kms.md, "Request
 * decoding"): the body is one JSON object (duplicate members and trailing
 * bytes refused), and each member is read through a typed accessor that
 * checks the type and the model's bounds (botocore's KMS model), failing
 * with AWS's error type and message in the request's kms_error:
 *
 *   SerializationException  body not a JSON object, or a member of the wrong type
 *   ValidationException     "1 validation error detected: Value at 'plaintext'
 *                            failed to satisfy constraint: Member must have
 *                            length greater than or equal to 1"
 *
 * The field name in messages is the member's name with a lowercase first
 * letter, as AWS prints it. A JSON null is the same as an absent member.
 * Pointers returned by the accessors are borrowed from the request object
 * unless said otherwise.
 */
#ifndef CLOISTER_KMS_CALL_REQUEST_H
#define CLOISTER_KMS_CALL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "call/kms_error.h"

/* The largest request body the server reads (a Recipient attestation document is
 * up to 256 KiB, 350 KiB in base64). */
#define REQ_MAX_BODY (512 * 1024)

/* Parses a body: an empty body is {}; anything else must be one JSON object. */
CL_MUST_USE int req_parse(const uint8_t *body, size_t len, json_t **out, struct kms_error *e);

/* A string member of length min..max (bytes). *out NULL when absent and optional. */
CL_MUST_USE int req_string(const json_t *in, const char *member, bool required, size_t min,
                           size_t max, const char **out, struct kms_error *e);

/* A string member that must be one of values (NULL-terminated list). */
CL_MUST_USE int req_enum(const json_t *in, const char *member, bool required,
                         const char *const *values, const char **out, struct kms_error *e);

/* A base64 blob member decoded to min..max bytes. *out malloc'd (caller
 * wipes and frees); NULL when absent and optional. */
CL_MUST_USE int req_blob(const json_t *in, const char *member, bool required, size_t min,
                         size_t max, uint8_t **out, size_t *len, struct kms_error *e);

/* An integer member in min..max. *present says whether it was there. */
CL_MUST_USE int req_int(const json_t *in, const char *member, bool required, long long min,
                        long long max, long long *out, bool *present, struct kms_error *e);

/* A boolean member (false when absent). */
CL_MUST_USE int req_bool(const json_t *in, const char *member, bool *out, struct kms_error *e);

/* An encryption context: an object of string values, at most 8192 bytes of
 * keys and values together. *out borrowed, NULL when absent. */
CL_MUST_USE int req_context(const json_t *in, const char *member, const json_t **out,
                            struct kms_error *e);

/* Tags: an array of {"TagKey" 1..128, "TagValue" 0..256}, at most max_count.
 * *out borrowed, NULL when absent and optional. */
CL_MUST_USE int req_tags(const json_t *in, const char *member, bool required, size_t max_count,
                         const json_t **out, struct kms_error *e);

/* An array of strings each of length min..max. *out borrowed. */
CL_MUST_USE int req_string_list(const json_t *in, const char *member, bool required, size_t min,
                                size_t max, const json_t **out, struct kms_error *e);

#endif
