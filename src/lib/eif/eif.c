/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EIF reader: walk, validate, measure (docs/eif.md, "Reader").
 *
 * Like nitro-cli's EifReader::from_eif, sections are found by walking the
 * file sequentially from byte 548; unlike it, the header's section table
 * must agree with that walk (QEMU reads the table), so that every reader
 * sees the same image.
 *
 * Measuring is the expensive part and is streamed, never loading a section
 * of unbounded size: two jobs read the file with large pread()s,
 *   job A: PCR0 over kernel || cmdline || ramdisks, with PCR1 a copy of the
 *          same SHA-384 state taken after the first ramdisk, and the CRC of
 *          the file up to a split point;
 *   job B: PCR2 over ramdisks[1..], and the CRC from the split point on.
 * The split point balances the two jobs' work; the two CRCs are joined with
 * zlib's crc32_combine(). Large files run the jobs on two threads.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "eif/eif_internal.h"
#include "base/fileio.h"
#include "eif/pcr.h"

#define READ_CHUNK (256u << 10)            /* per pread: stays in L2 for SHA then CRC */
#define PARALLEL_THRESHOLD (4ull << 20)    /* below this, threads cost more than they save */
/* zlib's crc32 vs OpenSSL's SHA-384, per byte, measured on the development
 * machine (512 MiB: crc32 0.16 s, SHA-384 0.63 s): about a quarter. */
#define CRC_COST_NUM 1
#define CRC_COST_DEN 4

struct eif {
    int fd;                       /* -1 for a buffer */
    const uint8_t *buf;           /* eif_open_buffer(): not owned */
    uint64_t size;
    struct eif_header hdr;
    struct eif_section_info sec[EIF_MAX_SECTIONS];
    size_t nsec;
    size_t ramdisk[EIF_MAX_SECTIONS]; /* indices into sec */
    size_t nramdisk;
    uint32_t crc_computed;
    struct eif_measurements m;
    uint8_t *cmdline;
    size_t cmdline_len;
    char *metadata;               /* NUL-terminated; NULL when absent (v2/v3) */
    char *cert_pem;               /* signature section's certificate */
    size_t cert_pem_len;
    uint8_t *cose;
    size_t cose_len;
    X509 *cert;
    bool signed_;
    bool sig_ok;
    char sig_reason[CL_ERROR_REASON_MAX];
};

/* --- header --- */

void eif_header_encode(const struct eif_header *h, uint8_t out[EIF_HEADER_SIZE])
{
    memset(out, 0, EIF_HEADER_SIZE);
    memcpy(out, EIF_MAGIC, 4);
    be16_store(out + 4, h->version);
    be16_store(out + 6, h->flags);
    be64_store(out + 8, h->default_mem);
    be64_store(out + 16, h->default_cpus);
    be16_store(out + 24, h->reserved);
    be16_store(out + 26, h->num_sections);
    for (size_t i = 0; i < EIF_MAX_SECTIONS; i++) {
        be64_store(out + 28 + 8 * i, h->offsets[i]);
        be64_store(out + 284 + 8 * i, h->sizes[i]);
    }
    be32_store(out + 540, h->unused);
    be32_store(out + EIF_CRC_OFFSET, h->crc);
}

void eif_header_decode(const uint8_t in[EIF_HEADER_SIZE], struct eif_header *h)
{
    h->version = be16_load(in + 4);
    h->flags = be16_load(in + 6);
    h->default_mem = be64_load(in + 8);
    h->default_cpus = be64_load(in + 16);
    h->reserved = be16_load(in + 24);
    h->num_sections = be16_load(in + 26);
    for (size_t i = 0; i < EIF_MAX_SECTIONS; i++) {
        h->offsets[i] = be64_load(in + 28 + 8 * i);
        h->sizes[i] = be64_load(in + 284 + 8 * i);
    }
    h->unused = be32_load(in + 540);
    h->crc = be32_load(in + EIF_CRC_OFFSET);
}

void eif_section_header_encode(uint8_t out[EIF_SECTION_HEADER_SIZE], uint16_t type, uint64_t size)
{
    be16_store(out, type);
    be16_store(out + 2, 0);
    be64_store(out + 4, size);
}

