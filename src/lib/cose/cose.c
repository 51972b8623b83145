/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COSE_Sign1 with ECDSA (RFC 9052 §4.2/§4.4, RFC 9053 §2.1); see cose.h.
 */
#include "cose/cose.h"

#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "cose/cbor_bounded.h"

struct cose_sign1 {
    int alg;
    uint8_t *protected_bytes; size_t protected_len;
    uint8_t *payload; size_t payload_len;
    uint8_t *signature; size_t signature_len;
};

/* RFC 9053 §2.1: the algorithm, hash and r/s width of each curve. */
struct ec_alg {
    int alg;
    const char *group;   /* OpenSSL group name */
    const char *curve;   /* for messages */
    const char *md;
    size_t field;        /* bytes of r and of s */
};

static const struct ec_alg ec_algs[] = {
    { COSE_ALG_ES256, "prime256v1", "P-256", "SHA256", 32 },
    { COSE_ALG_ES384, "secp384r1", "P-384", "SHA384", 48 },
    { COSE_ALG_ES512, "secp521r1", "P-521", "SHA512", 66 },
};

static const struct ec_alg *alg_by_id(int alg)
{
    for (size_t i = 0; i < sizeof(ec_algs) / sizeof(ec_algs[0]); i++)
        if (ec_algs[i].alg == alg)
            return &ec_algs[i];
    return NULL;
}

static const struct ec_alg *alg_by_key(EVP_PKEY *key)
{
    char group[64];
    size_t n = 0;
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        return NULL;
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &n))
        return NULL;
    for (size_t i = 0; i < sizeof(ec_algs) / sizeof(ec_algs[0]); i++)
        if (!strcmp(ec_algs[i].group, group))
            return &ec_algs[i];
    return NULL;
}

static const char *alg_name(int alg)
{
    switch (alg) {
    case COSE_ALG_ES256: return "ES256";
    case COSE_ALG_ES384: return "ES384";
    case COSE_ALG_ES512: return "ES512";
    default: return "unsupported";
    }
}

/* Size of a CBOR head for a length (RFC 8949 §3: preferred serialization). */
static size_t head_len(uint64_t n)
{
    return n < 24 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffffffu ? 5 : 9;
}

/*
 * The Sig_structure of RFC 9052 §4.4 for COSE_Sign1:
 *   [ "Signature1", body_protected (bstr), external_aad (h''), payload (bstr) ]
 * with the protected and payload bytes exactly as received.
 */
static int build_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
                               size_t payload_len, uint8_t **out, size_t *out_len,
                               struct cl_error *err)
{
    static const char ctx[] = "Signature1";
    *out = NULL;
    if (payload_len > SIZE_MAX - 64 - prot_len)
        return cl_fail(err, CL_ELIMIT, "COSE payload too large");
    size_t cap = 1 + 1 + (sizeof(ctx) - 1) + head_len(prot_len) + prot_len + 1 +
                 head_len(payload_len) + payload_len;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    size_t off = 0;
    off += cbor_encode_array_start(4, buf + off, cap - off);
    off += cbor_encode_string_start(sizeof(ctx) - 1, buf + off, cap - off);
    memcpy(buf + off, ctx, sizeof(ctx) - 1);
    off += sizeof(ctx) - 1;
    off += cbor_encode_bytestring_start(prot_len, buf + off, cap - off);
    if (prot_len)
        memcpy(buf + off, prot, prot_len);
    off += prot_len;
    off += cbor_encode_bytestring_start(0, buf + off, cap - off);
    off += cbor_encode_bytestring_start(payload_len, buf + off, cap - off);
    if (payload_len)
        memcpy(buf + off, payload, payload_len);
    off += payload_len;
    if (off != cap) {
        free(buf);
        return cl_fail(err, CL_ECRYPTO, "internal error encoding the Sig_structure");
    }
    *out = buf;
    *out_len = off;
    return 0;
}

