/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EIF writer, reader, measurements and signature.
 * Golden vectors: ../shared/testdata/eif/README.md and
 * research/eif-and-cli.md §4.3 (the synthetic 910-byte EIF).
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <zlib.h>

#include <cloister/eif.h>

#include "base/fileio.h"
#include "base/hex.h"

#define GOLDEN_META                                                                             \
    "{\"ImageName\":\"test\",\"ImageVersion\":\"1.0\",\"BuildMetadata\":{\"BuildTime\":"      \
    "\"1970-01-01T00:00:00+00:00\",\"BuildTool\":\"eif_build\",\"BuildToolVersion\":\"0.2.0\"," \
    "\"OperatingSystem\":\"OS\",\"KernelVersion\":\"kernel\"},\"DockerInfo\":null,"            \
    "\"CustomMetadata\":null}"
#define PCR0_HEX                                                                                \
    "4541030825759155bac3f026205d33a32833c3b0bb6944a8815aee91a0fc3a86a17cc2fb07fcf025c0b57539baa86941"
#define PCR1_HEX                                                                                \
    "abddfb347cd3cd963c6b3d95012a59797b5087c1ea5b5d1a73b3b80ed1727fde7545ccb5828ce494d566004ef97c0d8d"
#define PCR2_HEX                                                                                \
    "57c908f2faaef8a69f9318beb295f1ee46f58603c808c3b1ef4609e003f82e7f815c0ab813a477fac470e9abb4ac8a4d"
#define EMPTY_PCR_HEX                                                                           \
    "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a"

static char dir[64];
static char kernel_path[128], rd0_path[128], rd1_path[128], golden_path[128];

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *d = NULL;
    assert_int_equal(file_read_all(path, 1u << 30, &d, len, NULL), 0);
    return d;
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void check_hex(const uint8_t *v, size_t len, const char *want)
{
    char hex[256];
    assert_true(2 * len < sizeof(hex));
    hex_encode(hex, v, len);
    assert_string_equal(hex, want);
}

static const char *const golden_ramdisks[2] = { NULL, NULL };

static struct eif_build_params golden_params(const char *const *rds)
{
    return (struct eif_build_params){
        .kernel_path = kernel_path,
        .cmdline = (const uint8_t *)"console=ttyS0",
        .cmdline_len = 13,
        .metadata_json = GOLDEN_META,
        .ramdisk_paths = rds,
        .ramdisk_count = 2,
    };
}

