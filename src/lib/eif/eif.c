/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EIF reader: walk, validate, measure (docs/eif.md, "Reader").
 *
 * Like nitro-cli's EifReader::from_eif, sections are found by walking the
 * file sequentially from byte 548; unlike it, the header's section table
 * must agree with that walk (QEMU reads the table), so that every reader
 * sees the same image.
 *
 * Measuring (PCR0/1/2 and the CRC) is eif_measure.c's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/fileio.h"
#include "eif/eif_internal.h"


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

/* --- reading --- */

int eif_read_at(const struct eif *e, uint64_t off, void *buf, size_t len, const uint8_t **p,
                struct cl_error *err)
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

/* The file header: size, magic, version, section count. */
static int read_header(struct eif *e, struct cl_error *err)
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
    return 0;
}

/* The sections, walked from the end of the header to the end of the file. */
static int walk_sections(struct eif *e, struct cl_error *err)
{
    const struct eif_header *h = &e->hdr;
    int rc;
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
    return 0;
}

/* The header's table must describe exactly the walk (QEMU reads the table). */
static int check_table(const struct eif *e, struct cl_error *err)
{
    const struct eif_header *h = &e->hdr;
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
    return 0;
}

/* Which sections, how many (docs/eif.md, "Reader" step 4). */
static int check_sections(struct eif *e, struct cl_error *err)
{
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
    if (e->hdr.version >= 4 && !nmeta)
        return cl_fail(err, CL_EFORMAT, "no metadata section (mandatory in version 4)");
    return 0;
}

static int walk(struct eif *e, struct cl_error *err)
{
    int rc;
    if ((rc = read_header(e, err)) < 0 || (rc = walk_sections(e, err)) < 0 ||
        (rc = check_table(e, err)) < 0 || (rc = check_sections(e, err)) < 0)
        return rc;
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
        (rc = eif_measure(e, err)) < 0)
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

int eif_read_ramdisk_at(const struct eif *e, size_t i, uint64_t off, void *buf, size_t cap,
                        size_t *got, struct cl_error *err)
{
    *got = 0;
    if (i >= e->nramdisk)
        return cl_fail(err, CL_EINVAL, "no ramdisk %zu (the EIF has %zu)", i, e->nramdisk);
    const struct eif_section_info *s = &e->sec[e->ramdisk[i]];
    if (off > s->size)
        return cl_fail(err, CL_EINVAL, "offset %llu is past the end of ramdisk %zu",
                       (unsigned long long)off, i);
    size_t n = s->size - off < cap ? (size_t)(s->size - off) : cap;
    int rc = eif_read_at(e, s->offset + EIF_SECTION_HEADER_SIZE + off, buf, n, NULL, err);
    if (rc == 0)
        *got = n;
    return rc;
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

