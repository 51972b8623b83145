/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SigV4 authentication of a call (header authentication, sigv4.h): the
 * Authorization header, X-Amz-Date within the allowed skew, the credential
 * scope (region, service), the access key and session token
 * (state/identities.h), then the signature. Refusals are recorded in the
 * call in both protocols' words: KMS's exception type and STS's error code
 * (docs/kms.md, "Authentication (SigV4)").
 */
#ifndef CLOISTER_KMS_SERVE_AUTHENTICATE_H
#define CLOISTER_KMS_SERVE_AUTHENTICATE_H

#include <cloister/error.h>

#include "call/call.h"
#include "serve/http.h"

/* Authenticates h for service ("kms" or "sts"): 0 with c->caller filled,
 * or -1 with the refusal recorded (c->caller.access_key still names the
 * key for the audit line when the header named one). */
CL_MUST_USE int authenticate(struct call *c, const struct http_request *h, const char *service);

#endif
