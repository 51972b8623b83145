/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding NSM requests (the module's side) and responses (the client's
 * side) as the Rust nsm-api puts them on the wire (docs/nsm.md,
 * "Protocol"): the input is walked one item head at a time (nsm_reader.h),
 * nothing is allocated, byte strings point into the input, nesting is
 * bounded.
 */
#include "nsm/nsm_proto.h"

#include <string.h>

#include <cloister/error.h>

#include "nsm/nsm_proto_internal.h"
#include "nsm/nsm_reader.h"

/* ---------------------------------------------------------------------- */
/* Requests                                                                */

/* serde_bytes accepts a byte string and also a text string (visit_str);
 * so does QEMU's model. Indefinite (chunked) strings are refused: no
 * client encoder produces them. */
static bool tok_bytes(const struct nsm_tok *t, struct nsm_bytes *out)
{
    if (t->kind != NT_BSTR && t->kind != NT_TSTR)
        return false;
    /* A zero-length string has a non-NULL pointer into the input (the
     * byte after its head), so data == NULL keeps meaning "absent". */
    out->data = t->data;
    out->len = t->len;
    return out->data != NULL;
}

static int decode_u16(struct nsm_cursor *c, uint16_t *out)
{
    struct nsm_tok v;
    if (!nsm_rd_next(c, &v) || v.kind != NT_UINT || v.u > UINT16_MAX)
        return NSM_E_INVALID_ARGUMENT;
    *out = (uint16_t)v.u;
    return NSM_E_SUCCESS;
}

static int decode_opt_bytes(struct nsm_cursor *c, struct nsm_bytes *out)
{
    struct nsm_tok v;
    if (!nsm_rd_next(c, &v))
        return NSM_E_INVALID_ARGUMENT;
    if (v.kind == NT_NULL) {
        out->data = NULL;
        out->len = 0;
        return NSM_E_SUCCESS;
    }
    if (!tok_bytes(&v, out))
        return NSM_E_INVALID_ARGUMENT;
    /* attestation_process.md §2.2: user_data = bytes .size (0..1024) */
    if (out->len > NSM_ATTEST_FIELD_MAX)
        return NSM_E_INPUT_TOO_LARGE;
    return NSM_E_SUCCESS;
}

/* Field bits, per variant, in declaration order. */
enum {
    F_INDEX = 1 << 0, F_DATA = 1 << 1, F_RANGE = 1 << 2,
    F_USER_DATA = 1 << 3, F_NONCE = 1 << 4, F_PUBLIC_KEY = 1 << 5,
};

