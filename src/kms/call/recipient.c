/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Recipient parameter (research/kms.md §1): verification through
 * include/cloister/attestation.h, the RSA key, condition keys (§2.1), the
 * audit object and CiphertextForRecipient (src/lib/cms.h).
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

#include "cms/cms.h"
#include "base/hex.h"

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
    /* Research §1.6 leaves KMS's exact type for a refused document
     * unconfirmed; we answer ValidationException (the request parameter is
     * invalid) for every refusal, KMSInternalException for our own failures. */
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

/* AWS's model-validation message shape (research §3.2). */
#define VALIDATION1 "1 validation error detected: "

int recipient_verify(const uint8_t *doc, size_t doc_len, const char *key_encryption_algorithm,
                     const struct recipient_opts *o, struct recipient **out,
                     struct cl_error *err)
{
    int rc = 0;
    struct recipient *r = NULL;
    *out = NULL;

    /* botocore RecipientInfo: KeyEncryptionAlgorithm enum [RSAES_OAEP_SHA_256];
     * AttestationDocument blob 1..262144 bytes. */
    if (key_encryption_algorithm && strcmp(key_encryption_algorithm, "RSAES_OAEP_SHA_256") != 0)
        return cl_fail(err, CL_EINVAL,
                       VALIDATION1 "Value '%.64s' at 'recipient.keyEncryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_OAEP_SHA_256]",
                       key_encryption_algorithm);
    if (!doc || doc_len == 0)
        return cl_fail(err, CL_EINVAL,
                       VALIDATION1 "Value at 'recipient.attestationDocument' failed to satisfy constraint: Member must have length greater than or equal to 1");
    if (doc_len > RECIPIENT_DOC_MAX_BYTES)
        return cl_fail(err, CL_EINVAL,
                       VALIDATION1 "Value at 'recipient.attestationDocument' failed to satisfy constraint: Member must have length less than or equal to 262144");
    if (!o || !o->verifier)
        return cl_fail(err, CL_EINVAL, "Recipient verification has no trust roots.");

    r = calloc(1, sizeof(*r));
    if (!r)
        return cl_fail(err, CL_ENOMEM, "out of memory");

    /* Always verified, whatever the key policy says (research §1.6: the KMS
     * guide says KMS always verifies). Debug documents are not refused:
     * key policies decide (require_production stays false). */
    uint32_t max_age = o->max_age_s ? o->max_age_s : 300;
    struct attest_verify_opts vo = {.at = o->at, .max_age = max_age};
    struct cl_error verr = {0};
    rc = attest_verify(o->verifier, doc, doc_len, &vo, &r->doc, &verr);
    if (rc < 0) {
        const char *why;
        switch (rc) {
        case CL_ENOMEM:
            why = "out of memory";
            break;
        case CL_EALGORITHM:
            why = "it uses an unsupported algorithm";
            break;
        case CL_ECHAIN:
            why = "its certificate chain does not lead to a trusted root";
            break;
        case CL_EEXPIRED:
            why = "a certificate of its chain is not valid at this time";
            break;
        case CL_ESIGNATURE:
            why = "its signature does not verify";
            break;
        case CL_ESTALE:
            why = "its timestamp is outside the accepted window";
            break;
        case CL_EINVAL:
            why = "no trust root is configured";
            break;
        default:
            why = "it is not a well-formed attestation document";
            break;
        }
        if (rc == CL_ESTALE)
            rc = cl_fail(err, rc,
                         "The attestation document in Recipient is not valid: its timestamp is outside the accepted window (maximum age %u seconds).",
                         max_age);
        else
            rc = cl_fail(err, rc, "The attestation document in Recipient is not valid: %s.", why);
        goto out;
    }

    /* The public key: DER SubjectPublicKeyInfo of an RSA key (research §1.2;
     * the SDK makes RSA-2048, its enum offers 3072/4096). */
    size_t pk_len = 0;
    const uint8_t *pk = attest_doc_public_key(r->doc, &pk_len);
    if (!pk || pk_len == 0) {
        rc = cl_fail(err, CL_EFORMAT,
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
                         "The attestation document in Recipient is not valid: its public key is not an RSA SubjectPublicKeyInfo.");
            goto out;
        }
        int bits = EVP_PKEY_get_bits(r->pub);
        if (bits < 2048 || bits > 4096) {
            rc = cl_fail(err, CL_EUNSUPPORTED,
                         "The attestation document in Recipient is not valid: its RSA key has %d bits (2048 to 4096 accepted).",
                         bits);
            goto out;
        }
        pubkey_cache_put(digest, r->pub);
    }

    r->module_id = strdup(attest_doc_module_id(r->doc));
    if (!r->module_id) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
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
    *out = r;
    r = NULL;
out:
    recipient_free(r);
    return rc;
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

int recipient_add_context(const struct recipient *r, struct policy_context *ctx,
                          struct cl_error *err)
{
    /* research §2.1: ImageSha384 corresponds to PCR0; values lowercase hex. */
    int rc;
    const char *pcr0 = recipient_pcr_hex(r, 0);
    if (pcr0 && (rc = policy_context_add(ctx, "kms:RecipientAttestation:ImageSha384", pcr0, err)) < 0)
        return rc;
    for (unsigned i = 0; i < ATTEST_MAX_PCRS; i++) {
        const char *h = recipient_pcr_hex(r, i);
        if (!h)
            continue;
        char key[48];
        snprintf(key, sizeof(key), "kms:RecipientAttestation:PCR%u", i);
        if ((rc = policy_context_add(ctx, key, h, err)) < 0)
            return rc;
    }
    return 0;
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
    json_t *o = json_pack("{s:s, s:s?, s:o, s:b, s:I}", "attestationDocumentModuleId", r->module_id,
                          "attestationDocumentEnclaveImageDigest", pcr0, "pcrs", pcrs, "debug",
                          recipient_is_debug(r), "timestampMs",
                          (json_int_t)recipient_timestamp_ms(r));
    return o;
}

int recipient_wrap(const struct recipient *r, const uint8_t *plaintext, size_t len,
                   uint8_t **out, size_t *out_len, struct cl_error *err)
{
    size_t spki_len = 0;
    const uint8_t *spki = attest_doc_public_key(r->doc, &spki_len);
    return cms_envelope_encrypt_spki(r->pub, spki, spki_len, plaintext, len, out, out_len, err);
}
