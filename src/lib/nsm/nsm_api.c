/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libnsm's C API (include/cloister/nsm.h) over nsm_dev (the transport)
 * and nsm_proto (the CBOR). Behaviour follows nsm-lib/src/lib.rs and
 * src/driver/mod.rs of aws-nitro-enclaves-nsm-api, call for call:
 *  - a request over 0x1000 bytes: InputTooLarge without calling the device;
 *  - errno EMSGSIZE: InputTooLarge; any other transport failure:
 *    InternalError; an undecodable response: InternalError;
 *  - a response of another operation: InvalidResponse;
 *  - {"Error": code}: that code.
 * Built into libcloister and, alone with its dependencies, into
 * libnsm.so.0 and cloister-nsm: no OpenSSL, no cl_error.
 */
#include <cloister/nsm.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsm/nsm_dev.h"
#include "nsm/nsm_proto.h"

/* The ioctl/wire codes and libnsm's C enum are the same numbers. */
_Static_assert(ERROR_CODE_INTERNAL_ERROR == (int)NSM_E_INTERNAL_ERROR, "ErrorCode values");
_Static_assert(ERROR_CODE_INVALID_RESPONSE == (int)NSM_E_INVALID_RESPONSE, "ErrorCode values");
_Static_assert(DIGEST_SHA384 == (int)NSM_DIGEST_SHA384, "Digest values");

int32_t nsm_lib_init(void)
{
    return nsm_dev_open(NULL);
}

void nsm_lib_exit(int32_t fd)
{
    if (fd >= 0)
        close(fd);
}

/*
 * Encodes q, exchanges it, decodes into *r (which points into *buf, a
 * heap buffer the caller frees). Returns SUCCESS or the client-side error.
 */
static ErrorCode process(int32_t fd, const struct nsm_request *q, struct nsm_response *r,
                         uint8_t **buf)
{
    *buf = NULL;
    memset(r, 0, sizeof(*r));
    /* request and response in one allocation: 0x1000 + slack, 0x3000 */
    size_t req_cap = NSM_REQUEST_MAX + 64;
    uint8_t *mem = malloc(req_cap + NSM_RESPONSE_MAX);
    if (mem == NULL)
        return ERROR_CODE_INTERNAL_ERROR;
    uint8_t *req = mem, *resp = mem + req_cap;
    size_t req_len = 0, resp_len = 0;
    int rc = nsm_request_encode(q, req, req_cap, &req_len);
    if (rc < 0 || req_len > NSM_REQUEST_MAX) {
        free(mem);
        return ERROR_CODE_INPUT_TOO_LARGE;
    }
    rc = nsm_dev_transact(fd, req, req_len, resp, NSM_RESPONSE_MAX, &resp_len);
    if (rc < 0) {
        free(mem);
        return rc == -EMSGSIZE ? ERROR_CODE_INPUT_TOO_LARGE : ERROR_CODE_INTERNAL_ERROR;
    }
    if (nsm_response_decode(resp, resp_len, r) != NSM_E_SUCCESS) {
        free(mem);
        return ERROR_CODE_INTERNAL_ERROR;
    }
    *buf = mem;
    if (r->op == NSM_OP_ERROR)
        return (ErrorCode)r->error;
    if (r->op != q->op)
        return ERROR_CODE_INVALID_RESPONSE;
    return ERROR_CODE_SUCCESS;
}

/* nsm_get_raw_from_vec */
static ErrorCode copy_out(const struct nsm_bytes *in, uint8_t *out, uint32_t *out_len)
{
    if (out_len == NULL)
        return ERROR_CODE_INVALID_ARGUMENT;
    if (out == NULL) {
        *out_len = 0;
        return ERROR_CODE_BUFFER_TOO_SMALL;
    }
    ErrorCode rc = *out_len >= in->len ? ERROR_CODE_SUCCESS : ERROR_CODE_BUFFER_TOO_SMALL;
    if (*out_len > in->len)
        *out_len = (uint32_t)in->len;
    if (*out_len)
        memcpy(out, in->data, *out_len);
    return rc;
}

ErrorCode nsm_extend_pcr(int32_t fd, uint16_t index, const uint8_t *data, uint32_t data_len,
                         uint8_t *pcr_data, uint32_t *pcr_data_len)
{
    if (data == NULL)
        return ERROR_CODE_INVALID_ARGUMENT;
    if (data_len > NSM_REQUEST_MAX)
        return ERROR_CODE_INPUT_TOO_LARGE;
    struct nsm_request q = {.op = NSM_OP_EXTEND_PCR, .index = index, .data = {data, data_len}};
    struct nsm_response r;
    uint8_t *buf;
    ErrorCode rc = process(fd, &q, &r, &buf);
    if (rc == ERROR_CODE_SUCCESS)
        rc = copy_out(&r.data, pcr_data, pcr_data_len);
    free(buf);
    return rc;
}

