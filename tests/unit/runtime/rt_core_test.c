/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's pure pieces: CPU lists, CID/name/uid allocation, CPU
 * picking, and the ramdisk unpacker's refusals (rt_cpus, rt_state, rt_unpack). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cloister/eif.h>

#include "base/fileio.h"
#include "testlib/eif_golden.h"
#include "testlib/testlib.h"
#include "rt_cpus.h"
#include "rt_state.h"
#include "rt_unpack.h"
#include "rt_util.h"

static void test_cpu_lists(void **state)
{
    (void)state;
    struct rt_cpuset s;
    struct cl_error err = { 0 };
    assert_int_equal(rt_cpus_parse("0-3,6\n", &s, &err), 0);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.ids[3], 3);
    assert_int_equal(s.ids[4], 6);
    assert_int_equal(rt_cpus_parse("", &s, &err), 0);
    assert_int_equal(s.n, 0);
    static const char *const bad[] = { "0-3-7", "3-1", "1024", "a", "1,", ",1", "1 2", "-1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cl_error_clear(&err);
        assert_int_equal(rt_cpus_parse(bad[i], &s, &err), CL_EFORMAT);
    }
    uint32_t ids[] = { 1, 3, 4, 5, 9 };
    char buf[64];
    rt_cpus_format(ids, 5, buf, sizeof(buf));
    assert_string_equal(buf, "1,3-5,9");
}

static json_t *rec(int cid, const char *name, long long uid_base, json_t *cpus)
{
    json_t *r = json_object();
    json_object_set_new(r, "EnclaveName", json_string(name));
    json_object_set_new(r, "EnclaveCID", json_integer(cid));
    json_object_set_new(r, "CPUIDs", cpus ? cpus : json_array());
    json_t *in = json_object();
    json_object_set_new(in, "UidBase", json_integer(uid_base));
    json_object_set_new(r, "Internal", in);
    return r;
}

static void test_allocation(void **state)
{
    (void)state;
    json_t *records = json_array();
    json_array_append_new(records, rec(16, "a", RT_UID_BASE, NULL));
    json_array_append_new(records, rec(17, "a_1", RT_UID_BASE + RT_UID_RANGE * 2, NULL));
    uint32_t cid, slot;
    char name[64];
    struct cl_error err = { 0 };
    assert_int_equal(rt_state_allocate(records, 0, "a", &cid, name, sizeof(name), &slot, &err), 0);
    assert_int_equal(cid, 18);
    assert_string_equal(name, "a_2");
    assert_int_equal(slot, 1);
    assert_int_equal(rt_state_allocate(records, 40, "b", &cid, name, sizeof(name), &slot, &err), 0);
    assert_int_equal(cid, 40);
    assert_string_equal(name, "b");
    assert_int_equal(rt_state_allocate(records, 17, "b", &cid, name, sizeof(name), &slot, &err), CL_EEXIST);
    assert_string_equal(err.reason, "the enclave CID 17 is already in use");
    json_decref(records);
}

static void test_cpu_picking(void **state)
{
    (void)state;
    uint32_t online[] = { 0, 1, 2, 3 }, out[4];
    struct cl_error err = { 0 };
    json_t *records = json_array();
    /* nothing running: CPU 0 (the parent's favourite) last */
    assert_int_equal(rt_state_pick_cpus(records, online, 4, 1, out, &err), 0);
    assert_int_equal(out[0], 1);
    json_t *busy = json_array();
    json_array_append_new(busy, json_integer(1));
    json_array_append_new(busy, json_integer(2));
    json_array_append_new(records, rec(16, "x", RT_UID_BASE, busy));
    assert_int_equal(rt_state_pick_cpus(records, online, 4, 2, out, &err), 0);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 3);
    assert_int_equal(rt_state_pick_cpus(records, online, 4, 4, out, &err), 0);
    assert_int_equal(rt_state_pick_cpus(records, online, 4, 5, out, &err), CL_ELIMIT);
    json_decref(records);
}

/* A newc archive in memory with the given entries. */
struct ent { const char *name; mode_t type; mode_t perm; const char *data; const char *link; int uid; };

static size_t make_cpio(const struct ent *e, size_t n, uint8_t *buf, size_t cap)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_cpio_newc(a);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, e[i].name);
        archive_entry_set_filetype(en, e[i].type);
        archive_entry_set_perm(en, e[i].perm);
        archive_entry_set_uid(en, e[i].uid);
        archive_entry_set_gid(en, e[i].uid);
        if (e[i].link)
            archive_entry_set_symlink(en, e[i].link);
        if (e[i].type == AE_IFCHR)
            archive_entry_set_rdev(en, makedev(1, 3));
        size_t len = e[i].data ? strlen(e[i].data) : 0;
        archive_entry_set_size(en, (la_int64_t)len);
        archive_write_header(a, en);
        if (len)
            archive_write_data(a, e[i].data, len);
        archive_entry_free(en);
    }
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

