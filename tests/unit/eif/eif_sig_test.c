/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EIF signature section (src/lib/eif/eif_sig.c) and signed EIFs: the
 * PcrInfo payload and the section's exact CBOR, build/parse/verify on
 * P-256, P-384 and P-521, every parse rejection with its reason, tampering
 * (another PCR0, another certificate, a flipped signature bit, a curve or
 * key type that does not match) with its exact error, and sign-eif's round
 * trips (appended, replaced, shifted).
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
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zlib.h>

#include <cloister/eif.h>

#include "cose/cose.h"
#include "eif/eif_internal.h"
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

/* ---------- signed EIFs: sign-eif and build-time signing ---------- */

static void check_signed(const char *path, const char *cert_path, size_t nsec)
{
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open(path, &e, &err), 0);
    const struct eif_measurements *m = eif_measurements(e);
    tl_check_hex(m->pcr0, 48, PCR0_HEX);
    tl_check_hex(m->pcr1, 48, PCR1_HEX);
    tl_check_hex(m->pcr2, 48, PCR2_HEX);
    assert_true(m->has_pcr8);
    uint8_t want[48];
    tl_expected_pcr8(cert_path, want);
    assert_memory_equal(m->pcr8, want, 48);
    assert_true(eif_crc_ok(e));
    assert_true(eif_is_signed(e));
    assert_true(eif_signature_ok(e));
    assert_int_equal(eif_check_signature(e, time(NULL), &err), 0);
    assert_int_equal(eif_section_count(e), nsec);
    assert_int_equal(eif_section(e, nsec - 1)->type, EIF_SECTION_SIGNATURE);
    size_t pem_len, file_len;
    const char *pem = eif_signing_cert_pem(e, &pem_len);
    uint8_t *file = tl_slurp(cert_path, &file_len);
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
        tl_path(key, sizeof(key), fx.dir, "k.pem");
        tl_path(cert, sizeof(cert), fx.dir, "c.pem");
        tl_path(out, sizeof(out), fx.dir, "signed.eif");
        tl_path(copy, sizeof(copy), fx.dir, "tosign.eif");
        tl_make_key_cert(curves[i], key, cert, 86400);

        /* signed at build time */
        const char *rds[2] = { fx.rd0, fx.rd1 };
        struct eif_build_params p = tl_golden_params(&fx, rds);
        p.signing_cert_path = cert;
        p.private_key_path = key;
        struct eif_measurements m;
        assert_int_equal(eif_write(out, &p, &m, NULL), 0);
        assert_true(m.has_pcr8);
        tl_check_hex(m.pcr0, 48, PCR0_HEX);
        check_signed(out, cert, 6);

        /* signed afterwards (appended) */
        size_t len;
        uint8_t *g = tl_slurp(fx.eif, &len);
        tl_write_file(copy, g, len);
        free(g);
        struct eif_measurements sm;
        assert_int_equal(eif_sign(copy, cert, key, &sm, NULL), 0);
        assert_memory_equal(sm.pcr8, m.pcr8, 48);
        check_signed(copy, cert, 6);
        /* unsigned part unchanged: the first 910 - 548 bytes after the header */
        size_t slen;
        uint8_t *s = tl_slurp(copy, &slen), *o = tl_slurp(fx.eif, &len);
        assert_memory_equal(s + 548, o + 548, len - 548);
        free(s);
        free(o);

        /* re-signed with another key: replaced, not added */
        char key2[128], cert2[128];
        tl_path(key2, sizeof(key2), fx.dir, "k2.pem");
        tl_path(cert2, sizeof(cert2), fx.dir, "c2.pem");
        tl_make_key_cert(curves[(i + 1) % 3], key2, cert2, 86400);
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
    tl_path(key, sizeof(key), fx.dir, "k.pem");
    tl_path(cert, sizeof(cert), fx.dir, "c.pem");
    tl_path(key2, sizeof(key2), fx.dir, "k2.pem");
    tl_path(cert2, sizeof(cert2), fx.dir, "c2.pem");
    tl_path(out, sizeof(out), fx.dir, "mid.eif");
    tl_make_key_cert("P-256", key, cert, 86400);
    tl_make_key_cert("P-521", key2, cert2, 86400);
    const char *rds[2] = { fx.rd0, fx.rd1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    p.signing_cert_path = cert;
    p.private_key_path = key;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);

    /* move the signature before the last ramdisk, fix table + CRC by hand */
    size_t len;
    uint8_t *d = tl_slurp(out, &len);
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
    tl_write_file(out, n, len);
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
    tl_check_hex(eif_measurements(e)->pcr2, 48, PCR2_HEX);
    uint8_t want[48];
    tl_expected_pcr8(cert2, want);
    assert_memory_equal(eif_measurements(e)->pcr8, want, 48);
    eif_free(e);
    unlink(out);
}

