/* SPDX-License-Identifier: Apache-2.0 */
/* ramdisk: cpio newc through libarchive, reproducible (sorted, owner 0,
 * fixed mtime, inode numbers in order, hard-link groups), and the
 * bootstrap / customer layouts of nitro-cli. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "image/image_tree.h"
#include "image/ramdisk.h"

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

static struct image_node *put(struct image_tree *t, struct image_node *dir, const char *name,
                              enum image_node_type type, unsigned mode)
{
    struct image_node *n = image_node_put(t, dir, name, type, mode, 0, NULL);
    assert_non_null(n);
    return n;
}

static void put_file(struct image_tree *t, struct image_node *dir, const char *name,
                     const char *data, unsigned mode)
{
    struct image_content *c = NULL;
    assert_int_equal(image_content_new_memory(data, strlen(data), &c, NULL), 0);
    image_node_set_content(put(t, dir, name, IMAGE_REG, mode), c);
}

/* A small tree, built in a scrambled order. */
static struct image_tree *sample(void)
{
    struct image_tree *t = NULL;
    assert_int_equal(image_tree_new(NULL, &t, NULL), 0);
    struct image_node *r = image_tree_root(t);
    put_file(t, r, "zeta", "last", 0600);
    struct image_node *a = put(t, r, "a", IMAGE_DIR, 0750);
    put_file(t, a, "file", "hello", 04755);
    put_file(t, r, "a-b", "dash", 0644);
    struct image_node *l = put(t, a, "link", IMAGE_SYMLINK, 0777);
    l->symlink = strdup("../zeta");
    put(t, r, "pipe", IMAGE_FIFO, 0600);
    /* a hard-link pair: "a/file" and "hl" share one content */
    struct image_node *hl = put(t, r, "hl", IMAGE_REG, 0755);
    image_node_set_content(hl, image_node_child(a, "file")->content);
    return t;
}

struct seen {
    char name[64];
    unsigned mode, nlink;
    long uid, gid;
    int64_t mtime, size, ino;
    char data[64];
};

static size_t read_back(const struct mem *m, struct seen *out, size_t cap)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_cpio(a);
    assert_int_equal(archive_read_open_memory(a, m->p, m->len), ARCHIVE_OK);
    struct archive_entry *e;
    size_t n = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        assert_true(n < cap);
        struct seen *s = &out[n++];
        memset(s, 0, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", archive_entry_pathname(e));
        s->mode = archive_entry_mode(e);
        s->nlink = archive_entry_nlink(e);
        s->uid = archive_entry_uid(e);
        s->gid = archive_entry_gid(e);
        s->mtime = archive_entry_mtime(e);
        s->size = archive_entry_size(e);
        s->ino = archive_entry_ino64(e);
        if (archive_entry_symlink(e))
            snprintf(s->data, sizeof(s->data), "%s", archive_entry_symlink(e));
        else
            archive_read_data(a, s->data, sizeof(s->data) - 1);
    }
    assert_int_equal(archive_format(a), ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
    archive_read_free(a);
    return n;
}

static void sorted_owner_zero_fixed_mtime(void **state)
{
    (void)state;
    struct image_tree *t = sample();
    struct mem m = { 0 };
    struct ramdisk_opts o = { .mtime = 1234567890 };
    assert_int_equal(ramdisk_write(t, &o, mem_sink, &m, NULL), 0);
    struct seen s[16];
    size_t n = read_back(&m, s, 16);
    static const char *const order[] = { "a", "a-b", "a/file", "a/link", "hl", "pipe", "zeta" };
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(s[i].name, order[i]);
        assert_int_equal(s[i].uid, 0);
        assert_int_equal(s[i].gid, 0);
        assert_int_equal(s[i].mtime, 1234567890);
    }
    assert_int_equal(s[0].mode, 040750);
    assert_int_equal(s[0].nlink, 2);
    assert_int_equal(s[2].mode, 0104755);
    assert_int_equal(s[3].mode, 0120777);
    assert_string_equal(s[3].data, "../zeta");
    assert_int_equal(s[5].mode, 010600);
    assert_string_equal(s[6].data, "last");
    /* inode numbers in emission order; the hard-link group shares one,
     * nlink 2, and the data rides on the last link (hl) */
    assert_int_equal(s[0].ino, 1);
    assert_int_equal(s[1].ino, 2);
    assert_int_equal(s[2].ino, 3);
    assert_int_equal(s[4].ino, 3);
    assert_int_equal(s[2].nlink, 2);
    assert_int_equal(s[4].nlink, 2);
    assert_int_equal(s[2].size, 0);
    assert_int_equal(s[4].size, 5);
    assert_string_equal(s[4].data, "hello");
    assert_int_equal(s[6].ino, 6);
    /* the trailer ends the archive: no block padding */
    assert_true(m.len % 4 == 0);
    assert_memory_equal(m.p + m.len - 14, "TRAILER!!!\0\0\0\0", 14);

    /* byte-identical the second time */
    struct mem m2 = { 0 };
    assert_int_equal(ramdisk_write(t, &o, mem_sink, &m2, NULL), 0);
    assert_int_equal(m.len, m2.len);
    assert_memory_equal(m.p, m2.p, m.len);
    free(m.p);
    free(m2.p);
    image_tree_free(t);
}