int eif_pcr_final(EVP_MD_CTX *ctx, uint8_t out[static 48], struct cl_error *err)
{
    uint8_t digest[48];
    unsigned int n = 0;
    if (!EVP_DigestFinal_ex(ctx, digest, &n) || n != sizeof(digest))
        return cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 failed");
    return pcr_from_zero(out, digest, sizeof(digest), err);
}

/* --- reading --- */

/* Reads len bytes at off into buf, or points *p into the caller's buffer. */
static int eif_read_at(const struct eif *e, uint64_t off, void *buf, size_t len,
                       const uint8_t **p, struct cl_error *err)
{
    if (off > e->size || len > e->size - off)
        return cl_fail(err, CL_EFORMAT, "read past the end of the EIF");
    if (e->buf) {
        if (p)
            *p = e->buf + off;
        else
            memcpy(buf, e->buf + off, len);
        return 0;
    }
    int rc = fd_pread_exact(e->fd, buf, len, (off_t)off, err);
    if (rc == 0 && p)
        *p = buf;
    return rc;
}

/* --- the walk --- */

static const char *type_name(uint16_t t)
{
    switch (t) {
    case EIF_SECTION_KERNEL: return "kernel";
    case EIF_SECTION_CMDLINE: return "cmdline";
    case EIF_SECTION_RAMDISK: return "ramdisk";
    case EIF_SECTION_SIGNATURE: return "signature";
    case EIF_SECTION_METADATA: return "metadata";
    default: return "invalid";
    }
}

static int read_small_section(struct eif *e, const struct eif_section_info *s, uint8_t **out,
                              struct cl_error *err)
{
    /* +1: a NUL for the text sections */
    uint8_t *b = malloc((size_t)s->size + 1);
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = eif_read_at(e, s->offset + EIF_SECTION_HEADER_SIZE, b, (size_t)s->size, NULL, err);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b[s->size] = 0;
    *out = b;
    return 0;
}