static void sign_rejections(void **state)
{
    (void)state;
    char key[128], cert[128], key2[128], cert2[128], out[128];
    tl_path(key, sizeof(key), fx.dir, "k.pem");
    tl_path(cert, sizeof(cert), fx.dir, "c.pem");
    tl_path(key2, sizeof(key2), fx.dir, "k2.pem");
    tl_path(cert2, sizeof(cert2), fx.dir, "c2.pem");
    tl_path(out, sizeof(out), fx.dir, "rej.eif");
    tl_make_key_cert("P-384", key, cert, 86400);
    tl_make_key_cert("P-384", key2, cert2, 86400);
    const char *rds[2] = { fx.rd0, fx.rd1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    struct cl_error err = { 0 };

    /* key of another certificate */
    p.signing_cert_path = cert;
    p.private_key_path = key2;
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_EINVAL);
    assert_string_equal(err.reason, "the private key does not match the signing certificate");
    assert_int_equal(access(out, F_OK), -1);

    /* an RSA key */
    char rsa[128];
    tl_path(rsa, sizeof(rsa), fx.dir, "rsa.pem");
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
    tl_path(k224, sizeof(k224), fx.dir, "k224.pem");
    tl_path(c224, sizeof(c224), fx.dir, "c224.pem");
    tl_make_key_cert("P-224", k224, c224, 86400);
    cl_error_clear(&err);
    p.signing_cert_path = c224;
    p.private_key_path = k224;
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_EUNSUPPORTED);
    assert_string_equal(err.reason,
                        "the private key is on curve secp224r1; only P-256, P-384 and P-521 are "
                        "accepted");

    /* a certificate that is not PEM */
    cl_error_clear(&err);
    p.signing_cert_path = fx.kernel;
    p.private_key_path = key;
    assert_int_equal(eif_write(out, &p, NULL, &err), CL_EFORMAT);
    char want[256];
    snprintf(want, sizeof(want), "signing certificate '%s': not a PEM certificate", fx.kernel);
    assert_int_equal(strncmp(err.reason, want, strlen(want)), 0);
    assert_int_equal(access(out, F_OK), -1);

    /* a damaged EIF is not signed */
    size_t len;
    uint8_t *g = tl_slurp(fx.eif, &len);
    g[900] ^= 1;
    tl_write_file(out, g, len);
    free(g);
    cl_error_clear(&err);
    assert_int_equal(eif_sign(out, cert, key, NULL, &err), CL_ECHECKSUM);
    assert_string_equal(err.reason, "the EIF's CRC does not match (stored 0xc689d869, computed "
                                    "0x294bb357): refusing to sign a damaged image");
    unlink(out);

    /* an expired certificate signs, but run-enclave's check refuses it */
    char ke[128], ce[128];
    tl_path(ke, sizeof(ke), fx.dir, "ke.pem");
    tl_path(ce, sizeof(ce), fx.dir, "ce.pem");
    tl_make_key_cert("P-256", ke, ce, -60);
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
    tl_path(key, sizeof(key), fx.dir, "k.pem");
    tl_path(cert, sizeof(cert), fx.dir, "c.pem");
    tl_path(out, sizeof(out), fx.dir, "bad-sig.eif");
    tl_make_key_cert("P-256", key, cert, 86400);
    const char *rds[2] = { fx.rd0, fx.rd1 };
    struct eif_build_params p = tl_golden_params(&fx, rds);
    p.signing_cert_path = cert;
    p.private_key_path = key;
    assert_int_equal(eif_write(out, &p, NULL, NULL), 0);
    size_t len;
    uint8_t *d = tl_slurp(out, &len);
    /* the last byte is the low byte of s in r||s: still a valid CBOR uint8 */
    d[len - 1] ^= 1;
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open_buffer(d, len, &e, &err), 0);
    assert_true(eif_is_signed(e));
    assert_false(eif_signature_ok(e));
    assert_false(eif_crc_ok(e));
    tl_check_hex(eif_measurements(e)->pcr0, 48, PCR0_HEX);
    assert_int_equal(eif_check_signature(e, time(NULL), &err), CL_ESIGNATURE);
    assert_int_equal(strncmp(err.reason, "the EIF signature does not verify: ", 35), 0);
    eif_free(e);
    free(d);
    unlink(out);
}

