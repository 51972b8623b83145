/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ramdisk: nitro-cli's ramdisks byte for byte. The vectors made by
 * nitro-cli's real tool chain (testdata/nitro-cli-ramdisks) come out
 * identical; images never seen there follow the same rules, checked header
 * by header: Docker's init layer, the export walk's order, linuxkit's
 * exclude/replace/touch, hard links as relative symlinks, device nodes,
 * FIFOs, setuid/setgid/sticky, owners, times, boot/, the `files:` tail; and
 * the errors.
 */
#include <openssl/evp.h>

#include "image/image.h"
#include "image/image_layer.h"
#include "image/ramdisk.h"
#include "tar_build.h"

#define VECTORS "testdata/nitro-cli-ramdisks/"
#define N(a)    (sizeof(a) / sizeof((a)[0]))

struct mem {
    uint8_t *p;
    size_t len, cap;
};

static int mem_sink(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    (void)err;
    struct mem *m = ctx;
    if (m->len + len > m->cap) {
        m->cap = (m->len + len) * 2;
        m->p = realloc(m->p, m->cap);
        assert_non_null(m->p);
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

static int failing_sink(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return cl_fail(err, CL_EIO, "disk full");
}

/* ---- reading newc back ---- */

struct cpio_entry {
    unsigned long ino, mode, uid, gid, nlink, mtime, size, dev_major, dev_minor, rmaj, rmin;
    char name[4200];
    const uint8_t *data;
};

static unsigned long field(const uint8_t *p)
{
    char f[9];
    memcpy(f, p, 8);
    f[8] = '\0';
    return strtoul(f, NULL, 16);
}

/* The entries of a newc archive (the trailer included); *n of them. */
static struct cpio_entry *parse(const uint8_t *a, size_t len, size_t *n)
{
    struct cpio_entry *e = calloc(4096, sizeof(*e));
    assert_non_null(e);
    size_t off = 0;
    *n = 0;
    for (;;) {
        assert_true(off + 110 <= len);
        assert_memory_equal(a + off, "070701", 6);
        struct cpio_entry *x = &e[(*n)++];
        unsigned long *f[] = { &x->ino,  &x->mode,      &x->uid,       &x->gid,  &x->nlink,
                               &x->mtime, &x->size,     &x->dev_major, &x->dev_minor,
                               &x->rmaj, &x->rmin };
        for (size_t i = 0; i < N(f); i++)
            *f[i] = field(a + off + 6 + 8 * i);
        unsigned long namesize = field(a + off + 94);
        assert_int_equal(field(a + off + 102), 0); /* check */
        memcpy(x->name, a + off + 110, namesize);
        off = (off + 110 + namesize + 3) & ~3ul;
        x->data = a + off;
        off = (off + x->size + 3) & ~3ul;
        if (!strcmp(x->name, "TRAILER!!!"))
            break;
    }
    assert_true(len % 512 == 0 && len - off < 512);
    for (size_t i = off; i < len; i++)
        assert_int_equal(a[i], 0);
    return e;
}

/* One line per header: "name mode uid:gid mtime size [-> target]". */
static void describe(const struct cpio_entry *e, size_t n, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char line[4400];
        int len = snprintf(line, sizeof(line), "%s %06lo %lu:%lu %lu %lu", e[i].name, e[i].mode,
                           e[i].uid, e[i].gid, e[i].mtime, e[i].size);
        if ((e[i].mode & 0170000) == 0120000)
            snprintf(line + len, sizeof(line) - (size_t)len, " -> %.*s", (int)e[i].size,
                     (const char *)e[i].data);
        else if ((e[i].mode & 0170000) == 0020000 || (e[i].mode & 0170000) == 0060000)
            snprintf(line + len, sizeof(line) - (size_t)len, " dev %lu,%lu", e[i].rmaj,
                     e[i].rmin);
        assert_true(strlen(out) + strlen(line) + 2 < cap);
        strcat(out, line);
        strcat(out, "\n");
    }
}

/* Equal archives, or the first header that differs. */
static void expect_archive(const uint8_t *got, size_t got_len, const uint8_t *want,
                           size_t want_len)
{
    uint8_t hg[48], hw[48];
    EVP_Digest(got, got_len, hg, NULL, EVP_sha384(), NULL);
    EVP_Digest(want, want_len, hw, NULL, EVP_sha384(), NULL);
    if (got_len == want_len && !memcmp(hg, hw, 48))
        return;
    size_t ng, nw;
    struct cpio_entry *g = parse(got, got_len, &ng), *w = parse(want, want_len, &nw);
    for (size_t i = 0; i < ng && i < nw; i++) {
        char dg[4500], dw[4500];
        describe(&g[i], 1, dg, sizeof(dg));
        describe(&w[i], 1, dw, sizeof(dw));
        if (strcmp(dg, dw) || g[i].ino != w[i].ino || g[i].nlink != w[i].nlink ||
            memcmp(g[i].data, w[i].data, g[i].size))
            fail_msg("header %zu differs:\n got  %s want %s", i, dg, dw);
    }
    fail_msg("%zu headers, %zu bytes; nitro-cli's: %zu headers, %zu bytes", ng, got_len, nw,
             want_len);
}

/* ---- the vectors ---- */

static void customer_ramdisk_of_image_a_is_nitro_clis(void **state)
{
    (void)state;
    char *tar = tl_shared_path(VECTORS "inputs/oci-image-a.tar");
    struct image *img = NULL;
    struct cl_error err = { 0 };
    if (image_from_oci_archive(tar, NULL, &img, &err) < 0)
        fail_msg("%s", err.reason);
    struct mem m = { 0 };
    assert_int_equal(ramdisk_write_customer(img->tree, img->cmd, img->ncmd, img->env, img->nenv,
                                            NULL, mem_sink, &m, &err),
                     0);
    size_t len = 0;
    uint8_t *want = tl_read_shared(VECTORS "customer-a-docker/customer-initrd.img-initrd.img", &len);
    expect_archive(m.p, m.len, want, len);
    free(want);
    free(m.p);
    image_free(img);
    free(tar);
}

static void bootstrap_ramdisk_of_aws_blobs_is_nitro_clis(void **state)
{
    (void)state;
    char *blobs = tl_shared_path(VECTORS "blobs");
    struct mem m = { 0 };
    struct cl_error err = { 0 };
    if (ramdisk_write_bootstrap(blobs, mem_sink, &m, &err) < 0)
        fail_msg("%s", err.reason);
    size_t len = 0;
    uint8_t *want = tl_read_shared(VECTORS "bootstrap/bootstrap-initrd.img-initrd.img", &len);
    expect_archive(m.p, m.len, want, len);
    free(want);
    free(m.p);
    free(blobs);
}

static void bootstrap_ramdisk_without_nsm_ko(void **state)
{
    (void)state;
    char *dir = temp_dir("bootstrap");
    char p[600];
    snprintf(p, sizeof(p), "%s/init", dir);
    write_text(p, "#!init\n");
    struct mem m = { 0 };
    assert_int_equal(ramdisk_write_bootstrap(dir, mem_sink, &m, NULL), 0);
    size_t n;
    struct cpio_entry *e = parse(m.p, m.len, &n);
    char got[2048];
    describe(e, n, got, sizeof(got));
    assert_string_equal(got, "dev 040755 0:0 1492533000 0\n"
                             "init 100755 0:0 1492533000 7\n"
                             "TRAILER!!! 000000 0:0 0 0\n");
    assert_int_equal(e[0].ino, 721);
    assert_int_equal(e[2].ino, 723);
    assert_int_equal(e[0].nlink, 2);
    assert_int_equal(e[1].nlink, 1);
    assert_int_equal(e[1].dev_major, 3);
    assert_int_equal(e[1].dev_minor, 1);
    free(e);
    free(m.p);

    /* no init: nothing to boot */
    unlink(p);
    struct cl_error err = { 0 };
    m = (struct mem){ 0 };
    assert_int_equal(ramdisk_write_bootstrap(dir, mem_sink, &m, &err), CL_ENOTFOUND);
    char want[700];
    snprintf(want, sizeof(want), "missing blob '%s/init'", dir);
    assert_string_equal(err.reason, want);
    free(m.p);
    remove_dir(dir);
}

/* ---- the rules, on images nitro-cli's vectors do not show ---- */

/* The customer ramdisk of the layers l1 (and l2) with cmd and env. */
static char *customer(const struct tar_entry *l1, size_t n1, const struct tar_entry *l2,
                      size_t n2, char *const *cmd, size_t ncmd, char *const *env, size_t nenv)
{
    static uint8_t tarbuf[1 << 20];
    struct image_tree *t = NULL;
    assert_int_equal(image_tree_new(NULL, &t, NULL), 0);
    struct cl_error err = { 0 };
    size_t len = tar_build(l1, n1, TAR_PLAIN, tarbuf, sizeof(tarbuf));
    if (image_layer_apply_buffer(t, tarbuf, len, 1, &err) < 0)
        fail_msg("%s", err.reason);
    if (l2) {
        len = tar_build(l2, n2, TAR_PLAIN, tarbuf, sizeof(tarbuf));
        if (image_layer_apply_buffer(t, tarbuf, len, 2, &err) < 0)
            fail_msg("%s", err.reason);
    }
    struct mem m = { 0 };
    if (ramdisk_write_customer(t, cmd, ncmd, env, nenv, NULL, mem_sink, &m, &err) < 0)
        fail_msg("%s", err.reason);
    size_t n;
    struct cpio_entry *e = parse(m.p, m.len, &n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(e[i].ino, 721 + i);
    char *out = malloc(1 << 16);
    describe(e, n, out, 1 << 16);
    free(e);
    free(m.p);
    image_tree_free(t);
    return out;
}

/* The `files:` tail every customer ramdisk ends with (before cmd and env). */
#define FILES_TAIL                                                                                 \
    "rootfs 040755 0:0 1492533000 0\n"                                                             \
    "rootfs/dev 040755 0:0 1492533000 0\n"                                                         \
    "rootfs/run 040755 0:0 1492533000 0\n"                                                         \
    "rootfs/sys 040755 0:0 1492533000 0\n"                                                         \
    "rootfs/var 040755 0:0 1492533000 0\n"                                                         \
    "rootfs/proc 040755 0:0 1492533000 0\n"                                                        \
    "rootfs/tmp 040755 0:0 1492533000 0\n"

/* What Docker's init layer and linuxkit put in every image. */
#define LK_ETC                                                                                     \
    "rootfs/etc/hosts 100755 0:0 1492533000 160\n"                                                 \
    "rootfs/etc/mtab 120777 0:0 1492533000 12 -> /proc/mounts\n"                                   \
    "rootfs/etc/resolv.conf 120755 0:0 1492533000 27 -> /run/resolvconf/resolv.conf\n"

static void an_image_with_everything(void **state)
{
    (void)state;
    const struct tar_entry l1[] = {
        { TAR_FILE, "Dockerfile", "FROM scratch", 0644 },
        { TAR_DIR, "bin", NULL, 0755, .mtime = 1700000001 },
        { TAR_FILE, "bin/su", "su", 04755, .mtime = 1700000002 },
        { TAR_FILE, "bin/sg", "sg", 02711, .uid = 7, .gid = 8, .mtime = 1700000003 },
        { TAR_FILE, "bin/old", "old", 0755 },
        { TAR_DIR, "boot", NULL, 0755, .mtime = 1700000004 },
        { TAR_FILE, "boot/vmlinuz", "k", 0600, .mtime = 1700000005 },
        { TAR_CHR, "dev/null", NULL, 0666, .mtime = 1700000006 },
        { TAR_BLK, "dev/sda", NULL, 0660, .gid = 6, .mtime = 1700000007 },
        { TAR_DIR, "etc", NULL, 0700, .uid = 5, .mtime = 1700000008 },
        { TAR_FILE, "etc/hosts", "10.0.0.1 me\n", 0600, .mtime = 1700000009 },
        { TAR_FIFO, "fifo", NULL, 0620, .uid = 1000, .gid = 1000, .mtime = 1700000010 },
        { TAR_DIR, "proc", NULL, 0555, .mtime = 1700000011 },
        { TAR_DIR, "tmp", NULL, 01777, .mtime = 1700000012 },
        { TAR_DIR, "a", NULL, 0755, .mtime = 1700000013 },
        { TAR_DIR, "a/b", NULL, 0755, .mtime = 1700000014 },
        { TAR_FILE, "a/b/data", "shared", 0640, .uid = 2, .mtime = 1700000015 },
        { TAR_HARDLINK, "z", "a/b/data", 0640, .uid = 2, .mtime = 1700000015 },
        { TAR_DIR, "a-b", NULL, 0755, .mtime = 1700000016 },
        { TAR_HARDLINK, "a-b/link", "a/b/data", 0640, .uid = 2, .mtime = 1700000015 },
    };
    const struct tar_entry l2[] = {
        { TAR_FILE, "bin/.wh.old", "", 0 },
        { TAR_SYMLINK, "bin/sh", "su", 0755, .mtime = 1700000020 },
    };
    char *cmd[] = { "/bin/su", "-c", "x y" }, *env[] = { "A=1", "PATH=/bin" };
    char *got = customer(l1, N(l1), l2, N(l2), cmd, N(cmd), env, N(env));
    assert_string_equal(
        got,
        "rootfs 040755 0:0 1492533000 0\n"
        /* the walk: each directory's names in byte order, '.dockerenv' and
         * 'Dockerfile' (dropped) first; a/ before a-b/ */
        "rootfs/a/ 040755 0:0 1700000013 0\n"
        "rootfs/a/b/ 040755 0:0 1700000014 0\n"
        "rootfs/a/b/data 100640 2:0 1700000015 6\n"
        "rootfs/a-b/ 040755 0:0 1700000016 0\n"
        /* hard links: relative symlinks with the file's mode and owner */
        "rootfs/a-b/link 120640 2:0 1700000015 11 -> ../a/b/data\n"
        "rootfs/bin/ 040755 0:0 1700000001 0\n"
        "rootfs/bin/sg 102711 7:8 1700000003 2\n"
        "rootfs/bin/sh 120777 0:0 1700000020 2 -> su\n"
        "rootfs/bin/su 104755 0:0 1700000002 2\n"
        /* boot/ is kept: linuxkit drops boot/ only outside the prefix */
        "rootfs/boot/ 040755 0:0 1700000004 0\n"
        "rootfs/boot/vmlinuz 100600 0:0 1700000005 1\n"
        /* the layer's dev/ was implied: the init layer and linuxkit fix it */
        "rootfs/dev/ 040755 0:0 1492533000 0\n"
        "rootfs/dev/null 020666 0:0 1700000006 0 dev 1,3\n"
        "rootfs/dev/pts/ 040755 0:0 1492533000 0\n"
        "rootfs/dev/sda 060660 0:6 1700000007 0 dev 1,3\n"
        "rootfs/dev/shm/ 040755 0:0 1492533000 0\n"
        /* an existing etc/ keeps its mode and owner, not its time */
        "rootfs/etc/ 040700 5:0 1492533000 0\n"
        /* the image's etc/hosts is Docker's empty file, then linuxkit's text */
        LK_ETC
        "rootfs/fifo 010620 1000:1000 1700000010 0\n"
        "rootfs/proc/ 040555 0:0 1492533000 0\n"
        "rootfs/sys/ 040755 0:0 1492533000 0\n"
        "rootfs/tmp/ 041777 0:0 1700000012 0\n"
        "rootfs/z 120640 2:0 1700000015 8 -> a/b/data\n"
        FILES_TAIL
        "cmd 100644 0:0 1492533000 15\n"
        "env 100644 0:0 1492533000 14\n"
        "TRAILER!!! 000000 0:0 0 0\n");
    free(got);
}

static void an_etc_that_is_a_symlink_becomes_a_directory(void **state)
{
    (void)state;
    /* Docker's init layer unlinks what is not a directory on its paths (the
     * symlink etc, the device dev/console) and makes what is then missing;
     * what the symlink pointed to stays where it is */
    const struct tar_entry l1[] = {
        { TAR_DIR, "usr", NULL, 0755, .mtime = 1700000001 },
        { TAR_DIR, "usr/etc", NULL, 0755, .mtime = 1700000002 },
        { TAR_FILE, "usr/etc/hosts", "x", 0644, .mtime = 1700000003 },
        { TAR_SYMLINK, "etc", "usr/etc", 0777, .mtime = 1700000004 },
        { TAR_CHR, "dev/console", NULL, 0600, .mtime = 1700000005 },
    };
    char *got = customer(l1, N(l1), NULL, 0, NULL, 0, NULL, 0);
    assert_string_equal(got,
                        "rootfs 040755 0:0 1492533000 0\n"
                        "rootfs/dev/ 040755 0:0 1492533000 0\n"
                        "rootfs/dev/pts/ 040755 0:0 1492533000 0\n"
                        "rootfs/dev/shm/ 040755 0:0 1492533000 0\n"
                        "rootfs/etc/ 040755 0:0 1492533000 0\n" LK_ETC
                        "rootfs/proc/ 040755 0:0 1492533000 0\n"
                        "rootfs/sys/ 040755 0:0 1492533000 0\n"
                        "rootfs/usr/ 040755 0:0 1700000001 0\n"
                        "rootfs/usr/etc/ 040755 0:0 1700000002 0\n"
                        "rootfs/usr/etc/hosts 100644 0:0 1700000003 1\n" FILES_TAIL
                        "cmd 100644 0:0 1492533000 0\n"
                        "env 100644 0:0 1492533000 0\n"
                        "TRAILER!!! 000000 0:0 0 0\n");
    free(got);
}

static void an_etc_hosts_that_is_a_directory(void **state)
{
    (void)state;
    /* a directory is not unlinked: it keeps its name with a '/', which
     * linuxkit's tables miss, so linuxkit appends its own etc/hosts */
    const struct tar_entry l1[] = {
        { TAR_DIR, "etc/hosts", NULL, 0750, .mtime = 1700000002 },
    };
    char *got = customer(l1, N(l1), NULL, 0, NULL, 0, NULL, 0);
    assert_string_equal(
        got,
        "rootfs 040755 0:0 1492533000 0\n"
        "rootfs/dev/ 040755 0:0 1492533000 0\n"
        "rootfs/dev/pts/ 040755 0:0 1492533000 0\n"
        "rootfs/dev/shm/ 040755 0:0 1492533000 0\n"
        "rootfs/etc/ 040755 0:0 1492533000 0\n"
        "rootfs/etc/hosts/ 040750 0:0 1700000002 0\n"
        "rootfs/etc/mtab 120777 0:0 1492533000 12 -> /proc/mounts\n"
        "rootfs/etc/resolv.conf 120755 0:0 1492533000 27 -> /run/resolvconf/resolv.conf\n"
        "rootfs/proc/ 040755 0:0 1492533000 0\n"
        "rootfs/sys/ 040755 0:0 1492533000 0\n"
        /* from linuxkit's table: 0644 */
        "rootfs/etc/hosts 100644 0:0 1492533000 160\n" FILES_TAIL
        "cmd 100644 0:0 1492533000 0\n"
        "env 100644 0:0 1492533000 0\n"
        "TRAILER!!! 000000 0:0 0 0\n");
    free(got);
}

static void long_names_and_deep_trees(void **state)
{
    (void)state;
    char name[256], deep[200];
    memset(name, 'n', 255);
    name[255] = '\0';
    strcpy(deep, "d");
    for (int i = 1; i < 100; i++)
        strcat(deep, "/d");
    char file[sizeof(deep) + sizeof(name)];
    snprintf(file, sizeof(file), "%s/%s", deep, name);
    const struct tar_entry l1[] = { { TAR_FILE, file, "x", 0644, .mtime = 1700000001 },
                                    { TAR_HARDLINK, name, file, 0644, .mtime = 1700000001 } };
    char *got = customer(l1, N(l1), NULL, 0, NULL, 0, NULL, 0);
    /* the file at depth 100, then the link at the top pointing down to it */
    char want[2 * sizeof(file) + 64];
    snprintf(want, sizeof(want), "rootfs/%s 100644 0:0 1700000001 1\n", file);
    assert_non_null(strstr(got, want));
    snprintf(want, sizeof(want), "rootfs/%s 120644 0:0 1700000001 %zu -> %s\n", name,
             strlen(file), file);
    assert_non_null(strstr(got, want));
    free(got);
}

/* ---- errors ---- */

static void a_newline_in_cmd_or_env_is_refused(void **state)
{
    (void)state;
    struct image_tree *t = NULL;
    assert_int_equal(image_tree_new(NULL, &t, NULL), 0);
    char *bad[] = { "two\nlines" };
    struct cl_error err = { 0 };
    struct mem m = { 0 };
    assert_int_equal(ramdisk_write_customer(t, bad, 1, NULL, 0, NULL, mem_sink, &m, &err),
                     CL_EINVAL);
    assert_string_equal(err.reason, "command argument 'two\nlines' contains a newline, which "
                                    "the cmd file cannot hold");
    cl_error_clear(&err);
    assert_int_equal(ramdisk_write_customer(t, NULL, 0, bad, 1, NULL, mem_sink, &m, &err),
                     CL_EINVAL);
    assert_string_equal(err.reason, "environment entry 'two\nlines' contains a newline, which "
                                    "the env file cannot hold");
    assert_int_equal(m.len, 0); /* nothing was written */
    image_tree_free(t);
}

static void a_failing_sink_stops_the_archive(void **state)
{
    (void)state;
    struct image_tree *t = NULL;
    assert_int_equal(image_tree_new(NULL, &t, NULL), 0);
    struct cl_error err = { 0 };
    assert_int_equal(ramdisk_write_customer(t, NULL, 0, NULL, 0, NULL, failing_sink, NULL, &err),
                     CL_EIO);
    assert_string_equal(err.reason, "disk full");
    image_tree_free(t);
}

struct seen {
    uint64_t done, total;
    unsigned calls;
};

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    struct seen *s = ctx;
    assert_true(done >= s->done && done <= total);
    s->done = done;
    s->total = total;
    s->calls++;
}

static void progress_counts_a_hard_linked_file_once(void **state)
{
    (void)state;
    static uint8_t tarbuf[1 << 16];
    const struct tar_entry l[] = { { TAR_FILE, "a", "0123456789", 0644 },
                                   { TAR_HARDLINK, "b", "a", 0644 },
                                   { TAR_FILE, "c", "abc", 0644 } };
    struct image_tree *t = NULL;
    assert_int_equal(image_tree_new(NULL, &t, NULL), 0);
    size_t len = tar_build(l, N(l), TAR_PLAIN, tarbuf, sizeof(tarbuf));
    assert_int_equal(image_layer_apply_buffer(t, tarbuf, len, 1, NULL), 0);
    struct seen s = { 0 };
    struct ramdisk_progress p = { progress_cb, &s };
    struct mem m = { 0 };
    assert_int_equal(ramdisk_write_customer(t, NULL, 0, NULL, 0, &p, mem_sink, &m, NULL), 0);
    assert_int_equal(s.total, 13);
    assert_int_equal(s.done, 13);
    assert_true(s.calls >= 2);
    free(m.p);
    image_tree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(customer_ramdisk_of_image_a_is_nitro_clis),
        cmocka_unit_test(bootstrap_ramdisk_of_aws_blobs_is_nitro_clis),
        cmocka_unit_test(bootstrap_ramdisk_without_nsm_ko),
        cmocka_unit_test(an_image_with_everything),
        cmocka_unit_test(an_etc_that_is_a_symlink_becomes_a_directory),
        cmocka_unit_test(an_etc_hosts_that_is_a_directory),
        cmocka_unit_test(long_names_and_deep_trees),
        cmocka_unit_test(a_newline_in_cmd_or_env_is_refused),
        cmocka_unit_test(a_failing_sink_stops_the_archive),
        cmocka_unit_test(progress_counts_a_hard_linked_file_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