static int walk(struct eif *e, struct cl_error *err)
{
    uint8_t raw[EIF_HEADER_SIZE];
    if (e->size < EIF_HEADER_SIZE)
        return cl_fail(err, CL_EFORMAT, "truncated EIF: %llu bytes, the header alone is %d",
                       (unsigned long long)e->size, EIF_HEADER_SIZE);
    int rc = eif_read_at(e, 0, raw, sizeof(raw), NULL, err);
    if (rc < 0)
        return rc;
    if (memcmp(raw, EIF_MAGIC, 4) != 0)
        return cl_fail(err, CL_EFORMAT, "not an EIF: bad magic");
    struct eif_header *h = &e->hdr;
    eif_header_decode(raw, h);
    /* v0/v1 were internal and have no CRC; > v4 is undefined (spec, version history) */
    if (h->version < 2 || h->version > EIF_CURRENT_VERSION)
        return cl_fail(err, CL_EUNSUPPORTED, "unsupported EIF version %u (supported: 2 to 4)",
                       h->version);
    if (h->num_sections > EIF_MAX_SECTIONS)
        return cl_fail(err, CL_ELIMIT, "num_sections %u exceeds the maximum of %d",
                       h->num_sections, EIF_MAX_SECTIONS);

    uint64_t off = EIF_HEADER_SIZE;
    while (off < e->size) {
        size_t i = e->nsec;
        if (i == EIF_MAX_SECTIONS)
            return cl_fail(err, CL_ELIMIT, "more than %d sections before the end of the file",
                           EIF_MAX_SECTIONS);
        if (e->size - off < EIF_SECTION_HEADER_SIZE)
            return cl_fail(err, CL_EFORMAT, "truncated section header at offset %llu",
                           (unsigned long long)off);
        uint8_t sh[EIF_SECTION_HEADER_SIZE];
        if ((rc = eif_read_at(e, off, sh, sizeof(sh), NULL, err)) < 0)
            return rc;
        uint16_t type = be16_load(sh), flags = be16_load(sh + 2);
        uint64_t size = be64_load(sh + 4);
        if (type == EIF_SECTION_INVALID || type > EIF_SECTION_METADATA)
            return cl_fail(err, CL_EFORMAT, "section %zu at offset %llu: invalid section type %u",
                           i, (unsigned long long)off, type);
        if ((type == EIF_SECTION_SIGNATURE && h->version < 3) ||
            (type == EIF_SECTION_METADATA && h->version < 4))
            return cl_fail(err, CL_EFORMAT, "section %zu: a %s section in a version %u EIF", i,
                           type_name(type), h->version);
        if (flags != 0)
            return cl_fail(err, CL_EFORMAT, "section %zu: reserved section flags 0x%04x are set",
                           i, flags);
        if (size > e->size - off - EIF_SECTION_HEADER_SIZE)
            return cl_fail(err, CL_EFORMAT,
                           "section %zu (%s) at offset %llu: size %llu runs past the end of the "
                           "file (%llu bytes)",
                           i, type_name(type), (unsigned long long)off,
                           (unsigned long long)size, (unsigned long long)e->size);
        e->sec[i] = (struct eif_section_info){ .type = type, .offset = off, .size = size };
        e->nsec++;
        off += EIF_SECTION_HEADER_SIZE + size;
    }

    /* The table must describe exactly the walk (QEMU reads the table). */
    if (h->num_sections != e->nsec)
        return cl_fail(err, CL_EFORMAT, "the header lists %u sections, the file holds %zu",
                       h->num_sections, e->nsec);
    for (size_t i = 0; i < EIF_MAX_SECTIONS; i++) {
        if (i >= e->nsec) {
            if (h->offsets[i] || h->sizes[i])
                return cl_fail(err, CL_EFORMAT, "section table entry %zu is past num_sections "
                               "but not zero", i);
            continue;
        }
        if (h->offsets[i] != e->sec[i].offset)
            return cl_fail(err, CL_EFORMAT,
                           "section %zu: the header's offset %llu disagrees with the sequential "
                           "walk (%llu)",
                           i, (unsigned long long)h->offsets[i],
                           (unsigned long long)e->sec[i].offset);
        if (h->sizes[i] != e->sec[i].size)
            return cl_fail(err, CL_EFORMAT,
                           "section %zu: the header's size %llu disagrees with the section "
                           "header (%llu)",
                           i, (unsigned long long)h->sizes[i], (unsigned long long)e->sec[i].size);
    }

    /* Which sections, how many (docs/eif.md, "Reader" step 4). */
    size_t nkernel = 0, ncmdline = 0, nmeta = 0, nsig = 0;
    for (size_t i = 0; i < e->nsec; i++) {
        const struct eif_section_info *s = &e->sec[i];
        switch (s->type) {
        case EIF_SECTION_KERNEL:
            if (nkernel++)
                return cl_fail(err, CL_EFORMAT, "more than one kernel section");
            break;
        case EIF_SECTION_CMDLINE:
            if (ncmdline++)
                return cl_fail(err, CL_EFORMAT, "more than one cmdline section");
            if (s->size > EIF_CMDLINE_MAX)
                return cl_fail(err, CL_ELIMIT, "cmdline section of %llu bytes exceeds %u",
                               (unsigned long long)s->size, EIF_CMDLINE_MAX);
            break;
        case EIF_SECTION_RAMDISK:
            /* "every ramdisk comes after the kernel" (spec, section ordering) */
            if (!nkernel)
                return cl_fail(err, CL_EFORMAT, "ramdisk section %zu comes before the kernel", i);
            e->ramdisk[e->nramdisk++] = i;
            break;
        case EIF_SECTION_METADATA:
            if (nmeta++)
                return cl_fail(err, CL_EFORMAT, "more than one metadata section");
            if (s->size > EIF_METADATA_MAX)
                return cl_fail(err, CL_ELIMIT, "metadata section of %llu bytes exceeds %u",
                               (unsigned long long)s->size, EIF_METADATA_MAX);
            break;
        case EIF_SECTION_SIGNATURE:
            if (nsig++)
                return cl_fail(err, CL_EFORMAT, "more than one signature section");
            if (s->size > EIF_SIGNATURE_MAX_SIZE)
                return cl_fail(err, CL_ELIMIT,
                               "signature section of %llu bytes exceeds the maximum of %d",
                               (unsigned long long)s->size, EIF_SIGNATURE_MAX_SIZE);
            break;
        }
    }
    if (!nkernel)
        return cl_fail(err, CL_EFORMAT, "no kernel section");
    if (!ncmdline)
        return cl_fail(err, CL_EFORMAT, "no cmdline section");
    if (!e->nramdisk)
        return cl_fail(err, CL_EFORMAT, "no ramdisk section");
    if (h->version >= 4 && !nmeta)
        return cl_fail(err, CL_EFORMAT, "no metadata section (mandatory in version 4)");
    return 0;
}

