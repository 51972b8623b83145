/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key service's own TLS material, made on first start: a CA
 * (DIR/tls/ca.pem, ca.key) and a server certificate it signs
 * (DIR/tls/server.pem, server.key) for localhost, 127.0.0.1, ::1 and
 * kms.<region>.amazonaws.com, so that the AWS CLI (--ca-bundle) and enclave
 * images that trust the CA reach it under KMS's usual name. ECDSA P-256.
 */
#ifndef CLOISTER_KMS_TLSGEN_H
#define CLOISTER_KMS_TLSGEN_H

#include <cloister/error.h>

/*
 * Creates the files under tls_dir unless server.pem and server.key already
 * exist. Keys are written mode 0600, atomically.
 */
CL_MUST_USE int tlsgen_ensure(const char *tls_dir, const char *region, struct cl_error *err);

/*
 * The instance metadata service's signing identity: an RSA-2048 key
 * (dir/identity.key, 0600) and its self-signed certificate
 * (dir/identity.pem, 0644, published: it verifies the instance identity
 * document's signatures), made unless both exist.
 */
CL_MUST_USE int tlsgen_identity_ensure(const char *dir, struct cl_error *err);

#endif
