/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the KMS client tests share on top of https_peer: scripted answers,
 * a peer on 127.0.0.1 with a client configured for it, and the checks of a
 * recorded KMS request (request line, target, content type, user agent,
 * and its SigV4 signature recomputed from the bytes received).
 */
#ifndef CLOISTER_TESTLIB_KMS_PEER_H
#define CLOISTER_TESTLIB_KMS_PEER_H

#include <jansson.h>

#include <cloister/kms.h>

#include "testlib/https_peer.h"

#define TL_KMS_AKID "AKIDCLOISTERTEST"
#define TL_KMS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* Answers in turn: a[i] for the i-th request (the last one again after). */
struct tl_script {
    int n, next;
    struct { int status; const char *body; } a[8];
};
void tl_scripted(void *ctx, const struct tl_http_request *req, int *status, char **body);

/* Starts p on 127.0.0.1 with tls, serving `connections` connections with
 * r(ctx); returns a client (region us-east-1, TL_KMS_AKID, token may be
 * NULL) whose endpoint_url is that port and CA bundle tls's. */
struct kms_client *tl_kms_tcp_peer(struct tl_https_peer *p, struct tl_tls *tls,
                                   tl_http_responder r, void *ctx, int connections,
                                   const char *token);
/* Joins p, closes its socket, forgets its requests, frees c. */
void tl_kms_peer_done(struct tl_https_peer *p, struct kms_client *c);

/* The Authorization header of r is SigV4 (service kms, region) by
 * TL_KMS_AKID/TL_KMS_SECRET over the request as received. */
void tl_check_sigv4(const struct tl_http_request *r, const char *region);
/* POST /, TrentService.<op>, JSON 1.1, the SDK's user agent, SigV4 for
 * us-east-1; returns the JSON body (an object; json_decref). */
json_t *tl_check_kms_request(const struct tl_http_request *r, const char *op);
/* The string member key of j (fails the test when absent). */
const char *tl_json_str(json_t *j, const char *key);

#endif
