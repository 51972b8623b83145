/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local attestation CA; see attest_ca.h for the layout and the
 * certificate profiles (modelled on AWS's, docs/attestation.md).
 */
#include "attest_ca/attest_ca.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/fileio.h"
#include "base/hex.h"

#define MAX_PEM_FILE (64 * 1024)

/* ---------------------------------------------------------------- keys */

int attest_ca_generate_key(EVP_PKEY **out, struct cl_error *err)
{
    *out = EVP_EC_gen("P-384");
    if (!*out)
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot generate a P-384 key");
    return 0;
}

/* ---------------------------------------------------------- certificates */

struct ext { int nid; const char *value; };

static int set_name(X509_NAME *name, const char *cn, struct cl_error *err)
{
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Cloister", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, (const unsigned char *)"Attestation", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
        return cl_fail_openssl(err, CL_ECRYPTO, "cannot build the certificate name '%s'", cn);
    return 0;
}

/*
 * One certificate: version 3, a random positive 127-bit serial (RFC 5280
 * §4.1.2.2: at most 20 octets, positive), key's subject, issuer's (or its
 * own) name, the validity window and the extensions, signed with
 * ecdsa-with-SHA384 by issuer_key (or key itself).
 */
static int build_cert(EVP_PKEY *key, const char *cn, EVP_PKEY *issuer_key, X509 *issuer,
                      int64_t not_before, int64_t not_after, const struct ext *exts,
                      size_t n_exts, X509 **out, struct cl_error *err)
{
    int rc = 0;
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    X509_NAME *name = X509_NAME_new();
    *out = NULL;
    if (!x || !bn || !name) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    if (!X509_set_version(x, X509_VERSION_3) ||
        !BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) ||
        !X509_set_pubkey(x, key)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot build a certificate");
        goto out;
    }
    if ((rc = set_name(name, cn, err)) < 0)
        goto out;
    if (!X509_set_subject_name(x, name) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name)) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot set the certificate names");
        goto out;
    }
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    for (size_t i = 0; i < n_exts; i++) {
        X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
        if (!e || !X509_add_ext(x, e, -1)) {
            X509_EXTENSION_free(e);
            rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot add the extension %s",
                                 OBJ_nid2sn(exts[i].nid));
            goto out;
        }
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha384())) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot sign the certificate");
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_free(x);
    BN_free(bn);
    X509_NAME_free(name);
    return rc;
}

int attest_ca_cert_times(const X509 *cert, int64_t *not_before, int64_t *not_after)
{
    struct tm tm;
    if (!ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm))
        return CL_EFORMAT;
    *not_before = (int64_t)timegm(&tm);
    if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
        return CL_EFORMAT;
    *not_after = (int64_t)timegm(&tm);
    return 0;
}