static int setup(void **state)
{
    (void)state;
    (void)golden_ramdisks;
    strcpy(dir, "/tmp/cloister-eif-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    path_in(kernel_path, sizeof(kernel_path), "kernel");
    path_in(rd0_path, sizeof(rd0_path), "rd0");
    path_in(rd1_path, sizeof(rd1_path), "rd1");
    path_in(golden_path, sizeof(golden_path), "golden.eif");
    write_file(kernel_path, "KERNEL-IMAGE-BYTES", 18);
    write_file(rd0_path, "BOOTSTRAP-RAMDISK", 17);
    write_file(rd1_path, "CUSTOMER-RAMDISK", 16);
    const char *rds[2] = { rd0_path, rd1_path };
    struct eif_build_params p = golden_params(rds);
    struct cl_error err = { 0 };
    if (eif_write(golden_path, &p, NULL, &err) != 0) {
        fprintf(stderr, "golden: %s\n", err.reason);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* ---------- golden vector ---------- */

static void golden_bytes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = slurp(golden_path, &len);
    assert_int_equal(len, 910);
    /* the leading bytes as research §4.3 prints them (44 of them) */
    check_hex(d, 44, "2e65696600040000000000004000000000000000000000020000000500000000000002"
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
    check_hex(d + 544, 4, "c689d869");
    uLong crc = crc32(crc32(0, Z_NULL, 0), d, 544);
    crc = crc32(crc, d + 548, 910 - 548);
    assert_int_equal(crc, 0xc689d869);
    uint8_t sha[32];
    assert_int_equal(EVP_Digest(d, len, sha, NULL, EVP_sha256(), NULL), 1);
    check_hex(sha, 32, "1422e6814d6b54f3f5fcb553df382b1ac146f4304900443f6c513c43a235124d");
    free(d);
}

static void golden_measurements(void **state)
{
    (void)state;
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(golden_path, &e, &err), 0);
    const struct eif_measurements *m = eif_measurements(e);
    check_hex(m->pcr0, 48, PCR0_HEX);
    check_hex(m->pcr1, 48, PCR1_HEX);
    check_hex(m->pcr2, 48, PCR2_HEX);
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

static void golden_writer_returns_measurements(void **state)
{
    (void)state;
    char out[128];
    path_in(out, sizeof(out), "again.eif");
    const char *rds[2] = { rd0_path, rd1_path };
    struct eif_build_params p = golden_params(rds);
    struct eif_measurements m;
    assert_int_equal(eif_write(out, &p, &m, NULL), 0);
    check_hex(m.pcr0, 48, PCR0_HEX);
    check_hex(m.pcr1, 48, PCR1_HEX);
    check_hex(m.pcr2, 48, PCR2_HEX);
    assert_false(m.has_pcr8);
    unlink(out);
}

/* The streaming writer, fed byte by byte, writes the same bytes. */
static void streaming_writer_same_bytes(void **state)
{
    (void)state;
    char out[128];
    path_in(out, sizeof(out), "stream.eif");
    struct eif_build_params p = golden_params(NULL);
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
    check_hex(m.pcr1, 48, PCR1_HEX);
    size_t a_len, b_len;
    uint8_t *a = slurp(out, &a_len), *b = slurp(golden_path, &b_len);
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
    path_in(out, sizeof(out), "misuse.eif");
    struct eif_build_params p = golden_params(NULL);
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
    DIR *d = opendir(dir);
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
    path_in(p0, sizeof(p0), "big0");
    path_in(p1, sizeof(p1), "big1");
    path_in(out, sizeof(out), "big.eif");
    write_file(p0, r0, n0);
    write_file(p1, r1, n1);
    const char *rds[2] = { p0, p1 };
    struct eif_build_params p = golden_params(rds);
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
    uint8_t *f = slurp(out, &len);
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
    path_in(k, sizeof(k), "k1m");
    path_in(out, sizeof(out), "k1m.eif");
    uint8_t *kd = malloc(1u << 20);
    assert_int_equal(RAND_bytes(kd, 1 << 20), 1);
    write_file(k, kd, 1u << 20);
    const char *rds[2] = { k, rd1_path };
    struct eif_build_params p = golden_params(rds);
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
    path_in(out, sizeof(out), "one.eif");
    const char *rds[1] = { rd0_path };
    struct eif_build_params p = golden_params(rds);
    p.ramdisk_count = 1;
    struct eif_measurements m;
    assert_int_equal(eif_write(out, &p, &m, NULL), 0);
    check_hex(m.pcr2, 48, EMPTY_PCR_HEX);
    /* one ramdisk: PCR0 == PCR1 */
    assert_memory_equal(m.pcr0, m.pcr1, 48);
    unlink(out);
}

static void empty_first_ramdisk(void **state)
{
    (void)state;
    char out[128], empty[128];
    path_in(out, sizeof(out), "e.eif");
    path_in(empty, sizeof(empty), "empty");
    write_file(empty, "", 0);
    const char *rds[2] = { empty, rd1_path };
    struct eif_build_params p = golden_params(rds);
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

static void pcr_of_empty_file(void **state)
{
    (void)state;
    char empty[128];
    path_in(empty, sizeof(empty), "empty-pcr");
    write_file(empty, "", 0);
    uint8_t pcr[48];
    assert_int_equal(eif_pcr_of_file(empty, pcr, NULL), 0);
    check_hex(pcr, 48, EMPTY_PCR_HEX);
    struct cl_error err = { 0 };
    assert_int_equal(eif_pcr_of_file(dir, pcr, &err), CL_EINVAL);
    char want[160];
    snprintf(want, sizeof(want), "'%s' is a directory", dir);
    assert_string_equal(err.reason, want);
    unlink(empty);
}

/* ---------- signing ---------- */

static void make_key_cert(const char *curve, const char *key_path, const char *cert_path,
                          long not_after_secs)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    assert_non_null(k);
    X509 *c = X509_new();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), not_after_secs);
    X509_NAME *n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Cloister", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"eif-test", -1, -1, 0);
    X509_set_issuer_name(c, n);
    X509_set_pubkey(c, k);
    assert_true(X509_sign(c, k, EVP_sha384()) > 0);
    FILE *f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    f = fopen(cert_path, "w");
    PEM_write_X509(f, c);
    fclose(f);
    X509_free(c);
    EVP_PKEY_free(k);
}

static void expected_pcr8(const char *cert_path, uint8_t out[48])
{
    FILE *f = fopen(cert_path, "r");
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    unsigned char *der = NULL;
    int n = i2d_X509(c, &der);
    uint8_t z[96] = { 0 };
    EVP_Digest(der, (size_t)n, z + 48, NULL, EVP_sha384(), NULL);
    EVP_Digest(z, 96, out, NULL, EVP_sha384(), NULL);
    OPENSSL_free(der);
    X509_free(c);
}

static void check_signed(const char *path, const char *cert_path, size_t nsec)
{
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(path, &e, &err), 0);
    const struct eif_measurements *m = eif_measurements(e);
    check_hex(m->pcr0, 48, PCR0_HEX);
    check_hex(m->pcr1, 48, PCR1_HEX);
    check_hex(m->pcr2, 48, PCR2_HEX);
    assert_true(m->has_pcr8);
    uint8_t want[48];
    expected_pcr8(cert_path, want);
    assert_memory_equal(m->pcr8, want, 48);
    assert_true(eif_crc_ok(e));
    assert_true(eif_is_signed(e));
    assert_true(eif_signature_ok(e));
    assert_int_equal(eif_check_signature(e, time(NULL), &err), 0);
    assert_int_equal(eif_section_count(e), nsec);
    assert_int_equal(eif_section(e, nsec - 1)->type, EIF_SECTION_SIGNATURE);
    size_t pem_len, file_len;
    const char *pem = eif_signing_cert_pem(e, &pem_len);
    uint8_t *file = slurp(cert_path, &file_len);
    assert_int_equal(pem_len, file_len);
    assert_memory_equal(pem, file, file_len);
    uint8_t pcr8[48];
    assert_int_equal(eif_pcr8_of_cert_pem(file, file_len, pcr8, NULL), 0);
    assert_memory_equal(pcr8, want, 48);
    free(file);
    eif_free(e);
}

