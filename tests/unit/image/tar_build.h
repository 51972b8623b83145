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
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

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
    size_t len;    /* TAR_FILE: bytes of data; 0: strlen(data) */
    unsigned uid, gid;
    long long mtime; /* 0: 1234567 */
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
        archive_entry_set_mtime(ae, e[i].mtime ? (time_t)e[i].mtime : 1234567, 0);
        archive_entry_set_uid(ae, e[i].uid);
        archive_entry_set_gid(ae, e[i].gid);
        size_t len = e[i].kind != TAR_FILE ? 0 : e[i].len ? e[i].len : strlen(e[i].data);
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

/*
 * The files of an image (an OCI layout, a `docker save` tarball) kept in
 * memory, then written as a directory or as a tar file.
 */
#define FILES_MAX 32
struct tar_files {
    struct tar_entry e[FILES_MAX];
    char *name[FILES_MAX];
    char *data[FILES_MAX]; /* NUL-terminated copies */
    size_t n;
};

/* Adds a member; data of len bytes (len 0: a C string). */
static inline void files_add(struct tar_files *f, enum tar_kind kind, const char *name,
                             const void *data, size_t len)
{
    assert_true(f->n < FILES_MAX);
    len = len ? len : data ? strlen(data) : 0;
    char *copy = calloc(1, len + 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, data, len);
    f->name[f->n] = strdup(name);
    f->data[f->n] = copy;
    f->e[f->n] = (struct tar_entry){ kind, f->name[f->n], copy, 0, len };
    f->n++;
}

/* Adds data as blobs/sha256/<hex>; digest gets "sha256:<hex>". */
static inline void files_add_blob(struct tar_files *f, const void *data, size_t len,
                                  char digest[static 80])
{
    len = len ? len : strlen(data);
    uint8_t d[32];
    unsigned dl = 0;
    assert_int_equal(EVP_Digest(data, len, d, &dl, EVP_sha256(), NULL), 1);
    char name[96] = "blobs/sha256/";
    for (unsigned i = 0; i < dl; i++)
        snprintf(name + 13 + 2 * i, 3, "%02x", d[i]);
    memcpy(digest, "sha256:", 7);
    memcpy(digest + 7, name + 13, 65); /* 64 hex digits and the NUL */
    files_add(f, TAR_FILE, name, data, len);
}

static inline void files_write_tar(const struct tar_files *f, const char *path)
{
    static uint8_t buf[4 << 20];
    size_t len = tar_build(f->e, f->n, TAR_PLAIN, buf, sizeof(buf));
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Regular files and symlinks below dir, parents made as needed. */
static inline void files_write_dir(const struct tar_files *f, const char *dir)
{
    for (size_t i = 0; i < f->n; i++) {
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", dir, f->e[i].name);
        for (char *s = strchr(p + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
        if (f->e[i].kind == TAR_SYMLINK) {
            assert_int_equal(symlink(f->e[i].data, p), 0);
            continue;
        }
        assert_int_equal(f->e[i].kind, TAR_FILE);
        FILE *fp = fopen(p, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(f->e[i].data, 1, f->e[i].len, fp), f->e[i].len);
        assert_int_equal(fclose(fp), 0);
    }
}

static inline void files_free(struct tar_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->name[i]);
        free(f->data[i]);
    }
    f->n = 0;
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
