/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifying attestation documents (include/cloister/attestation.h): the
 * trusted roots, the certificate chain (cached), the COSE signature and the
 * caller's policy, over a document attest_doc.c decoded.
 * The steps follow aws-nitro-enclaves-nsm-api docs/attestation_process.md
 * §3 (syntactic checks §3.2.2, certificate validity §3.2.3, COSE signature
 * §3.2.4); docs/attestation.md, "Verification".
 */
#include "attest/attest_doc_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/byteorder.h"
#include "base/fileio.h"
#include "cose/cose.h"

#define MAX_ROOTS 64
#define CACHE_SLOTS 64
#define FUTURE_SKEW_MS (300 * 1000ULL)

/* ---------------------------------------------------------------- verifier */

struct cache_entry {
    bool used;
    uint8_t key[32];           /* SHA-256(root set || leaf || cabundle) */
    int64_t not_before;        /* the validated chain's common validity window */
    int64_t not_after;
    EVP_PKEY *leaf_key;        /* the leaf's public key (P-384) */
};

struct attest_verifier {
    X509_STORE *store;
    uint8_t root_fp[MAX_ROOTS][32];
    size_t root_count;
    uint8_t roots_hash[32];    /* SHA-256 over the roots' fingerprints */
    pthread_mutex_t lock;      /* guards the cache */
    struct cache_entry cache[CACHE_SLOTS];
    size_t next_slot;
};

int attest_verifier_new(struct attest_verifier **out, struct cl_error *err)
{
    *out = NULL;
    struct attest_verifier *v = calloc(1, sizeof(*v));
    if (!v)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    v->store = X509_STORE_new();
    if (!v->store) {
        free(v);
        return cl_fail_openssl(err, CL_ENOMEM, "cannot create a certificate store");
    }
    pthread_mutex_init(&v->lock, NULL);
    *out = v;
    return 0;
}

static void cache_clear(struct attest_verifier *v)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        EVP_PKEY_free(v->cache[i].leaf_key);
        memset(&v->cache[i], 0, sizeof(v->cache[i]));
    }
}

void attest_verifier_free(struct attest_verifier *v)
{
    if (!v)
        return;
    cache_clear(v);
    X509_STORE_free(v->store);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

size_t attest_verifier_root_count(const struct attest_verifier *v)
{
    return v->root_count;
}

int attest_verifier_add_root_x509(struct attest_verifier *v, X509 *root, struct cl_error *err)
{
    uint8_t fp[32];
    unsigned int n = 0;
    if (!v || !root)
        return cl_fail(err, CL_EINVAL, "attest_verifier_add_root_x509: missing argument");
    if (!X509_digest(root, EVP_sha256(), fp, &n) || n != 32)
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot hash a root certificate");
    for (size_t i = 0; i < v->root_count; i++)
        if (!memcmp(v->root_fp[i], fp, 32))
            return 0; /* already there */
    if (v->root_count >= MAX_ROOTS)
        return cl_fail(err, CL_ELIMIT, "more than %d trusted roots", MAX_ROOTS);
    if (!X509_STORE_add_cert(v->store, root))
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot add a root certificate");
    memcpy(v->root_fp[v->root_count++], fp, 32);
    EVP_Digest(v->root_fp, 32 * v->root_count, v->roots_hash, NULL, EVP_sha256(), NULL);
    pthread_mutex_lock(&v->lock);
    cache_clear(v);
    pthread_mutex_unlock(&v->lock);
    return 0;
}

int attest_verifier_add_root_pem(struct attest_verifier *v, const char *pem, size_t len,
                                 struct cl_error *err)
{
    if (!v || !pem || len > INT32_MAX)
        return cl_fail(err, CL_EINVAL, "attest_verifier_add_root_pem: missing argument");
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = 0, count = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        rc = attest_verifier_add_root_x509(v, x, err);
        X509_free(x);
        if (rc < 0)
            goto out;
        count++;
    }
    ERR_clear_error(); /* the end of input is reported as an error */
    if (count == 0)
        rc = cl_fail(err, CL_EFORMAT, "no PEM certificate found");
out:
    BIO_free(b);
    return rc;
}