static void sign_round_trip(void **state)
{
    (void)state;
    static const char *const curves[3] = { "P-256", "P-384", "P-521" };
    for (int i = 0; i < 3; i++) {
        char key[128], cert[128], out[128], copy[128];
        path_in(key, sizeof(key), "k.pem");
        path_in(cert, sizeof(cert), "c.pem");
        path_in(out, sizeof(out), "signed.eif");
        path_in(copy, sizeof(copy), "tosign.eif");
        make_key_cert(curves[i], key, cert, 86400);

        /* signed at build time */
        const char *rds[2] = { rd0_path, rd1_path };
        struct eif_build_params p = golden_params(rds);
        p.signing_cert_path = cert;
        p.private_key_path = key;
        struct eif_measurements m;
        assert_int_equal(eif_write(out, &p, &m, NULL), 0);
        assert_true(m.has_pcr8);
        check_hex(m.pcr0, 48, PCR0_HEX);
        check_signed(out, cert, 6);

        /* signed afterwards (appended) */
        size_t len;
        uint8_t *g = slurp(golden_path, &len);
        write_file(copy, g, len);
        free(g);
        struct eif_measurements sm;
        assert_int_equal(eif_sign(copy, cert, key, &sm, NULL), 0);
        assert_memory_equal(sm.pcr8, m.pcr8, 48);
        check_signed(copy, cert, 6);
        /* unsigned part unchanged: the first 910 - 548 bytes after the header */
        size_t slen;
        uint8_t *s = slurp(copy, &slen), *o = slurp(golden_path, &len);
        assert_memory_equal(s + 548, o + 548, len - 548);
        free(s);
        free(o);

        /* re-signed with another key: replaced, not added */
        char key2[128], cert2[128];
        path_in(key2, sizeof(key2), "k2.pem");
        path_in(cert2, sizeof(cert2), "c2.pem");
        make_key_cert(curves[(i + 1) % 3], key2, cert2, 86400);
        struct eif_measurements rm;
        assert_int_equal(eif_sign(out, cert2, key2, &rm, NULL), 0);
        assert_memory_not_equal(rm.pcr8, m.pcr8, 48);
        check_signed(out, cert2, 6);
        unlink(out);
        unlink(copy);
    }
}

