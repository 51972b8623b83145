/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Imported key material (BYOK): GetParametersForImport, ImportKeyMaterial,
 * DeleteImportedKeyMaterial, and what DescribeKey shows of an import. A key
 * of origin EXTERNAL is created without material (PendingImport); its one
 * material is imported wrapped under a fresh RSA key whose private half
 * travels in the import token, sealed under the master key
 * (ops/import_wrap.h); only that same material can ever be imported again
 * (state/store_imports.c keeps its fingerprint). docs/kms.md, "Imported key
 * material", has the rules and the messages.
 */
#include "ops/imports.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "call/authorize.h"
#include "call/context.h"
#include "call/request.h"
#include "ops/common.h"
#include "ops/import_wrap.h"
#include "ops/key_ref.h"
#include "ops/keyspec.h"
#include "ops/ops.h"
#include "util/kmsutil.h"

#define DAY               86400.0
#define TOKEN_LIFETIME    DAY /* AWS: each public key and token set is valid for 24 hours */
#define VALID_TO_MAX      (365.0 * DAY) /* AWS: at most 365 days from the request */
#define IMPORT_BLOB_MAX   6144          /* ImportToken, EncryptedKeyMaterial (botocore) */
#define MATERIAL_ID_LEN   64
#define MATERIAL_DESC_MAX 256

static const char *const WRAP_ALGS[] = { "RSAES_PKCS1_V1_5",
                                         "RSAES_OAEP_SHA_1",
                                         "RSAES_OAEP_SHA_256",
                                         "RSA_AES_KEY_WRAP_SHA_1",
                                         "RSA_AES_KEY_WRAP_SHA_256",
                                         "SM2PKE",
                                         NULL };
static const char *const WRAP_SPECS[] = { "RSA_2048", "RSA_3072", "RSA_4096", "SM2", NULL };
static const char *const EXPIRATION_MODELS[] = { "KEY_MATERIAL_EXPIRES",
                                                 "KEY_MATERIAL_DOES_NOT_EXPIRE", NULL };
static const char *const IMPORT_TYPES[] = { "NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL", NULL };

bool key_is_external(const struct store_key *k)
{
    return !strcmp(k->origin, "EXTERNAL");
}

/* The import record of an EXTERNAL key (*imp zeroed for any other key). */
static int import_of(struct call *c, const struct store_key *k, struct store_import *imp)
{
    memset(imp, 0, sizeof(*imp));
    struct cl_error err = { 0 };
    if (key_is_external(k) && store_import_get(c->s->store, k->id, imp, &err) < 0)
        return call_fail_internal(c, &err);
    return 0;
}

int import_metadata(struct call *c, const struct store_key *k, json_t *m)
{
    struct store_import imp;
    if (import_of(c, k, &imp) < 0)
        return -1;
    /* AWS shows the expiration of the material the key has; a key pending
     * import (or not imported) has none */
    if (!imp.present)
        return 0;
    json_object_set_new(
        m, "ExpirationModel",
        json_string(imp.expires ? "KEY_MATERIAL_EXPIRES" : "KEY_MATERIAL_DOES_NOT_EXPIRE"));
    if (imp.expires)
        json_object_set_new(m, "ValidTo", json_real(imp.valid_to));
    return 0;
}

int import_state_after_cancel(struct call *c, const struct store_key *k, enum key_state *state)
{
    struct store_import imp;
    if (import_of(c, k, &imp) < 0)
        return -1;
    *state = key_is_external(k) && !imp.present ? KEY_PENDING_IMPORT : KEY_DISABLED;
    return 0;
}

/* UnsupportedOperationException for a key whose origin is not EXTERNAL. */
static int require_external(struct call *c, const struct store_key *k)
{
    if (key_is_external(k))
        return 0;
    char arn[KEY_ARN_MAX];
    key_arn(c, k, arn);
    return call_fail(c, "UnsupportedOperationException",
                     "%s origin is %s which is not valid for this operation.", arn, k->origin);
}

/*
 * The wrapping algorithms and specs AWS serves in a commercial Region, and
 * its restrictions by the key's spec (the KMS API Reference,
 * GetParametersForImport, WrappingAlgorithm and WrappingKeySpec).
 */
