/* SPDX-License-Identifier: Apache-2.0 */
/* docker_engine: the API version negotiation, the JSON message streams of
 * pulls and builds fed in any cut, the daemon's whereabouts and their
 * errors, and whole calls against a stand-in daemon on a Unix socket (the
 * /version exchange, versioned paths, a streamed request body, a failure's
 * reason). The real daemon is in tests/integration/test_build_docker.py. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "image/docker_engine.h"
#include "testlib/testlib.h"

static void picks_the_version(void **state)
{
    (void)state;
    char v[12];
    struct cl_error err = { 0 };
    assert_int_equal(docker_engine_pick_version("1.41", v, NULL), 0);
    assert_string_equal(v, "1.41"); /* Docker 20.10 */
    assert_int_equal(docker_engine_pick_version("1.52", v, NULL), 0);
    assert_string_equal(v, "1.49"); /* newer daemons: what nitro-cli 1.5 asks for */
    assert_int_equal(docker_engine_pick_version("2.0", v, NULL), 0);
    assert_string_equal(v, "1.49");
    assert_int_equal(docker_engine_pick_version("1.24", v, NULL), 0);
    assert_string_equal(v, "1.24");
    assert_int_equal(docker_engine_pick_version("1.23", v, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason, "the Docker daemon speaks Engine API 1.23; Cloister needs "
                                    "1.24 or later");
    const char *bad[] = { "1", "1.", ".4", "1.41.0", "v1.41", "1.41 ", "12345.1", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        cl_error_clear(&err);
        assert_int_equal(docker_engine_pick_version(bad[i], v, &err), CL_EFORMAT);
    }
    assert_string_equal(err.reason, "the Docker daemon's ApiVersion '' is not <major>.<minor>");
}

