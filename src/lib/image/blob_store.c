/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The blob store: the files of an image held in a directory (an OCI image
 * layout) or a tar file (an OCI archive, a `docker save` tarball), read by
 * name and streamed, never extracted. A name is looked up below the
 * directory or inside the archive only (a symlink or hard link between
 * members is followed only while it stays inside), and a blob named by a
 * digest is hashed as it streams and must match it (the OCI image spec's
 * content addressing: descriptor.md, "Digests").
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "base/hex.h"
#include "image/image_internal.h"
#include "image/image_layer.h"

#define BLOB_BUF        (128 * 1024)
#define MEMBER_MAX_HOPS 8

/* One blob being read: from its file (directory store) or its archive member. */
struct blob_reader {
    const struct blob_store *st;
    int fd;                  /* BLOB_STORE_DIR */
    struct archive *archive; /* BLOB_STORE_ARCHIVE: positioned at the member's data */
    EVP_MD_CTX *md;          /* NULL: no digest to check */
    uint8_t want[EVP_MAX_MD_SIZE];
    unsigned want_len;
    const char *name;
    struct cl_error *err; /* where a read error inside libarchive goes */
    int rc;
    uint8_t buf[BLOB_BUF];
};

/* Normalises a member name ("./a//b/" -> "a/b"); ".." resolved lexically
 * against base_dir, refusing to climb out of the archive. */
static int member_name(const char *base_dir, const char *rel, char *out, size_t cap)
{
    char tmp[IMAGE_PATH_MAX + 1];
    int w = snprintf(tmp, sizeof(tmp), "%s%s%s",
                     (base_dir && *base_dir && rel[0] != '/') ? base_dir : "",
                     (base_dir && *base_dir && rel[0] != '/') ? "/" : "", rel);
    if (w < 0 || (size_t)w >= sizeof(tmp))
        return -1;
    char *comps[IMAGE_PATH_MAX / 2 + 1];
    size_t n = 0;
    char *save = NULL;
    for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            if (n == 0)
                return -1;
            n--;
            continue;
        }
        comps[n++] = c;
    }
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        w = snprintf(out + len, cap - len, "%s%s", i ? "/" : "", comps[i]);
        if (w < 0 || (size_t)w >= cap - len)
            return -1;
        len += (size_t)w;
    }
    return n ? 0 : -1;
}

/* Checks a descriptor digest ("<alg>:<hex>"): its hash and expected bytes. */
static int digest_parse(const char *digest, const EVP_MD **md, uint8_t *want, unsigned *want_len,
                        struct cl_error *err)
{
    const char *colon = digest ? strchr(digest, ':') : NULL;
    if (!colon)
        return cl_fail(err, CL_EFORMAT, "bad digest '%s'", digest ? digest : "(none)");
    size_t alen = (size_t)(colon - digest);
    const char *hex = colon + 1;
    if (alen == 6 && !strncmp(digest, "sha256", 6))
        *md = EVP_sha256();
    else if (alen == 6 && !strncmp(digest, "sha512", 6))
        *md = EVP_sha512();
    else
        return cl_fail(err, CL_EUNSUPPORTED, "unsupported digest algorithm in '%s'", digest);
    size_t hl = strlen(hex);
    if (hl != (size_t)EVP_MD_get_size(*md) * 2)
        return cl_fail(err, CL_EFORMAT, "bad digest '%s'", digest);
    for (size_t i = 0; i < hl; i++)
        if (!isdigit((unsigned char)hex[i]) && !(hex[i] >= 'a' && hex[i] <= 'f'))
            return cl_fail(err, CL_EFORMAT, "bad digest '%s'", digest);
    size_t got = 0;
    if (hex_decode(want, EVP_MAX_MD_SIZE, &got, hex, err) < 0)
        return CL_EFORMAT;
    *want_len = (unsigned)got;
    return 0;
}

