/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EIF writer (src/lib/eif/eif_write.c): eif_write() and the streaming
 * eif_writer_* reproduce the golden EIF byte for byte and measure like a
 * one-pass OpenSSL digest, across the 1 MiB staging buffers; parameter and
 * state errors with their exact reasons; the section limit; nothing left
 * behind on failure; sign-eif's own refusals (eif_sign). The signature
 * section itself is tested in eif_sig_test.c.
 */
#include <dirent.h>
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
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <cloister/eif.h>

#include "testlib/eif_golden.h"
#include "testlib/testlib.h"

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

/* ---------- the golden image and the streaming writer ---------- */

static void golden_writer_returns_measurements(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "again.eif");
    const char *rds[2] = { fx.rd0, fx.rd1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    struct eif_measurements m;
    assert_int_equal(eif_write(out, &p, &m, NULL), 0);
    tl_check_hex(m.pcr0, 48, PCR0_HEX);
    tl_check_hex(m.pcr1, 48, PCR1_HEX);
    tl_check_hex(m.pcr2, 48, PCR2_HEX);
    assert_false(m.has_pcr8);
    unlink(out);
}

/* The streaming writer, fed byte by byte, writes the same bytes. */
static void streaming_writer_same_bytes(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "stream.eif");
    struct eif_build_params p = tl_golden_params(&fx, NULL);
    struct eif_writer *w = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_writer_new(out, &p, &w, &err), 0);
    const char *rds[2] = { "BOOTSTRAP-RAMDISK", "CUSTOMER-RAMDISK" };
    for (int r = 0; r < 2; r++) {
        assert_int_equal(eif_writer_begin_ramdisk(w, &err), 0);
        for (size_t i = 0; i < strlen(rds[r]); i++)
            assert_int_equal(eif_writer_write(w, rds[r] + i, 1, &err), 0);
        assert_int_equal(eif_writer_end_ramdisk(w, &err), 0);
    }
    struct eif_measurements m;
    assert_int_equal(eif_writer_finish(w, &m, &err), 0);
    eif_writer_free(w);
    tl_check_hex(m.pcr1, 48, PCR1_HEX);
    size_t a_len, b_len;
    uint8_t *a = tl_slurp(out, &a_len), *b = tl_slurp(fx.eif, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    free(a);
    free(b);
    unlink(out);
}

static void streaming_writer_misuse(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "misuse.eif");
    struct eif_build_params p = tl_golden_params(&fx, NULL);
    struct eif_writer *w = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_writer_new(out, &p, &w, &err), 0);
    assert_int_equal(eif_writer_write(w, "x", 1, &err), CL_ESTATE);
    assert_string_equal(err.reason, "no ramdisk is open");
    cl_error_clear(&err);
    assert_int_equal(eif_writer_finish(w, NULL, &err), CL_EINVAL);
    assert_string_equal(err.reason, "an EIF needs at least one ramdisk");
    eif_writer_free(w);
    /* nothing left behind: neither the output nor a temporary file */
    DIR *d = opendir(fx.dir);
    for (struct dirent *de; (de = readdir(d));)
        assert_null(strstr(de->d_name, "misuse"));
    closedir(d);
}

