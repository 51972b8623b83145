/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EIF writer (eif_writer_*, eif_write) and sign-eif (eif_sign).
 *
 * Layout as nitro-cli's EifBuilder writes it (docs/eif.md, "Writer"):
 * header @0, then kernel, cmdline, metadata, ramdisks (bootstrap first),
 * [signature], contiguous; num_sections = 3 + ramdisks (+1 when signed);
 * default_mem 1 GiB, default_cpus 2; version 4.
 *
 * The data goes through 1 MiB staging buffers handled by two workers:
 *   worker 0: PCR0 (kernel || cmdline || ramdisks; PCR1 = a copy of its
 *             state after the first ramdisk), pwrite(), CRC of even buffers;
 *   worker 1: PCR2 (ramdisks after the first), CRC of odd buffers.
 * The producer joins the per-buffer CRCs, in order, per section; the
 * section and file headers are only known at the end, so the final CRC is
 * assembled with crc32_combine() (§1.7: CRC over file[0,544) || file[548,end)).
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
#include "base/fileio.h"

#define STAGE_SIZE (1u << 20)
#define NSTAGE 4

enum { W_H0 = 1, W_H2 = 2, W_SNAP = 4 };

struct stage {
    uint8_t *data;
    size_t len;
    uint64_t off;         /* file offset of data[0] */
    size_t sec;           /* section index */
    unsigned ops;
    uint64_t seq;
    uint32_t crc;         /* of data, by the worker of its parity */
    int pending;          /* workers still to process it */
    bool reclaimed;
};

struct eif_writer {
    struct atomic_file af;
    bool finished;
    uint16_t flags;
    char *cert_path, *key_path;

    /* sections so far */
    uint16_t types[EIF_MAX_SECTIONS];
    uint64_t offs[EIF_MAX_SECTIONS], sizes[EIF_MAX_SECTIONS];
    uint32_t crcs[EIF_MAX_SECTIONS];
    size_t nsec;
    bool in_section;
    size_t nramdisk;
    uint64_t pos;         /* next file offset */

    /* pipeline */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    pthread_t threads[2];
    bool started, closing;
    struct stage st[NSTAGE];
    uint64_t submitted;   /* stages handed to the workers */
    uint64_t next_reclaim;
    struct stage *cur;    /* being filled by the producer, or NULL */
    uint64_t wnext[2];
    EVP_MD_CTX *h0, *h1, *h2;
    int werr_rc;
    struct cl_error werr;
};

/* --- workers --- */

static void worker_fail(struct eif_writer *w, int rc, const struct cl_error *e)
{
    pthread_mutex_lock(&w->mu);
    if (w->werr_rc == 0) {
        w->werr_rc = rc;
        w->werr = *e;
    }
    pthread_mutex_unlock(&w->mu);
}

