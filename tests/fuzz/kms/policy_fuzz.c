/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the key-policy parser (src/kms/policy/parse.c), then
 * the evaluator and explain trace on whatever parses. Linked with
 * cloister_kms_core (src/kms/CMakeLists.txt). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p = NULL, *ip = NULL;
    struct policy_parse_opts ko = {.key_policy = true};
    struct policy_parse_opts io = {.key_policy = false};
    if (policy_parse((const char *)data, size, &ko, &p, NULL) < 0)
        p = NULL;
    if (policy_parse((const char *)data, size, &io, &ip, NULL) < 0)
        ip = NULL;
    if (!p && !ip)
        return 0;
    struct policy_context *ctx = NULL;
    if (policy_context_new(&ctx, NULL) < 0)
        goto out;
    static const char *const keys[][2] = {
        { "kms:RecipientAttestation:PCR0", "00ab" },
        { "kms:EncryptionContextKeys", "a" },
        { "kms:EncryptionContextKeys", "b" },
        { "aws:SourceIp", "192.0.2.1" },
        { "aws:SecureTransport", "true" },
        { "aws:CurrentTime", "2025-01-01T00:00:00Z" },
        { "kms:ScheduleKeyDeletionPendingWindowInDays", "7" },
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (policy_context_add(ctx, keys[i][0], keys[i][1], NULL) < 0)
            goto out;
    const struct policy *ips[1] = {ip};
    static const char *const principals[] = {
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:sts::111122223333:assumed-role/r/s",
    };
    for (size_t i = 0; i < 3; i++) {
        struct policy_request req = {
            .action = i == 1 ? "kms:PutKeyPolicy" : "kms:Decrypt",
            .principal_arn = principals[i],
            .account = "111122223333",
            .is_account_root = i == 0,
            .resource_arn = "arn:aws:kms:us-east-1:111122223333:key/k",
            .identity_policies = ips,
            .n_identity = ip ? 1 : 0,
            .context = ctx,
        };
        struct policy_result res;
        char *json = NULL;
        if (policy_explain(p, &req, &res, &json, NULL) == 0) {
            char msg[512];
            policy_denied_message(&req, &res, msg, sizeof(msg));
        }
        free(json);
    }
out:
    policy_context_free(ctx);
    policy_free(p);
    policy_free(ip);
    return 0;
}
