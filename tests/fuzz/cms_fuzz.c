/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the CMS decoder that runs inside the enclave on the
 * key service's answer (src/lib/cms/cms.h): cms_envelope_parse(), the
 * strict BER/DER decoder of CiphertextForRecipient, and
 * cms_envelope_decrypt(), which opens it with the enclave's RSA key.
 *
 * The contract checked on every input, beyond "no crash, no leak, no
 * undefined behaviour":
 *  - a refusal is one of the decoder's codes (CL_EFORMAT, CL_EUNSUPPORTED,
 *    CL_ELIMIT) with err.code equal to it, a reason, and *out left empty;
 *  - what is accepted has the shape the decoder promises (a 1..1024-byte
 *    encrypted key, whole AES blocks) and parses again to the same fields;
 *  - the opener refuses exactly what the decoder refuses, with the same
 *    code and reason, and otherwise succeeds or fails with CL_ECRYPTO;
 *  - what it opens is at most the ciphertext less one padding byte, and
 *    re-enveloped to the same key opens to the same bytes;
 *  - no OpenSSL error is left queued.
 *
 * Seeds (tests/fuzz/corpus/cms/): kms_input_ber*.bin are the two real AWS
 * KMS answers of the shared test data (BER, indefinite lengths); from the
 * first, *_truncated (last byte removed), *_trailing (one 0x00 appended),
 * *_oid_data (contentType id-data), *_version0 (EnvelopedData version 0),
 * *_rsa_pkcs1 (rsaEncryption instead of rsaesOaep), *_sha384 (OAEP hash
 * sha384) and *_aes128 (aes-128-cbc); fuzzkey_ber.bin and fuzzkey_der.bin
 * are envelopes of 32 bytes made by cms_envelope_encrypt() to the test key
 * below (the second re-encoded in DER by openssl cms -cmsout), so that the
 * fuzzer also reaches the opener's success path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cms/cms.h"

/* A test-only RSA-2048 key (never used for anything but these seeds). */
static const char fuzz_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCxGAa9zT/v0JaE\n"
    "pUFHCPejOSZDH94ooMWPSZkyURsE+upZ/UXwbwXj0Pt3Nz/YxBt44ietzYAVCmN5\n"
    "+Yj+nPYKH0PrQHS+718wn+on+w9hxLLGNbyyXg+NFLSFf5CImeQqcH88guDYjgLo\n"
    "SlQCHncrO7gwzmgnEDHy0qRruHq8+GQA0/4mx4Fug7YFOMp1Btm9UVSkquRBIkDV\n"
    "o0F+3vo2crrTnMg7apDhs1+ZuE6wK9gmyTuh6QCziAjWg8lJkl7nYu36xRgWhOZt\n"
    "2TqRMwEuX1rFwu+WWRnkv7/z3eWklWSw3jemvkCSPAUFFXdwv+xdGNAnYOXl3Z3J\n"
    "wiKSLMQlAgMBAAECggEADf+stL8vQSk3ZLfdb5yNWrkvRZoUyRhgVYHHWttfa+bb\n"
    "tI5ZQ3a7O/Vuk09qPBvQYh9abJo0eDVQhLlNc3b72fP7vfJj6B3q4+CYNV3aqutO\n"
    "CG4CAwV9bDUJSg454hpsF1C6NhHQbT3Yi/0oI9y9pcy8NBt0zzWwBRZSifNUvHAy\n"
    "Uh5igxRBAtIFirphrXLXi4cGDdkDh+dNYKIp7YEExJlopUKskI6oRCCdqUgU8ioQ\n"
    "GDUYScnjqCdwPI5b/ZD+d3SDbx1Ki6Wg8zgzhw/ivwCVPyebeNnXgovyM8nSmBqu\n"
    "ht+5xb7O6zHP0yvbmzqyPWBkDpQUyZgZNDT9XRCXVwKBgQDlXFUcOv/0nEKNFBVS\n"
    "K1lezOkhmGCk91iQnFoX/lCvwQ5qhwdPRpuRwr7dpdv8gjYIDS1fh4+zuiUGGmXR\n"
    "Im8P08AxgkzJHxFdqlE4eqh4K0Z3VDQErzuaOwwSZRs+DuwjyihqMdlwQSh5CI/7\n"
    "vQ1Q1dmeCbmUDofyQHqsnmkNbwKBgQDFqZ/vdnovTDY4mDGCOpSALwOI6jCIOv74\n"
    "QDoJq4BEmNB/ggL2YzfEczDOQY4u1bo0TW/a349EBxhS3P+szApHLDJLn2YQ5y9P\n"
    "f4CoXDKI3o/+XRUgGeyVaVbvttXocmOeqlxT2Fb07xKoB+cdnAMulkNM80XBF8EP\n"
    "qa+/+YxlqwKBgDwBjhrWrMRYZWj3iiR3Ruhwf8XUUeSW+crLvR5t4Lo6rgTc0uLA\n"
    "vE7EPp9Kl2VWw8ATgn1twADrgGg6W8z9T0U6xxus1V4BDNAOkTVPkefumn75vqpD\n"
    "Fjrhm+TsItZ3nPw4FZ7C7/pYcbhIrzLTYTp22HpqXO0JaDPO/slOoHltAoGAI8nU\n"
    "lWzkLpAj+RdFT4j/vj3E7BNK+j+ETrqCR6HvtXvdtFh75NSOElmw6odgEQbNkg67\n"
    "Q+vaarzGIKq2+DhxW/Wanaqctk7FeCVjzBf1Zma1t55u5sMK3PqXrQtzq4SamO3L\n"
    "jbrL88kdnaLgq7HFubenM9WQOaftYsKceavbScUCgYEA4ShtlWM8+fhGizWlZyza\n"
    "uSxJjTOF+7kC5aR4G81ssmqyYe3kyPqFMrQwqTCvsqEKO/rtbQlToYL+awhRUHbc\n"
    "249wylkWRaBy99D6j44LICqyG0fY4DoprSv5dEkzjQI7taE6oKUI40WQCcfuhIHS\n"
    "E+wdP6fvlbVQp1q2vNvQBtw=\n"
    "-----END PRIVATE KEY-----\n";

