/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EIF reader: the golden EIF's bytes and measurements (the synthetic
 * 910-byte vector of docs/eif.md), every structural rejection, a bad CRC
 * reported and not refused, the signing certificate's validity at
 * run-enclave's check. The writer is tested in eif_write_test.c, the
 * signature section in eif_sig_test.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <cloister/eif.h>

#include "testlib/eif_golden.h"
#include "testlib/testlib.h"

#define K TL_SEC_K
#define C TL_SEC_C
#define M TL_SEC_M
#define R TL_SEC_R

static struct tl_golden fx;

static int setup(void **state)
{
    (void)state;
    return tl_golden_setup(&fx);
}

static int teardown(void **state)
{
    (void)state;
    return tl_golden_teardown(&fx);
}

/* ---------- golden vector ---------- */

static void golden_bytes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = tl_slurp(fx.eif, &len);
    assert_int_equal(len, 910);
    /* the leading bytes as docs/eif.md prints them (44 of them) */
    tl_check_hex(d, 44, "2e65696600040000000000004000000000000000000000020000000500000000000002"
                     "240000000000000242");
    static const uint64_t offs[5] = { 548, 578, 603, 853, 882 }, sizes[5] = { 18, 13, 238, 17, 16 };
    for (int i = 0; i < 32; i++) {
        uint64_t o = 0, s = 0;
        for (int b = 0; b < 8; b++) {
            o = o << 8 | d[28 + 8 * i + b];
            s = s << 8 | d[284 + 8 * i + b];
        }
        assert_int_equal(o, i < 5 ? offs[i] : 0);
        assert_int_equal(s, i < 5 ? sizes[i] : 0);
    }
    tl_check_hex(d + 544, 4, "c689d869");
    uLong crc = crc32(crc32(0, Z_NULL, 0), d, 544);
    crc = crc32(crc, d + 548, 910 - 548);
    assert_int_equal(crc, 0xc689d869);
    uint8_t sha[32];
    assert_int_equal(EVP_Digest(d, len, sha, NULL, EVP_sha256(), NULL), 1);
    tl_check_hex(sha, 32, "1422e6814d6b54f3f5fcb553df382b1ac146f4304900443f6c513c43a235124d");
    free(d);
}

static void golden_measurements(void **state)
{
    (void)state;
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(fx.eif, &e, &err), 0);
    const struct eif_measurements *m = eif_measurements(e);
    tl_check_hex(m->pcr0, 48, PCR0_HEX);
    tl_check_hex(m->pcr1, 48, PCR1_HEX);
    tl_check_hex(m->pcr2, 48, PCR2_HEX);
    assert_false(m->has_pcr8);
    assert_true(eif_crc_ok(e));
    assert_int_equal(eif_crc_stored(e), 0xc689d869);
    assert_int_equal(eif_version(e), 4);
    assert_int_equal(eif_flags(e), 0);
    assert_int_equal(eif_file_size(e), 910);
    assert_false(eif_is_signed(e));
    assert_false(eif_signature_ok(e));
    assert_int_equal(eif_check_signature(e, time(NULL), &err), 0);
    assert_string_equal(eif_metadata_json(e), GOLDEN_META);
    size_t clen;
    const uint8_t *c = eif_cmdline(e, &clen);
    assert_int_equal(clen, 13);
    assert_memory_equal(c, "console=ttyS0", 13);
    assert_int_equal(eif_section_count(e), 5);
    static const uint16_t types[5] = { 1, 2, 5, 3, 3 };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(eif_section(e, i)->type, types[i]);
    assert_null(eif_section(e, 5));
    assert_int_equal(eif_ramdisk_count(e), 2);
    uint8_t *rd;
    size_t rdlen;
    assert_int_equal(eif_read_ramdisk(e, 1, &rd, &rdlen, &err), 0);
    assert_int_equal(rdlen, 16);
    assert_memory_equal(rd, "CUSTOMER-RAMDISK", 16);
    free(rd);
    assert_int_equal(eif_read_ramdisk(e, 2, &rd, &rdlen, &err), CL_EINVAL);
    assert_string_equal(err.reason, "no ramdisk 2 (the EIF has 2)");
    eif_free(e);
}

