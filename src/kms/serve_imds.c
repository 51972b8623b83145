/* SPDX-License-Identifier: Apache-2.0 */
/* The instance metadata service, set up from the host configuration (serve_imds.h). */
#include "serve_imds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nsm_device/hostconf.h"
#include "state/identities.h"
#include "state/tlsgen.h"
#include "util/kmsutil.h"

/*
 * The host's role, as a principal of this account: its name from the ARN
 * (arn:aws:iam::ACCOUNT:role/NAME), created when missing.
 */
static int ensure_role(const struct datadir *d, const char *arn, const char *config,
                       char name[129], struct cl_error *err)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "arn:aws:iam::%s:role/", d->account);
    size_t n = strlen(prefix);
    if (strncmp(arn, prefix, n) != 0)
        return cl_fail(err, CL_EINVAL,
                       "%s: parent_role_arn %s is not a role of this key service's account %s "
                       "(set the data directory up with --account-id, or name a role of %s)",
                       config, arn, d->account, d->account);
    if (strchr(arn + n, '/') || !ident_valid_name(arn + n))
        return cl_fail(err, CL_EINVAL, "%s: parent_role_arn %s: a role with a path is not supported",
                       config, arn);
    snprintf(name, 129, "%s", arn + n);
    struct store_principal p = { 0 };
    int rc = store_principal_get(d->store, arn, &p, NULL);
    if (rc == 0) {
        rc = strcmp(p.kind, "role") ? cl_fail(err, CL_EINVAL, "%s is not a role", arn) : 0;
        store_principal_clear(&p);
        return rc;
    }
    json_t *keys = NULL; /* the role's own access key: not needed, and wiped */
    rc = ident_principal_create(d->store, d->account, name, "role", NULL, &keys, err);
    json_decref(keys);
    if (rc == 0)
        fprintf(stderr, "cloister-kms: created the role %s for the instance metadata service "
                        "(no identity policy: key policies grant it by name)\n", arn);
    return rc;
}

int serve_imds_start(const struct datadir *d, const struct serve_imds_opts *o,
                     struct serve_imds *s, struct cl_error *err)
{
    memset(s, 0, sizeof(*s));
    struct hostconf hc;
    const char *used = NULL;
    int rc = hostconf_load(&hc, &used, err);
    if (rc < 0)
        return rc;
    snprintf(s->host_config, sizeof(s->host_config), "%s", used ? used : "");
    snprintf(s->instance_id, sizeof(s->instance_id), "%s", hc.instance_id);
    snprintf(s->az, sizeof(s->az), "%sa", d->region);
    if (hc.parent_role_arn[0]) {
        rc = ensure_role(d, hc.parent_role_arn, used ? used : "the host configuration",
                         s->role_name, err);
        struct imds_creds_opts co = {
            .store = d->store, .account = d->account, .role_name = s->role_name,
            .session_name = s->instance_id, .duration_s = o->duration_s, .refresh_s = o->refresh_s,
        };
        if (rc == 0)
            rc = imds_creds_new(&co, &s->creds, err);
    }
    char dir[2100];
    datadir_path(d, "imds", dir, sizeof(dir));
    if (rc == 0)
        rc = tlsgen_identity_ensure(dir, err);
    struct imds_identity_opts io = {
        .key_dir = dir, .instance_id = s->instance_id, .account = d->account,
        .region = d->region, .availability_zone = s->az, .private_ip = "127.0.0.1",
        .pending_time = ku_now(),
    };
    if (rc == 0)
        rc = imds_identity_make(&io, &s->identity, err);
    struct imds_opts mo = {
        .host = o->host, .port = o->port, .tokens_required = o->tokens_required,
        .instance_id = s->instance_id, .account = d->account, .region = d->region,
        .availability_zone = s->az, .role_name = s->role_name[0] ? s->role_name : NULL,
        .creds = s->creds, .identity = &s->identity, .started = io.pending_time,
    };
    if (rc == 0)
        rc = imds_start(&mo, &s->server, err);
    if (rc < 0) {
        cl_error_prefix(err, "instance metadata service");
        serve_imds_stop(s);
    }
    return rc;
}

void serve_imds_stop(struct serve_imds *s)
{
    imds_stop(s->server);
    imds_creds_free(s->creds);
    imds_identity_clear(&s->identity);
    memset(s, 0, sizeof(*s));
}