/* ---------- the section: build, parse, verify ---------- */

/* [ {"signing_certificate": pem, "signature": cose} ] */
static void put_section(struct tl_cbor *b, const uint8_t *pem, size_t pem_len,
                        const uint8_t *cose, size_t cose_len)
{
    tl_put_array(b, 1);
    tl_put_map(b, 2);
    tl_put_text(b, "signing_certificate");
    tl_put_uint_array(b, pem, pem_len);
    tl_put_text(b, "signature");
    tl_put_uint_array(b, cose, cose_len);
}

static const uint8_t *pcr0_ramp(void)
{
    static uint8_t p[48];
    for (int i = 0; i < 48; i++)
        p[i] = (uint8_t)(i * 5);
    return p;
}

static void pcrinfo_is_serde_bytes(void **state)
{
    (void)state;
    uint8_t *got = NULL;
    size_t got_len = 0;
    assert_int_equal(eif_sig_pcrinfo(pcr0_ramp(), &got, &got_len, NULL), 0);
    struct tl_cbor want = { .n = 0 };
    tl_put_map(&want, 2);
    tl_put_text(&want, "register_index");
    tl_put_uint(&want, 0);
    tl_put_text(&want, "register_value");
    tl_put_uint_array(&want, pcr0_ramp(), 48);
    assert_int_equal(got_len, want.n);
    assert_memory_equal(got, want.b, want.n);
    /* 0..23 in one byte, 24..255 as 0x18 xx */
    assert_memory_equal(got + 32, "\x98\x30\x00\x05\x0a\x0f\x14\x18\x19", 9);
    free(got);
}

