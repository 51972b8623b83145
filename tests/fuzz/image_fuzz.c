/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the image layer reader (image_layer.c over
 * libarchive's tar/gzip/zstd readers): the input is applied as layer 1 and
 * again as layer 2 on the same tree (so whiteouts and opaque markers meet
 * what a lower layer put there), then the tree is written as the customer
 * ramdisk (Docker's init layer, the export walk, linuxkit's rules, the cpio
 * writer) to a sink that only counts. Any crash, leak or sanitizer
 * report is a bug; rejections are expected.
 */
#include <stddef.h>
#include <stdint.h>

#include "image/image_layer.h"
#include "image/image_tree.h"
#include "image/ramdisk.h"

static int count_sink(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    (void)buf;
    (void)err;
    *(size_t *)ctx += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_tree *t = NULL;
    if (image_tree_new(NULL, &t, NULL) < 0)
        return 0;
    struct cl_error err = {0};
    if (image_layer_apply_buffer(t, data, size, 1, &err) == 0 &&
        image_layer_apply_buffer(t, data, size, 2, &err) == 0) {
        char *cmd[] = { "/bin/sh" }, *env[] = { "A=1" };
        size_t n = 0;
        /* rejections (a name or time cpio cannot carry) are expected */
        (void)ramdisk_write_customer(t, cmd, 1, env, 1, NULL, count_sink, &n, &err);
    }
    image_tree_free(t);
    return 0;
}
