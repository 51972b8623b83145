/* SPDX-License-Identifier: Apache-2.0 */
/* Principals, access keys and sessions of the one account (identities.h). */
#include "state/identities.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "base/base64.h"
#include "util/kmsutil.h"

bool ident_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("+=,.@_-", c)))
            return false;
    }
    return true;
}

/* n characters from alphabet, uniformly (rejection sampling on bytes). */
static int random_chars(char *out, size_t n, const char *alphabet, struct cl_error *err)
{
    size_t a = strlen(alphabet);
    size_t limit = 256 - 256 % a;
    size_t i = 0;
    while (i < n) {
        uint8_t buf[64];
        int rc = ku_random(buf, sizeof(buf), err);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < sizeof(buf) && i < n; j++)
            if (buf[j] < limit)
                out[i++] = alphabet[buf[j] % a];
    }
    out[n] = 0;
    return 0;
}

#define UPPER_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define SECRET_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/* A fresh access key pair with the given 4-letter prefix (AKIA/ASIA). */
static int new_access_key(struct store_access_key *k, const char *prefix, struct cl_error *err)
{
    memcpy(k->akid, prefix, 4);
    int rc = random_chars(k->akid + 4, 16, UPPER_ALNUM, err);
    if (rc == 0)
        rc = random_chars(k->secret, 40, SECRET_CHARS, err);
    return rc;
}

int ident_principal_create(struct store *st, const char *account, const char *name,
                           const char *kind, const char *identity_policy, json_t **out,
                           struct cl_error *err)
{
    *out = NULL;
    if (!ident_valid_name(name))
        return cl_fail(err, CL_EINVAL,
                       "invalid principal name '%s': 1-64 characters of A-Z a-z 0-9 +=,.@_-", name);
    bool role = strcmp(kind, "role") == 0;
    if (!role && strcmp(kind, "user") != 0)
        return cl_fail(err, CL_EINVAL, "principal kind must be user or role");
    struct store_principal p = {0};
    snprintf(p.arn, sizeof(p.arn), "arn:aws:iam::%s:%s/%s", account, kind, name);
    snprintf(p.name, sizeof(p.name), "%s", name);
    snprintf(p.kind, sizeof(p.kind), "%s", kind);
    memcpy(p.unique_id, role ? "AROA" : "AIDA", 4);
    int rc = random_chars(p.unique_id + 4, 17, UPPER_ALNUM, err);
    if (rc < 0)
        return rc;
    p.identity_policy = (char *)identity_policy;
    double now = ku_now();
    rc = store_principal_create(st, &p, now, err);
    if (rc < 0)
        return rc;
    struct store_access_key k = {0};
    rc = new_access_key(&k, "AKIA", err);
    if (rc == 0) {
        snprintf(k.principal_arn, sizeof(k.principal_arn), "%s", p.arn);
        snprintf(k.caller_arn, sizeof(k.caller_arn), "%s", p.arn);
        snprintf(k.user_id, sizeof(k.user_id), "%s", p.unique_id);
        rc = store_access_key_create(st, &k, now, err);
    }
    if (rc == 0) {
        *out = json_pack("{s:s, s:s, s:s}", "Arn", p.arn, "AccessKeyId", k.akid, "SecretAccessKey",
                         k.secret);
        if (!*out)
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
    }
    store_access_key_clear(&k);
    return rc;
}

