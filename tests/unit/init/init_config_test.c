/* SPDX-License-Identifier: Apache-2.0 */
/* The enclave init's /cmd and /env parsing (src/init/init_config.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "init_config.h"

static void test_split(void **state)
{
    (void)state;
    struct init_list l;
    const char *why = NULL;
    /* AWS's cmd file: one argv element per line, each ending in \n. */
    const char cmd[] = "/bin/sh\n-c\necho 'a b'  c\n";
    assert_int_equal(init_split_lines(cmd, strlen(cmd), &l, &why), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "/bin/sh");
    assert_string_equal(l.v[1], "-c");
    assert_string_equal(l.v[2], "echo 'a b'  c");
    assert_null(l.v[3]);
    init_list_free(&l);
    /* A last line without newline counts; empty lines are kept (empty argv). */
    assert_int_equal(init_split_lines("a\n\nb", 4, &l, &why), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[1], "");
    assert_string_equal(l.v[2], "b");
    init_list_free(&l);
    assert_int_equal(init_split_lines("", 0, &l, &why), 0);
    assert_int_equal(l.n, 0);
    assert_null(l.v[0]);
    init_list_free(&l);
}

static void test_split_rejects(void **state)
{
    (void)state;
    struct init_list l;
    const char *why = NULL;
    assert_int_equal(init_split_lines("a\0b\n", 4, &l, &why), -1);
    assert_string_equal(why, "NUL byte in file");
    char *many = malloc(INIT_CONFIG_MAX_LINES + 1);
    memset(many, '\n', INIT_CONFIG_MAX_LINES + 1);
    assert_int_equal(init_split_lines(many, INIT_CONFIG_MAX_LINES + 1, &l, &why), -1);
    assert_string_equal(why, "too many lines");
    assert_int_equal(init_split_lines(many, INIT_CONFIG_MAX_LINES, &l, &why), 0);
    assert_int_equal(l.n, INIT_CONFIG_MAX_LINES);
    init_list_free(&l);
    free(many);
    assert_int_equal(init_split_lines("x", INIT_CONFIG_MAX_BYTES + 1, &l, &why), -1);
    assert_string_equal(why, "file too large");
}

static void test_read_and_defaults(void **state)
{
    (void)state;
    char dir[] = "/tmp/cloister-init-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/env", dir);
    struct init_list l;
    const char *why = NULL;
    /* Missing: 1, and the defaults are AWS init's. */
    assert_int_equal(init_read_list(path, &l, &why), 1);
    assert_int_equal(init_default_env(&l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], "PATH=/sbin:/usr/sbin:/bin:/usr/bin");
    assert_string_equal(init_search_path(&l), "/sbin:/usr/sbin:/bin:/usr/bin");
    init_list_free(&l);
    assert_int_equal(init_default_cmd(&l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], "sh");
    init_list_free(&l);

    FILE *f = fopen(path, "w");
    fputs("HOME=/root\nPATH=/opt/bin:/bin\nX=1\n", f);
    fclose(f);
    assert_int_equal(init_read_list(path, &l, &why), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(init_search_path(&l), "/opt/bin:/bin");
    init_list_free(&l);
    /* A directory is refused. */
    assert_int_equal(init_read_list(dir, &l, &why), -1);
    assert_string_equal(why, "not a regular file");
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_rejects),
        cmocka_unit_test(test_read_and_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