int cose_sign1_sign(EVP_PKEY *key, const uint8_t *payload, size_t payload_len, uint8_t **out,
                    size_t *out_len, struct cl_error *err)
{
    int rc = 0;
    uint8_t *tbs = NULL, *der = NULL, *msg = NULL;
    size_t tbs_len = 0, der_len = 0;
    EVP_MD_CTX *mctx = NULL;
    ECDSA_SIG *sig = NULL;
    uint8_t prot[8];
    size_t prot_len = 0;

    if (!out || !out_len || !key || (!payload && payload_len))
        return cl_fail(err, CL_EINVAL, "cose_sign1_sign: missing key, payload or output");
    *out = NULL;
    *out_len = 0;
    const struct ec_alg *a = alg_by_key(key);
    if (!a)
        return cl_fail(err, CL_EUNSUPPORTED,
                       "COSE signing key must be an EC key on P-256, P-384 or P-521");

    /* protected = bstr .cbor {1: alg} (RFC 9052 §3.1, label 1 = alg) */
    prot_len += cbor_encode_map_start(1, prot + prot_len, sizeof(prot) - prot_len);
    prot_len += cbor_encode_uint8(1, prot + prot_len, sizeof(prot) - prot_len);
    prot_len += cbor_encode_negint8((uint8_t)(-1 - a->alg), prot + prot_len, sizeof(prot) - prot_len);

    rc = build_sig_structure(prot, prot_len, payload, payload_len, &tbs, &tbs_len, err);
    if (rc < 0)
        goto out;

    mctx = EVP_MD_CTX_new();
    if (!mctx || EVP_DigestSignInit_ex(mctx, NULL, a->md, NULL, NULL, key, NULL) != 1 ||
        EVP_DigestSign(mctx, NULL, &der_len, tbs, tbs_len) != 1) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot sign COSE_Sign1");
        goto out;
    }
    der = malloc(der_len);
    if (!der) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    if (EVP_DigestSign(mctx, der, &der_len, tbs, tbs_len) != 1) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot sign COSE_Sign1");
        goto out;
    }
    const uint8_t *p = der;
    sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!sig) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot decode the ECDSA signature");
        goto out;
    }

    /* [bstr protected, {}, bstr payload, bstr r||s] (RFC 9052 §4.2) */
    size_t sig_len = 2 * a->field;
    size_t cap = 1 + head_len(prot_len) + prot_len + 1 + head_len(payload_len) + payload_len +
                 head_len(sig_len) + sig_len;
    msg = malloc(cap);
    if (!msg) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    size_t off = 0;
    off += cbor_encode_array_start(4, msg + off, cap - off);
    off += cbor_encode_bytestring_start(prot_len, msg + off, cap - off);
    memcpy(msg + off, prot, prot_len);
    off += prot_len;
    off += cbor_encode_map_start(0, msg + off, cap - off);
    off += cbor_encode_bytestring_start(payload_len, msg + off, cap - off);
    if (payload_len)
        memcpy(msg + off, payload, payload_len);
    off += payload_len;
    off += cbor_encode_bytestring_start(sig_len, msg + off, cap - off);
    /* RFC 9053 §2.1: r and s as fixed-width big-endian integers */
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), msg + off, (int)a->field) != (int)a->field ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), msg + off + a->field, (int)a->field) != (int)a->field) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the ECDSA signature");
        goto out;
    }
    off += sig_len;
    if (off != cap) {
        rc = cl_fail(err, CL_ECRYPTO, "internal error encoding COSE_Sign1");
        goto out;
    }
    *out = msg;
    *out_len = off;
    msg = NULL;
out:
    free(msg);
    free(der);
    free(tbs);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(mctx);
    return rc;
}

void cose_sign1_free(struct cose_sign1 *m)
{
    if (!m)
        return;
    free(m->protected_bytes);
    free(m->payload);
    free(m->signature);
    free(m);
}

/*
 * The protected header (RFC 9052 §3): a serialized map (a zero-length bstr
 * means an empty map) holding alg (label 1). A non-integer alg (e.g. the
 * text "ES384" some tools write) is kept as 0, which no key verifies
 * (CL_EALGORITHM). We understand no extension, so the crit label (2) is
 * rejected, as §3.1 requires for critical parameters one does not know.
 */
