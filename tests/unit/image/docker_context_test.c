/* SPDX-License-Identifier: Apache-2.0 */
/* docker_context: the build context of --docker-dir, read back with
 * libarchive: every file and directory in name order with its permission
 * bits (setuid included), whole-second mtime and owner 0:0, symlinks
 * inside the directory followed as nitro-cli follows them; and each
 * refusal (a link out, nowhere, a loop, a FIFO, no directory) with its
 * exact reason. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "image/docker_context.h"
#include "testlib/testlib.h"

#define MTIME 1700000000

struct fixture {
    char dir[256];   /* the test's own directory */
    char ctx[300];   /* the context: dir/ctx */
    char spool[300]; /* where the tar goes */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    tl_mkdtemp(f->dir, sizeof(f->dir), "docker-context");
    tl_path(f->ctx, sizeof(f->ctx), f->dir, "ctx");
    tl_path(f->spool, sizeof(f->spool), f->dir, "context.tar");
    assert_int_equal(mkdir(f->ctx, 0755), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tl_rmtree(f->dir);
    free(f);
    return 0;
}

/* ctx/rel with data and mode, its mtime MTIME (+ delta). */
static void put(struct fixture *f, const char *rel, const char *data, mode_t mode, int delta)
{
    char p[600];
    tl_path(p, sizeof(p), f->ctx, rel);
    tl_write_file(p, data, strlen(data));
    assert_int_equal(chmod(p, mode), 0);
    struct timeval tv[2] = { { MTIME + delta, 500000 }, { MTIME + delta, 500000 } };
    assert_int_equal(utimes(p, tv), 0);
}

static void mkdir_in(struct fixture *f, const char *rel, mode_t mode)
{
    char p[600];
    tl_path(p, sizeof(p), f->ctx, rel);
    assert_int_equal(mkdir(p, mode), 0);
    assert_int_equal(chmod(p, mode), 0);
}

static void set_mtime(struct fixture *f, const char *rel, time_t t)
{
    char p[600];
    tl_path(p, sizeof(p), f->ctx, rel);
    struct timeval tv[2] = { { t, 0 }, { t, 0 } };
    assert_int_equal(utimes(p, tv), 0);
}

static void link_in(struct fixture *f, const char *rel, const char *target)
{
    char p[600];
    tl_path(p, sizeof(p), f->ctx, rel);
    assert_int_equal(symlink(target, p), 0);
}

/* Writes the context; returns its rc, err filled. */
static int write_context(struct fixture *f, struct cl_error *err)
{
    int fd = open(f->spool, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    int rc = docker_context_write(f->ctx, fd, err);
    close(fd);
    return rc;
}

/* The tar as one line per entry: "name mode uid:gid mtime size data". */
static char *listing(struct fixture *f)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, f->spool, 10240), ARCHIVE_OK);
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        char data[256] = { 0 };
        la_ssize_t n = archive_read_data(a, data, sizeof(data) - 1);
        assert_true(n >= 0);
        len += (size_t)snprintf(out + len, cap - len, "%s %06o %lld:%lld %lld %lld %s\n",
                                archive_entry_pathname(e), (unsigned)archive_entry_mode(e),
                                (long long)archive_entry_uid(e), (long long)archive_entry_gid(e),
                                (long long)archive_entry_mtime(e), (long long)archive_entry_size(e),
                                data);
        assert_true(len < cap);
    }
    archive_read_free(a);
    return out;
}

static void directory_as_nitro_cli_sends_it(void **state)
{
    struct fixture *f = *state;
    put(f, "Dockerfile", "FROM scratch\n", 0644, 0);
    put(f, "a", "A", 0600, 1);
    mkdir_in(f, "bin", 0750);
    put(f, "bin/run", "#!run", 04755, 2);
    mkdir_in(f, "empty", 01777);
    link_in(f, "ln-file", "a");        /* followed: a's content, mode and mtime */
    link_in(f, "ln-dir", "bin");       /* followed: the directory again, under its name */
    link_in(f, "bin/up-file", "../a"); /* climbs, but stays inside */
    char abs[600];
    tl_path(abs, sizeof(abs), f->ctx, "a");
    link_in(f, "ln-abs", abs); /* absolute, inside */
    set_mtime(f, "bin", MTIME + 3);
    set_mtime(f, "empty", MTIME);
    struct cl_error err = { 0 };
    assert_int_equal(write_context(f, &err), 0);
    char *l = listing(f);
    assert_string_equal(l, "Dockerfile 100644 0:0 1700000000 13 FROM scratch\n\n"
                           "a 100600 0:0 1700000001 1 A\n"
                           "bin/ 040750 0:0 1700000003 0 \n"
                           "bin/run 104755 0:0 1700000002 5 #!run\n"
                           "bin/up-file 100600 0:0 1700000001 1 A\n"
                           "empty/ 041777 0:0 1700000000 0 \n"
                           "ln-abs 100600 0:0 1700000001 1 A\n"
                           "ln-dir/ 040750 0:0 1700000003 0 \n"
                           "ln-dir/run 104755 0:0 1700000002 5 #!run\n"
                           "ln-dir/up-file 100600 0:0 1700000001 1 A\n"
                           "ln-file 100600 0:0 1700000001 1 A\n");
    free(l);
}

