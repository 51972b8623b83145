/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials, region and endpoint as the AWS tools find them, for the
 * example's parent-side client:
 *   credentials  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
 *                else the shared-credentials file (AWS_SHARED_CREDENTIALS_FILE,
 *                default ~/.aws/credentials), profile AWS_PROFILE or "default",
 *                else the instance profile's from the instance metadata
 *                service (IMDSv2; AWS_EC2_METADATA_SERVICE_ENDPOINT, default
 *                http://169.254.169.254), as boto3's default chain;
 *   region       AWS_REGION, AWS_DEFAULT_REGION, else `region` of the profile in
 *                the config file (AWS_CONFIG_FILE, default ~/.aws/config);
 *   endpoint     AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, else none (AWS's own);
 *   CA bundle    AWS_CA_BUNDLE, else the system trust store.
 */
#ifndef EXAMPLE_AWS_ENV_H
#define EXAMPLE_AWS_ENV_H

#include <cloister/error.h>

struct aws_env {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL for long-term keys */
    char *region;
    char *endpoint_url;  /* NULL: AWS's endpoint */
    char *ca_bundle;     /* NULL: system default */
};

int aws_env_load(struct aws_env *env, struct cl_error *err);

/* Wipes the secrets and frees everything. */
void aws_env_release(struct aws_env *env);

#endif
