/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nitro-cli's ramdisks (ramdisk.h): linuxkit's steps in the order it takes
 * them, over the export stream of docker_export.h, into the cpio writer of
 * cpio_newc.h. The sources and every rule: docs/build-enclave.md.
 */
#include "image/ramdisk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "image/docker_export.h"

#define PREFIX      "rootfs/"
#define RESOLV_LINK "/run/resolvconf/resolv.conf"
#define CHUNK       (256 * 1024)

/* linuxkit's text for etc/hosts (moby/build/image.go, `replace`). */
static const char HOSTS[] = "127.0.0.1       localhost\n"
                            "::1     localhost ip6-localhost ip6-loopback\n"
                            "fe00::0 ip6-localnet\n"
                            "ff00::0 ip6-mcastprefix\n"
                            "ff02::1 ip6-allnodes\n"
                            "ff02::2 ip6-allrouters\n";

/* Entries of the export stream linuxkit drops (`exclude`): names as the
 * stream spells them, so the directories dev/pts/ and dev/shm/ pass. */
static const char *const EXCLUDE[] = { ".dockerenv", "Dockerfile",  "dev/console",
                                       "dev/pts",    "dev/shm",     "etc/hostname" };

/* Entries that must be there (`touch`), in byte order: their time is set
 * to linuxkit's; those the stream lacks are added after it. */
static const struct {
    const char *name;
    enum cpio_type type;
    uint32_t perm;
} TOUCH[] = {
    { "dev/", CPIO_DIR, 0755 },          { "dev/pts/", CPIO_DIR, 0755 },
    { "dev/shm/", CPIO_DIR, 0755 },      { "etc/", CPIO_DIR, 0755 },
    { "etc/hosts", CPIO_REG, 0644 },     { "etc/mtab", CPIO_SYMLINK, 0755 },
    { "etc/resolv.conf", CPIO_REG, 0644 }, { "proc/", CPIO_DIR, 0755 },
    { "sys/", CPIO_DIR, 0755 },
};
#define NTOUCH (sizeof(TOUCH) / sizeof(TOUCH[0]))

/* One entry on its way into the archive, as linuxkit's tar header holds it. */
struct lk_entry {
    const char *name;
    enum cpio_type type;
    struct image_attrs attrs;
    const char *link;    /* SYMLINK: the target; hard link: the earlier name */
    bool hardlink;
    uint64_t size;       /* REG */
    const struct image_content *content; /* REG data, or */
    const void *bytes;                   /* REG data held in memory */
    int fd;                              /* REG data read from a file (when >= 0) */
};

struct lk_writer {
    struct cpio_writer *cw;
    const struct image_tree *tree; /* where contents are */
    const struct ramdisk_progress *progress;
    uint64_t done, total;
    bool touched[NTOUCH];
};

/* ---- paths ---- */

/* Splits a clean relative path into its components ("." has none). */
static size_t components(char *path, char **comp, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *c = strtok_r(path, "/", &save); c && n < max;
         c = strtok_r(NULL, "/", &save))
        if (strcmp(c, "."))
            comp[n++] = c;
    return n;
}

/*
 * Go's filepath.Rel(from, to) for two clean relative paths: the path of to
 * seen from the directory from, "." when they are the same.
 */
static int rel_path(const char *from, const char *to, char *out, size_t cap,
                    struct cl_error *err)
{
    char f[IMAGE_PATH_MAX + 16], t[IMAGE_PATH_MAX + 16];
    char *fc[IMAGE_PATH_MAX / 2 + 1], *tc[IMAGE_PATH_MAX / 2 + 1];
    snprintf(f, sizeof(f), "%s", from);
    snprintf(t, sizeof(t), "%s", to);
    size_t nf = components(f, fc, sizeof(fc) / sizeof(fc[0]));
    size_t nt = components(t, tc, sizeof(tc) / sizeof(tc[0]));
    size_t common = 0;
    while (common < nf && common < nt && !strcmp(fc[common], tc[common]))
        common++;
    size_t len = 0;
    for (size_t i = common; i < nf; i++)
        len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s..", len ? "/" : "");
    for (size_t i = common; i < nt; i++)
        len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s", len ? "/" : "",
                                tc[i]);
    if (len == 0)
        len = (size_t)snprintf(out, cap, ".");
    if (len >= cap)
        return cl_fail(err, CL_ELIMIT, "'%s': relative link too long", to);
    return 0;
}

/* ---- writing one entry (linuxkit's initrd.go: typeconv, copyTarEntry) ---- */

static int emit_data(struct lk_writer *w, const struct lk_entry *e, struct cl_error *err);

