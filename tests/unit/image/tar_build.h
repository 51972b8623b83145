/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tarballs for the image tests, made in memory with libarchive's writer
 * (pax, plain, gzip or zstd), and small file helpers. Header-only: each
 * test is its own executable. Every helper fails the running test on error.
 */
#ifndef CLOISTER_TEST_TAR_BUILD_H
#define CLOISTER_TEST_TAR_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "testlib/testlib.h"

enum tar_kind {
    TAR_FILE, /* data: the content */
    TAR_DIR,
    TAR_SYMLINK,  /* data: the target */
    TAR_HARDLINK, /* data: the target */
    TAR_CHR,
    TAR_BLK,
    TAR_FIFO,
};

struct tar_entry {
    enum tar_kind kind;
    const char *name;
    const char *data;
    unsigned mode; /* 0: 0644 */
};

enum tar_filter { TAR_PLAIN, TAR_GZIP, TAR_ZSTD };

/* The tar of n entries into buf[cap]; returns its length. */
static inline size_t tar_build(const struct tar_entry *e, size_t n, enum tar_filter filter,
                               uint8_t *buf, size_t cap)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    if (filter == TAR_GZIP)
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    else if (filter == TAR_ZSTD)
        assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    struct archive_entry *ae = archive_entry_new();
    for (size_t i = 0; i < n; i++) {
        static const unsigned type[] = {
            [TAR_FILE] = AE_IFREG,     [TAR_DIR] = AE_IFDIR, [TAR_SYMLINK] = AE_IFLNK,
            [TAR_HARDLINK] = AE_IFREG, [TAR_CHR] = AE_IFCHR, [TAR_BLK] = AE_IFBLK,
            [TAR_FIFO] = AE_IFIFO,
        };
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_filetype(ae, type[e[i].kind]);
        archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0644);
        archive_entry_set_mtime(ae, 1234567, 0);
        size_t len = e[i].kind == TAR_FILE ? strlen(e[i].data) : 0;
        archive_entry_set_size(ae, (la_int64_t)len);
        if (e[i].kind == TAR_SYMLINK)
            archive_entry_set_symlink(ae, e[i].data);
        if (e[i].kind == TAR_HARDLINK)
            archive_entry_set_hardlink(ae, e[i].data);
        if (e[i].kind == TAR_CHR || e[i].kind == TAR_BLK)
            archive_entry_set_rdev(ae, 0x0103);
        assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
        if (len)
            assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
    }
    archive_entry_free(ae);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return used;
}

/* Writes len bytes to path (replacing it). */
static inline void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

/* A new directory under $TMPDIR (or /tmp) named for the test; malloc'd. */
static inline char *temp_dir(const char *what)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *p = NULL;
    assert_true(asprintf(&p, "%s/cloister-%s.XXXXXX", tmp, what) > 0);
    assert_non_null(mkdtemp(p));
    return p;
}

/* rm -rf dir, and frees the string. */
static inline void remove_dir(char *dir)
{
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dir);
}

#endif