int attest_ca_make_root(EVP_PKEY *key, const char *cn, int64_t now, int64_t seconds, X509 **out,
                        struct cl_error *err)
{
    static const struct ext exts[] = {
        { NID_basic_constraints, "critical,CA:TRUE" },
        { NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature" },
        { NID_subject_key_identifier, "hash" },
    };
    return build_cert(key, cn, NULL, NULL, now - 3600, now + seconds, exts,
                      sizeof(exts) / sizeof(exts[0]), out, err);
}

int attest_ca_make_intermediate(EVP_PKEY *key, const char *cn, EVP_PKEY *issuer_key,
                                X509 *issuer, int64_t now, int64_t seconds, X509 **out,
                                struct cl_error *err)
{
    static const struct ext exts[] = {
        { NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
        { NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature" },
        { NID_subject_key_identifier, "hash" },
        { NID_authority_key_identifier, "keyid:always" },
    };
    int64_t nb, na;
    if (attest_ca_cert_times(issuer, &nb, &na) < 0)
        return cl_fail(err, CL_EFORMAT, "cannot read the issuer's validity");
    int64_t end = now + seconds;
    if (end > na)
        end = na; /* a CA cannot outlive its issuer (RFC 5280 §6.1.3 would reject it later) */
    return build_cert(key, cn, issuer_key, issuer, now - 3600, end, exts,
                      sizeof(exts) / sizeof(exts[0]), out, err);
}

int attest_ca_make_leaf(EVP_PKEY *key, const char *cn, EVP_PKEY *issuer_key, X509 *issuer,
                        int64_t now, int64_t seconds, X509 **out, struct cl_error *err)
{
    /* AWS's leaf: CA:FALSE critical, digitalSignature + nonRepudiation,
     * nothing else; notBefore back-dated 3 s (as the real documents'
     * leaves show; docs/attestation.md). */
    static const struct ext exts[] = {
        { NID_basic_constraints, "critical,CA:FALSE" },
        { NID_key_usage, "digitalSignature,nonRepudiation" },
    };
    return build_cert(key, cn, issuer_key, issuer, now - 3, now + seconds, exts,
                      sizeof(exts) / sizeof(exts[0]), out, err);
}

/* ------------------------------------------------------------- files */

struct ca_paths {
    char dir[PATH_MAX - 64];
    char root_pem[PATH_MAX];
    char inter_pem[PATH_MAX];
    char private_dir[PATH_MAX];
    char root_key[PATH_MAX];
    char inter_key[PATH_MAX];
};

static int ca_paths(const char *dir, struct ca_paths *p, struct cl_error *err)
{
    if (!dir)
        dir = ATTEST_CA_DEFAULT_DIR;
    if (!*dir)
        return cl_fail(err, CL_EINVAL, "empty CA directory name");
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n >= sizeof(p->dir))
        return cl_fail(err, CL_EINVAL, "CA directory name too long");
    snprintf(p->dir, sizeof(p->dir), "%.*s", (int)n, dir);
    snprintf(p->root_pem, sizeof(p->root_pem), "%s/root.pem", p->dir);
    snprintf(p->inter_pem, sizeof(p->inter_pem), "%s/intermediate.pem", p->dir);
    snprintf(p->private_dir, sizeof(p->private_dir), "%s/private", p->dir);
    snprintf(p->root_key, sizeof(p->root_key), "%s/private/root.key", p->dir);
    snprintf(p->inter_key, sizeof(p->inter_key), "%s/private/intermediate.pem", p->dir);
    return 0;
}

/* mkdir -p for the CA directory itself (mode 0755). */
static int make_dirs(const char *path, struct cl_error *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(buf, 0755) < 0) {
                if (errno != EEXIST)
                    return cl_fail_errno(err, errno == EACCES ? CL_EPERM : CL_EIO,
                                         "cannot create the directory '%s'", buf);
            } else if (!c && chmod(buf, 0755) < 0) {
                /* root.pem must be reachable whatever the umask */
                return cl_fail_errno(err, CL_EIO, "cannot set the mode of '%s'", buf);
            }
            *s = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return cl_fail(err, CL_EIO, "'%s' is not a directory", path);
    return 0;
}

/* The private directory: exists, is a real directory (not a symlink), is
 * ours, and nobody else can enter it (mode 0700). */
static int check_private_dir(const struct ca_paths *p, struct cl_error *err)
{
    struct stat st;
    if (lstat(p->private_dir, &st) < 0) {
        int e = errno;
        if (e == ENOENT && lstat(p->root_pem, &st) == 0)
            return cl_fail(err, CL_ENOTFOUND, "'%s' holds a root.pem but not the CA's private keys "
                           "(%s/private)", p->dir, p->dir);
        if (e == ENOENT)
            return cl_fail(err, CL_ENOTFOUND, "no attestation CA in '%s' (run `cloister attestation-ca init`)", p->dir);
        errno = e;
        return cl_fail_errno(err, errno == EACCES ? CL_EPERM : CL_EIO, "cannot inspect '%s'", p->private_dir);
    }
    if (!S_ISDIR(st.st_mode))
        return cl_fail(err, CL_EPERM, "'%s' is not a directory", p->private_dir);
    if (st.st_uid != geteuid())
        return cl_fail(err, CL_EPERM, "'%s' is owned by uid %u, not by us (uid %u)",
                       p->private_dir, (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 077)
        return cl_fail(err, CL_EPERM, "'%s' is accessible to other users (mode %04o, expected 0700)",
                       p->private_dir, (unsigned)(st.st_mode & 07777));
    return 0;
}

static int read_file(const char *path, bool secret, uint8_t **data, size_t *len, struct cl_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return cl_fail(err, CL_ENOTFOUND, "'%s' does not exist", path);
        return cl_fail_errno(err, errno == EACCES ? CL_EPERM : CL_EIO, "cannot read '%s'", path);
    }
    if (secret && (st.st_mode & 077))
        return cl_fail(err, CL_EPERM, "'%s' is accessible to other users (mode %04o, expected 0600)",
                       path, (unsigned)(st.st_mode & 07777));
    if (access(path, R_OK) < 0)
        return cl_fail_errno(err, errno == EACCES ? CL_EPERM : CL_EIO, "cannot read '%s'", path);
    return file_read_all(path, MAX_PEM_FILE, data, len, err);
}

static void free_secret(uint8_t *data, size_t len)
{
    if (data) {
        OPENSSL_cleanse(data, len);
        free(data);
    }
}

static int load_cert(const char *path, X509 **out, struct cl_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = read_file(path, false, &data, &len, err);
    if (rc < 0)
        return rc;
    BIO *b = BIO_new_mem_buf(data, (int)len);
    *out = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    free(data);
    if (!*out)
        return cl_fail_openssl(err, CL_EFORMAT, "'%s' holds no PEM certificate", path);
    return 0;
}

/* A private key (and, when cert is not NULL, the certificate after it). */
static int load_key(const char *path, EVP_PKEY **key, X509 **cert, struct cl_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = 0;
    *key = NULL;
    if (cert)
        *cert = NULL;
    rc = read_file(path, true, &data, &len, err);
    if (rc < 0)
        return rc;
    BIO *b = BIO_new_mem_buf(data, (int)len);
    if (!b) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    if (!*key) {
        rc = cl_fail_openssl(err, CL_EFORMAT, "'%s' holds no PEM private key", path);
        goto out;
    }
    if (cert) {
        *cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!*cert) {
            rc = cl_fail_openssl(err, CL_EFORMAT, "'%s' holds no certificate after the key", path);
            goto out;
        }
        if (X509_check_private_key(*cert, *key) != 1) {
            rc = cl_fail_openssl(err, CL_EFORMAT, "the key in '%s' does not match its certificate", path);
            goto out;
        }
    }
out:
    BIO_free(b);
    free_secret(data, len);
    if (rc < 0) {
        EVP_PKEY_free(*key);
        *key = NULL;
        if (cert) {
            X509_free(*cert);
            *cert = NULL;
        }
    }
    return rc;
}