static int emit(struct lk_writer *w, const struct lk_entry *e, struct cl_error *err)
{
    struct cpio_header h = {
        .name = e->name,
        .type = e->hardlink ? CPIO_SYMLINK : e->type,
        .perm = e->attrs.mode,
        .uid = e->attrs.uid,
        .gid = e->attrs.gid,
        .mtime = e->attrs.mtime,
        .size = e->type == CPIO_REG && !e->hardlink ? e->size : 0,
        .rdev_major = e->attrs.rdev_major,
        .rdev_minor = e->attrs.rdev_minor,
    };
    char rel[IMAGE_PATH_MAX + 1];
    const char *target = e->link;
    if (e->hardlink) {
        /* a hard link becomes a symbolic link relative to its directory */
        char dir[IMAGE_PATH_MAX + 1];
        const char *slash = strrchr(e->name, '/');
        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - e->name) : 1,
                 slash ? e->name : ".");
        int rc = rel_path(dir, e->link, rel, sizeof(rel), err);
        if (rc < 0)
            return rc;
        target = rel;
    }
    if (h.type == CPIO_SYMLINK)
        h.size = strlen(target);
    int rc = cpio_write_header(w->cw, &h, err);
    if (rc == 0 && h.type == CPIO_SYMLINK)
        rc = cpio_write_data(w->cw, target, h.size, err);
    else if (rc == 0 && h.type == CPIO_REG && h.size)
        rc = emit_data(w, e, err);
    return rc;
}

static int data_sink(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    struct lk_writer *w = ctx;
    int rc = cpio_write_data(w->cw, buf, len, err);
    w->done += len;
    if (rc == 0 && w->progress && w->progress->fn)
        w->progress->fn(w->progress->ctx, w->done, w->total);
    return rc;
}