/* Multi-megabyte ramdisks: several staging buffers, the two-thread reader. */
static void large_image_measured_like_openssl(void **state)
{
    (void)state;
    size_t n0 = 3u << 20, n1 = (5u << 20) + 12345;
    uint8_t *r0 = malloc(n0), *r1 = malloc(n1);
    assert_int_equal(RAND_bytes(r0, (int)n0), 1);
    assert_int_equal(RAND_bytes(r1, (int)n1), 1);
    char p0[128], p1[128], out[128];
    tl_path(p0, sizeof(p0), fx.dir, "big0");
    tl_path(p1, sizeof(p1), fx.dir, "big1");
    tl_path(out, sizeof(out), fx.dir, "big.eif");
    tl_write_file(p0, r0, n0);
    tl_write_file(p1, r1, n1);
    const char *rds[2] = { p0, p1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    struct eif_measurements wm;
    assert_int_equal(eif_write(out, &p, &wm, NULL), 0);

    /* expected: ext(SHA384(...)) computed in one go */
    uint8_t d0[48], d1[48], d2[48], want[48];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha384(), NULL);
    EVP_DigestUpdate(c, "KERNEL-IMAGE-BYTES", 18);
    EVP_DigestUpdate(c, "console=ttyS0", 13);
    EVP_DigestUpdate(c, r0, n0);
    EVP_MD_CTX *c1 = EVP_MD_CTX_new();
    EVP_MD_CTX_copy_ex(c1, c);
    EVP_DigestFinal_ex(c1, d1, NULL);
    EVP_DigestUpdate(c, r1, n1);
    EVP_DigestFinal_ex(c, d0, NULL);
    EVP_Digest(r1, n1, d2, NULL, EVP_sha384(), NULL);
    EVP_MD_CTX_free(c);
    EVP_MD_CTX_free(c1);

    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(out, &e, &err), 0);
    assert_true(eif_crc_ok(e));
    const struct eif_measurements *m = eif_measurements(e);
    uint8_t zero_ext[96] = { 0 };
    memcpy(zero_ext + 48, d0, 48);
    EVP_Digest(zero_ext, 96, want, NULL, EVP_sha384(), NULL);
    assert_memory_equal(m->pcr0, want, 48);
    assert_memory_equal(wm.pcr0, want, 48);
    memcpy(zero_ext + 48, d1, 48);
    EVP_Digest(zero_ext, 96, want, NULL, EVP_sha384(), NULL);
    assert_memory_equal(m->pcr1, want, 48);
    assert_memory_equal(wm.pcr1, want, 48);
    memcpy(zero_ext + 48, d2, 48);
    EVP_Digest(zero_ext, 96, want, NULL, EVP_sha384(), NULL);
    assert_memory_equal(m->pcr2, want, 48);
    assert_memory_equal(wm.pcr2, want, 48);
    /* and the CRC agrees with a one-pass zlib CRC of the file */
    size_t len;
    uint8_t *f = tl_slurp(out, &len);
    uLong crc = crc32(crc32(crc32(0, Z_NULL, 0), f, 544), f + 548, (uInt)(len - 548));
    assert_int_equal(eif_crc_computed(e), crc);
    /* the same file read from memory measures the same */
    struct eif *eb = NULL;
    assert_int_equal(eif_open_buffer(f, len, &eb, &err), 0);
    assert_memory_equal(eif_measurements(eb)->pcr0, m->pcr0, 48);
    assert_memory_equal(eif_measurements(eb)->pcr1, m->pcr1, 48);
    assert_memory_equal(eif_measurements(eb)->pcr2, m->pcr2, 48);
    assert_int_equal(eif_crc_computed(eb), crc);
    eif_free(eb);
    eif_free(e);
    free(f);
    free(r0);
    free(r1);
    unlink(p0);
    unlink(p1);
    unlink(out);
}

/* Sections whose size is a multiple of the writer's 1 MiB staging buffer. */
static void stage_sized_sections(void **state)
{
    (void)state;
    char k[128], out[128];
    tl_path(k, sizeof(k), fx.dir, "k1m");
    tl_path(out, sizeof(out), fx.dir, "k1m.eif");
    uint8_t *kd = malloc(1u << 20);
    assert_int_equal(RAND_bytes(kd, 1 << 20), 1);
    tl_write_file(k, kd, 1u << 20);
    const char *rds[2] = { k, fx.rd1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    p.kernel_path = k;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(out, &e, &err), 0);
    assert_true(eif_crc_ok(e));
    size_t clen;
    const uint8_t *c = eif_cmdline(e, &clen);
    assert_memory_equal(c, "console=ttyS0", 13);
    uint8_t *rd;
    size_t rdlen;
    assert_int_equal(eif_read_ramdisk(e, 0, &rd, &rdlen, &err), 0);
    assert_int_equal(rdlen, 1u << 20);
    assert_memory_equal(rd, kd, rdlen);
    free(rd);
    eif_free(e);
    free(kd);
    unlink(k);
    unlink(out);
}

