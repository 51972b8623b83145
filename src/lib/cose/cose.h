/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COSE_Sign1 (RFC 9052 §4.2, RFC 8152 §4.2), just the shape the Nitro
 * Secure Module produces and the EIF signature section carries:
 *
 *     COSE_Sign1 = [ protected: bstr .cbor {1: alg}, unprotected: {},
 *                    payload: bstr, signature: bstr (r || s) ]
 *
 * with alg one of ES256 (-7, P-256), ES384 (-35, P-384), ES512 (-36, P-521),
 * the signature being the fixed-width big-endian concatenation r || s
 * (RFC 9053 §2.1), computed over the Sig_structure (RFC 9052 §4.4)
 *
 *     [ "Signature1", protected (bytes as received), h'', payload (as received) ]
 *
 * Built on libcbor (parsing/encoding) and OpenSSL 3 (ECDSA).
 */
#ifndef CLOISTER_COSE_H
#define CLOISTER_COSE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <cloister/error.h>

/* COSE algorithm identifiers (IANA COSE Algorithms registry). */
#define COSE_ALG_ES256 (-7)
#define COSE_ALG_ES384 (-35)
#define COSE_ALG_ES512 (-36)

/* Parsing refuses messages larger than this (an attestation document is ~4.5 KiB;
 * an EIF signature a few KiB). */
#define COSE_MAX_MESSAGE (1u << 20)

/*
 * Signs payload with key, an EC private key on P-256, P-384 or P-521 (the
 * algorithm follows the curve: ES256, ES384, ES512). Produces the untagged
 * COSE_Sign1 [bstr{1: alg}, {}, payload, r||s] in definite-length CBOR.
 * On success *out is malloc'd and owned by the caller (free(3)).
 * Errors: CL_EINVAL (no key / no output), CL_EUNSUPPORTED (not an EC key on a
 * supported curve), CL_ECRYPTO, CL_ENOMEM.
 */
CL_MUST_USE int cose_sign1_sign(EVP_PKEY *key, const uint8_t *payload, size_t payload_len,
                                uint8_t **out, size_t *out_len, struct cl_error *err);

/* A parsed COSE_Sign1 message; owns copies of its protected header bytes,
 * payload and signature. */
struct cose_sign1;

/*
 * Parses a COSE_Sign1 message. Accepts the optional CBOR tag 18
 * (COSE_Sign1_Tagged), definite- and indefinite-length arrays, maps and
 * byte strings. Rejects trailing bytes, a wrong shape (not a 4-array, wrong
 * item types), a protected header that is not a map with an integer alg
 * (key 1), duplicate header labels, and messages over COSE_MAX_MESSAGE.
 * Errors: CL_EFORMAT (malformed), CL_ELIMIT (too large), CL_ENOMEM.
 * The algorithm is not judged here; see cose_sign1_alg()/cose_sign1_verify().
 * On success *out is owned by the caller: cose_sign1_free().
 */
CL_MUST_USE int cose_sign1_parse(const uint8_t *buf, size_t len, struct cose_sign1 **out,
                                 struct cl_error *err);

/* Frees m; NULL is fine. */
void cose_sign1_free(struct cose_sign1 *m);

/* The alg of the protected header (e.g. COSE_ALG_ES384). */
int cose_sign1_alg(const struct cose_sign1 *m);

/* The payload bytes as received; owned by m, valid until cose_sign1_free(). */
const uint8_t *cose_sign1_payload(const struct cose_sign1 *m, size_t *len);

/* The protected header bytes (the bstr's content) as received; owned by m. */
const uint8_t *cose_sign1_protected(const struct cose_sign1 *m, size_t *len);

/* The raw signature bytes (r || s); owned by m. */
const uint8_t *cose_sign1_signature(const struct cose_sign1 *m, size_t *len);

/*
 * Builds the Sig_structure ["Signature1", protected, h'', payload] from the
 * protected and payload bytes exactly as received. *out malloc'd, caller frees.
 */
CL_MUST_USE int cose_sign1_sig_structure(const struct cose_sign1 *m, uint8_t **out, size_t *out_len,
                                         struct cl_error *err);

/*
 * Verifies m's signature with key (an EC public key). The alg of the message
 * must match the key's curve (CL_EALGORITHM otherwise, also for an alg other
 * than ES256/ES384/ES512), the signature must be exactly 2 * field-size bytes
 * (CL_ESIGNATURE), and ECDSA must verify over the Sig_structure
 * (CL_ESIGNATURE). High-S signatures are valid (ECDSA is not normalised by
 * the Nitro hardware and RFC 9053 does not require it).
 */
CL_MUST_USE int cose_sign1_verify(const struct cose_sign1 *m, EVP_PKEY *key, struct cl_error *err);

#endif