static EVP_PKEY *key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int refusal(int rc)
{
    return rc == CL_EFORMAT || rc == CL_EUNSUPPORTED || rc == CL_ELIMIT;
}

static void check_parse(const uint8_t *data, size_t size, struct cl_error *err, int *rc,
                        size_t *ct_len)
{
    struct cms_envelope e, again;
    *rc = cms_envelope_parse(data, size, &e, err);
    *ct_len = 0;
    if (*rc < 0) {
        if (!refusal(*rc) || err->code != *rc || !err->reason[0] || e.ski || e.encrypted_key ||
            e.ciphertext || e.ski_len || e.encrypted_key_len || e.ciphertext_len)
            abort();
        return;
    }
    if (!e.ski || !e.encrypted_key || !e.ciphertext || e.encrypted_key_len < 1 ||
        e.encrypted_key_len > 1024 || e.ciphertext_len < 16 || e.ciphertext_len % 16)
        abort();
    if (cms_envelope_parse(data, size, &again, NULL) != 0 || again.ski_len != e.ski_len ||
        again.encrypted_key_len != e.encrypted_key_len || again.ciphertext_len != e.ciphertext_len ||
        memcmp(again.ski, e.ski, e.ski_len) || memcmp(again.iv, e.iv, 16) ||
        memcmp(again.encrypted_key, e.encrypted_key, e.encrypted_key_len) ||
        memcmp(again.ciphertext, e.ciphertext, e.ciphertext_len))
        abort();
    *ct_len = e.ciphertext_len;
    cms_envelope_clear(&again);
    cms_envelope_clear(&e);
    cms_envelope_clear(&e); /* clearing twice is safe */
}

/* Re-envelopes pt to the key and opens it again: the same bytes. */
static void check_round_trip(const uint8_t *pt, size_t len)
{
    uint8_t *env = NULL, *back = NULL;
    size_t env_len = 0, back_len = 0;
    if (cms_envelope_encrypt(key, pt, len, &env, &env_len, NULL) != 0 ||
        cms_envelope_decrypt(key, env, env_len, &back, &back_len, NULL) != 0 || back_len != len ||
        (len && memcmp(back, pt, len)))
        abort();
    free(env);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!key) {
        BIO *b = BIO_new_mem_buf(fuzz_key_pem, -1);
        key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        if (!key)
            abort();
    }
    struct cl_error perr = { 0 }, derr = { 0 };
    int prc;
    size_t ct_len;
    check_parse(data, size, &perr, &prc, &ct_len);

    uint8_t *pt = (uint8_t *)&pt;
    size_t pt_len = 1;
    int drc = cms_envelope_decrypt(key, data, size, &pt, &pt_len, &derr);
    if (prc < 0) {
        if (drc != prc || strcmp(derr.reason, perr.reason) != 0 || pt || pt_len)
            abort();
    } else if (drc == 0) {
        if (!pt || pt_len >= ct_len || ct_len - pt_len > 16)
            abort();
        check_round_trip(pt, pt_len);
        OPENSSL_cleanse(pt, pt_len);
        free(pt);
    } else if (drc != CL_ECRYPTO || derr.code != CL_ECRYPTO || pt || pt_len) {
        abort();
    }
    if (ERR_peek_error() != 0)
        abort();
    return 0;
}
