/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-kms's data directory (docs/kms.md, "Data directory"): opened by
 * every subcommand, set up on first use: the master key, the store, the
 * account and region (fixed then), the administrator with its credentials
 * in DIR/credentials, DIR/config and the TLS CA and server certificate.
 */
#ifndef CLOISTER_KMS_DATADIR_H
#define CLOISTER_KMS_DATADIR_H

#include <stddef.h>

#include <cloister/error.h>

#include "state/store.h"

struct datadir {
    char dir[2048];
    struct store *store;
    char region[32];
    char account[16];
};

/* region and account: the first start's choice, or NULL (stored, else the
 * default region and a random account id); a later different one is refused. */
CL_MUST_USE int datadir_open(const char *dir, const char *region, const char *account,
                             struct datadir *d, struct cl_error *err);
void datadir_close(struct datadir *d);
/* DIR/name into out. */
void datadir_path(const struct datadir *d, const char *name, char *out, size_t cap);

#endif
