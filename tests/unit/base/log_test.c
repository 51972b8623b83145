/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging (src/lib/base/log.c): the line format "<program>: <level>:
 * <message>", the level threshold from CLOISTER_LOG (default warn; unknown
 * values keep the default), long messages cut, the name before log_init().
 * The logger keeps process-wide state, so each case runs in a forked child
 * whose stderr is a pipe read back here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "testlib/testlib.h"

/* Runs body in a child with CLOISTER_LOG = env (NULL: unset); returns what
 * it wrote on stderr (static buffer). */
static const char *logged(const char *env, void (*body)(void))
{
    static char out[8192];
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (dup2(p[1], 2) < 0)
            _exit(10);
        if (env)
            setenv("CLOISTER_LOG", env, 1);
        else
            unsetenv("CLOISTER_LOG");
        body();
        fflush(stderr);
        _exit(0);
    }
    close(p[1]);
    tl_read_all(p[0], out, sizeof(out));
    close(p[0]);
    assert_int_equal(tl_child_status(pid), 0);
    return out;
}

static void every_level(void)
{
    log_init("prog");
    log_error("e %d", 1);
    log_warn("w %s", "two");
    log_info("i");
    log_debug("d");
}

static void default_threshold_is_warn(void **state)
{
    (void)state;
    assert_string_equal(logged(NULL, every_level), "prog: error: e 1\nprog: warn: w two\n");
}

static void each_level_from_the_environment(void **state)
{
    (void)state;
    assert_string_equal(logged("error", every_level), "prog: error: e 1\n");
    assert_string_equal(logged("warn", every_level), "prog: error: e 1\nprog: warn: w two\n");
    assert_string_equal(logged("info", every_level),
                        "prog: error: e 1\nprog: warn: w two\nprog: info: i\n");
    assert_string_equal(logged("debug", every_level),
                        "prog: error: e 1\nprog: warn: w two\nprog: info: i\nprog: debug: d\n");
}

/* Names are exact (lowercase, whole word); anything else keeps warn. */
static void unknown_levels_keep_the_default(void **state)
{
    (void)state;
    static const char *const odd[] = { "", "DEBUG", "Info", "debug ", "trace", "3" };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        assert_string_equal(logged(odd[i], every_level), "prog: error: e 1\nprog: warn: w two\n");
}

static void before_init(void)
{
    log_warn("early");
    log_info("hidden");
}

static void name_before_init_is_cloister(void **state)
{
    (void)state;
    /* without log_init() the environment is not read either */
    assert_string_equal(logged("debug", before_init), "cloister: warn: early\n");
}

static void long_line(void)
{
    log_init("p");
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_error("%s", big);
}

/* A message is cut at 1023 bytes, and the line still ends with a newline. */
static void long_messages_are_cut(void **state)
{
    (void)state;
    const char *out = logged(NULL, long_line);
    assert_int_equal(strlen(out), strlen("p: error: ") + 1023 + 1);
    assert_int_equal(strncmp(out, "p: error: aaaa", 14), 0);
    assert_int_equal(out[strlen(out) - 1], '\n');
    assert_int_equal(out[strlen(out) - 2], 'a');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_threshold_is_warn),
        cmocka_unit_test(each_level_from_the_environment),
        cmocka_unit_test(unknown_levels_keep_the_default),
        cmocka_unit_test(name_before_init_is_cloister),
        cmocka_unit_test(long_messages_are_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
