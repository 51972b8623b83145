/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NSM wire protocol (docs/nsm.md, "Protocol"): the names of operations,
 * errors and digests, and encoding. Encoding uses libcbor's encoders, which
 * write the shortest form of every head, as serde_cbor / ciborium do.
 * Decoding is nsm_proto_decode.c's job.
 */
#include "nsm/nsm_proto.h"

#include <string.h>

#include <cbor.h>

#include <cloister/error.h>

#include "nsm/nsm_proto_internal.h"

/* ---------------------------------------------------------------------- */
/* Names                                                                   */

static const char *const error_names[] = {
    [NSM_E_SUCCESS] = "Success",
    [NSM_E_INVALID_ARGUMENT] = "InvalidArgument",
    [NSM_E_INVALID_INDEX] = "InvalidIndex",
    [NSM_E_INVALID_RESPONSE] = "InvalidResponse",
    [NSM_E_READ_ONLY_INDEX] = "ReadOnlyIndex",
    [NSM_E_INVALID_OPERATION] = "InvalidOperation",
    [NSM_E_BUFFER_TOO_SMALL] = "BufferTooSmall",
    [NSM_E_INPUT_TOO_LARGE] = "InputTooLarge",
    [NSM_E_INTERNAL_ERROR] = "InternalError",
};

const char *nsm_error_name(int code)
{
    if (code <= NSM_E_SUCCESS || code > NSM_E_INTERNAL_ERROR)
        return NULL;
    return error_names[code];
}

static const char *const op_names[] = {
    [NSM_OP_DESCRIBE_PCR] = "DescribePCR", [NSM_OP_EXTEND_PCR] = "ExtendPCR",
    [NSM_OP_LOCK_PCR] = "LockPCR",         [NSM_OP_LOCK_PCRS] = "LockPCRs",
    [NSM_OP_DESCRIBE_NSM] = "DescribeNSM", [NSM_OP_ATTESTATION] = "Attestation",
    [NSM_OP_GET_RANDOM] = "GetRandom",
};

const char *nsm_op_name(enum nsm_op op)
{
    if (op < NSM_OP_DESCRIBE_PCR || op > NSM_OP_GET_RANDOM)
        return NULL;
    return op_names[op];
}

