/* SPDX-License-Identifier: Apache-2.0 */
#include "image/image.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <cloister/eif.h>

#include "base/fileio.h"
#include "base/hex.h"
#include "image/image_layer.h"

/* ------------------------------------------------------------------ */
/* struct image                                                        */

static void strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void image_free(struct image *img)
{
    if (!img)
        return;
    image_tree_free(img->tree);
    strv_free(img->cmd, img->ncmd);
    strv_free(img->env, img->nenv);
    json_decref(img->config);
    free(img->default_name);
    free(img->default_version);
    free(img);
}

static int image_new(const char *spool_dir, struct image **out, struct cl_error *err)
{
    struct image *img = calloc(1, sizeof(*img));
    if (!img)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = image_tree_new(spool_dir, &img->tree, err);
    if (rc < 0) {
        free(img);
        return rc;
    }
#if defined(__aarch64__)
    img->eif_flags = EIF_FLAG_ARCH_ARM64;
#endif
    *out = img;
    return 0;
}

/* A JSON array of strings -> a new string vector. */
static int strv_from_json(json_t *arr, const char *what, char ***out, size_t *n,
                          struct cl_error *err)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr))
        return cl_fail(err, CL_EFORMAT, "image config: %s is not an array of strings", what);
    size_t len = json_array_size(arr);
    char **v = calloc(len + 1, sizeof(*v));
    if (!v)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s)) {
            strv_free(v, i);
            return cl_fail(err, CL_EFORMAT, "image config: %s[%zu] is not a string", what, i);
        }
        v[i] = strdup(json_string_value(s));
        if (!v[i]) {
            strv_free(v, i);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
    }
    *out = v;
    *n = len;
    return 0;
}

