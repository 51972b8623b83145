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
 * and errors as
 * <ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>.
 */
#ifndef CLOISTER_KMS_SERVE_STS_H
#define CLOISTER_KMS_SERVE_STS_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#include "call/kms_error.h"
#include "serve/http.h"
#include "state/identities.h"

/* Reads the form body: the action must be GetCallerIdentity (Version, if
 * given, 2011-06-15). On failure records the refusal in e, in STS's words
 * (MalformedInput, MissingAction, InvalidAction), and returns -1. */
CL_MUST_USE int sts_action(const uint8_t *body, size_t len, struct kms_error *e);

/* Writes STS's XML answer into resp (body malloc'd): the identity of the
 * authenticated caller, or with caller NULL e's error (status by STS's
 * code). */
void sts_render(const struct kms_error *e, const struct ident_caller *caller,
                const char *request_id, struct http_response *resp);

#endif
