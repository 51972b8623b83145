/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nitro-cli's error numbers and titles, shared by the CLI (which prints
 * "[ Exx ] <title>. <detail>") and the runtime (whose monitor reports an
 * E-number to run-enclave). Numbers and titles follow nitro-cli's
 * NitroCliErrorEnum and document_errors.rs (docs/cli-errors.md).
 */
#ifndef CLOISTER_NITRO_ERRORS_H
#define CLOISTER_NITRO_ERRORS_H

/* nitro-cli's NitroCliErrorEnum: the index is the E-number and the exit status. */
enum nitro_errno {
    E_UNSPECIFIED = 0,
    E_MISSING_ARGUMENT = 1,
    E_CONFLICTING_ARGUMENT = 2,
    E_INVALID_ARGUMENT = 3,
    E_SOCKET_PAIR_CREATION = 4,
    E_PROCESS_SPAWN = 5,
    E_DAEMONIZE = 6,
    E_READ_FROM_DISK = 7,
    E_UNUSABLE_CONNECTION = 8,
    E_SOCKET_CLOSE = 9,
    E_SOCKET_CONNECT_TIMEOUT = 10,
    E_SOCKET = 11,
    E_EPOLL = 12,
    E_INOTIFY = 13,
    E_INVALID_COMMAND = 14,
    E_LOCK_ACQUIRE = 15,
    E_THREAD_JOIN = 16,
    E_SERDE = 17,
    E_FILE_PERMISSIONS = 18,
    E_FILE_OPERATION = 19,
    E_INVALID_CPU_CONFIGURATION = 20,
    E_NO_SUCH_CPU_AVAILABLE = 21,
    E_INSUFFICIENT_CPUS = 22,
    E_MALFORMED_CPU_ID = 23,
    E_CPU_ERROR = 24,
    E_NO_SUCH_HUGEPAGE_FLAG = 25,
    E_INSUFFICIENT_MEMORY_REQUESTED = 26,
    E_INSUFFICIENT_MEMORY_AVAILABLE = 27,
    E_INVALID_ENCLAVE_FD = 28,
    E_IOCTL = 29,
    E_IOCTL_IMAGE_LOAD_INFO = 30,
    E_IOCTL_SET_MEMORY_REGION = 31,
    E_IOCTL_ADD_VCPU = 32,
    E_IOCTL_ENCLAVE_START = 33,
    E_MEMORY_OVERFLOW = 34,
    E_EIF_PARSING = 35,
    E_ENCLAVE_BOOT_FAILURE = 36,
    E_ENCLAVE_EVENT_WAIT = 37,
    E_ENCLAVE_PROCESS_COMMAND_NOT_EXECUTED = 38,
    E_ENCLAVE_PROCESS_CONNECTION_FAILURE = 39,
    E_SOCKET_PATH_NOT_FOUND = 40,
    E_ENCLAVE_PROCESS_SEND_REPLY = 41,
    E_ENCLAVE_MMAP = 42,
    E_ENCLAVE_MUNMAP = 43,
    E_ENCLAVE_CONSOLE_CONNECTION = 44,
    E_ENCLAVE_CONSOLE_READ = 45,
    E_ENCLAVE_CONSOLE_WRITE_OUTPUT = 46,
    E_INTEGER_PARSING = 47,
    E_EIF_BUILDING = 48,
    E_DOCKER_IMAGE_BUILD = 49,
    E_DOCKER_IMAGE_PULL = 50,
    E_ARTIFACTS_PATH_NOT_SET = 51,
    E_BLOBS_PATH_NOT_SET = 52,
    E_CLOCK_SKEW = 53,
    E_SIGNAL_MASKING = 54,
    E_SIGNAL_UNMASKING = 55,
    E_LOGGER = 56,
    E_HASHER = 57,
    E_ENCLAVE_NAMING = 58,
    E_EIF_SIGNATURE_CHECKER = 59,
    E_EIF_SIGNING = 60,
    /* Cloister's own, past nitro-cli's range: attestation verification. */
    E_ATTESTATION = 70,
    E_NITRO_MAX
};

/* The title of an error number, as nitro-cli words it; "Unspecified error"
 * for a number it does not know. */
const char *nitro_error_title(enum nitro_errno e);

/*
 * The error number of an EIF that cannot be opened (eif_open()'s CL_E*
 * code): the file cannot be read (missing, I/O, a directory, out of
 * memory) is E19, a file that is not a valid EIF is E35.
 */
enum nitro_errno nitro_errno_of_eif_open(int cl_code);

/*
 * The error number of a failure of the local attestation CA (attest_ca.h,
 * attest_signer_new_from_ca()), the same for every command that uses it
 * (attestation-ca, attest): a private directory or key open to others, or
 * not readable, is E18; a CA directory name that is empty or too long E03;
 * a CA that is missing, cannot be read or written, is already there
 * (`init` without --force) or is damaged (a file that does not parse, a key
 * that does not match its certificate, an intermediate the root did not
 * sign, a file over its size limit) E19; anything else (out of memory,
 * OpenSSL, an intermediate that expires and cannot be rotated) E00.
 */
enum nitro_errno nitro_errno_of_ca(int cl_code);

#endif