/* A ramdisk read in pieces (the runtime streams them) is the whole one. */
static void ramdisk_in_pieces(void **state)
{
    (void)state;
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(fx.eif, &e, &err), 0);
    uint8_t buf[16];
    size_t got = 99;
    assert_int_equal(eif_read_ramdisk_at(e, 1, 0, buf, 5, &got, &err), 0);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "CUSTO", 5);
    assert_int_equal(eif_read_ramdisk_at(e, 1, 10, buf, sizeof(buf), &got, &err), 0);
    assert_int_equal(got, 6);
    assert_memory_equal(buf, "AMDISK", 6);
    assert_int_equal(eif_read_ramdisk_at(e, 1, 16, buf, sizeof(buf), &got, &err), 0);
    assert_int_equal(got, 0);
    assert_int_equal(eif_read_ramdisk_at(e, 1, 17, buf, sizeof(buf), &got, &err), CL_EINVAL);
    assert_string_equal(err.reason, "offset 17 is past the end of ramdisk 1");
    struct cl_error err2 = { 0 };
    assert_int_equal(eif_read_ramdisk_at(e, 2, 0, buf, sizeof(buf), &got, &err2), CL_EINVAL);
    assert_string_equal(err2.reason, "no ramdisk 2 (the EIF has 2)");
    eif_free(e);
}

static void pcr_of_empty_file(void **state)
{
    (void)state;
    char empty[128];
    tl_path(empty, sizeof(empty), fx.dir, "empty-pcr");
    tl_write_file(empty, "", 0);
    uint8_t pcr[48];
    assert_int_equal(eif_pcr_of_file(empty, pcr, NULL), 0);
    tl_check_hex(pcr, 48, EMPTY_PCR_HEX);
    struct cl_error err = { 0 };
    assert_int_equal(eif_pcr_of_file(fx.dir, pcr, &err), CL_EINVAL);
    char want[160];
    snprintf(want, sizeof(want), "'%s' is a directory", fx.dir);
    assert_string_equal(err.reason, want);
    unlink(empty);
}

/* ---------- rejections ---------- */

static uint8_t *golden_copy(size_t *len)
{
    return tl_slurp(fx.eif, len);
}

static void expect_reject(const uint8_t *d, size_t len, int code, const char *reason)
{
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    int rc = eif_open_buffer(d, len, &e, &err);
    if (rc != code || strcmp(err.reason, reason) != 0)
        fail_msg("got %d '%s', want %d '%s'", rc, err.reason, code, reason);
    assert_null(e);
}

static void check_mk(uint16_t version, const struct tl_sec *s, size_t n, int code, const char *why)
{
    size_t len;
    uint8_t *d = tl_mk_eif(version, s, n, &len);
    if (code == 0) {
        struct eif *e = NULL;
        struct cl_error err = { 0 };
        if (eif_open_buffer(d, len, &e, &err) != 0)
            fail_msg("unexpected rejection: %s", err.reason);
        assert_true(eif_crc_ok(e));
        eif_free(e);
    } else {
        expect_reject(d, len, code, why);
    }
    free(d);
}

static void rejects_truncated(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = golden_copy(&len);
    expect_reject(d, 0, CL_EFORMAT, "truncated EIF: 0 bytes, the header alone is 548");
    expect_reject(d, 547, CL_EFORMAT, "truncated EIF: 547 bytes, the header alone is 548");
    expect_reject(d, 553, CL_EFORMAT, "truncated section header at offset 548");
    expect_reject(d, 905, CL_EFORMAT,
                  "section 4 (ramdisk) at offset 882: size 16 runs past the end of the file (905 "
                  "bytes)");
    expect_reject(d, 882, CL_EFORMAT, "the header lists 5 sections, the file holds 4");
    expect_reject(d, 548, CL_EFORMAT, "the header lists 5 sections, the file holds 0");
    free(d);
}

