/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A request's condition context for policy evaluation: condition key ->
 * list of string values. The key service writes it in one place
 * (call/context.c); `cloister-kms explain` fills it from its flags.
 */
#ifndef CLOISTER_KMS_POLICY_CONTEXT_H
#define CLOISTER_KMS_POLICY_CONTEXT_H

#include <stddef.h>

#include <cloister/error.h>

/* Keys compare case-insensitively (IAM condition keys are case-insensitive;
 * so is the <key> part of kms:EncryptionContext:<key>). */
struct policy_context;

CL_MUST_USE int policy_context_new(struct policy_context **out, struct cl_error *err);
void policy_context_free(struct policy_context *c);
/* Appends value to key's list (creating the key). Both are copied. A key
 * added several times is multi-valued (kms:EncryptionContextKeys). */
CL_MUST_USE int policy_context_add(struct policy_context *c, const char *key, const char *value,
                                   struct cl_error *err);
/* Values of key, or NULL when the key is absent (then *n = 0). The array is
 * owned by c and valid until the next add or free. */
const char *const *policy_context_get(const struct policy_context *c, const char *key, size_t *n);

#endif