int image_apply_config(struct image *img, json_t *config, struct cl_error *err)
{
    if (!json_is_object(config))
        return cl_fail(err, CL_EFORMAT, "image config is not a JSON object");
    /* nitro-cli: the image architecture sets the EIF's arch flag; amd64 is
     * 0, arm64 sets EIF_HDR_ARCH_ARM64, anything else is an error. */
    json_t *arch = json_object_get(config, "architecture");
    if (!arch)
        arch = json_object_get(config, "Architecture");
    if (arch) {
        const char *a = json_string_value(arch);
        if (a && (!strcmp(a, "amd64") || !strcmp(a, "x86_64")))
            img->eif_flags = 0;
        else if (a && (!strcmp(a, "arm64") || !strcmp(a, "aarch64")))
            img->eif_flags = EIF_FLAG_ARCH_ARM64;
        else
            return cl_fail(err, CL_EUNSUPPORTED,
                           "unsupported image architecture '%s' (amd64 or arm64)", a ? a : "?");
    }
    json_t *cfg = json_object_get(config, "config");
    if (!cfg)
        cfg = json_object_get(config, "Config");
    if (cfg && !json_is_null(cfg) && !json_is_object(cfg))
        return cl_fail(err, CL_EFORMAT, "image config: config is not an object");
    json_t *cmd = cfg ? json_object_get(cfg, "Cmd") : NULL;
    json_t *ep = cfg ? json_object_get(cfg, "Entrypoint") : NULL;
    json_t *env = cfg ? json_object_get(cfg, "Env") : NULL;
    int rc;
    /* research §7.2: Cmd if present, otherwise Entrypoint; never combined. */
    json_t *use = (cmd && !json_is_null(cmd)) ? cmd : (ep && !json_is_null(ep)) ? ep : NULL;
    strv_free(img->cmd, img->ncmd);
    img->cmd = NULL;
    img->ncmd = 0;
    img->has_cmd = false;
    if (use) {
        rc = strv_from_json(use, use == cmd ? "Cmd" : "Entrypoint", &img->cmd, &img->ncmd, err);
        if (rc < 0)
            return rc;
        img->has_cmd = img->ncmd > 0;
    }
    strv_free(img->env, img->nenv);
    img->env = NULL;
    img->nenv = 0;
    if (env && !json_is_null(env)) {
        rc = strv_from_json(env, "Env", &img->env, &img->nenv, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int image_set_cmd(struct image *img, const char *spec, struct cl_error *err)
{
    char **v = NULL;
    size_t n = 0;
    int rc = 0;
    while (isspace((unsigned char)*spec))
        spec++;
    if (*spec == '[') {
        json_error_t je;
        json_t *arr = json_loads(spec, JSON_REJECT_DUPLICATES, &je);
        if (!arr)
            return cl_fail(err, CL_EINVAL, "--cmd: not a JSON array: %s", je.text);
        rc = strv_from_json(arr, "--cmd", &v, &n, err);
        json_decref(arr);
        if (rc < 0) {
            cl_error_clear(err);
            return cl_fail(err, CL_EINVAL, "--cmd: the JSON array must hold strings only");
        }
    } else {
        char *copy = strdup(spec), *save = NULL;
        v = calloc(strlen(spec) / 2 + 2, sizeof(*v));
        if (!copy || !v) {
            free(copy);
            free(v);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
            if (!(v[n++] = strdup(t))) {
                free(copy);
                strv_free(v, n - 1);
                return cl_fail(err, CL_ENOMEM, "out of memory");
            }
        free(copy);
    }
    if (n == 0) {
        strv_free(v, n);
        return cl_fail(err, CL_EINVAL, "--cmd: empty command");
    }
    strv_free(img->cmd, img->ncmd);
    img->cmd = v;
    img->ncmd = n;
    img->has_cmd = true;
    return 0;
}

int image_set_env(struct image *img, const char *kv, struct cl_error *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return cl_fail(err, CL_EINVAL, "--env '%s': expected KEY=VALUE", kv);
    if (strchr(kv, '\n'))
        return cl_fail(err, CL_EINVAL, "--env '%s': contains a newline", kv);
    size_t klen = (size_t)(eq - kv);
    char *copy = strdup(kv);
    if (!copy)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    for (size_t i = 0; i < img->nenv; i++) {
        if (!strncmp(img->env[i], kv, klen) && img->env[i][klen] == '=') {
            free(img->env[i]);
            img->env[i] = copy;
            return 0;
        }
    }
    char **v = realloc(img->env, (img->nenv + 2) * sizeof(*v));
    if (!v) {
        free(copy);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    v[img->nenv++] = copy;
    v[img->nenv] = NULL;
    img->env = v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* --rootfs DIR                                                        */

struct link_map {              /* (dev, ino) -> content, for hard links */
    dev_t *dev;
    ino_t *ino;
    struct image_content **c;
    size_t n, cap;
};

static struct image_content *link_find(struct link_map *m, dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < m->n; i++) /* few files have nlink > 1 */
        if (m->dev[i] == dev && m->ino[i] == ino)
            return m->c[i];
    return NULL;
}

static int link_add(struct link_map *m, dev_t dev, ino_t ino, struct image_content *c)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        dev_t *d = realloc(m->dev, cap * sizeof(*d));
        if (d)
            m->dev = d;
        ino_t *i = realloc(m->ino, cap * sizeof(*i));
        if (i)
            m->ino = i;
        struct image_content **cc = realloc(m->c, cap * sizeof(*cc));
        if (cc)
            m->c = cc;
        if (!d || !i || !cc)
            return CL_ENOMEM;
        m->cap = cap;
    }
    m->dev[m->n] = dev;
    m->ino[m->n] = ino;
    m->c[m->n] = c;
    m->n++;
    return 0;
}

struct rootfs_walk {
    struct image *img;
    struct link_map links;
    char path[IMAGE_PATH_MAX + 1];
};

static int walk_dir(struct rootfs_walk *w, int dfd, struct image_node *dir, size_t plen,
                    struct cl_error *err)
{
    int rc = 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return cl_fail_errno(err, CL_EIO, "cannot read directory '%s'", plen ? w->path : ".");
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        size_t nlen = strlen(name);
        if (plen + 1 + nlen > IMAGE_PATH_MAX) {
            rc = cl_fail(err, CL_ELIMIT, "'%s/%s': path longer than %d bytes", w->path, name,
                         IMAGE_PATH_MAX);
            goto out;
        }
        size_t len = plen ? plen + 1 + nlen : nlen;
        if (plen)
            w->path[plen] = '/';
        memcpy(w->path + (plen ? plen + 1 : 0), name, nlen + 1);
        if (image_tree_count(w->img->tree) >= IMAGE_MAX_NODES) {
            rc = cl_fail(err, CL_ELIMIT, "'%s': more than %u files", w->path, IMAGE_MAX_NODES);
            goto out;
        }
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot stat '%s'", w->path);
            goto out;
        }
        uint32_t mode = st.st_mode & 07777;
        struct image_node *n = NULL;
        if (S_ISDIR(st.st_mode)) {
            n = image_node_put(w->img->tree, dir, name, IMAGE_DIR, mode, 0, err);
            if (!n) {
                rc = CL_ENOMEM;
                goto out;
            }
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                rc = cl_fail_errno(err, CL_EIO, "cannot open directory '%s'", w->path);
                goto out;
            }
            rc = walk_dir(w, sub, n, len, err);
            if (rc < 0)
                goto out;
        } else if (S_ISREG(st.st_mode)) {
            struct image_content *c = NULL;
            if (st.st_nlink > 1)
                c = link_find(&w->links, st.st_dev, st.st_ino);
            if (!c) {
                rc = image_content_new_host(w->path, true, (uint64_t)st.st_size, &c, err);
                if (rc < 0)
                    goto out;
                if (st.st_nlink > 1 && link_add(&w->links, st.st_dev, st.st_ino, c) < 0) {
                    image_content_discard(c);
                    rc = cl_fail(err, CL_ENOMEM, "out of memory");
                    goto out;
                }
            }
            n = image_node_put(w->img->tree, dir, name, IMAGE_REG, mode, 0, err);
            if (!n) {
                if (c->refs == 0 && st.st_nlink <= 1)
                    image_content_discard(c);
                rc = CL_ENOMEM;
                goto out;
            }
            image_node_set_content(n, c);
        } else if (S_ISLNK(st.st_mode)) {
            /* Stored, never followed: inside the enclave it resolves in its root. */
            char target[IMAGE_SYMLINK_MAX + 2];
            ssize_t tl = readlinkat(dirfd(d), name, target, sizeof(target));
            if (tl < 0) {
                rc = cl_fail_errno(err, CL_EIO, "cannot read symlink '%s'", w->path);
                goto out;
            }
            if (tl == 0 || (size_t)tl > IMAGE_SYMLINK_MAX) {
                rc = cl_fail(err, CL_ELIMIT, "'%s': symlink target empty or too long", w->path);
                goto out;
            }
            target[tl] = '\0';
            char *copy = strdup(target);
            n = copy ? image_node_put(w->img->tree, dir, name, IMAGE_SYMLINK, 0777, 0, err) : NULL;
            if (!n) {
                free(copy);
                rc = cl_fail(err, CL_ENOMEM, "out of memory");
                goto out;
            }
            n->symlink = copy;
        } else if (S_ISFIFO(st.st_mode)) {
            n = image_node_put(w->img->tree, dir, name, IMAGE_FIFO, mode, 0, err);
            if (!n) {
                rc = CL_ENOMEM;
                goto out;
            }
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            rc = cl_fail(err, CL_EPERM, "'%s': device node", w->path);
            goto out;
        } else {
            rc = cl_fail(err, CL_EUNSUPPORTED, "'%s': unsupported file type", w->path);
            goto out;
        }
        w->path[plen] = '\0';
        errno = 0;
    }
    if (errno) {
        rc = cl_fail_errno(err, CL_EIO, "cannot read directory '%s'", plen ? w->path : ".");
        goto out;
    }
out:
    closedir(d);
    return rc;
}

