/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SigV4 verification against AWS's published Signature Version 4 test suite
 * (aws4_testsuite: credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 * 20150830T123600Z, us-east-1, service "service"), and every rejection of
 * the Authorization header parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE "20150830T123600Z"
#define CRED "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"

struct vector {
    const char *name;
    const char *method;
    struct sigv4_header headers[6];
    size_t n_headers;
    struct sigv4_header query[2];
    size_t n_query;
    const char *body;
    const char *signed_headers;
    const char *signature;
};

static const struct vector VECTORS[] = {
    { "post-vanilla", "POST",
      { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", DATE } }, 2, {{0}}, 0, "",
      "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },
    { "post-vanilla-query", "POST",
      { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", DATE } }, 2,
      { { "Param1", "value1" } }, 1, "",
      "host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11" },
    { "post-vanilla-query-space", "POST",
      { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", DATE } }, 2, { { "p", "" } }, 1, "",
      "host;x-amz-date", "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b" },
    { "post-x-www-form-urlencoded", "POST",
      { { "Content-Type", "application/x-www-form-urlencoded" }, { "Host", "example.amazonaws.com" },
        { "X-Amz-Date", DATE } }, 3, {{0}}, 0, "Param1=value1",
      "content-type;host;x-amz-date",
      "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a" },
    { "post-header-key-sort", "POST",
      { { "Host", "example.amazonaws.com" }, { "My-Header1", "value1" }, { "X-Amz-Date", DATE } }, 3,
      {{0}}, 0, "", "host;my-header1;x-amz-date",
      "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c" },
    { "post-header-value-case", "POST",
      { { "Host", "example.amazonaws.com" }, { "My-Header1", "VALUE1" }, { "X-Amz-Date", DATE } }, 3,
      {{0}}, 0, "", "host;my-header1;x-amz-date",
      "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d" },
    { "get-header-value-trim", "GET",
      { { "Host", "example.amazonaws.com" }, { "My-Header1", " value1" },
        { "My-Header2", " \"a   b   c\"" }, { "X-Amz-Date", DATE } }, 4, {{0}}, 0, "",
      "host;my-header1;my-header2;x-amz-date",
      "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736" },
    { "get-header-key-duplicate", "GET",
      { { "Host", "example.amazonaws.com" }, { "My-Header1", "value2" }, { "My-Header1", "value2" },
        { "My-Header1", "value1" }, { "X-Amz-Date", DATE } }, 5, {{0}}, 0, "",
      "host;my-header1;x-amz-date",
      "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea" },
};

static void request_of(const struct vector *v, struct sigv4_request *r)
{
    memset(r, 0, sizeof(*r));
    r->method = v->method;
    r->path = "/";
    r->headers = v->headers;
    r->n_headers = v->n_headers;
    r->query = v->query;
    r->n_query = v->n_query;
    r->body = (const uint8_t *)v->body;
    r->body_len = strlen(v->body);
}

static void test_aws_suite(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(VECTORS) / sizeof(VECTORS[0]); i++) {
        const struct vector *v = &VECTORS[i];
        char header[512];
        snprintf(header, sizeof(header), "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=%s, Signature=%s",
                 v->signed_headers, v->signature);
        struct sigv4_auth a;
        struct cl_error err = {0};
        assert_int_equal(sigv4_parse_authorization(header, &a, &err), 0);
        assert_string_equal(a.access_key, "AKIDEXAMPLE");
        assert_string_equal(a.region, "us-east-1");
        assert_string_equal(a.service, "service");
        struct sigv4_request r;
        request_of(v, &r);
        if (sigv4_verify(&r, &a, DATE, SECRET, &err) != 0)
            fail_msg("%s: %s", v->name, err.reason);
        /* the wrong secret, a changed body or header fails */
        struct cl_error e2 = {0};
        assert_int_equal(sigv4_verify(&r, &a, DATE, "x" SECRET, &e2), CL_ESIGNATURE);
        assert_string_equal(e2.reason,
                            "The request signature we calculated does not match the signature you "
                            "provided. Check your AWS Secret Access Key and signing method. Consult "
                            "the service documentation for details.");
        r.body = (const uint8_t *)"tampered";
        r.body_len = 8;
        assert_int_equal(sigv4_verify(&r, &a, DATE, SECRET, NULL), CL_ESIGNATURE);
    }
}

static void test_canonical_request(void **state)
{
    (void)state;
    /* post-x-www-form-urlencoded's canonical request and string to sign, from the suite */
    const struct vector *v = &VECTORS[3];
    struct sigv4_auth a;
    assert_int_equal(sigv4_parse_authorization("AWS4-HMAC-SHA256 " CRED
                                               ", SignedHeaders=content-type;host;x-amz-date, Signature="
                                               "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
                                               &a, NULL),
                     0);
    struct sigv4_request r;
    request_of(v, &r);
    char *canonical = NULL, *sts = NULL;
    assert_int_equal(sigv4_string_to_sign(&r, &a, DATE, &canonical, &sts, NULL), 0);
    assert_string_equal(canonical,
                        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
                        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                        "content-type;host;x-amz-date\n"
                        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    assert_true(strncmp(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n",
                        strlen("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n")) == 0);
    free(canonical);
    free(sts);
}

static void test_missing_signed_header(void **state)
{
    (void)state;
    struct sigv4_auth a;
    assert_int_equal(sigv4_parse_authorization("AWS4-HMAC-SHA256 " CRED
                                               ", SignedHeaders=host;x-amz-date;x-amz-target, Signature="
                                               "0000000000000000000000000000000000000000000000000000000000000000",
                                               &a, NULL),
                     0);
    struct sigv4_request r;
    request_of(&VECTORS[0], &r);
    struct cl_error err = {0};
    assert_int_equal(sigv4_verify(&r, &a, DATE, SECRET, &err), CL_ENOTFOUND);
    assert_string_equal(err.reason, "'x-amz-target' is a SignedHeader but is not present in the request");
}

struct bad {
    const char *header;
    int code;
    const char *reason;
};

static void test_parser_rejections(void **state)
{
    (void)state;
    static const char SIG[] = "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b";
    char s[7][512];
    snprintf(s[0], 512, "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;x-amz-date");
    snprintf(s[1], 512, "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=x-amz-date;host, %s", SIG);
    snprintf(s[2], 512, "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=Host;x-amz-date, %s", SIG);
    snprintf(s[3], 512, "AWS4-HMAC-SHA256 " CRED ", " CRED ", SignedHeaders=host, %s", SIG);
    snprintf(s[4], 512, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, SignedHeaders=host, %s", SIG);
    snprintf(s[5], 512, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, SignedHeaders=host, %s", SIG);
    snprintf(s[6], 512, "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;;x-amz-date, %s", SIG);
    const struct bad cases[] = {
        { "", CL_EUNSUPPORTED, "Unsupported Authorization Type" },
        { "AWS4-HMAC-SHA1 " CRED, CL_EUNSUPPORTED, "Unsupported Authorization Type" },
        { "AWS4-HMAC-SHA256", CL_EFORMAT,
          "Authorization header requires 'Credential' parameter. Authorization header requires "
          "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter." },
        { s[0], CL_EFORMAT, "Authorization header requires 'Signature' parameter." },
        { s[1], CL_EFORMAT, "SignedHeaders must be sorted and unique" },
        { s[2], CL_EFORMAT, "SignedHeaders must be lowercase header names; got 'Host'" },
        { s[3], CL_EFORMAT, "Authorization header has a duplicate 'Credential'" },
        { s[4], CL_EFORMAT,
          "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'." },
        { s[5], CL_EFORMAT, "Date in Credential scope is not YYYYMMDD: '2015083'" },
        { s[6], CL_EFORMAT, "SignedHeaders has an empty header name" },
        { "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Signature=ABCDEF", CL_EFORMAT,
          "Signature must be 64 lowercase hex digits" },
        { "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Foo=bar", CL_EFORMAT,
          "Authorization header has an unknown component 'Foo'" },
        { "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, junk", CL_EFORMAT,
          "Authorization header requires each component to be of the form key=value; got 'junk'" },
        { "AWS4-HMAC-SHA256 Credential=AK/ID/20150830/us-east-1/service/aws4_request", CL_EFORMAT,
          "Credential should be scoped to a valid region, not 'AK/ID/20150830/us-east-1/service/aws4_request'. " },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sigv4_auth a;
        struct cl_error err = {0};
        int rc = sigv4_parse_authorization(cases[i].header, &a, &err);
        if (rc != cases[i].code || strcmp(err.reason, cases[i].reason) != 0)
            fail_msg("case %zu: got %d '%s'", i, rc, err.reason);
    }
}

static void test_uri_encode(void **state)
{
    (void)state;
    char *e = sigv4_uri_encode("a b/c~d*%", 9, 1);
    assert_string_equal(e, "a%20b/c~d%2A%25");
    free(e);
    e = sigv4_uri_encode("/x", 2, 0);
    assert_string_equal(e, "%2Fx");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_suite),
        cmocka_unit_test(test_canonical_request),
        cmocka_unit_test(test_missing_signed_header),
        cmocka_unit_test(test_parser_rejections),
        cmocka_unit_test(test_uri_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