static int wrapping_allowed(struct call *c, const struct store_key *k, const char *alg,
                            const char *spec, enum wrap_alg *wa)
{
    if (!strcmp(alg, "SM2PKE") || !strcmp(spec, "SM2"))
        return call_fail(c, "UnsupportedOperationException",
                         "The SM2 wrapping key spec and the SM2PKE wrapping algorithm are "
                         "supported only in China Regions.");
    if (wrap_alg_parse(alg, wa) < 0)
        return call_fail(c, "UnsupportedOperationException",
                         "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported.");
    bool direct = *wa == WRAP_RSAES_OAEP_SHA_1 || *wa == WRAP_RSAES_OAEP_SHA_256;
    if (direct && is_rsa_spec(k->key_spec))
        return call_fail(c, "ValidationException",
                         "The %s wrapping algorithm cannot wrap %s key material. Use "
                         "RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.",
                         alg, k->key_spec);
    if (direct && !strcmp(k->key_spec, "ECC_NIST_P521") && !strcmp(spec, "RSA_2048"))
        return call_fail(c, "ValidationException",
                         "The %s wrapping algorithm with an RSA_2048 wrapping key cannot wrap "
                         "ECC_NIST_P521 key material. Use an RSA_AES_KEY_WRAP algorithm or a "
                         "longer wrapping key.",
                         alg);
    return 0;
}

int op_get_parameters_for_import(struct call *c)
{
    const char *alg, *spec;
    if (req_enum(c->in, "WrappingAlgorithm", true, WRAP_ALGS, &alg, &c->err) < 0 ||
        req_enum(c->in, "WrappingKeySpec", true, WRAP_SPECS, &spec, &c->err) < 0)
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    enum wrap_alg wa = 0;
    int rc = require_external(c, &k);
    if (rc == 0)
        rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = call_context_wrapping(c, alg, spec);
    if (rc == 0)
        rc = authorize(c, "kms:GetParametersForImport", &k);
    /* after authorization: the refusals by key spec tell what the key is */
    if (rc == 0)
        rc = wrapping_allowed(c, &k, alg, spec, &wa);
    /* a fresh wrapping key pair per call */
    EVP_PKEY *wk = rc == 0 ? generate_pair(spec) : NULL;
    uint8_t *token = NULL, *pub = NULL;
    size_t tlen = 0, plen = 0;
    double valid_to = floor(ku_now()) + TOKEN_LIFETIME;
    struct cl_error err = { 0 };
    if (rc == 0 &&
        (!wk || import_token_make(c->s->store, k.id, valid_to, wa, wk, &token, &tlen, &err) < 0 ||
         der_public(wk, &pub, &plen) < 0))
        rc = call_fail_internal(c, &err);
    if (rc == 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s, s:f}", "KeyId", arn, "ParametersValidTo", valid_to);
        set_blob(c->out, "ImportToken", token, tlen);
        set_blob(c->out, "PublicKey", pub, plen);
    }
    free(token);
    OPENSSL_free(pub);
    EVP_PKEY_free(wk);
    store_key_clear(&k);
    return rc;
}

/* ImportKeyMaterial's members beyond the key, the token and the material. */
struct import_args {
    const char *model, *import_type, *material_id, *material_desc;
    bool has_valid_to;
    double valid_to;
};

/* KeyMaterialId / KeyMaterialDescription: botocore's patterns. */
static int pattern_ok(struct call *c, const char *member, const char *v, bool hex)
{
    for (const char *p = v; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        bool ok = hex ? (isdigit(ch) || (ch >= 'a' && ch <= 'f'))
                      : (isalnum(ch) || strchr(":/_.- \t\n\r\f\v", ch) != NULL);
        if (!ok) {
            char f[64];
            snprintf(f, sizeof(f), "%s", member);
            f[0] = (char)tolower((unsigned char)f[0]);
            return call_fail(c, "ValidationException",
                             "1 validation error detected: Value '%s' at '%s' failed to satisfy "
                             "constraint: Member must satisfy regular expression pattern: %s",
                             v, f, hex ? "^[a-f0-9]+$" : "^[a-zA-Z0-9:/_\\s.-]+$");
        }
    }
    return 0;
}

/* The members, and AWS's rules for ExpirationModel and ValidTo. */
static int import_args_read(struct call *c, struct import_args *a)
{
    memset(a, 0, sizeof(*a));
    if (req_enum(c->in, "ExpirationModel", false, EXPIRATION_MODELS, &a->model, &c->err) < 0 ||
        req_enum(c->in, "ImportType", false, IMPORT_TYPES, &a->import_type, &c->err) < 0 ||
        req_string(c->in, "KeyMaterialId", false, MATERIAL_ID_LEN, MATERIAL_ID_LEN, &a->material_id,
                   &c->err) < 0 ||
        req_string(c->in, "KeyMaterialDescription", false, 0, MATERIAL_DESC_MAX, &a->material_desc,
                   &c->err) < 0)
        return -1;
    if ((a->material_id && pattern_ok(c, "KeyMaterialId", a->material_id, true) < 0) ||
        (a->material_desc && *a->material_desc &&
         pattern_ok(c, "KeyMaterialDescription", a->material_desc, false) < 0))
        return -1;
    /* a timestamp: epoch seconds as a JSON number (botocore's json protocol) */
    const json_t *v = json_object_get(c->in, "ValidTo");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v))
            return call_fail(c, "SerializationException",
                             "Unexpected value type for 'ValidTo': expected a timestamp");
        a->has_valid_to = true;
        a->valid_to = json_number_value(v);
    }
    if (!a->model)
        a->model = "KEY_MATERIAL_EXPIRES"; /* the model's documented default */
    bool expires = !strcmp(a->model, "KEY_MATERIAL_EXPIRES");
    if (expires && !a->has_valid_to)
        return call_fail(c, "ValidationException",
                         "A ValidTo date is required when the ExpirationModel is "
                         "KEY_MATERIAL_EXPIRES.");
    if (!expires && a->has_valid_to)
        return call_fail(c, "ValidationException",
                         "A ValidTo date is not allowed when the ExpirationModel is "
                         "KEY_MATERIAL_DOES_NOT_EXPIRE.");
    double now = ku_now();
    if (a->has_valid_to && !(a->valid_to > now))
        return call_fail(c, "ValidationException", "ValidTo must be a future date and time.");
    if (a->has_valid_to && a->valid_to > now + VALID_TO_MAX)
        return call_fail(c, "ValidationException",
                         "ValidTo must be no more than 365 days from the request date.");
    return 0;
}