/* PEM of key (if any) followed by cert (if any), written atomically. The
 * memory BIO comes from the secure heap and is wiped before it is freed. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, struct cl_error *err)
{
    int rc = 0;
    BIO *b = BIO_new(key ? BIO_s_secmem() : BIO_s_mem());
    if (!b)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    if ((key && !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) ||
        (cert && !PEM_write_bio_X509(b, cert))) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot encode '%s'", path);
        goto out;
    }
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    if (len <= 0) {
        rc = cl_fail(err, CL_ECRYPTO, "cannot encode '%s'", path);
        goto out;
    }
    rc = file_write_atomic(path, data, (size_t)len, mode, err);
    OPENSSL_cleanse(data, (size_t)len);
out:
    BIO_free(b);
    return rc;
}

static void host_cn(char *out, size_t cap, const char *what)
{
    char host[65] = "localhost";
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        snprintf(host, sizeof(host), "localhost");
    host[32] = '\0'; /* CN is at most 64 characters (RFC 5280 ub-common-name) */
    snprintf(out, cap, "%s.%s.cloister", host, what);
}

static int issue_intermediate(const struct ca_paths *p, EVP_PKEY *root_key, X509 *root,
                              struct cl_error *err)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char cn[96];
    host_cn(cn, sizeof(cn), "intermediate");
    int rc = attest_ca_generate_key(&key, err);
    if (rc == 0)
        rc = attest_ca_make_intermediate(key, cn, root_key, root, (int64_t)time(NULL),
                                         ATTEST_CA_INTERMEDIATE_SECONDS, &cert, err);
    if (rc == 0)
        rc = write_pem(p->inter_key, 0600, key, cert, err);
    if (rc == 0)
        rc = write_pem(p->inter_pem, 0644, NULL, cert, err);
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

/*
 * The CA directory, created if need be and locked (flock on the directory
 * itself, exclusive, released when *fd is closed): creating a CA is one
 * process's job at a time, so that two run-enclave starting together on a
 * fresh host make one CA, not two half ones.
 */
static int lock_dir(const struct ca_paths *p, int *fd, struct cl_error *err)
{
    int rc = make_dirs(p->dir, err);
    if (rc < 0)
        return rc;
    *fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return cl_fail_errno(err, errno == EACCES ? CL_EPERM : CL_EIO, "cannot open '%s'", p->dir);
    while (flock(*fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            rc = cl_fail_errno(err, CL_EIO, "cannot lock '%s'", p->dir);
            close(*fd);
            *fd = -1;
            return rc;
        }
    }
    return 0;
}

/* Whether dir holds a CA, whole or in part (its root certificate or key). */
static bool has_ca(const struct ca_paths *p)
{
    struct stat st;
    return lstat(p->root_pem, &st) == 0 || lstat(p->root_key, &st) == 0;
}