static int parse_protected(struct cose_sign1 *m, struct cl_error *err)
{
    cbor_item_t *map = NULL;
    int rc;
    if (m->protected_len == 0)
        return cl_fail(err, CL_EFORMAT, "COSE protected header is empty (no alg)");
    rc = cbor_bounded_load(m->protected_bytes, m->protected_len, &map, err);
    if (rc < 0) {
        cl_error_prefix(err, "COSE protected header");
        return rc == CL_ENOMEM ? rc : CL_EFORMAT;
    }
    if (!cbor_isa_map(map)) {
        rc = cl_fail(err, CL_EFORMAT, "COSE protected header is not a map");
        goto out;
    }
    size_t n = cbor_map_size(map);
    struct cbor_pair *kv = cbor_map_handle(map);
    bool have_alg = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (cbor_bounded_key_eq(kv[i].key, kv[j].key)) {
                rc = cl_fail(err, CL_EFORMAT, "COSE protected header has a duplicate label");
                goto out;
            }
        int64_t label;
        if (!cbor_isa_uint(kv[i].key) && !cbor_isa_negint(kv[i].key)) {
            if (cbor_isa_string(kv[i].key))
                continue; /* text labels: private use, not critical */
            rc = cl_fail(err, CL_EFORMAT, "COSE protected header has a label of the wrong type");
            goto out;
        }
        if (cbor_bounded_int(kv[i].key, &label, NULL) < 0)
            continue;
        if (label == 2) {
            rc = cl_fail(err, CL_EFORMAT, "COSE protected header has critical parameters (crit)");
            goto out;
        }
        if (label != 1)
            continue;
        have_alg = true;
        int64_t alg = 0;
        if (cbor_bounded_int(kv[i].value, &alg, NULL) == 0 && alg >= -65536 && alg <= 65535)
            m->alg = (int)alg;
        else
            m->alg = 0;
    }
    if (!have_alg)
        rc = cl_fail(err, CL_EFORMAT, "COSE protected header has no alg");
out:
    cbor_decref(&map);
    return rc;
}

int cose_sign1_parse(const uint8_t *buf, size_t len, struct cose_sign1 **out,
                     struct cl_error *err)
{
    int rc = 0;
    cbor_item_t *root = NULL, *inner = NULL;
    struct cose_sign1 *m = NULL;

    if (!out)
        return cl_fail(err, CL_EINVAL, "cose_sign1_parse: no output");
    *out = NULL;
    if (!buf || len == 0)
        return cl_fail(err, CL_EFORMAT, "COSE_Sign1 message is empty");
    if (len > COSE_MAX_MESSAGE)
        return cl_fail(err, CL_ELIMIT, "COSE_Sign1 message of %zu bytes, at most %u allowed", len,
                       COSE_MAX_MESSAGE);
    /* COSE_Sign1_Tagged (RFC 9052 §2) is tag 18, byte 0xd2. libcbor 0.8's
     * decoder rejects the one-byte heads of tags 6..20 as "unassigned"
     * (fixed in libcbor 0.9), so the tag is taken off here; the 2-byte form
     * (0xd8 0x12) goes through libcbor and is handled below. */
    bool tagged = false;
    if (buf[0] == 0xd2) {
        tagged = true;
        buf++;
        len--;
    }
    rc = cbor_bounded_load(buf, len, &root, err);
    if (rc < 0) {
        cl_error_prefix(err, "COSE_Sign1");
        goto out;
    }
    inner = root;
    if (tagged && cbor_isa_tag(root)) {
        rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1: nested CBOR tags");
        goto out;
    }
    /* RFC 9052 §2: COSE_Sign1_Tagged = #6.18(COSE_Sign1); other tags are not COSE_Sign1 */
    if (cbor_isa_tag(root)) {
        if (cbor_tag_value(root) != 18) {
            rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1: unexpected CBOR tag %llu",
                         (unsigned long long)cbor_tag_value(root));
            goto out;
        }
        inner = cbor_tag_item(root); /* new reference */
        if (cbor_isa_tag(inner)) {
            rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1: nested CBOR tags");
            goto out;
        }
    }
    if (!cbor_isa_array(inner) || cbor_array_size(inner) != 4) {
        rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1 is not an array of 4 items");
        goto out;
    }
    cbor_item_t **it = cbor_array_handle(inner);
    if (!cbor_isa_bytestring(it[0])) {
        rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1 protected header is not a byte string");
        goto out;
    }
    if (!cbor_isa_map(it[1])) {
        rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1 unprotected header is not a map");
        goto out;
    }
    /* The NSM and the EIF signer send an empty unprotected map; anything in it
     * is unauthenticated, so we accept none (as Signal's verifier does). */
    if (cbor_map_size(it[1]) != 0) {
        rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1 unprotected header is not empty");
        goto out;
    }
    if (!cbor_isa_bytestring(it[2])) {
        rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1 payload is not a byte string (detached payloads are not supported)");
        goto out;
    }
    if (!cbor_isa_bytestring(it[3])) {
        rc = cl_fail(err, CL_EFORMAT, "COSE_Sign1 signature is not a byte string");
        goto out;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = cbor_bounded_bytes(it[0], &m->protected_bytes, &m->protected_len, err)) < 0 ||
        (rc = cbor_bounded_bytes(it[2], &m->payload, &m->payload_len, err)) < 0 ||
        (rc = cbor_bounded_bytes(it[3], &m->signature, &m->signature_len, err)) < 0)
        goto out;
    rc = parse_protected(m, err);
    if (rc < 0)
        goto out;
    *out = m;
    m = NULL;