static void single_ramdisk_pcr2_is_empty_pcr(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "one.eif");
    const char *rds[1] = { fx.rd0 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    p.ramdisk_count = 1;
    struct eif_measurements m;
    assert_int_equal(eif_write(out, &p, &m, NULL), 0);
    tl_check_hex(m.pcr2, 48, EMPTY_PCR_HEX);
    /* one ramdisk: PCR0 == PCR1 */
    assert_memory_equal(m.pcr0, m.pcr1, 48);
    unlink(out);
}

static void empty_first_ramdisk(void **state)
{
    (void)state;
    char out[128], empty[128];
    tl_path(out, sizeof(out), fx.dir, "e.eif");
    tl_path(empty, sizeof(empty), fx.dir, "empty");
    tl_write_file(empty, "", 0);
    const char *rds[2] = { empty, fx.rd1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    struct eif_measurements m;
    assert_int_equal(eif_write(out, &p, &m, NULL), 0);
    struct eif *e = NULL;
    assert_int_equal(eif_open(out, &e, NULL), 0);
    assert_memory_equal(eif_measurements(e)->pcr1, m.pcr1, 48);
    assert_memory_equal(eif_measurements(e)->pcr0, m.pcr0, 48);
    uint8_t want[48];
    const char *kc = "KERNEL-IMAGE-BYTESconsole=ttyS0";
    uint8_t d[48], z[96] = { 0 };
    EVP_Digest(kc, strlen(kc), d, NULL, EVP_sha384(), NULL);
    memcpy(z + 48, d, 48);
    EVP_Digest(z, 96, want, NULL, EVP_sha384(), NULL);
    assert_memory_equal(m.pcr1, want, 48);
    eif_free(e);
    unlink(out);
    unlink(empty);
}

static void writer_rejections(void **state)
{
    (void)state;
    char out[128], missing[128];
    tl_path(out, sizeof(out), fx.dir, "w.eif");
    tl_path(missing, sizeof(missing), fx.dir, "no-such-ramdisk");
    const char *rds[2] = { fx.rd0, missing };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    struct cl_error err = { 0 };
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_ENOTFOUND);
    char want[256];
    snprintf(want, sizeof(want), "cannot open the ramdisk '%s': No such file or directory",
             missing);
    assert_string_equal(err.reason, want);
    assert_int_equal(access(out, F_OK), -1);
    p.ramdisk_count = 0;
    cl_error_clear(&err);
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_EINVAL);
    assert_string_equal(err.reason, "an EIF needs at least one ramdisk");
    /* 30 ramdisks + kernel, cmdline, metadata = 33 sections */
    const char *many[30];
    for (int i = 0; i < 30; i++)
        many[i] = fx.rd0;
    p.ramdisk_paths = many;
    p.ramdisk_count = 30;
    cl_error_clear(&err);
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "too many sections (at most 32 in an EIF)");
    p.ramdisk_count = 29;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);
    unlink(out);
}

/* ---------- parameters, states and limits ---------- */

/* No file whose name contains part is left in the fixture directory. */
static void assert_nothing_named(const char *part)
{
    DIR *d = opendir(fx.dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        if (strstr(de->d_name, part))
            fail_msg("left behind: %s", de->d_name);
    closedir(d);
}

static void expect_new_error(const char *out, const struct eif_build_params *p, int code,
                             const char *reason)
{
    struct eif_writer *w = (struct eif_writer *)&w;
    struct cl_error err = { 0 };
    assert_int_equal(eif_writer_new(out, p, &w, &err), code);
    assert_null(w);
    assert_string_equal(err.reason, reason);
}

static void writer_new_rejects_missing_parameters(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "params.eif");
    const char *required = "kernel, cmdline and metadata are required";
    expect_new_error(out, NULL, CL_EINVAL, required);
    struct eif_build_params p = tl_golden_params(&fx, NULL);
    p.kernel_path = NULL;
    expect_new_error(out, &p, CL_EINVAL, required);
    p = tl_golden_params(&fx, NULL);
    p.cmdline = NULL; /* with cmdline_len 13 */
    expect_new_error(out, &p, CL_EINVAL, required);
    p = tl_golden_params(&fx, NULL);
    p.metadata_json = NULL;
    expect_new_error(out, &p, CL_EINVAL, required);
    const char *pair = "a signing certificate needs a private key and back";
    p = tl_golden_params(&fx, NULL);
    p.signing_cert_path = fx.kernel;
    expect_new_error(out, &p, CL_EINVAL, pair);
    p = tl_golden_params(&fx, NULL);
    p.private_key_path = fx.kernel;
    expect_new_error(out, &p, CL_EINVAL, pair);
    assert_nothing_named("params");
}

