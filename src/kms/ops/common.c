/* SPDX-License-Identifier: Apache-2.0 */
/* What several operations read and answer alike (common.h). */
#include "ops/common.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/base64.h"
#include "call/recipient.h"
#include "call/request.h"
#include "ops/grant_token.h"

int grant_tokens(struct call *c)
{
    const json_t *g;
    if (req_string_list(c->in, "GrantTokens", false, 1, 8192, &g, &c->err) < 0)
        return -1;
    if (g && json_array_size(g) > 10)
        return call_fail(c, "ValidationException",
                         "1 validation error detected: Value at 'grantTokens' failed to satisfy "
                         "constraint: Member must have length less than or equal to 10");
    /* each token must name a grant that exists; the grant itself already
     * counts in authorize() (this store has no propagation delay for a token
     * to bridge) */
    size_t i;
    json_t *t;
    json_array_foreach(g, i, t)
    {
        json_t *grant = NULL;
        if (grant_token_resolve(c, json_string_value(t), &grant) < 0)
            return -1;
        json_decref(grant);
    }
    return 0;
}

int dry_run(struct call *c)
{
    bool dry;
    if (req_bool(c->in, "DryRun", &dry, &c->err) < 0)
        return -1;
    if (dry)
        return call_fail(c, "DryRunOperationException",
                         "The request would have succeeded, but the DryRun option is set.");
    return 0;
}

int paging(struct call *c, long long max, long long def, long long *limit, const char **marker)
{
    bool present;
    if (req_int(c->in, "Limit", false, 1, max, limit, &present, &c->err) < 0 ||
        req_string(c->in, "Marker", false, 1, 1024, marker, &c->err) < 0)
        return -1;
    if (!present)
        *limit = def;
    return 0;
}

void set_blob(json_t *o, const char *name, const uint8_t *b, size_t n)
{
    char *e = base64_encode(b, n);
    json_object_set_new(o, name, e ? json_string(e) : json_null());
    if (e) {
        OPENSSL_cleanse(e, strlen(e));
        free(e);
    }
}

int answer_secret(struct call *c, const char *member, const uint8_t *pt, size_t n)
{
    if (c->recipient) {
        uint8_t *cms = NULL;
        size_t cms_len = 0;
        struct cl_error err = { 0 };
        if (recipient_wrap(c->recipient, pt, n, &cms, &cms_len, &err) < 0)
            return call_fail_internal(c, &err);
        set_blob(c->out, "CiphertextForRecipient", cms, cms_len);
        free(cms);
        return 0;
    }
    set_blob(c->out, member, pt, n);
    return 0;
}