bool nsm_text_is(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

enum nsm_op nsm_op_lookup(const uint8_t *p, size_t n)
{
    for (int op = NSM_OP_DESCRIBE_PCR; op <= NSM_OP_GET_RANDOM; op++)
        if (nsm_text_is(p, n, op_names[op]))
            return (enum nsm_op)op;
    return NSM_OP_NONE;
}

bool nsm_request_is_unit(enum nsm_op op)
{
    return op == NSM_OP_DESCRIBE_NSM || op == NSM_OP_GET_RANDOM;
}

bool nsm_response_is_unit(enum nsm_op op)
{
    return op == NSM_OP_LOCK_PCR || op == NSM_OP_LOCK_PCRS;
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                */

struct w {
    uint8_t *buf;
    size_t cap, len;
    bool over;
};

/* Each cbor_encode_* returns the bytes written, 0 when they do not fit. */
#define W_HEAD(w, call)                                                        \
    do {                                                                       \
        if (!(w)->over) {                                                      \
            size_t n_ = (w)->len < (w)->cap ? (call) : 0;                      \
            if (n_ == 0)                                                       \
                (w)->over = true;                                              \
            else                                                               \
                (w)->len += n_;                                                \
        }                                                                      \
    } while (0)

#define W_AT(w) ((w)->buf + (w)->len), ((w)->cap - (w)->len)

static void w_raw(struct w *w, const void *p, size_t n)
{
    if (w->over)
        return;
    if (n > w->cap - w->len) {
        w->over = true;
        return;
    }
    if (n)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void w_uint(struct w *w, uint64_t v) { W_HEAD(w, cbor_encode_uint(v, W_AT(w))); }
static void w_map(struct w *w, size_t n) { W_HEAD(w, cbor_encode_map_start(n, W_AT(w))); }
static void w_array(struct w *w, size_t n) { W_HEAD(w, cbor_encode_array_start(n, W_AT(w))); }
static void w_bool(struct w *w, bool b) { W_HEAD(w, cbor_encode_bool(b, W_AT(w))); }
static void w_null(struct w *w) { W_HEAD(w, cbor_encode_null(W_AT(w))); }

static void w_tstrn(struct w *w, const char *s, size_t n)
{
    W_HEAD(w, cbor_encode_string_start(n, W_AT(w)));
    w_raw(w, s, n);
}

static void w_tstr(struct w *w, const char *s) { w_tstrn(w, s, strlen(s)); }

static void w_bstr(struct w *w, const uint8_t *p, size_t n)
{
    W_HEAD(w, cbor_encode_bytestring_start(n, W_AT(w)));
    w_raw(w, p, n);
}

static void w_opt_bstr(struct w *w, const struct nsm_bytes *b)
{
    if (b->data == NULL)
        w_null(w);
    else
        w_bstr(w, b->data, b->len);
}

static int w_finish(const struct w *w, size_t *out_len)
{
    if (w->over)
        return CL_ELIMIT;
    *out_len = w->len;
    return 0;
}

int nsm_request_encode(const struct nsm_request *req, uint8_t *out, size_t cap, size_t *out_len)
{
    struct w w = {out, cap, 0, false};
    const char *name = nsm_op_name(req->op);
    if (name == NULL || out == NULL)
        return CL_EINVAL;
    if (nsm_request_is_unit(req->op)) {
        w_tstr(&w, name);
        return w_finish(&w, out_len);
    }
    w_map(&w, 1);
    w_tstr(&w, name);
    switch (req->op) {
    case NSM_OP_DESCRIBE_PCR:
    case NSM_OP_LOCK_PCR:
        w_map(&w, 1);
        w_tstr(&w, "index");
        w_uint(&w, req->index);
        break;
    case NSM_OP_EXTEND_PCR:
        if (req->data.data == NULL && req->data.len != 0)
            return CL_EINVAL;
        w_map(&w, 2);
        w_tstr(&w, "index");
        w_uint(&w, req->index);
        w_tstr(&w, "data");
        w_bstr(&w, req->data.data, req->data.len);
        break;
    case NSM_OP_LOCK_PCRS:
        w_map(&w, 1);
        w_tstr(&w, "range");
        w_uint(&w, req->range);
        break;
    case NSM_OP_ATTESTATION:
        w_map(&w, 3);
        w_tstr(&w, "user_data");
        w_opt_bstr(&w, &req->user_data);
        w_tstr(&w, "nonce");
        w_opt_bstr(&w, &req->nonce);
        w_tstr(&w, "public_key");
        w_opt_bstr(&w, &req->public_key);
        break;
    default:
        return CL_EINVAL;
    }
    return w_finish(&w, out_len);
}

const char *nsm_digest_name(enum nsm_digest d)
{
    switch (d) {
    case NSM_DIGEST_SHA256: return "SHA256";
    case NSM_DIGEST_SHA384: return "SHA384";
    case NSM_DIGEST_SHA512: return "SHA512";
    }
    return NULL;
}

int nsm_response_encode(const struct nsm_response *resp, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    struct w w = {out, cap, 0, false};
    if (out == NULL)
        return CL_EINVAL;
    if (resp->op == NSM_OP_ERROR) {
        const char *e = nsm_error_name(resp->error);
        if (e == NULL)
            return CL_EINVAL;
        w_map(&w, 1);
        w_tstr(&w, "Error");
        w_tstr(&w, e);
        return w_finish(&w, out_len);
    }
    const char *name = nsm_op_name(resp->op);
    if (name == NULL)
        return CL_EINVAL;
    if (nsm_response_is_unit(resp->op)) {
        w_tstr(&w, name);
        return w_finish(&w, out_len);
    }
    w_map(&w, 1);
    w_tstr(&w, name);
    switch (resp->op) {
    case NSM_OP_DESCRIBE_PCR:
        w_map(&w, 2);
        w_tstr(&w, "lock");
        w_bool(&w, resp->lock);
        w_tstr(&w, "data");
        w_bstr(&w, resp->data.data, resp->data.len);
        break;
    case NSM_OP_EXTEND_PCR:
        w_map(&w, 1);
        w_tstr(&w, "data");
        w_bstr(&w, resp->data.data, resp->data.len);
        break;
    case NSM_OP_DESCRIBE_NSM: {
        const struct nsm_description *d = &resp->describe;
        const char *dn = nsm_digest_name(d->digest);
        if (dn == NULL || d->locked_pcrs_len > NSM_LOCKED_PCRS_MAX ||
            (d->module_id == NULL && d->module_id_len != 0))
            return CL_EINVAL;
        w_map(&w, 7);
        w_tstr(&w, "version_major");
        w_uint(&w, d->version_major);
        w_tstr(&w, "version_minor");
        w_uint(&w, d->version_minor);
        w_tstr(&w, "version_patch");
        w_uint(&w, d->version_patch);
        w_tstr(&w, "module_id");
        w_tstrn(&w, d->module_id ? d->module_id : "", d->module_id_len);
        w_tstr(&w, "max_pcrs");
        w_uint(&w, d->max_pcrs);
        w_tstr(&w, "locked_pcrs"); /* BTreeSet<u16>: an ascending array */
        w_array(&w, d->locked_pcrs_len);
        for (size_t i = 0; i < d->locked_pcrs_len; i++)
            w_uint(&w, d->locked_pcrs[i]);
        w_tstr(&w, "digest");
        w_tstr(&w, dn);
        break;
    }
    case NSM_OP_ATTESTATION:
        w_map(&w, 1);
        w_tstr(&w, "document");
        w_bstr(&w, resp->document.data, resp->document.len);
        break;
    case NSM_OP_GET_RANDOM:
        w_map(&w, 1);
        w_tstr(&w, "random");
        w_bstr(&w, resp->random.data, resp->random.len);
        break;
    default:
        return CL_EINVAL;
    }
    return w_finish(&w, out_len);
}
