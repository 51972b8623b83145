/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Recipient parameter (recipient.h): its members, verification through
 * include/cloister/attestation.h, the RSA key, the audit object and
 * CiphertextForRecipient (cms/cms.h). docs/kms-policy.md, "Recipient".
 */
#include "call/recipient.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cloister/attestation.h>

#include "base/hex.h"
#include "call/context.h"
#include "call/request.h"
#include "cms/cms.h"

#define PCR_HEX_MAX (2 * 64 + 1) /* PCRs are 32, 48 or 64 bytes */

struct recipient {
    struct attest_doc *doc;
    EVP_PKEY *pub;
    char *module_id;
    uint32_t pcr_mask;
    char pcr_hex[ATTEST_MAX_PCRS][PCR_HEX_MAX];
};

void recipient_free(struct recipient *r)
{
    if (!r)
        return;
    attest_doc_free(r->doc);
    EVP_PKEY_free(r->pub);
    free(r->module_id);
    free(r);
}

const char *recipient_error_type(int code)
{
    /* AWS does not publish the type it answers a refused document with
     * (docs/kms-policy.md, "Known differences from AWS"): ValidationException
     * (the request parameter is invalid) for every refusal,
     * KMSInternalException for our own failures. */
    return code == CL_ENOMEM ? "KMSInternalException" : "ValidationException";
}

/*
 * Decoded public keys by SHA-256 of their SPKI DER. An enclave keeps its RSA
 * key for the life of its process (the SDK makes one per client) and sends
 * it in every document, and OpenSSL 3.0 decodes a key through its
 * providers at a cost close to the attestation document's signature check,
 * so the decoded key is kept. Only keys that passed the checks below are
 * stored; an EVP_PKEY is safe to share between threads for encryption.
 */
#define PUBKEY_CACHE_SLOTS 64

static struct {
    pthread_mutex_t lock;
    uint8_t digest[PUBKEY_CACHE_SLOTS][32];
    EVP_PKEY *key[PUBKEY_CACHE_SLOTS];
    unsigned next;
} g_pubkeys = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A new reference to the cached key with this SPKI digest, or NULL. */
static EVP_PKEY *pubkey_cache_get(const uint8_t digest[32])
{
    EVP_PKEY *k = NULL;
    pthread_mutex_lock(&g_pubkeys.lock);
    for (unsigned i = 0; i < PUBKEY_CACHE_SLOTS; i++) {
        if (g_pubkeys.key[i] && memcmp(g_pubkeys.digest[i], digest, 32) == 0) {
            if (EVP_PKEY_up_ref(g_pubkeys.key[i]))
                k = g_pubkeys.key[i];
            break;
        }
    }
    pthread_mutex_unlock(&g_pubkeys.lock);
    return k;
}

static void pubkey_cache_put(const uint8_t digest[32], EVP_PKEY *k)
{
    if (!EVP_PKEY_up_ref(k))
        return;
    pthread_mutex_lock(&g_pubkeys.lock);
    unsigned slot = g_pubkeys.next++ % PUBKEY_CACHE_SLOTS;
    EVP_PKEY *old = g_pubkeys.key[slot];
    memcpy(g_pubkeys.digest[slot], digest, 32);
    g_pubkeys.key[slot] = k;
    pthread_mutex_unlock(&g_pubkeys.lock);
    EVP_PKEY_free(old);
}

/* AWS's model-validation message shape (docs/kms.md, "Request decoding"). */
#define VALIDATION1 "1 validation error detected: "

/* The document's fields the server uses: module id and PCRs in hex. */
static int read_fields(struct recipient *r, struct cl_error *err)
{
    r->module_id = strdup(attest_doc_module_id(r->doc));
    if (!r->module_id)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    r->pcr_mask = attest_doc_pcr_mask(r->doc);
    for (unsigned i = 0; i < ATTEST_MAX_PCRS; i++) {
        size_t len = 0;
        const uint8_t *v = attest_doc_pcr(r->doc, i, &len);
        if (!v || len == 0 || len > 64) {
            r->pcr_mask &= ~(1u << i);
            continue;
        }
        hex_encode(r->pcr_hex[i], v, len);
    }
    return 0;
}

