/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How the enclave init starts the command (src/init/init_exec.c): the PATH
 * it searches, execvpe's search and its ENOEXEC fallback to /bin/sh, and
 * the exact line and status of every case where nothing runs. Each start
 * happens in a forked child (a successful one replaces it), with its
 * output and init's line read back through pipes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init_exec.h"
#include "testlib/testlib.h"

static char *path_of(const char *const *env, size_t n)
{
    struct init_list l = { (char **)env, n };
    return init_exec_path(&l);
}

static void test_search_path(void **state)
{
    (void)state;
    static const struct {
        const char *env[3];
        const char *path;
    } cases[] = {
        /* No PATH: AWS init's default alone. */
        { { "HOME=/root" }, "/sbin:/usr/sbin:/bin:/usr/bin" },
        /* The image's PATH first, then the default's directories it lacks. */
        { { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
          "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
        { { "PATH=/app/bin:/usr/bin" }, "/app/bin:/usr/bin:/sbin:/usr/sbin:/bin" },
        /* The last PATH= wins; a directory is compared as written. */
        { { "PATH=/x", "PATH=/bin/:/opt" }, "/bin/:/opt:/sbin:/usr/sbin:/bin:/usr/bin" },
        /* An empty PATH is one empty element (the working directory), as glibc. */
        { { "PATH=" }, ":/sbin:/usr/sbin:/bin:/usr/bin" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].env[1] ? 2 : 1;
        char *p = path_of(cases[i].env, n);
        assert_string_equal(p, cases[i].path);
        free(p);
    }
}

struct outcome {
    int status;      /* the child's exit status */
    char out[4096];  /* what the command printed on stdout */
    char msg[4096];  /* init's line, when nothing ran */
};

/*
 * Starts argv in a child, as init does: in dir (chroot'ed to it when root
 * is true, else chdir'ed to it when dir is not NULL). Fills *o.
 */
static void start(char *const argv[], char *const envp[], const char *search, const char *dir,
                  int root, struct outcome *o)
{
    int out[2], msg[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(msg), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        close(msg[0]);
        dup2(out[1], STDOUT_FILENO);
        /* chroot needs root, or a user namespace of our own */
        if (root && geteuid() != 0 && unshare(CLONE_NEWUSER) < 0)
            _exit(99);
        if (root && chroot(dir) < 0)
            _exit(99);
        if (dir && chdir(root ? "/" : dir) < 0)
            _exit(98);
        char line[4096];
        int st = init_exec(argv, envp, search, line, sizeof(line));
        ssize_t w = write(msg[1], line, strlen(line));
        (void)w;
        _exit(st);
    }
    close(out[1]);
    close(msg[1]);
    tl_read_all(out[0], o->out, sizeof(o->out));
    tl_read_all(msg[0], o->msg, sizeof(o->msg));
    close(out[0]);
    close(msg[0]);
    o->status = tl_child_status(pid);
}

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
    char p[512];
    tl_path(p, sizeof(p), dir, name);
    tl_write_file(p, text, strlen(text));
    assert_int_equal(chmod(p, mode), 0);
}

static char *const ENV[] = { "FOO=from-env", "PATH=/nowhere", NULL };

/* What runs: a binary through the search, a script with and without #!. */
static void test_runs(void **state)
{
    (void)state;
    char d1[128], d2[128], sp[1024];
    tl_mkdtemp(d1, sizeof(d1), "cloister-exec-a");
    tl_mkdtemp(d2, sizeof(d2), "cloister-exec-b");
    struct outcome o;

    /* "#!/bin/sh" on line 2: the kernel says ENOEXEC, /bin/sh runs it with
     * the file as $0 and the arguments after it, in envp. */
    put(d1, "late.sh", "# a comment first\n#!/bin/sh\necho \"$0|$*|$FOO\"\nexit 7\n", 0755);
    char p[300];
    tl_path(p, sizeof(p), d1, "late.sh");
    char *late[] = { p, "a", "b c", NULL };
    start(late, ENV, "/nowhere", NULL, 0, &o);
    char want[600];
    snprintf(want, sizeof(want), "%s|a b c|from-env\n", p);
    assert_string_equal(o.out, want);
    assert_string_equal(o.msg, "");
    assert_int_equal(o.status, 7);

    /* A bare name: the first directory holds a file that is not
     * executable (passed over, as execvpe's EACCES), the second runs. */
    put(d1, "prog", "#!/bin/sh\necho first\n", 0644);
    put(d2, "prog", "#!/bin/sh\necho \"second $0 $1\"\n", 0755);
    snprintf(sp, sizeof(sp), "/nonexistent:%s:%s", d1, d2);
    char *prog[] = { "prog", "x", NULL };
    start(prog, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want), "second %s/prog x\n", d2);
    assert_string_equal(o.out, want);
    assert_int_equal(o.status, 0);

    /* The search falls back to /bin/sh too; argv[0] stays the name given
     * to a binary (sh -c prints $0). */
    put(d2, "noshebang", "echo \"via sh $0\"\n", 0755);
    char *ns[] = { "noshebang", NULL };
    start(ns, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want), "via sh %s/noshebang\n", d2);
    assert_string_equal(o.out, want);
    char *sh[] = { "sh", "-c", "echo $0", NULL };
    start(sh, ENV, "/bin", NULL, 0, &o);
    assert_string_equal(o.out, "sh\n");

    /* An empty element of PATH is the working directory. */
    put(d1, "here", "#!/bin/sh\necho here\n", 0755);
    char *here[] = { "here", NULL };
    start(here, ENV, "/nonexistent::/bin", d1, 0, &o);
    assert_string_equal(o.out, "here\n");
    assert_int_equal(o.status, 0);

    tl_rmtree(d1);
    tl_rmtree(d2);
}

