/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Measuring an EIF: PCR0, PCR1, PCR2 and the CRC in one streamed pass
 * (docs/eif.md, "Reader" step 7), never loading a section of unbounded
 * size. Two jobs read the file with large pread()s,
 *   job A: PCR0 over kernel || cmdline || ramdisks, with PCR1 a copy of the
 *          same SHA-384 state taken after the first ramdisk, and the CRC of
 *          the file up to a split point;
 *   job B: PCR2 over ramdisks[1..], and the CRC from the split point on.
 * The split point balances the two jobs' work; the two CRCs are joined with
 * zlib's crc32_combine(). Large files run the jobs on two threads.
 * Also the measurements of a plain file and of a certificate (`pcr`).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "eif/eif_internal.h"
#include "eif/pcr.h"

#define READ_CHUNK (256u << 10)            /* per pread: stays in L2 for SHA then CRC */
#define PARALLEL_THRESHOLD (4ull << 20)    /* less work: threads cost more than they save */
/* zlib's crc32 vs OpenSSL's SHA-384, per byte, measured on the development
 * machine (512 MiB: crc32 0.16 s, SHA-384 0.63 s): about a quarter. */
#define CRC_COST_NUM 1
#define CRC_COST_DEN 4

int eif_pcr_final(EVP_MD_CTX *ctx, uint8_t out[static 48], struct cl_error *err)
{
    uint8_t digest[48];
    unsigned int n = 0;
    if (!EVP_DigestFinal_ex(ctx, digest, &n) || n != sizeof(digest))
        return cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 failed");
    return pcr_from_zero(out, digest, sizeof(digest), err);
}

enum { OP_HASH = 1, OP_CRC = 2, OP_SNAP = 4 };

struct seg {
    uint64_t start, end;
    unsigned ops;
};

struct job {
    const struct eif *e;
    struct seg segs[4 * EIF_MAX_SECTIONS + 8];
    size_t nseg;
    EVP_MD_CTX *hash, *snap;  /* snap: NULL unless a segment has OP_SNAP */
    uint32_t crc;
    uint64_t crc_len;
    int rc;
    struct cl_error err;
};

static void job_add(struct job *j, uint64_t start, uint64_t end, unsigned ops)
{
    if (start >= end || !ops)
        return;
    struct seg *last = j->nseg ? &j->segs[j->nseg - 1] : NULL;
    if (last && last->end == start && last->ops == ops && !(ops & OP_SNAP)) {
        last->end = end;
        return;
    }
    j->segs[j->nseg++] = (struct seg){ start, end, ops };
}

static void *job_run(void *arg)
{
    struct job *j = arg;
    uint8_t *buf = NULL;
    if (!j->e->buf && !(buf = malloc(READ_CHUNK))) {
        j->rc = cl_fail(&j->err, CL_ENOMEM, "out of memory");
        return NULL;
    }
    j->crc = (uint32_t)crc32(0, Z_NULL, 0);
    for (size_t i = 0; i < j->nseg && j->rc == 0; i++) {
        const struct seg *s = &j->segs[i];
        for (uint64_t off = s->start; off < s->end;) {
            size_t n = (size_t)(s->end - off < READ_CHUNK ? s->end - off : READ_CHUNK);
            const uint8_t *p = NULL;
            if ((j->rc = eif_read_at(j->e, off, buf, n, &p, &j->err)) < 0)
                break;
            if ((s->ops & OP_HASH) && !EVP_DigestUpdate(j->hash, p, n)) {
                j->rc = cl_fail_openssl(&j->err, CL_ECRYPTO, "SHA-384 failed");
                break;
            }
            if (s->ops & OP_CRC) {
                j->crc = (uint32_t)crc32(j->crc, p, (uInt)n);
                j->crc_len += n;
            }
            off += n;
        }
        if (j->rc == 0 && (s->ops & OP_SNAP) && !EVP_MD_CTX_copy_ex(j->snap, j->hash))
            j->rc = cl_fail_openssl(&j->err, CL_ECRYPTO, "SHA-384 copy failed");
    }
    free(buf);
    return NULL;
}

/* The CRC stream is file[0,544) || file[548,size): its byte at stream
 * position q lives at file offset q (q < 544) or q + 4. */
static uint64_t crc_pos_to_off(uint64_t q) { return q < EIF_CRC_OFFSET ? q : q + 4; }

