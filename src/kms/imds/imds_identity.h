/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The instance identity document (/latest/dynamic/instance-identity/) and
 * its signatures, made once at start: `document` (EC2's JSON fields, with
 * what an emulated host can say truthfully), `signature` (base64 of
 * RSA-SHA256 PKCS #1 v1.5 over the document's bytes) and `rsa2048` (base64
 * of a PKCS #7 SignedData holding the document, RSA-2048, SHA-256), both by
 * the key of tlsgen_identity_ensure(), whose certificate is published next
 * to it. EC2's `pkcs7` form (DSA) is not offered.
 */
#ifndef CLOISTER_KMS_IMDS_IDENTITY_H
#define CLOISTER_KMS_IMDS_IDENTITY_H

#include <cloister/error.h>

struct imds_identity_opts {
    const char *key_dir; /* identity.key and identity.pem */
    const char *instance_id;
    const char *account;
    const char *region;
    const char *availability_zone;
    const char *private_ip;
    double pending_time; /* when the "instance" started: the service's start */
};

struct imds_identity {
    char *document;
    char *signature;
    char *rsa2048;
};

CL_MUST_USE int imds_identity_make(const struct imds_identity_opts *o, struct imds_identity *out,
                                   struct cl_error *err);
void imds_identity_clear(struct imds_identity *id);

#endif