/* A signed EIF whose signature section sits before a ramdisk: re-signing
 * rewrites it in place and shifts the later section. */
static void resign_shifts_later_sections(void **state)
{
    (void)state;
    char key[128], cert[128], key2[128], cert2[128], out[128];
    path_in(key, sizeof(key), "k.pem");
    path_in(cert, sizeof(cert), "c.pem");
    path_in(key2, sizeof(key2), "k2.pem");
    path_in(cert2, sizeof(cert2), "c2.pem");
    path_in(out, sizeof(out), "mid.eif");
    make_key_cert("P-256", key, cert, 86400);
    make_key_cert("P-521", key2, cert2, 86400);
    const char *rds[2] = { rd0_path, rd1_path };
    struct eif_build_params p = golden_params(rds);
    p.signing_cert_path = cert;
    p.private_key_path = key;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);

    /* move the signature before the last ramdisk, fix table + CRC by hand */
    size_t len;
    uint8_t *d = slurp(out, &len);
    size_t sig_off = 910, sig_sz = len - 910 - 12, rd_off = 882, rd_sz = 28; /* 12 + 16 */
    uint8_t *n = malloc(len);
    memcpy(n, d, rd_off);
    memcpy(n + rd_off, d + sig_off, 12 + sig_sz);
    memcpy(n + rd_off + 12 + sig_sz, d + rd_off, rd_sz);
    for (int b = 0; b < 8; b++) {
        n[28 + 8 * 4 + b] = (uint8_t)((uint64_t)rd_off >> (56 - 8 * b));
        n[28 + 8 * 5 + b] = (uint8_t)((uint64_t)(rd_off + 12 + sig_sz) >> (56 - 8 * b));
        n[284 + 8 * 4 + b] = (uint8_t)((uint64_t)sig_sz >> (56 - 8 * b));
        n[284 + 8 * 5 + b] = (uint8_t)(16ull >> (56 - 8 * b));
    }
    uLong crc = crc32(crc32(crc32(0, Z_NULL, 0), n, 544), n + 548, (uInt)(len - 548));
    n[544] = (uint8_t)(crc >> 24);
    n[545] = (uint8_t)(crc >> 16);
    n[546] = (uint8_t)(crc >> 8);
    n[547] = (uint8_t)crc;
    write_file(out, n, len);
    free(d);
    free(n);
    struct eif *e = NULL;
    assert_int_equal(eif_open(out, &e, NULL), 0);
    assert_true(eif_signature_ok(e));
    assert_int_equal(eif_section(e, 4)->type, EIF_SECTION_SIGNATURE);
    eif_free(e);

    assert_int_equal(eif_sign(out, cert2, key2, NULL, NULL), 0);
    assert_int_equal(eif_open(out, &e, NULL), 0);
    assert_true(eif_crc_ok(e));
    assert_true(eif_signature_ok(e));
    assert_int_equal(eif_section_count(e), 6);
    assert_int_equal(eif_section(e, 4)->type, EIF_SECTION_SIGNATURE);
    assert_int_equal(eif_section(e, 5)->type, EIF_SECTION_RAMDISK);
    check_hex(eif_measurements(e)->pcr2, 48, PCR2_HEX);
    uint8_t want[48];
    expected_pcr8(cert2, want);
    assert_memory_equal(eif_measurements(e)->pcr8, want, 48);
    eif_free(e);
    unlink(out);
}