static void rejects_bad_header(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = golden_copy(&len);
    d[0] = 'x';
    expect_reject(d, len, CL_EFORMAT, "not an EIF: bad magic");
    d[0] = '.';
    d[5] = 5;
    expect_reject(d, len, CL_EUNSUPPORTED, "unsupported EIF version 5 (supported: 2 to 4)");
    d[5] = 1;
    expect_reject(d, len, CL_EUNSUPPORTED, "unsupported EIF version 1 (supported: 2 to 4)");
    d[5] = 4;
    d[27] = 33;
    expect_reject(d, len, CL_ELIMIT, "num_sections 33 exceeds the maximum of 32");
    d[27] = 4;
    expect_reject(d, len, CL_EFORMAT, "the header lists 4 sections, the file holds 5");
    d[27] = 5;
    tl_put64(d + 28 + 8, 579);
    expect_reject(d, len, CL_EFORMAT,
                  "section 1: the header's offset 579 disagrees with the sequential walk (578)");
    tl_put64(d + 28 + 8, 578);
    tl_put64(d + 284, 17);
    expect_reject(d, len, CL_EFORMAT,
                  "section 0: the header's size 17 disagrees with the section header (18)");
    tl_put64(d + 284, 18);
    tl_put64(d + 28 + 8 * 7, 1);
    expect_reject(d, len, CL_EFORMAT, "section table entry 7 is past num_sections but not zero");
    tl_put64(d + 28 + 8 * 7, 0);
    /* a section that runs past the end: the last ramdisk claims 17 bytes */
    tl_put64(d + 882 + 4, 17);
    expect_reject(d, len, CL_EFORMAT,
                  "section 4 (ramdisk) at offset 882: size 17 runs past the end of the file (910 "
                  "bytes)");
    tl_put64(d + 882 + 4, 16);
    /* and a huge one does not wrap around */
    tl_put64(d + 548 + 4, UINT64_MAX - 5);
    expect_reject(d, len, CL_EFORMAT,
                  "section 0 (kernel) at offset 548: size 18446744073709551610 runs past the end "
                  "of the file (910 bytes)");
    tl_put64(d + 548 + 4, 18);
    d[548 + 3] = 1;
    expect_reject(d, len, CL_EFORMAT, "section 0: reserved section flags 0x0001 are set");
    d[548 + 3] = 0;
    free(d);

    /* bytes past the last section */
    d = golden_copy(&len);
    uint8_t *longer = calloc(1, len + 12);
    memcpy(longer, d, len);
    expect_reject(longer, len + 5, CL_EFORMAT, "truncated section header at offset 910");
    expect_reject(longer, len + 12, CL_EFORMAT,
                  "section 5 at offset 910: invalid section type 0");
    free(longer);
    free(d);
}