static int decode_request_body(struct nsm_cursor *c, struct nsm_request *req)
{
    struct nsm_tok head, key;
    struct nsm_map_iter it;
    unsigned seen = 0, allowed, required;

    switch (req->op) {
    case NSM_OP_DESCRIBE_PCR:
    case NSM_OP_LOCK_PCR:
        allowed = required = F_INDEX;
        break;
    case NSM_OP_EXTEND_PCR:
        allowed = required = F_INDEX | F_DATA;
        break;
    case NSM_OP_LOCK_PCRS:
        allowed = required = F_RANGE;
        break;
    case NSM_OP_ATTESTATION:
        /* Option fields: serde's derive takes a missing Option as None. */
        allowed = F_USER_DATA | F_NONCE | F_PUBLIC_KEY;
        required = 0;
        break;
    default:
        return NSM_E_INVALID_OPERATION;
    }

    if (!nsm_rd_next(c, &head) || !nsm_rd_map_begin(&it, &head))
        return NSM_E_INVALID_ARGUMENT;
    for (;;) {
        int more = nsm_rd_map_next(&it, c, &key);
        if (more < 0)
            return NSM_E_INVALID_ARGUMENT;
        if (more == 0)
            break;
        if (key.kind != NT_TSTR)
            return NSM_E_INVALID_ARGUMENT;
        unsigned f;
        if (nsm_text_is(key.data, key.len, "index"))
            f = F_INDEX;
        else if (nsm_text_is(key.data, key.len, "data"))
            f = F_DATA;
        else if (nsm_text_is(key.data, key.len, "range"))
            f = F_RANGE;
        else if (nsm_text_is(key.data, key.len, "user_data"))
            f = F_USER_DATA;
        else if (nsm_text_is(key.data, key.len, "nonce"))
            f = F_NONCE;
        else if (nsm_text_is(key.data, key.len, "public_key"))
            f = F_PUBLIC_KEY;
        else
            return NSM_E_INVALID_ARGUMENT; /* unknown field */
        if (!(f & allowed) || (seen & f))
            return NSM_E_INVALID_ARGUMENT; /* foreign or repeated field */
        seen |= f;

        int rc;
        struct nsm_tok v;
        switch (f) {
        case F_INDEX:
            rc = decode_u16(c, &req->index);
            break;
        case F_RANGE:
            rc = decode_u16(c, &req->range);
            break;
        case F_DATA:
            rc = nsm_rd_next(c, &v) && tok_bytes(&v, &req->data) ? NSM_E_SUCCESS
                                                           : NSM_E_INVALID_ARGUMENT;
            break;
        case F_USER_DATA:
            rc = decode_opt_bytes(c, &req->user_data);
            break;
        case F_NONCE:
            rc = decode_opt_bytes(c, &req->nonce);
            break;
        default:
            rc = decode_opt_bytes(c, &req->public_key);
            break;
        }
        if (rc != NSM_E_SUCCESS)
            return rc;
    }
    if ((seen & required) != required)
        return NSM_E_INVALID_ARGUMENT; /* missing field */
    return NSM_E_SUCCESS;
}