static void message_streams(void **state)
{
    (void)state;
    const char stream[] = "{\"stream\":\"Step 1/2 : FROM scratch\"}\r\n"
                          "{\"stream\":\"\\n\"}\r\n\r\n"
                          "{\"errorDetail\":{\"message\":\"first\"},\"error\":\"first\"}\r\n"
                          "{\"error\":\"second\"}";
    /* any cut of the bytes gives the same: the first error, the last line taken at the end */
    for (size_t cut = 0; cut <= sizeof(stream) - 1; cut++) {
        struct docker_messages m = { 0 };
        assert_int_equal(docker_messages_feed(&m, stream, cut, NULL), 0);
        assert_int_equal(docker_messages_feed(&m, stream + cut, sizeof(stream) - 1 - cut, NULL), 0);
        assert_int_equal(docker_messages_end(&m, NULL), 0);
        assert_string_equal(m.error, "first");
        docker_messages_clear(&m);
    }
    struct docker_messages m = { 0 };
    struct cl_error err = { 0 };
    assert_int_equal(docker_messages_feed(&m, "{\"status\":\"ok\"}\n", 16, NULL), 0);
    assert_null(m.error);
    assert_int_equal(docker_messages_feed(&m, "not json\n", 9, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "Docker daemon: a message of its answer is not a JSON object");
    docker_messages_clear(&m);
    char *big = malloc(DOCKER_ENGINE_MESSAGE_MAX + 1);
    memset(big, ' ', DOCKER_ENGINE_MESSAGE_MAX + 1);
    cl_error_clear(&err);
    assert_int_equal(docker_messages_feed(&m, big, DOCKER_ENGINE_MESSAGE_MAX + 1, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "Docker daemon: a message of its answer is over 1048576 bytes");
    docker_messages_clear(&m);
    free(big);
}

static void finding_the_daemon(void **state)
{
    (void)state;
    struct docker_engine *e = NULL;
    struct cl_error err = { 0 };
    setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
    assert_int_equal(docker_engine_open(NULL, "a hint", &e, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason, "DOCKER_HOST 'tcp://127.0.0.1:2375' is not supported: "
                                    "Cloister reaches the Docker daemon through its Unix socket "
                                    "(unix://PATH); a hint");
    setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock", 1);
    cl_error_clear(&err);
    assert_int_equal(docker_engine_open(NULL, NULL, &e, &err), CL_ENOTFOUND);
    assert_string_equal(err.reason, "no Docker daemon is reachable at /nonexistent/docker.sock "
                                    "(No such file or directory)");
    unsetenv("DOCKER_HOST");
    cl_error_clear(&err);
    assert_int_equal(docker_engine_open("/nonexistent/other.sock", "h", &e, &err), CL_ENOTFOUND);
    assert_string_equal(err.reason, "no Docker daemon is reachable at /nonexistent/other.sock "
                                    "(No such file or directory); h");
    assert_null(e);
}

/* ---- a stand-in daemon: one answer per connection, from a script ---- */

struct exchange {
    const char *answer; /* the whole HTTP answer */
    char request[512];  /* what came: the request line */
    char body[256];     /* and its body */
};

struct stand_in {
    int listener;
    struct exchange *x;
    size_t n;
};

/* A request's line and body into x; false when the peer closed without
 * one (docker_engine_open()'s reachability check connects and hangs up). */
static bool take_request(int c, struct exchange *x)
{
    char buf[4096] = { 0 };
    size_t len = 0;
    char *end = NULL;
    while (!(end = strstr(buf, "\r\n\r\n"))) {
        ssize_t r = read(c, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            return false;
        len += (size_t)r;
        buf[len] = '\0';
    }
    snprintf(x->request, sizeof(x->request), "%.*s", (int)strcspn(buf, "\r"), buf);
    const char *cl = strstr(buf, "Content-Length: ");
    size_t want = cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - buf);
    memcpy(x->body, end + 4, have);
    while (have < want && have < sizeof(x->body) - 1) {
        ssize_t r = read(c, x->body + have, want - have);
        if (r <= 0)
            return false;
        have += (size_t)r;
    }
    return true;
}

/* No cmocka assertion here: a failure on this thread could not unwind the
 * test; a missing exchange shows in the main thread's checks instead. */
static void *serve(void *arg)
{
    struct stand_in *s = arg;
    for (size_t i = 0; i < s->n;) {
        int c = accept(s->listener, NULL, NULL);
        if (c < 0)
            return NULL;
        if (take_request(c, &s->x[i])) {
            size_t n = strlen(s->x[i].answer);
            if (write(c, s->x[i].answer, n) != (ssize_t)n)
                s->x[i].request[0] = '\0';
            i++;
        }
        close(c);
    }
    return NULL;
}

#define OK_JSON(body) \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" body

static void calls_through_a_stand_in(void **state)
{
    (void)state;
    char dir[256], sock[300];
    tl_mkdtemp(dir, sizeof(dir), "docker-engine");
    tl_path(sock, sizeof(sock), dir, "d.sock");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    assert_true(strlen(sock) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    struct exchange x[] = {
        { .answer = OK_JSON("{\"ApiVersion\":\"1.52\",\"Version\":\"29.0.0\"}") },
        { .answer = OK_JSON("{\"Id\":\"sha256:1\"}") },
        { .answer = OK_JSON("{\"stream\":\"Step 1/1\"}\r\n{\"error\":\"it broke\"}\r\n") },
        { .answer = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                    "Connection: close\r\n\r\n{\"message\":\"No such image: x:latest\"}\n" },
    };
    struct stand_in s = { .listener = socket(AF_UNIX, SOCK_STREAM, 0), .x = x, .n = 4 };
    assert_int_equal(bind(s.listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s.listener, 4), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve, &s), 0);

    struct docker_engine *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(docker_engine_open(sock, NULL, &e, &err), 0);
    assert_string_equal(e->version, "1.49");
    struct docker_call c = {
        .method = "GET", .path = "/images/x:latest/json", .upload_fd = -1, .download_fd = -1
    };
    assert_int_equal(docker_engine_call(e, &c, &err), 0);
    assert_int_equal(c.status, 200);
    assert_string_equal(c.body, "{\"Id\":\"sha256:1\"}");
    docker_call_clear(&c);

    char body_path[400];
    tl_path(body_path, sizeof(body_path), dir, "body");
    tl_write_file(body_path, "the context", 11);
    FILE *body = fopen(body_path, "r");
    c = (struct docker_call){ .method = "POST",
                              .path = "/build?t=x%3Alatest",
                              .upload_fd = fileno(body),
                              .upload_len = 11,
                              .content_type = "application/x-tar",
                              .download_fd = -1,
                              .messages = true };
    assert_int_equal(docker_engine_call(e, &c, &err), 0);
    assert_int_equal(c.status, 200);
    assert_string_equal(c.msgs.error, "it broke");
    docker_call_clear(&c);
    fclose(body);

    c = (struct docker_call){ .method = "GET",
                              .path = "/images/x:latest/get",
                              .upload_fd = -1,
                              .download_fd = 1 /* not written: the answer is 404 */ };
    assert_int_equal(docker_engine_call(e, &c, &err), 0);
    assert_int_equal(c.status, 404);
    assert_string_equal(docker_call_reason(&c), "No such image: x:latest");
    docker_call_clear(&c);
    docker_engine_free(e);
    pthread_join(t, NULL);
    close(s.listener);

    assert_string_equal(x[0].request, "GET /version HTTP/1.1");
    assert_string_equal(x[1].request, "GET /v1.49/images/x:latest/json HTTP/1.1");
    assert_string_equal(x[2].request, "POST /v1.49/build?t=x%3Alatest HTTP/1.1");
    assert_string_equal(x[2].body, "the context");
    assert_string_equal(x[3].request, "GET /v1.49/images/x:latest/get HTTP/1.1");
    tl_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(picks_the_version),
        cmocka_unit_test(message_streams),
        cmocka_unit_test(finding_the_daemon),
        cmocka_unit_test(calls_through_a_stand_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
