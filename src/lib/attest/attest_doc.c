/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation documents, decoded: the COSE_Sign1 envelope, its algorithm and
 * the payload's fields with their bounds (aws-nitro-enclaves-nsm-api
 * docs/attestation_process.md §3.2.2, the syntactic checks; docs/attestation.md,
 * "Document format"), and the accessors of include/cloister/attestation.h.
 * Verifying a decoded document is attest_verify.c's job.
 */
#include "attest/attest_doc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "cose/cbor_bounded.h"

void attest_doc_free(struct attest_doc *d)
{
    if (!d)
        return;
    free(d->cert);
    for (size_t i = 0; i < d->ca_count; i++)
        free(d->ca[i]);
    free(d->public_key);
    free(d->user_data);
    free(d->nonce);
    free(d);
}

enum field {
    F_MODULE_ID, F_DIGEST, F_TIMESTAMP, F_PCRS, F_CERTIFICATE, F_CABUNDLE,
    F_PUBLIC_KEY, F_USER_DATA, F_NONCE, F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle",
    "public_key", "user_data", "nonce",
};

/* bstr of min..max bytes, copied. */
/* A text item for an error message: "?" when it does not fit. */
static void text_for_message(const cbor_item_t *item, char *out, size_t cap)
{
    if (cbor_bounded_text(item, out, cap, NULL) < 0)
        snprintf(out, cap, "?");
}

static int get_bytes(const cbor_item_t *it, const char *what, size_t min, size_t max,
                     uint8_t **out, size_t *len, struct cl_error *err)
{
    if (!cbor_isa_bytestring(it))
        return cl_fail(err, CL_EFORMAT, "%s is not a byte string", what);
    size_t n = cbor_bounded_string_len(it);
    if (n < min || n > max)
        return cl_fail(err, CL_EFORMAT, "%s is %zu bytes, expected %zu..%zu", what, n, min, max);
    int rc = cbor_bounded_bytes(it, out, len, err);
    return rc == CL_ENOMEM ? rc : rc < 0 ? CL_EFORMAT : 0;
}

/* Optional fields: null (or absent) or a bstr of 0..1024 bytes (CDDL user_data). */
static int get_optional(const cbor_item_t *it, const char *what, uint8_t **out, size_t *len,
                        struct cl_error *err)
{
    if (cbor_bounded_is_null(it))
        return 0;
    return get_bytes(it, what, 0, ATTEST_MAX_OPTIONAL, out, len, err);
}

static int parse_pcrs(struct attest_doc *d, const cbor_item_t *it, struct cl_error *err)
{
    if (!cbor_isa_map(it))
        return cl_fail(err, CL_EFORMAT, "pcrs is not a map");
    size_t n = cbor_map_size(it);
    if (n < 1 || n > ATTEST_MAX_PCRS)
        return cl_fail(err, CL_EFORMAT, "pcrs has %zu entries, expected 1..%d", n, ATTEST_MAX_PCRS);
    struct cbor_pair *kv = cbor_map_handle(it);
    for (size_t i = 0; i < n; i++) {
        if (!cbor_isa_uint(kv[i].key))
            return cl_fail(err, CL_EFORMAT, "pcrs has a key that is not an unsigned integer");
        uint64_t idx = cbor_get_int(kv[i].key);
        if (idx >= ATTEST_MAX_PCRS)
            return cl_fail(err, CL_EFORMAT, "pcrs has index %llu, expected 0..31",
                           (unsigned long long)idx);
        if (d->pcr_mask & (1u << idx))
            return cl_fail(err, CL_EFORMAT, "pcrs has index %llu twice", (unsigned long long)idx);
        if (!cbor_isa_bytestring(kv[i].value))
            return cl_fail(err, CL_EFORMAT, "PCR%llu is not a byte string", (unsigned long long)idx);
        size_t len = cbor_bounded_string_len(kv[i].value);
        if (len != 32 && len != 48 && len != 64)
            return cl_fail(err, CL_EFORMAT, "PCR%llu is %zu bytes, expected 32, 48 or 64",
                           (unsigned long long)idx, len);
        uint8_t *tmp = NULL;
        size_t tlen = 0;
        int rc = cbor_bounded_bytes(kv[i].value, &tmp, &tlen, err);
        if (rc < 0)
            return rc;
        memcpy(d->pcr[idx], tmp, tlen);
        d->pcr_len[idx] = tlen;
        free(tmp);
        d->pcr_mask |= 1u << idx;
    }
    return 0;
}

