/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A key's state and usage as the server reasons about them: enums, with
 * AWS's names (KeyMetadata's KeyState and KeyUsage, which are also what
 * the store's columns hold) only where they cross the store, the JSON
 * answers, messages and condition keys.
 */
#ifndef CLOISTER_KMS_STATE_KEY_ATTRS_H
#define CLOISTER_KMS_STATE_KEY_ATTRS_H

#include <cloister/error.h>

/* The states a key of cloister-kms can be in (AWS has more: Creating,
 * Unavailable... for features not implemented). PendingImport: a key of
 * origin EXTERNAL without its material (never imported, deleted or expired). */
enum key_state {
    KEY_ENABLED,
    KEY_DISABLED,
    KEY_PENDING_DELETION,
    KEY_PENDING_REPLICA_DELETION, /* a multi-Region primary waiting for its replicas' deletion */
    KEY_PENDING_IMPORT,
};

/* The usages of the keys cloister-kms makes. */
enum key_usage {
    KEY_USAGE_ENCRYPT_DECRYPT,
    KEY_USAGE_SIGN_VERIFY,
    KEY_USAGE_GENERATE_VERIFY_MAC,
    KEY_USAGE_KEY_AGREEMENT,
};

/* "Enabled", "Disabled", "PendingDeletion", "PendingReplicaDeletion", "PendingImport". */
const char *key_state_name(enum key_state s);
/* "ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT". */
const char *key_usage_name(enum key_usage u);

/* The enum of a name; CL_EFORMAT for any other text. */
CL_MUST_USE int key_state_parse(const char *name, enum key_state *out);
CL_MUST_USE int key_usage_parse(const char *name, enum key_usage *out);

#endif
