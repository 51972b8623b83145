/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EIF signature section (type 4), docs/eif.md "Signature":
 *
 *   section      = [ PcrSignature ]                      (serde_cbor Vec)
 *   PcrSignature = { "signing_certificate": [uint8...],  (the PEM file's bytes)
 *                    "signature": [uint8...] }           (untagged COSE_Sign1)
 *   payload      = PcrInfo { "register_index": 0, "register_value": [48 x uint8] }
 *
 * serde_cbor writes a Vec<u8> as a CBOR array of unsigned integers, not a
 * byte string; libcbor's uint8 builder gives the same minimal encoding
 * (0..23 in one byte, 24..255 as 0x18 xx). The COSE_Sign1 itself comes from
 * cose.h (aws-nitro-enclaves-cose's CoseSign1::new with an empty header map).
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cose/cbor_bounded.h"
#include "cose/cose.h"
#include "eif/eif_internal.h"
#include "base/fileio.h"
#include "eif/pcr.h"

#define CERT_FILE_MAX EIF_SIGNATURE_MAX_SIZE
#define KEY_FILE_MAX (64u << 10)

static cbor_item_t *byte_array(const uint8_t *p, size_t n)
{
    cbor_item_t *a = cbor_new_definite_array(n);
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        cbor_item_t *v = cbor_build_uint8(p[i]);
        if (!v || !cbor_array_push(a, v)) {
            if (v)
                cbor_decref(&v);
            cbor_decref(&a);
            return NULL;
        }
        cbor_decref(&v);
    }
    return a;
}

static bool map_put(cbor_item_t *map, const char *key, cbor_item_t *value)
{
    cbor_item_t *k = cbor_build_string(key);
    bool ok = k && value && cbor_map_add(map, (struct cbor_pair){ .key = k, .value = value });
    if (k)
        cbor_decref(&k);
    if (value)
        cbor_decref(&value);
    return ok;
}

static int serialize(cbor_item_t *item, uint8_t **out, size_t *out_len, struct cl_error *err)
{
    unsigned char *buf = NULL;
    size_t cap = 0;
    size_t n = cbor_serialize_alloc(item, &buf, &cap);
    if (n == 0) {
        free(buf);
        return cl_fail(err, CL_ENOMEM, "cannot encode CBOR");
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int eif_sig_pcrinfo(const uint8_t pcr0[static 48], uint8_t **out, size_t *out_len,
                    struct cl_error *err)
{
    /* PcrInfo's fields in declaration order (register_index: i32 = 0). */
    cbor_item_t *m = cbor_new_definite_map(2);
    int rc;
    if (!m || !map_put(m, "register_index", cbor_build_uint8(0)) ||
        !map_put(m, "register_value", byte_array(pcr0, 48))) {
        rc = cl_fail(err, CL_ENOMEM, "cannot encode the PCR payload");
        goto out;
    }
    rc = serialize(m, out, out_len, err);
out:
    if (m)
        cbor_decref(&m);
    return rc;
}

/* An array of uints < 256, each encoded in one byte's width (QEMU's rule). */
static int get_byte_array(const cbor_item_t *a, const char *what, uint8_t **out, size_t *out_len,
                          struct cl_error *err)
{
    if (!cbor_isa_array(a))
        return cl_fail(err, CL_EFORMAT, "malformed signature section: %s is not an array", what);
    size_t n = cbor_array_size(a);
    if (n == 0)
        return cl_fail(err, CL_EFORMAT, "malformed signature section: %s is empty", what);
    uint8_t *b = malloc(n + 1);
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    cbor_item_t **items = cbor_array_handle(a);
    for (size_t i = 0; i < n; i++) {
        if (!cbor_isa_uint(items[i]) || cbor_int_get_width(items[i]) != CBOR_INT_8) {
            free(b);
            return cl_fail(err, CL_EFORMAT,
                           "malformed signature section: %s holds something other than bytes",
                           what);
        }
        b[i] = cbor_get_uint8(items[i]);
    }
    b[n] = 0;
    *out = b;
    *out_len = n;
    return 0;
}

int eif_sig_parse(const uint8_t *sec, size_t len, char **pem, size_t *pem_len, uint8_t **cose,
                  size_t *cose_len, struct cl_error *err)
{
    *pem = NULL;
    *cose = NULL;
    /* bounded loading: libcbor's cbor_load() trusts declared sizes */
    cbor_item_t *top = NULL;
    struct cl_error lerr = { 0 };
    int rc = cbor_bounded_load(sec, len, &top, &lerr);
    if (rc < 0) {
        rc = cl_fail(err, rc, "malformed signature section: %s", lerr.reason);
        goto out;
    }
    if (!cbor_isa_array(top) || cbor_array_size(top) == 0) {
        rc = cl_fail(err, CL_EFORMAT, "malformed signature section: not a non-empty array");
        goto out;
    }
    /* Every element must be a PcrSignature (serde would reject others);
     * only the first is used, as nitro-cli does. */
    for (size_t e = 0; e < cbor_array_size(top); e++) {
        cbor_item_t *m = cbor_array_handle(top)[e];
        if (!cbor_isa_map(m) || cbor_map_size(m) != 2) {
            rc = cl_fail(err, CL_EFORMAT,
                         "malformed signature section: entry %zu is not a map of 2 keys", e);
            goto out;
        }
        uint8_t *c = NULL, *s = NULL;
        size_t clen = 0, slen = 0;
        struct cbor_pair *pairs = cbor_map_handle(m);
        for (size_t i = 0; i < 2 && rc == 0; i++) {
            cbor_item_t *k = pairs[i].key;
            if (!cbor_isa_string(k) || !cbor_string_is_definite(k)) {
                rc = cl_fail(err, CL_EFORMAT, "malformed signature section: a key is not a text");
                break;
            }
            size_t kl = cbor_string_length(k);
            const char *ks = (const char *)cbor_string_handle(k);
            if (kl == 19 && !memcmp(ks, "signing_certificate", 19) && !c)
                rc = get_byte_array(pairs[i].value, "signing_certificate", &c, &clen, err);
            else if (kl == 9 && !memcmp(ks, "signature", 9) && !s)
                rc = get_byte_array(pairs[i].value, "signature", &s, &slen, err);
            else
                rc = cl_fail(err, CL_EFORMAT,
                             "malformed signature section: unexpected or duplicate key '%.*s'",
                             (int)(kl > 40 ? 40 : kl), ks);
        }
        if (rc == 0 && e == 0) {
            *pem = (char *)c;
            *pem_len = clen;
            *cose = s;
            *cose_len = slen;
        } else {
            free(c);
            free(s);
        }
        if (rc < 0)
            goto out;
    }
out:
    if (top)
        cbor_decref(&top);
    if (rc < 0) {
        free(*pem);
        free(*cose);
        *pem = NULL;
        *cose = NULL;
    }
    return rc;
}

int eif_sig_load_cert(const uint8_t *pem, size_t len, X509 **out, struct cl_error *err)
{
    *out = NULL;
    if (len > INT32_MAX)
        return cl_fail(err, CL_ELIMIT, "certificate too large");
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    /* the first certificate of the PEM, as openssl's X509::from_pem takes it */
    X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!c)
        return cl_fail_openssl(err, CL_EFORMAT, "not a PEM certificate");
    *out = c;
    return 0;
}

int eif_sig_pcr8(X509 *cert, uint8_t out[static 48], struct cl_error *err)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    if (n <= 0)
        return cl_fail_openssl(err, CL_EFORMAT, "cannot encode the certificate as DER");
    uint8_t digest[48];
    int rc = 0;
    if (!EVP_Digest(der, (size_t)n, digest, NULL, EVP_sha384(), NULL))
        rc = cl_fail_openssl(err, CL_ECRYPTO, "SHA-384 failed");
    else
        rc = pcr_from_zero(out, digest, sizeof(digest), err);
    OPENSSL_free(der);
    return rc;
}

/* P-256, P-384 or P-521 (the curves COSE ES256/384/512 name). */
static int check_ec_key(EVP_PKEY *k, const char *what, struct cl_error *err)
{
    char group[64] = "";
    size_t glen = 0;
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
        return cl_fail(err, CL_EUNSUPPORTED, "the %s is not an EC key (P-256, P-384 or P-521)",
                       what);
    if (!EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &glen))
        return cl_fail_openssl(err, CL_EUNSUPPORTED, "the %s has no named curve", what);
    if (strcmp(group, "prime256v1") && strcmp(group, "secp384r1") && strcmp(group, "secp521r1"))
        return cl_fail(err, CL_EUNSUPPORTED,
                       "the %s is on curve %s; only P-256, P-384 and P-521 are accepted", what,
                       group);
    return 0;
}