/* An empty cmdline (NULL, 0) is allowed: the section is empty. */
static void writer_accepts_an_empty_cmdline(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "nocmdline.eif");
    const char *rds[1] = { fx.rd0 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    p.cmdline = NULL;
    p.cmdline_len = 0;
    p.ramdisk_count = 1;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(out, &e, &err), 0);
    size_t clen = 1;
    eif_cmdline(e, &clen);
    assert_int_equal(clen, 0);
    assert_int_equal(eif_section(e, 1)->type, EIF_SECTION_CMDLINE);
    assert_int_equal(eif_section(e, 1)->size, 0);
    assert_true(eif_crc_ok(e));
    eif_free(e);
    unlink(out);
}

static void writer_new_reports_unreadable_kernel(void **state)
{
    (void)state;
    char out[128], missing[128], want[300];
    tl_path(out, sizeof(out), fx.dir, "kern.eif");
    tl_path(missing, sizeof(missing), fx.dir, "no-such-kernel");
    struct eif_build_params p = tl_golden_params(&fx, NULL);
    p.kernel_path = missing;
    snprintf(want, sizeof(want), "cannot open the kernel '%s': No such file or directory",
             missing);
    expect_new_error(out, &p, CL_ENOTFOUND, want);
    p.kernel_path = fx.dir;
    snprintf(want, sizeof(want), "the kernel '%s' is a directory", fx.dir);
    expect_new_error(out, &p, CL_EINVAL, want);
    assert_nothing_named("kern.eif");
}

static void writer_new_reports_an_uncreatable_output(void **state)
{
    (void)state;
    char out[128], want[300];
    tl_path(out, sizeof(out), fx.dir, "no-such-dir/x.eif");
    struct eif_build_params p = tl_golden_params(&fx, NULL);
    struct eif_writer *w = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_writer_new(out, &p, &w, &err), CL_EIO);
    assert_null(w);
    /* "cannot create '<out>.tmp.XXXXXX': No such file or directory" */
    snprintf(want, sizeof(want), "cannot create '%s.tmp.", out);
    assert_int_equal(strncmp(err.reason, want, strlen(want)), 0);
    assert_non_null(strstr(err.reason, "': No such file or directory"));
}

static void writer_calls_out_of_order(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "order.eif");
    struct eif_build_params p = tl_golden_params(&fx, NULL);
    struct eif_writer *w = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_writer_new(out, &p, &w, &err), 0);
    assert_int_equal(eif_writer_end_ramdisk(w, &err), CL_ESTATE);
    assert_string_equal(err.reason, "no ramdisk is open");
    cl_error_clear(&err);
    assert_int_equal(eif_writer_begin_ramdisk(w, &err), 0);
    assert_int_equal(eif_writer_begin_ramdisk(w, &err), CL_ESTATE);
    assert_string_equal(err.reason, "a section is already open");
    cl_error_clear(&err);
    assert_int_equal(eif_writer_write(w, "abc", 3, &err), 0);
    assert_int_equal(eif_writer_finish(w, NULL, &err), CL_ESTATE);
    assert_string_equal(err.reason, "a ramdisk is still open");
    cl_error_clear(&err);
    assert_int_equal(eif_writer_end_ramdisk(w, &err), 0);
    struct eif_measurements m;
    assert_int_equal(eif_writer_finish(w, &m, &err), 0);
    /* finished: every call is refused and the file stays */
    assert_int_equal(eif_writer_finish(w, NULL, &err), CL_ESTATE);
    assert_string_equal(err.reason, "the EIF is already finished");
    cl_error_clear(&err);
    assert_int_equal(eif_writer_begin_ramdisk(w, &err), CL_ESTATE);
    assert_string_equal(err.reason, "the EIF is already finished");
    cl_error_clear(&err);
    assert_int_equal(eif_writer_write(w, "x", 1, &err), CL_ESTATE);
    assert_string_equal(err.reason, "no ramdisk is open");
    eif_writer_free(w);
    assert_int_equal(access(out, F_OK), 0);
    struct eif *e = NULL;
    assert_int_equal(eif_open(out, &e, &err), 0);
    assert_int_equal(eif_ramdisk_count(e), 1);
    assert_memory_equal(eif_measurements(e)->pcr0, m.pcr0, 48);
    eif_free(e);
    unlink(out);
}