/*
 * The multi-version members (ImportType, KeyMaterialId,
 * KeyMaterialDescription: symmetric keys only). cloister-kms keeps one
 * material per imported key, so NEW_KEY_MATERIAL is only its first import.
 */
static int import_type_check(struct call *c, const struct store_key *k, const struct import_args *a,
                             const struct store_import *imp)
{
    char arn[KEY_ARN_MAX];
    key_arn(c, k, arn);
    if ((a->import_type || a->material_id || a->material_desc) && !is_symmetric(k))
        return call_fail(c, "ValidationException",
                         "ImportType, KeyMaterialId and KeyMaterialDescription are only valid for "
                         "symmetric encryption keys.");
    bool is_new = a->import_type && !strcmp(a->import_type, "NEW_KEY_MATERIAL");
    if (is_new && a->material_id)
        return call_fail(c, "ValidationException",
                         "You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.");
    if (is_new && imp->imported)
        return call_fail(c, "UnsupportedOperationException",
                         "%s already has imported key material; cloister-kms keeps one key "
                         "material per key, so ImportType NEW_KEY_MATERIAL is not supported "
                         "after the first import.",
                         arn);
    if (!is_new && a->import_type && !imp->imported)
        return call_fail(c, "ValidationException",
                         "ImportType EXISTING_KEY_MATERIAL: no key material was imported into %s "
                         "before.",
                         arn);
    if (a->material_id) {
        char mid[65];
        key_material_id(k->id, 1, mid);
        if (!imp->imported || strcmp(mid, a->material_id) != 0)
            return call_fail(c, "IncorrectKeyMaterialException",
                             "Key material ID %s is not associated with %s.", a->material_id, arn);
    }
    return 0;
}

/* The token: this store's, not expired, issued for key k. */
static int token_check(struct call *c, const struct store_key *k, const uint8_t *tok, size_t tlen,
                       struct import_token *t)
{
    struct cl_error err = { 0 };
    char arn[KEY_ARN_MAX];
    key_arn(c, k, arn);
    if (import_token_read(c->s->store, tok, tlen, t, &err) < 0)
        return call_fail(c, "InvalidImportTokenException", "The import token is invalid.");
    if (strcmp(t->key_id, k->id) != 0)
        return call_fail(c, "InvalidImportTokenException",
                         "The import token was not issued for %s.", arn);
    if (ku_now() >= t->valid_to)
        return call_fail(c, "ExpiredImportTokenException",
                         "The import token expired; call GetParametersForImport for a new one.");
    return 0;
}

/* Unwraps and checks the material: *stored as the store keeps it. */
static int unwrap_material(struct call *c, const struct store_key *k, const struct import_token *t,
                           const uint8_t *wrapped, size_t wlen, uint8_t **stored, size_t *slen)
{
    uint8_t *m = NULL;
    size_t mlen = 0;
    struct cl_error err = { 0 };
    if (import_unwrap(t->wrapping, t->alg, wrapped, wlen, &m, &mlen, &err) < 0)
        return call_fail(c, "InvalidCiphertextException",
                         "The EncryptedKeyMaterial does not unwrap with the wrapping key and "
                         "algorithm of the import token.");
    int rc = 0;
    if (import_material_check(k->key_spec, m, mlen, stored, slen, &err) < 0) {
        char arn[KEY_ARN_MAX];
        key_arn(c, k, arn);
        rc = call_fail(c, "IncorrectKeyMaterialException",
                       "The key material is not valid for %s: %s.", arn, err.reason);
    }
    OPENSSL_cleanse(m, mlen);
    free(m);
    return rc;
}

/* Imports material into k: IncorrectKeyMaterialException when it is not
 * the material imported before. */
