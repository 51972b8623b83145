/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-kms explain --policy FILE --action A --principal ARN
 *     [--account ID] [--root] [--resource ARN]
 *     [--identity-policy FILE]... [--context KEY=VALUE]...
 *     [--attestation-doc FILE] [--grant FILE]...
 *
 * --context may repeat a key: its values accumulate (multi-valued keys such
 * as kms:EncryptionContextKeys). --attestation-doc adds the document's
 * kms:RecipientAttestation:* keys WITHOUT verifying it (explain is a
 * what-if tool; the server always verifies). --grant adds a grant of the key
 * (a GrantListEntry, as ListGrants answers one, or a whole ListGrants
 * answer): when the policies leave the request implicitly denied, the first
 * grant that allows it decides, as in the server (policy/grant.h).
 */
#include "explain_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cloister/attestation.h>
#include <cloister/error.h>

#include "base/fileio.h"
#include "call/context.h"
#include "call/recipient.h"
#include "policy/grant.h"
#include "policy/policy.h"

#define EXPLAIN_MAX_IDENTITY 16
#define EXPLAIN_MAX_GRANTS   16

static int usage(void)
{
    fprintf(stderr,
            "usage: cloister-kms explain --policy FILE --action ACTION --principal ARN\n"
            "         [--account ID] [--root] [--resource ARN] [--identity-policy FILE]...\n"
            "         [--context KEY=VALUE]... [--attestation-doc FILE] [--grant FILE]...\n");
    return 2;
}

static int fail(const char *what, const struct cl_error *err)
{
    fprintf(stderr, "cloister-kms explain: %s: %s\n", what, err->reason);
    return 2;
}

static int load_policy(const char *path, bool key_policy, struct policy **out, struct cl_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, 4 * POLICY_MAX_BYTES, &data, &len, err);
    if (rc < 0)
        return rc;
    struct policy_parse_opts o = { .key_policy = key_policy };
    rc = policy_parse((const char *)data, len, &o, out, err);
    if (rc < 0)
        cl_error_prefix(err, "%s (%s)", path, policy_error_type(rc));
    free(data);
    return rc;
}

/* The document's kms:RecipientAttestation:* keys, as the server would add
 * them for a verified Recipient; this document is not verified. */
static int add_doc_context(const char *path, struct policy_context *ctx, struct cl_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    struct recipient *r = NULL;
    int rc = file_read_all(path, ATTEST_MAX_DOCUMENT, &data, &len, err);
    if (rc == 0)
        rc = recipient_parse_unverified(data, len, &r, err);
    if (rc == 0)
        rc = context_add_recipient(ctx, r, err);
    recipient_free(r);
    free(data);
    return rc;
}

/* arn:aws:iam::123456789012:user/x -> 123456789012 */
static bool account_of(const char *arn, char out[13])
{
    const char *p = arn;
    for (int i = 0; i < 4; i++) {
        p = strchr(p, ':');
        if (!p)
            return false;
        p++;
    }
    const char *e = strchr(p, ':');
    if (!e || e - p != 12)
        return false;
    memcpy(out, p, 12);
    out[12] = '\0';
    return true;
}

/* What the flags ask for. */
struct explain_args {
    const char *policy_path, *action, *principal, *account, *resource, *doc_path;
    const char *identity_paths[EXPLAIN_MAX_IDENTITY];
    size_t n_identity;
    const char *grant_paths[EXPLAIN_MAX_GRANTS];
    size_t n_grants;
    bool is_root;
};

/* Reads the flags; --context values go into ctx. Returns 0, or the exit
 * status (2) after saying why, or -1 for --help (exit 0). */
static int parse_args(int argc, char **argv, struct explain_args *a, struct policy_context *ctx)
{
    static const struct option opts[] = {
        { "policy", required_argument, NULL, 'p' },
        { "action", required_argument, NULL, 'a' },
        { "principal", required_argument, NULL, 'P' },
        { "account", required_argument, NULL, 'A' },
        { "root", no_argument, NULL, 'R' },
        { "resource", required_argument, NULL, 'r' },
        { "identity-policy", required_argument, NULL, 'i' },
        { "context", required_argument, NULL, 'c' },
        { "attestation-doc", required_argument, NULL, 'd' },
        { "grant", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(a, 0, sizeof(*a));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            a->policy_path = optarg;
            break;
        case 'a':
            a->action = optarg;
            break;
        case 'P':
            a->principal = optarg;
            break;
        case 'A':
            a->account = optarg;
            break;
        case 'R':
            a->is_root = true;
            break;
        case 'r':
            a->resource = optarg;
            break;
        case 'i':
            if (a->n_identity == EXPLAIN_MAX_IDENTITY) {
                fprintf(stderr, "cloister-kms explain: at most %d --identity-policy\n",
                        EXPLAIN_MAX_IDENTITY);
                return 2;
            }
            a->identity_paths[a->n_identity++] = optarg;
            break;
        case 'c': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr, "cloister-kms explain: --context wants KEY=VALUE, got %s\n",
                        optarg);
                return 2;
            }
            *eq = '\0';
            struct cl_error err = { 0 };
            int rc = policy_context_add(ctx, optarg, eq + 1, &err);
            *eq = '=';
            if (rc < 0)
                return fail("context", &err);
            break;
        }
        case 'd':
            a->doc_path = optarg;
            break;
        case 'g':
            if (a->n_grants == EXPLAIN_MAX_GRANTS) {
                fprintf(stderr, "cloister-kms explain: at most %d --grant\n", EXPLAIN_MAX_GRANTS);
                return 2;
            }
            a->grant_paths[a->n_grants++] = optarg;
            break;
        case 'h':
            usage();
            return -1;
        default:
            return usage();
        }
    }
    if (optind != argc || !a->policy_path || !a->action || !a->principal)
        return usage();
    return 0;
}

