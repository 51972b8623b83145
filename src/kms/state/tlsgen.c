/* SPDX-License-Identifier: Apache-2.0 */
/* The service's own TLS CA and server certificate, made on first start
 * (tlsgen.h). */
#include "state/tlsgen.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/fileio.h"

static EVP_PKEY *new_p256(void)
{
    return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long days, bool ca, const char *san)
{
    X509 *c = X509_new();
    if (!c)
        return NULL;
    BIGNUM *bn = BN_new();
    bool ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
              BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c));
    BN_free(bn);
    ok = ok && X509_set_version(c, 2) && X509_gmtime_adj(X509_getm_notBefore(c), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(c), days * 86400L) && X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Cloister", -1, -1, 0) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    ok = ok && X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : c;
    if (ok && ca) {
        ok = add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
             add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
             add_ext(c, iss, NID_subject_key_identifier, "hash") == 0;
    } else if (ok && !san) {
        /* a signing certificate (the instance identity's) */
        ok = add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(c, iss, NID_key_usage, "critical,digitalSignature") == 0 &&
             add_ext(c, iss, NID_subject_key_identifier, "hash") == 0;
    } else if (ok) {
        ok = add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(c, iss, NID_key_usage, "critical,digitalSignature") == 0 &&
             add_ext(c, iss, NID_ext_key_usage, "serverAuth") == 0 &&
             add_ext(c, iss, NID_subject_key_identifier, "hash") == 0 &&
             add_ext(c, iss, NID_authority_key_identifier, "keyid:always") == 0 &&
             add_ext(c, iss, NID_subject_alt_name, san) == 0;
    }
    ok = ok && X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(c);
        return NULL;
    }
    return c;
}

static int write_pem(const char *path, EVP_PKEY *key, X509 *cert, struct cl_error *err)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int ok = key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_bio_X509(b, cert);
    int rc = 0;
    if (!ok) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot encode %s", path);
    } else {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        rc = file_write_atomic(path, data, (size_t)n, key ? 0600 : 0644, err);
    }
    BIO_free_all(b);  /* BIO_s_mem frees (and does not wipe) its buffer */
    return rc;
}

int tlsgen_ensure(const char *tls_dir, const char *region, struct cl_error *err)
{
    char p_ca[4096], p_cakey[4096], p_srv[4096], p_srvkey[4096];
    snprintf(p_ca, sizeof(p_ca), "%s/ca.pem", tls_dir);
    snprintf(p_cakey, sizeof(p_cakey), "%s/ca.key", tls_dir);
    snprintf(p_srv, sizeof(p_srv), "%s/server.pem", tls_dir);
    snprintf(p_srvkey, sizeof(p_srvkey), "%s/server.key", tls_dir);
    if (access(p_srv, F_OK) == 0 && access(p_srvkey, F_OK) == 0)
        return 0;
    if (mkdir(tls_dir, 0700) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", tls_dir);
    int rc = 0;
    EVP_PKEY *cakey = new_p256(), *srvkey = new_p256();
    X509 *ca = NULL, *srv = NULL;
    char san[512];
    snprintf(san, sizeof(san),
             "DNS:localhost,IP:127.0.0.1,IP:::1,DNS:kms.%s.amazonaws.com", region);
    if (!cakey || !srvkey) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot generate a P-256 key");
        goto out;
    }
    ca = make_cert(cakey, "Cloister KMS CA", NULL, NULL, 3650, true, NULL);
    srv = ca ? make_cert(srvkey, "localhost", ca, cakey, 825, false, san) : NULL;
    if (!ca || !srv) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot make the TLS certificates");
        goto out;
    }
    rc = write_pem(p_cakey, cakey, NULL, err);
    if (rc == 0)
        rc = write_pem(p_ca, NULL, ca, err);
    if (rc == 0)
        rc = write_pem(p_srvkey, srvkey, NULL, err);
    if (rc == 0)
        rc = write_pem(p_srv, NULL, srv, err);
out:
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(srvkey);
    return rc;
}

int tlsgen_identity_ensure(const char *dir, struct cl_error *err)
{
    char p_cert[4096], p_key[4096];
    snprintf(p_cert, sizeof(p_cert), "%s/identity.pem", dir);
    snprintf(p_key, sizeof(p_key), "%s/identity.key", dir);
    if (access(p_cert, F_OK) == 0 && access(p_key, F_OK) == 0)
        return 0;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", dir);
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *cert = key ? make_cert(key, "Cloister instance identity", NULL, NULL, 3650, false, NULL)
                     : NULL;
    int rc = cert ? write_pem(p_key, key, NULL, err)
                  : cl_fail_openssl(err, CL_ECRYPTO, "cannot make the instance identity key");
    if (rc == 0)
        rc = write_pem(p_cert, NULL, cert, err);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