/*
 * The metadata must deserialize as nitro-cli's EifIdentityInfo (all keys
 * present, docs/eif.md "Reader" step 5), or nitro-cli's describe-eif fails too.
 */
static int check_metadata(const char *text, size_t len, struct cl_error *err)
{
    if (strlen(text) != len)
        return cl_fail(err, CL_EFORMAT, "malformed metadata: it contains a NUL byte");
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    int rc = 0;
    if (!j)
        return cl_fail(err, CL_EFORMAT, "malformed metadata: %s", je.text);
    if (!json_is_object(j)) {
        rc = cl_fail(err, CL_EFORMAT, "malformed metadata: not a JSON object");
        goto out;
    }
    static const char *const top[] = { "ImageName", "ImageVersion", "BuildMetadata",
                                       "DockerInfo", "CustomMetadata" };
    static const char *const build[] = { "BuildTime", "BuildTool", "BuildToolVersion",
                                         "OperatingSystem", "KernelVersion" };
    for (size_t i = 0; i < 5; i++)
        if (!json_object_get(j, top[i])) {
            rc = cl_fail(err, CL_EFORMAT, "malformed metadata: missing key %s", top[i]);
            goto out;
        }
    for (size_t i = 0; i < 2; i++)
        if (!json_is_string(json_object_get(j, top[i]))) {
            rc = cl_fail(err, CL_EFORMAT, "malformed metadata: %s is not a string", top[i]);
            goto out;
        }
    json_t *b = json_object_get(j, "BuildMetadata");
    if (!json_is_object(b)) {
        rc = cl_fail(err, CL_EFORMAT, "malformed metadata: BuildMetadata is not an object");
        goto out;
    }
    for (size_t i = 0; i < 5; i++)
        if (!json_is_string(json_object_get(b, build[i]))) {
            rc = cl_fail(err, CL_EFORMAT, "malformed metadata: BuildMetadata.%s is missing or "
                         "not a string", build[i]);
            goto out;
        }
out:
    json_decref(j);
    return rc;
}

/* --- measuring --- */

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

static int measure(struct eif *e, struct cl_error *err)
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

    /* What each job hashes (section data only, never headers). */
    uint64_t h0 = 0, h2 = 0;
    for (size_t i = 0; i < e->nsec; i++) {
        const struct eif_section_info *s = &e->sec[i];
        if (s->type == EIF_SECTION_KERNEL || s->type == EIF_SECTION_CMDLINE ||
            s->type == EIF_SECTION_RAMDISK)
            h0 += s->size;
        if (s->type == EIF_SECTION_RAMDISK && i != e->ramdisk[0])
            h2 += s->size;
    }
    /* Balance: A = h0 + r*ca, B = h2 + r*(T - ca)  =>  ca = (h2 - h0 + r*T) / 2r. */
    uint64_t total_crc = e->size - 4;
    long double r = (long double)CRC_COST_NUM / CRC_COST_DEN;
    long double ca = ((long double)h2 - (long double)h0 + r * (long double)total_crc) / (2 * r);
    uint64_t split_q = ca <= 0 ? 0 : ca >= (long double)total_crc ? total_crc : (uint64_t)ca;
    uint64_t split = crc_pos_to_off(split_q);

    /* Cut the file into pieces at every boundary, then give each piece its ops. */
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
            if (s->type == EIF_SECTION_KERNEL || s->type == EIF_SECTION_CMDLINE ||
                s->type == EIF_SECTION_RAMDISK)
                oa |= OP_HASH;
            if (s->type == EIF_SECTION_RAMDISK && si != e->ramdisk[0])
                ob |= OP_HASH;
            if (s->type == EIF_SECTION_RAMDISK && si == e->ramdisk[0] && hi == data_end)
                oa |= OP_SNAP;
        }
        job_add(a, lo, hi, oa);
        job_add(b, lo, hi, ob);
    }
    /* An empty first ramdisk has no piece: snapshot where it ends. */
    const struct eif_section_info *r0 = &e->sec[e->ramdisk[0]];
    bool snapped = false;
    for (size_t i = 0; i < a->nseg; i++)
        snapped |= (a->segs[i].ops & OP_SNAP) != 0;
    if (!snapped) {
        /* PCR1 = PCR0's content up to the first ramdisk: every hashed
         * section before it (kernel, cmdline) precedes it in the file. */
        EVP_MD_CTX *t = EVP_MD_CTX_new();
        if (!t || !EVP_DigestInit_ex(t, EVP_sha384(), NULL)) {
            EVP_MD_CTX_free(t);
            rc = cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 init failed");
            goto out;
        }
        EVP_MD_CTX_free(a->snap);
        a->snap = t;
        struct job pre = { .e = e, .hash = t };
        for (size_t i = 0; i < e->nsec && e->sec[i].offset < r0->offset; i++) {
            const struct eif_section_info *s = &e->sec[i];
            if (s->type == EIF_SECTION_KERNEL || s->type == EIF_SECTION_CMDLINE ||
                s->type == EIF_SECTION_RAMDISK)
                job_add(&pre, s->offset + EIF_SECTION_HEADER_SIZE,
                        s->offset + EIF_SECTION_HEADER_SIZE + s->size, OP_HASH);
        }
        job_run(&pre);
        if ((rc = pre.rc) < 0) {
            *err = pre.err;
            goto out;
        }
    }

    if (h0 + h2 + total_crc >= PARALLEL_THRESHOLD && !e->buf) {
        pthread_t tb;
        if (pthread_create(&tb, NULL, job_run, b) != 0) {
            job_run(b);
        } else {
            job_run(a);
            pthread_join(tb, NULL);
            goto joined;
        }
        job_run(a);
    } else {
        job_run(a);
        job_run(b);
    }