int eif_sig_make(const uint8_t pcr0[static 48], const char *cert_path, const char *key_path,
                 uint8_t **section, size_t *section_len, uint8_t pcr8[static 48],
                 struct cl_error *err)
{
    int rc;
    uint8_t *pem = NULL, *keypem = NULL, *payload = NULL, *cose = NULL;
    size_t pem_len = 0, key_len = 0, payload_len = 0, cose_len = 0;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    BIO *bio = NULL;
    cbor_item_t *arr = NULL, *m = NULL;
    *section = NULL;

    if ((rc = file_read_all(cert_path, CERT_FILE_MAX, &pem, &pem_len, err)) < 0) {
        cl_error_prefix(err, "signing certificate");
        goto out;
    }
    if ((rc = eif_sig_load_cert(pem, pem_len, &cert, err)) < 0) {
        cl_error_prefix(err, "signing certificate '%s'", cert_path);
        goto out;
    }
    if ((rc = file_read_all(key_path, KEY_FILE_MAX, &keypem, &key_len, err)) < 0) {
        cl_error_prefix(err, "private key");
        goto out;
    }
    if (!(bio = BIO_new_mem_buf(keypem, (int)key_len))) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    if (!(key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL))) {
        rc = cl_fail_openssl(err, CL_EFORMAT, "private key '%s' is not a PEM private key",
                             key_path);
        goto out;
    }
    if ((rc = check_ec_key(key, "private key", err)) < 0)
        goto out;
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        rc = cl_fail(err, CL_EINVAL, "the private key does not match the signing certificate");
        goto out;
    }
    if ((rc = eif_sig_pcr8(cert, pcr8, err)) < 0 ||
        (rc = eif_sig_pcrinfo(pcr0, &payload, &payload_len, err)) < 0 ||
        (rc = cose_sign1_sign(key, payload, payload_len, &cose, &cose_len, err)) < 0)
        goto out;

    /* [ {"signing_certificate": PEM bytes, "signature": COSE bytes} ] */
    arr = cbor_new_definite_array(1);
    m = cbor_new_definite_map(2);
    if (!arr || !m || !map_put(m, "signing_certificate", byte_array(pem, pem_len)) ||
        !map_put(m, "signature", byte_array(cose, cose_len)) || !cbor_array_push(arr, m)) {
        rc = cl_fail(err, CL_ENOMEM, "cannot encode the signature section");
        goto out;
    }
    if ((rc = serialize(arr, section, section_len, err)) < 0)
        goto out;
    if (*section_len > EIF_SIGNATURE_MAX_SIZE) {
        free(*section);
        *section = NULL;
        rc = cl_fail(err, CL_ELIMIT, "the signature section would be %zu bytes, over the "
                     "maximum of %d (certificate too large)", *section_len,
                     EIF_SIGNATURE_MAX_SIZE);
        goto out;
    }
