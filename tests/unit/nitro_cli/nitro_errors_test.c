/* SPDX-License-Identifier: Apache-2.0 */
/* nitro_cli/nitro_errors: nitro-cli's error numbers and titles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cloister/error.h>

#include "nitro_cli/nitro_errors.h"

static void numbers_are_nitro_clis(void **state)
{
    (void)state;
    /* NitroCliErrorEnum's order: the E-number is the index. */
    assert_int_equal(E_MISSING_ARGUMENT, 1);
    assert_int_equal(E_FILE_OPERATION, 19);
    assert_int_equal(E_INSUFFICIENT_MEMORY_REQUESTED, 26);
    assert_int_equal(E_EIF_PARSING, 35);
    assert_int_equal(E_ENCLAVE_BOOT_FAILURE, 36);
    assert_int_equal(E_ENCLAVE_CONSOLE_CONNECTION, 44);
    assert_int_equal(E_EIF_BUILDING, 48);
    assert_int_equal(E_BLOBS_PATH_NOT_SET, 52);
    assert_int_equal(E_ENCLAVE_NAMING, 58);
    assert_int_equal(E_EIF_SIGNING, 60);
}

static void titles_are_nitro_clis(void **state)
{
    (void)state;
    assert_string_equal(nitro_error_title(E_MISSING_ARGUMENT), "Missing mandatory argument");
    assert_string_equal(nitro_error_title(E_INVALID_ARGUMENT), "Invalid argument provided");
    assert_string_equal(nitro_error_title(E_FILE_OPERATION), "File operation failure");
    assert_string_equal(nitro_error_title(E_EIF_PARSING), "EIF file parsing error");
    assert_string_equal(nitro_error_title(E_EIF_BUILDING), "Could not build EIF file");
    assert_string_equal(nitro_error_title(E_ATTESTATION),
                        "Attestation document verification failed");
    /* every number up to the last has a title */
    for (int e = 0; e < E_NITRO_MAX; e++)
        assert_non_null(nitro_error_title((enum nitro_errno)e));
}

static void unknown_numbers_are_unspecified(void **state)
{
    (void)state;
    assert_string_equal(nitro_error_title((enum nitro_errno)61), "Unspecified error");
    assert_string_equal(nitro_error_title((enum nitro_errno)-1), "Unspecified error");
    assert_string_equal(nitro_error_title(E_NITRO_MAX), "Unspecified error");
}

static void eif_open_failures_map_to_e19_or_e35(void **state)
{
    (void)state;
    assert_int_equal(nitro_errno_of_eif_open(CL_ENOTFOUND), E_FILE_OPERATION);
    assert_int_equal(nitro_errno_of_eif_open(CL_EIO), E_FILE_OPERATION);
    assert_int_equal(nitro_errno_of_eif_open(CL_EINVAL), E_FILE_OPERATION);
    assert_int_equal(nitro_errno_of_eif_open(CL_ENOMEM), E_FILE_OPERATION);
    assert_int_equal(nitro_errno_of_eif_open(CL_EFORMAT), E_EIF_PARSING);
    assert_int_equal(nitro_errno_of_eif_open(CL_EUNSUPPORTED), E_EIF_PARSING);
    assert_int_equal(nitro_errno_of_eif_open(CL_ELIMIT), E_EIF_PARSING);
}

static void ca_failures_map_to_one_number_for_every_command(void **state)
{
    (void)state;
    assert_int_equal(nitro_errno_of_ca(CL_EPERM), E_FILE_PERMISSIONS);
    assert_int_equal(nitro_errno_of_ca(CL_EINVAL), E_INVALID_ARGUMENT);
    assert_int_equal(nitro_errno_of_ca(CL_ENOTFOUND), E_FILE_OPERATION);
    assert_int_equal(nitro_errno_of_ca(CL_EIO), E_FILE_OPERATION);
    assert_int_equal(nitro_errno_of_ca(CL_EEXIST), E_FILE_OPERATION);
    /* a damaged CA: attest said E00 here, attestation-ca E19 */
    assert_int_equal(nitro_errno_of_ca(CL_EFORMAT), E_FILE_OPERATION);
    assert_int_equal(nitro_errno_of_ca(CL_ELIMIT), E_FILE_OPERATION);
    assert_int_equal(nitro_errno_of_ca(CL_ENOMEM), E_UNSPECIFIED);
    assert_int_equal(nitro_errno_of_ca(CL_ECRYPTO), E_UNSPECIFIED);
    assert_int_equal(nitro_errno_of_ca(CL_ESTATE), E_UNSPECIFIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_are_nitro_clis),
        cmocka_unit_test(titles_are_nitro_clis),
        cmocka_unit_test(unknown_numbers_are_unspecified),
        cmocka_unit_test(eif_open_failures_map_to_e19_or_e35),
        cmocka_unit_test(ca_failures_map_to_one_number_for_every_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
