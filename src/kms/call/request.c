/* SPDX-License-Identifier: Apache-2.0 */
/* The typed accessors of a KMS JSON request body (request.h). */
#include "call/request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

/* "KeyId" -> "keyId", as AWS names fields in validation messages. */
static void field_name(const char *member, char out[64])
{
    snprintf(out, 64, "%s", member);
    out[0] = (char)tolower((unsigned char)out[0]);
}

static int fail_null(struct kms_error *e, const char *member)
{
    char f[64];
    field_name(member, f);
    return kms_fail(e, "ValidationException",
                    "1 validation error detected: Value null at '%s' failed to satisfy constraint: "
                    "Member must not be null",
                    f);
}

static int fail_type(struct kms_error *e, const char *member, const char *expected)
{
    return kms_fail(e, "SerializationException", "Unexpected value type for '%s': expected %s",
                    member, expected);
}

static int fail_len(struct kms_error *e, const char *member, const char *shown, bool too_short,
                    size_t bound)
{
    char f[64];
    field_name(member, f);
    return kms_fail(
        e, "ValidationException",
        "1 validation error detected: Value %s%s%sat '%s' failed to satisfy constraint: "
        "Member must have length %s than or equal to %zu",
        shown ? "'" : "", shown ? shown : "", shown ? "' " : "", f, too_short ? "greater" : "less",
        bound);
}

int req_parse(const uint8_t *body, size_t len, json_t **out, struct kms_error *e)
{
    *out = NULL;
    if (len == 0) {
        *out = json_object();
        return *out ? 0 : kms_fail(e, "KMSInternalException", "out of memory");
    }
    if (len > REQ_MAX_BODY)
        return kms_fail(e, "ValidationException", "Request body of %zu bytes is too large", len);
    json_error_t je;
    json_t *j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        /* jansson ends its reason with "near '<token>'", a piece of the
         * body: it may be a plaintext, and this message goes to the audit
         * log. Only the reason and the position are kept. */
        char *near = strstr(je.text, " near ");
        if (near)
            *near = 0;
        return kms_fail(e, "SerializationException",
                        "Could not parse the request body: %s (at byte %d)", je.text, je.position);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return kms_fail(e, "SerializationException", "Start of structure or map expected");
    }
    *out = j;
    return 0;
}

static const json_t *member_of(const json_t *in, const char *member)
{
    const json_t *v = json_object_get(in, member);
    return (v && !json_is_null(v)) ? v : NULL;
}

int req_string(const json_t *in, const char *member, bool required, size_t min, size_t max,
               const char **out, struct kms_error *e)
{
    *out = NULL;
    const json_t *v = member_of(in, member);
    if (!v)
        return required ? fail_null(e, member) : 0;
    if (!json_is_string(v))
        return fail_type(e, member, "a string");
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != n)
        return kms_fail(e, "ValidationException", "Value at '%s' contains a NUL character", member);
    char shown[80];
    snprintf(shown, sizeof(shown), "%s", s);
    if (n < min)
        return fail_len(e, member, n <= 64 ? shown : NULL, true, min);
    if (n > max)
        return fail_len(e, member, n <= 64 ? shown : NULL, false, max);
    *out = s;
    return 0;
}

int req_enum(const json_t *in, const char *member, bool required, const char *const *values,
             const char **out, struct kms_error *e)
{
    const char *s;
    if (req_string(in, member, required, 0, 256, &s, e) < 0)
        return -1;
    *out = s;
    if (!s)
        return 0;
    for (const char *const *v = values; *v; v++)
        if (strcmp(s, *v) == 0)
            return 0;
    char set[600] = "";
    size_t off = 0;
    for (const char *const *v = values; *v; v++)
        off += (size_t)snprintf(set + off, off < sizeof(set) ? sizeof(set) - off : 0, "%s%s",
                                v == values ? "" : ", ", *v);
    char f[64];
    field_name(member, f);
    *out = NULL;
    return kms_fail(e, "ValidationException",
                    "1 validation error detected: Value '%.64s' at '%s' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [%s]",
                    s, f, set);
}

