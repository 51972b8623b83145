/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "base/fileio.h"

char *tl_shared_path(const char *rel)
{
    const char *dir = getenv("CLOISTER_SHARED_DIR");
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir ? dir : "../shared", rel) > 0);
    return p;
}

uint8_t *tl_read_shared(const char *rel, size_t *len)
{
    char *p = tl_shared_path(rel);
    uint8_t *d = NULL;
    struct cl_error err = { 0 };
    if (file_read_all(p, 1 << 20, &d, len, &err) < 0)
        fail_msg("cannot read %s: %s", p, err.reason);
    free(p);
    return d;
}

void tl_put(struct tl_cbor *b, const void *p, size_t n)
{
    assert_true(n <= sizeof(b->b) - b->n);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

void tl_put1(struct tl_cbor *b, uint8_t byte)
{
    tl_put(b, &byte, 1);
}

static void put_head(struct tl_cbor *b, size_t (*enc)(size_t, unsigned char *, size_t), size_t n)
{
    uint8_t h[9];
    size_t k = enc(n, h, sizeof(h));
    assert_true(k > 0);
    tl_put(b, h, k);
}

void tl_put_uint(struct tl_cbor *b, uint64_t v)
{
    uint8_t h[9];
    size_t k = cbor_encode_uint(v, h, sizeof(h));
    assert_true(k > 0);
    tl_put(b, h, k);
}

void tl_put_bytes(struct tl_cbor *b, const void *p, size_t n)
{
    put_head(b, cbor_encode_bytestring_start, n);
    tl_put(b, p, n);
}

void tl_put_text(struct tl_cbor *b, const char *s)
{
    put_head(b, cbor_encode_string_start, strlen(s));
    tl_put(b, s, strlen(s));
}

void tl_put_array(struct tl_cbor *b, size_t n)
{
    put_head(b, cbor_encode_array_start, n);
}

void tl_put_map(struct tl_cbor *b, size_t n)
{
    put_head(b, cbor_encode_map_start, n);
}