static void make_parse_verify_each_curve(void **state)
{
    (void)state;
    static const struct { const char *curve; int alg; } c[] = {
        { "P-256", COSE_ALG_ES256 }, { "P-384", COSE_ALG_ES384 }, { "P-521", COSE_ALG_ES512 },
    };
    for (size_t i = 0; i < 3; i++) {
        struct tl_signer s;
        tl_signer_make(&s, fx.dir, c[i].curve, "each");
        uint8_t *sec = NULL, pcr8[48], want8[48];
        size_t sec_len = 0;
        struct cl_error err = { 0 };
        assert_int_equal(eif_sig_make(pcr0_ramp(), s.cert, s.key, &sec, &sec_len, pcr8, &err), 0);
        tl_expected_pcr8(s.cert, want8);
        assert_memory_equal(pcr8, want8, 48);

        char *pem = NULL;
        uint8_t *cose = NULL;
        size_t pem_len = 0, cose_len = 0;
        assert_int_equal(eif_sig_parse(sec, sec_len, &pem, &pem_len, &cose, &cose_len, &err), 0);
        size_t file_len;
        uint8_t *file = tl_slurp(s.cert, &file_len);
        assert_int_equal(pem_len, file_len);
        assert_memory_equal(pem, file, file_len);
        assert_int_equal(pem[pem_len], '\0');
        /* the section is exactly [ {"signing_certificate": PEM, "signature": COSE} ] */
        struct tl_cbor *b = calloc(1, sizeof(*b));
        put_section(b, file, file_len, cose, cose_len);
        assert_int_equal(sec_len, b->n);
        assert_memory_equal(sec, b->b, b->n);
        free(b);

        struct cose_sign1 *m = NULL;
        assert_int_equal(cose_sign1_parse(cose, cose_len, &m, &err), 0);
        assert_int_equal(cose_sign1_alg(m), c[i].alg);
        uint8_t *info = NULL;
        size_t info_len = 0, n = 0;
        assert_int_equal(eif_sig_pcrinfo(pcr0_ramp(), &info, &info_len, NULL), 0);
        const uint8_t *payload = cose_sign1_payload(m, &n);
        assert_int_equal(n, info_len);
        assert_memory_equal(payload, info, info_len);
        cose_sign1_free(m);

        X509 *cert = tl_read_cert(s.cert);
        uint8_t again[48];
        assert_int_equal(eif_sig_pcr8(cert, again, &err), 0);
        assert_memory_equal(again, want8, 48);
        assert_int_equal(eif_sig_verify(cert, cose, cose_len, pcr0_ramp(), &err), 0);
        X509_free(cert);
        free(info);
        free(file);
        free(pem);
        free(cose);
        free(sec);
        tl_signer_drop(&s);
    }
}

/* A section made for pcr0 with a new P-384 key, parsed. */
struct made {
    struct tl_signer s;
    char *pem;
    uint8_t *cose;
    size_t pem_len, cose_len;
};

static void make_section(struct made *x, const uint8_t pcr0[48], const char *tag)
{
    tl_signer_make(&x->s, fx.dir, "P-384", tag);
    uint8_t *sec = NULL, pcr8[48];
    size_t sec_len = 0;
    assert_int_equal(eif_sig_make(pcr0, x->s.cert, x->s.key, &sec, &sec_len, pcr8, NULL), 0);
    assert_int_equal(
        eif_sig_parse(sec, sec_len, &x->pem, &x->pem_len, &x->cose, &x->cose_len, NULL), 0);
    free(sec);
}

static void drop_section(struct made *x)
{
    free(x->pem);
    free(x->cose);
    tl_signer_drop(&x->s);
}

static void expect_verify_error(X509 *cert, const uint8_t *cose, size_t cose_len,
                                const uint8_t *pcr0, int code, const char *reason)
{
    struct cl_error err = { 0 };
    int rc = eif_sig_verify(cert, cose, cose_len, pcr0, &err);
    if (rc != code || strcmp(err.reason, reason) != 0)
        fail_msg("got %d '%s', want %d '%s'", rc, err.reason, code, reason);
}

static X509 *cert_of_new_key(const char *curve, const char *tag)
{
    struct tl_signer o;
    tl_signer_make(&o, fx.dir, curve, tag);
    X509 *c = tl_read_cert(o.cert);
    tl_signer_drop(&o);
    return c;
}

static X509 *rsa_cert(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    X509 *c = X509_new();
    X509_set_version(c, 2);
    X509_gmtime_adj(X509_getm_notBefore(c), 0);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600);
    X509_set_pubkey(c, k);
    assert_true(X509_sign(c, k, EVP_sha256()) > 0);
    EVP_PKEY_free(k);
    return c;
}

