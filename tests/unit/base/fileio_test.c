/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fileio.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/cloister-fileio-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static int count_entries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void atomic_write_then_read(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/out", dir);
    assert_int_equal(file_write_atomic(path, "hello", 5, 0640, NULL), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    uint8_t *data;
    size_t len;
    assert_int_equal(file_read_all(path, 5, &data, &len, NULL), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    assert_int_equal(data[5], 0);
    free(data);
    assert_int_equal(count_entries(), 1);
}

static void read_bounds_are_enforced(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/big", dir);
    assert_int_equal(file_write_atomic(path, "0123456789", 10, 0600, NULL), 0);
    uint8_t *data = (uint8_t *)"sentinel";
    size_t len = 99;
    struct cl_error err = { 0 };
    assert_int_equal(file_read_all(path, 9, &data, &len, &err), CL_ELIMIT);
    assert_null(data);
    assert_true(strstr(err.reason, "is 10 bytes, at most 9 allowed") != NULL);

    cl_error_clear(&err);
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(file_read_all(path, 9, &data, &len, &err), CL_ENOTFOUND);
    cl_error_clear(&err);
    assert_int_equal(file_read_all(dir, 9, &data, &len, &err), CL_EINVAL);
}

static void abort_leaves_nothing(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/partial", dir);
    int before = count_entries();
    struct atomic_file af;
    assert_int_equal(atomic_file_open(&af, path, 0644, NULL), 0);
    assert_int_equal(fd_write_all(af.fd, "half", 4, NULL), 0);
    assert_int_equal(count_entries(), before + 1);
    atomic_file_abort(&af);
    assert_int_equal(count_entries(), before);
    assert_int_equal(access(path, F_OK), -1);
}

static void pread_exact_reports_short_files(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/short", dir);
    assert_int_equal(file_write_atomic(path, "abc", 3, 0600, NULL), 0);
    FILE *f = fopen(path, "r");
    char buf[4];
    struct cl_error err = { 0 };
    assert_int_equal(fd_pread_exact(fileno(f), buf, 2, 1, &err), 0);
    assert_memory_equal(buf, "bc", 2);
    assert_int_equal(fd_pread_exact(fileno(f), buf, 4, 0, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "unexpected end of file at offset 3");
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(atomic_write_then_read),
        cmocka_unit_test(read_bounds_are_enforced),
        cmocka_unit_test(abort_leaves_nothing),
        cmocka_unit_test(pread_exact_reports_short_files),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
