/* SPDX-License-Identifier: Apache-2.0 */
/* The instance identity document and its signatures (imds_identity.h). */
#include "imds/imds_identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "base/base64.h"
#include "base/fileio.h"
#include "util/kmsutil.h"

/* EC2's names for the machine: x86_64 and arm64. */
static const char *architecture(void)
{
    struct utsname u;
    if (uname(&u) == 0 && !strcmp(u.machine, "aarch64"))
        return "arm64";
    return "x86_64";
}

static char *document(const struct imds_identity_opts *o)
{
    char pending[32];
    ku_iso8601((time_t)o->pending_time, pending);
    /* EC2's fields in EC2's order; what no emulated host has is null */
    json_t *d = json_pack(
        "{s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:s, s:n, s:n, s:s, s:s, s:n, s:s, s:s}", "accountId",
        o->account, "architecture", architecture(), "availabilityZone", o->availability_zone,
        "billingProducts", "devpayProductCodes", "marketplaceProductCodes", "imageId",
        "instanceId", o->instance_id, "instanceType", "kernelId", "pendingTime", pending,
        "privateIp", o->private_ip, "ramdiskId", "region", o->region, "version", "2017-09-30");
    char *s = d ? json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(d);
    return s;
}

static int load_identity(const char *dir, EVP_PKEY **key, X509 **cert, struct cl_error *err)
{
    char p[4096];
    uint8_t *data = NULL;
    size_t len = 0;
    snprintf(p, sizeof(p), "%s/identity.key", dir);
    int rc = file_read_all(p, 1 << 16, &data, &len, err);
    if (rc < 0)
        return rc;
    BIO *b = BIO_new_mem_buf(data, (int)len);
    *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ku_wipe_free(data);
    snprintf(p, sizeof(p), "%s/identity.pem", dir);
    if (*key && (rc = file_read_all(p, 1 << 16, &data, &len, err)) == 0) {
        b = BIO_new_mem_buf(data, (int)len);
        *cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        free(data);
    }
    if (rc == 0 && (!*key || !*cert))
        rc = cl_fail_openssl(err, CL_EFORMAT, "cannot read the instance identity in %s", dir);
    return rc;
}

static int sign(EVP_PKEY *key, X509 *cert, const char *doc, struct imds_identity *out,
                struct cl_error *err)
{
    size_t n = strlen(doc);
    uint8_t sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, (const uint8_t *)doc, n) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot sign the instance identity document");
    out->signature = base64_encode(sig, sig_len);
    BIO *in = BIO_new_mem_buf(doc, (int)n);
    PKCS7 *p7 = in ? PKCS7_sign(cert, key, NULL, in, PKCS7_BINARY | PKCS7_NOSMIMECAP) : NULL;
    BIO_free(in);
    uint8_t *der = NULL;
    int der_len = p7 ? i2d_PKCS7(p7, &der) : -1;
    PKCS7_free(p7);
    if (der_len <= 0)
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot make the PKCS #7 signature");
    out->rsa2048 = base64_encode(der, (size_t)der_len);
    OPENSSL_free(der);
    if (!out->signature || !out->rsa2048)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return 0;
}

int imds_identity_make(const struct imds_identity_opts *o, struct imds_identity *out,
                       struct cl_error *err)
{
    memset(out, 0, sizeof(*out));
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc = load_identity(o->key_dir, &key, &cert, err);
    if (rc == 0 && !(out->document = document(o)))
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    if (rc == 0)
        rc = sign(key, cert, out->document, out, err);
    EVP_PKEY_free(key);
    X509_free(cert);
    if (rc < 0)
        imds_identity_clear(out);
    return rc;
}

void imds_identity_clear(struct imds_identity *id)
{
    free(id->document);
    free(id->signature);
    free(id->rsa2048);
    memset(id, 0, sizeof(*id));
}
