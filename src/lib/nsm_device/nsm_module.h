/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Nitro Secure Module as a service object: it answers raw NSM CBOR
 * requests (nsm_proto.h) against its PCR bank (nsm_bank.h) and signs
 * attestation documents with an attest_signer (attest_ca/attest_issue.h).
 * This is what the runtime serves to every enclave (nsm_endpoint.h) and
 * what `cloister attest` asks for a document.
 *
 * Behaviour (docs/nsm.md, "The module"):
 *  - DescribePCR / ExtendPCR / LockPCR / LockPCRs over 32 registers;
 *    InvalidIndex for index >= 32 (range > 32), ReadOnlyIndex for a locked
 *    register;
 *  - DescribeNSM: version 1.0.0 (QEMU's; AWS's are undocumented),
 *    module_id, max_pcrs 32, locked_pcrs, digest SHA384;
 *  - Attestation: a document with module_id, the time in ms, the locked
 *    registers (0-15 and any locked since), the signer's chain and the
 *    requested public_key / user_data / nonce (null when absent);
 *  - GetRandom: 256 bytes from the kernel's CSPRNG;
 *  - malformed requests get the protocol's error response, never a crash.
 *
 * Thread-safe: requests are serialised by a mutex, as the kernel driver
 * serialises them with its own.
 */
#ifndef CLOISTER_NSM_MODULE_H
#define CLOISTER_NSM_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cloister/eif.h>
#include <cloister/error.h>

#include "attest_ca/attest_issue.h"
#include "nsm_device/hostconf.h"
#include "nsm_device/nsm_bank.h"

/* DescribeNSM's version (QEMU's model; the real values are unknown). */
#define NSM_MODULE_VERSION_MAJOR 1
#define NSM_MODULE_VERSION_MINOR 0
#define NSM_MODULE_VERSION_PATCH 0
/* "<instance id>-enc<16 hex>" */
#define NSM_MODULE_ID_MAX (HOSTCONF_INSTANCE_ID_MAX + 4 + 16)

struct nsm_module;

/*
 * A module with an all-zero, all-unlocked bank (set it up with
 * nsm_module_bank(), then lock). module_id is copied (1..NSM_MODULE_ID_MAX
 * bytes). The module takes ownership of signer, also when this fails; it
 * may be NULL for a module that never attests (Attestation then answers
 * InternalError). On success *out is owned by the caller: nsm_module_free().
 */
CL_MUST_USE int nsm_module_new(const char *module_id, struct attest_signer *signer,
                               struct nsm_module **out, struct cl_error *err);

void nsm_module_free(struct nsm_module *m);

/* What the platform sets up for an enclave before it starts. */
struct nsm_enclave_config {
    const struct eif_measurements *measurements; /* PCR0/1/2 (+8 if signed) */
    bool debug_mode;            /* PCR0/1/2/8 stay zero (as real debug enclaves) */
    const struct hostconf *host;                 /* PCR3, PCR4, module_id */
    uint64_t enclave_id;        /* the 16 hex digits of module_id; 0: a new one */
};

/*
 * The module of an enclave, exactly as it is when the enclave's first
 * instruction runs (QEMU hw/i386/nitro_enclave.c):
 *   PCR0, PCR1, PCR2 = the image's measurements (zero in debug mode)
 *   PCR3 = SHA384(0^48 || parent_role_arn), zero when there is no role
 *   PCR4 = SHA384(0^48 || instance_id)
 *   PCR8 = the signing certificate's measurement for a signed image (zero
 *          in debug mode or when unsigned)
 *   PCR0-15 locked, 16-31 zero and unlocked.
 * module_id = "<instance_id>-enc<enclave_id as 16 lowercase hex digits>";
 * a zero enclave_id is replaced by nsm_module_new_enclave_id().
 * Takes ownership of signer as nsm_module_new() does.
 */
CL_MUST_USE int nsm_module_new_enclave(const struct nsm_enclave_config *cfg,
                                       struct attest_signer *signer, struct nsm_module **out,
                                       struct cl_error *err);

/* A fresh enclave id: the Unix time in ms in the top 48 bits (as AWS's
 * ids appear to be) and 16 random bits. */
uint64_t nsm_module_new_enclave_id(void);

/* Writes "<instance_id>-enc<16 hex>" into out (NSM_MODULE_ID_MAX + 1 bytes). */
void nsm_module_format_id(char out[static NSM_MODULE_ID_MAX + 1], const char *instance_id,
                          uint64_t enclave_id);

const char *nsm_module_id(const struct nsm_module *m);

/* The bank, for setting up a module before its enclave runs; not for use
 * while requests are being served. */
struct nsm_bank *nsm_module_bank(struct nsm_module *m);

/* Payload map of the documents: indefinite-length (0xbf ... 0xff, as AWS
 * modules emit since mid-2025; the default) or definite (0xa9, before). */
void nsm_module_set_indefinite_map(struct nsm_module *m, bool indefinite);

/*
 * Leaf rotation: when set, the module replaces its signer by a fresh leaf
 * from the CA in ca_dir (attest_signer_new_from_ca) once the current leaf
 * has less than NSM_MODULE_ROTATE_SECONDS left. ca_dir is copied.
 */
#define NSM_MODULE_ROTATE_SECONDS (15 * 60)
CL_MUST_USE int nsm_module_set_rotation(struct nsm_module *m, const char *ca_dir,
                                        struct cl_error *err);

/* For tests: the clock of the documents (ms since the epoch); NULL = real. */
void nsm_module_set_clock(struct nsm_module *m, uint64_t (*now_ms)(void *ctx), void *ctx);

/*
 * Answers one request: req (req_len bytes, any content) -> a response in
 * resp (resp_cap >= NSM_RESPONSE_MAX), its length in *resp_len.
 * A response is always written when resp_cap is large enough: success, or
 * the protocol's error for a bad request. Returns 0, or a negative CL_E*
 * code when the module itself failed (signing, leaf rotation, randomness);
 * err then says why, for the log, and the response written is still the
 * one to send back: {"Error":"InternalError"} when the module could not
 * answer, or the document signed with the old leaf when only a rotation
 * failed while that leaf is still valid. CL_EINVAL (nothing written) if
 * resp_cap < NSM_RESPONSE_MAX.
 */
CL_MUST_USE int nsm_module_handle(struct nsm_module *m, const uint8_t *req, size_t req_len,
                                  uint8_t *resp, size_t resp_cap, size_t *resp_len,
                                  struct cl_error *err);

#endif
