/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The value grammars of IAM policies, shared by parsing (which checks a
 * policy's values) and evaluation (which compares the request's with them):
 * wildcards, account ids, ARNs, numbers, dates, IP addresses and CIDR
 * blocks (IAM's condition operators page, docs/kms-policy.md).
 */
#ifndef CLOISTER_KMS_POLICY_MATCH_H
#define CLOISTER_KMS_POLICY_MATCH_H

#include <stdbool.h>
#include <stdint.h>

/* IAM wildcard match of str against pat: '*' any run, '?' one character. */
bool glob_match(const char *pat, const char *str, bool nocase);

/* Twelve digits. */
bool is_account_id(const char *s);

/* arn:<partition>:<service>:<region>:<account>:<resource>, split in a copy. */
struct arn {
    char buf[512];
    const char *partition, *service, *region, *account, *resource;
};
/* false unless s is an ARN of an aws* partition. */
bool arn_split(const char *s, struct arn *a);

/* A finite decimal number, no leading space. */
bool parse_number(const char *s, double *out);
/* ISO 8601 (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, with optional fraction) or
 * epoch seconds, as the Date operators accept; *out in epoch seconds. */
bool parse_date(const char *s, double *out);

/* An IP address or CIDR block: family, 16 address bytes, prefix length. */
struct cidr {
    int family;
    uint8_t addr[16];
    int prefix;
};
/* An IPv4/IPv6 address, with allow_prefix a "/N" CIDR block too. */
bool parse_cidr(const char *s, struct cidr *c, bool allow_prefix);
bool cidr_contains(const struct cidr *net, const struct cidr *ip);

#endif
