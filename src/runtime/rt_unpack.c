/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cloister/eif.h>

#include "rt_state.h"

static int64_t shift_id(int64_t id, uid_t base)
{
    if (id < 0 || id >= (int64_t)RT_UID_RANGE)
        id = 65534;
    return (int64_t)base + id;
}

/* Strips leading "/" and "./" from an archive path. */
static const char *relative(const char *name)
{
    while (name[0] == '/' || (name[0] == '.' && name[1] == '/'))
        name += name[0] == '/' ? 1 : 2;
    return name;
}

/*
 * Makes an entry safe to write under the enclave's root: relative names
 * (hard link targets too), no setuid/setgid bits (the sticky bit stays), owners
 * shifted into the enclave's uid range as numbers. 1: write it, 0: skip
 * it (the root itself, a device node or a socket), or a CL_E* code.
 */
static int sanitize(struct archive_entry *e, uid_t uid_base, struct cl_error *err)
{
    const char *name = archive_entry_pathname(e);
    if (!name)
        return cl_fail(err, CL_EFORMAT, "ramdisk: an entry has no name");
    name = relative(name);
    if (name[0] == '\0' || !strcmp(name, "."))
        return 0;  /* the root itself */
    char *copy = strdup(name);
    if (!copy)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    archive_entry_set_pathname(e, copy);
    free(copy);
    const char *hl = archive_entry_hardlink(e);
    if (hl) {
        char *hcopy = strdup(relative(hl));
        if (!hcopy)
            return cl_fail(err, CL_ENOMEM, "out of memory");
        archive_entry_set_hardlink(e, hcopy);
        free(hcopy);
    }
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK)
        return 0;
    archive_entry_set_perm(e, archive_entry_perm(e) & 01777);
    archive_entry_set_uid(e, shift_id(archive_entry_uid(e), uid_base));
    archive_entry_set_gid(e, shift_id(archive_entry_gid(e), uid_base));
    /* Owners are numeric: never look names up in the host's passwd. */
    archive_entry_set_uname(e, NULL);
    archive_entry_set_gname(e, NULL);
    return 1;
}

/* Writes one entry (header, data, finish) from reader a to disk writer w. */
static int write_entry(struct archive *a, struct archive *w, struct archive_entry *e,
                       struct cl_error *err)
{
    int r = archive_write_header(w, e);
    if (r < ARCHIVE_WARN)
        return cl_fail(err, CL_EFORMAT, "ramdisk entry '%s': %s", archive_entry_pathname(e),
                       archive_error_string(w));
    if (archive_entry_size(e) > 0) {
        const void *blk;
        size_t sz;
        la_int64_t off;
        while ((r = archive_read_data_block(a, &blk, &sz, &off)) != ARCHIVE_EOF) {
            if (r != ARCHIVE_OK)
                return cl_fail(err, CL_EFORMAT, "ramdisk: %s", archive_error_string(a));
            if (archive_write_data_block(w, blk, sz, off) != ARCHIVE_OK)
                return cl_fail(err, CL_EIO, "ramdisk entry '%s': %s", archive_entry_pathname(e),
                               archive_error_string(w));
        }
    }
    if (archive_write_finish_entry(w) < ARCHIVE_WARN)
        return cl_fail(err, CL_EIO, "ramdisk entry '%s': %s", archive_entry_pathname(e),
                       archive_error_string(w));
    return 0;
}

/* A ramdisk read from its EIF through one small buffer (libarchive's read
 * callback): a ramdisk is never held whole, and the buffer's pages are
 * touched once however large the image. */
#define STREAM_PIECE (64u << 10)

struct stream {
    const struct eif *eif;
    size_t index;
    uint64_t off;
    uint8_t *buf;
    struct cl_error err;  /* why a read failed */
};

static la_ssize_t stream_read(struct archive *a, void *data, const void **out)
{
    struct stream *s = data;
    size_t got = 0;
    if (eif_read_ramdisk_at(s->eif, s->index, s->off, s->buf, STREAM_PIECE, &got, &s->err) < 0) {
        archive_set_error(a, EIO, "%s", s->err.reason);
        return -1;
    }
    s->off += got;
    *out = s->buf;
    return (la_ssize_t)got;
}

/* Unpacks the opened reader a into dir. */
static int unpack(struct archive *a, const char *dir, uid_t uid_base, struct cl_error *err)
{
    int rc = 0;
    int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct archive *w = archive_write_disk_new();
    if (!w) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
                                          ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    if (chdir(dir) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot enter %s", dir);
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = cl_fail(err, CL_EFORMAT, "ramdisk: %s", archive_error_string(a));
            goto out;
        }
        if ((rc = sanitize(e, uid_base, err)) < 0)
            goto out;
        if (rc == 1 && (rc = write_entry(a, w, e, err)) < 0)
            goto out;
        rc = 0;
    }
    /* Directory modes and times are fixed up here. */
    if (archive_write_close(w) != ARCHIVE_OK) {
        rc = cl_fail(err, CL_EIO, "ramdisk: %s", archive_error_string(w));
        goto out;
    }
out:
    if (w)
        archive_write_free(w);
    if (cwd >= 0) {
        if (fchdir(cwd) < 0 && rc == 0)
            rc = cl_fail_errno(err, CL_EIO, "cannot return to the working directory");
        close(cwd);
    }
    return rc;
}

static struct archive *new_reader(void)
{
    struct archive *a = archive_read_new();
    if (a) {
        archive_read_support_format_cpio(a);
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_none(a);
    }
    return a;
}

int rt_unpack_cpio(const uint8_t *buf, size_t len, const char *dir, uid_t uid_base,
                   struct cl_error *err)
{
    struct archive *a = new_reader();
    if (!a)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = archive_read_open_memory(a, buf, len) != ARCHIVE_OK
                 ? cl_fail(err, CL_EFORMAT, "ramdisk: %s", archive_error_string(a))
                 : unpack(a, dir, uid_base, err);
    archive_read_free(a);
    return rc;
}

int rt_unpack_eif_ramdisk(const struct eif *eif, size_t index, const char *dir, uid_t uid_base,
                          struct cl_error *err)
{
    struct stream s = { .eif = eif, .index = index, .buf = malloc(STREAM_PIECE) };
    struct archive *a = new_reader();
    int rc;
    if (!a || !s.buf)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    else if (archive_read_open(a, &s, NULL, stream_read, NULL) != ARCHIVE_OK)
        rc = cl_fail(err, CL_EFORMAT, "ramdisk: %s", archive_error_string(a));
    else
        rc = unpack(a, dir, uid_base, err);
    if (a)
        archive_read_free(a);
    free(s.buf);
    return rc;
}
