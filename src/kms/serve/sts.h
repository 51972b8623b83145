/* SPDX-License-Identifier: Apache-2.0 */
/*
 * STS GetCallerIdentity on the key service's endpoint, so that the
 * workshop's `aws sts get-caller-identity` works: AWS's query protocol
 * (form body Action=GetCallerIdentity&Version=2011-06-15, SigV4 for service
 * "sts") answered in XML:
 *
 *   <GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
 *     <GetCallerIdentityResult><Arn/><UserId/><Account/></GetCallerIdentityResult>
 *     <ResponseMetadata><RequestId/></ResponseMetadata>
 *   </GetCallerIdentityResponse>
 *
 * and errors as <ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>.
 */
#ifndef CLOISTER_KMS_STS_H
#define CLOISTER_KMS_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/http.h"

struct sts_answer {
    bool failed;
    int status;
    char code[64];
    char message[700];
    char arn[320];
    char user_id[160];
    char account[16];
};

/* Parses the form body; the action must be GetCallerIdentity (Version, if
 * given, 2011-06-15). On failure fills a's error and returns -1. */
int sts_action(const uint8_t *body, size_t len, struct sts_answer *a);
/* Records an error (code as STS spells it: InvalidClientTokenId, ...). */
void sts_error(struct sts_answer *a, const char *code, const char *message);
void sts_get_caller_identity(struct sts_answer *a, const char *arn, const char *user_id,
                             const char *account);
/* Writes the XML answer into resp (body malloc'd). */
void sts_render(const struct sts_answer *a, const char *request_id, struct http_response *resp);

#endif