int ident_session_create(struct store *st, const char *account, const char *role,
                         const char *session_name, long duration_s, json_t **out,
                         struct cl_error *err)
{
    *out = NULL;
    if (duration_s < 900 || duration_s > 43200)
        return cl_fail(err, CL_EINVAL, "duration must be 900..43200 seconds, not %ld", duration_s);
    char arn[256];
    const char *prefix = "arn:aws:iam::";
    if (strncmp(role, prefix, strlen(prefix)) == 0)
        snprintf(arn, sizeof(arn), "%s", role);
    else
        snprintf(arn, sizeof(arn), "arn:aws:iam::%s:role/%s", account, role);
    struct store_principal p = {0};
    int rc = store_principal_get(st, arn, &p, err);
    if (rc < 0)
        return rc;
    if (strcmp(p.kind, "role") != 0) {
        store_principal_clear(&p);
        return cl_fail(err, CL_EINVAL, "%s is not a role", arn);
    }
    char sess[65];
    if (session_name) {
        if (!ident_valid_name(session_name) || strlen(session_name) < 2) {
            store_principal_clear(&p);
            return cl_fail(err, CL_EINVAL, "invalid session name '%s'", session_name);
        }
        snprintf(sess, sizeof(sess), "%s", session_name);
    } else {
        /* an instance role's session is named after the instance, i-<17 hex> */
        memcpy(sess, "i-", 2);
        rc = random_chars(sess + 2, 17, "0123456789abcdef", err);
    }
    struct store_access_key k = {0};
    char token[128] = "";
    if (rc == 0)
        rc = new_access_key(&k, "ASIA", err);
    if (rc == 0) {
        uint8_t raw[72];
        rc = ku_random(raw, sizeof(raw), err);
        if (rc == 0) {
            char *b = base64_encode(raw, sizeof(raw));
            if (!b)
                rc = cl_fail(err, CL_ENOMEM, "out of memory");
            else
                snprintf(token, sizeof(token), "%s", b);
            free(b);
        }
        OPENSSL_cleanse(raw, sizeof(raw));
    }
    double now = ku_now();
    if (rc == 0) {
        snprintf(k.principal_arn, sizeof(k.principal_arn), "%s", p.arn);
        snprintf(k.caller_arn, sizeof(k.caller_arn), "arn:aws:sts::%s:assumed-role/%s/%s", account,
                 p.name, sess);
        snprintf(k.user_id, sizeof(k.user_id), "%s:%s", p.unique_id, sess);
        k.has_session = true;
        SHA256((const uint8_t *)token, strlen(token), k.token_hash);
        k.expiration = (double)((long)now + duration_s);
        rc = store_access_key_create(st, &k, now, err);
    }
    if (rc == 0) {
        char exp[32];
        ku_iso8601((time_t)k.expiration, exp);
        *out = json_pack("{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s}}", "Credentials", "AccessKeyId",
                         k.akid, "SecretAccessKey", k.secret, "SessionToken", token, "Expiration",
                         exp, "AssumedRoleUser", "AssumedRoleId", k.user_id, "Arn", k.caller_arn);
        if (!*out)
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
    }
    OPENSSL_cleanse(token, sizeof(token));
    store_access_key_clear(&k);
    store_principal_clear(&p);
    return rc;
}

void ident_caller_clear(struct ident_caller *c)
{
    free(c->identity_policy);
    OPENSSL_cleanse(c, sizeof(*c));
}

int ident_lookup(struct store *st, const char *akid, const char *session_token, double now,
                 struct ident_caller *out, enum ident_failure *why, struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    *why = IDENT_OK;
    struct store_access_key k;
    int rc = store_access_key_get(st, akid, &k, err);
    if (rc == CL_ENOTFOUND) {
        *why = IDENT_UNKNOWN_KEY;
        return rc;
    }
    if (rc < 0)
        return rc;
    if (k.has_session) {
        uint8_t h[32];
        if (!session_token) {
            *why = IDENT_BAD_TOKEN;
            rc = cl_fail(err, CL_EPERM, "a session key without its session token");
            goto out;
        }
        SHA256((const uint8_t *)session_token, strlen(session_token), h);
        if (CRYPTO_memcmp(h, k.token_hash, 32) != 0) {
            *why = IDENT_BAD_TOKEN;
            rc = cl_fail(err, CL_EPERM, "wrong session token");
            goto out;
        }
        if (now >= k.expiration) {
            *why = IDENT_EXPIRED;
            rc = cl_fail(err, CL_EPERM, "session expired");
            goto out;
        }
    } else if (session_token) {
        /* AWS refuses a token sent with long-term credentials */
        *why = IDENT_BAD_TOKEN;
        rc = cl_fail(err, CL_EPERM, "a session token with a long-term access key");
        goto out;
    }
    struct store_principal p;
    rc = store_principal_get(st, k.principal_arn, &p, err);
    if (rc == CL_ENOTFOUND) {
        *why = IDENT_UNKNOWN_KEY;
        goto out;
    }
    if (rc < 0)
        goto out;
    snprintf(out->arn, sizeof(out->arn), "%s", k.caller_arn);
    snprintf(out->principal_arn, sizeof(out->principal_arn), "%s", k.principal_arn);
    /* arn:aws:iam::ACCOUNT:... -> ACCOUNT */
    const char *acct = k.principal_arn + strlen("arn:aws:iam::");
    size_t alen = strcspn(acct, ":");
    snprintf(out->account, sizeof(out->account), "%.*s", (int)(alen < 15 ? alen : 15), acct);
    snprintf(out->user_id, sizeof(out->user_id), "%s", k.user_id);
    snprintf(out->access_key, sizeof(out->access_key), "%s", k.akid);
    memcpy(out->secret, k.secret, sizeof(out->secret));
    out->identity_policy = p.identity_policy;
    p.identity_policy = NULL;
    store_principal_clear(&p);
out:
    store_access_key_clear(&k);
    if (rc < 0)
        ident_caller_clear(out);
    return rc;
}
