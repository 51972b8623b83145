/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded CBOR loading over libcbor 0.8; see cbor_bounded.h. */
#include "cose/cbor_bounded.h"

#include <stdlib.h>
#include <string.h>

enum frame_kind { F_ARRAY, F_MAP, F_BSTR, F_TSTR, F_TAG };

struct frame {
    enum frame_kind kind;
    bool indef;
    uint64_t left;   /* definite containers: items still expected */
    uint64_t count;  /* indefinite maps: items seen (must be even at break) */
};

struct walk {
    struct frame st[CBOR_BOUNDED_MAX_DEPTH];
    int depth;
    bool tag_pending;  /* a tag was read; its content item has not started */
    bool done;         /* the top-level item is complete */
    const char *bad;   /* first problem found */
    size_t avail;      /* bytes from the current header to the end of input */
};

static void fail(struct walk *w, const char *why)
{
    if (!w->bad)
        w->bad = why;
}

static bool in_string(const struct walk *w)
{
    return w->depth > 0 && (w->st[w->depth - 1].kind == F_BSTR || w->st[w->depth - 1].kind == F_TSTR);
}

/* One item finished: count it in its container, closing definite containers
 * that are now full (which finishes them as items of their parent). */
static void complete(struct walk *w)
{
    w->tag_pending = false;
    for (;;) {
        if (w->depth == 0) {
            w->done = true;
            return;
        }
        struct frame *f = &w->st[w->depth - 1];
        if (f->indef) {
            f->count++;
            return;
        }
        if (--f->left > 0)
            return;
        w->depth--;
    }
}

static void push(struct walk *w, enum frame_kind kind, bool indef, uint64_t left)
{
    if (w->depth >= CBOR_BOUNDED_MAX_DEPTH) {
        fail(w, "CBOR nesting too deep");
        return;
    }
    w->tag_pending = false;
    w->st[w->depth++] = (struct frame){ .kind = kind, .indef = indef, .left = left };
}

static void leaf(struct walk *w)
{
    if (in_string(w)) {
        fail(w, "malformed CBOR: non-string chunk in an indefinite-length string");
        return;
    }
    complete(w);
}

static void cb_leaf8(void *c, uint8_t v) { (void)v; leaf(c); }
static void cb_leaf16(void *c, uint16_t v) { (void)v; leaf(c); }
static void cb_leaf32(void *c, uint32_t v) { (void)v; leaf(c); }
static void cb_leaf64(void *c, uint64_t v) { (void)v; leaf(c); }
static void cb_leaf(void *c) { leaf(c); }
static void cb_leaff(void *c, float v) { (void)v; leaf(c); }
static void cb_leafd(void *c, double v) { (void)v; leaf(c); }
static void cb_leafb(void *c, bool v) { (void)v; leaf(c); }

static void definite_string(struct walk *w, enum frame_kind kind)
{
    if (in_string(w)) {
        /* RFC 8949 §3.2.3: chunks are definite strings of the same major type */
        if (w->st[w->depth - 1].kind != kind)
            fail(w, "malformed CBOR: chunk of the wrong type in an indefinite-length string");
        return;
    }
    complete(w);
}

static void cb_bstr(void *c, cbor_data d, size_t n) { (void)d; (void)n; definite_string(c, F_BSTR); }
static void cb_tstr(void *c, cbor_data d, size_t n) { (void)d; (void)n; definite_string(c, F_TSTR); }

static void indef_start(struct walk *w, enum frame_kind kind)
{
    if (in_string(w)) {
        fail(w, "malformed CBOR: nested indefinite-length item in a string");
        return;
    }
    push(w, kind, true, 0);
}

static void cb_bstr_start(void *c) { indef_start(c, F_BSTR); }
static void cb_tstr_start(void *c) { indef_start(c, F_TSTR); }
static void cb_indef_array(void *c) { indef_start(c, F_ARRAY); }
static void cb_indef_map(void *c) { indef_start(c, F_MAP); }

static void cb_array(void *c, size_t n)
{
    struct walk *w = c;
    if (in_string(w))
        return fail(w, "malformed CBOR: array inside an indefinite-length string");
    /* every element takes at least one byte */
    if (n > w->avail)
        return fail(w, "malformed CBOR: array size exceeds the input");
    if (n == 0)
        return complete(w);
    push(w, F_ARRAY, false, n);
}

static void cb_map(void *c, size_t n)
{
    struct walk *w = c;
    if (in_string(w))
        return fail(w, "malformed CBOR: map inside an indefinite-length string");
    if (n > w->avail / 2)
        return fail(w, "malformed CBOR: map size exceeds the input");
    if (n == 0)
        return complete(w);
    push(w, F_MAP, false, 2 * (uint64_t)n);
}

/* A tag is a container of one item: it counts towards the nesting limit
 * (libcbor's loader nests tags on its own stack). */