int attest_verifier_add_root_file(struct attest_verifier *v, const char *pem_path,
                                  struct cl_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(pem_path, 1 << 20, &data, &len, err);
    if (rc < 0)
        return rc;
    rc = attest_verifier_add_root_pem(v, (const char *)data, len, err);
    if (rc < 0)
        cl_error_prefix(err, "'%s'", pem_path);
    free(data);
    return rc;
}

int attest_verifier_add_root_der(struct attest_verifier *v, const uint8_t *der, size_t len,
                                 struct cl_error *err)
{
    if (!der || len == 0 || len > INT32_MAX)
        return cl_fail(err, CL_EINVAL, "attest_verifier_add_root_der: no certificate");
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x || p != der + len) {
        X509_free(x);
        return cl_fail_openssl(err, CL_EFORMAT, "not a DER certificate");
    }
    int rc = attest_verifier_add_root_x509(v, x, err);
    X509_free(x);
    return rc;
}

int attest_verifier_add_roots_from_store(struct attest_verifier *v, X509_STORE *store,
                                         struct cl_error *err)
{
    if (!v || !store)
        return cl_fail(err, CL_EINVAL, "attest_verifier_add_roots_from_store: missing argument");
    STACK_OF(X509) *certs = X509_STORE_get1_all_certs(store);
    if (!certs)
        return cl_fail_openssl(err, CL_ENOMEM, "cannot list the store's certificates");
    int rc = 0;
    for (int i = 0; i < sk_X509_num(certs) && rc == 0; i++)
        rc = attest_verifier_add_root_x509(v, sk_X509_value(certs, i), err);
    if (rc == 0 && sk_X509_num(certs) == 0)
        rc = cl_fail(err, CL_EINVAL, "the certificate store is empty");
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

int attest_verifier_add_aws_root(struct attest_verifier *v, struct cl_error *err)
{
    const char *pem = attest_aws_root_g1_pem();
    return attest_verifier_add_root_pem(v, pem, strlen(pem), err);
}

/* ------------------------------------------------------------ chain check */

static int chain_key(const struct attest_verifier *v, const struct attest_doc *d, uint8_t key[32],
                     struct cl_error *err)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(c, v->roots_hash, 32);
    uint8_t n[4];
    for (size_t i = 0; ok && i <= d->ca_count; i++) {
        const uint8_t *p = i == 0 ? d->cert : d->ca[i - 1];
        size_t len = i == 0 ? d->cert_len : d->ca_len[i - 1];
        be32_store(n, (uint32_t)len);
        ok = EVP_DigestUpdate(c, n, 4) && EVP_DigestUpdate(c, p, len);
    }
    ok = ok && EVP_DigestFinal_ex(c, key, NULL);
    EVP_MD_CTX_free(c);
    return ok ? 0 : cl_fail_openssl(err, CL_ECRYPTO, "cannot hash the certificate chain");
}

static X509 *parse_der_cert(const uint8_t *der, size_t len)
{
    const uint8_t *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && p != der + len) { /* trailing bytes after the certificate */
        X509_free(x);
        x = NULL;
    }
    return x;
}

static bool is_p384(EVP_PKEY *k)
{
    char group[32];
    size_t n = 0;
    return k && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
           EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &n) &&
           !strcmp(group, "secp384r1");
}

/*
 * RFC 5280 §6 path validation by OpenSSL: leaf -> cabundle (untrusted, any
 * order) -> one of our roots, at time `at`, signatures, validity of every
 * certificate, basicConstraints/pathLen and keyCertSign of CAs. No
 * revocation (the Nitro PKI's CRLs are not needed: leaves live 3 hours,
 * attestation_process.md §3.2.3.2). Returns the leaf's key and the chain's
 * validity window.
 */
