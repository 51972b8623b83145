/* SPDX-License-Identifier: Apache-2.0 */
/* The instance profile's credentials, minted and refreshed (imds_creds.h). */
#include "imds/imds_creds.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "state/identities.h"
#include "util/kmsutil.h"

struct imds_creds {
    struct imds_creds_opts o;
    char role_name[129];
    char session_name[65];
    pthread_mutex_t mu;
    char *json;       /* the current answer; holds the secret */
    double minted;    /* when it was minted */
    double expires;   /* when its session expires */
};

int imds_creds_new(const struct imds_creds_opts *o, struct imds_creds **out, struct cl_error *err)
{
    *out = NULL;
    if (o->duration_s < IMDS_CREDS_DURATION_MIN || o->duration_s > 43200)
        return cl_fail(err, CL_EINVAL, "credential duration must be %d..43200 seconds",
                       IMDS_CREDS_DURATION_MIN);
    if (o->refresh_s < 1 || o->refresh_s > o->duration_s - IMDS_CREDS_MARGIN_S)
        return cl_fail(err, CL_EINVAL, "credential refresh must be 1..%ld seconds (the duration less %d)",
                       o->duration_s - IMDS_CREDS_MARGIN_S, IMDS_CREDS_MARGIN_S);
    struct imds_creds *c = calloc(1, sizeof(*c));
    if (!c)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    c->o = *o;
    snprintf(c->role_name, sizeof(c->role_name), "%s", o->role_name);
    snprintf(c->session_name, sizeof(c->session_name), "%s", o->session_name);
    c->o.role_name = c->role_name;
    c->o.session_name = c->session_name;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

/* A new session of the role, in IMDS's shape, replacing the current one. */
static int mint(struct imds_creds *c, double now, struct cl_error *err)
{
    json_t *sess = NULL;
    int rc = ident_session_create(c->o.store, c->o.account, c->role_name, c->session_name,
                                  c->o.duration_s, &sess, err);
    if (rc < 0)
        return rc;
    json_t *cr = json_object_get(sess, "Credentials");
    char updated[32];
    ku_iso8601((time_t)now, updated);
    json_t *answer = json_pack("{s:s, s:s, s:s, s:O, s:O, s:O, s:O}", "Code", "Success",
                               "LastUpdated", updated, "Type", "AWS-HMAC", "AccessKeyId",
                               json_object_get(cr, "AccessKeyId"), "SecretAccessKey",
                               json_object_get(cr, "SecretAccessKey"), "Token",
                               json_object_get(cr, "SessionToken"), "Expiration",
                               json_object_get(cr, "Expiration"));
    char *text = answer ? json_dumps(answer, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(answer);
    json_decref(sess);
    if (!text)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    ku_wipe_free(c->json);
    c->json = text;
    c->minted = now;
    c->expires = (double)((long)now + c->o.duration_s);
    /* the sessions this service minted before, and any other, once expired */
    int removed = 0;
    if (store_access_key_prune(c->o.store, now, &removed, NULL) < 0)
        removed = 0;   /* the next mint tries again */
    return 0;
}

int imds_creds_get(struct imds_creds *c, char **json, struct cl_error *err)
{
    *json = NULL;
    double now = ku_now();
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    if (!c->json || now - c->minted >= (double)c->o.refresh_s ||
        c->expires - now <= IMDS_CREDS_MARGIN_S) {
        rc = mint(c, now, err);
        /* the store failed: the current session, while it is fresh enough */
        if (rc < 0 && c->json && c->expires - now > IMDS_CREDS_MARGIN_S)
            rc = 0;
    }
    if (rc == 0 && !(*json = strdup(c->json)))
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    pthread_mutex_unlock(&c->mu);
    return rc;
}

double imds_creds_updated(struct imds_creds *c)
{
    pthread_mutex_lock(&c->mu);
    double t = c->minted;
    pthread_mutex_unlock(&c->mu);
    return t;
}

void imds_creds_free(struct imds_creds *c)
{
    if (!c)
        return;
    ku_wipe_free(c->json);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
