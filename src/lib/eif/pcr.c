/* SPDX-License-Identifier: Apache-2.0 */
#include "eif/pcr.h"

#include <string.h>

#include <openssl/evp.h>

int pcr_extend(uint8_t pcr[static PCR_SIZE], const void *data, size_t len, struct cl_error *err)
{
    int rc = 0;
    uint8_t next[PCR_SIZE];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) ||
        !EVP_DigestUpdate(ctx, pcr, PCR_SIZE) || !EVP_DigestUpdate(ctx, data, len) ||
        !EVP_DigestFinal_ex(ctx, next, NULL)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 failed");
        goto out;
    }
    memcpy(pcr, next, PCR_SIZE);
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

int pcr_from_zero(uint8_t out[static PCR_SIZE], const void *data, size_t len,
                  struct cl_error *err)
{
    memset(out, 0, PCR_SIZE);
    return pcr_extend(out, data, len, err);
}

int pcr_of_content(uint8_t out[static PCR_SIZE], const void *content, size_t len,
                   struct cl_error *err)
{
    uint8_t digest[PCR_SIZE];
    if (!EVP_Digest(content, len, digest, NULL, EVP_sha384(), NULL))
        return cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 failed");
    return pcr_from_zero(out, digest, sizeof(digest), err);
}
