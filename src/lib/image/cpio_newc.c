/* SPDX-License-Identifier: Apache-2.0 */
/* gocpio's newc bytes; see cpio_newc.h. */
#include "image/cpio_newc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_INO 721          /* gocpio's NewWriter starts here */
#define BUF_SIZE  (256 * 1024) /* the chunk handed to the sink */
#define FIELD_MAX 0xffffffffULL
#define DIRECT_MIN (64 * 1024) /* data this large skips the buffer */

struct cpio_writer {
    cpio_sink_fn sink;
    void *ctx;
    uint32_t ino;
    uint64_t length;    /* archive bytes so far */
    uint64_t remaining; /* data the current entry still owes */
    uint8_t *buf;
    size_t used;
};

int cpio_writer_new(cpio_sink_fn sink, void *ctx, struct cpio_writer **out, struct cl_error *err)
{
    *out = NULL;
    struct cpio_writer *w = calloc(1, sizeof(*w));
    if (!w || !(w->buf = malloc(BUF_SIZE))) {
        free(w);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    w->sink = sink;
    w->ctx = ctx;
    w->ino = FIRST_INO;
    *out = w;
    return 0;
}

void cpio_writer_free(struct cpio_writer *w)
{
    if (!w)
        return;
    free(w->buf);
    free(w);
}

uint64_t cpio_length(const struct cpio_writer *w)
{
    return w->length;
}

static int flush(struct cpio_writer *w, struct cl_error *err)
{
    int rc = w->used ? w->sink(w->ctx, w->buf, w->used, err) : 0;
    w->used = 0;
    return rc;
}

static int put(struct cpio_writer *w, const void *p, size_t len, struct cl_error *err)
{
    /* large data goes to the sink as it is, without a copy (the small
     * headers and paddings around it are gathered) */
    if (len >= DIRECT_MIN) {
        int rc = flush(w, err);
        if (rc == 0)
            rc = w->sink(w->ctx, p, len, err);
        w->length += len;
        return rc;
    }
    const uint8_t *b = p;
    while (len > 0) {
        if (w->used == BUF_SIZE) {
            int rc = flush(w, err);
            if (rc < 0)
                return rc;
        }
        size_t n = BUF_SIZE - w->used < len ? BUF_SIZE - w->used : len;
        memcpy(w->buf + w->used, b, n);
        w->used += n;
        w->length += n;
        b += n;
        len -= n;
    }
    return 0;
}

static int zeros(struct cpio_writer *w, uint64_t n, struct cl_error *err)
{
    static const uint8_t z[512];
    int rc = 0;
    while (n > 0 && rc == 0) {
        size_t k = n < sizeof(z) ? (size_t)n : sizeof(z);
        rc = put(w, z, k, err);
        n -= k;
    }
    return rc;
}

/* Zeros up to a multiple of mod of the archive's length. */
static int pad(struct cpio_writer *w, uint64_t mod, struct cl_error *err)
{
    return zeros(w, (mod - w->length % mod) % mod, err);
}

int cpio_write_header(struct cpio_writer *w, const struct cpio_header *h, struct cl_error *err)
{
    if (w->remaining)
        return cl_fail(err, CL_ESTATE, "'%s': the previous entry lacks %llu bytes of data",
                       h->name, (unsigned long long)w->remaining);
    if (h->mtime < 0 || (uint64_t)h->mtime > FIELD_MAX)
        return cl_fail(err, CL_ELIMIT, "'%s': mtime %lld does not fit a cpio header", h->name,
                       (long long)h->mtime);
    if (h->size > FIELD_MAX)
        return cl_fail(err, CL_ELIMIT, "'%s': %llu bytes; a cpio entry holds less than 4 GiB",
                       h->name, (unsigned long long)h->size);
    size_t nlen = strlen(h->name);
    if (nlen + 1 > FIELD_MAX)
        return cl_fail(err, CL_ELIMIT, "a name of %zu bytes does not fit a cpio header", nlen);
    char head[6 + 13 * 8 + 1];
    snprintf(head, sizeof(head), "070701%08x%08x%08x%08x%08x%08llx%08llx%08x%08x%08x%08x%08zx%08x",
             w->ino, (h->perm & 07777) | ((uint32_t)h->type << 12), h->uid, h->gid,
             h->type == CPIO_DIR ? 2 : 1, (unsigned long long)h->mtime,
             (unsigned long long)h->size, 3, 1, h->rdev_major, h->rdev_minor, nlen + 1, 0);
    int rc = put(w, head, sizeof(head) - 1, err);
    if (rc == 0)
        rc = put(w, h->name, nlen + 1, err);
    if (rc == 0)
        rc = pad(w, 4, err);
    w->ino++;
    w->remaining = h->size;
    return rc;
}

int cpio_write_data(struct cpio_writer *w, const void *buf, size_t len, struct cl_error *err)
{
    if (len > w->remaining)
        return cl_fail(err, CL_ESTATE, "%zu bytes of data for an entry that holds %llu more", len,
                       (unsigned long long)w->remaining);
    int rc = put(w, buf, len, err);
    w->remaining -= len;
    if (rc == 0 && w->remaining == 0)
        rc = pad(w, 4, err);
    return rc;
}

int cpio_finish(struct cpio_writer *w, struct cl_error *err)
{
    static const struct cpio_header trailer = { .name = "TRAILER!!!" };
    int rc = cpio_write_header(w, &trailer, err);
    if (rc == 0)
        rc = pad(w, 512, err);
    if (rc == 0)
        rc = flush(w, err);
    return rc;
}
