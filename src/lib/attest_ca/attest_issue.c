/* SPDX-License-Identifier: Apache-2.0 */
/* Issuing attestation documents; see attest_ca/attest_issue.h. */
#include "attest_ca/attest_issue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cbor.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "attest_ca/attest_ca.h"
#include "cose/cose.h"
#include "base/hex.h"

#define MAX_CHAIN 4
#define MAX_MODULE_ID 256

struct attest_signer {
    EVP_PKEY *key;                       /* leaf private key */
    uint8_t *leaf; size_t leaf_len;      /* leaf certificate, DER */
    uint8_t *ca[MAX_CHAIN];              /* cabundle, DER, root first */
    size_t ca_len[MAX_CHAIN];
    size_t ca_count;
    X509 *root;
    int64_t not_before, not_after;       /* the leaf's validity */
};

void attest_signer_free(struct attest_signer *s)
{
    if (!s)
        return;
    EVP_PKEY_free(s->key);
    OPENSSL_free(s->leaf);
    for (size_t i = 0; i < s->ca_count; i++)
        OPENSSL_free(s->ca[i]);
    X509_free(s->root);
    free(s);
}

static int der_of(X509 *x, uint8_t **out, size_t *len, struct cl_error *err)
{
    *out = NULL;
    int n = i2d_X509(x, out);
    if (n <= 0)
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot encode a certificate");
    *len = (size_t)n;
    return 0;
}

/*
 * A signer from an issuer: generates the leaf key, issues its 3-hour
 * certificate, and records the cabundle [root, intermediate].
 */
static int signer_from_issuer(EVP_PKEY *inter_key, X509 *inter, X509 *root,
                              struct attest_signer **out, struct cl_error *err)
{
    X509 *leaf = NULL;
    int rc = 0;
    struct attest_signer *s = calloc(1, sizeof(*s));
    if (!s)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    uint8_t id[8];
    char idhex[17], cn[64];
    if (RAND_bytes(id, sizeof(id)) != 1) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "no randomness");
        goto out;
    }
    hex_encode(idhex, id, sizeof(id));
    snprintf(cn, sizeof(cn), "enclave-%s.cloister", idhex);
    int64_t now = (int64_t)time(NULL);
    if ((rc = attest_ca_generate_key(&s->key, err)) < 0 ||
        (rc = attest_ca_make_leaf(s->key, cn, inter_key, inter, now, ATTEST_LEAF_LIFETIME_SECONDS,
                                  &leaf, err)) < 0 ||
        (rc = der_of(leaf, &s->leaf, &s->leaf_len, err)) < 0 ||
        (rc = der_of(root, &s->ca[0], &s->ca_len[0], err)) < 0)
        goto out;
    s->ca_count = 1;
    if ((rc = der_of(inter, &s->ca[1], &s->ca_len[1], err)) < 0)
        goto out;
    s->ca_count = 2;
    if (attest_ca_cert_times(leaf, &s->not_before, &s->not_after) < 0) {
        rc = cl_fail(err, CL_ECRYPTO, "cannot read the leaf's validity");
        goto out;
    }
    if (!X509_up_ref(root)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot reference the root");
        goto out;
    }
    s->root = root;
    *out = s;
    s = NULL;
out:
    X509_free(leaf);
    attest_signer_free(s);
    return rc;
}

int attest_signer_new_from_ca(const char *ca_dir, struct attest_signer **out,
                              struct cl_error *err)
{
    EVP_PKEY *ikey = NULL;
    X509 *inter = NULL, *root = NULL;
    if (!out)
        return cl_fail(err, CL_EINVAL, "attest_signer_new_from_ca: no output");
    *out = NULL;
    int rc = attest_ca_load_issuer(ca_dir, &ikey, &inter, &root, err);
    if (rc == 0)
        rc = signer_from_issuer(ikey, inter, root, out, err);
    EVP_PKEY_free(ikey);
    X509_free(inter);
    X509_free(root);
    return rc;
}