/* True when section s is part of PCR0's content (kernel, cmdline, ramdisks). */
static bool in_pcr0(const struct eif_section_info *s)
{
    return s->type == EIF_SECTION_KERNEL || s->type == EIF_SECTION_CMDLINE ||
           s->type == EIF_SECTION_RAMDISK;
}

/*
 * Gives each job its pieces of the file: the file is cut at every boundary
 * (CRC field, header, each section's data, the split point), and each piece
 * gets the operations of the job(s) that need it. The split point of the
 * CRC balances the jobs: A = h0 + r*ca, B = h2 + r*(T - ca), so
 * ca = (h2 - h0 + r*T) / 2r, with r the cost of CRC over SHA-384 per byte.
 * Returns the bytes the two jobs process together (hashed, then CRC'd).
 */
static uint64_t plan_jobs(const struct eif *e, struct job *a, struct job *b)
{
    uint64_t h0 = 0, h2 = 0;   /* bytes hashed by each job */
    for (size_t i = 0; i < e->nsec; i++) {
        if (in_pcr0(&e->sec[i]))
            h0 += e->sec[i].size;
        if (e->sec[i].type == EIF_SECTION_RAMDISK && i != e->ramdisk[0])
            h2 += e->sec[i].size;
    }
    uint64_t total_crc = e->size - 4;
    long double r = (long double)CRC_COST_NUM / CRC_COST_DEN;
    long double ca = ((long double)h2 - (long double)h0 + r * (long double)total_crc) / (2 * r);
    uint64_t split_q = ca <= 0 ? 0 : ca >= (long double)total_crc ? total_crc : (uint64_t)ca;
    uint64_t split = crc_pos_to_off(split_q);

    uint64_t cuts[4 * EIF_MAX_SECTIONS + 8];
    size_t ncut = 0;
    cuts[ncut++] = 0;
    cuts[ncut++] = EIF_CRC_OFFSET;
    cuts[ncut++] = EIF_HEADER_SIZE;
    for (size_t i = 0; i < e->nsec; i++) {
        cuts[ncut++] = e->sec[i].offset + EIF_SECTION_HEADER_SIZE;
        cuts[ncut++] = e->sec[i].offset + EIF_SECTION_HEADER_SIZE + e->sec[i].size;
    }
    cuts[ncut++] = split;
    cuts[ncut++] = e->size;
    /* insertion sort; at most ~70 entries */
    for (size_t i = 1; i < ncut; i++)
        for (size_t k = i; k > 0 && cuts[k - 1] > cuts[k]; k--) {
            uint64_t t = cuts[k];
            cuts[k] = cuts[k - 1];
            cuts[k - 1] = t;
        }
    size_t si = 0; /* section containing the current piece's data, if any */
    for (size_t c = 0; c + 1 < ncut; c++) {
        uint64_t lo = cuts[c], hi = cuts[c + 1];
        if (lo >= hi)
            continue;
        bool in_crc = !(lo >= EIF_CRC_OFFSET && hi <= EIF_HEADER_SIZE);
        unsigned oa = 0, ob = 0;
        if (in_crc) {
            if (hi <= split)
                oa |= OP_CRC;
            else
                ob |= OP_CRC;
        }
        while (si < e->nsec && e->sec[si].offset + EIF_SECTION_HEADER_SIZE + e->sec[si].size <= lo)
            si++;
        if (si < e->nsec && lo >= e->sec[si].offset + EIF_SECTION_HEADER_SIZE) {
            const struct eif_section_info *s = &e->sec[si];
            uint64_t data_end = s->offset + EIF_SECTION_HEADER_SIZE + s->size;
            if (in_pcr0(s))
                oa |= OP_HASH;
            if (s->type == EIF_SECTION_RAMDISK && si != e->ramdisk[0])
                ob |= OP_HASH;
            if (s->type == EIF_SECTION_RAMDISK && si == e->ramdisk[0] && hi == data_end)
                oa |= OP_SNAP;
        }
        job_add(a, lo, hi, oa);
        job_add(b, lo, hi, ob);
    }
    return h0 + h2 + total_crc;
}

/*
 * An empty first ramdisk has no piece to snapshot after: PCR1 is then PCR0's
 * content up to the first ramdisk, hashed on its own (every hashed section
 * before it, kernel and cmdline, precedes it in the file).
 */
