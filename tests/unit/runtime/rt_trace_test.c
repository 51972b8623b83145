/* SPDX-License-Identifier: Apache-2.0 */
/* What the runtime keeps of an enclave's output and of its end: the console
 * ring and its dropped count (rt_console), the end's sentence and the kept
 * traces, their bounds and their lookup (rt_trace). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt_console.h"
#include "rt_state.h"
#include "rt_trace.h"

#include "testlib/testlib.h"

static void end_sentences(void **state)
{
    (void)state;
    char b[200];
    rt_end_reason(&(struct rt_end){ .command = true, .exit_status = 3 }, b, sizeof(b));
    assert_string_equal(b, "its command exited with status 3");
    rt_end_reason(&(struct rt_end){ .command = true, .exit_status = -1, .signal = SIGKILL }, b,
                  sizeof(b));
    assert_string_equal(b, "its command was killed by signal 9 (SIGKILL)");
    rt_end_reason(&(struct rt_end){ .exit_status = 1 }, b, sizeof(b));
    assert_string_equal(b, "its init exited with status 1");
    rt_end_reason(&(struct rt_end){ .signal = SIGKILL, .out_of_memory = true, .memory_mib = 64 }, b,
                  sizeof(b));
    assert_string_equal(b, "out of memory: the enclave exceeded its 64 MiB limit");
}

/* The ring keeps the last RT_CONSOLE_RING bytes, counts the rest, and a new
 * client reads the hello line first. */
static void console_ring(void **state)
{
    (void)state;
    struct rt_console *c = rt_console_new();
    assert_non_null(c);
    static char chunk[100000];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)('a' + i % 26);
    for (int i = 0; i < 3; i++)
        rt_console_feed(c, chunk, sizeof(chunk));
    assert_int_equal(rt_console_dropped(c), 300000 - RT_CONSOLE_RING);
    static char tail[RT_CONSOLE_RING + 1];
    assert_int_equal(rt_console_tail(c, tail, sizeof(tail)), RT_CONSOLE_RING);
    /* the last byte fed is the last kept: chunk[99999] */
    assert_int_equal(tail[RT_CONSOLE_RING - 1], 'a' + 99999 % 26);
    assert_int_equal(tail[0], 'a' + (300000 - RT_CONSOLE_RING) % 100000 % 26);
    /* one feed larger than the ring */
    static char big[RT_CONSOLE_RING + 10];
    memset(big, 'z', sizeof(big));
    rt_console_feed(c, big, sizeof(big));
    assert_int_equal(rt_console_dropped(c), 300000 + 10);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(rt_console_add_client(c, sv[0]), 0);
    char hello[64] = "";
    assert_true(read(sv[1], hello, strlen(RT_CONSOLE_HELLO "300010\n")) > 0);
    assert_string_equal(hello, RT_CONSOLE_HELLO "300010\n");
    close(sv[1]);
    rt_console_free(c);
}

