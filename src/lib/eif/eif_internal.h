/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by eif.c (reader), eif_measure.c (PCRs and CRC),
 * eif_write.c (writer, sign-eif) and eif_sig.c (the signature section).
 * Not part of the public interface.
 */
#ifndef CLOISTER_EIF_INTERNAL_H
#define CLOISTER_EIF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cloister/eif.h>

#include "base/byteorder.h"

/* Bounds of the sections the reader keeps in memory (they are small in every
 * EIF nitro-cli writes: a cmdline of ~120 bytes, metadata of a few KiB). */
#define EIF_CMDLINE_MAX (1u << 20)
#define EIF_METADATA_MAX (16u << 20)

/* EifHeader (docs/eif.md, "The format as implemented"), decoded. */
struct eif_header {
    uint16_t version, flags;
    uint64_t default_mem, default_cpus;
    uint16_t reserved, num_sections;
    uint64_t offsets[EIF_MAX_SECTIONS], sizes[EIF_MAX_SECTIONS];
    uint32_t unused, crc;
};
void eif_header_encode(const struct eif_header *h, uint8_t out[EIF_HEADER_SIZE]);
void eif_header_decode(const uint8_t in[EIF_HEADER_SIZE], struct eif_header *h);
/* The decoded header of an open EIF (owned by e). */
const struct eif_header *eif_header_of(const struct eif *e);
void eif_section_header_encode(uint8_t out[EIF_SECTION_HEADER_SIZE], uint16_t type, uint64_t size);

/* Finalizes a content digest context into a PCR: ext(SHA384(content)). */
CL_MUST_USE int eif_pcr_final(EVP_MD_CTX *ctx, uint8_t out[static 48], struct cl_error *err);

/* An open EIF (eif.c): the walked sections and what was measured. */
struct eif {
    int fd;                       /* -1 for a buffer */
    const uint8_t *buf;           /* eif_open_buffer(): not owned */
    uint64_t size;
    struct eif_header hdr;
    struct eif_section_info sec[EIF_MAX_SECTIONS];
    size_t nsec;
    size_t ramdisk[EIF_MAX_SECTIONS]; /* indices into sec */
    size_t nramdisk;
    uint32_t crc_computed;
    struct eif_measurements m;
    uint8_t *cmdline;
    size_t cmdline_len;
    char *metadata;               /* NUL-terminated; NULL when absent (v2/v3) */
    char *cert_pem;               /* signature section's certificate */
    size_t cert_pem_len;
    uint8_t *cose;
    size_t cose_len;
    X509 *cert;
    bool signed_;
    bool sig_ok;
    char sig_reason[CL_ERROR_REASON_MAX];
};

/* Reads len bytes at off into buf, or points *p into the caller's buffer
 * (eif_open_buffer()). CL_EFORMAT past the end, CL_EIO. */
CL_MUST_USE int eif_read_at(const struct eif *e, uint64_t off, void *buf, size_t len,
                            const uint8_t **p, struct cl_error *err);

/* Fills e->m (PCR0/1/2) and e->crc_computed from the walked sections
 * (eif_measure.c). */
CL_MUST_USE int eif_measure(struct eif *e, struct cl_error *err);

/* --- the signature section (eif_sig.c, docs/eif.md "Signature") --- */

/* CBOR of PcrInfo {"register_index": 0, "register_value": [48 uints]}. *out malloc'd. */
CL_MUST_USE int eif_sig_pcrinfo(const uint8_t pcr0[static 48], uint8_t **out, size_t *out_len,
                                struct cl_error *err);

/*
 * Parses a signature section: CBOR array of PcrSignature maps, each
 * {"signing_certificate": [uint8...], "signature": [uint8...]}; only the
 * first is used (as nitro-cli does) but all must be well-formed. On success
 * *pem (NUL-terminated) and *cose are malloc'd, caller frees.
 */
CL_MUST_USE int eif_sig_parse(const uint8_t *sec, size_t len, char **pem, size_t *pem_len,
                              uint8_t **cose, size_t *cose_len, struct cl_error *err);

/* Loads the first PEM certificate of a buffer (as nitro-cli does). */
CL_MUST_USE int eif_sig_load_cert(const uint8_t *pem, size_t len, X509 **out, struct cl_error *err);

/* SHA384(DER(cert)) extended from zero. */
CL_MUST_USE int eif_sig_pcr8(X509 *cert, uint8_t out[static 48], struct cl_error *err);

/*
 * Builds the whole signature section for pcr0 with the certificate and EC
 * private key in the given PEM files; fills pcr8. *section malloc'd.
 */
CL_MUST_USE int eif_sig_make(const uint8_t pcr0[static 48], const char *cert_path,
                             const char *key_path, uint8_t **section, size_t *section_len,
                             uint8_t pcr8[static 48], struct cl_error *err);

/*
 * describe-eif's SignatureCheck: the COSE_Sign1 verifies with the
 * certificate's public key and its payload is PcrInfo{0, pcr0}. Returns 0
 * when it holds, CL_ESIGNATURE / CL_EALGORITHM / CL_EFORMAT with a reason
 * otherwise.
 */
CL_MUST_USE int eif_sig_verify(X509 *cert, const uint8_t *cose, size_t cose_len,
                               const uint8_t pcr0[static 48], struct cl_error *err);

#endif
