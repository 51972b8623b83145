/* SPDX-License-Identifier: Apache-2.0 */
/* Security review S4 (docs/security-review.md): the files an OCI layout
 * names are read below the layout's directory only; a symbolic link or a
 * name that climbs out is refused instead of reading the host's file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/image.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_oci_layout_link_out_of_the_directory(void **state)
{
    (void)state;
    char top[] = "/tmp/image_store_XXXXXX", layout[128], p[256];
    assert_non_null(mkdtemp(top));
    snprintf(layout, sizeof(layout), "%s/layout", top);
    assert_int_equal(mkdir(layout, 0755), 0);
    snprintf(p, sizeof(p), "%s/oci-layout", layout);
    write_file(p, "{\"imageLayoutVersion\": \"1.0.0\"}");
    /* a host file outside the layout */
    char secret[256];
    snprintf(secret, sizeof(secret), "%s/secret.json", top);
    write_file(secret, "{\"schemaVersion\": 2, \"manifests\": []}");
    /* index.json -> ../secret.json: climbs out */
    char link[256];
    snprintf(link, sizeof(link), "%s/index.json", layout);
    assert_int_equal(symlink("../secret.json", link), 0);
    struct image *img = NULL;
    struct cl_error err = { 0 };
    int rc = image_from_oci_layout(layout, NULL, &img, &err);
    assert_int_equal(rc, CL_EFORMAT);
    assert_null(img);
    snprintf(p, sizeof(p), "OCI layout '%s': 'index.json' is outside the image directory", layout);
    assert_string_equal(err.reason, p);

    /* an absolute link is refused the same way */
    unlink(link);
    assert_int_equal(symlink(secret, link), 0);
    cl_error_clear(&err);
    rc = image_from_oci_layout(layout, NULL, &img, &err);
    assert_int_equal(rc, CL_EFORMAT);
    snprintf(p, sizeof(p), "OCI layout '%s': 'index.json' is outside the image directory", layout);
    assert_string_equal(err.reason, p);

    /* a link that stays inside is followed (the index has no manifest) */
    unlink(link);
    snprintf(p, sizeof(p), "%s/real-index.json", layout);
    write_file(p, "{\"schemaVersion\": 2, \"manifests\": []}");
    assert_int_equal(symlink("real-index.json", link), 0);
    cl_error_clear(&err);
    rc = image_from_oci_layout(layout, NULL, &img, &err);
    assert_true(rc < 0);
    assert_null(strstr(err.reason, "outside the image directory"));

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oci_layout_link_out_of_the_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
