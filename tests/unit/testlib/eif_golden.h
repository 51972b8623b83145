/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the EIF tests share: the golden EIF (the synthetic 910-byte image of
 * docs/eif.md, its measurements and CRC known), signing keys and
 * certificates, and a builder of EIFs from (type, data) sections with a
 * consistent header table and CRC, for malformed images.
 */
#ifndef CLOISTER_TESTLIB_EIF_GOLDEN_H
#define CLOISTER_TESTLIB_EIF_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include <cloister/eif.h>

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
/* PCR of empty content: SHA384(48 zero bytes || SHA384("")). */
#define EMPTY_PCR_HEX                                                                           \
    "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a"

/* A temporary directory holding the golden EIF's inputs and the EIF itself
 * (kernel "KERNEL-IMAGE-BYTES", cmdline "console=ttyS0", GOLDEN_META,
 * ramdisks "BOOTSTRAP-RAMDISK" and "CUSTOMER-RAMDISK"). */
struct tl_golden {
    char dir[64];
    char kernel[128], rd0[128], rd1[128], eif[128];
};

/* Makes g (writes the inputs and the EIF with eif_write()); 0 or -1 (for a
 * cmocka group setup). */
int tl_golden_setup(struct tl_golden *g);
/* Removes g's directory; 0 or -1. */
int tl_golden_teardown(struct tl_golden *g);
/* The build parameters of the golden EIF with ramdisks rds (2 of them). */
struct eif_build_params tl_golden_params(const struct tl_golden *g, const char *const *rds);

/* An EC key on curve (an OpenSSL name, "P-384") and a self-signed
 * certificate for it valid from an hour ago to now + not_after_secs, both
 * written as PEM. */
void tl_make_key_cert(const char *curve, const char *key_path, const char *cert_path,
                      long not_after_secs);
/* A key and its certificate (valid for a day) in dir, files "<tag>-key.pem"
 * and "<tag>-cert.pem". */
struct tl_signer {
    char key[128], cert[128];
};
void tl_signer_make(struct tl_signer *s, const char *dir, const char *curve, const char *tag);
/* Removes the two files. */
void tl_signer_drop(const struct tl_signer *s);

/* The certificate in the PEM file at path (the first one); X509_free. */
X509 *tl_read_cert(const char *path);
/* PCR8 of the certificate in cert_path: SHA384(0^48 || SHA384(DER)). */
void tl_expected_pcr8(const char *cert_path, uint8_t out[48]);

/* One section of tl_mk_eif(). */
struct tl_sec {
    uint16_t type;
    const char *data;
    size_t len;
};
#define TL_SEC_K { EIF_SECTION_KERNEL, "K", 1 }
#define TL_SEC_C { EIF_SECTION_CMDLINE, "c", 1 }
#define TL_SEC_M { EIF_SECTION_METADATA, GOLDEN_META, sizeof(GOLDEN_META) - 1 }
#define TL_SEC_R { EIF_SECTION_RAMDISK, "r", 1 }

/* An EIF of version with sections s[0..n) (table entries for the first 32),
 * the CRC right; malloc'd, the caller frees. */
uint8_t *tl_mk_eif(uint16_t version, const struct tl_sec *s, size_t n, size_t *out_len);

/* Stores v big-endian in p[0..8). */
void tl_put64(uint8_t *p, uint64_t v);

#endif
