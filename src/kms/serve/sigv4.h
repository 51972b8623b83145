/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS Signature Version 4, the verifying side (header authentication).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 *
 *   Authorization: AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request,
 *                  SignedHeaders=h1;h2;..., Signature=<64 hex>
 *
 * The parser is strict (it is fed by the network): each of the three
 * components exactly once, the scope ends in aws4_request, the signed
 * header names are lowercase, sorted and unique, the signature is 64
 * lowercase hex digits. Verification recomputes the canonical request from
 * the headers the client says it signed, so any header it did not sign may
 * be changed by a proxy, as with AWS.
 */
#ifndef CLOISTER_KMS_SIGV4_H
#define CLOISTER_KMS_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#define SIGV4_MAX_SIGNED_HEADERS 64
#define SIGV4_MAX_AUTH_LEN       4096

/* The parsed Authorization header. Plain data: no pointers to free. */
struct sigv4_auth {
    char access_key[129];
    char date[9]; /* YYYYMMDD of the credential scope */
    char region[64];
    char service[64];
    char signed_headers[2048]; /* as received: "h1;h2;..." */
    size_t n_signed;
    char *signed_names[SIGV4_MAX_SIGNED_HEADERS]; /* point into names_buf */
    char names_buf[2048];
    uint8_t signature[32];
};

/*
 * Parses an Authorization header value. Failures are CL_EFORMAT (the header
 * is malformed or incomplete: AWS's IncompleteSignatureException) or
 * CL_EUNSUPPORTED (another algorithm than AWS4-HMAC-SHA256), with AWS-style
 * reasons.
 */
CL_MUST_USE int sigv4_parse_authorization(const char *value, struct sigv4_auth *out,
                                          struct cl_error *err);

/* One request header as received; names in any case, duplicates allowed. */
struct sigv4_header {
    const char *name;
    const char *value;
};

/* The parts of a request that SigV4 covers. */
struct sigv4_request {
    const char *method; /* "POST" */
    const char *path;   /* raw (still percent-encoded) path, e.g. "/" */
    const struct sigv4_header *query;
    size_t n_query; /* decoded query parameters */
    const struct sigv4_header *headers;
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
};

/*
 * The canonical request and the string to sign for the headers auth lists
 * (SigV4 tasks 1 and 2). amz_date is the request's X-Amz-Date. Both outputs
 * are malloc'd (caller frees). A header listed in SignedHeaders but absent
 * from the request fails with CL_ENOTFOUND ("... is a SignedHeader but is
 * not present in the request").
 */
CL_MUST_USE int sigv4_string_to_sign(const struct sigv4_request *r, const struct sigv4_auth *a,
                                     const char *amz_date, char **canonical, char **string_to_sign,
                                     struct cl_error *err);

/* kSigning = HMAC chain over "AWS4"+secret, date, region, service, "aws4_request". */
void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, uint8_t key[32]);

/* hex(HMAC-SHA256(key, string_to_sign)) into out (65 bytes). */
void sigv4_sign(const uint8_t key[32], const char *string_to_sign, char out[65]);

/*
 * Recomputes the signature with secret and compares it in constant time
 * with auth's. 0 when it matches, CL_ESIGNATURE when it does not, other
 * codes (see sigv4_string_to_sign) when it cannot be computed.
 */
CL_MUST_USE int sigv4_verify(const struct sigv4_request *r, const struct sigv4_auth *a,
                             const char *amz_date, const char *secret, struct cl_error *err);

/* RFC 3986 percent-encoding as SigV4 wants it (unreserved kept, %XX upper);
 * keep_slash keeps '/'. malloc'd, NULL on allocation failure. */
char *sigv4_uri_encode(const char *s, size_t len, int keep_slash);

#endif