static void test_unpack(void **state)
{
    (void)state;
    char top[] = "/tmp/rt_unpack_XXXXXX";
    assert_non_null(mkdtemp(top));
    char dir[128], path[256];
    snprintf(dir, sizeof(dir), "%s/t", top);
    mkdir(dir, 0755);
    uint8_t *buf = malloc(1 << 20);
    const uid_t base = RT_UID_BASE;
    const bool root = geteuid() == 0;
    struct cl_error err = { 0 };

    const struct ent good[] = {
        { "rootfs", AE_IFDIR, 0755, NULL, NULL, 0 },
        { "./rootfs/hello", AE_IFREG, 04755, "hi\n", NULL, 1000 },
        { "/abs", AE_IFREG, 0644, "x", NULL, 70000 },
        { "rootfs/console", AE_IFCHR, 0600, NULL, NULL, 0 },
        { "rootfs/link", AE_IFLNK, 0777, NULL, "/etc", 0 },
    };
    size_t len = make_cpio(good, 5, buf, 1 << 20);
    int urc = rt_unpack_cpio(buf, len, dir, base, &err);
    if (urc != 0)
        fprintf(stderr, "unpack: %s\n", err.reason);
    assert_int_equal(urc, 0);
    struct stat st;
    snprintf(path, sizeof(path), "%s/rootfs/hello", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);          /* set-uid dropped */
    if (root)
        assert_int_equal(st.st_uid, base + 1000);        /* shifted into the enclave's range */
    snprintf(path, sizeof(path), "%s/abs", dir);
    assert_int_equal(stat(path, &st), 0);                /* "/abs" lands inside */
    if (root)
        assert_int_equal(st.st_uid, base + 65534);       /* out of range: nobody */
    snprintf(path, sizeof(path), "%s/rootfs/console", dir);
    assert_int_equal(lstat(path, &st), -1);              /* device nodes skipped */

    /* nothing lands outside: */
    const struct ent dotdot[] = { { "rootfs/../../escape", AE_IFREG, 0644, "x", NULL, 0 } };
    /* ".." is refused outright */
    len = make_cpio(dotdot, 1, buf, 1 << 20);
    cl_error_clear(&err);
    assert_int_equal(rt_unpack_cpio(buf, len, dir, base, &err), CL_EFORMAT);
    snprintf(path, sizeof(path), "%s/escape", top);
    assert_int_equal(access(path, F_OK), -1);
    const struct ent through[] = { { "rootfs/link/cloister-test-escape", AE_IFREG, 0644, "x", NULL, 0 } };
    len = make_cpio(through, 1, buf, 1 << 20);
    cl_error_clear(&err);
    /* libarchive (SECURE_SYMLINKS with UNLINK) replaces the link by a
     * directory: the file stays inside the tree */
    assert_int_equal(rt_unpack_cpio(buf, len, dir, base, &err), 0);
    assert_int_equal(access("/etc/cloister-test-escape", F_OK), -1);
    snprintf(path, sizeof(path), "%s/rootfs/link", dir);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(path, sizeof(path), "%s/rootfs/link/cloister-test-escape", dir);
    assert_int_equal(access(path, F_OK), 0);

    /* not an archive */
    cl_error_clear(&err);
    assert_int_equal(rt_unpack_cpio((const uint8_t *)"garbage garbage garbage", 23, dir, base, &err),
                     CL_EFORMAT);
    free(buf);
    assert_int_equal(rt_rm_rf(top, &err), 0);
}

/* A ramdisk streamed from its EIF file in pieces (rt_unpack_eif_ramdisk):
 * a file larger than a piece arrives whole; a ramdisk that is no archive
 * is CL_EFORMAT. */
static void test_unpack_from_eif(void **state)
{
    (void)state;
    char top[] = "/tmp/rt_unpack_eif_XXXXXX";
    assert_non_null(mkdtemp(top));
    char dir[128], path[256], eif_path[128];
    snprintf(dir, sizeof(dir), "%s/t", top);
    snprintf(eif_path, sizeof(eif_path), "%s/x.eif", top);
    mkdir(dir, 0755);
    const size_t big_len = 200000;  /* over three of the unpacker's pieces */
    char *big = malloc(big_len + 1);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 23);
    big[big_len] = '\0';
    const struct ent ents[] = {
        { "rootfs", AE_IFDIR, 0755, NULL, NULL, 0 },
        { "rootfs/big", AE_IFREG, 0644, big, NULL, 0 },
    };
    uint8_t *cpio = malloc(1 << 20);
    size_t cpio_len = make_cpio(ents, 2, cpio, 1 << 20);
    const struct tl_sec secs[] = { TL_SEC_K, TL_SEC_C, TL_SEC_M, TL_SEC_R,
                                   { EIF_SECTION_RAMDISK, (const char *)cpio, cpio_len } };
    size_t eif_len = 0;
    uint8_t *image = tl_mk_eif(4, secs, 5, &eif_len);
    tl_write_file(eif_path, image, eif_len);
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(eif_path, &e, &err), 0);
    assert_int_equal(rt_unpack_eif_ramdisk(e, 1, dir, RT_UID_BASE, &err), 0);
    uint8_t *got = NULL;
    size_t got_len = 0;
    snprintf(path, sizeof(path), "%s/rootfs/big", dir);
    assert_int_equal(file_read_all(path, 1 << 20, &got, &got_len, &err), 0);
    assert_int_equal(got_len, big_len);
    assert_memory_equal(got, big, big_len);
    free(got);
    /* ramdisk 0 is "r": not an archive */
    assert_int_equal(rt_unpack_eif_ramdisk(e, 0, dir, RT_UID_BASE, &err), CL_EFORMAT);
    eif_free(e);
    free(image);
    free(cpio);
    free(big);
    assert_int_equal(rt_rm_rf(top, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_lists),
        cmocka_unit_test(test_allocation),
        cmocka_unit_test(test_cpu_picking),
        cmocka_unit_test(test_unpack),
        cmocka_unit_test(test_unpack_from_eif),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
