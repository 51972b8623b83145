/* SPDX-License-Identifier: Apache-2.0 */
/* A request's condition context (context.h): keys in insertion order, each with its values. */
#include "policy/context.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ctx_key {
    char *key;
    char **values;
    size_t n, cap;
};

struct policy_context {
    struct ctx_key *keys;
    size_t n, cap;
};

int policy_context_new(struct policy_context **out, struct cl_error *err)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return 0;
}

void policy_context_free(struct policy_context *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->keys[i].n; j++)
            free(c->keys[i].values[j]);
        free(c->keys[i].values);
        free(c->keys[i].key);
    }
    free(c->keys);
    free(c);
}

static struct ctx_key *ctx_find(const struct policy_context *c, const char *key)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strcasecmp(c->keys[i].key, key) == 0)
            return &c->keys[i];
    return NULL;
}

int policy_context_add(struct policy_context *c, const char *key, const char *value,
                       struct cl_error *err)
{
    if (!c || !key || !value)
        return cl_fail(err, CL_EINVAL, "policy_context_add: NULL argument");
    struct ctx_key *k = ctx_find(c, key);
    if (!k) {
        if (c->n == c->cap) {
            size_t ncap = c->cap ? 2 * c->cap : 8;
            struct ctx_key *nk = realloc(c->keys, ncap * sizeof(*nk));
            if (!nk)
                return cl_fail(err, CL_ENOMEM, "out of memory");
            c->keys = nk;
            c->cap = ncap;
        }
        k = &c->keys[c->n];
        memset(k, 0, sizeof(*k));
        k->key = strdup(key);
        if (!k->key)
            return cl_fail(err, CL_ENOMEM, "out of memory");
        c->n++;
    }
    if (k->n == k->cap) {
        size_t ncap = k->cap ? 2 * k->cap : 4;
        char **nv = realloc(k->values, ncap * sizeof(*nv));
        if (!nv)
            return cl_fail(err, CL_ENOMEM, "out of memory");
        k->values = nv;
        k->cap = ncap;
    }
    k->values[k->n] = strdup(value);
    if (!k->values[k->n])
        return cl_fail(err, CL_ENOMEM, "out of memory");
    k->n++;
    return 0;
}

const char *const *policy_context_get(const struct policy_context *c, const char *key, size_t *n)
{
    struct ctx_key *k = ctx_find(c, key);
    *n = k ? k->n : 0;
    return k ? (const char *const *)k->values : NULL;
}