/* A new CA in p->dir, which exists and is locked. */
static int create_locked(const struct ca_paths *p, struct cl_error *err)
{
    EVP_PKEY *root_key = NULL;
    X509 *root = NULL;
    struct stat st;
    int rc = 0;
    if (mkdir(p->private_dir, 0700) < 0 && errno != EEXIST)
        return cl_fail_errno(err, errno == EACCES ? CL_EPERM : CL_EIO, "cannot create '%s'", p->private_dir);
    if (lstat(p->private_dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return cl_fail(err, CL_EPERM, "'%s' is not a directory", p->private_dir);
    if (chmod(p->private_dir, 0700) < 0)
        return cl_fail_errno(err, CL_EPERM, "cannot set the mode of '%s'", p->private_dir);
    if ((rc = check_private_dir(p, err)) < 0)
        return rc;

    char cn[96];
    host_cn(cn, sizeof(cn), "root");
    if ((rc = attest_ca_generate_key(&root_key, err)) < 0 ||
        (rc = attest_ca_make_root(root_key, cn, (int64_t)time(NULL), ATTEST_CA_ROOT_SECONDS, &root, err)) < 0)
        goto out;
    /* keys first, the public root last: a CA with a root.pem is complete */
    if ((rc = write_pem(p->root_key, 0600, root_key, NULL, err)) < 0 ||
        (rc = issue_intermediate(p, root_key, root, err)) < 0 ||
        (rc = write_pem(p->root_pem, 0644, NULL, root, err)) < 0)
        goto out;
out:
    EVP_PKEY_free(root_key);
    X509_free(root);
    return rc;
}

int attest_ca_init(const char *dir, bool force, struct cl_error *err)
{
    struct ca_paths p;
    int fd = -1;
    int rc = ca_paths(dir, &p, err);
    if (rc < 0)
        return rc;
    if (!force && has_ca(&p))
        return cl_fail(err, CL_EEXIST,
                       "an attestation CA already exists in '%s' (use --force to replace it)", p.dir);
    if ((rc = lock_dir(&p, &fd, err)) < 0)
        return rc;
    if (!force && has_ca(&p)) /* made while we waited for the lock */
        rc = cl_fail(err, CL_EEXIST,
                     "an attestation CA already exists in '%s' (use --force to replace it)", p.dir);
    else
        rc = create_locked(&p, err);
    close(fd);
    return rc;
}

int attest_ca_ensure(const char *dir, bool *created, struct cl_error *err)
{
    struct ca_paths p;
    int fd = -1;
    *created = false;
    int rc = ca_paths(dir, &p, err);
    if (rc < 0)
        return rc;
    struct stat st;
    if (lstat(p.root_pem, &st) == 0)
        return 0; /* complete: root.pem is written last */
    /* Under the lock a CA being made by another process is finished. */
    if ((rc = lock_dir(&p, &fd, err)) < 0)
        return rc;
    if (!has_ca(&p)) {
        rc = create_locked(&p, err);
        *created = rc == 0;
    }
    close(fd);
    return rc;
}

/* Root certificate and key, checked against each other. */
static int load_root(const struct ca_paths *p, EVP_PKEY **key, X509 **root, struct cl_error *err)
{
    int rc = load_cert(p->root_pem, root, err);
    if (rc == 0)
        rc = load_key(p->root_key, key, NULL, err);
    if (rc == 0 && X509_check_private_key(*root, *key) != 1)
        rc = cl_fail_openssl(err, CL_EFORMAT, "'%s' does not match '%s'", p->root_key, p->root_pem);
    if (rc < 0) {
        EVP_PKEY_free(*key);
        X509_free(*root);
        *key = NULL;
        *root = NULL;
    }
    return rc;
}

int attest_ca_rotate(const char *dir, bool force, bool *rotated, struct cl_error *err)
{
    struct ca_paths p;
    EVP_PKEY *root_key = NULL, *ikey = NULL;
    X509 *root = NULL, *inter = NULL;
    if (rotated)
        *rotated = false;
    int rc = ca_paths(dir, &p, err);
    if (rc < 0)
        return rc;
    if ((rc = check_private_dir(&p, err)) < 0 || (rc = load_root(&p, &root_key, &root, err)) < 0)
        goto out;
    if (!force) {
        struct cl_error ignored = { 0 };
        int64_t nb, na;
        if (load_key(p.inter_key, &ikey, &inter, &ignored) == 0 &&
            attest_ca_cert_times(inter, &nb, &na) == 0 &&
            na - (int64_t)time(NULL) >= ATTEST_CA_ROTATE_BEFORE_SECONDS)
            goto out; /* not due */
    }
    if ((rc = issue_intermediate(&p, root_key, root, err)) < 0)
        goto out;
    if (rotated)
        *rotated = true;
out:
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(ikey);
    X509_free(root);
    X509_free(inter);
    return rc;
}

static void subject_of(const X509 *x, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    out[0] = '\0';
    if (!b)
        return;
    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
    char *d = NULL;
    long n = BIO_get_mem_data(b, &d);
    if (n > 0)
        snprintf(out, cap, "%.*s", (int)n, d);
    BIO_free(b);
}

int attest_ca_info(const char *dir, struct attest_ca_info *info, struct cl_error *err)
{
    struct ca_paths p;
    X509 *root = NULL, *inter = NULL;
    memset(info, 0, sizeof(*info));
    int rc = ca_paths(dir, &p, err);
    if (rc < 0)
        return rc;
    if ((rc = load_cert(p.root_pem, &root, err)) < 0 || (rc = load_cert(p.inter_pem, &inter, err)) < 0)
        goto out;
    uint8_t md[32];
    unsigned int mdlen = 0;
    if (!X509_digest(root, EVP_sha256(), md, &mdlen) || mdlen != 32) {
        rc = cl_fail_openssl(err, CL_ECRYPTO, "cannot hash the root certificate");
        goto out;
    }
    hex_encode(info->root_sha256, md, 32);
    subject_of(root, info->root_subject, sizeof(info->root_subject));
    subject_of(inter, info->intermediate_subject, sizeof(info->intermediate_subject));
    if (attest_ca_cert_times(root, &info->root_not_before, &info->root_not_after) < 0 ||
        attest_ca_cert_times(inter, &info->intermediate_not_before, &info->intermediate_not_after) < 0)
        rc = cl_fail(err, CL_EFORMAT, "cannot read the certificates' validity");
out:
    X509_free(root);
    X509_free(inter);
    return rc;
}

int attest_ca_load_issuer(const char *dir, EVP_PKEY **inter_key, X509 **inter, X509 **root,
                          struct cl_error *err)
{
    struct ca_paths p;
    EVP_PKEY *root_pub = NULL;
    *inter_key = NULL;
    *inter = NULL;
    *root = NULL;
    int rc = ca_paths(dir, &p, err);
    if (rc < 0)
        return rc;
    if ((rc = check_private_dir(&p, err)) < 0)
        return rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = load_cert(p.root_pem, root, err)) < 0 ||
            (rc = load_key(p.inter_key, inter_key, inter, err)) < 0)
            goto out;
        root_pub = X509_get_pubkey(*root);
        if (!root_pub || X509_verify(*inter, root_pub) != 1) {
            rc = cl_fail_openssl(err, CL_EFORMAT, "'%s' is not signed by '%s'", p.inter_key, p.root_pem);
            goto out;
        }
        EVP_PKEY_free(root_pub);
        root_pub = NULL;
        int64_t nb, na, now = (int64_t)time(NULL);
        if (attest_ca_cert_times(*inter, &nb, &na) < 0) {
            rc = cl_fail(err, CL_EFORMAT, "cannot read the validity of '%s'", p.inter_key);
            goto out;
        }
        if (attempt > 0 || na - now >= ATTEST_CA_ROTATE_BEFORE_SECONDS)
            break;
        /* Due for rotation: do it if we hold the root key; otherwise carry on
         * with the current intermediate while it still covers a leaf. */
        struct cl_error rerr = { 0 };
        bool rotated = false;
        if (attest_ca_rotate(p.dir, false, &rotated, &rerr) < 0 || !rotated) {
            if (na - now < 3 * 3600 + 60) {
                rc = cl_fail(err, CL_ESTATE, "the host intermediate expires too soon and cannot be rotated: %s",
                             rerr.reason[0] ? rerr.reason : "not rotated");
                goto out;
            }
            break;
        }
        EVP_PKEY_free(*inter_key);
        X509_free(*inter);
        X509_free(*root);
        *inter_key = NULL;
        *inter = NULL;
        *root = NULL;
    }
out:
    EVP_PKEY_free(root_pub);
    if (rc < 0) {
        EVP_PKEY_free(*inter_key);
        X509_free(*inter);
        X509_free(*root);
        *inter_key = NULL;
        *inter = NULL;
        *root = NULL;
    }
    return rc;
}
