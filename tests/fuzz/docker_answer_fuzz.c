/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what a Docker daemon answers build-enclave
 * (docker_engine.h, docker_inspect.h): the input is fed as a JSON message
 * stream (a pull's or a build's answer) cut in two where its first byte
 * says, and read as an image inspect answer whose DockerInfo is made and
 * printed. Any crash, leak or sanitizer report is a bug; rejections are
 * expected.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "image/docker_engine.h"
#include "image/docker_inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cl_error err = { 0 };
    struct docker_messages m = { 0 };
    size_t cut = size ? data[0] % (size + 1) : 0;
    if (docker_messages_feed(&m, (const char *)data, cut, &err) == 0 &&
        docker_messages_feed(&m, (const char *)data + cut, size - cut, &err) == 0)
        (void)docker_messages_end(&m, &err);
    docker_messages_clear(&m);

    json_t *inspect = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *info = NULL;
    if (inspect && docker_inspect_info(inspect, &info, &err) == 0)
        free(json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref(info);
    json_decref(inspect);
    return 0;
}
