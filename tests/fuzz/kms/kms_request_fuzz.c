/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: KMS JSON 1.1 request decoding (src/kms/request.h), the
 * first thing cloister-kms does with an authenticated body: parse, then read
 * every member an operation may read through the typed accessors, then the
 * ciphertext blob header and the encryption-context serialization.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "state/blob.h"
#include "call/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = NULL;
    struct req_error e;
    if (req_parse(data, size, &in, &e) < 0)
        return 0;
    const char *s;
    uint8_t *b = NULL;
    size_t n = 0;
    long long i;
    bool present, flag;
    const json_t *j;
    static const char *const ENUM[] = { "AES_256", "AES_128", NULL };
    req_string(in, "KeyId", true, 1, 2048, &s, &e);
    req_string(in, "Description", false, 0, 8192, &s, &e);
    req_enum(in, "KeySpec", false, ENUM, &s, &e);
    if (req_blob(in, "Plaintext", true, 1, 4096, &b, &n, &e) == 0)
        free(b);
    if (req_blob(in, "CiphertextBlob", true, 1, 6144, &b, &n, &e) == 0 && b) {
        uint8_t id[16];
        uint32_t ver;
        blob_peek(b, n, id, &ver, NULL);
        free(b);
    }
    req_int(in, "NumberOfBytes", false, 1, 1024, &i, &present, &e);
    req_int(in, "Limit", false, 1, 1000, &i, &present, &e);
    req_bool(in, "DryRun", &flag, &e);
    if (req_context(in, "EncryptionContext", &j, &e) == 0 && j) {
        uint8_t *aad = NULL;
        size_t alen = 0;
        if (blob_context_aad(j, &aad, &alen, NULL) == 0)
            free(aad);
    }
    req_tags(in, "Tags", false, 50, &j, &e);
    req_string_list(in, "TagKeys", false, 1, 128, &j, &e);
    req_string_list(in, "GrantTokens", false, 1, 8192, &j, &e);
    const json_t *r = json_object_get(in, "Recipient");
    if (json_is_object(r) && req_blob(r, "AttestationDocument", false, 1, 262144, &b, &n, &e) == 0)
        free(b);
    json_decref(in);
    return 0;
}
