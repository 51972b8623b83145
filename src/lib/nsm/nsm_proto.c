/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NSM wire protocol (docs/nsm.md, "Protocol"). Decoding walks the
 * input one item header at a time with libcbor's streaming decoder: no
 * allocation, byte strings point into the input, every length is checked
 * by libcbor against the bytes that are really there, nesting is bounded.
 * Encoding uses libcbor's encoders, which write the shortest form of every
 * head, as serde_cbor / ciborium do.
 */
#include "nsm/nsm_proto.h"

#include <string.h>

#include <cbor.h>

#include <cloister/error.h>

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

static bool text_is(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

static enum nsm_op op_lookup(const uint8_t *p, size_t n)
{
    for (int op = NSM_OP_DESCRIBE_PCR; op <= NSM_OP_GET_RANDOM; op++)
        if (text_is(p, n, op_names[op]))
            return (enum nsm_op)op;
    return NSM_OP_NONE;
}

/* Unit variants: "DescribeNSM", "GetRandom" in requests; "LockPCR",
 * "LockPCRs" in responses. Everything else is a struct variant. */
static bool request_is_unit(enum nsm_op op)
{
    return op == NSM_OP_DESCRIBE_NSM || op == NSM_OP_GET_RANDOM;
}

static bool response_is_unit(enum nsm_op op)
{
    return op == NSM_OP_LOCK_PCR || op == NSM_OP_LOCK_PCRS;
}

/* ---------------------------------------------------------------------- */
/* A token reader over libcbor's streaming decoder                         */

enum tok_kind {
    T_UINT, T_NEGINT, T_BSTR, T_TSTR, T_BSTR_INDEF, T_TSTR_INDEF,
    T_ARRAY, T_ARRAY_INDEF, T_MAP, T_MAP_INDEF, T_TAG, T_FLOAT,
    T_NULL, T_UNDEF, T_BOOL, T_BREAK,
};

struct tok {
    enum tok_kind kind;
    uint64_t u;          /* UINT, NEGINT, TAG, ARRAY/MAP size */
    const uint8_t *data; /* BSTR, TSTR: into the input */
    size_t len;
    bool b;
};

struct cur {
    const uint8_t *buf;
    size_t len, pos;
};

static void cb_u8(void *c, uint8_t v) { ((struct tok *)c)->kind = T_UINT; ((struct tok *)c)->u = v; }
static void cb_u16(void *c, uint16_t v) { ((struct tok *)c)->kind = T_UINT; ((struct tok *)c)->u = v; }
static void cb_u32(void *c, uint32_t v) { ((struct tok *)c)->kind = T_UINT; ((struct tok *)c)->u = v; }
static void cb_u64(void *c, uint64_t v) { ((struct tok *)c)->kind = T_UINT; ((struct tok *)c)->u = v; }
static void cb_n8(void *c, uint8_t v) { ((struct tok *)c)->kind = T_NEGINT; ((struct tok *)c)->u = v; }
static void cb_n16(void *c, uint16_t v) { ((struct tok *)c)->kind = T_NEGINT; ((struct tok *)c)->u = v; }
static void cb_n32(void *c, uint32_t v) { ((struct tok *)c)->kind = T_NEGINT; ((struct tok *)c)->u = v; }
static void cb_n64(void *c, uint64_t v) { ((struct tok *)c)->kind = T_NEGINT; ((struct tok *)c)->u = v; }

static void cb_bstr(void *c, cbor_data d, size_t n)
{
    struct tok *t = c;
    t->kind = T_BSTR;
    t->data = d;
    t->len = n;
}

static void cb_tstr(void *c, cbor_data d, size_t n)
{
    struct tok *t = c;
    t->kind = T_TSTR;
    t->data = d;
    t->len = n;
}

static void cb_bstr_indef(void *c) { ((struct tok *)c)->kind = T_BSTR_INDEF; }
static void cb_tstr_indef(void *c) { ((struct tok *)c)->kind = T_TSTR_INDEF; }
static void cb_array(void *c, size_t n) { ((struct tok *)c)->kind = T_ARRAY; ((struct tok *)c)->u = n; }
static void cb_array_indef(void *c) { ((struct tok *)c)->kind = T_ARRAY_INDEF; }
static void cb_map(void *c, size_t n) { ((struct tok *)c)->kind = T_MAP; ((struct tok *)c)->u = n; }
static void cb_map_indef(void *c) { ((struct tok *)c)->kind = T_MAP_INDEF; }
static void cb_tag(void *c, uint64_t v) { ((struct tok *)c)->kind = T_TAG; ((struct tok *)c)->u = v; }
static void cb_float(void *c, float v) { (void)v; ((struct tok *)c)->kind = T_FLOAT; }
static void cb_double(void *c, double v) { (void)v; ((struct tok *)c)->kind = T_FLOAT; }
static void cb_null(void *c) { ((struct tok *)c)->kind = T_NULL; }
static void cb_undef(void *c) { ((struct tok *)c)->kind = T_UNDEF; }
static void cb_bool(void *c, bool v) { ((struct tok *)c)->kind = T_BOOL; ((struct tok *)c)->b = v; }
static void cb_break(void *c) { ((struct tok *)c)->kind = T_BREAK; }

static const struct cbor_callbacks tok_callbacks = {
    .uint8 = cb_u8, .uint16 = cb_u16, .uint32 = cb_u32, .uint64 = cb_u64,
    .negint8 = cb_n8, .negint16 = cb_n16, .negint32 = cb_n32, .negint64 = cb_n64,
    .byte_string = cb_bstr, .byte_string_start = cb_bstr_indef,
    .string = cb_tstr, .string_start = cb_tstr_indef,
    .array_start = cb_array, .indef_array_start = cb_array_indef,
    .map_start = cb_map, .indef_map_start = cb_map_indef,
    .tag = cb_tag, .float2 = cb_float, .float4 = cb_float, .float8 = cb_double,
    .undefined = cb_undef, .null = cb_null, .boolean = cb_bool,
    .indef_break = cb_break,
};

/* Reads the next item head (a whole string for definite strings). False at
 * the end of input, on truncation and on malformed or reserved heads. */
static bool next(struct cur *c, struct tok *t)
{
    if (c->pos >= c->len)
        return false;
    memset(t, 0, sizeof(*t));
    t->kind = (enum tok_kind)-1;
    struct cbor_decoder_result r =
        cbor_stream_decode(c->buf + c->pos, c->len - c->pos, &tok_callbacks, t);
    if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || r.read > c->len - c->pos)
        return false;
    if (t->kind == (enum tok_kind)-1)
        return false;
    c->pos += r.read;
    return true;
}