/* Why attest_verify() refused a document, in the words of the answer. */
static const char *why_refused(int rc)
{
    switch (rc) {
    case CL_ENOMEM:
        return "out of memory";
    case CL_EALGORITHM:
        return "it uses an unsupported algorithm";
    case CL_ECHAIN:
        return "its certificate chain does not lead to a trusted root";
    case CL_EEXPIRED:
        return "a certificate of its chain is not valid at this time";
    case CL_ESIGNATURE:
        return "its signature does not verify";
    case CL_EINVAL:
        return "no trust root is configured";
    default:
        return "it is not a well-formed attestation document";
    }
}

int recipient_verify(const uint8_t *doc, size_t doc_len, const struct recipient_opts *o,
                     struct recipient **out, struct cl_error *err)
{
    int rc = 0;
    struct recipient *r = NULL;
    *out = NULL;
    if (!o || !o->verifier)
        return cl_fail(err, CL_EINVAL, "Recipient verification has no trust roots.");

    r = calloc(1, sizeof(*r));
    if (!r)
        return cl_fail(err, CL_ENOMEM, "out of memory");

    /* Always verified, whatever the key policy says (AWS's developer guide
     * says KMS always verifies). Debug documents are not refused: key
     * policies decide (require_production stays false). */
    uint32_t max_age = o->max_age_s ? o->max_age_s : 300;
    struct attest_verify_opts vo = { .at = o->at, .max_age = max_age };
    struct cl_error verr = { 0 };
    rc = attest_verify(o->verifier, doc, doc_len, &vo, &r->doc, &verr);
    if (rc < 0) {
        if (rc == CL_ESTALE)
            rc = cl_fail(err, rc,
                         "The attestation document in Recipient is not valid: its timestamp is "
                         "outside the accepted window (maximum age %u seconds).",
                         max_age);
        else
            rc = cl_fail(err, rc, "The attestation document in Recipient is not valid: %s.",
                         why_refused(rc));
        goto out;
    }

    /* The public key: DER SubjectPublicKeyInfo of an RSA key (the SDK makes
     * RSA-2048; docs/kms-policy.md, "Recipient"). */
    size_t pk_len = 0;
    const uint8_t *pk = attest_doc_public_key(r->doc, &pk_len);
    if (!pk || pk_len == 0) {
        rc = cl_fail(
            err, CL_EFORMAT,
            "The attestation document in Recipient is not valid: it carries no public key.");
        goto out;
    }
    uint8_t digest[32];
    if (!EVP_Digest(pk, pk_len, digest, NULL, EVP_sha256(), NULL)) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    r->pub = pubkey_cache_get(digest);
    if (!r->pub) {
        const unsigned char *p = pk;
        r->pub = d2i_PUBKEY(NULL, &p, (long)pk_len);
        if (!r->pub || (size_t)(p - pk) != pk_len || EVP_PKEY_get_base_id(r->pub) != EVP_PKEY_RSA) {
            ERR_clear_error();
            rc = cl_fail(err, CL_EUNSUPPORTED,
                         "The attestation document in Recipient is not valid: its public key is "
                         "not an RSA SubjectPublicKeyInfo.");
            goto out;
        }
        int bits = EVP_PKEY_get_bits(r->pub);
        if (bits < 2048 || bits > 4096) {
            rc = cl_fail(err, CL_EUNSUPPORTED,
                         "The attestation document in Recipient is not valid: its RSA key has %d "
                         "bits (2048 to 4096 accepted).",
                         bits);
            goto out;
        }
        pubkey_cache_put(digest, r->pub);
    }

    rc = read_fields(r, err);
    if (rc < 0)
        goto out;
    *out = r;
    r = NULL;
out:
    recipient_free(r);
    return rc;
}