static void verify_detects_tampering(void **state)
{
    (void)state;
    struct made x;
    make_section(&x, pcr0_ramp(), "made");
    X509 *cert = tl_read_cert(x.s.cert);

    uint8_t other[48];
    memcpy(other, pcr0_ramp(), 48);
    other[47] ^= 1;
    expect_verify_error(cert, x.cose, x.cose_len, other, CL_ESIGNATURE,
                        "the signed payload is not PCR0 of this image");

    uint8_t *bad = malloc(x.cose_len);
    memcpy(bad, x.cose, x.cose_len);
    bad[x.cose_len - 1] ^= 1; /* the low byte of s */
    expect_verify_error(cert, bad, x.cose_len, pcr0_ramp(), CL_ESIGNATURE,
                        "COSE signature does not verify");
    free(bad);

    X509 *stranger = cert_of_new_key("P-384", "stranger");
    expect_verify_error(stranger, x.cose, x.cose_len, pcr0_ramp(), CL_ESIGNATURE,
                        "COSE signature does not verify");
    X509_free(stranger);
    X509 *p256 = cert_of_new_key("P-256", "p256");
    expect_verify_error(p256, x.cose, x.cose_len, pcr0_ramp(), CL_EALGORITHM,
                        "COSE algorithm ES384 does not match the P-256 key");
    X509_free(p256);
    X509 *p224 = cert_of_new_key("P-224", "p224");
    expect_verify_error(p224, x.cose, x.cose_len, pcr0_ramp(), CL_EUNSUPPORTED,
                        "the certificate's key is on curve secp224r1; only P-256, P-384 and "
                        "P-521 are accepted");
    X509_free(p224);
    X509 *rsa = rsa_cert();
    expect_verify_error(rsa, x.cose, x.cose_len, pcr0_ramp(), CL_EUNSUPPORTED,
                        "the certificate's key is not an EC key (P-256, P-384 or P-521)");
    X509_free(rsa);
    expect_verify_error(cert, (const uint8_t *)"\x80", 1, pcr0_ramp(), CL_EFORMAT,
                        "COSE_Sign1 is not an array of 4 items");

    /* a valid signature over a PcrInfo of another register */
    struct tl_cbor info = { .n = 0 };
    tl_put_map(&info, 2);
    tl_put_text(&info, "register_index");
    tl_put_uint(&info, 1);
    tl_put_text(&info, "register_value");
    tl_put_uint_array(&info, pcr0_ramp(), 48);
    size_t klen;
    uint8_t *kpem = tl_slurp(x.s.key, &klen);
    BIO *bio = BIO_new_mem_buf(kpem, (int)klen);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    assert_non_null(key);
    uint8_t *cose1 = NULL;
    size_t cose1_len = 0;
    assert_int_equal(cose_sign1_sign(key, info.b, info.n, &cose1, &cose1_len, NULL), 0);
    expect_verify_error(cert, cose1, cose1_len, pcr0_ramp(), CL_ESIGNATURE,
                        "the signed payload is not PCR0 of this image");
    free(cose1);
    EVP_PKEY_free(key);
    BIO_free(bio);
    free(kpem);
    X509_free(cert);
    drop_section(&x);
}

static void expect_parse_error(const void *sec, size_t len, int code, const char *reason)
{
    char *pem = (char *)&pem;
    uint8_t *cose = (uint8_t *)&cose;
    size_t pem_len = 0, cose_len = 0;
    struct cl_error err = { 0 };
    int rc = eif_sig_parse(sec, len, &pem, &pem_len, &cose, &cose_len, &err);
    if (rc != code || strcmp(err.reason, reason) != 0)
        fail_msg("got %d '%s', want %d '%s'", rc, err.reason, code, reason);
    assert_null(pem);
    assert_null(cose);
}

#define PARSE_ERROR(lit, code, reason) expect_parse_error(lit, sizeof(lit) - 1, code, reason)
#define SIGCERT "\x73signing_certificate"
#define SIGNATURE "\x69signature"