joined:
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

/* --- open --- */

static int load_small_sections(struct eif *e, struct cl_error *err)
{
    int rc = 0;
    for (size_t i = 0; i < e->nsec; i++) {
        const struct eif_section_info *s = &e->sec[i];
        uint8_t *data = NULL;
        switch (s->type) {
        case EIF_SECTION_CMDLINE:
            if ((rc = read_small_section(e, s, &data, err)) < 0)
                return rc;
            e->cmdline = data;
            e->cmdline_len = (size_t)s->size;
            break;
        case EIF_SECTION_METADATA:
            if ((rc = read_small_section(e, s, &data, err)) < 0)
                return rc;
            e->metadata = (char *)data;
            if ((rc = check_metadata(e->metadata, (size_t)s->size, err)) < 0)
                return rc;
            break;
        case EIF_SECTION_SIGNATURE:
            if ((rc = read_small_section(e, s, &data, err)) < 0)
                return rc;
            rc = eif_sig_parse(data, (size_t)s->size, &e->cert_pem, &e->cert_pem_len, &e->cose,
                               &e->cose_len, err);
            free(data);
            if (rc < 0)
                return rc;
            if ((rc = eif_sig_load_cert((const uint8_t *)e->cert_pem, e->cert_pem_len, &e->cert,
                                        err)) < 0) {
                cl_error_prefix(err, "signature section");
                return rc;
            }
            if ((rc = eif_sig_pcr8(e->cert, e->m.pcr8, err)) < 0)
                return rc;
            e->m.has_pcr8 = true;
            e->signed_ = true;
            break;
        default:
            break;
        }
    }
    return 0;
}

static int open_common(struct eif *e, struct eif **out, struct cl_error *err)
{
    int rc;
    if ((rc = walk(e, err)) < 0 || (rc = load_small_sections(e, err)) < 0 ||
        (rc = measure(e, err)) < 0)
        goto fail;
    if (e->signed_) {
        struct cl_error serr = { 0 };
        e->sig_ok = eif_sig_verify(e->cert, e->cose, e->cose_len, e->m.pcr0, &serr) == 0;
        if (!e->sig_ok)
            snprintf(e->sig_reason, sizeof(e->sig_reason), "%s", serr.reason);
    }
    *out = e;
    return 0;
fail:
    eif_free(e);
    return rc;
}