/* Header fields the writer sets: version 4, the caller's flags, nitro-cli's
 * default memory (1 GiB) and CPU count (2). */
static void writer_header_fields(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "arm.eif");
    const char *rds[2] = { fx.rd0, fx.rd1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    p.flags = EIF_FLAG_ARCH_ARM64;
    struct eif_measurements m;
    assert_int_equal(eif_write(out, &p, &m, NULL), 0);
    size_t len;
    uint8_t *d = tl_slurp(out, &len);
    assert_int_equal(len, 910);
    assert_memory_equal(d, ".eif\x00\x04\x00\x01", 8);
    assert_memory_equal(d + 8, "\0\0\0\0\x40\0\0\0", 8);  /* default_mem */
    assert_memory_equal(d + 16, "\0\0\0\0\0\0\0\x02", 8); /* default_cpus */
    assert_memory_equal(d + 24, "\0\0\0\x05", 4);         /* reserved, num_sections */
    struct eif *e = NULL;
    assert_int_equal(eif_open_buffer(d, len, &e, NULL), 0);
    assert_int_equal(eif_flags(e), EIF_FLAG_ARCH_ARM64);
    assert_true(eif_crc_ok(e));
    /* flags are not measured */
    tl_check_hex(m.pcr0, 48, PCR0_HEX);
    eif_free(e);
    free(d);
    unlink(out);
}

/* The streaming writer with chunks that straddle the staging buffers gives
 * the bytes eif_write() gives for the same files. */
static void writer_chunks_across_stage_boundaries(void **state)
{
    (void)state;
    size_t n = (5u << 19) + 333; /* 2.5 MiB and a bit */
    uint8_t *data = malloc(n);
    assert_int_equal(RAND_bytes(data, (int)n), 1);
    char rd[128], a[128], b[128];
    tl_path(rd, sizeof(rd), fx.dir, "chunky");
    tl_path(a, sizeof(a), fx.dir, "chunks-a.eif");
    tl_path(b, sizeof(b), fx.dir, "chunks-b.eif");
    tl_write_file(rd, data, n);
    const char *rds[3] = { fx.rd0, rd, rd };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    p.ramdisk_count = 3;
    struct eif_measurements ma, mb;
    assert_int_equal(eif_write(a, &p, &ma, NULL), 0);

    struct eif_writer *w = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_writer_new(b, &p, &w, &err), 0);
    assert_int_equal(eif_writer_begin_ramdisk(w, &err), 0);
    assert_int_equal(eif_writer_write(w, "BOOTSTRAP-RAMDISK", 17, &err), 0);
    assert_int_equal(eif_writer_end_ramdisk(w, &err), 0);
    static const size_t steps[] = { 1, 4095, (1u << 20) + 7, 3, (1u << 20) - 2 };
    for (int r = 0; r < 2; r++) {
        assert_int_equal(eif_writer_begin_ramdisk(w, &err), 0);
        size_t off = 0;
        for (size_t i = 0; off < n; i = (i + 1) % 5) {
            size_t k = steps[i] < n - off ? steps[i] : n - off;
            assert_int_equal(eif_writer_write(w, data + off, k, &err), 0);
            off += k;
        }
        assert_int_equal(eif_writer_end_ramdisk(w, &err), 0);
    }
    assert_int_equal(eif_writer_finish(w, &mb, &err), 0);
    eif_writer_free(w);
    assert_memory_equal(&ma, &mb, sizeof(ma));
    size_t la, lb;
    uint8_t *fa = tl_slurp(a, &la), *fb = tl_slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(fa, fb, la);
    free(fa);
    free(fb);
    free(data);
    unlink(rd);
    unlink(a);
    unlink(b);
}