int blob_digest_path(const char *digest, char *path, size_t cap, struct cl_error *err)
{
    const EVP_MD *md;
    uint8_t want[EVP_MAX_MD_SIZE];
    unsigned want_len;
    int rc = digest_parse(digest, &md, want, &want_len, err);
    if (rc < 0)
        return rc;
    const char *colon = strchr(digest, ':');
    snprintf(path, cap, "blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1);
    return 0;
}

static void blob_reader_close(struct blob_reader *b)
{
    if (!b)
        return;
    if (b->fd >= 0)
        close(b->fd);
    if (b->archive)
        archive_read_free(b->archive);
    EVP_MD_CTX_free(b->md);
    free(b);
}

/* Finds member `name` in the archive, following member symlinks and hard
 * links (docker save links identical layers) within the archive. */
static int archive_seek_member(struct blob_reader *b, const char *name, struct cl_error *err)
{
    char cur[IMAGE_PATH_MAX + 1];
    if (member_name(NULL, name, cur, sizeof(cur)) < 0)
        return cl_fail(err, CL_EFORMAT, "bad member name '%s'", name);
    for (int hop = 0; hop <= MEMBER_MAX_HOPS; hop++) {
        if (b->archive)
            archive_read_free(b->archive);
        b->archive = image_tar_reader_new(false);
        if (!b->archive)
            return cl_fail(err, CL_ENOMEM, "out of memory");
        if (archive_read_open_filename(b->archive, b->st->path, 64 * 1024) != ARCHIVE_OK)
            return cl_fail(err, CL_EFORMAT, "'%s': %s", b->st->path,
                           archive_error_string(b->archive) ? archive_error_string(b->archive)
                                                            : "not a tar archive");
        for (;;) {
            struct archive_entry *e;
            int r = archive_read_next_header(b->archive, &e);
            if (r == ARCHIVE_EOF)
                return cl_fail(err, CL_ENOTFOUND, "'%s' is not in the archive", cur);
            if (r == ARCHIVE_RETRY)
                continue;
            if (r < ARCHIVE_WARN)
                return cl_fail(err, CL_EFORMAT, "'%s': %s", b->st->path,
                               archive_error_string(b->archive) ? archive_error_string(b->archive)
                                                                : "not a tar archive");
            const char *p = archive_entry_pathname(e);
            char norm[IMAGE_PATH_MAX + 1];
            if (!p || member_name(NULL, p, norm, sizeof(norm)) < 0 || strcmp(norm, cur))
                continue;
            const char *hl = archive_entry_hardlink(e);
            if (hl) {
                if (member_name(NULL, hl, cur, sizeof(cur)) < 0)
                    return cl_fail(err, CL_EFORMAT, "member '%s' links out of the archive", norm);
                break; /* rescan for the link's target */
            }
            if (archive_entry_filetype(e) == AE_IFLNK) {
                char dir[IMAGE_PATH_MAX + 1];
                snprintf(dir, sizeof(dir), "%s", norm);
                char *slash = strrchr(dir, '/');
                if (slash)
                    *slash = '\0';
                else
                    dir[0] = '\0';
                const char *t = archive_entry_symlink(e);
                if (!t || t[0] == '/' || member_name(dir, t, cur, sizeof(cur)) < 0)
                    return cl_fail(err, CL_EFORMAT, "member '%s' links out of the archive", norm);
                break;
            }
            if (archive_entry_filetype(e) != AE_IFREG)
                return cl_fail(err, CL_EFORMAT, "member '%s' is not a file", norm);
            return 0;
        }
    }
    return cl_fail(err, CL_EFORMAT, "member '%s': too many links", name);
}

/*
 * Opens a file named by an image's own metadata (manifest.json's Config and
 * Layers) below the image directory and nowhere else: an absolute name, a
 * ".." or a symbolic link that climbs out would otherwise read any host file
 * the builder can read into the EIF (security review, docs/security-review.md
 * S4). docker save links identical layers with relative symlinks inside the
 * directory, which RESOLVE_BENEATH still follows. EXDEV: outside.
 */
static int store_dir_open(int dirfd, const char *name)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS)
        return (int)fd;
    /* Kernels before 5.6: lexical check only (no symlink climbing check). */
    char norm[IMAGE_PATH_MAX + 1];
    if (name[0] == '/' || member_name(NULL, name, norm, sizeof(norm)) < 0) {
        errno = EXDEV;
        return -1;
    }
    return openat(dirfd, norm, O_RDONLY | O_CLOEXEC);
}

/* Opens blob `name` of the store; with digest, its bytes are checked. */
static int blob_reader_open(const struct blob_store *st, const char *name, const char *digest,
                            struct blob_reader **out, struct cl_error *err)
{
    *out = NULL;
    struct blob_reader *b = calloc(1, sizeof(*b));
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    b->st = st;
    b->fd = -1;
    b->name = name;
    int rc = 0;
    if (digest) {
        const EVP_MD *md;
        rc = digest_parse(digest, &md, b->want, &b->want_len, err);
        if (rc < 0)
            goto out;
        b->md = EVP_MD_CTX_new();
        if (!b->md || EVP_DigestInit_ex(b->md, md, NULL) != 1) {
            rc = cl_fail_openssl(err, CL_ECRYPTO, "digest");
            goto out;
        }
    }
    if (st->kind == BLOB_STORE_DIR) {
        b->fd = store_dir_open(st->dirfd, name);
        if (b->fd < 0 && errno == EXDEV) {
            rc = cl_fail(err, CL_EFORMAT, "'%s' is outside the image directory", name);
            goto out;
        }
        if (b->fd < 0) {
            rc = cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "cannot open '%s'",
                               name);
            goto out;
        }
        struct stat s;
        if (fstat(b->fd, &s) < 0 || !S_ISREG(s.st_mode)) {
            rc = cl_fail(err, CL_EFORMAT, "'%s' is not a regular file", name);
            goto out;
        }
    } else {
        rc = archive_seek_member(b, name, err);
    }
