/* SPDX-License-Identifier: Apache-2.0 */
/* docker_inspect: Docker 20.10's `docker image inspect` answer becomes
 * the DockerInfo nitro-cli writes (bollard's ImageInspect fields only,
 * nulls left out, GraphDriver.Data null -> {}, keys sorted when dumped),
 * and every answer bollard would refuse is refused with its path. */
#include <stdlib.h>
#include <string.h>

#include "image/docker_inspect.h"
#include "testlib/testlib.h"

/* A real answer of Docker 20.10.24 (API 1.41) for an image built FROM
 * scratch with COPY and CMD. */
static const char INSPECT_20_10[] =
    "{\"Id\":\"sha256:a86a15bb\",\"RepoTags\":[\"t1:v1\"],\"RepoDigests\":[],"
    "\"Parent\":\"sha256:4bb9db27\",\"Comment\":\"\",\"Created\":\"2026-12-04T18:47:06."
    "542969579Z\","
    "\"Container\":\"d0bb760d0d70\",\"ContainerConfig\":{\"Hostname\":\"d0bb760d0d70\","
    "\"Cmd\":[\"/bin/sh\",\"-c\",\"#(nop) \",\"CMD [\\\"/d/run\\\"]\"],\"Labels\":{}},"
    "\"DockerVersion\":\"20.10.24+dfsg1\",\"Author\":\"\","
    "\"Config\":{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,"
    "\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,"
    "\"StdinOnce\":false,\"Env\":[\"PATH=/usr/bin:/bin\"],\"Cmd\":[\"/d/run\"],"
    "\"Image\":\"sha256:4bb9db27\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":null,"
    "\"OnBuild\":null,\"Labels\":null},"
    "\"Architecture\":\"amd64\",\"Os\":\"linux\",\"Size\":48,\"VirtualSize\":48,"
    "\"GraphDriver\":{\"Data\":null,\"Name\":\"vfs\"},"
    "\"RootFS\":{\"Type\":\"layers\",\"Layers\":[\"sha256:6d3c8ca0\"]},"
    "\"Metadata\":{\"LastTagTime\":\"2026-12-04T18:47:07.032713956Z\"}}";

static const char INFO_20_10[] =
    "{\"Architecture\":\"amd64\",\"Author\":\"\",\"Comment\":\"\","
    "\"Config\":{\"AttachStderr\":false,\"AttachStdin\":false,\"AttachStdout\":false,"
    "\"Cmd\":[\"/d/run\"],\"Domainname\":\"\",\"Env\":[\"PATH=/usr/bin:/bin\"],\"Hostname\":\"\","
    "\"Image\":\"sha256:4bb9db27\",\"OpenStdin\":false,\"StdinOnce\":false,\"Tty\":false,"
    "\"User\":\"\",\"WorkingDir\":\"\"},"
    "\"Created\":\"2026-12-04T18:47:06.542969579Z\",\"DockerVersion\":\"20.10.24+dfsg1\","
    "\"GraphDriver\":{\"Data\":{},\"Name\":\"vfs\"},\"Id\":\"sha256:a86a15bb\","
    "\"Metadata\":{\"LastTagTime\":\"2026-12-04T18:47:07.032713956Z\"},\"Os\":\"linux\","
    "\"Parent\":\"sha256:4bb9db27\",\"RepoDigests\":[],\"RepoTags\":[\"t1:v1\"],"
    "\"RootFS\":{\"Layers\":[\"sha256:6d3c8ca0\"],\"Type\":\"layers\"},\"Size\":48,"
    "\"VirtualSize\":48}";

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

/* The DockerInfo of in, dumped as the metadata dumps it. */
static char *info_of(const char *in)
{
    json_t *j = J(in), *out = NULL;
    struct cl_error err = { 0 };
    if (docker_inspect_info(j, &out, &err) != 0)
        fail_msg("refused: %s", err.reason);
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    json_decref(out);
    return s;
}

static void refused(const char *in, const char *reason)
{
    json_t *j = J(in), *out = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(docker_inspect_info(j, &out, &err), CL_EFORMAT);
    assert_null(out);
    assert_string_equal(err.reason, reason);
    json_decref(j);
}

static void docker_20_10_answer(void **state)
{
    (void)state;
    char *s = info_of(INSPECT_20_10);
    assert_string_equal(s, INFO_20_10);
    free(s);
}

/* Docker 28's answer at API 1.49 (Descriptor, no VirtualSize), with the
 * config fields a Dockerfile can set. */