int recipient_parse_unverified(const uint8_t *doc, size_t doc_len, struct recipient **out,
                               struct cl_error *err)
{
    *out = NULL;
    struct recipient *r = calloc(1, sizeof(*r));
    if (!r)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = attest_doc_parse_unverified(doc, doc_len, &r->doc, err);
    if (rc == 0)
        rc = read_fields(r, err);
    if (rc < 0) {
        recipient_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

const char *recipient_module_id(const struct recipient *r)
{
    return r->module_id;
}

uint64_t recipient_timestamp_ms(const struct recipient *r)
{
    return attest_doc_timestamp_ms(r->doc);
}

const char *recipient_pcr_hex(const struct recipient *r, unsigned i)
{
    if (i >= ATTEST_MAX_PCRS || !(r->pcr_mask & (1u << i)))
        return NULL;
    return r->pcr_hex[i];
}

bool recipient_is_debug(const struct recipient *r)
{
    return attest_doc_is_debug(r->doc);
}

int recipient_rsa_bits(const struct recipient *r)
{
    return EVP_PKEY_get_bits(r->pub);
}

json_t *recipient_audit_json(const struct recipient *r)
{
    json_t *pcrs = json_object();
    if (!pcrs)
        return NULL;
    for (unsigned i = 0; i < ATTEST_MAX_PCRS; i++) {
        const char *h = recipient_pcr_hex(r, i);
        if (!h)
            continue;
        char idx[4];
        snprintf(idx, sizeof(idx), "%u", i);
        json_object_set_new(pcrs, idx, json_string(h));
    }
    const char *pcr0 = recipient_pcr_hex(r, 0);
    json_t *o =
        json_pack("{s:s, s:s?, s:o, s:b, s:I}", "attestationDocumentModuleId", r->module_id,
                  "attestationDocumentEnclaveImageDigest", pcr0, "pcrs", pcrs, "debug",
                  recipient_is_debug(r), "timestampMs", (json_int_t)recipient_timestamp_ms(r));
    return o;
}

int recipient_wrap(const struct recipient *r, const uint8_t *plaintext, size_t len, uint8_t **out,
                   size_t *out_len, struct cl_error *err)
{
    size_t spki_len = 0;
    const uint8_t *spki = attest_doc_public_key(r->doc, &spki_len);
    return cms_envelope_encrypt_spki(r->pub, spki, spki_len, plaintext, len, out, out_len, err);
}

int recipient_read(struct call *c)
{
    const json_t *m = json_object_get(c->in, "Recipient");
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_object(m))
        return call_fail(c, "SerializationException",
                         "Unexpected value type for 'Recipient': expected a structure");
    static const char *const KEY_ENCRYPTION_ALGORITHMS[] = { "RSAES_OAEP_SHA_256", NULL };
    const char *alg;
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    if (req_enum(m, "KeyEncryptionAlgorithm", false, KEY_ENCRYPTION_ALGORITHMS, &alg, &c->err) <
            0 ||
        req_blob(m, "AttestationDocument", false, 1, RECIPIENT_DOC_MAX_BYTES, &doc, &doc_len,
                 &c->err) < 0)
        return -1;
    struct recipient_opts o = { .verifier = c->s->verifier,
                                .max_age_s = c->s->attestation_max_age };
    struct cl_error err = { 0 };
    int rc;
    if (!doc)
        rc = cl_fail(&err, CL_EINVAL,
                     VALIDATION1 "Value at 'recipient.attestationDocument' failed to satisfy "
                                 "constraint: Member must have length greater than or equal to 1");
    else
        rc = recipient_verify(doc, doc_len, &o, &c->recipient, &err);
    free(doc);
    if (rc < 0) {
        json_object_set_new(c->audit, "recipientError", json_string(err.reason));
        return call_fail(c, recipient_error_type(rc), "%s", err.reason);
    }
    json_t *aj = recipient_audit_json(c->recipient);
    if (aj)
        json_object_set_new(c->audit, "recipient", aj);
    return call_context_recipient(c, c->recipient);
}
