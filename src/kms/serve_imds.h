/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister-kms serve --imds HOST:PORT`: the instance metadata service set
 * up from the host configuration (lib/nsm_device/hostconf.h, the file that
 * gives enclaves PCR3 and PCR4): its instance id, and its parent role, whose
 * sessions are the instance profile's credentials. The role must be of this
 * key service's account (so that a key policy naming it and an attestation's
 * PCR3 name the same role); it is created, without an identity policy, when
 * the store does not have it yet.
 */
#ifndef CLOISTER_KMS_SERVE_IMDS_H
#define CLOISTER_KMS_SERVE_IMDS_H

#include <stdbool.h>
#include <stdint.h>

#include <cloister/error.h>

#include "datadir.h"
#include "imds/imds.h"

#define IMDS_DEFAULT_DURATION 21600 /* six hours, as EC2's instance credentials */
#define IMDS_DEFAULT_REFRESH  3600

struct serve_imds_opts {
    const char *host;
    uint16_t port;
    bool tokens_required;
    long duration_s;
    long refresh_s;
};

struct serve_imds {
    char instance_id[40];
    char role_name[129]; /* empty: no role */
    char az[40];
    char host_config[4096]; /* the file read, or "" for the defaults */
    struct imds_creds *creds;
    struct imds_identity identity;
    struct imds *server;
};

CL_MUST_USE int serve_imds_start(const struct datadir *d, const struct serve_imds_opts *o,
                                 struct serve_imds *s, struct cl_error *err);
void serve_imds_stop(struct serve_imds *s);

#endif