struct fixture {
    char dir[256];
    struct rt_state *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    tl_mkdtemp(f->dir, sizeof(f->dir), "rt-trace");
    setenv("CLOISTER_RUN_DIR", f->dir, 1);
    assert_int_equal(rt_state_open(true, &f->st, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rt_state_free(f->st);
    tl_rmtree(f->dir);
    free(f);
    return 0;
}

static json_t *record(const char *id, const char *name, bool debug)
{
    json_t *r = json_object();
    json_object_set_new(r, "EnclaveName", json_string(name));
    json_object_set_new(r, "EnclaveID", json_string(id));
    json_object_set_new(r, "EnclaveCID", json_integer(16));
    json_object_set_new(r, "Flags", json_string(debug ? "DEBUG_MODE" : "NONE"));
    return r;
}

static void keep(struct fixture *f, const char *id, const char *name, const char *console,
                 time_t mtime)
{
    json_t *r = record(id, name, console != NULL);
    struct rt_end end = { .command = true, .exit_status = 3 };
    struct cl_error err = { 0 };
    if (rt_trace_write(f->st, r, &end, console, console ? strlen(console) : 0, &err) < 0)
        fail_msg("%s", err.reason);
    json_decref(r);
    if (mtime) {
        char p[512];
        snprintf(p, sizeof(p), "%s/ended/%s/trace.json", f->dir, id);
        struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    }
}

static void traces(void **state)
{
    struct fixture *f = *state;
    keep(f, "i-1-enc1", "web", "hello\n", time(NULL) - 100);
    keep(f, "i-1-enc2", "web", "second\n", 0);
    json_t *t = NULL;
    /* by name: the newest */
    assert_int_equal(rt_trace_find(f->st, NULL, "web", &t, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(t, "EnclaveID")), "i-1-enc2");
    assert_string_equal(json_string_value(json_object_get(t, "Reason")),
                        "its command exited with status 3");
    assert_int_equal(json_integer_value(json_object_get(t, "ExitStatus")), 3);
    assert_true(json_is_null(json_object_get(t, "Signal")));
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(rt_trace_console(f->st, t, &buf, &len, NULL), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "second\n", 7);
    free(buf);
    json_decref(t);
    /* by ID; unknown ones; an ID that is not one path component */
    assert_int_equal(rt_trace_find(f->st, "i-1-enc1", NULL, &t, NULL), 0);
    assert_non_null(t);
    json_decref(t);
    assert_int_equal(rt_trace_find(f->st, "i-1-enc9", NULL, &t, NULL), 0);
    assert_null(t);
    assert_int_equal(rt_trace_find(f->st, NULL, "nobody", &t, NULL), 0);
    assert_null(t);
    struct cl_error err = { 0 };
    assert_int_equal(rt_trace_find(f->st, "../x", NULL, &t, &err), CL_EINVAL);
    assert_string_equal(err.reason, "invalid enclave ID '../x'");
    /* a production enclave keeps no console */
    keep(f, "i-1-enc3", "prod", NULL, 0);
    assert_int_equal(rt_trace_find(f->st, "i-1-enc3", NULL, &t, NULL), 0);
    assert_int_equal(rt_trace_console(f->st, t, &buf, &len, NULL), 0);
    assert_null(buf);
    assert_int_equal(len, 0);
    json_decref(t);
    /* removal */
    assert_int_equal(rt_trace_remove(f->st, "i-1-enc2", NULL), 0);
    assert_int_equal(rt_trace_find(f->st, NULL, "web", &t, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(t, "EnclaveID")), "i-1-enc1");
    json_decref(t);
    assert_int_equal(rt_trace_remove(f->st, NULL, NULL), 0);
    assert_int_equal(rt_trace_find(f->st, NULL, "web", &t, NULL), 0);
    assert_null(t);
}

static void bounds(void **state)
{
    struct fixture *f = *state;
    time_t now = time(NULL);
    /* one too old, then RT_TRACE_MAX + 5 more, each older than the next */
    keep(f, "old", "old", NULL, now - RT_TRACE_MAX_AGE_S - 60);
    char id[32];
    for (int i = 0; i < RT_TRACE_MAX + 5; i++) {
        snprintf(id, sizeof(id), "e%03d", i);
        keep(f, id, id, NULL, now - 1000 + i);
    }
    json_t *t = NULL;
    assert_int_equal(rt_trace_find(f->st, "old", NULL, &t, NULL), 0);
    assert_null(t);  /* too old */
    for (int i = 0; i < RT_TRACE_MAX + 5; i++) {
        snprintf(id, sizeof(id), "e%03d", i);
        assert_int_equal(rt_trace_find(f->st, id, NULL, &t, NULL), 0);
        if (i < 5)
            assert_null(t);  /* the oldest beyond RT_TRACE_MAX */
        else
            assert_non_null(t);
        json_decref(t);
    }
    /* a console is kept up to its last RT_TRACE_CONSOLE bytes */
    char *big = malloc(RT_TRACE_CONSOLE + 101);
    memset(big, 'x', RT_TRACE_CONSOLE + 100);
    memcpy(big + RT_TRACE_CONSOLE + 96, "end\n", 5);
    keep(f, "big", "big", big, 0);
    free(big);
    assert_int_equal(rt_trace_find(f->st, "big", NULL, &t, NULL), 0);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(rt_trace_console(f->st, t, &buf, &len, NULL), 0);
    assert_int_equal(len, RT_TRACE_CONSOLE);
    assert_memory_equal(buf + len - 4, "end\n", 4);
    free(buf);
    json_decref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(end_sentences),
        cmocka_unit_test(console_ring),
        cmocka_unit_test_setup_teardown(traces, setup, teardown),
        cmocka_unit_test_setup_teardown(bounds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
