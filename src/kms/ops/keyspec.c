/* SPDX-License-Identifier: Apache-2.0 */
/* What a key spec means for the operations (keyspec.h). */
#include "ops/keyspec.h"

#include <string.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "call/context.h"

bool is_symmetric(const struct store_key *k)
{
    return !strcmp(k->key_spec, KEY_SPEC_SYMMETRIC_DEFAULT);
}

bool is_rsa_spec(const char *spec)
{
    return !strncmp(spec, "RSA_", 4);
}

bool is_nist_ecc_spec(const char *spec)
{
    return !strcmp(spec, "ECC_NIST_P256") || !strcmp(spec, "ECC_NIST_P384") ||
           !strcmp(spec, "ECC_NIST_P521");
}

bool is_hmac_spec(const char *spec)
{
    return hmac_key_bytes(spec) != 0;
}

/* AWS's HMAC key specs: key material as long as the spec's number (AWS KMS
 * Developer Guide, "HMAC keys in AWS KMS", key specs for HMAC keys), and one
 * MAC algorithm each, HMAC with the SHA-2 digest of that length (RFC 2104). */
static const struct {
    const char *spec, *alg;
    size_t bytes;
} HMAC_SPECS[] = {
    { "HMAC_224", "HMAC_SHA_224", 28 },
    { "HMAC_256", "HMAC_SHA_256", 32 },
    { "HMAC_384", "HMAC_SHA_384", 48 },
    { "HMAC_512", "HMAC_SHA_512", 64 },
};

size_t hmac_key_bytes(const char *spec)
{
    for (size_t i = 0; i < sizeof(HMAC_SPECS) / sizeof(HMAC_SPECS[0]); i++)
        if (!strcmp(spec, HMAC_SPECS[i].spec))
            return HMAC_SPECS[i].bytes;
    return 0;
}

const EVP_MD *hmac_digest(const char *spec)
{
    switch (hmac_key_bytes(spec)) {
    case 28:
        return EVP_sha224();
    case 32:
        return EVP_sha256();
    case 48:
        return EVP_sha384();
    case 64:
        return EVP_sha512();
    default:
        return NULL;
    }
}

json_t *mac_algorithms(const char *spec)
{
    for (size_t i = 0; i < sizeof(HMAC_SPECS) / sizeof(HMAC_SPECS[0]); i++)
        if (!strcmp(spec, HMAC_SPECS[i].spec))
            return json_pack("[s]", HMAC_SPECS[i].alg);
    return json_array();
}

void set_algorithms(json_t *o, const struct store_key *k)
{
    if (k->usage == KEY_USAGE_ENCRYPT_DECRYPT)
        json_object_set_new(o, "EncryptionAlgorithms", encryption_algorithms(k));
    else if (k->usage == KEY_USAGE_GENERATE_VERIFY_MAC)
        json_object_set_new(o, "MacAlgorithms", mac_algorithms(k->key_spec));
    else if (k->usage == KEY_USAGE_KEY_AGREEMENT)
        json_object_set_new(o, "KeyAgreementAlgorithms", key_agreement_algorithms());
    else
        json_object_set_new(o, "SigningAlgorithms", signing_algorithms(k->key_spec));
}

bool has_cmk_spec(const char *spec)
{
    return strcmp(spec, KEY_SPEC_ED25519) != 0 && strncmp(spec, "ML_DSA", 6) != 0;
}

void set_cmk_spec(json_t *o, const char *spec)
{
    if (has_cmk_spec(spec))
        json_object_set_new(o, "CustomerMasterKeySpec", json_string(spec));
}

int refuse_sm2(struct call *c, const char *member)
{
    if (strncmp(c->s->region, "cn-", 3) != 0)
        return call_fail(c, "UnsupportedOperationException",
                         "%s SM2 is only available in the China Regions.", member);
    return call_fail(c, "UnsupportedOperationException", "%s SM2 is not supported by cloister-kms.",
                     member);
}

EVP_PKEY *generate_pair(const char *spec)
{
    if (!strcmp(spec, "RSA_2048"))
        return EVP_RSA_gen(2048);
    if (!strcmp(spec, "RSA_3072"))
        return EVP_RSA_gen(3072);
    if (!strcmp(spec, "RSA_4096"))
        return EVP_RSA_gen(4096);
    if (!strcmp(spec, "ECC_NIST_P256"))
        return EVP_EC_gen("P-256");
    if (!strcmp(spec, "ECC_NIST_P384"))
        return EVP_EC_gen("P-384");
    if (!strcmp(spec, "ECC_NIST_P521"))
        return EVP_EC_gen("P-521");
    if (!strcmp(spec, "ECC_SECG_P256K1"))
        return EVP_EC_gen("secp256k1");
    if (!strcmp(spec, KEY_SPEC_ED25519))
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return NULL;
}

int der_public(EVP_PKEY *pk, uint8_t **out, size_t *len)
{
    unsigned char *d = NULL;
    int n = i2d_PUBKEY(pk, &d);
    if (n <= 0)
        return -1;
    *out = d;
    *len = (size_t)n;
    return 0;
}

int der_pkcs8(EVP_PKEY *pk, uint8_t **out, size_t *len)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pk);
    if (!p8)
        return -1;
    unsigned char *d = NULL;
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &d);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (n <= 0)
        return -1;
    *out = d;
    *len = (size_t)n;
    return 0;
}

json_t *signing_algorithms(const char *spec)
{
    if (is_rsa_spec(spec))
        return json_pack("[s,s,s,s,s,s]", "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384",
                         "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_256",
                         "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512");
    /* AWS lists ED25519_PH_SHA_512 too; OpenSSL 3.0 has no Ed25519ph (3.2
     * added it), so this server offers pure Ed25519 only (docs/kms.md) */
    if (!strcmp(spec, KEY_SPEC_ED25519))
        return json_pack("[s]", "ED25519_SHA_512");
    if (!strcmp(spec, "ECC_NIST_P384"))
        return json_pack("[s]", "ECDSA_SHA_384");
    if (!strcmp(spec, "ECC_NIST_P521"))
        return json_pack("[s]", "ECDSA_SHA_512");
    return json_pack("[s]", "ECDSA_SHA_256");
}

json_t *key_agreement_algorithms(void)
{
    return json_pack("[s]", "ECDH");
}

json_t *encryption_algorithms(const struct store_key *k)
{
    if (is_symmetric(k))
        return json_pack("[s]", KMS_ALG_SYMMETRIC_DEFAULT);
    return json_pack("[s,s]", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256");
}