static void rejects_bad_sections(void **state)
{
    (void)state;
    const struct tl_sec ok[] = { K, C, M, R, R };
    check_mk(4, ok, 5, 0, NULL);
    const struct tl_sec nok[] = { K, C, R };
    check_mk(3, nok, 3, 0, NULL);
    check_mk(2, nok, 3, 0, NULL);

    const struct tl_sec no_kernel[] = { C, M, R };
    check_mk(4, no_kernel, 3, CL_EFORMAT, "ramdisk section 2 comes before the kernel");
    const struct tl_sec no_kernel2[] = { C, M };
    check_mk(4, no_kernel2, 2, CL_EFORMAT, "no kernel section");
    const struct tl_sec no_cmdline[] = { K, M, R };
    check_mk(4, no_cmdline, 3, CL_EFORMAT, "no cmdline section");
    const struct tl_sec no_ramdisk[] = { K, C, M };
    check_mk(4, no_ramdisk, 3, CL_EFORMAT, "no ramdisk section");
    const struct tl_sec no_meta[] = { K, C, R };
    check_mk(4, no_meta, 3, CL_EFORMAT, "no metadata section (mandatory in version 4)");
    const struct tl_sec two_kernels[] = { K, C, M, K, R };
    check_mk(4, two_kernels, 5, CL_EFORMAT, "more than one kernel section");
    const struct tl_sec two_cmdlines[] = { K, C, C, M, R };
    check_mk(4, two_cmdlines, 5, CL_EFORMAT, "more than one cmdline section");
    const struct tl_sec two_meta[] = { K, C, M, M, R };
    check_mk(4, two_meta, 5, CL_EFORMAT, "more than one metadata section");
    const struct tl_sec invalid0[] = { K, C, M, { 0, "x", 1 }, R };
    check_mk(4, invalid0, 5, CL_EFORMAT, "section 3 at offset 824: invalid section type 0");
    const struct tl_sec invalid6[] = { K, C, M, R, { 6, "x", 1 } };
    check_mk(4, invalid6, 5, CL_EFORMAT, "section 4 at offset 837: invalid section type 6");
    const struct tl_sec meta_v3[] = { K, C, M, R };
    check_mk(3, meta_v3, 4, CL_EFORMAT, "section 2: a metadata section in a version 3 EIF");
    const struct tl_sec sig_v2[] = { K, C, R, { EIF_SECTION_SIGNATURE, "x", 1 } };
    check_mk(2, sig_v2, 4, CL_EFORMAT, "section 3: a signature section in a version 2 EIF");

    /* 33 sections: the walk stops at 32 */
    struct tl_sec many[33];
    for (int i = 0; i < 33; i++)
        many[i] = (struct tl_sec)R;
    many[0] = (struct tl_sec)K;
    many[1] = (struct tl_sec)C;
    many[2] = (struct tl_sec)M;
    check_mk(4, many, 33, CL_ELIMIT, "num_sections 33 exceeds the maximum of 32");
    size_t len;
    uint8_t *d = tl_mk_eif(4, many, 33, &len);
    d[27] = 32;
    expect_reject(d, len, CL_ELIMIT, "more than 32 sections before the end of the file");
    free(d);
    check_mk(4, many, 32, 0, NULL);

    /* oversized signature */
    char *big = calloc(1, 32769);
    const struct tl_sec bigsig[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, big, 32769 } };
    check_mk(4, bigsig, 5, CL_ELIMIT,
             "signature section of 32769 bytes exceeds the maximum of 32768");
    /* a signature section that is not CBOR of the expected shape */
    const struct tl_sec junksig[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, "\x80", 1 } };
    check_mk(4, junksig, 5, CL_EFORMAT, "malformed signature section: not a non-empty array");
    const struct tl_sec trailsig[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, "\x80\x00", 2 } };
    check_mk(4, trailsig, 5, CL_EFORMAT, "malformed signature section: 1 trailing bytes after the CBOR item");
    const struct tl_sec notcbor[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, "\xff", 1 } };
    check_mk(4, notcbor, 5, CL_EFORMAT, "malformed signature section: malformed CBOR: unexpected break (at byte 0)");
    /* a map declaring 2^32-1 entries in a 6-byte section */
    const struct tl_sec hugemap[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, "\x81\xba\xff\xff\xff\xff", 6 } };
    size_t hlen;
    uint8_t *hd = tl_mk_eif(4, hugemap, 5, &hlen);
    struct eif *he = NULL;
    struct cl_error herr = { 0 };
    assert_int_equal(eif_open_buffer(hd, hlen, &he, &herr), CL_EFORMAT);
    assert_int_equal(strncmp(herr.reason, "malformed signature section: ", 29), 0);
    free(hd);
    /* [{"signature": [1], "x": [1]}] */
    static const char badkey[] = "\x81\xa2\x69signature\x81\x01\x61x\x81\x01";
    const struct tl_sec badkeysig[] = { K, C, M, R,
                                     { EIF_SECTION_SIGNATURE, badkey, sizeof(badkey) - 1 } };
    check_mk(4, badkeysig, 5, CL_EFORMAT,
             "malformed signature section: unexpected or duplicate key 'x'");
    /* [{"signing_certificate": [256], "signature": [1]}] */
    static const char wide[] =
        "\x81\xa2\x73signing_certificate\x81\x19\x01\x00\x69signature\x81\x01";
    const struct tl_sec widesig[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, wide, sizeof(wide) - 1 } };
    check_mk(4, widesig, 5, CL_EFORMAT,
             "malformed signature section: signing_certificate holds something other than bytes");
    /* well-formed but the certificate is not PEM */
    static const char notpem[] = "\x81\xa2\x73signing_certificate\x81\x01\x69signature\x81\x01";
    const struct tl_sec notpemsig[] = { K, C, M, R,
                                     { EIF_SECTION_SIGNATURE, notpem, sizeof(notpem) - 1 } };
    size_t nlen;
    uint8_t *nd = tl_mk_eif(4, notpemsig, 5, &nlen);
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open_buffer(nd, nlen, &e, &err), CL_EFORMAT);
    assert_int_equal(strncmp(err.reason, "signature section: not a PEM certificate", 40), 0);
    free(nd);
    free(big);

    /* metadata nitro-cli could not deserialize */
    const struct tl_sec badjson[] = { K, C, { EIF_SECTION_METADATA, "{", 1 }, R };
    check_mk(4, badjson, 4, CL_EFORMAT,
             "malformed metadata: string or '}' expected near end of file");
    const struct tl_sec arr[] = { K, C, { EIF_SECTION_METADATA, "[]", 2 }, R };
    check_mk(4, arr, 4, CL_EFORMAT, "malformed metadata: not a JSON object");
    static const char nokey[] = "{\"ImageName\":\"x\"}";
    const struct tl_sec nokeys[] = { K, C, { EIF_SECTION_METADATA, nokey, sizeof(nokey) - 1 }, R };
    check_mk(4, nokeys, 4, CL_EFORMAT, "malformed metadata: missing key ImageVersion");
    static const char nobuild[] =
        "{\"ImageName\":\"x\",\"ImageVersion\":\"1\",\"BuildMetadata\":{},\"DockerInfo\":null,"
        "\"CustomMetadata\":null}";
    const struct tl_sec nobuilds[] = { K, C, { EIF_SECTION_METADATA, nobuild, sizeof(nobuild) - 1 },
                                    R };
    check_mk(4, nobuilds, 4, CL_EFORMAT,
             "malformed metadata: BuildMetadata.BuildTime is missing or not a string");
    const struct tl_sec nul[] = { K, C, { EIF_SECTION_METADATA, "{}\0", 3 }, R };
    check_mk(4, nul, 4, CL_EFORMAT, "malformed metadata: it contains a NUL byte");
}

