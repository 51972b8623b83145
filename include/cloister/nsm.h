/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Nitro Secure Module C API, source- and binary-compatible with AWS's
 * libnsm (aws-nitro-enclaves-nsm-api nsm-lib/src/lib.rs, header generated
 * by cbindgen with include guard NSM_LIB_H and QualifiedScreamingSnakeCase
 * enum variants; docs/nsm.md, "The C API"): the same function
 * names, argument types, struct layout and ErrorCode values, so programs
 * written for Nitro build against Cloister unchanged (and link against
 * Cloister's libnsm.so.0 instead of AWS's).
 *
 * nsm_lib_init() picks the transport: the real /dev/nsm ioctl when the
 * device (or $CLOISTER_NSM_DEVICE) is a character device, Cloister's
 * emulated endpoint when it is a Unix socket (docs/nsm.md).
 *
 * Buffer convention (nsm_get_raw_from_vec): *len is the capacity on input
 * and the bytes written on output; a NULL output buffer gives
 * ERROR_CODE_BUFFER_TOO_SMALL with *len = 0; a short buffer gets a
 * truncated copy and ERROR_CODE_BUFFER_TOO_SMALL. An input pointer that is
 * NULL means "absent" (None on the wire).
 */
#ifndef NSM_LIB_H
#define NSM_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* List of error codes that the NSM module can return as part of a Response */
typedef enum ErrorCode {
    /* No errors */
    ERROR_CODE_SUCCESS,
    /* Input argument(s) invalid */
    ERROR_CODE_INVALID_ARGUMENT,
    /* PlatformConfigurationRegister index out of bounds */
    ERROR_CODE_INVALID_INDEX,
    /* The received response does not correspond to the earlier request */
    ERROR_CODE_INVALID_RESPONSE,
    /* PlatformConfigurationRegister is in read-only mode and the operation
     * attempted to modify it */
    ERROR_CODE_READ_ONLY_INDEX,
    /* Given request cannot be fulfilled due to missing capabilities */
    ERROR_CODE_INVALID_OPERATION,
    /* Operation succeeded but provided output buffer is too small */
    ERROR_CODE_BUFFER_TOO_SMALL,
    /* The user-provided input is too large */
    ERROR_CODE_INPUT_TOO_LARGE,
    /* NitroSecureModule cannot fulfill request due to internal errors */
    ERROR_CODE_INTERNAL_ERROR,
} ErrorCode;

/* The digest implementation used by a NitroSecureModule */
typedef enum Digest {
    DIGEST_SHA256,
    DIGEST_SHA384,
    DIGEST_SHA512,
} Digest;

typedef struct NsmDescription {
    uint16_t version_major;
    uint16_t version_minor;
    uint16_t version_patch;
    uint8_t module_id[100];   /* NUL-terminated, truncated to 99 bytes */
    uint32_t module_id_len;
    uint16_t max_pcrs;
    uint16_t locked_pcrs[64];
    uint32_t locked_pcrs_len;
    Digest digest;
} NsmDescription;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/* Opens the NSM. Returns a descriptor, or -1 (errno set) when there is no
 * usable device. */
int32_t nsm_lib_init(void);

/* Closes a descriptor from nsm_lib_init(). */
void nsm_lib_exit(int32_t fd);

/* ExtendPCR: PCR[index] = SHA384(PCR[index] || data); the new value goes
 * to pcr_data (capacity/length in *pcr_data_len). data NULL:
 * ERROR_CODE_INVALID_ARGUMENT. */
ErrorCode nsm_extend_pcr(int32_t fd, uint16_t index, const uint8_t *data, uint32_t data_len,
                         uint8_t *pcr_data, uint32_t *pcr_data_len);

/* DescribePCR: lock state and value of PCR[index]. */
ErrorCode nsm_describe_pcr(int32_t fd, uint16_t index, bool *lock, uint8_t *data,
                           uint32_t *data_len);

/* LockPCR: PCR[index] becomes read-only. */
ErrorCode nsm_lock_pcr(int32_t fd, uint16_t index);

/* LockPCRs: PCRs [0, range) become read-only. */
ErrorCode nsm_lock_pcrs(int32_t fd, uint16_t range);

/* DescribeNSM: version, module_id, max_pcrs, locked PCRs, digest. */
ErrorCode nsm_get_description(int32_t fd, NsmDescription *nsm_description);

/* Attestation: a signed document (COSE_Sign1) carrying the optional
 * user_data, nonce and public key (each NULL: absent). */
ErrorCode nsm_get_attestation_doc(int32_t fd, const uint8_t *user_data, uint32_t user_data_len,
                                  const uint8_t *nonce_data, uint32_t nonce_len,
                                  const uint8_t *pub_key_data, uint32_t pub_key_len,
                                  uint8_t *att_doc_data, uint32_t *att_doc_len);

/* GetRandom: up to 256 bytes of entropy; *buf_len is the capacity on input
 * and the bytes written on output. */
ErrorCode nsm_get_random(int32_t fd, uint8_t *buf, uintptr_t *buf_len);

#ifdef __cplusplus
} // extern "C"
#endif // __cplusplus

#endif /* NSM_LIB_H */