static void cb_tag(void *c, uint64_t v)
{
    (void)v;
    struct walk *w = c;
    if (in_string(w))
        return fail(w, "malformed CBOR: tag inside an indefinite-length string");
    push(w, F_TAG, false, 1);
    w->tag_pending = true;
}

static void cb_break(void *c)
{
    struct walk *w = c;
    int d = w->depth;  /* the container the break closes: below pending tags */
    while (d > 0 && w->st[d - 1].kind == F_TAG)
        d--;
    if (d == 0 || !w->st[d - 1].indef)
        return fail(w, "malformed CBOR: unexpected break");
    if (w->tag_pending)
        return fail(w, "malformed CBOR: tag without content");
    struct frame *f = &w->st[w->depth - 1];
    if (f->kind == F_MAP && f->count % 2)
        return fail(w, "malformed CBOR: map with a key and no value");
    w->depth--;
    complete(w);
}

static const struct cbor_callbacks walk_callbacks = {
    .uint8 = cb_leaf8, .uint16 = cb_leaf16, .uint32 = cb_leaf32, .uint64 = cb_leaf64,
    .negint8 = cb_leaf8, .negint16 = cb_leaf16, .negint32 = cb_leaf32, .negint64 = cb_leaf64,
    .byte_string_start = cb_bstr_start, .byte_string = cb_bstr,
    .string = cb_tstr, .string_start = cb_tstr_start,
    .indef_array_start = cb_indef_array, .array_start = cb_array,
    .indef_map_start = cb_indef_map, .map_start = cb_map,
    .tag = cb_tag,
    .float2 = cb_leaff, .float4 = cb_leaff, .float8 = cb_leafd,
    .undefined = cb_leaf, .null = cb_leaf, .boolean = cb_leafb,
    .indef_break = cb_break,
};

int cbor_bounded_check(const uint8_t *buf, size_t len, struct cl_error *err)
{
    struct walk w = { 0 };
    size_t off = 0;
    if (!buf || len == 0)
        return cl_fail(err, CL_EFORMAT, "empty CBOR input");
    while (off < len && !w.done) {
        w.avail = len - off;
        struct cbor_decoder_result r = cbor_stream_decode(buf + off, len - off, &walk_callbacks, &w);
        if (r.status == CBOR_DECODER_NEDATA)
            return cl_fail(err, CL_EFORMAT, "truncated CBOR at byte %zu", off);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
            return cl_fail(err, CL_EFORMAT, "malformed CBOR at byte %zu", off);
        if (w.bad)
            return cl_fail(err, CL_EFORMAT, "%s (at byte %zu)", w.bad, off);
        off += r.read;
    }
    if (!w.done)
        return cl_fail(err, CL_EFORMAT, "truncated CBOR at byte %zu", off);
    if (off != len)
        return cl_fail(err, CL_EFORMAT, "%zu trailing bytes after the CBOR item", len - off);
    return 0;
}

int cbor_bounded_load(const uint8_t *buf, size_t len, cbor_item_t **out, struct cl_error *err)
{
    *out = NULL;
    int rc = cbor_bounded_check(buf, len, err);
    if (rc < 0)
        return rc;
    struct cbor_load_result res;
    cbor_item_t *item = cbor_load(buf, len, &res);
    if (!item) {
        if (res.error.code == CBOR_ERR_MEMERROR)
            return cl_fail(err, CL_ENOMEM, "out of memory decoding CBOR");
        return cl_fail(err, CL_EFORMAT, "malformed CBOR at byte %zu", res.error.position);
    }
    if (res.read != len) {
        cbor_decref(&item);
        return cl_fail(err, CL_EFORMAT, "%zu trailing bytes after the CBOR item", len - res.read);
    }
    *out = item;
    return 0;
}

size_t cbor_bounded_string_len(const cbor_item_t *item)
{
    if (cbor_isa_bytestring(item)) {
        if (!cbor_bytestring_is_indefinite(item))
            return cbor_bytestring_length(item);
        size_t n = 0;
        cbor_item_t **ch = cbor_bytestring_chunks_handle(item);
        for (size_t i = 0; i < cbor_bytestring_chunk_count(item); i++)
            n += cbor_bytestring_length(ch[i]);
        return n;
    }
    if (cbor_isa_string(item)) {
        if (!cbor_string_is_indefinite(item))
            return cbor_string_length(item);
        size_t n = 0;
        cbor_item_t **ch = cbor_string_chunks_handle(item);
        for (size_t i = 0; i < cbor_string_chunk_count(item); i++)
            n += cbor_string_length(ch[i]);
        return n;
    }
    return 0;
}

