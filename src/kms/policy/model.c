/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy model's life (model.h) and what policy.h says about a policy
 * without evaluating it: its statements, the AWS type of a parse error, the
 * default key policy.
 */
#include "policy/model.h"

#include <stdio.h>
#include <stdlib.h>

void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void stmt_clear(struct stmt *s)
{
    free(s->sid);
    free_strv(s->p_aws, s->n_aws);
    free_strv(s->p_other, s->n_other);
    free_strv(s->actions, s->n_actions);
    free_strv(s->resources, s->n_resources);
    for (size_t i = 0; i < s->n_conds; i++) {
        free(s->conds[i].op_name);
        free(s->conds[i].key);
        free_strv(s->conds[i].values, s->conds[i].n);
    }
    free(s->conds);
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        stmt_clear(&p->st[i]);
    free(p->st);
    free(p->id);
    free(p);
}

size_t policy_statement_count(const struct policy *p)
{
    return p ? p->n : 0;
}

const char *policy_statement_sid(const struct policy *p, size_t i)
{
    return (p && i < p->n) ? p->st[i].sid : NULL;
}

const char *policy_error_type(int code)
{
    switch (code) {
    case CL_ELIMIT:
        return "LimitExceededException";
    case CL_EINVAL:
        return "ValidationException";
    case CL_ENOMEM:
        return "KMSInternalException";
    default:
        return "MalformedPolicyDocumentException";
    }
}

/* The default key policy, printed as KMS prints policies (docs/kms-policy.md,
 * "Validation"). */
char *policy_default_text(const char *partition, const char *account)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\n"
                 "  \"Version\" : \"2012-10-17\",\n"
                 "  \"Id\" : \"key-default-1\",\n"
                 "  \"Statement\" : [ {\n"
                 "    \"Sid\" : \"Enable IAM User Permissions\",\n"
                 "    \"Effect\" : \"Allow\",\n"
                 "    \"Principal\" : {\n"
                 "      \"AWS\" : \"arn:%s:iam::%s:root\"\n"
                 "    },\n"
                 "    \"Action\" : \"kms:*\",\n"
                 "    \"Resource\" : \"*\"\n"
                 "  } ]\n"
                 "}",
                 partition ? partition : "aws", account ? account : "") < 0)
        return NULL;
    return s;
}
