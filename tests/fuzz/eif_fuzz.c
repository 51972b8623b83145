/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the EIF reader: the walk, the table checks, the
 * metadata check, the signature section (CBOR, PEM, COSE_Sign1) and the
 * measurements, over an in-memory file (eif_open_buffer).
 * Seeds: tests/fuzz/corpus/eif/ (the golden 910-byte EIF, a signed one, a v3).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cloister/eif.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    if (eif_open_buffer(data, size, &e, &err) < 0)
        return 0;
    (void)eif_crc_ok(e);
    (void)eif_signature_ok(e);
    (void)eif_check_signature(e, (time_t)1700000000, &err);
    const char *meta = eif_metadata_json(e);
    if (meta)
        (void)strlen(meta);
    size_t len;
    (void)eif_cmdline(e, &len);
    for (size_t i = 0; i < eif_ramdisk_count(e); i++) {
        uint8_t *rd = NULL;
        if (eif_read_ramdisk(e, i, &rd, &len, &err) == 0)
            free(rd);
    }
    for (size_t i = 0; eif_section(e, i); i++)
        (void)eif_section(e, i)->size;
    eif_free(e);
    return 0;
}