static int validate_chain(struct attest_verifier *v, const struct attest_doc *d, int64_t at,
                          EVP_PKEY **leaf_key, int64_t *nb_out, int64_t *na_out,
                          struct cl_error *err)
{
    int rc = 0;
    X509 *leaf = NULL;
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    *leaf_key = NULL;
    if (!untrusted || !ctx) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    leaf = parse_der_cert(d->cert, d->cert_len);
    if (!leaf) {
        ERR_clear_error();
        rc = cl_fail(err, CL_EFORMAT, "certificate is not a DER X.509 certificate");
        goto out;
    }
    for (size_t i = 0; i < d->ca_count; i++) {
        X509 *x = parse_der_cert(d->ca[i], d->ca_len[i]);
        if (!x) {
            ERR_clear_error();
            rc = cl_fail(err, CL_EFORMAT, "cabundle[%zu] is not a DER X.509 certificate", i);
            goto out;
        }
        if (!sk_X509_push(untrusted, x)) {
            X509_free(x);
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (!X509_STORE_CTX_init(ctx, v->store, leaf, untrusted)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot set up certificate verification");
        goto out;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)at);
    X509_VERIFY_PARAM_set_depth(param, ATTEST_MAX_CABUNDLE + 1);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        int depth = X509_STORE_CTX_get_error_depth(ctx);
        ERR_clear_error();
        if (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID)
            rc = cl_fail(err, CL_EEXPIRED, "certificate chain is not valid at %lld: %s (depth %d)",
                         (long long)at, X509_verify_cert_error_string(e), depth);
        else
            rc = cl_fail(err, CL_ECHAIN, "certificate chain does not lead to a trusted root: %s (depth %d)",
                         X509_verify_cert_error_string(e), depth);
        goto out;
    }
    /* The leaf signs documents: if it states its usage, it must allow that. */
    uint32_t ku = X509_get_key_usage(leaf);
    if (ku != UINT32_MAX && !(ku & KU_DIGITAL_SIGNATURE)) {
        rc = cl_fail(err, CL_ECHAIN, "the leaf certificate may not sign (no digitalSignature key usage)");
        goto out;
    }
    EVP_PKEY *pk = X509_get_pubkey(leaf);
    if (!is_p384(pk)) {
        EVP_PKEY_free(pk);
        rc = cl_fail(err, CL_EALGORITHM, "the leaf certificate's key is not ECDSA P-384");
        goto out;
    }
    /* the window in which every certificate of the validated chain is valid */
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    int64_t nb = INT64_MIN, na = INT64_MAX;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        int64_t b, a;
        const X509 *x = sk_X509_value(chain, i);
        struct tm tm;
        if (!ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm)) {
            rc = cl_fail(err, CL_EFORMAT, "unreadable certificate validity");
            EVP_PKEY_free(pk);
            goto out;
        }
        b = (int64_t)timegm(&tm);
        if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) {
            rc = cl_fail(err, CL_EFORMAT, "unreadable certificate validity");
            EVP_PKEY_free(pk);
            goto out;
        }
        a = (int64_t)timegm(&tm);
        if (b > nb)
            nb = b;
        if (a < na)
            na = a;
    }
    *nb_out = nb;
    *na_out = na;
    *leaf_key = pk;
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
    return rc;
}

/* The leaf key of a chain that validates at `at`, from the cache or by
 * validating it (and caching the result). *key is a new reference. */
static int chain_leaf_key(struct attest_verifier *v, const struct attest_doc *d, int64_t at,
                          EVP_PKEY **key, struct cl_error *err)
{
    uint8_t k[32];
    int rc = chain_key(v, d, k, err);
    if (rc < 0)
        return rc;
    *key = NULL;
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        struct cache_entry *e = &v->cache[i];
        /* Validity windows are inclusive (RFC 5280 §4.1.2.5). */
        if (e->used && !memcmp(e->key, k, 32) && at >= e->not_before && at <= e->not_after &&
            EVP_PKEY_up_ref(e->leaf_key)) {
            *key = e->leaf_key;
            break;
        }
    }
    pthread_mutex_unlock(&v->lock);
    if (*key)
        return 0;

    int64_t nb = 0, na = 0;
    EVP_PKEY *pk = NULL;
    rc = validate_chain(v, d, at, &pk, &nb, &na, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&v->lock);
    struct cache_entry *e = NULL;
    for (size_t i = 0; i < CACHE_SLOTS && !e; i++)
        if (v->cache[i].used && !memcmp(v->cache[i].key, k, 32))
            e = &v->cache[i];
    if (!e) {
        e = &v->cache[v->next_slot];
        v->next_slot = (v->next_slot + 1) % CACHE_SLOTS;
    }
    if (EVP_PKEY_up_ref(pk)) {
        EVP_PKEY_free(e->leaf_key);
        e->used = true;
        memcpy(e->key, k, 32);
        e->not_before = nb;
        e->not_after = na;
        e->leaf_key = pk;
    }
    pthread_mutex_unlock(&v->lock);
    *key = pk;
    return 0;
}

/* ---------------------------------------------------------------- policy */