static void sign_rejections(void **state)
{
    (void)state;
    char key[128], cert[128], key2[128], cert2[128], out[128];
    path_in(key, sizeof(key), "k.pem");
    path_in(cert, sizeof(cert), "c.pem");
    path_in(key2, sizeof(key2), "k2.pem");
    path_in(cert2, sizeof(cert2), "c2.pem");
    path_in(out, sizeof(out), "rej.eif");
    make_key_cert("P-384", key, cert, 86400);
    make_key_cert("P-384", key2, cert2, 86400);
    const char *rds[2] = { rd0_path, rd1_path };
    struct eif_build_params p = golden_params(rds);
    struct cl_error err = { 0 };

    /* key of another certificate */
    p.signing_cert_path = cert;
    p.private_key_path = key2;
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_EINVAL);
    assert_string_equal(err.reason, "the private key does not match the signing certificate");
    assert_int_equal(access(out, F_OK), -1);

    /* an RSA key */
    char rsa[128];
    path_in(rsa, sizeof(rsa), "rsa.pem");
    EVP_PKEY *rk = EVP_RSA_gen(2048);
    FILE *f = fopen(rsa, "w");
    PEM_write_PrivateKey(f, rk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    EVP_PKEY_free(rk);
    cl_error_clear(&err);
    p.private_key_path = rsa;
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason, "the private key is not an EC key (P-256, P-384 or P-521)");

    /* P-224 */
    char k224[128], c224[128];
    path_in(k224, sizeof(k224), "k224.pem");
    path_in(c224, sizeof(c224), "c224.pem");
    make_key_cert("P-224", k224, c224, 86400);
    cl_error_clear(&err);
    p.signing_cert_path = c224;
    p.private_key_path = k224;
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason,
                        "the private key is on curve secp224r1; only P-256, P-384 and P-521 are "
                        "accepted");

    /* a certificate that is not PEM */
    cl_error_clear(&err);
    p.signing_cert_path = kernel_path;
    p.private_key_path = key;
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_EFORMAT);
    char want[256];
    snprintf(want, sizeof(want), "signing certificate '%s': not a PEM certificate", kernel_path);
    assert_int_equal(strncmp(err.reason, want, strlen(want)), 0);
    assert_int_equal(access(out, F_OK), -1);

    /* a damaged EIF is not signed */
    size_t len;
    uint8_t *g = slurp(golden_path, &len);
    g[900] ^= 1;
    write_file(out, g, len);
    free(g);
    cl_error_clear(&err);
    assert_int_equal(eif_sign(out, cert, key, NULL, &err), CL_ECHECKSUM);
    assert_string_equal(err.reason, "the EIF's CRC does not match (stored 0xc689d869, computed "
                                    "0x294bb357): refusing to sign a damaged image");
    unlink(out);

    /* an expired certificate signs, but run-enclave's check refuses it */
    char ke[128], ce[128];
    path_in(ke, sizeof(ke), "ke.pem");
    path_in(ce, sizeof(ce), "ce.pem");
    make_key_cert("P-256", ke, ce, -60);
    p.signing_cert_path = ce;
    p.private_key_path = ke;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);
    struct eif *e = NULL;
    assert_int_equal(eif_open(out, &e, NULL), 0);
    assert_true(eif_signature_ok(e));
    cl_error_clear(&err);
    assert_int_equal(eif_check_signature(e, time(NULL), &err), CL_EEXPIRED);
    assert_string_equal(err.reason, "the signing certificate has expired");
    eif_free(e);
    unlink(out);
}

static void corrupted_signature(void **state)
{
    (void)state;
    char key[128], cert[128], out[128];
    path_in(key, sizeof(key), "k.pem");
    path_in(cert, sizeof(cert), "c.pem");
    path_in(out, sizeof(out), "bad-sig.eif");
    make_key_cert("P-256", key, cert, 86400);
    const char *rds[2] = { rd0_path, rd1_path };
    struct eif_build_params p = golden_params(rds);
    p.signing_cert_path = cert;
    p.private_key_path = key;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);
    size_t len;
    uint8_t *d = slurp(out, &len);
    /* the last byte is the low byte of s in r||s: still a valid CBOR uint8 */
    d[len - 1] ^= 1;
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open_buffer(d, len, &e, &err), 0);
    assert_true(eif_is_signed(e));
    assert_false(eif_signature_ok(e));
    assert_false(eif_crc_ok(e));
    check_hex(eif_measurements(e)->pcr0, 48, PCR0_HEX);
    assert_int_equal(eif_check_signature(e, time(NULL), &err), CL_ESIGNATURE);
    assert_int_equal(strncmp(err.reason, "the EIF signature does not verify: ", 35), 0);
    eif_free(e);
    free(d);
    unlink(out);
}

/* ---------- rejections ---------- */