int req_blob(const json_t *in, const char *member, bool required, size_t min, size_t max,
             uint8_t **out, size_t *len, struct kms_error *e)
{
    *out = NULL;
    *len = 0;
    const json_t *v = member_of(in, member);
    if (!v)
        return required ? fail_null(e, member) : 0;
    if (!json_is_string(v))
        return fail_type(e, member, "a base64 string");
    struct cl_error err = { 0 };
    int rc = base64_decode(json_string_value(v), json_string_length(v), max, out, len, &err);
    if (rc == CL_ELIMIT)
        return fail_len(e, member, NULL, false, max);
    if (rc < 0)
        return kms_fail(e, "SerializationException", "Value of '%s' is not valid base64: %s",
                        member, err.reason);
    if (*len < min) {
        free(*out);
        *out = NULL;
        return fail_len(e, member, NULL, true, min);
    }
    return 0;
}

int req_int(const json_t *in, const char *member, bool required, long long min, long long max,
            long long *out, bool *present, struct kms_error *e)
{
    *out = 0;
    if (present)
        *present = false;
    const json_t *v = member_of(in, member);
    if (!v)
        return required ? fail_null(e, member) : 0;
    if (!json_is_integer(v))
        return fail_type(e, member, "an integer");
    long long x = json_integer_value(v);
    char f[64];
    field_name(member, f);
    if (x < min)
        return kms_fail(e, "ValidationException",
                        "1 validation error detected: Value '%lld' at '%s' failed to satisfy "
                        "constraint: Member must have value greater than or equal to %lld",
                        x, f, min);
    if (x > max)
        return kms_fail(e, "ValidationException",
                        "1 validation error detected: Value '%lld' at '%s' failed to satisfy "
                        "constraint: Member must have value less than or equal to %lld",
                        x, f, max);
    *out = x;
    if (present)
        *present = true;
    return 0;
}

int req_bool(const json_t *in, const char *member, bool *out, struct kms_error *e)
{
    *out = false;
    const json_t *v = member_of(in, member);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail_type(e, member, "a boolean");
    *out = json_is_true(v);
    return 0;
}

int req_context(const json_t *in, const char *member, const json_t **out, struct kms_error *e)
{
    *out = NULL;
    const json_t *v = member_of(in, member);
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail_type(e, member, "a map of strings");
    size_t total = 0;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (!json_is_string(x))
            return fail_type(e, member, "a map of strings");
        if (strlen(json_string_value(x)) != json_string_length(x))
            return kms_fail(e, "ValidationException",
                            "Encryption context contains a NUL character");
        total += strlen(k) + json_string_length(x);
    }
    /* AWS bounds the whole encryption context (keys and values) at 8192 bytes */
    if (total > 8192)
        return kms_fail(e, "ValidationException",
                        "Encryption context of %zu bytes exceeds the maximum of 8192", total);
    *out = v;
    return 0;
}

int req_tags(const json_t *in, const char *member, bool required, size_t max_count,
             const json_t **out, struct kms_error *e)
{
    *out = NULL;
    const json_t *v = member_of(in, member);
    if (!v)
        return required ? fail_null(e, member) : 0;
    if (!json_is_array(v))
        return fail_type(e, member, "a list of tags");
    if (json_array_size(v) > max_count)
        return kms_fail(e, "TagException", "Too many tags: %zu (at most %zu)", json_array_size(v),
                        max_count);
    size_t i;
    json_t *t;
    json_array_foreach((json_t *)v, i, t)
    {
        if (!json_is_object(t))
            return fail_type(e, member, "a list of tags");
        const char *key, *value;
        if (req_string(t, "TagKey", true, 1, 128, &key, e) < 0 ||
            req_string(t, "TagValue", true, 0, 256, &value, e) < 0)
            return -1;
        if (strncmp(key, "aws:", 4) == 0)
            return kms_fail(e, "TagException", "Tags beginning with aws: are reserved");
    }
    *out = v;
    return 0;
}

int req_string_list(const json_t *in, const char *member, bool required, size_t min, size_t max,
                    const json_t **out, struct kms_error *e)
{
    *out = NULL;
    const json_t *v = member_of(in, member);
    if (!v)
        return required ? fail_null(e, member) : 0;
    if (!json_is_array(v))
        return fail_type(e, member, "a list of strings");
    size_t i;
    json_t *s;
    json_array_foreach((json_t *)v, i, s)
    {
        if (!json_is_string(s))
            return fail_type(e, member, "a list of strings");
        size_t n = json_string_length(s);
        if (n < min)
            return fail_len(e, member, NULL, true, min);
        if (n > max)
            return fail_len(e, member, NULL, false, max);
    }
    *out = v;
    return 0;
}
