/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: KMS JSON 1.1 request decoding (src/kms/call/request.h),
 * the first thing cloister-kms does with an authenticated body: parse,
 * then read every member an operation may read through the typed
 * accessors, then the ciphertext blob header and the encryption-context
 * serialization. Each accessor gets a fresh error, as each operation's
 * first refusal ends it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "call/recipient.h"
#include "call/request.h"
#include "state/blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = NULL;
    struct kms_error e = { 0 };
    if (req_parse(data, size, &in, &e) < 0)
        return 0;
    const char *s;
    uint8_t *b = NULL;
    size_t n = 0;
    long long i;
    bool present, flag;
    const json_t *j;
    static const char *const ENUM[] = { "AES_256", "AES_128", NULL };
    int refused = 0;
    refused += req_string(in, "KeyId", true, 1, 2048, &s, &(struct kms_error){ 0 }) < 0;
    refused += req_string(in, "Description", false, 0, 8192, &s, &(struct kms_error){ 0 }) < 0;
    refused += req_enum(in, "KeySpec", false, ENUM, &s, &(struct kms_error){ 0 }) < 0;
    if (req_blob(in, "Plaintext", true, 1, 4096, &b, &n, &(struct kms_error){ 0 }) == 0)
        free(b);
    if (req_blob(in, "CiphertextBlob", true, 1, 6144, &b, &n, &(struct kms_error){ 0 }) == 0 && b) {
        uint8_t id[16];
        uint32_t ver;
        refused += blob_peek(b, n, id, &ver, NULL) < 0;
        free(b);
    }
    refused +=
        req_int(in, "NumberOfBytes", false, 1, 1024, &i, &present, &(struct kms_error){ 0 }) < 0;
    refused += req_int(in, "Limit", false, 1, 1000, &i, &present, &(struct kms_error){ 0 }) < 0;
    refused += req_bool(in, "DryRun", &flag, &(struct kms_error){ 0 }) < 0;
    if (req_context(in, "EncryptionContext", &j, &(struct kms_error){ 0 }) == 0 && j) {
        uint8_t *aad = NULL;
        size_t alen = 0;
        if (blob_context_aad(j, &aad, &alen, NULL) == 0)
            free(aad);
    }
    refused += req_tags(in, "Tags", false, 50, &j, &(struct kms_error){ 0 }) < 0;
    refused += req_string_list(in, "TagKeys", false, 1, 128, &j, &(struct kms_error){ 0 }) < 0;
    refused += req_string_list(in, "GrantTokens", false, 1, 8192, &j, &(struct kms_error){ 0 }) < 0;
    const json_t *r = json_object_get(in, "Recipient");
    if (json_is_object(r) && req_blob(r, "AttestationDocument", false, 1, RECIPIENT_DOC_MAX_BYTES,
                                      &b, &n, &(struct kms_error){ 0 }) == 0)
        free(b);
    json_decref(in);
    (void)refused; /* a refusal is a result, not a failure */
    return 0;
}
