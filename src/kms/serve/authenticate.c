/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4 authentication of a call (authenticate.h). */
#include "serve/authenticate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "serve/sigv4.h"
#include "state/identities.h"
#include "util/kmsutil.h"

int authenticate(struct call *c, const struct http_request *h, const char *service)
{
    struct kms_error *ae = &c->err;
    const char *auth = http_header(h, "authorization");
    if (!auth)
        return kms_fail_sts(ae, "MissingAuthenticationTokenException", "MissingAuthenticationToken",
                            "Missing Authentication Token");
    if (http_header_count(h, "authorization") > 1)
        return kms_fail_sts(ae, "IncompleteSignatureException", "IncompleteSignature",
                            "Only one Authorization header is allowed");
    struct sigv4_auth a;
    struct cl_error err = { 0 };
    if (sigv4_parse_authorization(auth, &a, &err) < 0)
        return kms_fail_sts(ae, "IncompleteSignatureException", "IncompleteSignature", "%s",
                            err.reason);
    snprintf(c->caller.access_key, sizeof(c->caller.access_key), "%s", a.access_key);
    const char *date = http_header(h, "x-amz-date");
    if (!date)
        return kms_fail_sts(ae, "IncompleteSignatureException", "IncompleteSignature",
                            "Authorization header requires existence of either a 'X-Amz-Date' or a "
                            "'Date' header.");
    time_t t;
    if (ku_parse_amz_date(date, &t, NULL) < 0)
        return kms_fail_sts(ae, "IncompleteSignatureException", "IncompleteSignature",
                            "Date must be in ISO-8601 'basic format'. Got '%.32s'. See "
                            "http://en.wikipedia.org/wiki/ISO_8601",
                            date);
    if (strncmp(a.date, date, 8) != 0)
        return kms_fail_sts(
            ae, "InvalidSignatureException", "SignatureDoesNotMatch",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
            "of date from HTTP: '%s' != '%.8s', from '%s'.",
            a.date, date, date);
    /* one server serves every region it knows (docs/kms.md, "Regions"); AWS
     * answers a scope its endpoint does not serve like this */
    if (!kms_region_known(c->s, a.region))
        return kms_fail_sts(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                            "Credential should be scoped to a valid region, not '%s'. ", a.region);
    snprintf(c->region, sizeof(c->region), "%.31s", a.region); /* a known region fits */
    if (strcmp(a.service, service) != 0)
        return kms_fail_sts(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                            "Credential should be scoped to correct service: '%s'. ", service);
    bool host_signed = false, date_signed = false;
    for (size_t i = 0; i < a.n_signed; i++) {
        host_signed |= !strcmp(a.signed_names[i], "host");
        date_signed |= !strcmp(a.signed_names[i], "x-amz-date");
    }
    if (!host_signed)
        return kms_fail_sts(
            ae, "InvalidSignatureException", "SignatureDoesNotMatch",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    if (!date_signed)
        return kms_fail_sts(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
    /* KMS refuses requests more than 5 minutes off the server's clock, in
     * AWS's words (docs/kms.md, "Authentication (SigV4)"). */
    time_t now = time(NULL);
    char nows[17], bound[17];
    ku_amz_date(now, nows);
    if (t < now - c->s->clock_skew_s) {
        ku_amz_date(now - c->s->clock_skew_s, bound);
        return kms_fail_sts(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                            "Signature expired: %s is now earlier than %s (%s - 5 min.)", date,
                            bound, nows);
    }
    if (t > now + c->s->clock_skew_s) {
        ku_amz_date(now + c->s->clock_skew_s, bound);
        return kms_fail_sts(ae, "InvalidSignatureException", "SignatureDoesNotMatch",
                            "Signature not yet current: %s is still later than %s (%s + 5 min.)",
                            date, bound, nows);
    }
    const char *token = http_header(h, "x-amz-security-token");
    enum ident_failure why;
    int rc = ident_lookup(c->s->store, a.access_key, token, ku_now(), &c->caller, &why, &err);
    snprintf(c->caller.access_key, sizeof(c->caller.access_key), "%s", a.access_key);
    if (rc < 0) {
        if (why == IDENT_EXPIRED)
            return kms_fail_sts(ae, "ExpiredTokenException", "ExpiredToken",
                                "The security token included in the request is expired");
        if (why != IDENT_OK)
            return kms_fail_sts(ae, "UnrecognizedClientException", "InvalidClientTokenId",
                                "The security token included in the request is invalid.");
        return kms_fail_sts(ae, "KMSInternalException", "InternalFailure", "%s", err.reason);
    }
    struct sigv4_request sr = {
        .method = h->method,
        .path = h->path,
        .query = h->query,
        .n_query = h->n_query,
        .headers = h->headers,
        .n_headers = h->n_headers,
        .body = h->body,
        .body_len = h->body_len,
    };
    rc = sigv4_verify(&sr, &a, date, c->caller.secret, &err);
    OPENSSL_cleanse(c->caller.secret, sizeof(c->caller.secret));
    if (rc < 0) {
        /* not authenticated: the audit line names the access key, no principal */
        ident_caller_clear(&c->caller);
        snprintf(c->caller.access_key, sizeof(c->caller.access_key), "%s", a.access_key);
        return kms_fail_sts(ae, "InvalidSignatureException", "SignatureDoesNotMatch", "%s",
                            err.reason);
    }
    return 0;
}