int eif_open(const char *path, struct eif **out, struct cl_error *err)
{
    *out = NULL;
    struct eif *e = calloc(1, sizeof(*e));
    if (!e)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    e->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (e->fd < 0) {
        int rc = cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
                               "cannot open '%s'", path);
        free(e);
        return rc;
    }
    struct stat st;
    if (fstat(e->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int rc = S_ISDIR(st.st_mode) ? cl_fail(err, CL_EINVAL, "'%s' is a directory", path)
                 : cl_fail_errno(err, CL_EIO, "cannot stat '%s'", path);
        eif_free(e);
        return rc;
    }
    e->size = (uint64_t)st.st_size;
    posix_fadvise(e->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return open_common(e, out, err);
}

int eif_open_buffer(const uint8_t *buf, size_t len, struct eif **out, struct cl_error *err)
{
    *out = NULL;
    struct eif *e = calloc(1, sizeof(*e));
    if (!e)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    e->fd = -1;
    e->buf = buf ? buf : (const uint8_t *)"";
    e->size = len;
    return open_common(e, out, err);
}

void eif_free(struct eif *e)
{
    if (!e)
        return;
    if (e->fd >= 0)
        close(e->fd);
    free(e->cmdline);
    free(e->metadata);
    free(e->cert_pem);
    free(e->cose);
    X509_free(e->cert);
    free(e);
}

/* --- accessors --- */

const struct eif_header *eif_header_of(const struct eif *e) { return &e->hdr; }
const struct eif_measurements *eif_measurements(const struct eif *e) { return &e->m; }
bool eif_crc_ok(const struct eif *e) { return e->crc_computed == e->hdr.crc; }
uint32_t eif_crc_stored(const struct eif *e) { return e->hdr.crc; }
uint32_t eif_crc_computed(const struct eif *e) { return e->crc_computed; }
uint16_t eif_version(const struct eif *e) { return e->hdr.version; }
uint16_t eif_flags(const struct eif *e) { return e->hdr.flags; }
uint64_t eif_file_size(const struct eif *e) { return e->size; }
size_t eif_ramdisk_count(const struct eif *e) { return e->nramdisk; }
const char *eif_metadata_json(const struct eif *e) { return e->metadata; }
size_t eif_section_count(const struct eif *e) { return e->nsec; }
bool eif_is_signed(const struct eif *e) { return e->signed_; }
bool eif_signature_ok(const struct eif *e) { return e->signed_ && e->sig_ok; }

const uint8_t *eif_cmdline(const struct eif *e, size_t *len)
{
    *len = e->cmdline_len;
    return e->cmdline;
}

const struct eif_section_info *eif_section(const struct eif *e, size_t i)
{
    return i < e->nsec ? &e->sec[i] : NULL;
}

const char *eif_signing_cert_pem(const struct eif *e, size_t *len)
{
    if (len)
        *len = e->cert_pem_len;
    return e->cert_pem;
}

int eif_read_ramdisk(const struct eif *e, size_t i, uint8_t **data, size_t *len,
                     struct cl_error *err)
{
    *data = NULL;
    *len = 0;
    if (i >= e->nramdisk)
        return cl_fail(err, CL_EINVAL, "no ramdisk %zu (the EIF has %zu)", i, e->nramdisk);
    const struct eif_section_info *s = &e->sec[e->ramdisk[i]];
    if (s->size > SIZE_MAX - 1)
        return cl_fail(err, CL_ELIMIT, "ramdisk %zu is too large for memory", i);
    uint8_t *b = malloc(s->size ? (size_t)s->size : 1);
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory for ramdisk %zu (%llu bytes)", i,
                       (unsigned long long)s->size);
    int rc = eif_read_at(e, s->offset + EIF_SECTION_HEADER_SIZE, b, (size_t)s->size, NULL, err);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *data = b;
    *len = (size_t)s->size;
    return 0;
}

int eif_check_signature(const struct eif *e, time_t now, struct cl_error *err)
{
    if (!e->signed_)
        return 0;
    if (!e->sig_ok)
        return cl_fail(err, CL_ESIGNATURE, "the EIF signature does not verify: %s",
                       e->sig_reason[0] ? e->sig_reason : "unknown reason");
    if (X509_cmp_time(X509_get0_notBefore(e->cert), &now) > 0)
        return cl_fail(err, CL_EEXPIRED, "the signing certificate is not valid yet");
    if (X509_cmp_time(X509_get0_notAfter(e->cert), &now) < 0)
        return cl_fail(err, CL_EEXPIRED, "the signing certificate has expired");
    return 0;
}

/* --- pcr --- */

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
