/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A parsed policy as the policy layer's files see it (parse.c builds it,
 * evaluate.c reads it, explain.c names its parts); not part of the policy
 * interface (policy.h), which keeps struct policy opaque.
 */
#ifndef CLOISTER_KMS_POLICY_MODEL_H
#define CLOISTER_KMS_POLICY_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/* A condition operator without its ForAnyValue:/ForAllValues: prefix and
 * IfExists suffix. */
enum cond_base {
    OP_STRING_EQUALS,
    OP_STRING_NOT_EQUALS,
    OP_STRING_EQUALS_IC,
    OP_STRING_NOT_EQUALS_IC,
    OP_STRING_LIKE,
    OP_STRING_NOT_LIKE,
    OP_NUMERIC_EQUALS,
    OP_NUMERIC_NOT_EQUALS,
    OP_NUMERIC_LT,
    OP_NUMERIC_LE,
    OP_NUMERIC_GT,
    OP_NUMERIC_GE,
    OP_DATE_EQUALS,
    OP_DATE_NOT_EQUALS,
    OP_DATE_LT,
    OP_DATE_LE,
    OP_DATE_GT,
    OP_DATE_GE,
    OP_BOOL,
    OP_BINARY_EQUALS,
    OP_IP_ADDRESS,
    OP_NOT_IP_ADDRESS,
    OP_ARN_EQUALS,
    OP_ARN_LIKE,
    OP_ARN_NOT_EQUALS,
    OP_ARN_NOT_LIKE,
    OP_NULL,
};

enum set_op { SET_NONE, SET_ANY, SET_ALL };

struct cond {
    char *op_name; /* as written */
    enum cond_base op;
    bool negated;
    enum set_op set;
    bool if_exists;
    char *key;
    char **values;
    size_t n;
};

enum principal_mode { PRIN_NONE, PRIN_PRINCIPAL, PRIN_NOT_PRINCIPAL };

struct stmt {
    char *sid;
    bool deny;
    enum principal_mode pmode;
    bool p_any;   /* "*" or {"AWS": "*"} */
    char **p_aws; /* AWS principals, account ids normalised to ...:root */
    size_t n_aws;
    char **p_other; /* Service / Federated / CanonicalUser principals */
    size_t n_other;
    bool has_action, not_action;
    char **actions;
    size_t n_actions;
    bool has_resource, not_resource;
    char **resources;
    size_t n_resources;
    struct cond *conds;
    size_t n_conds;
};

/* A parsed, validated policy document (policy.h). */
struct policy {
    bool key_policy;
    char *id;
    struct stmt *st;
    size_t n;
};

/* Frees n strings and the array. */
void free_strv(char **v, size_t n);

#endif