/* The grants of the --grant files, appended to grants: each file one
 * GrantListEntry or a ListGrants answer ({"Grants": [...]}). */
static int load_grants(const struct explain_args *a, json_t *grants, struct cl_error *err)
{
    for (size_t i = 0; i < a->n_grants; i++) {
        json_error_t je;
        json_t *v = json_load_file(a->grant_paths[i], JSON_REJECT_DUPLICATES, &je);
        if (!v)
            return cl_fail(err, CL_EFORMAT, "%s: %s (line %d)", a->grant_paths[i], je.text,
                           je.line);
        json_t *list = json_object_get(v, "Grants");
        if (json_is_array(list))
            json_array_extend(grants, list);
        else if (json_is_object(v) && json_is_array(json_object_get(v, "Operations")))
            json_array_append(grants, v);
        else {
            json_decref(v);
            return cl_fail(err, CL_EFORMAT,
                           "%s: not a grant (GrantListEntry) or a ListGrants answer",
                           a->grant_paths[i]);
        }
        json_decref(v);
    }
    return 0;
}

/*
 * The grants' part of the trace: "Grants" (per grant: GrantId, Applies,
 * Why) and, when the policies left the request implicitly denied and a
 * grant allows it, the grant's verdict (Decision Allow, DecidedBy
 * {"Policy": "grant", "GrantId"}). *json is replaced.
 */
static int explain_grants(const json_t *grants, const struct policy_request *req,
                          struct policy_result *res, char **json, struct cl_error *err)
{
    json_t *root = json_loads(*json, 0, NULL), *trace = json_array();
    if (!root || !trace) {
        json_decref(root);
        json_decref(trace);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    struct policy_grant_result gr;
    policy_grants_evaluate(grants, req, NULL, &gr, trace);
    if (res->decision == POLICY_DENY_IMPLICIT && gr.index >= 0) {
        res->decision = POLICY_ALLOW;
        json_object_set_new(root, "Decision", json_string("Allow"));
        json_object_set_new(root, "DecidedBy",
                            json_pack("{s:s, s:s}", "Policy", "grant", "GrantId", gr.grant_id));
        json_object_set_new(root, "Reason", json_string(gr.reason));
    }
    json_object_set_new(root, "Grants", trace);
    char *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!out)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    free(*json);
    *json = out;
    return 0;
}

int kms_explain_main(int argc, char **argv)
{
    struct explain_args a;
    struct cl_error err = { 0 };
    struct policy_context *ctx = NULL;
    struct policy *kp = NULL;
    struct policy *ips[EXPLAIN_MAX_IDENTITY] = { 0 };
    json_t *grants = json_array();
    char *json = NULL;
    char acct[13];
    int status = 2;

    if (policy_context_new(&ctx, &err) < 0)
        return fail("context", &err);
    int rc = parse_args(argc, argv, &a, ctx);
    if (rc != 0) {
        status = rc < 0 ? 0 : rc;
        goto out;
    }
    if (!a.account) {
        if (!account_of(a.principal, acct)) {
            fprintf(stderr, "cloister-kms explain: cannot tell the account of %s; pass --account\n",
                    a.principal);
            goto out;
        }
        a.account = acct;
    }
    if (!a.is_root) {
        char root_arn[64];
        snprintf(root_arn, sizeof(root_arn), "arn:aws:iam::%s:root", a.account);
        a.is_root = strcmp(a.principal, root_arn) == 0;
    }
    if (load_policy(a.policy_path, true, &kp, &err) < 0) {
        status = fail("key policy", &err);
        goto out;
    }
    for (size_t i = 0; i < a.n_identity; i++) {
        if (load_policy(a.identity_paths[i], false, &ips[i], &err) < 0) {
            status = fail("identity policy", &err);
            goto out;
        }
    }
    if (a.doc_path && add_doc_context(a.doc_path, ctx, &err) < 0) {
        status = fail("attestation document", &err);
        goto out;
    }
    if (!grants || load_grants(&a, grants, &err) < 0) {
        status = fail("grant", &err);
        goto out;
    }
    struct policy_request req = {
        .action = a.action,
        .principal_arn = a.principal,
        .account = a.account,
        .is_account_root = a.is_root,
        .resource_arn = a.resource,
        .identity_policies = (const struct policy *const *)ips,
        .n_identity = a.n_identity,
        .context = ctx,
    };
    struct policy_result res;
    if (policy_explain(kp, &req, &res, &json, &err) < 0) {
        status = fail("evaluation", &err);
        goto out;
    }
    if (a.n_grants > 0 && explain_grants(grants, &req, &res, &json, &err) < 0) {
        status = fail("grants", &err);
        goto out;
    }
    printf("%s\n", json);
    status = res.decision == POLICY_ALLOW ? 0 : 1;
out:
    free(json);
    json_decref(grants);
    for (size_t i = 0; i < EXPLAIN_MAX_IDENTITY; i++)
        policy_free(ips[i]);
    policy_free(kp);
    policy_context_free(ctx);
    return status;
}
