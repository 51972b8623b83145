/* SPDX-License-Identifier: Apache-2.0 */
/* Grant ids and grant tokens (grant_token.h). */
#include "ops/grant_token.h"

#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/hex.h"
#include "state/store.h"
#include "util/kmsutil.h"

#define TOKEN_VERSION 1
#define TOKEN_BYTES   65 /* version, grant id, 32 random bytes */

int grant_token_new(struct call *c, char id[GRANT_ID_LEN + 1], char token[GRANT_TOKEN_LEN + 1])
{
    uint8_t raw[TOKEN_BYTES];
    struct cl_error err = { 0 };
    raw[0] = TOKEN_VERSION;
    if (ku_random(raw + 1, sizeof(raw) - 1, &err) < 0)
        return call_fail_internal(c, &err);
    hex_encode(id, raw + 1, 32);
    char *b64 = base64_encode(raw, sizeof(raw));
    if (!b64 || strlen(b64) != GRANT_TOKEN_LEN) {
        free(b64);
        return call_fail_internal(c, NULL);
    }
    memcpy(token, b64, GRANT_TOKEN_LEN + 1);
    free(b64);
    return 0;
}

bool grant_id_valid(const char *s)
{
    if (strlen(s) != GRANT_ID_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return false;
    return true;
}

/* AWS does not publish InvalidGrantTokenException's text; docs/kms.md says so. */
static int invalid(struct call *c)
{
    return call_fail(c, "InvalidGrantTokenException", "Invalid grant token.");
}

int grant_token_resolve(struct call *c, const char *token, json_t **g)
{
    *g = NULL;
    uint8_t *raw = NULL;
    size_t n = 0;
    struct cl_error err = { 0 };
    if (base64_decode(token, strlen(token), TOKEN_BYTES, &raw, &n, &err) < 0)
        return invalid(c);
    bool shaped = n == TOKEN_BYTES && raw[0] == TOKEN_VERSION;
    free(raw);
    if (!shaped)
        return invalid(c);
    int rc = store_grant_by_token(c->s->store, token, g, &err);
    if (rc == CL_ENOTFOUND)
        return invalid(c);
    if (rc < 0)
        return call_fail_internal(c, &err);
    return 0;
}