static void bad_crc_is_reported_not_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = golden_copy(&len);
    d[546] ^= 0xff;
    struct eif *e = NULL;
    assert_int_equal(eif_open_buffer(d, len, &e, NULL), 0);
    assert_false(eif_crc_ok(e));
    assert_int_equal(eif_crc_computed(e), 0xc689d869);
    tl_check_hex(eif_measurements(e)->pcr0, 48, PCR0_HEX);
    eif_free(e);
    free(d);
}

/* run-enclave's check (eif_check_signature) before the certificate's
 * notBefore (an hour ago). */
static void certificate_not_yet_valid(void **state)
{
    (void)state;
    struct tl_signer s;
    tl_signer_make(&s, fx.dir, "P-256", "early");
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "early.eif");
    const char *rds[2] = { fx.rd0, fx.rd1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    p.signing_cert_path = s.cert;
    p.private_key_path = s.key;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(out, &e, &err), 0);
    assert_int_equal(eif_check_signature(e, time(NULL) - 7200, &err), CL_EEXPIRED);
    assert_string_equal(err.reason, "the signing certificate is not valid yet");
    assert_int_equal(eif_check_signature(e, time(NULL), NULL), 0);
    eif_free(e);
    unlink(out);
    tl_signer_drop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_bytes),
        cmocka_unit_test(golden_measurements),
        cmocka_unit_test(ramdisk_in_pieces),
        cmocka_unit_test(pcr_of_empty_file),
        cmocka_unit_test(rejects_truncated),
        cmocka_unit_test(rejects_bad_header),
        cmocka_unit_test(rejects_bad_sections),
        cmocka_unit_test(bad_crc_is_reported_not_rejected),
        cmocka_unit_test(certificate_not_yet_valid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