static void newer_fields(void **state)
{
    (void)state;
    char *s = info_of(
        "{\"Id\":\"sha256:1\",\"Descriptor\":{\"mediaType\":\"m\",\"digest\":\"sha256:2\","
        "\"size\":3,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\","
        "\"x\":1},\"annotations\":{\"k\":\"v\"}},"
        "\"Config\":{\"ExposedPorts\":{\"80/tcp\":{}},\"Volumes\":{\"/data\":{}},"
        "\"Labels\":{\"b\":\"2\",\"a\":\"1\"},\"Healthcheck\":{\"Test\":[\"CMD\",\"x\"],"
        "\"Interval\":5,\"Foo\":0},\"StopSignal\":\"SIGTERM\",\"Shell\":[\"/bin/sh\",\"-c\"],"
        "\"Entrypoint\":[\"/e\"],\"ArgsEscaped\":true,\"OnBuild\":[]},"
        "\"Manifests\":[{\"ID\":\"sha256:3\",\"Descriptor\":{\"size\":1},\"Available\":true,"
        "\"Size\":{\"Total\":1,\"Content\":1},\"Kind\":\"\",\"ImageData\":{\"Platform\":{},"
        "\"Containers\":null,\"Size\":{\"Unpacked\":0}}},{\"ID\":\"sha256:4\",\"Descriptor\":{},"
        "\"Available\":false,\"Size\":{\"Total\":0,\"Content\":0},\"Kind\":\"attestation\","
        "\"AttestationData\":{\"For\":\"sha256:3\"}}],"
        "\"Variant\":\"v8\",\"OsVersion\":\"\",\"Unknown\":{\"a\":1}}");
    assert_string_equal(
        s, "{\"Config\":{\"ArgsEscaped\":true,\"Entrypoint\":[\"/e\"],\"ExposedPorts\":{\"80/tcp\":"
           "{}},\"Healthcheck\":{\"Interval\":5,\"Test\":[\"CMD\",\"x\"]},\"Labels\":{\"a\":\"1\","
           "\"b\":\"2\"},\"OnBuild\":[],\"Shell\":[\"/bin/sh\",\"-c\"],\"StopSignal\":\"SIGTERM\","
           "\"Volumes\":{\"/data\":{}}},\"Descriptor\":{\"annotations\":{\"k\":\"v\"},\"digest\":"
           "\"sha256:2\",\"mediaType\":\"m\",\"platform\":{\"architecture\":\"arm64\",\"os\":"
           "\"linux\",\"variant\":\"v8\"},\"size\":3},\"Id\":\"sha256:1\",\"Manifests\":[{"
           "\"Available\":true,\"Descriptor\":{\"size\":1},\"ID\":\"sha256:3\",\"ImageData\":{"
           "\"Containers\":[],\"Platform\":{},\"Size\":{\"Unpacked\":0}},\"Size\":{\"Content\":1,"
           "\"Total\":1}},{\"AttestationData\":{\"For\":\"sha256:3\"},\"Available\":false,"
           "\"Descriptor\":{},\"ID\":\"sha256:4\",\"Kind\":\"attestation\",\"Size\":{\"Content\":0,"
           "\"Total\":0}}],\"OsVersion\":\"\",\"Variant\":\"v8\"}");
    free(s);
    /* everything optional: an empty answer is an empty DockerInfo */
    s = info_of("{}");
    assert_string_equal(s, "{}");
    free(s);
}

static void refusals(void **state)
{
    (void)state;
    refused("[]", "the image inspect's '(top)' is not an object");
    refused("{\"Id\":1}", "the image inspect's 'Id' is not a string");
    refused("{\"Config\":{\"Cmd\":\"/x\"}}",
            "the image inspect's 'Config.Cmd' is not an array of strings");
    refused("{\"Config\":{\"Env\":[\"A=1\",null]}}",
            "the image inspect's 'Config.Env' is not an array of strings");
    refused("{\"Config\":[]}", "the image inspect's 'Config' is not an object");
    refused("{\"Config\":{\"Labels\":{\"a\":1}}}",
            "the image inspect's 'Config.Labels' is not an object of strings");
    refused("{\"Config\":{\"ExposedPorts\":{\"80/tcp\":{\"a\":1}}}}",
            "the image inspect's 'Config.ExposedPorts' is not an object of empty objects");
    refused("{\"Config\":{\"Tty\":0}}", "the image inspect's 'Config.Tty' is not a boolean");
    refused("{\"Size\":1.5}", "the image inspect's 'Size' is not an integer");
    refused("{\"GraphDriver\":{\"Data\":{}}}", "the image inspect's 'GraphDriver.Name' is missing");
    refused("{\"GraphDriver\":{\"Name\":\"vfs\"}}",
            "the image inspect's 'GraphDriver.Data' is missing");
    refused("{\"RootFS\":{\"Type\":null}}", "the image inspect's 'RootFS.Type' is null");
    refused("{\"Manifests\":{}}", "the image inspect's 'Manifests' is not an array");
    refused("{\"Manifests\":[{\"ID\":\"x\",\"Descriptor\":{},\"Available\":true,\"Size\":{"
            "\"Total\":0,\"Content\":0},\"Kind\":\"other\"}]}",
            "the image inspect's 'Manifests[0].Kind' is not one of its values");
    refused("{\"Manifests\":[{\"ID\":\"x\",\"Descriptor\":{},\"Available\":true,\"Size\":{"
            "\"Total\":0}}]}",
            "the image inspect's 'Manifests[0].Size.Content' is missing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(docker_20_10_answer),
        cmocka_unit_test(newer_fields),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
