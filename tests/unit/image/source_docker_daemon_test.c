/* SPDX-License-Identifier: Apache-2.0 */
/* source_docker_daemon: image references as nitro-cli takes them (":latest"
 * added when there is no ':'), the refused ones, and the error of each way
 * in when no daemon listens (the hint names what to do instead). */
#include <stdlib.h>
#include <string.h>

#include "image/docker_daemon.h"
#include "image/image.h"
#include "testlib/testlib.h"

static void references(void **state)
{
    (void)state;
    const char *cases[][2] = {
        { "app", "app:latest" },
        { "app:v1", "app:v1" },
        { "registry.example.com:5000/team/app", "registry.example.com:5000/team/app" },
        { "app@sha256:0123", "app@sha256:0123" },
        { "a/b-c_d.e", "a/b-c_d.e:latest" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *ref = NULL;
        assert_int_equal(docker_daemon_reference(cases[i][0], &ref, NULL), 0);
        assert_string_equal(ref, cases[i][1]);
        free(ref);
    }
    struct cl_error err = { 0 };
    char *ref = NULL;
    assert_int_equal(docker_daemon_reference("", &ref, &err), CL_EINVAL);
    assert_string_equal(err.reason, "empty Docker image reference");
    cl_error_clear(&err);
    assert_int_equal(docker_daemon_reference("a b", &ref, &err), CL_EINVAL);
    assert_string_equal(err.reason, "invalid Docker image reference 'a b'");
    cl_error_clear(&err);
    assert_int_equal(docker_daemon_reference("x/../y?z", &ref, &err), CL_EINVAL);
    assert_null(ref);
}

static void no_daemon(void **state)
{
    (void)state;
    setenv("DOCKER_HOST", "unix:///nonexistent/d.sock", 1);
    struct cl_error err = { 0 };
    bool pulled = true;
    assert_int_equal(docker_daemon_pull("app", NULL, &pulled, &err), CL_ENOTFOUND);
    assert_false(pulled);
    assert_string_equal(err.reason,
                        "no Docker daemon is reachable at /nonexistent/d.sock (No such file or "
                        "directory); " DOCKER_DAEMON_HINT_URI);
    cl_error_clear(&err);
    struct image *img = NULL;
    assert_int_equal(image_from_docker_daemon("app", NULL, NULL, &img, &err), CL_ENOTFOUND);
    assert_null(img);
    cl_error_clear(&err);
    assert_int_equal(docker_daemon_build("/", "app", NULL, NULL, &err), CL_ENOTFOUND);
    assert_string_equal(err.reason,
                        "no Docker daemon is reachable at /nonexistent/d.sock (No such file or "
                        "directory); " DOCKER_DAEMON_HINT_DIR);
    unsetenv("DOCKER_HOST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(references),
        cmocka_unit_test(no_daemon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
