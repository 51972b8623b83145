/* SPDX-License-Identifier: Apache-2.0 */
/* image_config: the command and environment from the image config (Cmd
 * over Entrypoint, never combined), the architecture flag, and the --cmd /
 * --env overrides, with each error's exact reason. */
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "testlib/testlib.h"

static struct image *blank(void)
{
    struct image *img = calloc(1, sizeof(*img));
    assert_non_null(img);
    return img;
}

static json_t *J(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static void cmd_wins_over_entrypoint(void **state)
{
    (void)state;
    struct image *img = blank();
    json_t *c =
        J("{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"a\",\"b\"],"
          "\"Entrypoint\":[\"ep\"],\"Env\":[\"K=V\"],\"WorkingDir\":\"/w\",\"User\":\"u\"}}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_int_equal(img->ncmd, 2);
    assert_string_equal(img->cmd[0], "a");
    assert_string_equal(img->cmd[1], "b");
    assert_true(img->has_cmd);
    assert_int_equal(img->nenv, 1);
    assert_int_equal(img->eif_flags, 0);
    assert_string_equal(img->workdir, "/w"); /* kept to be reported, never used */
    json_decref(c);

    c = J("{\"architecture\":\"arm64\",\"config\":{\"Cmd\":null,\"Entrypoint\":[\"ep\",\"x\"]}}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_int_equal(img->ncmd, 2);
    assert_string_equal(img->cmd[0], "ep");
    assert_int_equal(img->nenv, 0);
    assert_int_equal(img->eif_flags, 1);
    assert_null(img->workdir);
    json_decref(c);

    c = J("{\"config\":{}}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_false(img->has_cmd);
    json_decref(c);

    struct cl_error err = { 0 };
    c = J("{\"architecture\":\"s390x\"}");
    assert_int_equal(image_apply_config(img, c, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason, "unsupported image architecture 's390x' (amd64 or arm64)");
    json_decref(c);
    cl_error_clear(&err);
    c = J("{\"config\":{\"Cmd\":[\"a\",1]}}");
    assert_int_equal(image_apply_config(img, c, &err), CL_EFORMAT);
    assert_string_equal(err.reason, "image config: Cmd[1] is not a string");
    json_decref(c);
    image_free(img);
}

static void cmd_and_env_overrides(void **state)
{
    (void)state;
    struct image *img = blank();
    struct cl_error err = { 0 };
    assert_int_equal(image_set_cmd(img, "  /bin/sh  -c\tx ", NULL), 0);
    assert_int_equal(img->ncmd, 3);
    assert_string_equal(img->cmd[2], "x");
    assert_int_equal(image_set_cmd(img, "[\"/bin/sh\", \"-c\", \"echo a b\"]", NULL), 0);
    assert_int_equal(img->ncmd, 3);
    assert_string_equal(img->cmd[2], "echo a b");
    assert_int_equal(image_set_cmd(img, "   ", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--cmd: empty command");
    cl_error_clear(&err);
    assert_int_equal(image_set_cmd(img, "[1]", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--cmd: the JSON array must hold strings only");
    cl_error_clear(&err);
    assert_int_equal(image_set_env(img, "A=1", NULL), 0);
    assert_int_equal(image_set_env(img, "AB=2", NULL), 0);
    assert_int_equal(image_set_env(img, "A=3=4", NULL), 0);
    assert_int_equal(img->nenv, 2);
    assert_string_equal(img->env[0], "A=3=4");
    assert_int_equal(image_set_env(img, "=x", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--env '=x': expected KEY=VALUE");
    image_free(img);
}

/* docker inspect's capitalised keys, the architecture aliases, and the
 * shapes that are refused. */
static void config_shapes(void **state)
{
    (void)state;
    struct image *img = blank();
    json_t *c = J("{\"Architecture\":\"aarch64\",\"Config\":{\"Entrypoint\":[\"/ep\"],"
                  "\"Env\":null}}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_int_equal(img->eif_flags, 1);
    assert_string_equal(img->cmd[0], "/ep");
    assert_int_equal(img->nenv, 0);
    json_decref(c);
    c = J("{\"architecture\":\"x86_64\",\"config\":null}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_int_equal(img->eif_flags, 0);
    assert_false(img->has_cmd);
    assert_int_equal(img->ncmd, 0);
    json_decref(c);
    c = J("{\"config\":{\"Cmd\":[]}}");
    assert_int_equal(image_apply_config(img, c, NULL), 0);
    assert_false(img->has_cmd); /* an empty Cmd is no command */
    json_decref(c);

    static const struct {
        const char *json;
        int code;
        const char *reason;
    } bad[] = {
        { "[]", CL_EFORMAT, "image config is not a JSON object" },
        { "{\"config\":[]}", CL_EFORMAT, "image config: config is not an object" },
        { "{\"config\":{\"Env\":\"A=1\"}}", CL_EFORMAT,
          "image config: Env is not an array of strings" },
        { "{\"config\":{\"Entrypoint\":{}}}", CL_EFORMAT,
          "image config: Entrypoint is not an array of strings" },
        { "{\"architecture\":7}", CL_EUNSUPPORTED,
          "unsupported image architecture '?' (amd64 or arm64)" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cl_error err = { 0 };
        c = J(bad[i].json);
        assert_int_equal(image_apply_config(img, c, &err), bad[i].code);
        assert_string_equal(err.reason, bad[i].reason);
        json_decref(c);
    }
    image_free(img);
}

static void overrides_refused(void **state)
{
    (void)state;
    struct image *img = blank();
    struct cl_error err = { 0 };
    assert_int_equal(image_set_cmd(img, "[\"a\"", &err), CL_EINVAL);
    assert_non_null(strstr(err.reason, "--cmd: not a JSON array: "));
    cl_error_clear(&err);
    assert_int_equal(image_set_cmd(img, "[]", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--cmd: empty command");
    cl_error_clear(&err);
    assert_int_equal(image_set_env(img, "A=1\nB=2", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--env 'A=1\nB=2': contains a newline");
    cl_error_clear(&err);
    assert_int_equal(image_set_env(img, "NOVALUE", &err), CL_EINVAL);
    assert_string_equal(err.reason, "--env 'NOVALUE': expected KEY=VALUE");
    assert_int_equal(img->nenv, 0);
    assert_false(img->has_cmd);
    image_free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cmd_wins_over_entrypoint),
        cmocka_unit_test(cmd_and_env_overrides),
        cmocka_unit_test(config_shapes),
        cmocka_unit_test(overrides_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
