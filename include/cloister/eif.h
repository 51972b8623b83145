/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Enclave Image File (EIF), version 4, as nitro-cli writes and reads it
 * (docs/eif.md; aws-nitro-enclaves-image-format
 * src/defs/mod.rs, src/utils/mod.rs, src/utils/eif_reader.rs).
 *
 *   header (548 bytes, big-endian) | kernel | cmdline | metadata |
 *   ramdisk... | [signature]
 *
 * Each section is a 12-byte header (type, flags, size) followed by its data,
 * contiguous from offset 548, nothing after the last. The CRC-32 (zlib) at
 * offset 544 covers the whole file except itself.
 *
 * Measurements: PCRn = SHA384(48 zero bytes || SHA384(content)) with
 *   PCR0 = kernel || cmdline || every ramdisk
 *   PCR1 = kernel || cmdline || first ramdisk
 *   PCR2 = the other ramdisks
 *   PCR8 = DER of the signing certificate (signed EIFs only)
 *
 * All functions follow include/cloister/error.h: 0 or a negative CL_E* code,
 * with the reason in *err (which may be NULL).
 */
#ifndef CLOISTER_EIF_H
#define CLOISTER_EIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cloister/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EIF_MAGIC "\x2e\x65\x69\x66"     /* ".eif" */
#define EIF_CURRENT_VERSION 4
#define EIF_HEADER_SIZE 548
#define EIF_SECTION_HEADER_SIZE 12
#define EIF_MAX_SECTIONS 32
#define EIF_SIGNATURE_MAX_SIZE 32768     /* SIGNATURE_MAX_SIZE of the spec */
#define EIF_CRC_OFFSET 544
#define EIF_DEFAULT_MEM (1ULL << 30)     /* what nitro-cli's builder writes */
#define EIF_DEFAULT_CPUS 2
#define EIF_FLAG_ARCH_ARM64 0x1          /* header flags bit 0: aarch64 */
#define EIF_PCR_SIZE 48

enum eif_section_type {
    EIF_SECTION_INVALID = 0,
    EIF_SECTION_KERNEL = 1,
    EIF_SECTION_CMDLINE = 2,
    EIF_SECTION_RAMDISK = 3,
    EIF_SECTION_SIGNATURE = 4,  /* since v3 */
    EIF_SECTION_METADATA = 5,   /* since v4, mandatory from v4 */
};

struct eif_measurements {
    uint8_t pcr0[48], pcr1[48], pcr2[48], pcr8[48];
    bool has_pcr8;             /* signed EIF */
};

/*
 * Writer used by build-enclave: kernel + cmdline + metadata JSON + ramdisk
 * files (paths, in order, bootstrap first) + optional signing cert/key PEM
 * paths -> out_path written atomically (temporary file + rename); fills *m
 * (may be NULL). Sections are written in nitro-cli's order: kernel, cmdline,
 * metadata, ramdisks, [signature]. Files are streamed, never loaded whole.
 * Signing keys must be EC P-256, P-384 or P-521.
 */
struct eif_build_params {
    const char *kernel_path;
    const uint8_t *cmdline; size_t cmdline_len;
    const char *metadata_json;          /* exact bytes of the metadata section */
    const char *const *ramdisk_paths; size_t ramdisk_count;
    const char *signing_cert_path;      /* NULL: unsigned */
    const char *private_key_path;
    uint16_t flags;                     /* header flags (arch bit) */
};
CL_MUST_USE int eif_write(const char *out_path, const struct eif_build_params *p,
                          struct eif_measurements *m, struct cl_error *err);

/*
 * The streaming writer under eif_write(), for callers that produce ramdisks
 * on the fly (build-enclave writes its cpio straight into it, so the image
 * is read once). Hashing runs on two worker threads (PCR0/PCR1 + write on
 * one, PCR2 on the other, the CRC shared) over 1 MiB staging buffers; the
 * caller's bytes are copied, so buf may be reused as soon as a call returns.
 *
 * eif_writer_new() takes the same params as eif_write() except
 * ramdisk_paths/ramdisk_count (ignored); it streams kernel, cmdline and
 * metadata into a temporary file beside out_path. Then, for each ramdisk in
 * order (bootstrap first): begin, write any number of chunks, end. finish()
 * adds the signature (if p named a certificate and key), the header and
 * the CRC, and renames the file into place; fills *m (may be NULL).
 * eif_writer_free() releases w and removes the temporary file unless
 * finish() succeeded. The strings in p are copied by eif_writer_new().
 */
struct eif_writer;   /* opaque; owns the temporary output file */
CL_MUST_USE int eif_writer_new(const char *out_path, const struct eif_build_params *p,
                               struct eif_writer **out, struct cl_error *err);
CL_MUST_USE int eif_writer_begin_ramdisk(struct eif_writer *w, struct cl_error *err);
CL_MUST_USE int eif_writer_write(struct eif_writer *w, const void *buf, size_t len,
                                 struct cl_error *err);