/* Freed before finish with data in flight: the workers stop and nothing is
 * left behind. */
static void writer_free_midway_leaves_nothing(void **state)
{
    (void)state;
    char out[128];
    tl_path(out, sizeof(out), fx.dir, "abandoned.eif");
    struct eif_build_params p = tl_golden_params(&fx, NULL);
    struct eif_writer *w = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_writer_new(out, &p, &w, &err), 0);
    assert_int_equal(eif_writer_begin_ramdisk(w, &err), 0);
    size_t n = 3u << 20;
    uint8_t *junk = calloc(1, n);
    assert_int_equal(eif_writer_write(w, junk, n, &err), 0);
    eif_writer_free(w);
    free(junk);
    assert_int_equal(access(out, F_OK), -1);
    assert_nothing_named("abandoned");
}

/* With a signing certificate one of the 32 section slots is kept for the
 * signature: 28 ramdisks, not 29. */
static void signing_writer_keeps_a_slot_for_the_signature(void **state)
{
    (void)state;
    char out[128], key[128], cert[128];
    tl_path(out, sizeof(out), fx.dir, "slots.eif");
    tl_path(key, sizeof(key), fx.dir, "slots-key.pem");
    tl_path(cert, sizeof(cert), fx.dir, "slots-cert.pem");
    tl_make_key_cert("P-256", key, cert, 86400);
    struct eif_build_params p = tl_golden_params(&fx, NULL);
    p.signing_cert_path = cert;
    p.private_key_path = key;
    struct eif_writer *w = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_writer_new(out, &p, &w, &err), 0);
    for (int i = 0; i < 28; i++) {
        assert_int_equal(eif_writer_begin_ramdisk(w, &err), 0);
        assert_int_equal(eif_writer_write(w, "r", 1, &err), 0);
        assert_int_equal(eif_writer_end_ramdisk(w, &err), 0);
    }
    assert_int_equal(eif_writer_begin_ramdisk(w, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "too many sections (at most 32 in an EIF)");
    cl_error_clear(&err);
    assert_int_equal(eif_writer_finish(w, NULL, &err), 0);
    eif_writer_free(w);
    struct eif *e = NULL;
    assert_int_equal(eif_open(out, &e, &err), 0);
    assert_int_equal(eif_section_count(e), 32);
    assert_int_equal(eif_section(e, 31)->type, EIF_SECTION_SIGNATURE);
    assert_true(eif_signature_ok(e));
    eif_free(e);
    unlink(out);
    unlink(key);
    unlink(cert);
}

/* ---------- sign-eif's own refusals ---------- */

