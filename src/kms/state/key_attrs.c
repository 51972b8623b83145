/* SPDX-License-Identifier: Apache-2.0 */
/* A key's state and usage and their AWS names (key_attrs.h). */
#include "state/key_attrs.h"

#include <string.h>

static const char *const STATE_NAMES[] = {
    [KEY_ENABLED] = "Enabled",
    [KEY_DISABLED] = "Disabled",
    [KEY_PENDING_DELETION] = "PendingDeletion",
    [KEY_PENDING_REPLICA_DELETION] = "PendingReplicaDeletion",
    [KEY_PENDING_IMPORT] = "PendingImport",
};

static const char *const USAGE_NAMES[] = {
    [KEY_USAGE_ENCRYPT_DECRYPT] = "ENCRYPT_DECRYPT",
    [KEY_USAGE_SIGN_VERIFY] = "SIGN_VERIFY",
    [KEY_USAGE_GENERATE_VERIFY_MAC] = "GENERATE_VERIFY_MAC",
    [KEY_USAGE_KEY_AGREEMENT] = "KEY_AGREEMENT",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *key_state_name(enum key_state s)
{
    return (unsigned)s < COUNT(STATE_NAMES) ? STATE_NAMES[s] : "?";
}

const char *key_usage_name(enum key_usage u)
{
    return (unsigned)u < COUNT(USAGE_NAMES) ? USAGE_NAMES[u] : "?";
}

int key_state_parse(const char *name, enum key_state *out)
{
    for (unsigned i = 0; i < COUNT(STATE_NAMES); i++)
        if (!strcmp(name, STATE_NAMES[i])) {
            *out = (enum key_state)i;
            return 0;
        }
    return CL_EFORMAT;
}

int key_usage_parse(const char *name, enum key_usage *out)
{
    for (unsigned i = 0; i < COUNT(USAGE_NAMES); i++)
        if (!strcmp(name, USAGE_NAMES[i])) {
            *out = (enum key_usage)i;
            return 0;
        }
    return CL_EFORMAT;
}
