/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parent instance's world for a program on the host (docs/parent.md):
 * where cloister-kms and its instance metadata service are, read from the
 * endpoints file `cloister-kms serve` writes, turned into what AWS SDKs and
 * CLIs read: environment variables, a CA bundle, and an AWS SDK data path
 * whose endpoint rule sets send KMS and STS to cloister-kms (for the clients
 * that predate AWS_ENDPOINT_URL_<SERVICE>: botocore before 1.31, so
 * Debian 12's boto3 and AWS CLI v2). Used by `cloister exec` and
 * `cloister env`.
 */
#ifndef CLOISTER_PARENT_ENV_H
#define CLOISTER_PARENT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cloister/error.h>

/* The endpoints file: $CLOISTER_ENDPOINTS, else this (the packaged
 * cloister-kms unit writes it there). */
#define PARENT_ENV_ENDPOINTS_VAR "CLOISTER_ENDPOINTS"
#define PARENT_ENV_ENDPOINTS_DEFAULT "/run/cloister-kms/endpoints.json"
#define PARENT_ENV_MAX_VARS 16

struct parent_env {
    char path[4096];       /* the endpoints file read */
    char region[32];
    char kms_url[320];
    char sts_url[320];
    char imds_url[320];    /* "" without a metadata service */
    char *ca_pem;          /* the service's CA, or NULL (plain HTTP) */
    char files[4096];      /* where parent_env_prepare() wrote the generated files */
    struct sockaddr_storage imds_addr; /* imds_url's address, when imds_url is set */
    socklen_t imds_addr_len;
    char *vars[PARENT_ENV_MAX_VARS + 1]; /* "NAME=value", NULL-terminated */
};

/*
 * Reads the endpoints file. CL_ENOTFOUND when $CLOISTER_ENDPOINTS is unset
 * and the default file does not exist (*named false: nothing was asked
 * for); any other failure names the file.
 */
CL_MUST_USE int parent_env_load(struct parent_env *pe, bool *named, struct cl_error *err);
/* The same from text (len bytes) read from path (named in errors). */
CL_MUST_USE int parent_env_parse(const char *text, size_t len, const char *path,
                                 struct parent_env *pe, struct cl_error *err);

/*
 * Writes the generated files into a directory private to the user
 * ($XDG_RUNTIME_DIR/cloister, else /tmp/cloister-<uid>; refused unless it
 * is the user's own, mode 0700), one subdirectory per endpoints file
 * content: the CA bundle (the system's CAs and the service's) and the AWS
 * data path. Then fills pe->vars.
 */
CL_MUST_USE int parent_env_prepare(struct parent_env *pe, struct cl_error *err);

void parent_env_clear(struct parent_env *pe);

#endif