static char *base_name(const char *path, const char *strip_ext)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    size_t l = strlen(copy);
    while (l > 1 && copy[l - 1] == '/')
        copy[--l] = '\0';
    char *b = strdup(basename(copy));
    free(copy);
    if (b && strip_ext) {
        size_t bl = strlen(b), el = strlen(strip_ext);
        if (bl > el && !strcmp(b + bl - el, strip_ext))
            b[bl - el] = '\0';
    }
    return b;
}

int image_from_rootfs(const char *dir, struct image **out, struct cl_error *err)
{
    *out = NULL;
    struct image *img = NULL;
    int rc = image_new(NULL, &img, err);
    if (rc < 0)
        return rc;
    struct rootfs_walk *w = calloc(1, sizeof(*w));
    if (!w) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    w->img = img;
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        rc = cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
                           "cannot open the rootfs directory '%s'", dir);
        goto out;
    }
    int walkfd = dup(root);
    image_tree_set_host_root(img->tree, root);
    if (walkfd < 0) {
        rc = cl_fail_errno(err, CL_EIO, "dup");
        goto out;
    }
    rc = walk_dir(w, walkfd, image_tree_root(img->tree), 0, err);
    if (rc < 0) {
        cl_error_prefix(err, "rootfs '%s'", dir);
        goto out;
    }
    char *real = realpath(dir, NULL);
    img->default_name = base_name(real ? real : dir, NULL);
    free(real);
    img->default_version = strdup("1.0");
    if (!img->default_name || !img->default_version)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
out:
    if (w) {
        free(w->links.dev);
        free(w->links.ino);
        free(w->links.c);
        free(w);
    }
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Blob stores: a directory, or a tar file read member by member       */

enum store_kind { STORE_DIR, STORE_ARCHIVE };

struct store {
    enum store_kind kind;
    int dirfd;            /* STORE_DIR */
    const char *path;     /* STORE_ARCHIVE: the tar file */
};

#define BLOB_BUF (128 * 1024)
#define MEMBER_MAX_HOPS 8

struct blob {
    const struct store *st;
    int fd;
    struct archive *outer;
    EVP_MD_CTX *md;
    uint8_t want[EVP_MAX_MD_SIZE];
    unsigned want_len;
    const char *name;
    struct cl_error *err;   /* where a read error inside libarchive goes */
    int rc;
    uint8_t buf[BLOB_BUF];
};

static struct archive *outer_reader(void)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    return a;
}

/* Normalises a member name ("./a//b/" -> "a/b"); ".." resolved lexically
 * against base_dir, refusing to climb out of the archive. */
