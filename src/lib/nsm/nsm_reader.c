/* SPDX-License-Identifier: Apache-2.0 */
/* The NSM decoders' token reader; see nsm_reader.h. */
#include "nsm/nsm_reader.h"

#include <string.h>

#include <cbor.h>

static void cb_u8(void *c, uint8_t v) { ((struct nsm_tok *)c)->kind = NT_UINT; ((struct nsm_tok *)c)->u = v; }
static void cb_u16(void *c, uint16_t v) { ((struct nsm_tok *)c)->kind = NT_UINT; ((struct nsm_tok *)c)->u = v; }
static void cb_u32(void *c, uint32_t v) { ((struct nsm_tok *)c)->kind = NT_UINT; ((struct nsm_tok *)c)->u = v; }
static void cb_u64(void *c, uint64_t v) { ((struct nsm_tok *)c)->kind = NT_UINT; ((struct nsm_tok *)c)->u = v; }
static void cb_n8(void *c, uint8_t v) { ((struct nsm_tok *)c)->kind = NT_NEGINT; ((struct nsm_tok *)c)->u = v; }
static void cb_n16(void *c, uint16_t v) { ((struct nsm_tok *)c)->kind = NT_NEGINT; ((struct nsm_tok *)c)->u = v; }
static void cb_n32(void *c, uint32_t v) { ((struct nsm_tok *)c)->kind = NT_NEGINT; ((struct nsm_tok *)c)->u = v; }
static void cb_n64(void *c, uint64_t v) { ((struct nsm_tok *)c)->kind = NT_NEGINT; ((struct nsm_tok *)c)->u = v; }

static void cb_bstr(void *c, cbor_data d, size_t n)
{
    struct nsm_tok *t = c;
    t->kind = NT_BSTR;
    t->data = d;
    t->len = n;
}

static void cb_tstr(void *c, cbor_data d, size_t n)
{
    struct nsm_tok *t = c;
    t->kind = NT_TSTR;
    t->data = d;
    t->len = n;
}

static void cb_bstr_indef(void *c) { ((struct nsm_tok *)c)->kind = NT_BSTR_INDEF; }
static void cb_tstr_indef(void *c) { ((struct nsm_tok *)c)->kind = NT_TSTR_INDEF; }
static void cb_array(void *c, size_t n) { ((struct nsm_tok *)c)->kind = NT_ARRAY; ((struct nsm_tok *)c)->u = n; }
static void cb_array_indef(void *c) { ((struct nsm_tok *)c)->kind = NT_ARRAY_INDEF; }
static void cb_map(void *c, size_t n) { ((struct nsm_tok *)c)->kind = NT_MAP; ((struct nsm_tok *)c)->u = n; }
static void cb_map_indef(void *c) { ((struct nsm_tok *)c)->kind = NT_MAP_INDEF; }
static void cb_tag(void *c, uint64_t v) { ((struct nsm_tok *)c)->kind = NT_TAG; ((struct nsm_tok *)c)->u = v; }
static void cb_float(void *c, float v) { (void)v; ((struct nsm_tok *)c)->kind = NT_FLOAT; }
static void cb_double(void *c, double v) { (void)v; ((struct nsm_tok *)c)->kind = NT_FLOAT; }
static void cb_null(void *c) { ((struct nsm_tok *)c)->kind = NT_NULL; }
static void cb_undef(void *c) { ((struct nsm_tok *)c)->kind = NT_UNDEF; }
static void cb_bool(void *c, bool v) { ((struct nsm_tok *)c)->kind = NT_BOOL; ((struct nsm_tok *)c)->b = v; }
static void cb_break(void *c) { ((struct nsm_tok *)c)->kind = NT_BREAK; }

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

bool nsm_rd_next(struct nsm_cursor *c, struct nsm_tok *t)
{
    if (c->pos >= c->len)
        return false;
    memset(t, 0, sizeof(*t));
    t->kind = (enum nsm_tok_kind)-1;
    struct cbor_decoder_result r =
        cbor_stream_decode(c->buf + c->pos, c->len - c->pos, &tok_callbacks, t);
    if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || r.read > c->len - c->pos)
        return false;
    if (t->kind == (enum nsm_tok_kind)-1)
        return false;
    c->pos += r.read;
    return true;
}

/* Nesting bound of nsm_rd_skip_rest(). */
#define SKIP_MAX_DEPTH 8

bool nsm_rd_skip_rest(struct nsm_cursor *c, const struct nsm_tok *t, int depth)
{
    if (depth > SKIP_MAX_DEPTH)
        return false;
    struct nsm_tok in;
    switch (t->kind) {
    case NT_UINT: case NT_NEGINT: case NT_BSTR: case NT_TSTR: case NT_FLOAT:
    case NT_NULL: case NT_UNDEF: case NT_BOOL:
        return true;
    case NT_BSTR_INDEF: case NT_TSTR_INDEF:
        for (;;) {
            if (!nsm_rd_next(c, &in))
                return false;
            if (in.kind == NT_BREAK)
                return true;
            if (in.kind != (t->kind == NT_BSTR_INDEF ? NT_BSTR : NT_TSTR))
                return false;
        }
    case NT_TAG:
        return nsm_rd_next(c, &in) && in.kind != NT_BREAK && nsm_rd_skip_rest(c, &in, depth + 1);
    case NT_ARRAY: case NT_MAP: {
        uint64_t items = t->u;
        if (t->kind == NT_MAP) {
            if (items > (c->len - c->pos) / 2)
                return false;
            items *= 2;
        }
        if (items > c->len - c->pos)
            return false;
        for (uint64_t i = 0; i < items; i++)
            if (!nsm_rd_next(c, &in) || in.kind == NT_BREAK || !nsm_rd_skip_rest(c, &in, depth + 1))
                return false;
        return true;
    }
    case NT_ARRAY_INDEF: case NT_MAP_INDEF: {
        uint64_t n = 0;
        for (;;) {
            if (!nsm_rd_next(c, &in))
                return false;
            if (in.kind == NT_BREAK)
                return t->kind == NT_ARRAY_INDEF || n % 2 == 0;
            if (!nsm_rd_skip_rest(c, &in, depth + 1))
                return false;
            n++;
        }
    }
    case NT_BREAK:
        return false;
    }
    return false;
}

bool nsm_rd_map_begin(struct nsm_map_iter *it, const struct nsm_tok *head)
{
    if (head->kind == NT_MAP) {
        it->indefinite = false;
        it->left = head->u;
        return true;
    }
    if (head->kind == NT_MAP_INDEF) {
        it->indefinite = true;
        it->left = 0;
        return true;
    }
    return false;
}

int nsm_rd_map_next(struct nsm_map_iter *it, struct nsm_cursor *c, struct nsm_tok *key)
{
    if (!it->indefinite) {
        if (it->left == 0)
            return 0;
        it->left--;
        return nsm_rd_next(c, key) && key->kind != NT_BREAK ? 1 : -1;
    }
    if (!nsm_rd_next(c, key))
        return -1;
    return key->kind == NT_BREAK ? 0 : 1;
}