static uint8_t *golden_copy(size_t *len)
{
    return slurp(golden_path, len);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int b = 0; b < 8; b++)
        p[b] = (uint8_t)(v >> (56 - 8 * b));
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

/* Builds an EIF from (type, data) sections with a consistent table and CRC. */
struct sec {
    uint16_t type;
    const char *data;
    size_t len;
};

static uint8_t *mk_eif(uint16_t version, const struct sec *s, size_t n, size_t *out_len)
{
    size_t len = 548;
    for (size_t i = 0; i < n; i++)
        len += 12 + s[i].len;
    uint8_t *d = calloc(1, len);
    memcpy(d, ".eif", 4);
    d[4] = (uint8_t)(version >> 8);
    d[5] = (uint8_t)version;
    put64(d + 8, 1ull << 30);
    put64(d + 16, 2);
    d[26] = (uint8_t)(n >> 8);
    d[27] = (uint8_t)n;
    size_t off = 548;
    for (size_t i = 0; i < n; i++) {
        if (i < 32) {
            put64(d + 28 + 8 * i, off);
            put64(d + 284 + 8 * i, s[i].len);
        }
        d[off] = (uint8_t)(s[i].type >> 8);
        d[off + 1] = (uint8_t)s[i].type;
        put64(d + off + 4, s[i].len);
        memcpy(d + off + 12, s[i].data, s[i].len);
        off += 12 + s[i].len;
    }
    uLong crc = crc32(crc32(crc32(0, Z_NULL, 0), d, 544), d + 548, (uInt)(len - 548));
    d[544] = (uint8_t)(crc >> 24);
    d[545] = (uint8_t)(crc >> 16);
    d[546] = (uint8_t)(crc >> 8);
    d[547] = (uint8_t)crc;
    *out_len = len;
    return d;
}

#define K { EIF_SECTION_KERNEL, "K", 1 }
#define C { EIF_SECTION_CMDLINE, "c", 1 }
#define M { EIF_SECTION_METADATA, GOLDEN_META, sizeof(GOLDEN_META) - 1 }
#define R { EIF_SECTION_RAMDISK, "r", 1 }

