/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key service's request pipeline, the http_handler of `cloister-kms
 * serve`: POST / only; a form body without X-Amz-Target is STS's query
 * protocol (GetCallerIdentity), anything else KMS's JSON 1.1 protocol
 * (X-Amz-Target: TrentService.<Operation>). Every request is
 * authenticated (serve/authenticate.h), decoded (call/request.h), handed to
 * its operation through the table below (ops/ops.h), answered in AWS's
 * shapes and written to the audit log (serve/answer.h).
 */
#ifndef CLOISTER_KMS_SERVE_DISPATCH_H
#define CLOISTER_KMS_SERVE_DISPATCH_H

#include <stddef.h>

#include "call/call.h"
#include "serve/http.h"

/* One KMS operation: its name in X-Amz-Target and its handler. */
struct kms_op {
    const char *name;
    int (*fn)(struct call *c);
};

/* The operation of that name, or NULL (UnknownOperationException). */
const struct kms_op *kms_op_find(const char *name);
/* Every operation, in name order; *n gets the count. */
const struct kms_op *kms_op_table(size_t *n);

/* The http_handler of the service (arg is a struct kms_service *). */
void kms_handle(void *arg, const struct http_request *req, struct http_response *resp);

#endif
