/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Nitro Secure Module wire protocol: CBOR requests and responses exactly
 * as the Rust nsm-api puts them on the wire (docs/nsm.md, "Protocol";
 * aws-nitro-enclaves-nsm-api src/api/mod.rs). serde's "externally
 * tagged" enums: a unit variant is a bare text string ("DescribeNSM"), a
 * struct variant a one-entry map {"Variant": {fields}}, an error
 * {"Error": "InvalidIndex"}. Fields are text keys in Rust declaration order,
 * integers in their shortest form, Option::None is null (0xf6), byte
 * buffers are byte strings.
 *
 * This file is shared by the module (host side) and by the enclave-side
 * client (nsm_api.c, libnsm.so, cloister-nsm), which must not pull in
 * OpenSSL: it depends on libcbor and libc only, so it does not use
 * struct cl_error. Its results are in the protocol's own vocabulary:
 *   - decoders return NSM_E_SUCCESS (0) or the enum nsm_error_code the
 *     module answers (requests) / the client reports (responses);
 *   - encoders return 0 or a negative CL_E* code (CL_ELIMIT: the output
 *     buffer is too small, CL_EINVAL: the message cannot be encoded).
 *
 * Decoded messages point into the caller's input buffer (zero copy): the
 * input must outlive the decoded struct.
 */
#ifndef CLOISTER_NSM_PROTO_H
#define CLOISTER_NSM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* uapi linux/nsm.h NSM_REQUEST_MAX_SIZE / NSM_RESPONSE_MAX_SIZE. */
#define NSM_REQUEST_MAX 0x1000
#define NSM_RESPONSE_MAX 0x3000
#define NSM_PCR_LEN 48            /* SHA-384 */
#define NSM_MAX_PCRS 32
/* user_data, nonce and public_key: 0..1024 bytes each (the CDDL of
 * attestation_process.md §2.2; nsm-check asks for 1024 of each). */
#define NSM_ATTEST_FIELD_MAX 1024
/* GetRandom answers 256 bytes (QEMU, libnsm's "up to 256 bytes"). */
#define NSM_RANDOM_LEN 256
/* NsmDescription.locked_pcrs holds at most 64 entries (nsm-lib). */
#define NSM_LOCKED_PCRS_MAX 64
/* NsmDescription.module_id holds 100 bytes; we bound the wire text too. */
#define NSM_DESCRIBE_MODULE_ID_MAX 255

/* ErrorCode of nsm-api (#[repr(C)]: the C values are the declaration
 * order, the same numbers as libnsm's ERROR_CODE_*). */
enum nsm_error_code {
    NSM_E_SUCCESS = 0,
    NSM_E_INVALID_ARGUMENT = 1,
    NSM_E_INVALID_INDEX = 2,
    NSM_E_INVALID_RESPONSE = 3,
    NSM_E_READ_ONLY_INDEX = 4,
    NSM_E_INVALID_OPERATION = 5,
    NSM_E_BUFFER_TOO_SMALL = 6,
    NSM_E_INPUT_TOO_LARGE = 7,
    NSM_E_INTERNAL_ERROR = 8,
};

/* The wire name of an error code ("InvalidIndex"); NULL for Success and
 * for values outside the enum. */
const char *nsm_error_name(int code);

/* Digest of nsm-api (#[repr(C)]). Only SHA384 is used by Nitro. */
enum nsm_digest {
    NSM_DIGEST_SHA256 = 0,
    NSM_DIGEST_SHA384 = 1,
    NSM_DIGEST_SHA512 = 2,
};

/* The operations; the same set names requests and responses. */
enum nsm_op {
    NSM_OP_NONE = 0,
    NSM_OP_DESCRIBE_PCR,
    NSM_OP_EXTEND_PCR,
    NSM_OP_LOCK_PCR,
    NSM_OP_LOCK_PCRS,
    NSM_OP_DESCRIBE_NSM,
    NSM_OP_ATTESTATION,
    NSM_OP_GET_RANDOM,
    NSM_OP_ERROR, /* responses only: {"Error": "<code>"} */
};