CL_MUST_USE int eif_writer_end_ramdisk(struct eif_writer *w, struct cl_error *err);
CL_MUST_USE int eif_writer_finish(struct eif_writer *w, struct eif_measurements *m,
                                  struct cl_error *err);
void eif_writer_free(struct eif_writer *w);

/*
 * Reader used by describe-eif, attest and the runtime: opens, walks the
 * sections sequentially from 548 (as nitro-cli's EifReader does), checks
 * that the header's table agrees with that walk, checks the CRC, measures,
 * and parses the signature section if there is one. Structural errors fail
 * with CL_EFORMAT / CL_EUNSUPPORTED / CL_ELIMIT; a CRC mismatch does NOT fail
 * eif_open (describe-eif reports it): callers that run an image must check
 * eif_crc_ok() and eif_check_signature().
 * The file stays open (the struct holds its descriptor) until eif_free().
 */
struct eif;   /* opaque */
CL_MUST_USE int eif_open(const char *path, struct eif **out, struct cl_error *err);
/* The same over a caller buffer (fuzzing, tests); buf must outlive *out. */
CL_MUST_USE int eif_open_buffer(const uint8_t *buf, size_t len, struct eif **out,
                                struct cl_error *err);
void eif_free(struct eif *e);
const struct eif_measurements *eif_measurements(const struct eif *e);
bool eif_crc_ok(const struct eif *e);
uint32_t eif_crc_stored(const struct eif *e);
uint32_t eif_crc_computed(const struct eif *e);
uint16_t eif_version(const struct eif *e);
uint16_t eif_flags(const struct eif *e);
uint64_t eif_file_size(const struct eif *e);

/* number of ramdisks, and a ramdisk's bytes (the runtime unpacks them) */
size_t eif_ramdisk_count(const struct eif *e);
CL_MUST_USE int eif_read_ramdisk(const struct eif *e, size_t i, uint8_t **data, size_t *len,
                                 struct cl_error *err); /* *data malloc'd, caller frees */
/* Up to cap bytes of ramdisk i from its byte off into buf, *got of them (0
 * once off is its end): a ramdisk streamed rather than held whole. */
CL_MUST_USE int eif_read_ramdisk_at(const struct eif *e, size_t i, uint64_t off, void *buf,
                                    size_t cap, size_t *got, struct cl_error *err);
const char *eif_metadata_json(const struct eif *e);  /* NUL-terminated, owned by e */
/* The cmdline section's bytes (owned by e, not NUL-terminated). */
const uint8_t *eif_cmdline(const struct eif *e, size_t *len);

/* The sections as found by the sequential walk, in file order. */
struct eif_section_info {
    uint16_t type;          /* enum eif_section_type */
    uint64_t offset;        /* of the 12-byte section header */
    uint64_t size;          /* of the data (which starts at offset + 12) */
};
size_t eif_section_count(const struct eif *e);
const struct eif_section_info *eif_section(const struct eif *e, size_t i); /* NULL if out of range */

/*
 * Signature section (docs/eif.md, "Signature"). eif_is_signed(): a signature section
 * exists (then eif_measurements()->has_pcr8). eif_signing_cert_pem(): the
 * PEM stored in it, owned by e. eif_signature_ok(): the COSE_Sign1 verifies
 * with the certificate's key AND its payload is PcrInfo{0, PCR0} of this
 * file (describe-eif's "SignatureCheck"); false when unsigned.
 */
bool eif_is_signed(const struct eif *e);
const char *eif_signing_cert_pem(const struct eif *e, size_t *len);
bool eif_signature_ok(const struct eif *e);
/*
 * What run-enclave checks before starting an image (nitro-cli's
 * PcrSignatureChecker): 0 for an unsigned EIF; for a signed one the
 * signature must verify (CL_ESIGNATURE) and `now` must be inside the
 * certificate's validity (CL_EEXPIRED).
 */
CL_MUST_USE int eif_check_signature(const struct eif *e, time_t now, struct cl_error *err);

/*
 * sign-eif: adds a signature section to the EIF at path (appended, with
 * num_sections + 1) or replaces the existing one (rewritten in place,
 * later sections shifted), fixes the offsets and the CRC, and replaces the
 * file atomically. The input must pass eif_open() with a good CRC. Fills *m
 * (may be NULL) with the new measurements (PCR0-2 unchanged, PCR8 added).
 */
CL_MUST_USE int eif_sign(const char *path, const char *signing_cert_path,
                         const char *private_key_path, struct eif_measurements *m,
                         struct cl_error *err);

/* `nitro-cli pcr --input FILE`: SHA384(48 zero bytes || SHA384(file)), streamed. */
CL_MUST_USE int eif_pcr_of_file(const char *path, uint8_t out[static 48], struct cl_error *err);
/* PCR8 of a PEM certificate: SHA384(48 zero bytes || SHA384(DER(cert))). */
CL_MUST_USE int eif_pcr8_of_cert_pem(const uint8_t *pem, size_t len, uint8_t out[static 48],
                                     struct cl_error *err);

#ifdef __cplusplus
}
#endif

#endif