static int emit_data(struct lk_writer *w, const struct lk_entry *e, struct cl_error *err)
{
    if (e->content)
        return image_content_stream(w->tree, e->content, data_sink, w, err);
    if (e->bytes)
        return cpio_write_data(w->cw, e->bytes, (size_t)e->size, err);
    uint8_t *buf = malloc(CHUNK);
    if (!buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = 0;
    for (uint64_t left = e->size; left > 0 && rc == 0;) {
        ssize_t n = read(e->fd, buf, left < CHUNK ? (size_t)left : CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = n < 0 ? cl_fail_errno(err, CL_EIO, "cannot read '%s'", e->name)
                       : cl_fail(err, CL_ESTATE, "'%s' shrank while being read", e->name);
        else {
            rc = cpio_write_data(w->cw, buf, (size_t)n, err);
            left -= (uint64_t)n;
        }
    }
    free(buf);
    return rc;
}

/* ---- linuxkit's `files:` (moby/build/build.go, filesystem) ---- */

enum file_kind { FILE_DIR, FILE_BYTES, FILE_SOURCE };

struct lk_file {
    const char *path;
    enum file_kind kind;
    uint32_t mode;
    const void *bytes; /* FILE_BYTES */
    size_t len;
    const char *source; /* FILE_SOURCE: a host file */
};

/* A directory mode as linuxkit derives it for a file's missing parents. */
static uint32_t dir_mode(uint32_t mode)
{
    if (mode & 0700)
        mode |= 0100;
    if (mode & 0070)
        mode |= 0010;
    if (mode & 0007)
        mode |= 0001;
    return mode;
}

static bool added(char **set, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(set[i], path))
            return true;
    return false;
}

static int add_path(char **set, size_t *n, const char *path, struct cl_error *err)
{
    if (!(set[*n] = strdup(path)))
        return cl_fail(err, CL_ENOMEM, "out of memory");
    (*n)++;
    return 0;
}

static int emit_file(struct lk_writer *w, const struct lk_file *f, struct cl_error *err)
{
    struct lk_entry e = { .name = f->path, .fd = -1,
                          .attrs = { .mode = f->mode, .mtime = RAMDISK_LINUXKIT_MTIME } };
    if (f->kind == FILE_DIR) {
        e.type = CPIO_DIR;
        return emit(w, &e, err);
    }
    e.type = CPIO_REG;
    if (f->kind == FILE_BYTES) {
        e.bytes = f->bytes;
        e.size = f->len;
        return emit(w, &e, err);
    }
    e.fd = open(f->source, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (e.fd < 0 || fstat(e.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int rc = e.fd < 0 && errno == ENOENT
                     ? cl_fail(err, CL_ENOTFOUND, "missing blob '%s'", f->source)
                     : cl_fail(err, CL_EINVAL, "blob '%s' is not a readable regular file",
                               f->source);
        if (e.fd >= 0)
            close(e.fd);
        return rc;
    }
    e.size = (uint64_t)st.st_size;
    int rc = emit(w, &e, err);
    close(e.fd);
    return rc;
}

/* Each file preceded by its parents not yet written by this section. */
static int files_section(struct lk_writer *w, const struct lk_file *files, size_t n,
                         struct cl_error *err)
{
    char *set[32];
    size_t nset = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char parent[IMAGE_PATH_MAX + 1];
        snprintf(parent, sizeof(parent), "%s", files[i].path);
        for (char *s = strchr(parent, '/'); s && rc == 0; s = strchr(s + 1, '/')) {
            *s = '\0';
            if (!added(set, nset, parent)) {
                struct lk_file d = { parent, FILE_DIR, dir_mode(files[i].mode) };
                rc = emit_file(w, &d, err);
                if (rc == 0)
                    rc = add_path(set, &nset, parent, err);
            }
            *s = '/';
        }
        if (rc == 0)
            rc = add_path(set, &nset, files[i].path, err);
        if (rc == 0)
            rc = emit_file(w, &files[i], err);
    }
    for (size_t i = 0; i < nset; i++)
        free(set[i]);
    return rc;
}

static int writer_open(struct lk_writer *w, cpio_sink_fn sink, void *ctx, struct cl_error *err)
{
    return cpio_writer_new(sink, ctx, &w->cw, err);
}

static int writer_close(struct lk_writer *w, int rc, struct cl_error *err)
{
    if (rc == 0)
        rc = cpio_finish(w->cw, err);
    cpio_writer_free(w->cw);
    return rc;
}

int ramdisk_write_bootstrap(const char *blobs_dir, cpio_sink_fn sink, void *ctx,
                            struct cl_error *err)
{
    char init[PATH_MAX], nsm[PATH_MAX];
    snprintf(init, sizeof(init), "%s/init", blobs_dir);
    snprintf(nsm, sizeof(nsm), "%s/nsm.ko", blobs_dir);
    struct lk_file files[] = {
        { "dev", FILE_DIR, 0755 },
        { "init", FILE_SOURCE, 0755, .source = init },
        { "nsm.ko", FILE_SOURCE, 0755, .source = nsm },
    };
    /* nitro-cli's YAML lists nsm.ko; Cloister's own blobs have none */
    size_t n = access(nsm, F_OK) == 0 ? 3 : 2;
    struct lk_writer w = { 0 };
    int rc = writer_open(&w, sink, ctx, err);
    if (rc < 0)
        return rc;
    rc = files_section(&w, files, n, err);
    return writer_close(&w, rc, err);
}

/* ---- the customer ramdisk: linuxkit's ImageTar over the export stream ---- */

static bool excluded(const char *name)
{
    for (size_t i = 0; i < sizeof(EXCLUDE) / sizeof(EXCLUDE[0]); i++)
        if (!strcmp(name, EXCLUDE[i]))
            return true;
    return false;
}

static int touch_index(const char *name)
{
    for (size_t i = 0; i < NTOUCH; i++)
        if (!strcmp(name, TOUCH[i].name))
            return (int)i;
    return -1;
}

static enum cpio_type cpio_type_of(enum image_node_type t)
{
    switch (t) {
    case IMAGE_DIR: return CPIO_DIR;
    case IMAGE_REG: return CPIO_REG;
    case IMAGE_SYMLINK: return CPIO_SYMLINK;
    case IMAGE_FIFO: return CPIO_FIFO;
    case IMAGE_CHR: return CPIO_CHR;
    case IMAGE_BLK: return CPIO_BLK;
    }
    return CPIO_REG;
}

static int export_entry(void *ctx, const struct export_entry *x, struct cl_error *err)
{
    struct lk_writer *w = ctx;
    if (excluded(x->name))
        return 0;
    char name[IMAGE_PATH_MAX + sizeof(PREFIX) + 1], link[IMAGE_PATH_MAX + sizeof(PREFIX) + 1];
    snprintf(name, sizeof(name), PREFIX "%s", x->name);
    const struct image_node *n = x->node;
    struct lk_entry e = {
        .name = name,
        .type = cpio_type_of(n->type),
        .attrs = *x->attrs,
        .link = n->symlink,
        .size = n->content ? n->content->size : 0,
        .content = n->content,
        .fd = -1,
    };
    if (x->hardlink) {
        snprintf(link, sizeof(link), PREFIX "%s", x->hardlink);
        e.hardlink = true;
        e.link = link;
    }
    int t = touch_index(x->name);
    if (t >= 0) {
        w->touched[t] = true; /* AWS's patch: a replaced entry is touched too */
        e.attrs.mtime = RAMDISK_LINUXKIT_MTIME;
    }
    if (!strcmp(x->name, "etc/hosts")) {
        e.type = CPIO_REG;
        e.hardlink = false;
        e.content = NULL;
        e.bytes = HOSTS;
        e.size = sizeof(HOSTS) - 1;
    } else if (!strcmp(x->name, "etc/resolv.conf")) {
        e.type = CPIO_SYMLINK;
        e.hardlink = false;
        e.link = RESOLV_LINK;
    }
    return emit(w, &e, err);
}

/* The `touch` entries the stream did not have, from linuxkit's table. */
static int touch_missing(struct lk_writer *w, struct cl_error *err)
{
    int rc = 0;
    for (size_t i = 0; i < NTOUCH && rc == 0; i++) {
        if (w->touched[i])
            continue;
        char name[64]; /* the table's headers name directories without a '/' */
        snprintf(name, sizeof(name), PREFIX "%s", TOUCH[i].name);
        size_t len = strlen(name);
        if (name[len - 1] == '/')
            name[len - 1] = '\0';
        struct lk_entry e = { .name = name, .type = TOUCH[i].type, .fd = -1,
                              .attrs = { .mode = TOUCH[i].perm,
                                         .mtime = RAMDISK_LINUXKIT_MTIME } };
        if (!strcmp(TOUCH[i].name, "etc/hosts")) {
            e.bytes = HOSTS;
            e.size = sizeof(HOSTS) - 1;
        } else if (!strcmp(TOUCH[i].name, "etc/resolv.conf")) {
            e.type = CPIO_SYMLINK;
            e.link = RESOLV_LINK;
        } else if (!strcmp(TOUCH[i].name, "etc/mtab")) {
            e.link = "/proc/mounts";
        }
        rc = emit(w, &e, err);
    }
    return rc;
}

/* One argument or KEY=VALUE per line, each ending in '\n'. */
static int lines(char *const *items, size_t n, const char *file, const char *what, char **out,
                 size_t *len, struct cl_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (strchr(items[i], '\n'))
            return cl_fail(err, CL_EINVAL,
                           "%s '%s' contains a newline, which the %s file cannot hold", what,
                           items[i], file);
        total += strlen(items[i]) + 1;
    }
    char *buf = malloc(total + 1);
    if (!buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        memcpy(buf + off, items[i], l);
        buf[off + l] = '\n';
        off += l + 1;
    }
    *out = buf;
    *len = total;
    return 0;
}

int ramdisk_write_customer(struct image_tree *image, char *const *cmd, size_t ncmd,
                           char *const *env, size_t nenv, const struct ramdisk_progress *progress,
                           cpio_sink_fn sink, void *ctx, struct cl_error *err)
{
    char *cmd_text = NULL, *env_text = NULL;
    size_t cmd_len = 0, env_len = 0;
    struct lk_writer w = { .tree = image, .progress = progress };
    int rc = lines(cmd, ncmd, "cmd", "command argument", &cmd_text, &cmd_len, err);
    if (rc == 0)
        rc = lines(env, nenv, "env", "environment entry", &env_text, &env_len, err);
    if (rc == 0)
        rc = docker_init_layer(image, err);
    if (rc == 0)
        rc = writer_open(&w, sink, ctx, err);
    if (rc < 0)
        goto out;
    w.total = docker_export_data_size(image);
    /* the prefix directory, then the image below it (linuxkit's tarPrefix, ImageTar) */
    rc = emit_file(&w, &(struct lk_file){ "rootfs", FILE_DIR, 0755 }, err);
    if (rc == 0)
        rc = docker_export_walk(image, export_entry, &w, err);
    if (rc == 0)
        rc = touch_missing(&w, err);
    if (rc == 0) {
        const struct lk_file files[] = {
            { "rootfs/dev", FILE_DIR, 0755 },  { "rootfs/run", FILE_DIR, 0755 },
            { "rootfs/sys", FILE_DIR, 0755 },  { "rootfs/var", FILE_DIR, 0755 },
            { "rootfs/proc", FILE_DIR, 0755 }, { "rootfs/tmp", FILE_DIR, 0755 },
            { "cmd", FILE_BYTES, 0644, cmd_text, cmd_len },
            { "env", FILE_BYTES, 0644, env_text, env_len },
        };
        rc = files_section(&w, files, sizeof(files) / sizeof(files[0]), err);
    }
    if (rc == 0 && progress && progress->fn)
        progress->fn(progress->ctx, w.total, w.total);
    rc = writer_close(&w, rc, err);
out:
    free(cmd_text);
    free(env_text);
    return rc;
}
