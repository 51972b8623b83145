/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every `cloister` subcommand shares: nitro-cli's error numbers and
 * format, and its JSON output.
 *
 * A subcommand is `int cmd_<name>(int argc, char **argv)` in its own file
 * (cmd_<name>.c), registered in main.c's table. It returns 0, or the value
 * of cli_fail()/cli_fail_lib(), which printed the error once; main() exits
 * with that value, which is the error number, as nitro-cli does.
 */
#ifndef CLOISTER_CLI_H
#define CLOISTER_CLI_H

#include <jansson.h>

#include <cloister/error.h>

/* nitro-cli's NitroCliErrorEnum: the index is the E-number and the exit status. */
enum cli_errno {
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
    E_CLI_MAX
};

/*
 * Prints "[ Exx ] <title>. <detail>" to stderr (nitro-cli's
 * construct_error_message) and returns e, for `return cli_fail(...)`.
 */
int cli_fail(enum cli_errno e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_fail() with a library error's reason as the detail. */
int cli_fail_lib(enum cli_errno e, const struct cl_error *err);

/* The title of an error number, as nitro-cli's document_errors.rs words it. */
const char *cli_error_title(enum cli_errno e);

/*
 * Prints json as serde_json::to_string_pretty does (2-space indent, keys in
 * insertion order) followed by a newline, to stdout, and takes ownership of
 * it (json_decref). Returns 0, or E_SERDE if it cannot be written.
 */
int cli_print_json(json_t *json);

/* Parses a non-negative decimal integer that fits max; -1 on any junk. */
long long cli_parse_uint(const char *s, unsigned long long max);

/*
 * Takes the value of the option argv[*i] into *slot, with nitro-cli's
 * (clap's) errors: slot NULL (not an option of this command): E_INVALID_ARGUMENT
 * "Found argument ... which wasn't expected"; *slot already set: "... was
 * provided more than once"; no value after it: E_MISSING_ARGUMENT. Returns
 * 0 with *i moved onto the value, or the number of the error it printed.
 */
int cli_take_value(int argc, char **argv, int *i, const char **slot);

#endif
