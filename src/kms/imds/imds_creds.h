/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The instance profile's credentials, as the instance metadata service
 * hands them out: a session of the instance's role (state/identities.h),
 * named after the instance as EC2 names it, minted on first use and again
 * every `refresh` seconds, and always at least fifteen minutes before the
 * current one expires. EC2 promises five ("new credentials at least five
 * minutes before the expiration of the old credentials"), but botocore
 * refreshes credentials with less than fifteen minutes left and extends,
 * locally, instance credentials that expire within ten: handing out fresher
 * ones keeps SDKs on real credentials. Older sessions stay valid until
 * their own expiry; expired ones are pruned from the store when a new one is
 * minted. A failed mint keeps serving the current session while it has more
 * than the margin left. Thread-safe.
 */
#ifndef CLOISTER_KMS_IMDS_CREDS_H
#define CLOISTER_KMS_IMDS_CREDS_H

#include <cloister/error.h>

#include "state/store.h"

/* How long before its expiry a session is replaced at the latest. */
#define IMDS_CREDS_MARGIN_S 900
#define IMDS_CREDS_DURATION_MIN (2 * IMDS_CREDS_MARGIN_S)

struct imds_creds_opts {
    struct store *store;
    const char *account;
    const char *role_name;    /* a role of the account */
    const char *session_name; /* the instance id */
    long duration_s;          /* IMDS_CREDS_DURATION_MIN..43200 (STS's maximum) */
    long refresh_s;           /* 1..duration_s - IMDS_CREDS_MARGIN_S */
};

struct imds_creds;

CL_MUST_USE int imds_creds_new(const struct imds_creds_opts *o, struct imds_creds **out,
                               struct cl_error *err);
/*
 * The current credentials as the metadata service answers
 * iam/security-credentials/ROLE: {"Code", "LastUpdated", "Type",
 * "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}, pretty-printed
 * as EC2 prints it. *json is malloc'd and holds a secret: the caller wipes
 * it (ku_wipe_free).
 */
CL_MUST_USE int imds_creds_get(struct imds_creds *c, char **json, struct cl_error *err);
/* When the current credentials were minted (0 before the first). */
double imds_creds_updated(struct imds_creds *c);
void imds_creds_free(struct imds_creds *c);

#endif