static void sign_refuses_what_cannot_hold_a_signature(void **state)
{
    (void)state;
    char key[128], cert[128], path[128];
    tl_path(key, sizeof(key), fx.dir, "sk.pem");
    tl_path(cert, sizeof(cert), fx.dir, "sc.pem");
    tl_path(path, sizeof(path), fx.dir, "tosign.eif");
    tl_make_key_cert("P-384", key, cert, 86400);
    struct cl_error err = { 0 };

    /* version 2: no signature section in the format */
    const struct tl_sec v2[] = { TL_SEC_K, TL_SEC_C, TL_SEC_R };
    size_t len;
    uint8_t *d = tl_mk_eif(2, v2, 3, &len);
    tl_write_file(path, d, len);
    free(d);
    assert_int_equal(eif_sign(path, cert, key, NULL, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason, "a version 2 EIF cannot hold a signature");
    cl_error_clear(&err);

    /* 32 sections already, none of them a signature */
    struct tl_sec many[32];
    many[0] = (struct tl_sec)TL_SEC_K;
    many[1] = (struct tl_sec)TL_SEC_C;
    many[2] = (struct tl_sec)TL_SEC_M;
    for (int i = 3; i < 32; i++)
        many[i] = (struct tl_sec)TL_SEC_R;
    d = tl_mk_eif(4, many, 32, &len);
    tl_write_file(path, d, len);
    assert_int_equal(eif_sign(path, cert, key, NULL, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "the EIF already has 32 sections, no room for a signature");
    cl_error_clear(&err);
    /* the refused file is untouched */
    size_t now_len;
    uint8_t *now = tl_slurp(path, &now_len);
    assert_int_equal(now_len, len);
    assert_memory_equal(now, d, len);
    free(now);
    free(d);

    /* a missing EIF */
    char missing[128], want[300];
    tl_path(missing, sizeof(missing), fx.dir, "no-such.eif");
    assert_int_equal(eif_sign(missing, cert, key, NULL, &err), CL_ENOTFOUND);
    snprintf(want, sizeof(want), "cannot open '%s': No such file or directory", missing);
    assert_string_equal(err.reason, want);
    unlink(path);
    unlink(key);
    unlink(cert);
    assert_nothing_named("tosign.eif.tmp");
}

/* A version 3 EIF (no metadata) takes a signature; the header's other
 * fields (flags, memory, CPUs) and the file's mode are kept. */
static void sign_keeps_header_fields_and_mode(void **state)
{
    (void)state;
    char key[128], cert[128], path[128];
    tl_path(key, sizeof(key), fx.dir, "hk.pem");
    tl_path(cert, sizeof(cert), fx.dir, "hc.pem");
    tl_path(path, sizeof(path), fx.dir, "v3.eif");
    tl_make_key_cert("P-521", key, cert, 86400);
    const struct tl_sec v3[] = { TL_SEC_K, TL_SEC_C, TL_SEC_R };
    size_t len;
    uint8_t *d = tl_mk_eif(3, v3, 3, &len);
    d[7] = EIF_FLAG_ARCH_ARM64;
    tl_put64(d + 8, 3ull << 30);
    tl_put64(d + 16, 4);
    uLong crc = crc32(crc32(crc32(0, Z_NULL, 0), d, 544), d + 548, (uInt)(len - 548));
    for (int b = 0; b < 4; b++)
        d[544 + b] = (uint8_t)(crc >> (24 - 8 * b));
    tl_write_file(path, d, len);
    assert_int_equal(chmod(path, 0600), 0);
    struct eif_measurements m;
    struct cl_error err = { 0 };
    assert_int_equal(eif_sign(path, cert, key, &m, &err), 0);
    assert_true(m.has_pcr8);
    size_t slen;
    uint8_t *s = tl_slurp(path, &slen);
    assert_memory_equal(s + 4, "\x00\x03\x00\x01", 4);
    assert_memory_equal(s + 8, d + 8, 16);
    assert_int_equal(s[27], 4); /* num_sections */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    struct eif *e = NULL;
    assert_int_equal(eif_open_buffer(s, slen, &e, &err), 0);
    assert_true(eif_crc_ok(e));
    assert_true(eif_signature_ok(e));
    uint8_t want[48];
    tl_expected_pcr8(cert, want);
    assert_memory_equal(eif_measurements(e)->pcr8, want, 48);
    eif_free(e);
    free(s);
    free(d);
    unlink(path);
    unlink(key);
    unlink(cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_writer_returns_measurements),
        cmocka_unit_test(streaming_writer_same_bytes),
        cmocka_unit_test(streaming_writer_misuse),
        cmocka_unit_test(large_image_measured_like_openssl),
        cmocka_unit_test(stage_sized_sections),
        cmocka_unit_test(single_ramdisk_pcr2_is_empty_pcr),
        cmocka_unit_test(empty_first_ramdisk),
        cmocka_unit_test(writer_rejections),
        cmocka_unit_test(writer_new_rejects_missing_parameters),
        cmocka_unit_test(writer_accepts_an_empty_cmdline),
        cmocka_unit_test(writer_new_reports_unreadable_kernel),
        cmocka_unit_test(writer_new_reports_an_uncreatable_output),
        cmocka_unit_test(writer_calls_out_of_order),
        cmocka_unit_test(writer_header_fields),
        cmocka_unit_test(writer_chunks_across_stage_boundaries),
        cmocka_unit_test(writer_free_midway_leaves_nothing),
        cmocka_unit_test(signing_writer_keeps_a_slot_for_the_signature),
        cmocka_unit_test(sign_refuses_what_cannot_hold_a_signature),
        cmocka_unit_test(sign_keeps_header_fields_and_mode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