/* Skips one complete item whose head is t (used for unknown response
 * fields). Nesting is bounded so hostile input cannot recurse deeply. */
#define SKIP_MAX_DEPTH 8

static bool skip_rest(struct cur *c, const struct tok *t, int depth)
{
    if (depth > SKIP_MAX_DEPTH)
        return false;
    struct tok in;
    switch (t->kind) {
    case T_UINT: case T_NEGINT: case T_BSTR: case T_TSTR: case T_FLOAT:
    case T_NULL: case T_UNDEF: case T_BOOL:
        return true;
    case T_BSTR_INDEF: case T_TSTR_INDEF:
        for (;;) {
            if (!next(c, &in))
                return false;
            if (in.kind == T_BREAK)
                return true;
            if (in.kind != (t->kind == T_BSTR_INDEF ? T_BSTR : T_TSTR))
                return false;
        }
    case T_TAG:
        return next(c, &in) && in.kind != T_BREAK && skip_rest(c, &in, depth + 1);
    case T_ARRAY: case T_MAP: {
        uint64_t items = t->u;
        if (t->kind == T_MAP) {
            if (items > (c->len - c->pos) / 2)
                return false;
            items *= 2;
        }
        if (items > c->len - c->pos)
            return false;
        for (uint64_t i = 0; i < items; i++)
            if (!next(c, &in) || in.kind == T_BREAK || !skip_rest(c, &in, depth + 1))
                return false;
        return true;
    }
    case T_ARRAY_INDEF: case T_MAP_INDEF: {
        uint64_t n = 0;
        for (;;) {
            if (!next(c, &in))
                return false;
            if (in.kind == T_BREAK)
                return t->kind == T_ARRAY_INDEF || n % 2 == 0;
            if (!skip_rest(c, &in, depth + 1))
                return false;
            n++;
        }
    }
    case T_BREAK:
        return false;
    }
    return false;
}

/*
 * Map iteration over a definite or an indefinite map: map_begin() after
 * the map head, then map_next() before each key; false when done.
 */
struct map_iter {
    bool indefinite;
    uint64_t left;
};

static bool map_begin(struct map_iter *it, const struct tok *head)
{
    if (head->kind == T_MAP) {
        it->indefinite = false;
        it->left = head->u;
        return true;
    }
    if (head->kind == T_MAP_INDEF) {
        it->indefinite = true;
        it->left = 0;
        return true;
    }
    return false;
}

