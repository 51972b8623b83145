/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "allowlist.h"
#include "resolver.h"

static int parse(const char *yaml, struct allowlist *al, struct cl_error *err)
{
    return allowlist_parse(yaml, strlen(yaml), al, err);
}

static void parses_aws_format(void **state)
{
    (void)state;
    struct allowlist al;
    const char *yaml = "allowlist:\n"
                       "- {address: kms.us-east-1.amazonaws.com, port: 443}\n"
                       "- address: 127.0.0.1\n"
                       "  port: 8080\n";
    assert_int_equal(parse(yaml, &al, NULL), 0);
    assert_int_equal(al.count, 2);
    assert_string_equal(al.entries[0].address, "kms.us-east-1.amazonaws.com");
    assert_int_equal(al.entries[0].port, 443);
    assert_string_equal(al.entries[1].address, "127.0.0.1");
    assert_int_equal(al.entries[1].port, 8080);
    allowlist_release(&al);
}

static void empty_allowlist_allows_nothing(void **state)
{
    (void)state;
    struct allowlist al;
    assert_int_equal(parse("allowlist:\n", &al, NULL), 0);
    assert_int_equal(al.count, 0);
    assert_int_equal(allowlist_allows(&al, "127.0.0.1", "127.0.0.1", 443, AF_UNSPEC), 0);
    allowlist_release(&al);
}

static void expect_error(const char *yaml, int code, const char *reason)
{
    struct allowlist al;
    struct cl_error err = { 0 };
    assert_int_equal(parse(yaml, &al, &err), code);
    assert_string_equal(err.reason, reason);
    assert_null(al.entries);
}

static void rejects_bad_documents(void **state)
{
    (void)state;
    expect_error("- a\n", CL_EFORMAT, "the configuration must be a mapping with an 'allowlist' key");
    expect_error("other: 1\n", CL_EFORMAT, "unknown top-level key 'other'");
    expect_error("allowlist: 3\n", CL_EFORMAT, "line 1: 'allowlist' must be a list");
    expect_error("allowlist:\n- {address: a, port: 1, tls: true}\n", CL_EFORMAT,
                 "line 2: unknown key 'tls' in an allowlist entry");
    expect_error("allowlist:\n- {address: a}\n", CL_EFORMAT,
                 "line 2: an allowlist entry needs both address and port");
    expect_error("allowlist:\n- {address: a, port: 65536}\n", CL_EFORMAT,
                 "line 2: invalid port '65536'");
    expect_error("allowlist:\n- {address: a, port: -1}\n", CL_EFORMAT, "line 2: invalid port '-1'");
    expect_error("allowlist:\n- {address: a, address: b, port: 1}\n", CL_EFORMAT,
                 "line 2: duplicate key 'address'");
    expect_error("allowlist:\n- [a, 1]\n", CL_EFORMAT,
                 "line 2: an allowlist entry must be a mapping {address: ..., port: ...}");
    expect_error("allowlist: [\n", CL_EFORMAT, "line 2: did not find expected node content");
}

static void matching_is_by_string_or_resolved_ip(void **state)
{
    (void)state;
    struct allowlist al;
    assert_int_equal(parse("allowlist:\n- {address: localhost, port: 443}\n"
                           "- {address: 10.1.2.3, port: 80}\n",
                           &al, NULL),
                     0);
    /* Same string. */
    assert_int_equal(allowlist_allows(&al, "localhost", "127.0.0.1", 443, AF_INET), 1);
    /* Different string, same IP: localhost resolves to 127.0.0.1. */
    assert_int_equal(allowlist_allows(&al, "127.0.0.1", "127.0.0.1", 443, AF_INET), 1);
    /* Port must match. */
    assert_int_equal(allowlist_allows(&al, "localhost", "127.0.0.1", 444, AF_INET), 0);
    assert_int_equal(allowlist_allows(&al, "10.1.2.3", "10.1.2.3", 80, AF_UNSPEC), 1);
    assert_int_equal(allowlist_allows(&al, "10.1.2.4", "10.1.2.4", 80, AF_UNSPEC), 0);
    allowlist_release(&al);
}

static void literals_never_expire(void **state)
{
    (void)state;
    struct resolved r;
    assert_int_equal(resolver_resolve("127.0.0.1", 9, AF_UNSPEC, &r, NULL), 0);
    assert_string_equal(r.ip, "127.0.0.1");
    assert_int_equal(r.expires, 0);
    assert_false(resolver_expired(&r));
    /* A name without a DNS answer (from /etc/hosts) gets the default TTL. */
    assert_int_equal(resolver_resolve("localhost", 9, AF_INET, &r, NULL), 0);
    assert_string_equal(r.ip, "127.0.0.1");
    assert_true(r.expires > 0);
    struct cl_error err = { 0 };
    assert_int_equal(resolver_resolve("no-such-host.invalid", 9, AF_UNSPEC, &r, &err),
                     CL_ENOTFOUND);
    assert_true(strncmp(err.reason, "DNS lookup of 'no-such-host.invalid' failed: ", 45) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_aws_format),
        cmocka_unit_test(empty_allowlist_allows_nothing),
        cmocka_unit_test(rejects_bad_documents),
        cmocka_unit_test(matching_is_by_string_or_resolved_ip),
        cmocka_unit_test(literals_never_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
