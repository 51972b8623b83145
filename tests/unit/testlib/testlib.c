/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib/testlib.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cbor.h>

#include "base/fileio.h"
#include "base/hex.h"

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

void tl_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s", path);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

uint8_t *tl_slurp(const char *path, size_t *len)
{
    uint8_t *d = NULL;
    struct cl_error err = { 0 };
    if (file_read_all(path, 1u << 30, &d, len, &err) < 0)
        fail_msg("cannot read %s: %s", path, err.reason);
    return d;
}

void tl_mkdtemp(char *dir, size_t cap, const char *prefix)
{
    int n = snprintf(dir, cap, "/tmp/%s-XXXXXX", prefix);
    assert_true(n > 0 && (size_t)n < cap);
    assert_non_null(mkdtemp(dir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

void tl_rmtree(const char *path)
{
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        fail_msg("cannot remove %s", path);
}

void tl_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

void tl_check_hex(const uint8_t *v, size_t len, const char *want)
{
    char *hex = malloc(2 * len + 1);
    assert_non_null(hex);
    hex_encode(hex, v, len);
    assert_string_equal(hex, want);
    free(hex);
}

size_t tl_read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return got;
}

int tl_child_status(int pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            fail_msg("waitpid(%d) failed", pid);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

void tl_put_uint_array(struct tl_cbor *b, const uint8_t *p, size_t n)
{
    tl_put_array(b, n);
    for (size_t i = 0; i < n; i++)
        tl_put_uint(b, p[i]);
}