/* Every case where nothing runs: its exact line and status. */
static void test_refused(void **state)
{
    (void)state;
    char d[128], sp[1024], p[300], want[2048];
    tl_mkdtemp(d, sizeof(d), "cloister-exec-c");
    struct outcome o;

    char *empty[] = { "", NULL };
    start(empty, ENV, "/bin", NULL, 0, &o);
    assert_string_equal(o.msg, "init: cannot run '': No such file or directory");
    assert_int_equal(o.status, 127);

    /* Not found: the PATH searched is said. A directory that is a file
     * (ENOTDIR) is passed over like a missing one. */
    tl_path(p, sizeof(p), d, "file");
    put(d, "file", "x", 0644);
    snprintf(sp, sizeof(sp), "/nonexistent:%s:%s", p, d);
    char *nope[] = { "no-such-program", "arg", NULL };
    start(nope, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want),
             "init: cannot run 'no-such-program': No such file or directory (searched PATH %s)",
             sp);
    assert_string_equal(o.msg, want);
    assert_string_equal(o.out, "");
    assert_int_equal(o.status, 127);

    /* A path as it is: missing, under a file, not executable. */
    char missing[300];
    tl_path(missing, sizeof(missing), d, "missing");
    char *m[] = { missing, NULL };
    start(m, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want), "init: cannot run '%s': No such file or directory", missing);
    assert_string_equal(o.msg, want);
    assert_int_equal(o.status, 127);
    char under[320];
    snprintf(under, sizeof(under), "%s/x", p);
    char *u[] = { under, NULL };
    start(u, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want), "init: cannot run '%s': Not a directory", under);
    assert_string_equal(o.msg, want);
    assert_int_equal(o.status, 127);
    /* (root passes the execute check only when some x bit is set: none is) */
    char *f[] = { p, NULL };
    start(f, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want), "init: cannot run '%s': Permission denied", p);
    assert_string_equal(o.msg, want);
    assert_int_equal(o.status, 126);
    /* A directory is not runnable either (the kernel's EACCES). */
    char *dir[] = { d, NULL };
    start(dir, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want), "init: cannot run '%s': Permission denied", d);
    assert_string_equal(o.msg, want);
    assert_int_equal(o.status, 126);

    /* Found only without execute permission: that file is named (the
     * first of them), not the PATH. */
    char d2[128];
    tl_mkdtemp(d2, sizeof(d2), "cloister-exec-d");
    put(d2, "tool", "#!/bin/sh\n", 0600);
    put(d, "tool", "#!/bin/sh\n", 0644);
    snprintf(sp, sizeof(sp), "/nonexistent:%s:%s", d2, d);
    char *tool[] = { "tool", NULL };
    start(tool, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want), "init: cannot run '%s/tool': Permission denied", d2);
    assert_string_equal(o.msg, want);
    assert_int_equal(o.status, 126);

    /* The file is there but its #! interpreter is not: the kernel's ENOENT,
     * said with what it means; in a search, that file is named. */
    put(d2, "orphan", "#!/nonexistent/interpreter\n", 0755);
    tl_path(p, sizeof(p), d2, "orphan");
    char *orphan[] = { p, NULL };
    start(orphan, ENV, sp, NULL, 0, &o);
    snprintf(want, sizeof(want),
             "init: cannot run '%s': No such file or directory (the file exists: the "
             "interpreter its #! line names, or its dynamic loader, is missing)",
             p);
    assert_string_equal(o.msg, want);
    assert_int_equal(o.status, 127);
    char *orphan_name[] = { "orphan", NULL };
    start(orphan_name, ENV, sp, NULL, 0, &o);
    assert_string_equal(o.msg, want);
    assert_int_equal(o.status, 127);

    tl_rmtree(d);
    tl_rmtree(d2);
}

/* A script the kernel refuses, in a root without /bin/sh (a chroot). */
static void test_no_shell(void **state)
{
    (void)state;
    char d[128];
    tl_mkdtemp(d, sizeof(d), "cloister-exec-e");
    char app[300];
    tl_path(app, sizeof(app), d, "app");
    assert_int_equal(mkdir(app, 0755), 0);
    put(app, "run.sh", "\n#!/bin/sh\necho hello\n", 0755);
    struct outcome o;
    char *run[] = { "/app/run.sh", "arg", NULL };
    start(run, ENV, "/bin", d, 1, &o);
    if (o.status == 99) {
        tl_rmtree(d);
        skip(); /* no chroot here */
    }
    assert_string_equal(o.msg, "init: cannot run '/app/run.sh': Exec format error; running it "
                               "with /bin/sh: No such file or directory");
    assert_int_equal(o.status, 126);
    /* found through PATH: the file found is named */
    char *name[] = { "run.sh", NULL };
    start(name, ENV, "/bin:/app", d, 1, &o);
    assert_string_equal(o.msg, "init: cannot run '/app/run.sh': Exec format error; running it "
                               "with /bin/sh: No such file or directory");
    assert_int_equal(o.status, 126);
    tl_rmtree(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_path),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_no_shell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
