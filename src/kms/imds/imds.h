/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The instance metadata service of the parent "instance" (docs/parent.md):
 * what EC2 answers at http://169.254.169.254, served by cloister-kms on an
 * address of its own (plain HTTP, loopback by default), from the same
 * identities the key service authenticates:
 *
 *   PUT /latest/api/token                  IMDSv2 session token (TTL 1..21600 s)
 *   /latest/meta-data/instance-id          the host's instance id (host.conf, PCR4)
 *   /latest/meta-data/placement/{region,availability-zone}
 *   /latest/meta-data/services/{domain,partition}
 *   /latest/meta-data/iam/info             the instance profile
 *   /latest/meta-data/iam/security-credentials/[ROLE]   the role's session
 *   /latest/dynamic/instance-identity/{document,signature,rsa2048}
 *
 * IMDSv1 (no token) is answered unless tokens are required; a token that is
 * present is always checked (401 when invalid or expired), as EC2 does. A
 * token request carrying X-Forwarded-For is refused (403): EC2's guard
 * against tokens fetched through a proxy. A request in absolute form
 * (`GET http://169.254.169.254/... HTTP/1.1`, what an HTTP client sends to a
 * proxy) is served too, so HTTP_PROXY can lead code that hard-codes the
 * address here; any other host is refused (403).
 */
#ifndef CLOISTER_KMS_IMDS_H
#define CLOISTER_KMS_IMDS_H

#include <stdbool.h>
#include <stdint.h>

#include <cloister/error.h>

#include "imds/imds_creds.h"
#include "imds/imds_identity.h"

#define IMDS_TOKEN_TTL_MAX 21600

struct imds_opts {
    const char *host;
    uint16_t port; /* 0: any free port */
    bool tokens_required;
    const char *instance_id;
    const char *account;
    const char *region;
    const char *availability_zone;
    const char *role_name;        /* NULL: an instance without a profile (iam/ is 404) */
    struct imds_creds *creds;     /* the role's credentials; borrowed */
    const struct imds_identity *identity; /* borrowed */
    double started;
};

struct imds;

CL_MUST_USE int imds_start(const struct imds_opts *o, struct imds **out, struct cl_error *err);
/* The service without its listener, and its http_handler (arg: the struct
 * imds *): what imds_start() serves, for the fuzz target. */
CL_MUST_USE int imds_new(const struct imds_opts *o, struct imds **out, struct cl_error *err);
struct http_request;
struct http_response;
void imds_handle(void *arg, const struct http_request *req, struct http_response *resp);
uint16_t imds_port(const struct imds *m);
/* "http://HOST:PORT" as bound (http_url_authority). */
void imds_url(const struct imds *m, char *out, size_t cap);
void imds_stop(struct imds *m);

#endif