static int check_policy(const struct attest_doc *d, const struct attest_verify_opts *o, int64_t at,
                        struct cl_error *err)
{
    if (o->max_age) {
        uint64_t now_ms = at > 0 ? (uint64_t)at * 1000 : 0;
        uint64_t max_ms = o->max_age > UINT64_MAX / 1000 ? UINT64_MAX : o->max_age * 1000;
        if (d->timestamp_ms > now_ms && d->timestamp_ms - now_ms > FUTURE_SKEW_MS)
            return cl_fail(err, CL_ESTALE, "document timestamp %llu is in the future",
                           (unsigned long long)d->timestamp_ms);
        if (now_ms > d->timestamp_ms && now_ms - d->timestamp_ms > max_ms)
            return cl_fail(err, CL_ESTALE, "document is %llu s old, at most %llu s allowed",
                           (unsigned long long)((now_ms - d->timestamp_ms) / 1000),
                           (unsigned long long)o->max_age);
    }
    for (size_t i = 0; i < o->pcr_count; i++) {
        const struct attest_expected_pcr *e = &o->pcrs[i];
        if (e->index >= ATTEST_MAX_PCRS || !e->value)
            return cl_fail(err, CL_EINVAL, "expected PCR index %u out of range", e->index);
        if (!(d->pcr_mask & (1u << e->index)))
            return cl_fail(err, CL_EPCR, "PCR%u is not in the document", e->index);
        if (d->pcr_len[e->index] != e->len ||
            CRYPTO_memcmp(d->pcr[e->index], e->value, e->len) != 0)
            return cl_fail(err, CL_EPCR, "PCR%u does not match the expected value", e->index);
    }
    if (o->nonce) {
        if (!d->nonce)
            return cl_fail(err, CL_ENONCE, "document has no nonce");
        if (d->nonce_len != o->nonce_len || CRYPTO_memcmp(d->nonce, o->nonce, o->nonce_len) != 0)
            return cl_fail(err, CL_ENONCE, "nonce does not match the expected value");
    }
    if (o->user_data) {
        if (!d->user_data)
            return cl_fail(err, CL_EUSERDATA, "document has no user_data");
        if (d->user_data_len != o->user_data_len ||
            CRYPTO_memcmp(d->user_data, o->user_data, o->user_data_len) != 0)
            return cl_fail(err, CL_EUSERDATA, "user_data does not match the expected value");
    }
    if (o->require_production) {
        if (!(d->pcr_mask & 1u))
            return cl_fail(err, CL_EDEBUG, "document has no PCR0, cannot tell production from debug");
        if (attest_doc_is_debug(d))
            return cl_fail(err, CL_EDEBUG, "debug-mode document (PCR0 is zero), production required");
    }
    return 0;
}

int attest_verify(struct attest_verifier *v, const uint8_t *doc, size_t len,
                  const struct attest_verify_opts *opts, struct attest_doc **out,
                  struct cl_error *err)
{
    static const struct attest_verify_opts none = { 0 };
    struct cose_sign1 *m = NULL;
    struct attest_doc *d = NULL;
    EVP_PKEY *key = NULL;
    int rc;
    if (out)
        *out = NULL;
    if (!v)
        return cl_fail(err, CL_EINVAL, "attest_verify: no verifier");
    /* fail closed: without a trust anchor nothing verifies */
    if (v->root_count == 0)
        return cl_fail(err, CL_EINVAL, "no trusted root: add one before verifying");
    if (!opts)
        opts = &none;
    int64_t at = opts->at ? opts->at : (int64_t)time(NULL);

    if ((rc = attest_doc_parse(doc, len, &m, &d, err)) < 0 ||
        (rc = chain_leaf_key(v, d, at, &key, err)) < 0)
        goto out;
    /* §3.2.4: the signature over the payload exactly as received */
    if ((rc = cose_sign1_verify(m, key, err)) < 0) {
        if (rc != CL_EALGORITHM && rc != CL_ENOMEM)
            rc = CL_ESIGNATURE;
        goto out;
    }
    if ((rc = check_policy(d, opts, at, err)) < 0)
        goto out;
    d->verified = true;
    if (out) {
        *out = d;
        d = NULL;
    }
out:
    EVP_PKEY_free(key);
    cose_sign1_free(m);
    attest_doc_free(d);
    return rc;
}