static void parse_rejections(void **state)
{
    (void)state;
    const char *pre = "malformed signature section: ";
    char want[256];
#define WANT(s) (snprintf(want, sizeof(want), "%s%s", pre, s), want)
    PARSE_ERROR("\x80", CL_EFORMAT, WANT("not a non-empty array"));
    PARSE_ERROR("\xa0", CL_EFORMAT, WANT("not a non-empty array"));
    PARSE_ERROR("\x81\x01", CL_EFORMAT, WANT("entry 0 is not a map of 2 keys"));
    PARSE_ERROR("\x81\xa1" SIGNATURE "\x81\x01", CL_EFORMAT, WANT("entry 0 is not a map of 2 keys"));
    PARSE_ERROR("\x81\xa2\x01\x81\x01" SIGNATURE "\x81\x01", CL_EFORMAT, WANT("a key is not a text"));
    /* a chunked text key is not accepted either */
    PARSE_ERROR("\x81\xa2\x7f\x69signature\xff\x81\x01" SIGCERT "\x81\x01", CL_EFORMAT,
                WANT("a key is not a text"));
    PARSE_ERROR("\x81\xa2" SIGNATURE "\x81\x01" SIGNATURE "\x81\x01", CL_EFORMAT,
                WANT("unexpected or duplicate key 'signature'"));
    PARSE_ERROR("\x81\xa2" SIGCERT "\x80" SIGNATURE "\x81\x01", CL_EFORMAT,
                WANT("signing_certificate is empty"));
    PARSE_ERROR("\x81\xa2" SIGCERT "\x41\x01" SIGNATURE "\x81\x01", CL_EFORMAT,
                WANT("signing_certificate is not an array"));
    PARSE_ERROR("\x81\xa2" SIGCERT "\x81\x01" SIGNATURE "\x81\x19\x00\x01", CL_EFORMAT,
                WANT("signature holds something other than bytes"));
    PARSE_ERROR("\x81\xa2" SIGCERT "\x81\x20" SIGNATURE "\x81\x01", CL_EFORMAT,
                WANT("signing_certificate holds something other than bytes"));
    /* long key names are cut at 40 characters in the reason */
    PARSE_ERROR("\x81\xa2\x78\x32" "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" "\x81\x01"
                SIGNATURE "\x81\x01", CL_EFORMAT,
                WANT("unexpected or duplicate key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk'"));
    /* every entry must be well-formed, not only the first */
    PARSE_ERROR("\x82\xa2" SIGCERT "\x81\x01" SIGNATURE "\x81\x01" "\x01", CL_EFORMAT,
                WANT("entry 1 is not a map of 2 keys"));
    /* CBOR-level failures keep their code and reason */
    PARSE_ERROR("\x81\xa2" SIGCERT "\x81\x01" SIGNATURE "\x81", CL_EFORMAT,
                WANT("truncated CBOR at byte 35"));
    PARSE_ERROR("\x80\x00", CL_EFORMAT, WANT("1 trailing bytes after the CBOR item"));
    PARSE_ERROR("\x9a\xff\xff\xff\xff", CL_EFORMAT,
                WANT("malformed CBOR: array size exceeds the input (at byte 0)"));
    expect_parse_error("", 0, CL_EFORMAT, WANT("empty CBOR input"));
#undef WANT
}

/* Several well-formed entries: the first one is used, as nitro-cli does. */
static void parse_uses_the_first_entry(void **state)
{
    (void)state;
    static const char sec[] = "\x82"
                              "\xa2" SIGCERT "\x82\x01\x02" SIGNATURE "\x81\x07"
                              "\xa2" SIGNATURE "\x81\x09" SIGCERT "\x81\x03";
    char *pem = NULL;
    uint8_t *cose = NULL;
    size_t pem_len = 0, cose_len = 0;
    assert_int_equal(eif_sig_parse((const uint8_t *)sec, sizeof(sec) - 1, &pem, &pem_len, &cose,
                                   &cose_len, NULL), 0);
    assert_int_equal(pem_len, 2);
    assert_string_equal(pem, "\x01\x02");
    assert_int_equal(cose_len, 1);
    assert_int_equal(cose[0], 7);
    free(pem);
    free(cose);
}