/* Copies the content of a byte or text string (len bytes) into out. */
static void copy_string(const cbor_item_t *item, uint8_t *out)
{
    if (cbor_isa_bytestring(item)) {
        if (!cbor_bytestring_is_indefinite(item)) {
            if (cbor_bytestring_length(item))
                memcpy(out, cbor_bytestring_handle(item), cbor_bytestring_length(item));
            return;
        }
        cbor_item_t **ch = cbor_bytestring_chunks_handle(item);
        for (size_t i = 0; i < cbor_bytestring_chunk_count(item); i++) {
            size_t n = cbor_bytestring_length(ch[i]);
            if (n)
                memcpy(out, cbor_bytestring_handle(ch[i]), n);
            out += n;
        }
        return;
    }
    if (!cbor_string_is_indefinite(item)) {
        if (cbor_string_length(item))
            memcpy(out, cbor_string_handle(item), cbor_string_length(item));
        return;
    }
    cbor_item_t **ch = cbor_string_chunks_handle(item);
    for (size_t i = 0; i < cbor_string_chunk_count(item); i++) {
        size_t n = cbor_string_length(ch[i]);
        if (n)
            memcpy(out, cbor_string_handle(ch[i]), n);
        out += n;
    }
}

int cbor_bounded_bytes(const cbor_item_t *item, uint8_t **out, size_t *len, struct cl_error *err)
{
    *out = NULL;
    *len = 0;
    if (!cbor_isa_bytestring(item))
        return cl_fail(err, CL_EFORMAT, "expected a byte string");
    size_t n = cbor_bounded_string_len(item);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    copy_string(item, p);
    *out = p;
    *len = n;
    return 0;
}

int cbor_bounded_text(const cbor_item_t *item, char *out, size_t cap, struct cl_error *err)
{
    if (!cbor_isa_string(item))
        return cl_fail(err, CL_EFORMAT, "expected a text string");
    size_t n = cbor_bounded_string_len(item);
    if (n >= cap)
        return cl_fail(err, CL_ELIMIT, "text string of %zu bytes, at most %zu allowed", n, cap - 1);
    copy_string(item, (uint8_t *)out);
    out[n] = '\0';
    return 0;
}

/* Compares a string item's content with s[0..n) without copying. */
static bool string_content_eq(const cbor_item_t *item, const uint8_t *s, size_t n)
{
    if (cbor_bounded_string_len(item) != n)
        return false;
    bool bytes = cbor_isa_bytestring(item);
    bool indef = bytes ? cbor_bytestring_is_indefinite(item) : cbor_string_is_indefinite(item);
    if (!indef) {
        const uint8_t *h = bytes ? cbor_bytestring_handle(item) : cbor_string_handle(item);
        return n == 0 || memcmp(h, s, n) == 0;
    }
    cbor_item_t **ch = bytes ? cbor_bytestring_chunks_handle(item) : cbor_string_chunks_handle(item);
    size_t count = bytes ? cbor_bytestring_chunk_count(item) : cbor_string_chunk_count(item);
    for (size_t i = 0; i < count; i++) {
        size_t m = bytes ? cbor_bytestring_length(ch[i]) : cbor_string_length(ch[i]);
        const uint8_t *h = bytes ? cbor_bytestring_handle(ch[i]) : cbor_string_handle(ch[i]);
        if (m && memcmp(h, s, m) != 0)
            return false;
        s += m;
    }
    return true;
}

bool cbor_bounded_text_eq(const cbor_item_t *item, const char *s)
{
    return cbor_isa_string(item) && string_content_eq(item, (const uint8_t *)s, strlen(s));
}

int cbor_bounded_int(const cbor_item_t *item, int64_t *out, struct cl_error *err)
{
    if (cbor_isa_uint(item)) {
        uint64_t v = cbor_get_int(item);
        if (v > INT64_MAX)
            return cl_fail(err, CL_ELIMIT, "integer out of range");
        *out = (int64_t)v;
        return 0;
    }
    if (cbor_isa_negint(item)) {
        uint64_t v = cbor_get_int(item); /* the value is -1 - v */
        if (v > INT64_MAX)
            return cl_fail(err, CL_ELIMIT, "integer out of range");
        *out = -1 - (int64_t)v;
        return 0;
    }
    return cl_fail(err, CL_EFORMAT, "expected an integer");
}

bool cbor_bounded_key_eq(const cbor_item_t *a, const cbor_item_t *b)
{
    if ((cbor_isa_uint(a) && cbor_isa_uint(b)) || (cbor_isa_negint(a) && cbor_isa_negint(b)))
        return cbor_get_int(a) == cbor_get_int(b);
    if ((cbor_isa_string(a) && cbor_isa_string(b)) ||
        (cbor_isa_bytestring(a) && cbor_isa_bytestring(b))) {
        size_t n = cbor_bounded_string_len(a);
        if (n != cbor_bounded_string_len(b))
            return false;
        uint8_t *tmp = malloc(n ? n : 1);
        if (!tmp)
            return true; /* out of memory: report a duplicate, which fails closed */
        copy_string(a, tmp);
        bool eq = string_content_eq(b, tmp, n);
        free(tmp);
        return eq;
    }
    return false;
}

bool cbor_bounded_is_null(const cbor_item_t *item)
{
    return cbor_isa_float_ctrl(item) && cbor_is_null(item);
}
