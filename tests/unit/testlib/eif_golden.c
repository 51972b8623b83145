/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib/eif_golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "testlib/testlib.h"

int tl_golden_setup(struct tl_golden *g)
{
    snprintf(g->dir, sizeof(g->dir), "/tmp/cloister-eif-XXXXXX");
    if (!mkdtemp(g->dir))
        return -1;
    tl_path(g->kernel, sizeof(g->kernel), g->dir, "kernel");
    tl_path(g->rd0, sizeof(g->rd0), g->dir, "rd0");
    tl_path(g->rd1, sizeof(g->rd1), g->dir, "rd1");
    tl_path(g->eif, sizeof(g->eif), g->dir, "golden.eif");
    tl_write_file(g->kernel, "KERNEL-IMAGE-BYTES", 18);
    tl_write_file(g->rd0, "BOOTSTRAP-RAMDISK", 17);
    tl_write_file(g->rd1, "CUSTOMER-RAMDISK", 16);
    const char *rds[2] = { g->rd0, g->rd1 };
    struct eif_build_params p = tl_golden_params(g, rds);
    struct cl_error err = { 0 };
    if (eif_write(g->eif, &p, NULL, &err) != 0) {
        fprintf(stderr, "golden: %s\n", err.reason);
        return -1;
    }
    return 0;
}

int tl_golden_teardown(struct tl_golden *g)
{
    tl_rmtree(g->dir);
    return 0;
}

struct eif_build_params tl_golden_params(const struct tl_golden *g, const char *const *rds)
{
    return (struct eif_build_params){
        .kernel_path = g->kernel,
        .cmdline = (const uint8_t *)"console=ttyS0",
        .cmdline_len = 13,
        .metadata_json = GOLDEN_META,
        .ramdisk_paths = rds,
        .ramdisk_count = 2,
    };
}

void tl_make_key_cert(const char *curve, const char *key_path, const char *cert_path,
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
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    f = fopen(cert_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, c), 1);
    fclose(f);
    X509_free(c);
    EVP_PKEY_free(k);
}

X509 *tl_read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(c);
    return c;
}

void tl_expected_pcr8(const char *cert_path, uint8_t out[48])
{
    X509 *c = tl_read_cert(cert_path);
    unsigned char *der = NULL;
    int n = i2d_X509(c, &der);
    assert_true(n > 0);
    uint8_t z[96] = { 0 };
    EVP_Digest(der, (size_t)n, z + 48, NULL, EVP_sha384(), NULL);
    EVP_Digest(z, 96, out, NULL, EVP_sha384(), NULL);
    OPENSSL_free(der);
    X509_free(c);
}

void tl_put64(uint8_t *p, uint64_t v)
{
    for (int b = 0; b < 8; b++)
        p[b] = (uint8_t)(v >> (56 - 8 * b));
}

uint8_t *tl_mk_eif(uint16_t version, const struct tl_sec *s, size_t n, size_t *out_len)
{
    size_t len = 548;
    for (size_t i = 0; i < n; i++)
        len += 12 + s[i].len;
    uint8_t *d = calloc(1, len);
    assert_non_null(d);
    memcpy(d, ".eif", 4);
    d[4] = (uint8_t)(version >> 8);
    d[5] = (uint8_t)version;
    tl_put64(d + 8, 1ull << 30);
    tl_put64(d + 16, 2);
    d[26] = (uint8_t)(n >> 8);
    d[27] = (uint8_t)n;
    size_t off = 548;
    for (size_t i = 0; i < n; i++) {
        if (i < 32) {
            tl_put64(d + 28 + 8 * i, off);
            tl_put64(d + 284 + 8 * i, s[i].len);
        }
        d[off] = (uint8_t)(s[i].type >> 8);
        d[off + 1] = (uint8_t)s[i].type;
        tl_put64(d + off + 4, s[i].len);
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

void tl_signer_make(struct tl_signer *s, const char *dir, const char *curve, const char *tag)
{
    char k[64], c[64];
    snprintf(k, sizeof(k), "%s-key.pem", tag);
    snprintf(c, sizeof(c), "%s-cert.pem", tag);
    tl_path(s->key, sizeof(s->key), dir, k);
    tl_path(s->cert, sizeof(s->cert), dir, c);
    tl_make_key_cert(curve, s->key, s->cert, 86400);
}

void tl_signer_drop(const struct tl_signer *s)
{
    unlink(s->key);
    unlink(s->cert);
}