static int import_store(struct call *c, const struct store_key *k, const struct import_args *a,
                        const uint8_t *m, size_t len)
{
    struct cl_error err = { 0 };
    bool expires = !strcmp(a->model, "KEY_MATERIAL_EXPIRES");
    int r = store_import_put(c->s->store, k->id, m, len, expires, a->valid_to, &err);
    if (r == CL_EPERM) {
        char arn[KEY_ARN_MAX];
        key_arn(c, k, arn);
        return call_fail(c, "IncorrectKeyMaterialException",
                         "The key material is not the key material that was previously imported "
                         "into %s.",
                         arn);
    }
    return r < 0 ? call_fail_internal(c, &err) : 0;
}

int op_import_key_material(struct call *c)
{
    struct import_args a;
    uint8_t *tok = NULL, *wrapped = NULL, *stored = NULL;
    size_t tlen = 0, wlen = 0, slen = 0;
    if (req_blob(c->in, "ImportToken", true, 1, IMPORT_BLOB_MAX, &tok, &tlen, &c->err) < 0 ||
        req_blob(c->in, "EncryptedKeyMaterial", true, 1, IMPORT_BLOB_MAX, &wrapped, &wlen,
                 &c->err) < 0 ||
        import_args_read(c, &a) < 0) {
        free(tok);
        free(wrapped);
        return -1;
    }
    struct store_key k = { 0 };
    struct import_token t = { 0 };
    struct store_import imp = { 0 };
    struct cl_error err = { 0 };
    int rc = load_key(c, "KeyId", IDS_KEY_ONLY, &k);
    bool loaded = rc == 0;
    if (rc == 0)
        rc = require_external(c, &k);
    if (rc == 0)
        rc = require_not_pending(c, &k);
    if (rc == 0 && store_import_get(c->s->store, k.id, &imp, &err) < 0)
        rc = call_fail_internal(c, &err);
    if (rc == 0)
        rc = call_context_expiration(c, a.model, a.has_valid_to ? &a.valid_to : NULL);
    if (rc == 0)
        rc = authorize(c, "kms:ImportKeyMaterial", &k);
    /* after authorization: it tells whether material was imported */
    if (rc == 0)
        rc = import_type_check(c, &k, &a, &imp);
    if (rc == 0)
        rc = token_check(c, &k, tok, tlen, &t);
    if (rc == 0)
        rc = unwrap_material(c, &k, &t, wrapped, wlen, &stored, &slen);
    if (rc == 0)
        rc = import_store(c, &k, &a, stored, slen);
    if (rc == 0) {
        char arn[KEY_ARN_MAX], mid[65];
        key_arn(c, &k, arn);
        c->out = json_pack("{s:s}", "KeyId", arn);
        if (is_symmetric(&k)) {
            key_material_id(k.id, 1, mid);
            json_object_set_new(c->out, "KeyMaterialId", json_string(mid));
        }
    }
    if (stored)
        OPENSSL_cleanse(stored, slen);
    free(stored);
    free(tok);
    free(wrapped);
    import_token_clear(&t);
    if (loaded)
        store_key_clear(&k);
    return rc;
}

int op_delete_imported_key_material(struct call *c)
{
    const char *mid_in;
    if (req_string(c->in, "KeyMaterialId", false, MATERIAL_ID_LEN, MATERIAL_ID_LEN, &mid_in,
                   &c->err) < 0 ||
        (mid_in && pattern_ok(c, "KeyMaterialId", mid_in, true) < 0))
        return -1;
    struct store_key k;
    if (load_key(c, "KeyId", IDS_KEY_ONLY, &k) < 0)
        return -1;
    struct store_import imp = { 0 };
    struct cl_error err = { 0 };
    char arn[KEY_ARN_MAX], mid[65];
    key_arn(c, &k, arn);
    key_material_id(k.id, 1, mid);
    int rc = require_external(c, &k);
    if (rc == 0)
        rc = require_not_pending(c, &k);
    if (rc == 0)
        rc = authorize(c, "kms:DeleteImportedKeyMaterial", &k);
    if (rc == 0 && store_import_get(c->s->store, k.id, &imp, &err) < 0)
        rc = call_fail_internal(c, &err);
    if (rc == 0 && mid_in && (!imp.imported || strcmp(mid_in, mid) != 0))
        rc = call_fail(c, "NotFoundException", "Key material ID %s is not associated with %s.",
                       mid_in, arn);
    if (rc == 0 && store_import_delete(c->s->store, k.id, &err) < 0)
        rc = call_fail_internal(c, &err);
    if (rc == 0) {
        c->out = json_pack("{s:s}", "KeyId", arn);
        if (is_symmetric(&k) && imp.imported)
            json_object_set_new(c->out, "KeyMaterialId", json_string(mid));
    }
    store_key_clear(&k);
    return rc;
}