static void load_cert_rejections(void **state)
{
    (void)state;
    X509 *c = (X509 *)&c;
    struct cl_error err = { 0 };
    assert_int_equal(eif_sig_load_cert((const uint8_t *)"hello", 5, &c, &err), CL_EFORMAT);
    assert_null(c);
    assert_string_equal(err.reason, "not a PEM certificate: no start line");
    cl_error_clear(&err);
    assert_int_equal(eif_sig_load_cert((const uint8_t *)"x", (size_t)INT32_MAX + 1, &c, &err),
                     CL_ELIMIT);
    assert_string_equal(err.reason, "certificate too large");
}

/* A PEM with two certificates: the first one is the signing certificate
 * (as openssl's X509::from_pem, which nitro-cli uses, reads it). */
static void load_cert_takes_the_first_of_several(void **state)
{
    (void)state;
    struct tl_signer a, b;
    tl_signer_make(&a, fx.dir, "P-256", "first");
    tl_signer_make(&b, fx.dir, "P-384", "second");
    size_t la, lb;
    uint8_t *pa = tl_slurp(a.cert, &la), *pb = tl_slurp(b.cert, &lb);
    uint8_t *both = malloc(la + lb);
    memcpy(both, pa, la);
    memcpy(both + la, pb, lb);
    X509 *c = NULL;
    assert_int_equal(eif_sig_load_cert(both, la + lb, &c, NULL), 0);
    uint8_t got[48], want[48];
    assert_int_equal(eif_sig_pcr8(c, got, NULL), 0);
    tl_expected_pcr8(a.cert, want);
    assert_memory_equal(got, want, 48);
    X509_free(c);
    free(both);
    free(pa);
    free(pb);
    tl_signer_drop(&a);
    tl_signer_drop(&b);
}

static void expect_make_error(const char *cert, const char *key, int code, const char *reason)
{
    uint8_t *sec = (uint8_t *)&sec, pcr8[48];
    size_t sec_len = 0;
    struct cl_error err = { 0 };
    int rc = eif_sig_make(pcr0_ramp(), cert, key, &sec, &sec_len, pcr8, &err);
    if (rc != code || strncmp(err.reason, reason, strlen(reason)) != 0)
        fail_msg("got %d '%s', want %d '%s...'", rc, err.reason, code, reason);
    assert_null(sec);
}

static void make_rejections(void **state)
{
    (void)state;
    struct tl_signer s;
    tl_signer_make(&s, fx.dir, "P-256", "mk");
    char missing[128], want[400], big[128];
    tl_path(missing, sizeof(missing), fx.dir, "missing.pem");
    snprintf(want, sizeof(want),
             "signing certificate: cannot open '%s': No such file or directory", missing);
    expect_make_error(missing, s.key, CL_ENOTFOUND, want);
    snprintf(want, sizeof(want), "private key: cannot open '%s': No such file or directory",
             missing);
    expect_make_error(s.cert, missing, CL_ENOTFOUND, want);
    snprintf(want, sizeof(want), "private key '%s' is not a PEM private key: ", s.cert);
    expect_make_error(s.cert, s.cert, CL_EFORMAT, want);
    snprintf(want, sizeof(want), "signing certificate '%s': not a PEM certificate: ", s.key);
    expect_make_error(s.key, s.key, CL_EFORMAT, want);

    /* a certificate file over 32 KiB is not read */
    tl_path(big, sizeof(big), fx.dir, "big-cert.pem");
    size_t clen;
    uint8_t *cpem = tl_slurp(s.cert, &clen);
    size_t n = 40000;
    char *padded = malloc(n);
    memset(padded, '#', n);
    memcpy(padded, cpem, clen);
    padded[clen] = '\n';
    tl_write_file(big, padded, n);
    snprintf(want, sizeof(want), "signing certificate: '%s' is 40000 bytes, at most 32768 allowed",
             big);
    expect_make_error(big, s.key, CL_ELIMIT, want);
    /* one under 32 KiB whose section (two bytes per printable byte) is over */
    tl_write_file(big, padded, 20000);
    expect_make_error(big, s.key, CL_ELIMIT, "the signature section would be ");
    struct cl_error err = { 0 };
    uint8_t *sec = NULL, pcr8[48];
    size_t sec_len = 0;
    assert_int_equal(eif_sig_make(pcr0_ramp(), big, s.key, &sec, &sec_len, pcr8, &err), CL_ELIMIT);
    const char *tail = " bytes, over the maximum of 32768 (certificate too large)";
    assert_non_null(strstr(err.reason, tail));
    assert_true(strtoul(err.reason + strlen("the signature section would be "), NULL, 10) > 32768);
    free(padded);
    free(cpem);
    unlink(big);
    tl_signer_drop(&s);
}

