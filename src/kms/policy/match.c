/* SPDX-License-Identifier: Apache-2.0 */
/* The value grammars of IAM policies (match.h). */
#include "policy/match.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * '*' any run (possibly empty), '?' one character (IAM's Action element and
 * StringLike). Iterative with one backtrack point, so linear-ish and never
 * recursive on hostile input.
 */
bool glob_match(const char *pat, const char *str, bool nocase)
{
    const char *star = NULL, *resume = NULL;
    while (*str) {
        char p = *pat, s = *str;
        if (nocase) {
            p = (char)tolower((unsigned char)p);
            s = (char)tolower((unsigned char)s);
        }
        if (*pat == '*') {
            star = pat++;
            resume = str;
        } else if (*pat && (*pat == '?' || p == s)) {
            pat++;
            str++;
        } else if (star) {
            pat = star + 1;
            str = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

bool is_account_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isdigit((unsigned char)s[n]))
            return false;
    return n == 12;
}

bool arn_split(const char *s, struct arn *a)
{
    if (strlen(s) >= sizeof(a->buf) || strncmp(s, "arn:", 4) != 0)
        return false;
    strcpy(a->buf, s);
    char *f[6];
    char *p = a->buf;
    for (int i = 0; i < 5; i++) {
        f[i] = p;
        p = strchr(p, ':');
        if (!p)
            return false;
        *p++ = '\0';
    }
    f[5] = p;
    a->partition = f[1];
    a->service = f[2];
    a->region = f[3];
    a->account = f[4];
    a->resource = f[5];
    return strncmp(a->partition, "aws", 3) == 0;
}

bool parse_number(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end || errno || !isfinite(d))
        return false;
    *out = d;
    return true;
}

bool parse_date(const char *s, double *out)
{
    double d;
    if (parse_number(s, &d)) {
        *out = d;
        return true;
    }
    struct tm tm = { 0 };
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) {
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, "%Y-%m-%d", &tm);
        if (!end || *end)
            return false;
    } else {
        if (*end == '.') {
            end++;
            while (isdigit((unsigned char)*end))
                end++;
        }
        if (*end == 'Z')
            end++;
        if (*end)
            return false;
    }
    *out = (double)timegm(&tm);
    return true;
}

bool parse_cidr(const char *s, struct cidr *c, bool allow_prefix)
{
    char buf[64];
    if (strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    int prefix = -1;
    if (slash) {
        if (!allow_prefix || !slash[1] || strlen(slash + 1) > 3)
            return false;
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end || !isdigit((unsigned char)slash[1]))
            return false;
        prefix = (int)v;
    }
    memset(c->addr, 0, sizeof(c->addr));
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        if (prefix > 32)
            return false;
        c->prefix = prefix < 0 ? 32 : prefix;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        if (prefix > 128)
            return false;
        c->prefix = prefix < 0 ? 128 : prefix;
    } else {
        return false;
    }
    return true;
}

bool cidr_contains(const struct cidr *net, const struct cidr *ip)
{
    if (net->family != ip->family)
        return false;
    int bits = net->prefix;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((net->addr[i] & mask) != (ip->addr[i] & mask))
            return false;
    }
    return true;
}
