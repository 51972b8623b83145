/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local attestation CA: Cloister's stand-in for the AWS Nitro
 * Attestation PKI (docs/attestation.md). A long-lived root and
 * a host intermediate sign, on demand, a fresh 3-hour leaf for every
 * enclave's module. Relying parties trust DIR/root.pem.
 *
 * Layout of the CA directory (docs/attestation.md):
 *
 *   DIR/                      0755
 *   DIR/root.pem              0644  root certificate: the trust anchor
 *   DIR/intermediate.pem      0644  current host intermediate certificate
 *   DIR/private/              0700  only its owner (root) can enter
 *   DIR/private/root.key      0600  root private key (PKCS#8 PEM)
 *   DIR/private/intermediate.pem 0600 intermediate private key + certificate
 *
 * The intermediate key and its certificate live in one file so that a
 * rotation replaces both in one rename; leaves issued by an older
 * intermediate still verify (their document carries that intermediate).
 * Private keys are never logged and never passed to an enclave: only
 * documents (public) leave the host's module.
 */
#ifndef CLOISTER_ATTEST_CA_H
#define CLOISTER_ATTEST_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cloister/error.h>

#define ATTEST_CA_DEFAULT_DIR "/var/lib/cloister/attestation-ca"
/* Root: long-lived, as AWS's G1 (30 years). */
#define ATTEST_CA_ROOT_SECONDS (30LL * 365 * 86400)
/* Host intermediate: 30 days, replaced when fewer than 7 days are left. */
#define ATTEST_CA_INTERMEDIATE_SECONDS (30LL * 86400)
#define ATTEST_CA_ROTATE_BEFORE_SECONDS (7LL * 86400)

/*
 * Creates a CA in dir (NULL: the default): a P-384 root and a host
 * intermediate, files as above. Refuses (CL_EEXIST) when dir already holds
 * a CA (root.pem or private/root.key) unless force is set, in which case the
 * CA is replaced (relying parties must then trust the new root.pem).
 * Errors: CL_EEXIST, CL_EIO, CL_EPERM, CL_ECRYPTO, CL_ENOMEM.
 */
CL_MUST_USE int attest_ca_init(const char *dir, bool force, struct cl_error *err);

/*
 * Creates a CA in dir (NULL: the default) as attest_ca_init() does, unless
 * dir already holds one, whole or in part (root.pem or private/root.key:
 * a CA left half made is the administrator's to look at, never replaced
 * here). *created tells whether it made one. Safe when several processes
 * call it at once: the creation holds an exclusive flock(2) on dir (as
 * attest_ca_init() does) and whoever waited finds the finished CA.
 * Errors: as attest_ca_init().
 */
CL_MUST_USE int attest_ca_ensure(const char *dir, bool *created, struct cl_error *err);

/*
 * Issues a new host intermediate from the root when the current one has
 * fewer than ATTEST_CA_ROTATE_BEFORE_SECONDS left (or always, with force).
 * *rotated (may be NULL) tells whether it did. Needs the root key.
 */
CL_MUST_USE int attest_ca_rotate(const char *dir, bool force, bool *rotated, struct cl_error *err);

/* What `attestation-ca show` prints. Times are Unix seconds. */
struct attest_ca_info {
    char root_subject[256];
    char root_sha256[65];            /* lowercase hex of SHA-256(root DER) */
    int64_t root_not_before, root_not_after;
    char intermediate_subject[256];
    int64_t intermediate_not_before, intermediate_not_after;
};
CL_MUST_USE int attest_ca_info(const char *dir, struct attest_ca_info *info, struct cl_error *err);

/*
 * The issuer a module signs its leaves with: the intermediate key and
 * certificate and the root certificate, loaded and checked (the key matches
 * the certificate, the intermediate is signed by the root, and it is valid
 * for a whole leaf lifetime from now). Rotates the intermediate first when
 * it is due and the root key is readable. Refuses private files that others
 * can read (CL_EPERM). On success the caller owns the three objects.
 */
CL_MUST_USE int attest_ca_load_issuer(const char *dir, EVP_PKEY **inter_key, X509 **inter,
                                      X509 **root, struct cl_error *err);

/* --- certificate building (also used for the in-memory test chain) --- */

/* A new P-384 key pair. */
CL_MUST_USE int attest_ca_generate_key(EVP_PKEY **out, struct cl_error *err);

/*
 * A self-signed root certificate for key: subject O=Cloister,
 * OU=Attestation, CN=cn; BasicConstraints CA (critical), KeyUsage
 * keyCertSign+cRLSign+digitalSignature (critical), SKI; valid from
 * now - 1 h for `seconds`. ecdsa-with-SHA384.
 */
CL_MUST_USE int attest_ca_make_root(EVP_PKEY *key, const char *cn, int64_t now, int64_t seconds,
                                    X509 **out, struct cl_error *err);

/* An intermediate for key signed by the issuer: CA pathlen 0, AKI + SKI,
 * valid from now - 1 h for `seconds` (clamped to the issuer's notAfter). */
CL_MUST_USE int attest_ca_make_intermediate(EVP_PKEY *key, const char *cn, EVP_PKEY *issuer_key,
                                            X509 *issuer, int64_t now, int64_t seconds, X509 **out,
                                            struct cl_error *err);

/* A leaf as AWS issues them: CA:FALSE (critical), KeyUsage digitalSignature +
 * nonRepudiation, no AKI/SKI/SAN, valid from now - 3 s to now + seconds. */
CL_MUST_USE int attest_ca_make_leaf(EVP_PKEY *key, const char *cn, EVP_PKEY *issuer_key,
                                    X509 *issuer, int64_t now, int64_t seconds, X509 **out,
                                    struct cl_error *err);

/* notBefore/notAfter of a certificate as Unix seconds. */
int attest_ca_cert_times(const X509 *cert, int64_t *not_before, int64_t *not_after);

#endif