static void check_mk(uint16_t version, const struct sec *s, size_t n, int code, const char *why)
{
    size_t len;
    uint8_t *d = mk_eif(version, s, n, &len);
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
    put64(d + 28 + 8, 579);
    expect_reject(d, len, CL_EFORMAT,
                  "section 1: the header's offset 579 disagrees with the sequential walk (578)");
    put64(d + 28 + 8, 578);
    put64(d + 284, 17);
    expect_reject(d, len, CL_EFORMAT,
                  "section 0: the header's size 17 disagrees with the section header (18)");
    put64(d + 284, 18);
    put64(d + 28 + 8 * 7, 1);
    expect_reject(d, len, CL_EFORMAT, "section table entry 7 is past num_sections but not zero");
    put64(d + 28 + 8 * 7, 0);
    /* a section that runs past the end: the last ramdisk claims 17 bytes */
    put64(d + 882 + 4, 17);
    expect_reject(d, len, CL_EFORMAT,
                  "section 4 (ramdisk) at offset 882: size 17 runs past the end of the file (910 "
                  "bytes)");
    put64(d + 882 + 4, 16);
    /* and a huge one does not wrap around */
    put64(d + 548 + 4, UINT64_MAX - 5);
    expect_reject(d, len, CL_EFORMAT,
                  "section 0 (kernel) at offset 548: size 18446744073709551610 runs past the end "
                  "of the file (910 bytes)");
    put64(d + 548 + 4, 18);
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
    const struct sec ok[] = { K, C, M, R, R };
    check_mk(4, ok, 5, 0, NULL);
    const struct sec nok[] = { K, C, R };
    check_mk(3, nok, 3, 0, NULL);
    check_mk(2, nok, 3, 0, NULL);

    const struct sec no_kernel[] = { C, M, R };
    check_mk(4, no_kernel, 3, CL_EFORMAT, "ramdisk section 2 comes before the kernel");
    const struct sec no_kernel2[] = { C, M };
    check_mk(4, no_kernel2, 2, CL_EFORMAT, "no kernel section");
    const struct sec no_cmdline[] = { K, M, R };
    check_mk(4, no_cmdline, 3, CL_EFORMAT, "no cmdline section");
    const struct sec no_ramdisk[] = { K, C, M };
    check_mk(4, no_ramdisk, 3, CL_EFORMAT, "no ramdisk section");
    const struct sec no_meta[] = { K, C, R };
    check_mk(4, no_meta, 3, CL_EFORMAT, "no metadata section (mandatory in version 4)");
    const struct sec two_kernels[] = { K, C, M, K, R };
    check_mk(4, two_kernels, 5, CL_EFORMAT, "more than one kernel section");
    const struct sec two_cmdlines[] = { K, C, C, M, R };
    check_mk(4, two_cmdlines, 5, CL_EFORMAT, "more than one cmdline section");
    const struct sec two_meta[] = { K, C, M, M, R };
    check_mk(4, two_meta, 5, CL_EFORMAT, "more than one metadata section");
    const struct sec invalid0[] = { K, C, M, { 0, "x", 1 }, R };
    check_mk(4, invalid0, 5, CL_EFORMAT, "section 3 at offset 824: invalid section type 0");
    const struct sec invalid6[] = { K, C, M, R, { 6, "x", 1 } };
    check_mk(4, invalid6, 5, CL_EFORMAT, "section 4 at offset 837: invalid section type 6");
    const struct sec meta_v3[] = { K, C, M, R };
    check_mk(3, meta_v3, 4, CL_EFORMAT, "section 2: a metadata section in a version 3 EIF");
    const struct sec sig_v2[] = { K, C, R, { EIF_SECTION_SIGNATURE, "x", 1 } };
    check_mk(2, sig_v2, 4, CL_EFORMAT, "section 3: a signature section in a version 2 EIF");

    /* 33 sections: the walk stops at 32 */
    struct sec many[33];
    for (int i = 0; i < 33; i++)
        many[i] = (struct sec)R;
    many[0] = (struct sec)K;
    many[1] = (struct sec)C;
    many[2] = (struct sec)M;
    check_mk(4, many, 33, CL_ELIMIT, "num_sections 33 exceeds the maximum of 32");
    size_t len;
    uint8_t *d = mk_eif(4, many, 33, &len);
    d[27] = 32;
    expect_reject(d, len, CL_ELIMIT, "more than 32 sections before the end of the file");
    free(d);
    check_mk(4, many, 32, 0, NULL);

    /* oversized signature */
    char *big = calloc(1, 32769);
    const struct sec bigsig[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, big, 32769 } };
    check_mk(4, bigsig, 5, CL_ELIMIT,
             "signature section of 32769 bytes exceeds the maximum of 32768");
    /* a signature section that is not CBOR of the expected shape */
    const struct sec junksig[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, "\x80", 1 } };
    check_mk(4, junksig, 5, CL_EFORMAT, "malformed signature section: not a non-empty array");
    const struct sec trailsig[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, "\x80\x00", 2 } };
    check_mk(4, trailsig, 5, CL_EFORMAT, "malformed signature section: 1 trailing bytes after the CBOR item");
    const struct sec notcbor[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, "\xff", 1 } };
    check_mk(4, notcbor, 5, CL_EFORMAT, "malformed signature section: malformed CBOR: unexpected break (at byte 0)");
    /* a map declaring 2^32-1 entries in a 6-byte section */
    const struct sec hugemap[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, "\x81\xba\xff\xff\xff\xff", 6 } };
    size_t hlen;
    uint8_t *hd = mk_eif(4, hugemap, 5, &hlen);
    struct eif *he = NULL;
    struct cl_error herr = { 0 };
    assert_int_equal(eif_open_buffer(hd, hlen, &he, &herr), CL_EFORMAT);
    assert_int_equal(strncmp(herr.reason, "malformed signature section: ", 29), 0);
    free(hd);
    /* [{"signature": [1], "x": [1]}] */
    static const char badkey[] = "\x81\xa2\x69signature\x81\x01\x61x\x81\x01";
    const struct sec badkeysig[] = { K, C, M, R,
                                     { EIF_SECTION_SIGNATURE, badkey, sizeof(badkey) - 1 } };
    check_mk(4, badkeysig, 5, CL_EFORMAT,
             "malformed signature section: unexpected or duplicate key 'x'");
    /* [{"signing_certificate": [256], "signature": [1]}] */
    static const char wide[] =
        "\x81\xa2\x73signing_certificate\x81\x19\x01\x00\x69signature\x81\x01";
    const struct sec widesig[] = { K, C, M, R, { EIF_SECTION_SIGNATURE, wide, sizeof(wide) - 1 } };
    check_mk(4, widesig, 5, CL_EFORMAT,
             "malformed signature section: signing_certificate holds something other than bytes");
    /* well-formed but the certificate is not PEM */
    static const char notpem[] = "\x81\xa2\x73signing_certificate\x81\x01\x69signature\x81\x01";
    const struct sec notpemsig[] = { K, C, M, R,
                                     { EIF_SECTION_SIGNATURE, notpem, sizeof(notpem) - 1 } };
    size_t nlen;
    uint8_t *nd = mk_eif(4, notpemsig, 5, &nlen);
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open_buffer(nd, nlen, &e, &err), CL_EFORMAT);
    assert_int_equal(strncmp(err.reason, "signature section: not a PEM certificate", 40), 0);
    free(nd);
    free(big);

    /* metadata nitro-cli could not deserialize */
    const struct sec badjson[] = { K, C, { EIF_SECTION_METADATA, "{", 1 }, R };
    check_mk(4, badjson, 4, CL_EFORMAT,
             "malformed metadata: string or '}' expected near end of file");
    const struct sec arr[] = { K, C, { EIF_SECTION_METADATA, "[]", 2 }, R };
    check_mk(4, arr, 4, CL_EFORMAT, "malformed metadata: not a JSON object");
    static const char nokey[] = "{\"ImageName\":\"x\"}";
    const struct sec nokeys[] = { K, C, { EIF_SECTION_METADATA, nokey, sizeof(nokey) - 1 }, R };
    check_mk(4, nokeys, 4, CL_EFORMAT, "malformed metadata: missing key ImageVersion");
    static const char nobuild[] =
        "{\"ImageName\":\"x\",\"ImageVersion\":\"1\",\"BuildMetadata\":{},\"DockerInfo\":null,"
        "\"CustomMetadata\":null}";
    const struct sec nobuilds[] = { K, C, { EIF_SECTION_METADATA, nobuild, sizeof(nobuild) - 1 },
                                    R };
    check_mk(4, nobuilds, 4, CL_EFORMAT,
             "malformed metadata: BuildMetadata.BuildTime is missing or not a string");
    const struct sec nul[] = { K, C, { EIF_SECTION_METADATA, "{}\0", 3 }, R };
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
    check_hex(eif_measurements(e)->pcr0, 48, PCR0_HEX);
    eif_free(e);
    free(d);
}

