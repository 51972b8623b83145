/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SDK's KMS client (include/cloister/kms.h): the AWS KMS JSON 1.1
 * protocol (docs/kms.md, "The API") over libcurl, with libcurl's own SigV4
 * signer, TLS by OpenSSL, and the socket from the vsock layer.
 */
#include <cloister/kms.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cloister/nsm.h>
#include <cloister/vsock.h>

#include "base/base64.h"
#include "base/num.h"
#include "cms/cms.h"
#include "kms_client/sock_bridge.h"

#define RESPONSE_MAX        (1024 * 1024)
#define ATTESTATION_DOC_MAX 0x3000 /* the NSM's response limit */

struct kms_client {
    char *region;
    char *host;    /* TLS name and Host header */
    unsigned port; /* TLS port in the URL (the proxy decides where bytes go) */
    char *ca_bundle;
    uint32_t proxy_cid, proxy_port;
    char *endpoint_url; /* direct TCP (parent side); NULL: through the vsock proxy */
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void kms_client_free(struct kms_client *c)
{
    if (!c)
        return;
    free(c->region);
    free(c->host);
    free(c->ca_bundle);
    free(c->endpoint_url);
    free(c->access_key_id);
    free_secret(c->secret_access_key);
    free_secret(c->session_token);
    free(c);
}

static int valid_region(const char *r)
{
    if (!r || !*r || strlen(r) > 32)
        return 0;
    for (const char *p = r; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    return 1;
}

int kms_client_new(const struct kms_client_config *cfg, struct kms_client **out,
                   struct cl_error *err)
{
    *out = NULL;
    if (!valid_region(cfg->region))
        return cl_fail(err, CL_EINVAL, "invalid region '%s'", cfg->region ? cfg->region : "");
    if (!cfg->access_key_id || !*cfg->access_key_id || !cfg->secret_access_key ||
        !*cfg->secret_access_key)
        return cl_fail(err, CL_EINVAL, "an access key id and a secret access key are required");
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return cl_fail(err, CL_EIO, "cannot initialise libcurl");

    struct kms_client *c = calloc(1, sizeof(*c));
    if (!c)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    c->port = 443;
    if (cfg->endpoint && *cfg->endpoint) {
        c->host = strdup(cfg->endpoint);
        char *colon = c->host ? strrchr(c->host, ':') : NULL;
        if (colon) {
            uint64_t p;
            if (num_parse_u64(colon + 1, 65535, &p) != 0 || p == 0) {
                kms_client_free(c);
                return cl_fail(err, CL_EINVAL, "invalid endpoint '%s'", cfg->endpoint);
            }
            *colon = '\0';
            c->port = (unsigned)p;
        }
        if (c->host && !*c->host) {
            kms_client_free(c);
            return cl_fail(err, CL_EINVAL, "invalid endpoint '%s'", cfg->endpoint);
        }
    } else if (asprintf(&c->host, "kms.%s.amazonaws.com", cfg->region) < 0) {
        c->host = NULL;
    }
    c->region = strdup(cfg->region);
    c->ca_bundle = strdup(cfg->ca_bundle ? cfg->ca_bundle : KMS_DEFAULT_CA_BUNDLE);
    c->proxy_cid = cfg->proxy_cid ? cfg->proxy_cid : KMS_DEFAULT_PROXY_CID;
    c->proxy_port = cfg->proxy_port ? cfg->proxy_port : KMS_DEFAULT_PROXY_PORT;
    if (cfg->endpoint_url) {
        if (strncmp(cfg->endpoint_url, "https://", 8) != 0) {
            kms_client_free(c);
            return cl_fail(err, CL_EINVAL, "the endpoint URL must start with https://, not '%s'",
                           cfg->endpoint_url);
        }
        c->endpoint_url = strdup(cfg->endpoint_url);
        if (!c->endpoint_url) {
            kms_client_free(c);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
    }
    c->access_key_id = strdup(cfg->access_key_id);
    c->secret_access_key = strdup(cfg->secret_access_key);
    c->session_token =
        cfg->session_token && *cfg->session_token ? strdup(cfg->session_token) : NULL;
    if (!c->host || !c->region || !c->ca_bundle || !c->access_key_id || !c->secret_access_key ||
        (cfg->session_token && *cfg->session_token && !c->session_token)) {
        kms_client_free(c);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

/* ---- one HTTP exchange ---- */

struct exchange {
    char *body;
    size_t len;
    bool too_big;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
    struct exchange *x = userp;
    size_t n = size * nmemb;
    if (x->len + n > RESPONSE_MAX) {
        x->too_big = true;
        return 0;
    }
    char *grown = realloc(x->body, x->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + x->len, data, n);
    x->body = grown;
    x->len += n;
    x->body[x->len] = '\0';
    return n;
}

/* Maps an AWS error type to a code (see kms.h). */
static int aws_error_code(const char *type)
{
    if (strstr(type, "AccessDenied"))
        return CL_EPERM;
    if (strstr(type, "NotFound"))
        return CL_ENOTFOUND;
    if (strstr(type, "InvalidCiphertext") || strstr(type, "Validation"))
        return CL_EFORMAT;
    return CL_EIO;
}

/*
 * POSTs body to TrentService.<op>; on HTTP 200 *response is the parsed JSON
 * object (caller json_decref). AWS errors become "<type>: <message>".
 */
static int kms_call(struct kms_client *c, const char *op, json_t *body, json_t **response,
                    struct cl_error *err)
{
    int rc = 0;
    *response = NULL;
    struct exchange x = { 0 };
    struct sock_bridge *bridge = NULL;
    char bridge_name[SOCK_BRIDGE_NAME_MAX];
    char *payload = json_dumps(body, JSON_COMPACT);
    char *url = NULL, *sigv4 = NULL, *target = NULL, *token = NULL;
    struct curl_slist *headers = NULL;
    CURL *curl = curl_easy_init();
    if (!payload || !curl ||
        (c->endpoint_url ? !(url = strdup(c->endpoint_url))
                         : asprintf(&url, "https://%s:%u/", c->host, c->port) < 0) ||
        asprintf(&sigv4, "aws:amz:%s:kms", c->region) < 0 ||
        asprintf(&target, "X-Amz-Target: TrentService.%s", op) < 0) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    headers = curl_slist_append(headers, "Content-Type: application/x-amz-json-1.1");
    headers = curl_slist_append(headers, target);
    if (c->session_token) {
        if (asprintf(&token, "X-Amz-Security-Token: %s", c->session_token) < 0) {
            token = NULL;
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            goto out;
        }
        headers = curl_slist_append(headers, token);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (!c->endpoint_url) {
        /* The bytes go to the vsock proxy; TLS and Host stay those of the URL.
         * No name resolution happens (an enclave has no DNS). */
        int fd = vsock_socket(err);
        if (fd < 0) {
            rc = fd;
            goto out;
        }
        if ((rc = vsock_connect(fd, c->proxy_cid, c->proxy_port, err)) < 0) {
            close(fd);
            cl_error_prefix(err, "cannot reach the KMS proxy at vsock %u:%u", c->proxy_cid,
                            c->proxy_port);
            goto out;
        }
        if ((rc = sock_bridge_start(fd, bridge_name, &bridge, err)) < 0)
            goto out;
        curl_easy_setopt(curl, CURLOPT_ABSTRACT_UNIX_SOCKET, bridge_name);
    }
    curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_bundle);
    curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(curl, CURLOPT_USERNAME, c->access_key_id);
    curl_easy_setopt(curl, CURLOPT_PASSWORD, c->secret_access_key);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "cloister-sdk/" CLOISTER_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");

    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        if (x.too_big)
            rc = cl_fail(err, CL_ELIMIT, "the KMS response exceeds %d bytes", RESPONSE_MAX);
        else
            rc = cl_fail(err, CL_EIO, "KMS request to %s failed: %s",
                         c->endpoint_url ? c->endpoint_url : c->host, curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    json_error_t jerr;
    json_t *j = x.body ? json_loadb(x.body, x.len, 0, &jerr) : NULL;
    if (status != 200) {
        const char *type = j ? json_string_value(json_object_get(j, "__type")) : NULL;
        const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
        if (!msg && j)
            msg = json_string_value(json_object_get(j, "Message"));
        if (type) {
            const char *hash = strrchr(type, '#'); /* "com.amazonaws.kms#NotFoundException" */
            const char *name = hash ? hash + 1 : type;
            rc = cl_fail(err, aws_error_code(name), "%s: %s", name, msg ? msg : "(no message)");
        } else {
            rc = cl_fail(err, CL_EIO, "KMS answered HTTP %ld without an AWS error", status);
        }
        json_decref(j);
        goto out;
    }
    if (!j || !json_is_object(j)) {
        json_decref(j);
        rc = cl_fail(err, CL_EFORMAT, "KMS answered with invalid JSON");
        goto out;
    }
    *response = j;
out:
    curl_easy_cleanup(curl);
    sock_bridge_free(bridge);
    curl_slist_free_all(headers);
    free_secret(payload); /* Encrypt's request carries the plaintext (base64) */
    free(url);
    free(sigv4);
    free(target);
    free_secret(token);
    if (x.body) /* unattested responses carry the plaintext (base64) */
        OPENSSL_cleanse(x.body, x.len);
    free(x.body);
    return rc;
}

/* Wipes a JSON string field that holds a secret (a base64 plaintext) before
 * the object is freed: jansson frees strings without clearing them. */
static void wipe_field(json_t *obj, const char *name)
{
    json_t *v = obj ? json_object_get(obj, name) : NULL;
    if (v && json_is_string(v))
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

/* Decodes the base64 blob field `name` of a KMS response. */
static int response_blob(json_t *resp, const char *name, size_t max, uint8_t **out, size_t *out_len,
                         struct cl_error *err)
{
    const char *b64 = json_string_value(json_object_get(resp, name));
    if (!b64)
        return cl_fail(err, CL_EFORMAT, "the KMS response has no %s", name);
    int rc = base64_decode(b64, strlen(b64), max, out, out_len, err);
    if (rc < 0)
        cl_error_prefix(err, "the KMS response's %s", name);
    return rc;
}

static int add_blob(json_t *req, const char *name, const uint8_t *data, size_t len,
                    struct cl_error *err)
{
    char *b64 = base64_encode(data, len);
    if (!b64 || json_object_set_new(req, name, json_string(b64)) < 0) {
        free(b64);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    free(b64);
    return 0;
}

static int add_context(json_t *req, const char *context_json, struct cl_error *err)
{
    if (!context_json)
        return 0;
    json_error_t jerr;
    json_t *ctx = json_loads(context_json, 0, &jerr);
    if (!ctx)
        return cl_fail(err, CL_EINVAL, "the encryption context must be a JSON object: %s",
                       jerr.text);
    if (!json_is_object(ctx)) { /* json_loads() gives an object or an array */
        json_decref(ctx);
        return cl_fail(err, CL_EINVAL,
                       "the encryption context must be a JSON object, not an array");
    }
    const char *k;
    json_t *v;
    json_object_foreach(ctx, k, v)
    {
        if (!json_is_string(v)) {
            /* k belongs to ctx: record the reason before letting ctx go. */
            int rc = cl_fail(err, CL_EINVAL, "encryption context value of '%s' is not a string", k);
            json_decref(ctx);
            return rc;
        }
    }
    json_object_set_new(req, "EncryptionContext", ctx);
    return 0;
}

/* ---- attestation ---- */

struct recipient {
    EVP_PKEY *key; /* the ephemeral RSA key pair */
};

/* Makes a key pair and adds {"Recipient": {...}} with a fresh NSM document to req. */
static int add_recipient(json_t *req, struct recipient *r, struct cl_error *err)
{
    int rc = 0;
    uint8_t *spki = NULL;
    uint8_t *doc = NULL;
    int32_t nsm = -1;
    r->key = EVP_RSA_gen(2048);
    if (!r->key)
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot generate the RSA key pair");
    int spki_len = i2d_PUBKEY(r->key, &spki);
    if (spki_len <= 0) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot encode the public key");
        goto out;
    }
    nsm = nsm_lib_init();
    if (nsm < 0) {
        rc = cl_fail(err, CL_EIO, "cannot open the Nitro Secure Module");
        goto out;
    }
    doc = malloc(ATTESTATION_DOC_MAX);
    uint32_t doc_len = ATTESTATION_DOC_MAX;
    if (!doc) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    ErrorCode ec =
        nsm_get_attestation_doc(nsm, NULL, 0, NULL, 0, spki, (uint32_t)spki_len, doc, &doc_len);
    if (ec != ERROR_CODE_SUCCESS) {
        rc = cl_fail(err, CL_EIO, "the NSM refused the attestation request (error %d)", ec);
        goto out;
    }
    json_t *recipient = json_object();
    json_object_set_new(recipient, "KeyEncryptionAlgorithm", json_string("RSAES_OAEP_SHA_256"));
    json_object_set_new(req, "Recipient", recipient);
    rc = add_blob(recipient, "AttestationDocument", doc, doc_len, err);
out:
    if (nsm >= 0)
        nsm_lib_exit(nsm);
    OPENSSL_free(spki);
    free(doc);
    return rc;
}

/* Opens CiphertextForRecipient with the ephemeral key. */
static int open_recipient(json_t *resp, struct recipient *r, uint8_t **plaintext, size_t *len,
                          struct cl_error *err)
{
    uint8_t *cms = NULL;
    size_t cms_len = 0;
    int rc =
        response_blob(resp, "CiphertextForRecipient", CMS_RECIPIENT_MAX_BYTES, &cms, &cms_len, err);
    if (rc == 0)
        rc = cms_envelope_decrypt(r->key, cms, cms_len, plaintext, len, err);
    free(cms);
    return rc;
}

static void recipient_release(struct recipient *r)
{
    EVP_PKEY_free(r->key); /* OpenSSL clears private key material on free */
    r->key = NULL;
}

/* Plaintext from a response: from the CMS envelope when attested. */
static int response_plaintext(json_t *resp, const char *field, struct recipient *r, bool attest,
                              uint8_t **plaintext, size_t *len, struct cl_error *err)
{
    if (attest)
        return open_recipient(resp, r, plaintext, len, err);
    return response_blob(resp, field, 64 * 1024, plaintext, len, err);
}

/*
 * Sends req (consumed) as op, with a Recipient when attest, and takes the
 * secret member `field` of the answer (from the CMS envelope when
 * attested): Decrypt, GenerateDataKey, GenerateRandom, DeriveSharedSecret.
 * With keep, the caller gets the answer (its secret member wiped) for its
 * other members.
 */
static int secret_call(struct kms_client *c, const char *op, json_t *req, bool attest,
                       const char *field, uint8_t **out, size_t *len, json_t **keep,
                       struct cl_error *err)
{
    struct recipient r = { 0 };
    json_t *resp = NULL;
    int rc = attest ? add_recipient(req, &r, err) : 0;
    if (rc == 0)
        rc = kms_call(c, op, req, &resp, err);
    if (rc == 0)
        rc = response_plaintext(resp, field, &r, attest, out, len, err);
    recipient_release(&r);
    wipe_field(resp, field);
    json_decref(req);
    if (keep && rc == 0)
        *keep = resp;
    else
        json_decref(resp);
    return rc;
}

/* ---- operations ---- */

int kms_decrypt(struct kms_client *c, const uint8_t *ciphertext, size_t ciphertext_len,
                const char *key_id, const char *encryption_algorithm,
                const char *encryption_context_json, bool attest, uint8_t **plaintext,
                size_t *plaintext_len, struct cl_error *err)
{
    json_t *req = json_object();
    *plaintext = NULL;
    *plaintext_len = 0;
    if (!req)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = add_blob(req, "CiphertextBlob", ciphertext, ciphertext_len, err);
    if (key_id)
        json_object_set_new(req, "KeyId", json_string(key_id));
    if (encryption_algorithm)
        json_object_set_new(req, "EncryptionAlgorithm", json_string(encryption_algorithm));
    if (rc == 0)
        rc = add_context(req, encryption_context_json, err);
    if (rc < 0) {
        json_decref(req);
        return rc;
    }
    return secret_call(c, "Decrypt", req, attest, "Plaintext", plaintext, plaintext_len, NULL, err);
}

int kms_encrypt(struct kms_client *c, const char *key_id, const uint8_t *plaintext,
                size_t plaintext_len, const char *encryption_context_json, uint8_t **ciphertext,
                size_t *ciphertext_len, struct cl_error *err)
{
    int rc;
    json_t *resp = NULL, *req = json_object();
    *ciphertext = NULL;
    *ciphertext_len = 0;
    if (!req)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    json_object_set_new(req, "KeyId", json_string(key_id));
    if ((rc = add_blob(req, "Plaintext", plaintext, plaintext_len, err)) < 0)
        goto out;
    if ((rc = add_context(req, encryption_context_json, err)) < 0)
        goto out;
    if ((rc = kms_call(c, "Encrypt", req, &resp, err)) < 0)
        goto out;
    rc = response_blob(resp, "CiphertextBlob", 64 * 1024, ciphertext, ciphertext_len, err);
out:
    wipe_field(req, "Plaintext"); /* the caller's plaintext, in base64 */
    json_decref(req);
    json_decref(resp);
    return rc;
}

int kms_generate_data_key(struct kms_client *c, const char *key_id, const char *key_spec,
                          bool attest, uint8_t **ciphertext, size_t *ciphertext_len,
                          uint8_t **plaintext, size_t *plaintext_len, struct cl_error *err)
{
    json_t *resp = NULL, *req = json_object();
    *ciphertext = *plaintext = NULL;
    *ciphertext_len = *plaintext_len = 0;
    if (!req)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    json_object_set_new(req, "KeyId", json_string(key_id));
    json_object_set_new(req, "KeySpec", json_string(key_spec ? key_spec : "AES_256"));
    int rc = secret_call(c, "GenerateDataKey", req, attest, "Plaintext", plaintext, plaintext_len,
                         &resp, err);
    if (rc < 0)
        return rc;
    rc = response_blob(resp, "CiphertextBlob", 64 * 1024, ciphertext, ciphertext_len, err);
    json_decref(resp);
    if (rc < 0) {
        OPENSSL_cleanse(*plaintext, *plaintext_len);
        free(*plaintext);
        *plaintext = NULL;
        *plaintext_len = 0;
    }
    return rc;
}

int kms_generate_random(struct kms_client *c, size_t length, bool attest, uint8_t **random,
                        struct cl_error *err)
{
    *random = NULL;
    if (length < 1 || length > 1024)
        return cl_fail(err, CL_EINVAL, "the length must be from 1 to 1024 bytes, not %zu", length);
    json_t *req = json_object();
    size_t got = 0;
    if (!req)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    json_object_set_new(req, "NumberOfBytes", json_integer((json_int_t)length));
    int rc = secret_call(c, "GenerateRandom", req, attest, "Plaintext", random, &got, NULL, err);
    if (rc == 0 && got != length) {
        OPENSSL_cleanse(*random, got);
        free(*random);
        *random = NULL;
        rc = cl_fail(err, CL_EFORMAT, "KMS returned %zu random bytes, %zu were asked for", got,
                     length);
    }
    return rc;
}

int kms_derive_shared_secret(struct kms_client *c, const char *key_id, const uint8_t *public_key,
                             size_t public_key_len, bool attest, uint8_t **secret,
                             size_t *secret_len, struct cl_error *err)
{
    json_t *req = json_object();
    *secret = NULL;
    *secret_len = 0;
    if (!req)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    json_object_set_new(req, "KeyId", json_string(key_id));
    json_object_set_new(req, "KeyAgreementAlgorithm", json_string("ECDH"));
    int rc = add_blob(req, "PublicKey", public_key, public_key_len, err);
    if (rc < 0) {
        json_decref(req);
        return rc;
    }
    return secret_call(c, "DeriveSharedSecret", req, attest, "SharedSecret", secret, secret_len,
                       NULL, err);
}