out:
    if (rc < 0)
        blob_reader_close(b);
    else
        *out = b;
    return rc;
}

static ssize_t blob_reader_read(struct blob_reader *b, void *buf, size_t len, struct cl_error *err)
{
    ssize_t n;
    if (b->st->kind == BLOB_STORE_DIR) {
        do
            n = read(b->fd, buf, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return cl_fail_errno(err, CL_EIO, "cannot read '%s'", b->name);
    } else {
        n = archive_read_data(b->archive, buf, len);
        if (n < 0)
            return cl_fail(err, CL_EFORMAT, "cannot read '%s': %s", b->name,
                           archive_error_string(b->archive) ? archive_error_string(b->archive)
                                                            : "?");
    }
    if (n > 0 && b->md && EVP_DigestUpdate(b->md, buf, (size_t)n) != 1)
        return cl_fail_openssl(err, CL_ECRYPTO, "digest");
    return n;
}

/* Reads what is left and checks the digest. */
static int blob_reader_finish(struct blob_reader *b, struct cl_error *err)
{
    for (;;) {
        ssize_t n = blob_reader_read(b, b->buf, sizeof(b->buf), err);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
    }
    if (!b->md)
        return 0;
    uint8_t got[EVP_MAX_MD_SIZE];
    unsigned glen = 0;
    if (EVP_DigestFinal_ex(b->md, got, &glen) != 1)
        return cl_fail_openssl(err, CL_ECRYPTO, "digest");
    if (glen != b->want_len || CRYPTO_memcmp(got, b->want, glen) != 0)
        return cl_fail(err, CL_ECHECKSUM, "'%s' does not match its digest", b->name);
    return 0;
}

int blob_store_read_json(const struct blob_store *st, const char *name, const char *digest,
                         json_t **out, char *sha256_hex, struct cl_error *err)
{
    *out = NULL;
    struct blob_reader *b = NULL;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = blob_reader_open(st, name, digest, &b, err);
    if (rc < 0)
        return rc;
    for (;;) {
        if (len == cap) {
            if (cap >= IMAGE_JSON_MAX) {
                rc = cl_fail(err, CL_ELIMIT, "'%s' is larger than %u bytes", name, IMAGE_JSON_MAX);
                goto out;
            }
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                rc = cl_fail(err, CL_ENOMEM, "out of memory");
                goto out;
            }
            buf = nb;
        }
        ssize_t n = blob_reader_read(b, buf + len, cap - len, err);
        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    rc = blob_reader_finish(b, err);
    if (rc < 0)
        goto out;
    if (sha256_hex) {
        uint8_t d[32];
        unsigned dl = 0;
        if (EVP_Digest(buf, len, d, &dl, EVP_sha256(), NULL) != 1) {
            rc = cl_fail_openssl(err, CL_ECRYPTO, "sha256");
            goto out;
        }
        hex_encode(sha256_hex, d, 32);
    }
    json_error_t je;
    *out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        rc = cl_fail(err, CL_EFORMAT, "'%s' is not JSON: %s (line %d)", name, je.text, je.line);
out:
    free(buf);
    blob_reader_close(b);
    return rc;
}

/* libarchive's read callback over a layer blob. */
static la_ssize_t layer_read_cb(struct archive *a, void *ctx, const void **buf)
{
    struct blob_reader *b = ctx;
    ssize_t n = blob_reader_read(b, b->buf, sizeof(b->buf), b->err);
    if (n < 0) {
        b->rc = (int)n;
        archive_set_error(a, EIO, "%s", b->err ? b->err->reason : "read failed");
        return -1;
    }
    *buf = b->buf;
    return n;
}

int blob_store_apply_layer(const struct blob_store *st, const char *name, const char *digest,
                           unsigned layer, struct image_tree *t, struct cl_error *err)
{
    struct blob_reader *b = NULL;
    int rc = blob_reader_open(st, name, digest, &b, err);
    if (rc < 0)
        return rc;
    b->err = err;
    struct archive *a = image_tar_reader_new(true);
    if (!a) {
        blob_reader_close(b);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    if (archive_read_open(a, b, NULL, layer_read_cb, NULL) != ARCHIVE_OK) {
        rc = b->rc < 0 ? b->rc
                       : cl_fail(err, CL_EFORMAT, "not a readable tar stream: %s",
                                 archive_error_string(a) ? archive_error_string(a) : "?");
    } else {
        rc = image_layer_apply(t, a, layer, err);
        if (rc < 0 && b->rc < 0)
            rc = b->rc;
    }
    archive_read_free(a);
    if (rc == 0)
        rc = blob_reader_finish(b, err); /* the tar's end may leave padding unread */
    if (rc < 0)
        cl_error_prefix(err, "layer %u ('%s')", layer, name);
    blob_reader_close(b);
    return rc;
}