static void fd_output_and_sink_failure(void **state)
{
    (void)state;
    struct image_tree *t = sample();
    char path[] = "/tmp/cloister-ramdisk-test.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    uint64_t size = 0;
    assert_int_equal(ramdisk_write_fd(t, NULL, fd, &size, NULL), 0);
    struct mem m = { 0 };
    assert_int_equal(ramdisk_write(t, NULL, mem_sink, &m, NULL), 0);
    assert_int_equal(size, m.len);
    uint8_t *back = malloc(m.len);
    assert_int_equal(pread(fd, back, m.len, 0), (ssize_t)m.len);
    assert_memory_equal(back, m.p, m.len);
    free(back);
    free(m.p);
    close(fd);
    struct cl_error err = { 0 };
    assert_int_equal(ramdisk_write(t, NULL, failing_sink, NULL, &err), CL_EIO);
    assert_string_equal(err.reason, "'a': disk full");
    image_tree_free(t);
}

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *l = ctx;
    assert_true(done >= l[0]); /* never goes back */
    l[0] = done;
    l[1] = total;
}

static void progress_counts_file_data(void **state)
{
    (void)state;
    struct image_tree *t = sample();
    uint64_t last[2] = { 0, 0 };
    struct mem m = { 0 };
    struct ramdisk_opts p = { .mtime = 0, .progress = progress_cb, .progress_ctx = last };
    assert_int_equal(ramdisk_write(t, &p, mem_sink, &m, NULL), 0);
    /* the listing's file data (the hard-link pair counted per link), and
     * what was written: hello once, dash, last */
    assert_int_equal(last[1], 5 + 5 + 4 + 4);
    assert_int_equal(last[0], 5 + 4 + 4);
    free(m.p);
    image_tree_free(t);
}

static void write_file(const char *dir, const char *name, const char *data)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void bootstrap_layout(void **state)
{
    (void)state;
    char dir[] = "/tmp/cloister-blobs-test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct cl_error err = { 0 };
    struct image_tree *t = NULL;
    assert_int_equal(ramdisk_bootstrap_tree(dir, &t, &err), CL_ENOTFOUND);
    char want[256];
    snprintf(want, sizeof(want), "missing blob '%s/init': No such file or directory", dir);
    assert_string_equal(err.reason, want);
    write_file(dir, "init", "INIT");
    assert_int_equal(ramdisk_bootstrap_tree(dir, &t, NULL), 0);
    struct mem m = { 0 };
    assert_int_equal(ramdisk_write(t, NULL, mem_sink, &m, NULL), 0);
    struct seen s[8];
    assert_int_equal(read_back(&m, s, 8), 2);
    assert_string_equal(s[0].name, "dev");
    assert_int_equal(s[0].mode, 040755);
    assert_string_equal(s[1].name, "init");
    assert_int_equal(s[1].mode, 0100755);
    assert_string_equal(s[1].data, "INIT");
    image_tree_free(t);
    free(m.p);
    write_file(dir, "nsm.ko", "MODULE");
    assert_int_equal(ramdisk_bootstrap_tree(dir, &t, NULL), 0);
    m = (struct mem){ 0 };
    assert_int_equal(ramdisk_write(t, NULL, mem_sink, &m, NULL), 0);
    assert_int_equal(read_back(&m, s, 8), 3);
    assert_string_equal(s[2].name, "nsm.ko");
    assert_int_equal(s[2].mode, 0100755);
    assert_string_equal(s[2].data, "MODULE");
    image_tree_free(t);
    free(m.p);
    char p[512];
    snprintf(p, sizeof(p), "%s/init", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/nsm.ko", dir);
    unlink(p);
    rmdir(dir);
}

static void customer_layout(void **state)
{
    (void)state;
    struct image_tree *img = NULL;
    assert_int_equal(image_tree_new(NULL, &img, NULL), 0);
    put(img, image_tree_root(img), "tmp", IMAGE_DIR, 01777);
    put_file(img, image_tree_root(img), "app", "APP", 0755);
    char *cmd[] = { "/app", "--flag", "two words" };
    char *env[] = { "A=1", "B=" };
    struct image_tree *t = NULL;
    assert_int_equal(ramdisk_customer_tree(img, cmd, 3, env, 2, &t, NULL), 0);
    image_tree_free(img);
    struct mem m = { 0 };
    assert_int_equal(ramdisk_write(t, NULL, mem_sink, &m, NULL), 0);
    struct seen s[16];
    size_t n = read_back(&m, s, 16);
    static const char *const order[] = { "cmd",        "env",         "rootfs",     "rootfs/app",
                                         "rootfs/dev", "rootfs/proc", "rootfs/run", "rootfs/sys",
                                         "rootfs/tmp", "rootfs/var" };
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(s[i].name, order[i]);
    assert_string_equal(s[0].data, "/app\n--flag\ntwo words\n");
    assert_int_equal(s[0].mode, 0100644);
    assert_string_equal(s[1].data, "A=1\nB=\n");
    assert_int_equal(s[2].mode, 040755);
    assert_int_equal(s[8].mode, 041777);
    assert_int_equal(s[9].mode, 040755);
    free(m.p);
    image_tree_free(t);

    assert_int_equal(image_tree_new(NULL, &img, NULL), 0);
    char *bad[] = { "a\nb" };
    struct cl_error err = { 0 };
    assert_int_equal(ramdisk_customer_tree(img, bad, 1, NULL, 0, &t, &err), CL_EINVAL);
    assert_string_equal(err.reason, "command argument 'a\nb' contains a newline, which the cmd "
                                    "file cannot hold");
    image_tree_free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sorted_owner_zero_fixed_mtime),
        cmocka_unit_test(fd_output_and_sink_failure),
        cmocka_unit_test(progress_counts_file_data),
        cmocka_unit_test(bootstrap_layout),
        cmocka_unit_test(customer_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
