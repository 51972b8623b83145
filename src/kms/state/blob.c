/* SPDX-License-Identifier: Apache-2.0 */
/* Cloister's ciphertext blob and the AES-256-GCM wrapping under the master
 * key (blob.h). */
#include "state/blob.h"

#include "base/byteorder.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util/kmsutil.h"

static int keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int blob_context_aad(const json_t *ctx, uint8_t **out, size_t *out_len, struct cl_error *err)
{
    *out = NULL;
    *out_len = 0;
    size_t n = ctx ? json_object_size(ctx) : 0;
    const char **keys = NULL;
    struct ku_buf b = { 0 };
    uint8_t len4[4];
    if (n > 0) {
        keys = calloc(n, sizeof(*keys));
        if (!keys)
            return cl_fail(err, CL_ENOMEM, "out of memory");
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)ctx, k, v) keys[i++] = k;
        qsort(keys, n, sizeof(*keys), keycmp);
    }
    be32_store(len4, (uint32_t)n);
    ku_buf_add(&b, len4, 4);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(ctx, keys[i]));
        if (!v)
            v = "";
        be32_store(len4, (uint32_t)strlen(keys[i]));
        ku_buf_add(&b, len4, 4);
        ku_buf_adds(&b, keys[i]);
        be32_store(len4, (uint32_t)strlen(v));
        ku_buf_add(&b, len4, 4);
        ku_buf_adds(&b, v);
    }
    free(keys);
    if (b.oom) {
        ku_buf_free(&b);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    *out = (uint8_t *)b.p;
    *out_len = b.len;
    return 0;
}

/* One GCM pass; enc selects the direction. iv is 12 bytes, tag 16. */
static int gcm(int enc, const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad1,
               size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *in, size_t len,
               uint8_t *out, uint8_t tag[16], struct cl_error *err)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int rc = 0, n = 0;
    if (!c)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "AES-GCM init");
        goto out;
    }
    if ((aad1_len && EVP_CipherUpdate(c, NULL, &n, aad1, (int)aad1_len) != 1) ||
        (aad2_len && EVP_CipherUpdate(c, NULL, &n, aad2, (int)aad2_len) != 1) ||
        (len && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "AES-GCM update");
        goto out;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "AES-GCM tag");
        goto out;
    }
    if (EVP_CipherFinal_ex(c, out + len, &n) != 1) {
        ERR_clear_error();
        rc = cl_fail(err, CL_ECRYPTO, "authentication failed");
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "AES-GCM tag");
        goto out;
    }
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