int nsm_request_decode(const uint8_t *buf, size_t len, struct nsm_request *req)
{
    memset(req, 0, sizeof(*req));
    /* uapi NSM_REQUEST_MAX_SIZE; the kernel answers EMSGSIZE, which
     * libnsm reports as InputTooLarge. */
    if (len > NSM_REQUEST_MAX)
        return NSM_E_INPUT_TOO_LARGE;
    if (buf == NULL)
        return NSM_E_INVALID_OPERATION;

    struct nsm_cursor c = {buf, len, 0};
    struct nsm_tok t, key, brk;
    enum nsm_op op;
    int rc;

    if (!nsm_rd_next(&c, &t))
        return NSM_E_INVALID_OPERATION;
    if (t.kind == NT_TSTR) {
        /* A unit variant: "DescribeNSM" or "GetRandom". */
        op = nsm_op_lookup(t.data, t.len);
        if (op == NSM_OP_NONE || !nsm_request_is_unit(op))
            return NSM_E_INVALID_OPERATION;
        req->op = op;
    } else if ((t.kind == NT_MAP && t.u == 1) || t.kind == NT_MAP_INDEF) {
        /* A struct variant: {"Variant": {fields}}. */
        if (!nsm_rd_next(&c, &key) || key.kind != NT_TSTR)
            return NSM_E_INVALID_OPERATION;
        op = nsm_op_lookup(key.data, key.len);
        if (op == NSM_OP_NONE || nsm_request_is_unit(op))
            return NSM_E_INVALID_OPERATION;
        req->op = op;
        rc = decode_request_body(&c, req);
        if (rc != NSM_E_SUCCESS)
            goto fail;
        /* An indefinite outer map must hold exactly this one entry. */
        if (t.kind == NT_MAP_INDEF && (!nsm_rd_next(&c, &brk) || brk.kind != NT_BREAK)) {
            rc = NSM_E_INVALID_OPERATION;
            goto fail;
        }
    } else {
        return NSM_E_INVALID_OPERATION;
    }
    if (c.pos != len) {
        rc = NSM_E_INVALID_OPERATION; /* trailing bytes */
        goto fail;
    }
    return NSM_E_SUCCESS;
fail:
    memset(req, 0, sizeof(*req));
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Responses (client side)                                                 */

static bool pcr_len_ok(size_t n)
{
    return n == 32 || n == 48 || n == 64; /* pcr = bytes .size (32/48/64) */
}

enum {
    R_LOCK = 1 << 0, R_DATA = 1 << 1, R_DOCUMENT = 1 << 2, R_RANDOM = 1 << 3,
    R_VMAJ = 1 << 4, R_VMIN = 1 << 5, R_VPAT = 1 << 6, R_MODULE_ID = 1 << 7,
    R_MAX_PCRS = 1 << 8, R_LOCKED = 1 << 9, R_DIGEST = 1 << 10,
};

static const struct {
    const char *name;
    unsigned bit;
} response_fields[] = {
    {"lock", R_LOCK}, {"data", R_DATA}, {"document", R_DOCUMENT}, {"random", R_RANDOM},
    {"version_major", R_VMAJ}, {"version_minor", R_VMIN}, {"version_patch", R_VPAT},
    {"module_id", R_MODULE_ID}, {"max_pcrs", R_MAX_PCRS}, {"locked_pcrs", R_LOCKED},
    {"digest", R_DIGEST},
};

static bool resp_u16(struct nsm_cursor *c, uint16_t *out)
{
    struct nsm_tok v;
    if (!nsm_rd_next(c, &v) || v.kind != NT_UINT || v.u > UINT16_MAX)
        return false;
    *out = (uint16_t)v.u;
    return true;
}

static bool resp_bstr(struct nsm_cursor *c, struct nsm_bytes *out)
{
    struct nsm_tok v;
    if (!nsm_rd_next(c, &v) || v.kind != NT_BSTR)
        return false;
    out->data = v.data;
    out->len = v.len;
    return true;
}

static bool resp_locked(struct nsm_cursor *c, struct nsm_description *d)
{
    struct nsm_tok head, v;
    if (!nsm_rd_next(c, &head) || head.kind != NT_ARRAY || head.u > NSM_LOCKED_PCRS_MAX)
        return false;
    d->locked_pcrs_len = 0;
    for (uint64_t i = 0; i < head.u; i++) {
        if (!nsm_rd_next(c, &v) || v.kind != NT_UINT || v.u > UINT16_MAX)
            return false;
        if (i > 0 && v.u <= d->locked_pcrs[i - 1])
            return false; /* a BTreeSet is strictly ascending */
        d->locked_pcrs[i] = (uint16_t)v.u;
        d->locked_pcrs_len++;
    }
    return true;
}

static bool resp_digest(struct nsm_cursor *c, enum nsm_digest *out)
{
    struct nsm_tok v;
    if (!nsm_rd_next(c, &v) || v.kind != NT_TSTR)
        return false;
    for (int i = NSM_DIGEST_SHA256; i <= NSM_DIGEST_SHA512; i++)
        if (nsm_text_is(v.data, v.len, nsm_digest_name((enum nsm_digest)i))) {
            *out = (enum nsm_digest)i;
            return true;
        }
    return false;
}

static bool decode_response_body(struct nsm_cursor *c, struct nsm_response *r)
{
    unsigned required;
    switch (r->op) {
    case NSM_OP_DESCRIBE_PCR: required = R_LOCK | R_DATA; break;
    case NSM_OP_EXTEND_PCR: required = R_DATA; break;
    case NSM_OP_ATTESTATION: required = R_DOCUMENT; break;
    case NSM_OP_GET_RANDOM: required = R_RANDOM; break;
    case NSM_OP_DESCRIBE_NSM:
        required = R_VMAJ | R_VMIN | R_VPAT | R_MODULE_ID | R_MAX_PCRS | R_LOCKED | R_DIGEST;
        break;
    default:
        return false;
    }

    struct nsm_tok head, key, v = {0};
    struct nsm_map_iter it;
    unsigned seen = 0;
    if (!nsm_rd_next(c, &head) || !nsm_rd_map_begin(&it, &head))
        return false;
    for (;;) {
        int more = nsm_rd_map_next(&it, c, &key);
        if (more < 0)
            return false;
        if (more == 0)
            break;
        if (key.kind != NT_TSTR)
            return false;
        unsigned f = 0;
        for (size_t i = 0; i < sizeof(response_fields) / sizeof(response_fields[0]); i++)
            if (nsm_text_is(key.data, key.len, response_fields[i].name))
                f = response_fields[i].bit;
        if (!(f & required)) {
            /* Unknown to this variant: skipped, as serde does. */
            if (!nsm_rd_next(c, &v) || v.kind == NT_BREAK || !nsm_rd_skip_rest(c, &v, 1))
                return false;
            continue;
        }
        if (seen & f)
            return false; /* repeated field */
        seen |= f;
        bool ok;
        switch (f) {
        case R_LOCK:
            ok = nsm_rd_next(c, &v) && v.kind == NT_BOOL;
            r->lock = v.b;
            break;
        case R_DATA:
            ok = resp_bstr(c, &r->data) && pcr_len_ok(r->data.len);
            break;
        case R_DOCUMENT:
            ok = resp_bstr(c, &r->document);
            break;
        case R_RANDOM:
            ok = resp_bstr(c, &r->random);
            break;
        case R_VMAJ:
            ok = resp_u16(c, &r->describe.version_major);
            break;
        case R_VMIN:
            ok = resp_u16(c, &r->describe.version_minor);
            break;
        case R_VPAT:
            ok = resp_u16(c, &r->describe.version_patch);
            break;
        case R_MODULE_ID:
            ok = nsm_rd_next(c, &v) && v.kind == NT_TSTR && v.len <= NSM_DESCRIBE_MODULE_ID_MAX;
            r->describe.module_id = (const char *)v.data;
            r->describe.module_id_len = v.len;
            break;
        case R_MAX_PCRS:
            ok = resp_u16(c, &r->describe.max_pcrs);
            break;
        case R_LOCKED:
            ok = resp_locked(c, &r->describe);
            break;
        default:
            ok = resp_digest(c, &r->describe.digest);
            break;
        }
        if (!ok)
            return false;
    }
    return seen == required;
}

int nsm_response_decode(const uint8_t *buf, size_t len, struct nsm_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (buf == NULL || len > NSM_RESPONSE_MAX)
        return NSM_E_INTERNAL_ERROR;
    struct nsm_cursor c = {buf, len, 0};
    struct nsm_tok t, key, v, brk;

    if (!nsm_rd_next(&c, &t))
        goto bad;
    if (t.kind == NT_TSTR) {
        enum nsm_op op = nsm_op_lookup(t.data, t.len);
        if (!nsm_response_is_unit(op))
            goto bad;
        resp->op = op;
    } else if ((t.kind == NT_MAP && t.u == 1) || t.kind == NT_MAP_INDEF) {
        if (!nsm_rd_next(&c, &key) || key.kind != NT_TSTR)
            goto bad;
        if (nsm_text_is(key.data, key.len, "Error")) {
            /* Response::Error(ErrorCode): a newtype variant around a unit
             * enum, {"Error": "InvalidIndex"}. Success is not an error. */
            if (!nsm_rd_next(&c, &v) || v.kind != NT_TSTR)
                goto bad;
            resp->op = NSM_OP_ERROR;
            for (int e = NSM_E_INVALID_ARGUMENT; e <= NSM_E_INTERNAL_ERROR; e++)
                if (nsm_text_is(v.data, v.len, nsm_error_name(e)))
                    resp->error = (enum nsm_error_code)e;
            if (resp->error == NSM_E_SUCCESS)
                goto bad;
        } else {
            enum nsm_op op = nsm_op_lookup(key.data, key.len);
            if (op == NSM_OP_NONE || nsm_response_is_unit(op))
                goto bad;
            resp->op = op;
            if (!decode_response_body(&c, resp))
                goto bad;
        }
        if (t.kind == NT_MAP_INDEF && (!nsm_rd_next(&c, &brk) || brk.kind != NT_BREAK))
            goto bad;
    } else {
        goto bad;
    }
    if (c.pos != len)
        goto bad;
    return NSM_E_SUCCESS;
bad:
    memset(resp, 0, sizeof(*resp));
    return NSM_E_INTERNAL_ERROR;
}