ErrorCode nsm_describe_pcr(int32_t fd, uint16_t index, bool *lock, uint8_t *data,
                           uint32_t *data_len)
{
    if (lock == NULL)
        return ERROR_CODE_INVALID_ARGUMENT;
    struct nsm_request q = {.op = NSM_OP_DESCRIBE_PCR, .index = index};
    struct nsm_response r;
    uint8_t *buf;
    ErrorCode rc = process(fd, &q, &r, &buf);
    if (rc == ERROR_CODE_SUCCESS) {
        *lock = r.lock;
        rc = copy_out(&r.data, data, data_len);
    }
    free(buf);
    return rc;
}

/* A request whose success response carries nothing the caller needs. */
static ErrorCode simple(int32_t fd, const struct nsm_request *q)
{
    struct nsm_response r;
    uint8_t *buf;
    ErrorCode rc = process(fd, q, &r, &buf);
    free(buf);
    return rc;
}

ErrorCode nsm_lock_pcr(int32_t fd, uint16_t index)
{
    struct nsm_request q = {.op = NSM_OP_LOCK_PCR, .index = index};
    return simple(fd, &q);
}

ErrorCode nsm_lock_pcrs(int32_t fd, uint16_t range)
{
    struct nsm_request q = {.op = NSM_OP_LOCK_PCRS, .range = range};
    return simple(fd, &q);
}

ErrorCode nsm_get_description(int32_t fd, NsmDescription *d)
{
    if (d == NULL)
        return ERROR_CODE_INVALID_ARGUMENT;
    struct nsm_request q = {.op = NSM_OP_DESCRIBE_NSM};
    struct nsm_response r;
    uint8_t *buf;
    ErrorCode rc = process(fd, &q, &r, &buf);
    if (rc == ERROR_CODE_SUCCESS) {
        const struct nsm_description *in = &r.describe;
        d->version_major = in->version_major;
        d->version_minor = in->version_minor;
        d->version_patch = in->version_patch;
        d->max_pcrs = in->max_pcrs;
        d->digest = (Digest)in->digest;
        /* at most 64 entries: the decoder refuses more */
        d->locked_pcrs_len = (uint32_t)in->locked_pcrs_len;
        memcpy(d->locked_pcrs, in->locked_pcrs, in->locked_pcrs_len * sizeof(uint16_t));
        size_t n = in->module_id_len;
        if (n > sizeof(d->module_id) - 1)
            n = sizeof(d->module_id) - 1; /* truncated to 99, NUL-terminated */
        memcpy(d->module_id, in->module_id, n);
        d->module_id[n] = 0;
        d->module_id_len = (uint32_t)n;
    }
    free(buf);
    return rc;
}

ErrorCode nsm_get_attestation_doc(int32_t fd, const uint8_t *user_data, uint32_t user_data_len,
                                  const uint8_t *nonce_data, uint32_t nonce_len,
                                  const uint8_t *pub_key_data, uint32_t pub_key_len,
                                  uint8_t *att_doc_data, uint32_t *att_doc_len)
{
    /* Lengths beyond any request: InputTooLarge, as the encoded request would be. */
    if ((user_data && user_data_len > NSM_REQUEST_MAX) ||
        (nonce_data && nonce_len > NSM_REQUEST_MAX) ||
        (pub_key_data && pub_key_len > NSM_REQUEST_MAX))
        return ERROR_CODE_INPUT_TOO_LARGE;
    struct nsm_request q = {
        .op = NSM_OP_ATTESTATION,
        .user_data = {user_data, user_data ? user_data_len : 0},
        .nonce = {nonce_data, nonce_data ? nonce_len : 0},
        .public_key = {pub_key_data, pub_key_data ? pub_key_len : 0},
    };
    struct nsm_response r;
    uint8_t *buf;
    ErrorCode rc = process(fd, &q, &r, &buf);
    if (rc == ERROR_CODE_SUCCESS)
        rc = copy_out(&r.document, att_doc_data, att_doc_len);
    free(buf);
    return rc;
}

ErrorCode nsm_get_random(int32_t fd, uint8_t *out, uintptr_t *buf_len)
{
    if (fd < 0 || out == NULL || buf_len == NULL || *buf_len == 0)
        return ERROR_CODE_INVALID_ARGUMENT;
    struct nsm_request q = {.op = NSM_OP_GET_RANDOM};
    struct nsm_response r;
    uint8_t *buf;
    ErrorCode rc = process(fd, &q, &r, &buf);
    if (rc == ERROR_CODE_SUCCESS) {
        if (*buf_len > r.random.len)
            *buf_len = r.random.len;
        memcpy(out, r.random.data, *buf_len);
        /* the response buffer held secret bytes */
        explicit_bzero(buf, NSM_REQUEST_MAX + 64 + NSM_RESPONSE_MAX);
    }
    free(buf);
    return rc;
}