/* The context of f's directory fails with reason (after the prefix). */
static void refused(struct fixture *f, int code, const char *reason)
{
    struct cl_error err = { 0 };
    char want[1024];
    snprintf(want, sizeof(want), "build context '%s': %s", f->ctx, reason);
    assert_int_equal(write_context(f, &err), code);
    assert_string_equal(err.reason, want);
}

static void link_out_is_refused(void **state)
{
    struct fixture *f = *state;
    put(f, "Dockerfile", "FROM scratch\n", 0644, 0);
    char outside[600];
    tl_path(outside, sizeof(outside), f->dir, "outside");
    tl_write_file(outside, "host secret", 11);
    mkdir_in(f, "d", 0755);
    link_in(f, "d/out", "../../outside");
    refused(f, CL_EPERM, "symlink 'd/out' -> '../../outside' points out of the context");
}

static void absolute_link_out_is_refused(void **state)
{
    struct fixture *f = *state;
    link_in(f, "passwd", "/etc/passwd");
    refused(f, CL_EPERM, "symlink 'passwd' -> '/etc/passwd' points out of the context");
}

static void dangling_link_is_refused(void **state)
{
    struct fixture *f = *state;
    link_in(f, "nowhere", "missing");
    refused(f, CL_ENOTFOUND,
            "symlink 'nowhere' -> 'missing' cannot be followed: No such file or directory");
}

static void loops_are_refused(void **state)
{
    struct fixture *f = *state;
    mkdir_in(f, "d", 0755);
    mkdir_in(f, "d/e", 0755);
    link_in(f, "d/e/up", "..");
    refused(f, CL_EFORMAT, "symlink 'd/e/up' -> '..' makes a loop");
    char p[600];
    tl_path(p, sizeof(p), f->ctx, "d/e/up");
    assert_int_equal(unlink(p), 0);
    link_in(f, "d/e/root", "../..");
    refused(f, CL_EFORMAT, "symlink 'd/e/root' -> '../..' makes a loop");
}

static void fifo_is_refused(void **state)
{
    struct fixture *f = *state;
    char p[600];
    tl_path(p, sizeof(p), f->ctx, "pipe");
    assert_int_equal(mkfifo(p, 0644), 0);
    refused(f, CL_EUNSUPPORTED,
            "'pipe' is a FIFO (a context holds files, directories and symbolic links)");
    assert_int_equal(unlink(p), 0);
    /* a link to a FIFO: its target is opened without blocking, then refused */
    link_in(f, "a-pipe", "pipe2");
    tl_path(p, sizeof(p), f->ctx, "pipe2");
    assert_int_equal(mkfifo(p, 0644), 0);
    refused(f, CL_EUNSUPPORTED,
            "'a-pipe' is a FIFO (a context holds files, directories and symbolic links)");
}

static void not_a_directory(void **state)
{
    struct fixture *f = *state;
    struct cl_error err = { 0 };
    char missing[600], want[700];
    tl_path(missing, sizeof(missing), f->dir, "missing");
    int fd = open(f->spool, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_int_equal(docker_context_write(missing, fd, &err), CL_ENOTFOUND);
    close(fd);
    snprintf(want, sizeof(want), "cannot open '%s' as a directory: No such file or directory",
             missing);
    assert_string_equal(err.reason, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(directory_as_nitro_cli_sends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(link_out_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(absolute_link_out_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(dangling_link_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(loops_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(fifo_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(not_a_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