/* K, C, M, R and a signature section [{pem, cose}], opened. */
static struct eif *open_signed(const uint8_t *pem, size_t pem_len, const struct made *x,
                               uint8_t **d)
{
    struct tl_cbor *b = calloc(1, sizeof(*b));
    put_section(b, pem, pem_len, x->cose, x->cose_len);
    const struct tl_sec secs[] = { TL_SEC_K, TL_SEC_C, TL_SEC_M, TL_SEC_R,
                                   { EIF_SECTION_SIGNATURE, (const char *)b->b, b->n } };
    size_t len;
    *d = tl_mk_eif(4, secs, 5, &len);
    free(b);
    struct eif *e = NULL;
    assert_int_equal(eif_open_buffer(*d, len, &e, NULL), 0);
    assert_true(eif_is_signed(e));
    assert_true(eif_crc_ok(e));
    return e;
}

/* A signed EIF whose certificate was swapped for another one: it opens,
 * PCR8 is the new certificate's, the signature does not verify. */
static void swapped_certificate_is_detected(void **state)
{
    (void)state;
    const struct tl_sec plain[] = { TL_SEC_K, TL_SEC_C, TL_SEC_M, TL_SEC_R };
    size_t len;
    uint8_t *d = tl_mk_eif(4, plain, 4, &len);
    struct eif *e = NULL;
    struct cl_error err = { 0 };
    assert_int_equal(eif_open_buffer(d, len, &e, &err), 0);
    struct made x;
    make_section(&x, eif_measurements(e)->pcr0, "swap");
    eif_free(e);
    free(d);
    /* with its own certificate it verifies */
    e = open_signed((const uint8_t *)x.pem, x.pem_len, &x, &d);
    assert_true(eif_signature_ok(e));
    eif_free(e);
    free(d);

    struct tl_signer o;
    tl_signer_make(&o, fx.dir, "P-384", "other");
    size_t olen;
    uint8_t *opem = tl_slurp(o.cert, &olen);
    e = open_signed(opem, olen, &x, &d);
    assert_false(eif_signature_ok(e));
    uint8_t want8[48];
    tl_expected_pcr8(o.cert, want8);
    assert_memory_equal(eif_measurements(e)->pcr8, want8, 48);
    assert_int_equal(eif_check_signature(e, time(NULL), &err), CL_ESIGNATURE);
    assert_string_equal(err.reason, "the EIF signature does not verify: COSE signature does not "
                                    "verify");
    eif_free(e);
    free(d);
    free(opem);
    drop_section(&x);
    tl_signer_drop(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_round_trip),
        cmocka_unit_test(resign_shifts_later_sections),
        cmocka_unit_test(sign_rejections),
        cmocka_unit_test(corrupted_signature),
        cmocka_unit_test(pcrinfo_is_serde_bytes),
        cmocka_unit_test(make_parse_verify_each_curve),
        cmocka_unit_test(verify_detects_tampering),
        cmocka_unit_test(parse_rejections),
        cmocka_unit_test(parse_uses_the_first_entry),
        cmocka_unit_test(load_cert_rejections),
        cmocka_unit_test(load_cert_takes_the_first_of_several),
        cmocka_unit_test(make_rejections),
        cmocka_unit_test(swapped_certificate_is_detected),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
