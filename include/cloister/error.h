/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one error idiom of Cloister.
 *
 * Every library function that can fail returns 0 on success or a negative
 * CL_E* code, and, when the caller passed a struct cl_error, fills it with a
 * human reason. The reason is for people; the code is for programs. Callers
 * that do not care about the reason pass NULL.
 *
 * Library code never prints. Programs print once, at the top, in their own
 * format (the CLI uses nitro-cli's "[ Exx ] ..." lines).
 *
 *     int rc = eif_open(&eif, path, &err);
 *     if (rc < 0)
 *         goto out;
 *     ...
 * out:
 *     eif_free(eif);
 *     return rc;
 */
#ifndef CLOISTER_ERROR_H
#define CLOISTER_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum cl_code {
    CL_OK = 0,
    CL_EINVAL = -1,        /* the caller passed something invalid */
    CL_ENOMEM = -2,        /* out of memory */
    CL_EIO = -3,           /* the operating system refused an I/O operation */
    CL_EFORMAT = -4,       /* input is malformed */
    CL_EUNSUPPORTED = -5,  /* well-formed but not supported (version, algorithm...) */
    CL_ECRYPTO = -6,       /* a cryptographic primitive failed */
    CL_ENOTFOUND = -7,     /* a named thing does not exist */
    CL_EPERM = -8,         /* not allowed */
    CL_ELIMIT = -9,        /* a size or count limit was exceeded */
    CL_ESTATE = -10,       /* the object is in the wrong state for this call */
    CL_EEXIST = -11,       /* the thing already exists */
    CL_ETIMEOUT = -12,     /* gave up waiting */
    CL_ECHECKSUM = -13,    /* a checksum (CRC) does not match */
    /* Attestation verification: one code per way a document can be wrong. */
    CL_EALGORITHM = -20,   /* unexpected COSE / digest algorithm */
    CL_ECHAIN = -21,       /* the certificate chain does not lead to a trusted root */
    CL_EEXPIRED = -22,     /* a certificate is not valid at the verification time */
    CL_ESIGNATURE = -23,   /* a signature does not verify */
    CL_EPCR = -24,         /* a PCR differs from the expected value */
    CL_ENONCE = -25,       /* the nonce differs from the expected value */
    CL_EUSERDATA = -26,    /* user_data differs from the expected value */
    CL_EDEBUG = -27,       /* a debug-mode document where production was required */
    CL_ESTALE = -28,       /* the document is older than the allowed age */
};

#define CL_ERROR_REASON_MAX 512

/*
 * Marks a function whose result must not be dropped: one whose failure
 * leaves the caller with nothing valid (no output written, nothing
 * verified, nothing parsed). The compiler then refuses (-Werror) a call
 * that ignores it. A deliberate discard must still look at the result
 * (GCC does not accept a (void) cast) and say why in a comment.
 */
#if defined(__GNUC__) || defined(__clang__)
#define CL_MUST_USE __attribute__((warn_unused_result))
#else
#define CL_MUST_USE
#endif

/* A caller-owned error context. Zero-initialise it ({0}) before use. */
struct cl_error {
    int code;                          /* the CL_E* code of the first failure */
    char reason[CL_ERROR_REASON_MAX];  /* NUL-terminated human reason */
};

/*
 * Records a failure and returns code, so that a failure is raised and
 * returned in one line:  return cl_fail(err, CL_EFORMAT, "bad magic");
 * err may be NULL. A second failure does not overwrite the first reason,
 * which is the root cause; use cl_error_prefix() to add context.
 */
int cl_fail(struct cl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As cl_fail(), with ": <strerror(errno)>" appended. errno is preserved. */
int cl_fail_errno(struct cl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * As cl_fail(), with the reason of OpenSSL's most recent error appended.
 * Clears OpenSSL's thread error queue, so stale errors never leak into
 * a later, unrelated message.
 */
int cl_fail_openssl(struct cl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "<context>: " in front of the recorded reason. */
void cl_error_prefix(struct cl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forgets a recorded failure (for callers that retry or recover). */
void cl_error_clear(struct cl_error *err);

/* A short constant name for a code ("malformed input", ...). Never NULL. */
const char *cl_code_name(int code);

#ifdef __cplusplus
}
#endif

#endif