/* The variant name of an operation ("DescribePCR"); NULL for NONE/ERROR. */
const char *nsm_op_name(enum nsm_op op);

/* A byte string; data == NULL means absent (Option::None, CBOR null). */
struct nsm_bytes {
    const uint8_t *data; /* borrowed */
    size_t len;
};

struct nsm_request {
    enum nsm_op op;
    uint16_t index;              /* DescribePCR, ExtendPCR, LockPCR */
    uint16_t range;              /* LockPCRs: locks [0, range) */
    struct nsm_bytes data;       /* ExtendPCR (never NULL once decoded) */
    struct nsm_bytes user_data;  /* Attestation; each NULL when null */
    struct nsm_bytes nonce;
    struct nsm_bytes public_key;
};

struct nsm_description {
    uint16_t version_major, version_minor, version_patch;
    const char *module_id;       /* borrowed, NOT NUL-terminated */
    size_t module_id_len;
    uint16_t max_pcrs;
    uint16_t locked_pcrs[NSM_LOCKED_PCRS_MAX]; /* ascending */
    size_t locked_pcrs_len;
    enum nsm_digest digest;
};

struct nsm_response {
    enum nsm_op op;
    enum nsm_error_code error;   /* NSM_OP_ERROR */
    bool lock;                   /* DescribePCR */
    struct nsm_bytes data;       /* DescribePCR, ExtendPCR */
    struct nsm_bytes document;   /* Attestation */
    struct nsm_bytes random;     /* GetRandom */
    struct nsm_description describe; /* DescribeNSM */
};

/*
 * Decodes a request. Returns NSM_E_SUCCESS, or the error the module
 * answers (choices documented in docs/nsm.md, "Malformed requests"):
 *  - NSM_E_INPUT_TOO_LARGE: len > NSM_REQUEST_MAX (the kernel's EMSGSIZE,
 *    QEMU), or user_data / nonce / public_key longer than
 *    NSM_ATTEST_FIELD_MAX;
 *  - NSM_E_INVALID_OPERATION: not one well-formed CBOR item, trailing
 *    bytes, not a text string or a one-entry map keyed by a text string,
 *    unknown variant, a unit variant sent as a map or a struct variant
 *    sent as text (QEMU: "unknown/undecodable request -> InvalidOperation");
 *  - NSM_E_INVALID_ARGUMENT: a known variant whose body is wrong: not a
 *    map, a field missing, repeated or unknown, a value of the wrong type
 *    or out of the u16 range, an indefinite-length string (nsm-api's
 *    ErrorCode doc: "Input argument(s) invalid").
 * Accepted like serde does: fields in any order, definite or indefinite
 * maps, integers of any width, text strings where bytes are expected.
 * On success the byte fields of *req point into buf.
 */
int nsm_request_decode(const uint8_t *buf, size_t len, struct nsm_request *req);

/* Encodes a request as nsm-api does; *out_len gets the size. */
int nsm_request_encode(const struct nsm_request *req, uint8_t *out, size_t cap,
                       size_t *out_len);

/* Encodes a response as nsm-api does (for NSM_OP_ERROR: {"Error": name}). */
int nsm_response_encode(const struct nsm_response *resp, uint8_t *out, size_t cap,
                        size_t *out_len);

/*
 * Decodes a response (client side). Returns NSM_E_SUCCESS, or
 * NSM_E_INTERNAL_ERROR when the bytes are not exactly one well-formed
 * response (libnsm's driver maps an undecodable response to
 * InternalError). An {"Error": ...} response decodes successfully with op
 * NSM_OP_ERROR. Every field must be present exactly once with its type;
 * unknown fields are skipped as serde does (Response is #[non_exhaustive]);
 * PCR data is 32, 48 or 64 bytes; locked_pcrs is strictly ascending (a
 * BTreeSet) with at most 64 entries; module_id at most 255 bytes.
 */
int nsm_response_decode(const uint8_t *buf, size_t len, struct nsm_response *resp);

#endif