static void work(struct eif_writer *w, int id, struct stage *s)
{
    struct cl_error e = { 0 };
    int rc = 0;
    if (s->seq % 2 == (uint64_t)id)
        s->crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), s->data, (uInt)s->len);
    if (id == 0) {
        if ((s->ops & W_H0) && !EVP_DigestUpdate(w->h0, s->data, s->len))
            rc = cl_fail_openssl(&e, CL_ECRYPTO, "SHA-384 failed");
        if (rc == 0 && (s->ops & W_SNAP) && !EVP_MD_CTX_copy_ex(w->h1, w->h0))
            rc = cl_fail_openssl(&e, CL_ECRYPTO, "SHA-384 copy failed");
        for (size_t done = 0; rc == 0 && done < s->len;) {
            ssize_t n = pwrite(w->af.fd, s->data + done, s->len - done, (off_t)(s->off + done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                rc = cl_fail_errno(&e, CL_EIO, "cannot write the EIF");
            else
                done += (size_t)n;
        }
    } else if ((s->ops & W_H2) && !EVP_DigestUpdate(w->h2, s->data, s->len)) {
        rc = cl_fail_openssl(&e, CL_ECRYPTO, "SHA-384 failed");
    }
    if (rc < 0)
        worker_fail(w, rc, &e);
}

struct wstart {
    struct eif_writer *w;
    int id;
};

static void *worker_loop(void *arg)
{
    struct wstart *ws = arg;
    struct eif_writer *w = ws->w;
    int id = ws->id;
    free(ws);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->wnext[id] >= w->submitted && !w->closing)
            pthread_cond_wait(&w->cv_work, &w->mu);
        if (w->wnext[id] >= w->submitted)
            break;
        struct stage *s = &w->st[w->wnext[id] % NSTAGE];
        bool skip = w->werr_rc != 0;
        pthread_mutex_unlock(&w->mu);
        if (!skip)
            work(w, id, s);
        pthread_mutex_lock(&w->mu);
        s->pending--;
        w->wnext[id]++;
        pthread_cond_broadcast(&w->cv_done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Joins a processed stage's CRC into its section's (in submission order). */
static void reclaim_locked(struct eif_writer *w, struct stage *s)
{
    if (s->reclaimed)
        return;
    w->crcs[s->sec] = (uint32_t)crc32_combine(w->crcs[s->sec], s->crc, (z_off_t)s->len);
    s->reclaimed = true;
    w->next_reclaim++;
}

/* A free stage for the producer: waits for the workers to finish with it. */
static int acquire(struct eif_writer *w, struct cl_error *err)
{
    struct stage *s = &w->st[w->submitted % NSTAGE];
    pthread_mutex_lock(&w->mu);
    while (s->pending > 0)
        pthread_cond_wait(&w->cv_done, &w->mu);
    reclaim_locked(w, s);
    int rc = w->werr_rc;
    if (rc < 0 && err)
        *err = w->werr;
    pthread_mutex_unlock(&w->mu);
    if (rc < 0)
        return rc;
    s->len = 0;
    s->off = w->pos;
    s->sec = w->nsec - 1;
    s->ops = 0;
    s->crc = 0;
    s->seq = w->submitted;
    s->reclaimed = true; /* nothing to join until submitted */
    w->cur = s;
    return 0;
}

static void submit(struct eif_writer *w, unsigned ops)
{
    struct stage *s = w->cur;
    s->ops = ops;
    s->pending = 2;
    s->reclaimed = false;
    w->cur = NULL;
    pthread_mutex_lock(&w->mu);
    w->submitted++;
    pthread_cond_broadcast(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
}

/* Waits until the workers processed everything submitted; joins all CRCs. */
static int drain(struct eif_writer *w, struct cl_error *err)
{
    pthread_mutex_lock(&w->mu);
    while (w->wnext[0] < w->submitted || w->wnext[1] < w->submitted)
        pthread_cond_wait(&w->cv_done, &w->mu);
    for (uint64_t q = w->next_reclaim; q < w->submitted; q++)
        reclaim_locked(w, &w->st[q % NSTAGE]);
    int rc = w->werr_rc;
    if (rc < 0 && err)
        *err = w->werr;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static unsigned section_ops(const struct eif_writer *w)
{
    uint16_t t = w->types[w->nsec - 1];
    unsigned ops = 0;
    if (t == EIF_SECTION_KERNEL || t == EIF_SECTION_CMDLINE || t == EIF_SECTION_RAMDISK)
        ops |= W_H0;
    if (t == EIF_SECTION_RAMDISK && w->nramdisk > 1)
        ops |= W_H2;
    return ops;
}

static int begin_section(struct eif_writer *w, uint16_t type, struct cl_error *err)
{
    if (w->in_section)
        return cl_fail(err, CL_ESTATE, "a section is already open");
    /* keep one slot for the signature when signing */
    size_t max = EIF_MAX_SECTIONS - (w->cert_path ? 1 : 0);
    if (w->nsec >= max)
        return cl_fail(err, CL_ELIMIT, "too many sections (at most %d in an EIF)",
                       EIF_MAX_SECTIONS);
    size_t i = w->nsec++;
    w->types[i] = type;
    w->offs[i] = w->pos;
    w->sizes[i] = 0;
    w->crcs[i] = (uint32_t)crc32(0, Z_NULL, 0);
    w->pos += EIF_SECTION_HEADER_SIZE;
    w->in_section = true;
    if (w->cur) {
        /* an empty stage left over from the previous section now starts this one */
        w->cur->off = w->pos;
        w->cur->sec = i;
    }
    if (type == EIF_SECTION_RAMDISK)
        w->nramdisk++;
    return 0;
}

static int feed(struct eif_writer *w, const void *buf, size_t len, struct cl_error *err)
{
    const uint8_t *p = buf;
    if (!w->in_section)
        return cl_fail(err, CL_ESTATE, "no section is open");
    while (len > 0) {
        int rc;
        if (!w->cur && (rc = acquire(w, err)) < 0)
            return rc;
        size_t n = STAGE_SIZE - w->cur->len;
        if (n > len)
            n = len;
        memcpy(w->cur->data + w->cur->len, p, n);
        w->cur->len += n;
        w->pos += n;
        w->sizes[w->nsec - 1] += n;
        p += n;
        len -= n;
        if (w->cur->len == STAGE_SIZE)
            submit(w, section_ops(w));
    }
    return 0;
}

static int end_section(struct eif_writer *w, struct cl_error *err)
{
    if (!w->in_section)
        return cl_fail(err, CL_ESTATE, "no section is open");
    unsigned ops = section_ops(w);
    bool first_ramdisk = w->types[w->nsec - 1] == EIF_SECTION_RAMDISK && w->nramdisk == 1;
    if (first_ramdisk) {
        /* PCR1 is PCR0's state here: a (possibly empty) stage carries the mark */
        int rc;
        if (!w->cur && (rc = acquire(w, err)) < 0)
            return rc;
        submit(w, ops | W_SNAP);
    } else if (w->cur && w->cur->len > 0) {
        submit(w, ops);
    }
    w->in_section = false;
    return 0;
}

static int feed_file(struct eif_writer *w, const char *path, const char *what,
                     struct cl_error *err)
{
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
                             "cannot open the %s '%s'", what, path);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return cl_fail(err, CL_EINVAL, "the %s '%s' is a directory", what, path);
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        /* read straight into the staging buffer: no extra copy */
        if (!w->cur && (rc = acquire(w, err)) < 0)
            break;
        ssize_t n = read(fd, w->cur->data + w->cur->len, STAGE_SIZE - w->cur->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot read the %s '%s'", what, path);
            break;
        }
        if (n == 0)
            break;
        w->cur->len += (size_t)n;
        w->pos += (uint64_t)n;
        w->sizes[w->nsec - 1] += (uint64_t)n;
        if (w->cur->len == STAGE_SIZE)
            submit(w, section_ops(w));
    }
    close(fd);
    return rc;
}

/* --- public: streaming writer --- */

int eif_writer_new(const char *out_path, const struct eif_build_params *p,
                   struct eif_writer **out, struct cl_error *err)
{
    int rc = 0;
    *out = NULL;
    if (!p || !p->kernel_path || (!p->cmdline && p->cmdline_len) || !p->metadata_json)
        return cl_fail(err, CL_EINVAL, "kernel, cmdline and metadata are required");
    if (!p->signing_cert_path != !p->private_key_path)
        return cl_fail(err, CL_EINVAL, "a signing certificate needs a private key and back");
    struct eif_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    w->af.fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv_work, NULL);
    pthread_cond_init(&w->cv_done, NULL);
    w->flags = p->flags;
    w->pos = EIF_HEADER_SIZE;
    for (size_t i = 0; i < NSTAGE; i++) {
        w->st[i].reclaimed = true;
        if (!(w->st[i].data = malloc(STAGE_SIZE))) {
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    w->next_reclaim = 0;
    if (p->signing_cert_path &&
        (!(w->cert_path = strdup(p->signing_cert_path)) ||
         !(w->key_path = strdup(p->private_key_path)))) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto fail;
    }
    if (w->cert_path) {
        /* Fail before streaming a large image if the key or cert is unusable. */
        uint8_t zero[48] = { 0 }, pcr8[48], *sec = NULL;
        size_t sec_len = 0;
        rc = eif_sig_make(zero, w->cert_path, w->key_path, &sec, &sec_len, pcr8, err);
        free(sec);
        if (rc < 0)
            goto fail;
    }
    w->h0 = EVP_MD_CTX_new();
    w->h1 = EVP_MD_CTX_new();
    w->h2 = EVP_MD_CTX_new();
    if (!w->h0 || !w->h1 || !w->h2 || !EVP_DigestInit_ex(w->h0, EVP_sha384(), NULL) ||
        !EVP_DigestInit_ex(w->h2, EVP_sha384(), NULL)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 init failed");
        goto fail;
    }
    if ((rc = atomic_file_open(&w->af, out_path, 0644, err)) < 0)
        goto fail;
    for (int i = 0; i < 2; i++) {
        struct wstart *ws = malloc(sizeof(*ws));
        if (!ws) {
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            goto fail;
        }
        *ws = (struct wstart){ w, i };
        if (pthread_create(&w->threads[i], NULL, worker_loop, ws) != 0) {
            free(ws);
            if (i == 1) {
                /* stop the first one */
                pthread_mutex_lock(&w->mu);
                w->closing = true;
                pthread_cond_broadcast(&w->cv_work);
                pthread_mutex_unlock(&w->mu);
                pthread_join(w->threads[0], NULL);
            }
            rc = cl_fail(err, CL_ENOMEM, "cannot start the hashing threads");
            goto fail;
        }
    }
    w->started = true;

    /* kernel, cmdline, metadata: nitro-cli's order */
    if ((rc = begin_section(w, EIF_SECTION_KERNEL, err)) < 0 ||
        (rc = feed_file(w, p->kernel_path, "kernel", err)) < 0 || (rc = end_section(w, err)) < 0 ||
        (rc = begin_section(w, EIF_SECTION_CMDLINE, err)) < 0 ||
        (rc = feed(w, p->cmdline, p->cmdline_len, err)) < 0 || (rc = end_section(w, err)) < 0 ||
        (rc = begin_section(w, EIF_SECTION_METADATA, err)) < 0 ||
        (rc = feed(w, p->metadata_json, strlen(p->metadata_json), err)) < 0 ||
        (rc = end_section(w, err)) < 0)
        goto fail;
    *out = w;
    return 0;
fail:
    eif_writer_free(w);
    return rc;
}

int eif_writer_begin_ramdisk(struct eif_writer *w, struct cl_error *err)
{
    if (w->finished)
        return cl_fail(err, CL_ESTATE, "the EIF is already finished");
    return begin_section(w, EIF_SECTION_RAMDISK, err);
}

int eif_writer_write(struct eif_writer *w, const void *buf, size_t len, struct cl_error *err)
{
    if (w->finished || !w->in_section || w->types[w->nsec - 1] != EIF_SECTION_RAMDISK)
        return cl_fail(err, CL_ESTATE, "no ramdisk is open");
    return feed(w, buf, len, err);
}

int eif_writer_end_ramdisk(struct eif_writer *w, struct cl_error *err)
{
    if (w->finished || !w->in_section || w->types[w->nsec - 1] != EIF_SECTION_RAMDISK)
        return cl_fail(err, CL_ESTATE, "no ramdisk is open");
    return end_section(w, err);
}

static void stop_workers(struct eif_writer *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_broadcast(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->threads[0], NULL);
    pthread_join(w->threads[1], NULL);
    w->started = false;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off, struct cl_error *err)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return cl_fail_errno(err, CL_EIO, "cannot write the EIF");
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Writes the section headers and the file header, CRC assembled from the
 * per-section CRCs. */
static int write_headers(int fd, const struct eif_header *base, size_t nsec,
                         const uint16_t *types, const uint64_t *offs, const uint64_t *sizes,
                         const uint32_t *crcs, struct cl_error *err)
{
    struct eif_header h = *base;
    h.num_sections = (uint16_t)nsec;
    memset(h.offsets, 0, sizeof(h.offsets));
    memset(h.sizes, 0, sizeof(h.sizes));
    for (size_t i = 0; i < nsec; i++) {
        h.offsets[i] = offs[i];
        h.sizes[i] = sizes[i];
    }
    uint8_t raw[EIF_HEADER_SIZE];
    eif_header_encode(&h, raw);
    uLong crc = crc32(crc32(0, Z_NULL, 0), raw, EIF_CRC_OFFSET);
    int rc;
    for (size_t i = 0; i < nsec; i++) {
        uint8_t sh[EIF_SECTION_HEADER_SIZE];
        eif_section_header_encode(sh, types[i], sizes[i]);
        if ((rc = pwrite_all(fd, sh, sizeof(sh), offs[i], err)) < 0)
            return rc;
        crc = crc32_combine(crc, crc32(crc32(0, Z_NULL, 0), sh, sizeof(sh)), sizeof(sh));
        crc = crc32_combine(crc, crcs[i], (z_off_t)sizes[i]);
    }
    h.crc = (uint32_t)crc;
    eif_header_encode(&h, raw);
    return pwrite_all(fd, raw, sizeof(raw), 0, err);
}

int eif_writer_finish(struct eif_writer *w, struct eif_measurements *m, struct cl_error *err)
{
    int rc;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    struct eif_measurements meas = { 0 };
    if (w->finished)
        return cl_fail(err, CL_ESTATE, "the EIF is already finished");
    if (w->in_section)
        return cl_fail(err, CL_ESTATE, "a ramdisk is still open");
    if (w->nramdisk == 0)
        return cl_fail(err, CL_EINVAL, "an EIF needs at least one ramdisk");
    if (w->cur && w->cur->len > 0)
        return cl_fail(err, CL_ESTATE, "unsubmitted data"); /* cannot happen */
    if ((rc = drain(w, err)) < 0)
        goto out;
    stop_workers(w);
    if ((rc = eif_pcr_final(w->h0, meas.pcr0, err)) < 0 ||
        (rc = eif_pcr_final(w->h1, meas.pcr1, err)) < 0 ||
        (rc = eif_pcr_final(w->h2, meas.pcr2, err)) < 0)
        goto out;
    if (w->cert_path) {
        /* signed after measuring (the signature covers PCR0) and placed last */
        if ((rc = eif_sig_make(meas.pcr0, w->cert_path, w->key_path, &sig, &sig_len, meas.pcr8,
                               err)) < 0)
            goto out;
        meas.has_pcr8 = true;
        size_t i = w->nsec++;
        w->types[i] = EIF_SECTION_SIGNATURE;
        w->offs[i] = w->pos;
        w->sizes[i] = sig_len;
        w->crcs[i] = (uint32_t)crc32(crc32(0, Z_NULL, 0), sig, (uInt)sig_len);
        if ((rc = pwrite_all(w->af.fd, sig, sig_len, w->pos + EIF_SECTION_HEADER_SIZE, err)) < 0)
            goto out;
        w->pos += EIF_SECTION_HEADER_SIZE + sig_len;
    }
    struct eif_header base = { .version = EIF_CURRENT_VERSION, .flags = w->flags,
                               .default_mem = EIF_DEFAULT_MEM,
                               .default_cpus = EIF_DEFAULT_CPUS };
    if ((rc = write_headers(w->af.fd, &base, w->nsec, w->types, w->offs, w->sizes, w->crcs,
                            err)) < 0)
        goto out;
    if ((rc = atomic_file_commit(&w->af, err)) < 0)
        goto out;
    w->finished = true;
    if (m)
        *m = meas;
out:
    free(sig);
    return rc;
}

void eif_writer_free(struct eif_writer *w)
{
    if (!w)
        return;
    stop_workers(w);
    if (!w->finished)
        atomic_file_abort(&w->af);
    for (size_t i = 0; i < NSTAGE; i++)
        free(w->st[i].data);
    EVP_MD_CTX_free(w->h0);
    EVP_MD_CTX_free(w->h1);
    EVP_MD_CTX_free(w->h2);
    free(w->cert_path);
    free(w->key_path);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv_work);
    pthread_cond_destroy(&w->cv_done);
    free(w);
}

int eif_write(const char *out_path, const struct eif_build_params *p,
              struct eif_measurements *m, struct cl_error *err)
{
    struct eif_writer *w = NULL;
    int rc;
    if (!p || p->ramdisk_count == 0 || !p->ramdisk_paths)
        return cl_fail(err, CL_EINVAL, "an EIF needs at least one ramdisk");
    if ((rc = eif_writer_new(out_path, p, &w, err)) < 0)
        return rc;
    for (size_t i = 0; i < p->ramdisk_count; i++) {
        if ((rc = eif_writer_begin_ramdisk(w, err)) < 0 ||
            (rc = feed_file(w, p->ramdisk_paths[i], "ramdisk", err)) < 0 ||
            (rc = eif_writer_end_ramdisk(w, err)) < 0)
            goto out;
    }
    rc = eif_writer_finish(w, m, err);
out:
    eif_writer_free(w);
    return rc;
}

/* --- sign-eif --- */

static int copy_range(int in, int out, uint64_t from, uint64_t to, uint64_t len, uint32_t *crc,
                      uint8_t *buf, struct cl_error *err)
{
    uLong c = crc32(0, Z_NULL, 0);
    while (len > 0) {
        size_t n = len < STAGE_SIZE ? (size_t)len : STAGE_SIZE;
        int rc;
        if ((rc = fd_pread_exact(in, buf, n, (off_t)from, err)) < 0 ||
            (rc = pwrite_all(out, buf, n, to, err)) < 0)
            return rc;
        c = crc32(c, buf, (uInt)n);
        from += n;
        to += n;
        len -= n;
    }
    *crc = (uint32_t)c;
    return 0;
}

int eif_sign(const char *path, const char *signing_cert_path, const char *private_key_path,
             struct eif_measurements *m, struct cl_error *err)
{
    int rc;
    struct eif *e = NULL;
    uint8_t *sig = NULL, *buf = NULL;
    size_t sig_len = 0;
    int in = -1;
    struct atomic_file af = { .fd = -1 };
    struct eif_measurements meas;

    if ((rc = eif_open(path, &e, err)) < 0)
        goto out;
    if (!eif_crc_ok(e)) {
        rc = cl_fail(err, CL_ECHECKSUM, "the EIF's CRC does not match (stored 0x%08x, computed "
                     "0x%08x): refusing to sign a damaged image",
                     eif_crc_stored(e), eif_crc_computed(e));
        goto out;
    }
    if (eif_version(e) < 3) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "a version %u EIF cannot hold a signature",
                     eif_version(e));
        goto out;
    }
    meas = *eif_measurements(e);
    if ((rc = eif_sig_make(meas.pcr0, signing_cert_path, private_key_path, &sig, &sig_len,
                           meas.pcr8, err)) < 0)
        goto out;
    meas.has_pcr8 = true;

    /* New layout: the old sections in order, the signature replacing the old
     * one in place or appended (aws-nitro-enclaves-image-format eif_signer.rs,
     * write_signature). */
    size_t n = eif_section_count(e), nn = 0;
    if (!eif_is_signed(e) && n >= EIF_MAX_SECTIONS) {
        rc = cl_fail(err, CL_ELIMIT, "the EIF already has %d sections, no room for a signature",
                     EIF_MAX_SECTIONS);
        goto out;
    }
    uint16_t types[EIF_MAX_SECTIONS];
    uint64_t offs[EIF_MAX_SECTIONS], sizes[EIF_MAX_SECTIONS], src[EIF_MAX_SECTIONS];
    uint32_t crcs[EIF_MAX_SECTIONS];
    bool placed = false;
    uint64_t pos = EIF_HEADER_SIZE;
    for (size_t i = 0; i <= n; i++) {
        const struct eif_section_info *s = i < n ? eif_section(e, i) : NULL;
        bool put_sig = s ? s->type == EIF_SECTION_SIGNATURE : !placed;
        if (!s && !put_sig)
            break;
        types[nn] = put_sig ? EIF_SECTION_SIGNATURE : s->type;
        sizes[nn] = put_sig ? sig_len : s->size;
        src[nn] = put_sig ? UINT64_MAX : s->offset + EIF_SECTION_HEADER_SIZE;
        offs[nn] = pos;
        pos += EIF_SECTION_HEADER_SIZE + sizes[nn];
        placed |= put_sig;
        nn++;
    }

    struct stat st;
    if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &st) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot open '%s'", path);
        goto out;
    }
    if (!(buf = malloc(STAGE_SIZE))) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = atomic_file_open(&af, path, st.st_mode & 07777, err)) < 0)
        goto out;
    for (size_t i = 0; i < nn; i++) {
        uint64_t data = offs[i] + EIF_SECTION_HEADER_SIZE;
        if (src[i] == UINT64_MAX) {
            crcs[i] = (uint32_t)crc32(crc32(0, Z_NULL, 0), sig, (uInt)sig_len);
            rc = pwrite_all(af.fd, sig, sig_len, data, err);
        } else {
            rc = copy_range(in, af.fd, src[i], data, sizes[i], &crcs[i], buf, err);
        }
        if (rc < 0)
            goto out;
    }
    /* the other header fields (flags, default_mem/cpus, reserved) are kept */
    if ((rc = write_headers(af.fd, eif_header_of(e), nn, types, offs, sizes, crcs, err)) < 0 ||
        (rc = atomic_file_commit(&af, err)) < 0)
        goto out;
    if (m)
        *m = meas;
out:
    if (rc < 0)
        atomic_file_abort(&af);
    if (in >= 0)
        close(in);
    free(buf);
    free(sig);
    eif_free(e);
    return rc;
}