out:
    if (inner && inner != root)
        cbor_decref(&inner);
    if (root)
        cbor_decref(&root);
    cose_sign1_free(m);
    return rc;
}

int cose_sign1_alg(const struct cose_sign1 *m)
{
    return m ? m->alg : 0;
}

const uint8_t *cose_sign1_payload(const struct cose_sign1 *m, size_t *len)
{
    *len = m->payload_len;
    return m->payload;
}

const uint8_t *cose_sign1_protected(const struct cose_sign1 *m, size_t *len)
{
    *len = m->protected_len;
    return m->protected_bytes;
}

const uint8_t *cose_sign1_signature(const struct cose_sign1 *m, size_t *len)
{
    *len = m->signature_len;
    return m->signature;
}

int cose_sign1_sig_structure(const struct cose_sign1 *m, uint8_t **out, size_t *out_len,
                             struct cl_error *err)
{
    if (!m || !out || !out_len)
        return cl_fail(err, CL_EINVAL, "cose_sign1_sig_structure: missing argument");
    return build_sig_structure(m->protected_bytes, m->protected_len, m->payload, m->payload_len,
                               out, out_len, err);
}

int cose_sign1_verify(const struct cose_sign1 *m, EVP_PKEY *key, struct cl_error *err)
{
    int rc = 0;
    uint8_t *tbs = NULL, *der = NULL;
    size_t tbs_len = 0;
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    EVP_MD_CTX *mctx = NULL;

    if (!m || !key)
        return cl_fail(err, CL_EINVAL, "cose_sign1_verify: missing message or key");
    const struct ec_alg *ka = alg_by_key(key);
    if (!ka)
        return cl_fail(err, CL_EALGORITHM, "COSE verification key is not an EC key on P-256, P-384 or P-521");
    const struct ec_alg *ma = alg_by_id(m->alg);
    if (!ma)
        return cl_fail(err, CL_EALGORITHM, "unsupported COSE algorithm %d", m->alg);
    if (ma != ka)
        return cl_fail(err, CL_EALGORITHM, "COSE algorithm %s does not match the %s key",
                       alg_name(m->alg), ka->curve);
    if (m->signature_len != 2 * ka->field)
        return cl_fail(err, CL_ESIGNATURE, "COSE signature is %zu bytes, %s needs %zu",
                       m->signature_len, alg_name(m->alg), 2 * ka->field);

    /* r || s -> DER ECDSA-Sig-Value for OpenSSL. OpenSSL does not demand
     * low S, so both (r, s) and (r, n - s) verify, as the NSM needs. */
    r = BN_bin2bn(m->signature, (int)ka->field, NULL);
    s = BN_bin2bn(m->signature + ka->field, (int)ka->field, NULL);
    sig = ECDSA_SIG_new();
    if (!r || !s || !sig || ECDSA_SIG_set0(sig, r, s) != 1) {
        rc = cl_fail_openssl(err, CL_ENOMEM, "cannot build the ECDSA signature");
        goto out;
    }
    r = s = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    if (der_len <= 0) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the ECDSA signature");
        goto out;
    }
    rc = build_sig_structure(m->protected_bytes, m->protected_len, m->payload, m->payload_len,
                             &tbs, &tbs_len, err);
    if (rc < 0)
        goto out;
    mctx = EVP_MD_CTX_new();
    if (!mctx || EVP_DigestVerifyInit_ex(mctx, NULL, ka->md, NULL, NULL, key, NULL) != 1) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot set up ECDSA verification");
        goto out;
    }
    if (EVP_DigestVerify(mctx, der, (size_t)der_len, tbs, tbs_len) != 1) {
        ERR_clear_error();
        rc = cl_fail(err, CL_ESIGNATURE, "COSE signature does not verify");
        goto out;
    }
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    free(tbs);
    EVP_MD_CTX_free(mctx);
    return rc;
}