int attest_signer_new_ephemeral(struct attest_signer **out, struct cl_error *err)
{
    EVP_PKEY *rkey = NULL, *ikey = NULL;
    X509 *root = NULL, *inter = NULL;
    if (!out)
        return cl_fail(err, CL_EINVAL, "attest_signer_new_ephemeral: no output");
    *out = NULL;
    int64_t now = (int64_t)time(NULL);
    int rc;
    if ((rc = attest_ca_generate_key(&rkey, err)) == 0 &&
        (rc = attest_ca_make_root(rkey, "ephemeral-test-root.cloister", now, 86400, &root, err)) == 0 &&
        (rc = attest_ca_generate_key(&ikey, err)) == 0 &&
        (rc = attest_ca_make_intermediate(ikey, "ephemeral-test-intermediate.cloister", rkey, root,
                                          now, 86400, &inter, err)) == 0)
        rc = signer_from_issuer(ikey, inter, root, out, err);
    EVP_PKEY_free(rkey);
    EVP_PKEY_free(ikey);
    X509_free(root);
    X509_free(inter);
    return rc;
}

int attest_signer_root_pem(const struct attest_signer *s, char **pem, struct cl_error *err)
{
    *pem = NULL;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || !PEM_write_bio_X509(b, s->root)) {
        BIO_free(b);
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the root certificate");
    }
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *copy = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (copy) {
        memcpy(copy, data, (size_t)n);
        copy[n] = '\0';
    }
    BIO_free(b);
    if (!copy)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    *pem = copy;
    return 0;
}

const uint8_t *attest_signer_leaf_der(const struct attest_signer *s, size_t *len)
{
    *len = s->leaf_len;
    return s->leaf;
}

int64_t attest_signer_not_after(const struct attest_signer *s)
{
    return s->not_after;
}

/* ------------------------------------------------------------ encoding */

struct writer {
    uint8_t *buf;
    size_t cap, off;
    bool overflow;
};

/* libcbor's encoders return 0 when the buffer is too small. */
static void w_head(struct writer *w, size_t n)
{
    if (!w->overflow && n == 0)
        w->overflow = true;
    w->off += n;
}

static void w_raw(struct writer *w, const void *p, size_t n)
{
    if (w->overflow || n > w->cap - w->off) {
        w->overflow = true;
        return;
    }
    if (n)
        memcpy(w->buf + w->off, p, n);
    w->off += n;
}

static void w_text(struct writer *w, const char *s)
{
    size_t n = strlen(s);
    if (w->overflow)
        return;
    w_head(w, cbor_encode_string_start(n, w->buf + w->off, w->cap - w->off));
    w_raw(w, s, n);
}

static void w_bytes(struct writer *w, const uint8_t *p, size_t n)
{
    if (w->overflow)
        return;
    w_head(w, cbor_encode_bytestring_start(n, w->buf + w->off, w->cap - w->off));
    w_raw(w, p, n);
}

static void w_opt_bytes(struct writer *w, const uint8_t *p, size_t n)
{
    if (w->overflow)
        return;
    if (!p)
        w_head(w, cbor_encode_null(w->buf + w->off, w->cap - w->off));
    else
        w_bytes(w, p, n);
}