out:
    if (m)
        cbor_decref(&m);
    if (arr)
        cbor_decref(&arr);
    if (keypem) {
        OPENSSL_cleanse(keypem, key_len);
        free(keypem);
    }
    BIO_free(bio);
    EVP_PKEY_free(key);
    X509_free(cert);
    free(pem);
    free(payload);
    free(cose);
    return rc;
}

int eif_sig_verify(X509 *cert, const uint8_t *cose, size_t cose_len,
                   const uint8_t pcr0[static 48], struct cl_error *err)
{
    int rc;
    struct cose_sign1 *msg = NULL;
    uint8_t *want = NULL;
    size_t want_len = 0;
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    if (!pub)
        return cl_fail_openssl(err, CL_EFORMAT, "the signing certificate has no public key");
    if ((rc = check_ec_key(pub, "certificate's key", err)) < 0 ||
        (rc = cose_sign1_parse(cose, cose_len, &msg, err)) < 0 ||
        (rc = cose_sign1_verify(msg, pub, err)) < 0 ||
        (rc = eif_sig_pcrinfo(pcr0, &want, &want_len, err)) < 0)
        goto out;
    size_t got_len = 0;
    const uint8_t *got = cose_sign1_payload(msg, &got_len);
    if (got_len != want_len || memcmp(got, want, want_len) != 0)
        rc = cl_fail(err, CL_ESIGNATURE, "the signed payload is not PCR0 of this image");
out:
    cose_sign1_free(msg);
    free(want);
    return rc;
}