static int snapshot_before_first_ramdisk(const struct eif *e, struct job *a, struct cl_error *err)
{
    for (size_t i = 0; i < a->nseg; i++)
        if (a->segs[i].ops & OP_SNAP)
            return 0;
    const struct eif_section_info *r0 = &e->sec[e->ramdisk[0]];
    EVP_MD_CTX *t = EVP_MD_CTX_new();
    if (!t || !EVP_DigestInit_ex(t, EVP_sha384(), NULL)) {
        EVP_MD_CTX_free(t);
        return cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 init failed");
    }
    EVP_MD_CTX_free(a->snap);
    a->snap = t;
    struct job pre = { .e = e, .hash = t };
    for (size_t i = 0; i < e->nsec && e->sec[i].offset < r0->offset; i++) {
        const struct eif_section_info *s = &e->sec[i];
        if (in_pcr0(s))
            job_add(&pre, s->offset + EIF_SECTION_HEADER_SIZE,
                    s->offset + EIF_SECTION_HEADER_SIZE + s->size, OP_HASH);
    }
    job_run(&pre);
    if (pre.rc < 0 && err)
        *err = pre.err;
    return pre.rc;
}

/* Runs both jobs, on two threads when the work (the bytes hashed and CRC'd,
 * plan_jobs()) is large enough to pay for a thread; one thread otherwise. */
static void run_jobs(const struct eif *e, uint64_t work, struct job *a, struct job *b)
{
    pthread_t tb;
    if (work >= PARALLEL_THRESHOLD && !e->buf && pthread_create(&tb, NULL, job_run, b) == 0) {
        job_run(a);
        pthread_join(tb, NULL);
        return;
    }
    job_run(a);
    job_run(b);
}

int eif_measure(struct eif *e, struct cl_error *err)
{
    int rc = 0;
    struct job *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    if (!a || !b) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    a->e = b->e = e;
    a->hash = EVP_MD_CTX_new();
    a->snap = EVP_MD_CTX_new();
    b->hash = EVP_MD_CTX_new();
    if (!a->hash || !a->snap || !b->hash || !EVP_DigestInit_ex(a->hash, EVP_sha384(), NULL) ||
        !EVP_DigestInit_ex(b->hash, EVP_sha384(), NULL)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 init failed");
        goto out;
    }
    uint64_t work = plan_jobs(e, a, b);
    if ((rc = snapshot_before_first_ramdisk(e, a, err)) < 0)
        goto out;
    run_jobs(e, work, a, b);
    if (a->rc < 0 || b->rc < 0) {
        const struct job *bad = a->rc < 0 ? a : b;
        if (err)
            *err = bad->err;
        rc = bad->rc;
        goto out;
    }
    e->crc_computed = (uint32_t)crc32_combine(a->crc, b->crc, (z_off_t)b->crc_len);
    if ((rc = eif_pcr_final(a->hash, e->m.pcr0, err)) < 0 ||
        (rc = eif_pcr_final(a->snap, e->m.pcr1, err)) < 0 ||
        (rc = eif_pcr_final(b->hash, e->m.pcr2, err)) < 0)
        goto out;
out:
    if (a) {
        EVP_MD_CTX_free(a->hash);
        EVP_MD_CTX_free(a->snap);
    }
    if (b)
        EVP_MD_CTX_free(b->hash);
    free(a);
    free(b);
    return rc;
}

int eif_pcr_of_file(const char *path, uint8_t out[static 48], struct cl_error *err)
{
    int rc = 0;
    uint8_t *buf = NULL;
    EVP_MD_CTX *ctx = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "cannot open '%s'",
                             path);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = cl_fail(err, CL_EINVAL, "'%s' is a directory", path);
        goto out;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    buf = malloc(1u << 20);
    ctx = EVP_MD_CTX_new();
    if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha384(), NULL)) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, 1u << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot read '%s'", path);
            goto out;
        }
        if (n == 0)
            break;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
            rc = cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 failed");
            goto out;
        }
    }
    rc = eif_pcr_final(ctx, out, err);
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
    close(fd);
    return rc;
}

int eif_pcr8_of_cert_pem(const uint8_t *pem, size_t len, uint8_t out[static 48],
                         struct cl_error *err)
{
    X509 *cert = NULL;
    int rc = eif_sig_load_cert(pem, len, &cert, err);
    if (rc == 0)
        rc = eif_sig_pcr8(cert, out, err);
    X509_free(cert);
    return rc;
}