int attest_doc_issue(struct attest_signer *s, const struct attest_doc_fields *f, uint8_t **doc,
                     size_t *doc_len, struct cl_error *err)
{
    if (!s || !f || !doc || !doc_len)
        return cl_fail(err, CL_EINVAL, "attest_doc_issue: missing argument");
    *doc = NULL;
    *doc_len = 0;
    if (!f->module_id || !f->module_id[0])
        return cl_fail(err, CL_EINVAL, "module_id is empty");
    if (strlen(f->module_id) > MAX_MODULE_ID)
        return cl_fail(err, CL_ELIMIT, "module_id longer than %d bytes", MAX_MODULE_ID);
    if (f->timestamp_ms == 0)
        return cl_fail(err, CL_EINVAL, "timestamp is zero");
    if (!f->pcrs || f->pcr_mask == 0)
        return cl_fail(err, CL_EINVAL, "no PCRs for the document");
    struct { const char *name; size_t len; } opt[] = {
        { "public_key", f->public_key ? f->public_key_len : 0 },
        { "user_data", f->user_data ? f->user_data_len : 0 },
        { "nonce", f->nonce ? f->nonce_len : 0 },
    };
    for (size_t i = 0; i < 3; i++)
        if (opt[i].len > ATTEST_DOC_MAX_OPTIONAL)
            return cl_fail(err, CL_ELIMIT, "%s of %zu bytes, at most %d allowed", opt[i].name,
                           opt[i].len, ATTEST_DOC_MAX_OPTIONAL);
    /* A document must be verifiable when it is issued: the leaf covers its time. */
    int64_t ts = (int64_t)(f->timestamp_ms / 1000);
    if (ts < s->not_before || ts > s->not_after)
        return cl_fail(err, CL_ESTATE,
                       "the signer's leaf certificate is not valid at the document's timestamp");

    size_t cap = 512 + strlen(f->module_id) + 32 * 56 + s->leaf_len + opt[0].len + opt[1].len +
                 opt[2].len;
    for (size_t i = 0; i < s->ca_count; i++)
        cap += s->ca_len[i] + 8;
    struct writer w = { .buf = malloc(cap), .cap = cap };
    if (!w.buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");

    /* aws-nitro-enclaves-nsm-api src/api/mod.rs AttestationDoc, in field order */
    if (f->indefinite_map)
        w_head(&w, cbor_encode_indef_map_start(w.buf + w.off, w.cap - w.off));
    else
        w_head(&w, cbor_encode_map_start(9, w.buf + w.off, w.cap - w.off));
    w_text(&w, "module_id");
    w_text(&w, f->module_id);
    w_text(&w, "digest");
    w_text(&w, "SHA384");
    w_text(&w, "timestamp");
    /* u64 in the 8-byte form, as serde_cbor writes it for these values */
    if (!w.overflow)
        w_head(&w, cbor_encode_uint64(f->timestamp_ms, w.buf + w.off, w.cap - w.off));
    w_text(&w, "pcrs");
    size_t n_pcrs = (size_t)__builtin_popcount(f->pcr_mask);
    if (!w.overflow)
        w_head(&w, cbor_encode_map_start(n_pcrs, w.buf + w.off, w.cap - w.off));
    for (unsigned i = 0; i < 32; i++) {
        if (!(f->pcr_mask & (1u << i)))
            continue;
        if (!w.overflow)
            w_head(&w, cbor_encode_uint8((uint8_t)i, w.buf + w.off, w.cap - w.off));
        w_bytes(&w, f->pcrs[i], 48);
    }
    w_text(&w, "certificate");
    w_bytes(&w, s->leaf, s->leaf_len);
    w_text(&w, "cabundle");
    if (!w.overflow)
        w_head(&w, cbor_encode_array_start(s->ca_count, w.buf + w.off, w.cap - w.off));
    for (size_t i = 0; i < s->ca_count; i++)
        w_bytes(&w, s->ca[i], s->ca_len[i]);
    w_text(&w, "public_key");
    w_opt_bytes(&w, f->public_key, f->public_key_len);
    w_text(&w, "user_data");
    w_opt_bytes(&w, f->user_data, f->user_data_len);
    w_text(&w, "nonce");
    w_opt_bytes(&w, f->nonce, f->nonce_len);
    if (f->indefinite_map && !w.overflow)
        w_head(&w, cbor_encode_break(w.buf + w.off, w.cap - w.off));
    int rc = 0;
    if (w.overflow)
        rc = cl_fail(err, CL_ECRYPTO, "internal error: attestation payload buffer too small");
    else
        rc = cose_sign1_sign(s->key, w.buf, w.off, doc, doc_len, err);
    free(w.buf);
    return rc;
}
