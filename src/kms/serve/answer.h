/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a served call leaves behind: KMS's JSON answer (the result, or the
 * call's error in AWS's shape) and the call's line in the audit log.
 */
#ifndef CLOISTER_KMS_SERVE_ANSWER_H
#define CLOISTER_KMS_SERVE_ANSWER_H

#include "call/call.h"
#include "serve/http.h"

/* KMS's JSON 1.1 answer: c->out with 200, or {"__type", "message"} with the
 * error's status ("Message" where AWS spells it so; docs/kms.md, "Error
 * shapes"). */
void answer_json(const struct call *c, struct http_response *resp);

/* The key's name in the error body of a type: "Message" or "message". */
const char *answer_message_member(const char *type);

/* Appends the call's audit line (when the service keeps a log); source is
 * the eventSource ("kms.amazonaws.com", "sts.amazonaws.com"). A failure to
 * write is reported on stderr: the answer has gone out already. */
void write_audit(const struct call *c, const char *source);

#endif