static int parse_cabundle(struct attest_doc *d, const cbor_item_t *it, struct cl_error *err)
{
    if (!cbor_isa_array(it))
        return cl_fail(err, CL_EFORMAT, "cabundle is not an array");
    size_t n = cbor_array_size(it);
    if (n < 1 || n > ATTEST_MAX_CABUNDLE)
        return cl_fail(err, CL_EFORMAT, "cabundle has %zu certificates, expected 1..%d", n,
                       ATTEST_MAX_CABUNDLE);
    cbor_item_t **items = cbor_array_handle(it);
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof(what), "cabundle[%zu]", i);
        int rc = get_bytes(items[i], what, 1, ATTEST_MAX_CERT, &d->ca[i], &d->ca_len[i], err);
        if (rc < 0)
            return rc;
        d->ca_count = i + 1;
    }
    return 0;
}

/* The payload map (§3.2.2 syntactic validation). Unknown text keys are
 * skipped (the map is signed; AWS may add fields), duplicates are not. */
static int parse_payload(struct attest_doc *d, const uint8_t *p, size_t len, struct cl_error *err)
{
    cbor_item_t *map = NULL;
    int rc = cbor_bounded_load(p, len, &map, err);
    if (rc < 0) {
        cl_error_prefix(err, "attestation payload");
        return rc == CL_ENOMEM ? rc : CL_EFORMAT;
    }
    unsigned seen = 0;
    if (!cbor_isa_map(map)) {
        rc = cl_fail(err, CL_EFORMAT, "attestation payload is not a map");
        goto out;
    }
    size_t n = cbor_map_size(map);
    if (n > 64) {
        rc = cl_fail(err, CL_EFORMAT, "attestation payload has %zu fields", n);
        goto out;
    }
    struct cbor_pair *kv = cbor_map_handle(map);
    for (size_t i = 0; i < n; i++) {
        if (!cbor_isa_string(kv[i].key)) {
            rc = cl_fail(err, CL_EFORMAT, "attestation payload has a key that is not text");
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (cbor_bounded_key_eq(kv[i].key, kv[j].key)) {
                char name[64];
                text_for_message(kv[i].key, name, sizeof(name));
                rc = cl_fail(err, CL_EFORMAT, "attestation payload has the key '%s' twice", name);
                goto out;
            }
        int f = -1;
        for (int k = 0; k < F_COUNT; k++)
            if (cbor_bounded_text_eq(kv[i].key, field_names[k]))
                f = k;
        if (f < 0)
            continue;
        seen |= 1u << f;
        const cbor_item_t *v = kv[i].value;
        switch (f) {
        case F_MODULE_ID: {
            if (!cbor_isa_string(v)) {
                rc = cl_fail(err, CL_EFORMAT, "module_id is not a text string");
                goto out;
            }
            size_t l = cbor_bounded_string_len(v);
            if (l == 0 || l > ATTEST_MAX_MODULE_ID) {
                rc = cl_fail(err, CL_EFORMAT, "module_id is %zu bytes, expected 1..%d", l,
                             ATTEST_MAX_MODULE_ID);
                goto out;
            }
            if ((rc = cbor_bounded_text(v, d->module_id, sizeof(d->module_id), err)) < 0)
                goto out;
            if (strlen(d->module_id) != l) {
                rc = cl_fail(err, CL_EFORMAT, "module_id contains a NUL character");
                goto out;
            }
            break;
        }
        case F_DIGEST:
            if (!cbor_isa_string(v)) {
                rc = cl_fail(err, CL_EFORMAT, "digest is not a text string");
                goto out;
            }
            if (!cbor_bounded_text_eq(v, "SHA384")) {
                char name[32];
                text_for_message(v, name, sizeof(name));
                rc = cl_fail(err, CL_EALGORITHM, "digest is '%s', expected 'SHA384'", name);
                goto out;
            }
            strcpy(d->digest, "SHA384");
            break;
        case F_TIMESTAMP:
            if (!cbor_isa_uint(v)) {
                rc = cl_fail(err, CL_EFORMAT, "timestamp is not an unsigned integer");
                goto out;
            }
            d->timestamp_ms = cbor_get_int(v);
            if (d->timestamp_ms == 0) {
                rc = cl_fail(err, CL_EFORMAT, "timestamp is zero");
                goto out;
            }
            break;
        case F_PCRS:
            if ((rc = parse_pcrs(d, v, err)) < 0)
                goto out;
            break;
        case F_CERTIFICATE:
            if ((rc = get_bytes(v, "certificate", 1, ATTEST_MAX_CERT, &d->cert, &d->cert_len, err)) < 0)
                goto out;
            break;
        case F_CABUNDLE:
            if ((rc = parse_cabundle(d, v, err)) < 0)
                goto out;
            break;
        case F_PUBLIC_KEY:
            if ((rc = get_optional(v, "public_key", &d->public_key, &d->public_key_len, err)) < 0)
                goto out;
            break;
        case F_USER_DATA:
            if ((rc = get_optional(v, "user_data", &d->user_data, &d->user_data_len, err)) < 0)
                goto out;
            break;
        case F_NONCE:
            if ((rc = get_optional(v, "nonce", &d->nonce, &d->nonce_len, err)) < 0)
                goto out;
            break;
        }
    }
    for (int k = F_MODULE_ID; k <= F_CABUNDLE; k++)
        if (!(seen & (1u << k))) {
            rc = cl_fail(err, CL_EFORMAT, "attestation document has no %s", field_names[k]);
            goto out;
        }
out:
    cbor_decref(&map);
    return rc;
}

int attest_doc_parse(const uint8_t *doc, size_t len, struct cose_sign1 **cose_out,
                     struct attest_doc **out, struct cl_error *err)
{
    struct cose_sign1 *m = NULL;
    struct attest_doc *d = NULL;
    int rc;
    *out = NULL;
    if (!doc || len == 0)
        return cl_fail(err, CL_EFORMAT, "attestation document is empty");
    if (len > ATTEST_MAX_DOCUMENT)
        return cl_fail(err, CL_EFORMAT, "attestation document of %zu bytes, at most %d allowed",
                       len, ATTEST_MAX_DOCUMENT);
    rc = cose_sign1_parse(doc, len, &m, err);
    if (rc < 0) {
        rc = rc == CL_ENOMEM ? rc : CL_EFORMAT;
        goto out;
    }
    if (cose_sign1_alg(m) != COSE_ALG_ES384) {
        rc = cl_fail(err, CL_EALGORITHM, "COSE algorithm %d, attestation documents use ES384 (-35)",
                     cose_sign1_alg(m));
        goto out;
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    size_t plen = 0;
    const uint8_t *p = cose_sign1_payload(m, &plen);
    if ((rc = parse_payload(d, p, plen, err)) < 0)
        goto out;
    *out = d;
    d = NULL;
    if (cose_out) {
        *cose_out = m;
        m = NULL;
    }
out:
    cose_sign1_free(m);
    attest_doc_free(d);
    return rc;
}

int attest_doc_parse_unverified(const uint8_t *doc, size_t len, struct attest_doc **out,
                                struct cl_error *err)
{
    if (!out)
        return cl_fail(err, CL_EINVAL, "attest_doc_parse_unverified: no output");
    return attest_doc_parse(doc, len, NULL, out, err);
}

const char *attest_doc_module_id(const struct attest_doc *d) { return d->module_id; }
uint64_t attest_doc_timestamp_ms(const struct attest_doc *d) { return d->timestamp_ms; }
const char *attest_doc_digest(const struct attest_doc *d) { return d->digest; }
uint32_t attest_doc_pcr_mask(const struct attest_doc *d) { return d->pcr_mask; }
bool attest_doc_verified(const struct attest_doc *d) { return d->verified; }

const uint8_t *attest_doc_pcr(const struct attest_doc *d, unsigned index, size_t *len)
{
    if (index >= ATTEST_MAX_PCRS || !(d->pcr_mask & (1u << index))) {
        *len = 0;
        return NULL;
    }
    *len = d->pcr_len[index];
    return d->pcr[index];
}

const uint8_t *attest_doc_certificate(const struct attest_doc *d, size_t *len)
{
    *len = d->cert_len;
    return d->cert;
}

size_t attest_doc_cabundle_count(const struct attest_doc *d) { return d->ca_count; }

const uint8_t *attest_doc_cabundle_cert(const struct attest_doc *d, size_t i, size_t *len)
{
    if (i >= d->ca_count) {
        *len = 0;
        return NULL;
    }
    *len = d->ca_len[i];
    return d->ca[i];
}

const uint8_t *attest_doc_public_key(const struct attest_doc *d, size_t *len)
{
    *len = d->public_key_len;
    return d->public_key;
}

const uint8_t *attest_doc_user_data(const struct attest_doc *d, size_t *len)
{
    *len = d->user_data_len;
    return d->user_data;
}

const uint8_t *attest_doc_nonce(const struct attest_doc *d, size_t *len)
{
    *len = d->nonce_len;
    return d->nonce;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

bool attest_doc_is_debug(const struct attest_doc *d)
{
    return (d->pcr_mask & 1u) && all_zero(d->pcr[0], d->pcr_len[0]);
}