static int member_name(const char *base_dir, const char *rel, char *out, size_t cap)
{
    char tmp[IMAGE_PATH_MAX + 1];
    int w = snprintf(tmp, sizeof(tmp), "%s%s%s", (base_dir && *base_dir && rel[0] != '/') ? base_dir : "",
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

/* Checks a descriptor digest ("sha256:<hex>") and gives its blob path. */
static int digest_parse(const char *digest, const EVP_MD **md, uint8_t *want, unsigned *want_len,
                        char *path, size_t cap, struct cl_error *err)
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
    if (path)
        snprintf(path, cap, "blobs/%.*s/%s", (int)alen, digest, hex);
    return 0;
}

static void blob_close(struct blob *b)
{
    if (!b)
        return;
    if (b->fd >= 0)
        close(b->fd);
    if (b->outer)
        archive_read_free(b->outer);
    EVP_MD_CTX_free(b->md);
    free(b);
}

/* Finds member `name` in the archive, following member symlinks and hard
 * links (docker save links identical layers) within the archive. */
static int archive_seek_member(struct blob *b, const char *name, struct cl_error *err)
{
    char cur[IMAGE_PATH_MAX + 1];
    if (member_name(NULL, name, cur, sizeof(cur)) < 0)
        return cl_fail(err, CL_EFORMAT, "bad member name '%s'", name);
    for (int hop = 0; hop <= MEMBER_MAX_HOPS; hop++) {
        if (b->outer)
            archive_read_free(b->outer);
        b->outer = outer_reader();
        if (!b->outer)
            return cl_fail(err, CL_ENOMEM, "out of memory");
        if (archive_read_open_filename(b->outer, b->st->path, 64 * 1024) != ARCHIVE_OK)
            return cl_fail(err, CL_EFORMAT, "'%s': %s", b->st->path,
                           archive_error_string(b->outer) ? archive_error_string(b->outer)
                                                          : "not a tar archive");
        for (;;) {
            struct archive_entry *e;
            int r = archive_read_next_header(b->outer, &e);
            if (r == ARCHIVE_EOF)
                return cl_fail(err, CL_ENOTFOUND, "'%s' is not in the archive", cur);
            if (r == ARCHIVE_RETRY)
                continue;
            if (r < ARCHIVE_WARN)
                return cl_fail(err, CL_EFORMAT, "'%s': %s", b->st->path,
                               archive_error_string(b->outer) ? archive_error_string(b->outer)
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
static int blob_open(const struct store *st, const char *name, const char *digest,
                     struct blob **out, struct cl_error *err)
{
    *out = NULL;
    struct blob *b = calloc(1, sizeof(*b));
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    b->st = st;
    b->fd = -1;
    b->name = name;
    int rc = 0;
    if (digest) {
        const EVP_MD *md;
        rc = digest_parse(digest, &md, b->want, &b->want_len, NULL, 0, err);
        if (rc < 0)
            goto out;
        b->md = EVP_MD_CTX_new();
        if (!b->md || EVP_DigestInit_ex(b->md, md, NULL) != 1) {
            rc = cl_fail_openssl(err, CL_ECRYPTO, "digest");
            goto out;
        }
    }
    if (st->kind == STORE_DIR) {
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
        blob_close(b);
    else
        *out = b;
    return rc;
}

static ssize_t blob_read(struct blob *b, void *buf, size_t len, struct cl_error *err)
{
    ssize_t n;
    if (b->st->kind == STORE_DIR) {
        do
            n = read(b->fd, buf, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return cl_fail_errno(err, CL_EIO, "cannot read '%s'", b->name);
    } else {
        n = archive_read_data(b->outer, buf, len);
        if (n < 0)
            return cl_fail(err, CL_EFORMAT, "cannot read '%s': %s", b->name,
                           archive_error_string(b->outer) ? archive_error_string(b->outer) : "?");
    }
    if (n > 0 && b->md && EVP_DigestUpdate(b->md, buf, (size_t)n) != 1)
        return cl_fail_openssl(err, CL_ECRYPTO, "digest");
    return n;
}

/* Reads what is left and checks the digest. */
static int blob_finish(struct blob *b, struct cl_error *err)
{
    for (;;) {
        ssize_t n = blob_read(b, b->buf, sizeof(b->buf), err);
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

static int blob_read_json(const struct store *st, const char *name, const char *digest,
                          json_t **out, char *sha256_hex, struct cl_error *err)
{
    *out = NULL;
    struct blob *b = NULL;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = blob_open(st, name, digest, &b, err);
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
        ssize_t n = blob_read(b, buf + len, cap - len, err);
        if (n < 0) {
            rc = (int)n;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    rc = blob_finish(b, err);
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
    blob_close(b);
    return rc;
}

/* libarchive client callbacks reading a layer blob. */
static la_ssize_t layer_read_cb(struct archive *a, void *ctx, const void **buf)
{
    struct blob *b = ctx;
    ssize_t n = blob_read(b, b->buf, sizeof(b->buf), b->err);
    if (n < 0) {
        b->rc = (int)n;
        archive_set_error(a, EIO, "%s", b->err ? b->err->reason : "read failed");
        return -1;
    }
    *buf = b->buf;
    return n;
}

static int apply_layer_blob(struct image *img, const struct store *st, const char *name,
                            const char *digest, unsigned layer, struct cl_error *err)
{
    struct blob *b = NULL;
    int rc = blob_open(st, name, digest, &b, err);
    if (rc < 0)
        return rc;
    b->err = err;
    struct archive *a = image_layer_reader_new();
    if (!a) {
        blob_close(b);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    if (archive_read_open(a, b, NULL, layer_read_cb, NULL) != ARCHIVE_OK) {
        rc = b->rc < 0 ? b->rc
                       : cl_fail(err, CL_EFORMAT, "not a readable tar stream: %s",
                                 archive_error_string(a) ? archive_error_string(a) : "?");
    } else {
        rc = image_layer_apply(img->tree, a, layer, err);
        if (rc < 0 && b->rc < 0)
            rc = b->rc;
    }
    archive_read_free(a);
    if (rc == 0)
        rc = blob_finish(b, err); /* the tar's end may leave padding unread */
    if (rc < 0)
        cl_error_prefix(err, "layer %u ('%s')", layer, name);
    blob_close(b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* OCI image layout (image-spec image-layout.md, image-index.md,       */
/* manifest.md)                                                        */

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define REF_NAME "org.opencontainers.image.ref.name"

static const char *host_goarch(void)
{
#if defined(__aarch64__)
    return "arm64";
#else
    return "amd64";
#endif
}

/* Picks a manifest descriptor from an index: by tag, else the only one,
 * else (platform lists) the one for this host. */
static int pick_manifest(json_t *index, const char *tag, bool nested, json_t **out,
                         struct cl_error *err)
{
    json_t *m = json_object_get(index, "manifests");
    if (!json_is_array(m) || json_array_size(m) == 0)
        return cl_fail(err, CL_EFORMAT, "index.json has no manifests");
    size_t n = json_array_size(m);
    if (tag && !nested) {
        for (size_t i = 0; i < n; i++) {
            json_t *ann = json_object_get(json_array_get(m, i), "annotations");
            const char *rn = json_string_value(json_object_get(ann, REF_NAME));
            if (rn && !strcmp(rn, tag)) {
                *out = json_array_get(m, i);
                return 0;
            }
        }
        return cl_fail(err, CL_ENOTFOUND, "no image tagged '%s' in the index", tag);
    }
    if (n == 1) {
        *out = json_array_get(m, 0);
        return 0;
    }
    if (nested) {
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_object_get(json_array_get(m, i), "platform");
            const char *arch = json_string_value(json_object_get(p, "architecture"));
            const char *os = json_string_value(json_object_get(p, "os"));
            if (arch && !strcmp(arch, host_goarch()) && (!os || !strcmp(os, "linux"))) {
                *out = json_array_get(m, i);
                return 0;
            }
        }
        return cl_fail(err, CL_ENOTFOUND, "no linux/%s image in the index", host_goarch());
    }
    return cl_fail(err, CL_EINVAL, "the index holds %zu images; name one as PATH:TAG", n);
}

static bool layer_media_ok(const char *mt)
{
    static const char *const ok[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    };
    if (!mt)
        return false;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!strcmp(mt, ok[i]))
            return true;
    return false;
}

static int set_defaults(struct image *img, const char *name, const char *config_digest,
                        struct cl_error *err)
{
    const char *colon = config_digest ? strchr(config_digest, ':') : NULL;
    img->default_name = strdup(name);
    img->default_version = strdup(colon ? colon + 1 : (config_digest ? config_digest : "1.0"));
    if (!img->default_name || !img->default_version)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return 0;
}

static int load_oci(struct image *img, const struct store *st, const char *tag,
                    const char *label, const char *default_name, struct cl_error *err)
{
    json_t *layout = NULL, *index = NULL, *manifest = NULL, *config = NULL;
    int rc = blob_read_json(st, "oci-layout", NULL, &layout, NULL, err);
    if (rc < 0) {
        cl_error_clear(err);
        rc = cl_fail(err, CL_EFORMAT, "'%s' is not an OCI image layout (no oci-layout file)",
                     label);
        goto out;
    }
    const char *ver = json_string_value(json_object_get(layout, "imageLayoutVersion"));
    if (!ver || strncmp(ver, "1.", 2)) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "'%s': unsupported imageLayoutVersion", label);
        goto out;
    }
    rc = blob_read_json(st, "index.json", NULL, &index, NULL, err);
    if (rc < 0)
        goto out;
    json_t *desc = NULL;
    rc = pick_manifest(index, tag, false, &desc, err);
    char path[512];
    for (int depth = 0; rc == 0; depth++) {
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        const char *dg = json_string_value(json_object_get(desc, "digest"));
        const EVP_MD *md;
        uint8_t w[EVP_MAX_MD_SIZE];
        unsigned wl;
        rc = digest_parse(dg, &md, w, &wl, path, sizeof(path), err);
        if (rc < 0)
            break;
        json_t *doc = NULL;
        rc = blob_read_json(st, path, dg, &doc, NULL, err);
        if (rc < 0)
            break;
        if (mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST))) {
            json_decref(index);
            index = doc;
            if (depth >= 4) {
                rc = cl_fail(err, CL_ELIMIT, "'%s': indexes nested too deep", label);
                break;
            }
            rc = pick_manifest(index, NULL, true, &desc, err);
            continue;
        }
        manifest = doc;
        break;
    }
    if (rc < 0)
        goto out;
    json_t *cdesc = json_object_get(manifest, "config");
    const char *cdg = json_string_value(json_object_get(cdesc, "digest"));
    const EVP_MD *md;
    uint8_t w[EVP_MAX_MD_SIZE];
    unsigned wl;
    rc = digest_parse(cdg, &md, w, &wl, path, sizeof(path), err);
    if (rc < 0) {
        cl_error_prefix(err, "manifest config");
        goto out;
    }
    rc = blob_read_json(st, path, cdg, &config, NULL, err);
    if (rc == 0)
        rc = image_apply_config(img, config, err);
    if (rc < 0)
        goto out;
    json_t *layers = json_object_get(manifest, "layers");
    if (!json_is_array(layers)) {
        rc = cl_fail(err, CL_EFORMAT, "'%s': the manifest has no layers array", label);
        goto out;
    }
    if (json_array_size(layers) > IMAGE_MAX_LAYERS) {
        rc = cl_fail(err, CL_ELIMIT, "'%s': more than %d layers", label, IMAGE_MAX_LAYERS);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        const char *dg = json_string_value(json_object_get(l, "digest"));
        if (!layer_media_ok(mt)) {
            rc = cl_fail(err, CL_EUNSUPPORTED, "layer %zu: unsupported media type '%s'", i + 1,
                         mt ? mt : "(none)");
            goto out;
        }
        rc = digest_parse(dg, &md, w, &wl, path, sizeof(path), err);
        if (rc == 0)
            rc = apply_layer_blob(img, st, path, dg, (unsigned)i + 1, err);
        if (rc < 0)
            goto out;
    }
    img->config = json_incref(config);
    rc = set_defaults(img, default_name, cdg, err);
out:
    if (rc < 0)
        cl_error_prefix(err, "%s", label);
    json_decref(layout);
    json_decref(index);
    json_decref(manifest);
    json_decref(config);
    return rc;
}

/* "PATH:TAG" when PATH alone does not exist. *path and *tag malloc'd. */
static int split_ref(const char *ref, char **path, char **tag, struct cl_error *err)
{
    *tag = NULL;
    struct stat st;
    const char *colon = strrchr(ref, ':');
    if (stat(ref, &st) == 0 || !colon || strchr(colon, '/')) {
        *path = strdup(ref);
    } else {
        *path = strndup(ref, (size_t)(colon - ref));
        *tag = strdup(colon + 1);
        if (!*tag) {
            free(*path);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
    }
    if (!*path) {
        free(*tag);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    return 0;
}

/* split_ref() for the archive inputs, whose PATH must be a regular file. */
static int split_archive_ref(const char *ref, char **path, char **tag, struct cl_error *err)
{
    int rc = split_ref(ref, path, tag, err);
    if (rc < 0)
        return rc;
    struct stat sb;
    if (stat(*path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        rc = cl_fail(err, CL_ENOTFOUND, "'%s' is not a file", *path);
        free(*path);
        free(*tag);
        *path = *tag = NULL;
    }
    return rc;
}

int image_from_oci_layout(const char *ref, const char *spool_dir, struct image **out,
                          struct cl_error *err)
{
    *out = NULL;
    char *path = NULL, *tag = NULL;
    struct image *img = NULL;
    int rc = split_ref(ref, &path, &tag, err);
    if (rc < 0)
        return rc;
    struct store st = {.kind = STORE_DIR, .dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (st.dirfd < 0) {
        rc = cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
                           "cannot open the OCI layout '%s'", path);
        goto out;
    }
    rc = image_new(spool_dir, &img, err);
    if (rc < 0)
        goto out;
    char *real = realpath(path, NULL);
    char *name = base_name(real ? real : path, NULL);
    free(real);
    if (!name) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    char label[PATH_MAX + 32];
    snprintf(label, sizeof(label), "OCI layout '%s'", path);
    rc = load_oci(img, &st, tag, label, name, err);
    free(name);
out:
    if (st.dirfd >= 0)
        close(st.dirfd);
    free(path);
    free(tag);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}

int image_from_oci_archive(const char *ref, const char *spool_dir, struct image **out,
                           struct cl_error *err)
{
    *out = NULL;
    char *path = NULL, *tag = NULL;
    struct image *img = NULL;
    int rc = split_archive_ref(ref, &path, &tag, err);
    if (rc < 0)
        return rc;
    struct store st = {.kind = STORE_ARCHIVE, .path = path, .dirfd = -1};
    rc = image_new(spool_dir, &img, err);
    if (rc < 0)
        goto out;
    char *name = base_name(path, ".tar");
    if (!name) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    char label[PATH_MAX + 32];
    snprintf(label, sizeof(label), "OCI archive '%s'", path);
    rc = load_oci(img, &st, tag, label, name, err);
    free(name);
out:
    free(path);
    free(tag);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}

/* ------------------------------------------------------------------ */
/* docker save (moby image/tarexport: manifest.json)                   */

/* nitro-cli's default ImageName: the reference up to its first ':'. */
static char *name_before_colon(const char *ref)
{
    const char *c = strchr(ref, ':');
    return c ? strndup(ref, (size_t)(c - ref)) : strdup(ref);
}

static int load_docker_archive(struct image *img, const char *path, const char *tag,
                               struct cl_error *err)
{
    struct store st = {.kind = STORE_ARCHIVE, .path = path, .dirfd = -1};
    json_t *manifest = NULL, *config = NULL;
    char *name = NULL;
    int rc = blob_read_json(&st, "manifest.json", NULL, &manifest, NULL, err);
    if (rc < 0) {
        if (rc == CL_ENOTFOUND) {
            cl_error_clear(err);
            rc = cl_fail(err, CL_EFORMAT, "not a docker save archive (no manifest.json)");
        }
        goto out;
    }
    if (!json_is_array(manifest) || json_array_size(manifest) == 0) {
        rc = cl_fail(err, CL_EFORMAT, "manifest.json is not a non-empty array");
        goto out;
    }
    json_t *entry = NULL;
    size_t n = json_array_size(manifest);
    if (tag) {
        for (size_t i = 0; i < n && !entry; i++) {
            json_t *tags = json_object_get(json_array_get(manifest, i), "RepoTags");
            for (size_t j = 0; j < json_array_size(tags); j++) {
                const char *t = json_string_value(json_array_get(tags, j));
                const char *c = t ? strrchr(t, ':') : NULL;
                if (t && (!strcmp(t, tag) || (c && !strcmp(c + 1, tag))))
                    entry = json_array_get(manifest, i);
            }
        }
        if (!entry) {
            rc = cl_fail(err, CL_ENOTFOUND, "no image tagged '%s' in manifest.json", tag);
            goto out;
        }
    } else if (n == 1) {
        entry = json_array_get(manifest, 0);
    } else {
        rc = cl_fail(err, CL_EINVAL, "the archive holds %zu images; name one as FILE:TAG", n);
        goto out;
    }
    const char *cfg = json_string_value(json_object_get(entry, "Config"));
    json_t *layers = json_object_get(entry, "Layers");
    if (!cfg || !json_is_array(layers)) {
        rc = cl_fail(err, CL_EFORMAT, "manifest.json: an entry needs Config and Layers");
        goto out;
    }
    if (json_array_size(layers) > IMAGE_MAX_LAYERS) {
        rc = cl_fail(err, CL_ELIMIT, "more than %d layers", IMAGE_MAX_LAYERS);
        goto out;
    }
    /* The image ID is the config's sha256 ("<hex>.json" before Docker 25,
     * "blobs/sha256/<hex>" since): check it where the name carries it. */
    char cdigest[80] = "";
    const char *cb = strrchr(cfg, '/') ? strrchr(cfg, '/') + 1 : cfg;
    size_t cbl = strlen(cb);
    if ((cbl == 64 && strstr(cfg, "sha256/")) || (cbl == 69 && !strcmp(cb + 64, ".json")))
        snprintf(cdigest, sizeof(cdigest), "sha256:%.64s", cb);
    char id[65];
    rc = blob_read_json(&st, cfg, cdigest[0] ? cdigest : NULL, &config, id, err);
    if (rc == 0)
        rc = image_apply_config(img, config, err);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < json_array_size(layers); i++) {
        const char *l = json_string_value(json_array_get(layers, i));
        if (!l) {
            rc = cl_fail(err, CL_EFORMAT, "manifest.json: Layers[%zu] is not a string", i);
            goto out;
        }
        char ldigest[80] = "";
        const char *lb = strrchr(l, '/') ? strrchr(l, '/') + 1 : l;
        if (strlen(lb) == 64 && strstr(l, "blobs/sha256/"))
            snprintf(ldigest, sizeof(ldigest), "sha256:%.64s", lb);
        rc = apply_layer_blob(img, &st, l, ldigest[0] ? ldigest : NULL, (unsigned)i + 1, err);
        if (rc < 0)
            goto out;
    }
    json_t *tags = json_object_get(entry, "RepoTags");
    const char *t0 = json_string_value(json_array_get(tags, 0));
    if (tag && t0) {
        for (size_t j = 0; j < json_array_size(tags); j++) {
            const char *t = json_string_value(json_array_get(tags, j));
            const char *c = t ? strrchr(t, ':') : NULL;
            if (t && (!strcmp(t, tag) || (c && !strcmp(c + 1, tag))))
                t0 = t;
        }
    }
    name = t0 ? name_before_colon(t0) : base_name(path, ".tar");
    if (!name) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    img->config = json_incref(config);
    /* ImageVersion: the image ID, which is the config's sha256. */
    rc = set_defaults(img, name, id, err);
out:
    free(name);
    json_decref(manifest);
    json_decref(config);
    return rc;
}

int image_from_docker_archive(const char *ref, const char *spool_dir, struct image **out,
                              struct cl_error *err)
{
    *out = NULL;
    char *path = NULL, *tag = NULL;
    struct image *img = NULL;
    int rc = split_archive_ref(ref, &path, &tag, err);
    if (rc < 0)
        return rc;
    rc = image_new(spool_dir, &img, err);
    if (rc == 0)
        rc = load_docker_archive(img, path, tag, err);
    if (rc < 0)
        cl_error_prefix(err, "docker archive '%s'", path);
    free(path);
    free(tag);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}

/* ------------------------------------------------------------------ */
/* --docker-uri: through a local Docker daemon's API, when one is       */
/* reachable (Docker Engine API: /images/{name}/json, /images/create,  */
/* /images/{name}/get, which answers a `docker save` tarball)          */

#define DAEMON_HINT                                                                        \
    "build without one from --docker-archive FILE (a `docker save` tarball), --oci-layout " \
    "DIR, --oci-archive FILE or --rootfs DIR"

struct membuf {
    char *data;
    size_t len;
    int fd; /* >= 0: write there instead */
    bool failed;
};

static size_t curl_sink(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    struct membuf *m = ctx;
    size_t n = size * nmemb;
    if (m->fd >= 0) {
        if (fd_write_all(m->fd, ptr, n, NULL) < 0) {
            m->failed = true;
            return 0;
        }
        return n;
    }
    if (m->len + n > IMAGE_JSON_MAX) {
        m->failed = true;
        return 0;
    }
    char *nd = realloc(m->data, m->len + n + 1);
    if (!nd) {
        m->failed = true;
        return 0;
    }
    memcpy(nd + m->len, ptr, n);
    m->len += n;
    nd[m->len] = '\0';
    m->data = nd;
    return n;
}

static int daemon_call(const char *sock, const char *method, const char *path, struct membuf *m,
                       long *status, struct cl_error *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    char url[1024];
    snprintf(url, sizeof(url), "http://localhost%s", path);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK || m->failed)
        return cl_fail(err, CL_EIO, "Docker daemon at %s: %s %s: %s", sock, method, path,
                       m->failed ? "cannot store the answer" : curl_easy_strerror(cc));
    return 0;
}

int image_from_docker_daemon(const char *uri, const char *socket_path, const char *spool_dir,
                             struct image **out, struct cl_error *err)
{
    *out = NULL;
    const char *sock = socket_path;
    const char *dh = getenv("DOCKER_HOST");
    if (!sock && dh && !strncmp(dh, "unix://", 7))
        sock = dh + 7;
    if (!sock)
        sock = "/var/run/docker.sock";
    for (const char *p = uri; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._/:@-", *p))
            return cl_fail(err, CL_EINVAL, "invalid Docker image reference '%s'", uri);
    if (!*uri)
        return cl_fail(err, CL_EINVAL, "empty Docker image reference");

    /* Is anyone there? A plain connect, so the error names the socket. */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (s < 0 || strlen(sock) >= sizeof(sa.sun_path)) {
        if (s >= 0)
            close(s);
        return cl_fail(err, CL_ENOTFOUND, "no Docker daemon is reachable at %s; " DAEMON_HINT,
                       sock);
    }
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(s);
        return cl_fail(err, CL_ENOTFOUND, "no Docker daemon is reachable at %s (%s); " DAEMON_HINT,
                       sock, strerror(e));
    }
    close(s);

    int rc = 0, fd = -1;
    struct image *img = NULL;
    struct membuf m = {.fd = -1};
    json_t *inspect = NULL;
    char path[1024];
    long status = 0;
    bool pulled = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        free(m.data);
        m = (struct membuf){.fd = -1};
        snprintf(path, sizeof(path), "/images/%s/json", uri);
        rc = daemon_call(sock, "GET", path, &m, &status, err);
        if (rc < 0)
            goto out;
        if (status == 200)
            break;
        if (status != 404 || attempt) {
            rc = cl_fail(err, CL_EIO, "Docker daemon: inspecting '%s' answered %ld", uri, status);
            goto out;
        }
        /* Not local: pull it (as nitro-cli does). */
        free(m.data);
        m = (struct membuf){.fd = -1};
        snprintf(path, sizeof(path), "/images/create?fromImage=%s", uri);
        rc = daemon_call(sock, "POST", path, &m, &status, err);
        if (rc < 0)
            goto out;
        if (status != 200 || (m.data && strstr(m.data, "\"error\""))) {
            rc = cl_fail(err, CL_EIO, "Docker daemon: pulling '%s' failed: %.300s", uri,
                         m.data ? m.data : "");
            goto out;
        }
        pulled = true;
    }
    json_error_t je;
    inspect = json_loadb(m.data ? m.data : "", m.len, JSON_REJECT_DUPLICATES, &je);
    const char *id = json_string_value(json_object_get(inspect, "Id"));
    if (!inspect || !id) {
        rc = cl_fail(err, CL_EFORMAT, "Docker daemon: inspecting '%s' gave no image Id", uri);
        goto out;
    }
    /* The image as a `docker save` tarball, to an unlinked spool file. */
    char tmpl[PATH_MAX];
    const char *dir = spool_dir ? spool_dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(tmpl, sizeof(tmpl), "%s/cloister-docker.XXXXXX", dir);
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot create a temporary file in '%s'", dir);
        goto out;
    }
    unlink(tmpl);
    free(m.data);
    m = (struct membuf){.fd = fd};
    snprintf(path, sizeof(path), "/images/%s/get", uri);
    rc = daemon_call(sock, "GET", path, &m, &status, err);
    if (rc == 0 && status != 200)
        rc = cl_fail(err, CL_EIO, "Docker daemon: exporting '%s' answered %ld", uri, status);
    if (rc < 0)
        goto out;
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    rc = image_from_docker_archive(fdpath, spool_dir, &img, err);
    if (rc < 0)
        goto out;
    /* nitro-cli: DockerInfo is `docker image inspect`; ImageName the URI
     * before its first ':'; ImageVersion the Id without "sha256:". */
    json_decref(img->config);
    img->config = json_incref(inspect);
    free(img->default_name);
    free(img->default_version);
    img->default_name = name_before_colon(uri);
    img->default_version = strdup(!strncmp(id, "sha256:", 7) ? id + 7 : id);
    img->pulled = pulled;
    if (!img->default_name || !img->default_version)
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
out:
    if (fd >= 0)
        close(fd);
    free(m.data);
    json_decref(inspect);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}

/* ------------------------------------------------------------------ */
/* metadata                                                            */

int image_rfc3339(int64_t t, char out[static 40], struct cl_error *err)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return cl_fail(err, CL_EINVAL, "build time %lld is out of range", (long long)t);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    return 0;
}

static int append(char **buf, size_t *len, const char *s)
{
    size_t l = strlen(s);
    char *nb = realloc(*buf, *len + l + 1);
    if (!nb)
        return CL_ENOMEM;
    memcpy(nb + *len, s, l + 1);
    *buf = nb;
    *len += l;
    return 0;
}

static int append_json(char **buf, size_t *len, json_t *v, size_t flags)
{
    char *s = json_dumps(v ? v : json_null(), JSON_COMPACT | JSON_ENCODE_ANY | flags);
    if (!s)
        return CL_ENOMEM;
    int rc = append(buf, len, s);
    free(s);
    return rc;
}

static int append_str(char **buf, size_t *len, const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (!j)
        return CL_EINVAL;
    int rc = append_json(buf, len, j, 0);
    json_decref(j);
    return rc;
}

int image_metadata_json(const struct image_meta *m, char **out, struct cl_error *err)
{
    *out = NULL;
    const char *when = m->build_time;
    int rc = 0;
    char *b = NULL;
    size_t l = 0;
    /* serde_json::to_vec of EifIdentityInfo: struct order, compact. */
    rc = append(&b, &l, "{\"ImageName\":");
    rc = rc ?: append_str(&b, &l, m->name);
    rc = rc ?: append(&b, &l, ",\"ImageVersion\":");
    rc = rc ?: append_str(&b, &l, m->version);
    rc = rc ?: append(&b, &l, ",\"BuildMetadata\":{\"BuildTime\":");
    rc = rc ?: append_str(&b, &l, when);
    rc = rc ?: append(&b, &l, ",\"BuildTool\":");
    rc = rc ?: append_str(&b, &l, m->build_tool);
    rc = rc ?: append(&b, &l, ",\"BuildToolVersion\":");
    rc = rc ?: append_str(&b, &l, m->build_tool_version);
    rc = rc ?: append(&b, &l, ",\"OperatingSystem\":");
    rc = rc ?: append_str(&b, &l, m->os);
    rc = rc ?: append(&b, &l, ",\"KernelVersion\":");
    rc = rc ?: append_str(&b, &l, m->kernel_version);
    rc = rc ?: append(&b, &l, "},\"DockerInfo\":");
    rc = rc ?: append_json(&b, &l, m->docker_info, JSON_SORT_KEYS);
    rc = rc ?: append(&b, &l, ",\"CustomMetadata\":");
    rc = rc ?: append_json(&b, &l, m->custom, JSON_SORT_KEYS);
    rc = rc ?: append(&b, &l, "}");
    if (rc < 0) {
        free(b);
        return cl_fail(err, rc == CL_EINVAL ? CL_EINVAL : CL_ENOMEM,
                       rc == CL_EINVAL ? "metadata strings must be UTF-8" : "out of memory");
    }
    *out = b;
    return 0;
}

int image_kernel_info(const char *config_path, char **os, char **ver, struct cl_error *err)
{
    *os = *ver = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(config_path, 1u << 20, &data, &len, err);
    if (rc < 0) {
        cl_error_clear(err);
        return cl_fail(err, CL_ENOTFOUND, "missing blob '%s'", config_path);
    }
    /* Line 3 (index 2), as nitro-cli's get_kernel_info (enclave_build). */
    char *line = (char *)data;
    for (int i = 0; i < 2 && line; i++) {
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    char *tok[4] = {0};
    if (line) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        /* split on ' ', '/', '-' keeping empty pieces (Rust's str::split) */
        char *p = line;
        for (int i = 0; i < 4 && p; i++) {
            tok[i] = p;
            p += strcspn(p, " /-");
            if (*p) {
                *p = '\0';
                p++;
            } else {
                p = NULL;
            }
        }
    }
    if (!tok[1] || !tok[3] || !*tok[1] || !*tok[3]) {
        rc = cl_fail(err, CL_EFORMAT,
                     "blob '%s': line 3 is not '# <OS>/<arch> <version> Kernel Configuration'",
                     config_path);
        goto out;
    }
    *os = strdup(tok[1]);
    *ver = strdup(tok[3]);
    if (!*os || !*ver) {
        free(*os);
        free(*ver);
        *os = *ver = NULL;
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    }
out:
    free(data);
    return rc;
}

int image_custom_metadata(const char *path, json_t **out, struct cl_error *err)
{
    *out = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, IMAGE_CUSTOM_METADATA_MAX, &data, &len, err);
    if (rc == CL_ELIMIT) {
        cl_error_clear(err);
        struct stat st;
        long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
        return cl_fail(err, CL_ELIMIT, "metadata file '%s' is %lld bytes, at most %d allowed",
                       path, size, IMAGE_CUSTOM_METADATA_MAX);
    }
    if (rc < 0)
        return rc;
    json_error_t je;
    *out = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    free(data);
    if (!*out)
        return cl_fail(err, CL_EFORMAT, "metadata file '%s' is not JSON: %s (line %d)", path,
                       je.text, je.line);
    return 0;
}