static void writer_rejections(void **state)
{
    (void)state;
    char out[128], missing[128];
    path_in(out, sizeof(out), "w.eif");
    path_in(missing, sizeof(missing), "no-such-ramdisk");
    const char *rds[2] = { rd0_path, missing };
    struct eif_build_params p = golden_params(rds);
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
        many[i] = rd0_path;
    p.ramdisk_paths = many;
    p.ramdisk_count = 30;
    cl_error_clear(&err);
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_ELIMIT);
    assert_string_equal(err.reason, "too many sections (at most 32 in an EIF)");
    p.ramdisk_count = 29;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_bytes),
        cmocka_unit_test(golden_measurements),
        cmocka_unit_test(golden_writer_returns_measurements),
        cmocka_unit_test(streaming_writer_same_bytes),
        cmocka_unit_test(streaming_writer_misuse),
        cmocka_unit_test(large_image_measured_like_openssl),
        cmocka_unit_test(stage_sized_sections),
        cmocka_unit_test(single_ramdisk_pcr2_is_empty_pcr),
        cmocka_unit_test(empty_first_ramdisk),
        cmocka_unit_test(pcr_of_empty_file),
        cmocka_unit_test(sign_round_trip),
        cmocka_unit_test(resign_shifts_later_sections),
        cmocka_unit_test(sign_rejections),
        cmocka_unit_test(corrupted_signature),
        cmocka_unit_test(rejects_truncated),
        cmocka_unit_test(rejects_bad_header),
        cmocka_unit_test(rejects_bad_sections),
        cmocka_unit_test(bad_crc_is_reported_not_rejected),
        cmocka_unit_test(writer_rejections),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