static int seal(uint8_t format, const uint8_t key[32], const uint8_t key_id[16],
                uint32_t material_version, const json_t *ctx, const uint8_t *pt, size_t pt_len,
                uint8_t **out, size_t *out_len, struct cl_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (pt_len > 1 << 20)
        return cl_fail(err, CL_ELIMIT, "plaintext too large");
    uint8_t *aad = NULL;
    size_t aad_len = 0;
    int rc = blob_context_aad(ctx, &aad, &aad_len, err);
    if (rc < 0)
        return rc;
    uint8_t *b = malloc(BLOB_OVERHEAD + pt_len);
    if (!b) {
        free(aad);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    b[0] = format;
    memcpy(b + 1, key_id, 16);
    be32_store(b + 17, material_version);
    rc = ku_random(b + 21, 12, err);
    if (rc == 0)
        rc = gcm(1, key, b + 21, b, BLOB_HEADER_LEN, aad, aad_len, pt, pt_len, b + BLOB_HEADER_LEN,
                 b + BLOB_HEADER_LEN + pt_len, err);
    free(aad);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    *out_len = BLOB_OVERHEAD + pt_len;
    return 0;
}

int blob_seal(const uint8_t key[32], const uint8_t key_id[16], uint32_t material_version,
              const json_t *ctx, const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len,
              struct cl_error *err)
{
    return seal(BLOB_VERSION, key, key_id, material_version, ctx, pt, pt_len, out, out_len, err);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int blob_seal_key(const uint8_t key[32], const char *key_id, uint32_t material_version,
                  const json_t *ctx, const uint8_t *pt, size_t pt_len, uint8_t **out,
                  size_t *out_len, struct cl_error *err)
{
    uint8_t id[16];
    if (strncmp(key_id, "mrk-", 4) != 0) {
        int rc = ku_uuid_parse(key_id, id, err);
        if (rc < 0)
            return rc;
        return seal(BLOB_VERSION, key, id, material_version, ctx, pt, pt_len, out, out_len, err);
    }
    if (strlen(key_id) != 36)
        return cl_fail(err, CL_EFORMAT, "bad multi-Region key id %s", key_id);
    for (int i = 0; i < 16; i++) {
        int hi = hexval(key_id[4 + 2 * i]), lo = hexval(key_id[5 + 2 * i]);
        if (hi < 0 || lo < 0)
            return cl_fail(err, CL_EFORMAT, "bad multi-Region key id %s", key_id);
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    return seal(BLOB_VERSION_MRK, key, id, material_version, ctx, pt, pt_len, out, out_len, err);
}

int blob_peek_key(const uint8_t *blob, size_t len, char key_id[37], uint32_t *material_version,
                  struct cl_error *err)
{
    uint8_t id[16];
    int rc = blob_peek(blob, len, id, material_version, err);
    if (rc < 0)
        return rc;
    if (blob[0] == BLOB_VERSION) {
        ku_uuid_format(id, key_id);
        return 0;
    }
    memcpy(key_id, "mrk-", 4);
    for (int i = 0; i < 16; i++)
        snprintf(key_id + 4 + 2 * i, 3, "%02x", id[i]);
    return 0;
}

int blob_peek(const uint8_t *blob, size_t len, uint8_t key_id[16], uint32_t *material_version,
              struct cl_error *err)
{
    if (len < BLOB_OVERHEAD)
        return cl_fail(err, CL_EFORMAT, "ciphertext blob of %zu bytes is shorter than %d", len,
                       BLOB_OVERHEAD);
    if (blob[0] != BLOB_VERSION && blob[0] != BLOB_VERSION_MRK)
        return cl_fail(err, CL_EFORMAT, "unknown ciphertext blob version %u", blob[0]);
    memcpy(key_id, blob + 1, 16);
    *material_version = be32_load(blob + 17);
    return 0;
}

int blob_open(const uint8_t key[32], const json_t *ctx, const uint8_t *blob, size_t len,
              uint8_t **pt, size_t *pt_len, struct cl_error *err)
{
    *pt = NULL;
    *pt_len = 0;
    uint8_t id[16];
    uint32_t ver;
    int rc = blob_peek(blob, len, id, &ver, err);
    if (rc < 0)
        return rc;
    size_t n = len - BLOB_OVERHEAD;
    uint8_t *aad = NULL;
    size_t aad_len = 0;
    rc = blob_context_aad(ctx, &aad, &aad_len, err);
    if (rc < 0)
        return rc;
    uint8_t *out = malloc(n + 1);
    if (!out) {
        free(aad);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    uint8_t tag[16];
    memcpy(tag, blob + BLOB_HEADER_LEN + n, 16);
    rc = gcm(0, key, blob + 21, blob, BLOB_HEADER_LEN, aad, aad_len, blob + BLOB_HEADER_LEN, n, out,
             tag, err);
    free(aad);
    if (rc < 0) {
        OPENSSL_cleanse(out, n + 1);
        free(out);
        return rc;
    }
    out[n] = 0;
    *pt = out;
    *pt_len = n;
    return 0;
}

int blob_gcm_seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                  size_t pt_len, uint8_t **out, size_t *out_len, struct cl_error *err)
{
    *out = NULL;
    *out_len = 0;
    uint8_t *b = malloc(12 + pt_len + 16);
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = ku_random(b, 12, err);
    if (rc == 0)
        rc = gcm(1, key, b, aad, aad_len, NULL, 0, pt, pt_len, b + 12, b + 12 + pt_len, err);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    *out_len = 12 + pt_len + 16;
    return 0;
}

int blob_gcm_open(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in,
                  size_t in_len, uint8_t **pt, size_t *pt_len, struct cl_error *err)
{
    *pt = NULL;
    *pt_len = 0;
    if (in_len < 28)
        return cl_fail(err, CL_EFORMAT, "wrapped value too short");
    size_t n = in_len - 28;
    uint8_t *out = malloc(n + 1);
    if (!out)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    uint8_t tag[16];
    memcpy(tag, in + 12 + n, 16);
    int rc = gcm(0, key, in, aad, aad_len, NULL, 0, in + 12, n, out, tag, err);
    if (rc < 0) {
        OPENSSL_cleanse(out, n + 1);
        free(out);
        return rc;
    }
    out[n] = 0;
    *pt = out;
    *pt_len = n;
    return 0;
}