/* 1: a key was read into *key; 0: the map ended; -1: malformed. */
static int map_next(struct map_iter *it, struct cur *c, struct tok *key)
{
    if (!it->indefinite) {
        if (it->left == 0)
            return 0;
        it->left--;
        return next(c, key) && key->kind != T_BREAK ? 1 : -1;
    }
    if (!next(c, key))
        return -1;
    return key->kind == T_BREAK ? 0 : 1;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */

/* serde_bytes accepts a byte string and also a text string (visit_str);
 * so does QEMU's model. Indefinite (chunked) strings are refused: no
 * client encoder produces them. */
static bool tok_bytes(const struct tok *t, struct nsm_bytes *out)
{
    if (t->kind != T_BSTR && t->kind != T_TSTR)
        return false;
    /* A zero-length string has a non-NULL pointer into the input (the
     * byte after its head), so data == NULL keeps meaning "absent". */
    out->data = t->data;
    out->len = t->len;
    return out->data != NULL;
}

static int decode_u16(struct cur *c, uint16_t *out)
{
    struct tok v;
    if (!next(c, &v) || v.kind != T_UINT || v.u > UINT16_MAX)
        return NSM_E_INVALID_ARGUMENT;
    *out = (uint16_t)v.u;
    return NSM_E_SUCCESS;
}

static int decode_opt_bytes(struct cur *c, struct nsm_bytes *out)
{
    struct tok v;
    if (!next(c, &v))
        return NSM_E_INVALID_ARGUMENT;
    if (v.kind == T_NULL) {
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

static int decode_request_body(struct cur *c, struct nsm_request *req)
{
    struct tok head, key;
    struct map_iter it;
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

    if (!next(c, &head) || !map_begin(&it, &head))
        return NSM_E_INVALID_ARGUMENT;
    for (;;) {
        int more = map_next(&it, c, &key);
        if (more < 0)
            return NSM_E_INVALID_ARGUMENT;
        if (more == 0)
            break;
        if (key.kind != T_TSTR)
            return NSM_E_INVALID_ARGUMENT;
        unsigned f;
        if (text_is(key.data, key.len, "index"))
            f = F_INDEX;
        else if (text_is(key.data, key.len, "data"))
            f = F_DATA;
        else if (text_is(key.data, key.len, "range"))
            f = F_RANGE;
        else if (text_is(key.data, key.len, "user_data"))
            f = F_USER_DATA;
        else if (text_is(key.data, key.len, "nonce"))
            f = F_NONCE;
        else if (text_is(key.data, key.len, "public_key"))
            f = F_PUBLIC_KEY;
        else
            return NSM_E_INVALID_ARGUMENT; /* unknown field */
        if (!(f & allowed) || (seen & f))
            return NSM_E_INVALID_ARGUMENT; /* foreign or repeated field */
        seen |= f;

        int rc;
        struct tok v;
        switch (f) {
        case F_INDEX:
            rc = decode_u16(c, &req->index);
            break;
        case F_RANGE:
            rc = decode_u16(c, &req->range);
            break;
        case F_DATA:
            rc = next(c, &v) && tok_bytes(&v, &req->data) ? NSM_E_SUCCESS
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

    struct cur c = {buf, len, 0};
    struct tok t, key, brk;
    enum nsm_op op;
    int rc;

    if (!next(&c, &t))
        return NSM_E_INVALID_OPERATION;
    if (t.kind == T_TSTR) {
        /* A unit variant: "DescribeNSM" or "GetRandom". */
        op = op_lookup(t.data, t.len);
        if (op == NSM_OP_NONE || !request_is_unit(op))
            return NSM_E_INVALID_OPERATION;
        req->op = op;
    } else if ((t.kind == T_MAP && t.u == 1) || t.kind == T_MAP_INDEF) {
        /* A struct variant: {"Variant": {fields}}. */
        if (!next(&c, &key) || key.kind != T_TSTR)
            return NSM_E_INVALID_OPERATION;
        op = op_lookup(key.data, key.len);
        if (op == NSM_OP_NONE || request_is_unit(op))
            return NSM_E_INVALID_OPERATION;
        req->op = op;
        rc = decode_request_body(&c, req);
        if (rc != NSM_E_SUCCESS)
            goto fail;
        /* An indefinite outer map must hold exactly this one entry. */
        if (t.kind == T_MAP_INDEF && (!next(&c, &brk) || brk.kind != T_BREAK)) {
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
    if (request_is_unit(req->op)) {
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

static const char *digest_name(enum nsm_digest d)
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
    if (response_is_unit(resp->op)) {
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
        const char *dn = digest_name(d->digest);
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

static bool resp_u16(struct cur *c, uint16_t *out)
{
    struct tok v;
    if (!next(c, &v) || v.kind != T_UINT || v.u > UINT16_MAX)
        return false;
    *out = (uint16_t)v.u;
    return true;
}

static bool resp_bstr(struct cur *c, struct nsm_bytes *out)
{
    struct tok v;
    if (!next(c, &v) || v.kind != T_BSTR)
        return false;
    out->data = v.data;
    out->len = v.len;
    return true;
}

static bool resp_locked(struct cur *c, struct nsm_description *d)
{
    struct tok head, v;
    if (!next(c, &head) || head.kind != T_ARRAY || head.u > NSM_LOCKED_PCRS_MAX)
        return false;
    d->locked_pcrs_len = 0;
    for (uint64_t i = 0; i < head.u; i++) {
        if (!next(c, &v) || v.kind != T_UINT || v.u > UINT16_MAX)
            return false;
        if (i > 0 && v.u <= d->locked_pcrs[i - 1])
            return false; /* a BTreeSet is strictly ascending */
        d->locked_pcrs[i] = (uint16_t)v.u;
        d->locked_pcrs_len++;
    }
    return true;
}

static bool resp_digest(struct cur *c, enum nsm_digest *out)
{
    struct tok v;
    if (!next(c, &v) || v.kind != T_TSTR)
        return false;
    for (int i = NSM_DIGEST_SHA256; i <= NSM_DIGEST_SHA512; i++)
        if (text_is(v.data, v.len, digest_name((enum nsm_digest)i))) {
            *out = (enum nsm_digest)i;
            return true;
        }
    return false;
}

static bool decode_response_body(struct cur *c, struct nsm_response *r)
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

    struct tok head, key, v = {0};
    struct map_iter it;
    unsigned seen = 0;
    if (!next(c, &head) || !map_begin(&it, &head))
        return false;
    for (;;) {
        int more = map_next(&it, c, &key);
        if (more < 0)
            return false;
        if (more == 0)
            break;
        if (key.kind != T_TSTR)
            return false;
        unsigned f = 0;
        for (size_t i = 0; i < sizeof(response_fields) / sizeof(response_fields[0]); i++)
            if (text_is(key.data, key.len, response_fields[i].name))
                f = response_fields[i].bit;
        if (!(f & required)) {
            /* Unknown to this variant: skipped, as serde does. */
            if (!next(c, &v) || v.kind == T_BREAK || !skip_rest(c, &v, 1))
                return false;
            continue;
        }
        if (seen & f)
            return false; /* repeated field */
        seen |= f;
        bool ok;
        switch (f) {
        case R_LOCK:
            ok = next(c, &v) && v.kind == T_BOOL;
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
            ok = next(c, &v) && v.kind == T_TSTR && v.len <= NSM_DESCRIBE_MODULE_ID_MAX;
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
    struct cur c = {buf, len, 0};
    struct tok t, key, v, brk;

    if (!next(&c, &t))
        goto bad;
    if (t.kind == T_TSTR) {
        enum nsm_op op = op_lookup(t.data, t.len);
        if (!response_is_unit(op))
            goto bad;
        resp->op = op;
    } else if ((t.kind == T_MAP && t.u == 1) || t.kind == T_MAP_INDEF) {
        if (!next(&c, &key) || key.kind != T_TSTR)
            goto bad;
        if (text_is(key.data, key.len, "Error")) {
            /* Response::Error(ErrorCode): a newtype variant around a unit
             * enum, {"Error": "InvalidIndex"}. Success is not an error. */
            if (!next(&c, &v) || v.kind != T_TSTR)
                goto bad;
            resp->op = NSM_OP_ERROR;
            for (int e = NSM_E_INVALID_ARGUMENT; e <= NSM_E_INTERNAL_ERROR; e++)
                if (text_is(v.data, v.len, error_names[e]))
                    resp->error = (enum nsm_error_code)e;
            if (resp->error == NSM_E_SUCCESS)
                goto bad;
        } else {
            enum nsm_op op = op_lookup(key.data, key.len);
            if (op == NSM_OP_NONE || response_is_unit(op))
                goto bad;
            resp->op = op;
            if (!decode_response_body(&c, resp))
                goto bad;
        }
        if (t.kind == T_MAP_INDEF && (!next(&c, &brk) || brk.kind != T_BREAK))
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
