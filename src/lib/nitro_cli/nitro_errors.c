/* SPDX-License-Identifier: Apache-2.0 */
/* nitro-cli's error titles (aws-nitro-enclaves-cli, src/common/document_errors.rs). */
#include "nitro_cli/nitro_errors.h"

#include <stddef.h>

#include <cloister/error.h>

static const char *const titles[E_NITRO_MAX] = {
    [E_UNSPECIFIED] = "Unspecified error",
    [E_MISSING_ARGUMENT] = "Missing mandatory argument",
    [E_CONFLICTING_ARGUMENT] = "Conflicting arguments",
    [E_INVALID_ARGUMENT] = "Invalid argument provided",
    [E_SOCKET_PAIR_CREATION] = "Socket pair creation failure",
    [E_PROCESS_SPAWN] = "Process spawn failure",
    [E_DAEMONIZE] = "Daemonize failure",
    [E_READ_FROM_DISK] = "Read from disk failure",
    [E_UNUSABLE_CONNECTION] = "Unusable connection",
    [E_SOCKET_CLOSE] = "Socket close failure",
    [E_SOCKET_CONNECT_TIMEOUT] = "Socket connect timeout",
    [E_SOCKET] = "Socket error",
    [E_EPOLL] = "Epoll error",
    [E_INOTIFY] = "Inotify error",
    [E_INVALID_COMMAND] = "Invalid command",
    [E_LOCK_ACQUIRE] = "Lock acquire failure",
    [E_THREAD_JOIN] = "Thread join failure",
    [E_SERDE] = "Serialization error",
    [E_FILE_PERMISSIONS] = "Invalid file permissions",
    [E_FILE_OPERATION] = "File operation failure",
    [E_INVALID_CPU_CONFIGURATION] = "Invalid CPU configuration",
    [E_NO_SUCH_CPU_AVAILABLE] = "No such CPU available in the pool",
    [E_INSUFFICIENT_CPUS] = "Insufficient CPUs available in the pool",
    [E_MALFORMED_CPU_ID] = "Malformed CPU ID",
    [E_CPU_ERROR] = "CPU error",
    [E_NO_SUCH_HUGEPAGE_FLAG] = "No such hugepage flag",
    [E_INSUFFICIENT_MEMORY_REQUESTED] = "Insufficient memory requested",
    [E_INSUFFICIENT_MEMORY_AVAILABLE] = "Insufficient memory available",
    [E_INVALID_ENCLAVE_FD] = "Invalid enclave file descriptor",
    [E_IOCTL] = "Ioctl failure",
    [E_IOCTL_IMAGE_LOAD_INFO] = "Image load info ioctl failure",
    [E_IOCTL_SET_MEMORY_REGION] = "Set memory region ioctl failure",
    [E_IOCTL_ADD_VCPU] = "Add vCPU ioctl failure",
    [E_IOCTL_ENCLAVE_START] = "Start enclave ioctl failure",
    [E_MEMORY_OVERFLOW] = "Memory overflow",
    [E_EIF_PARSING] = "EIF file parsing error",
    [E_ENCLAVE_BOOT_FAILURE] = "Enclave boot failure",
    [E_ENCLAVE_EVENT_WAIT] = "Enclave event wait error",
    [E_ENCLAVE_PROCESS_COMMAND_NOT_EXECUTED] = "Enclave process command not executed",
    [E_ENCLAVE_PROCESS_CONNECTION_FAILURE] = "Enclave process connection failure",
    [E_SOCKET_PATH_NOT_FOUND] = "Socket path not found",
    [E_ENCLAVE_PROCESS_SEND_REPLY] = "Enclave process send reply failure",
    [E_ENCLAVE_MMAP] = "Enclave mmap failure",
    [E_ENCLAVE_MUNMAP] = "Enclave munmap failure",
    [E_ENCLAVE_CONSOLE_CONNECTION] = "Enclave console connection failure",
    [E_ENCLAVE_CONSOLE_READ] = "Enclave console read failure",
    [E_ENCLAVE_CONSOLE_WRITE_OUTPUT] = "Enclave console write output failure",
    [E_INTEGER_PARSING] = "Integer parsing failure",
    [E_EIF_BUILDING] = "Could not build EIF file",
    [E_DOCKER_IMAGE_BUILD] = "Docker image build failure",
    [E_DOCKER_IMAGE_PULL] = "Docker image pull failure",
    [E_ARTIFACTS_PATH_NOT_SET] = "Artifacts path environment variable not set",
    [E_BLOBS_PATH_NOT_SET] = "Blobs path not found",
    [E_CLOCK_SKEW] = "Clock skew error",
    [E_SIGNAL_MASKING] = "Signal masking error",
    [E_SIGNAL_UNMASKING] = "Signal unmasking error",
    [E_LOGGER] = "Logger error",
    [E_HASHER] = "Hasher error",
    [E_ENCLAVE_NAMING] = "Enclave naming error",
    [E_EIF_SIGNATURE_CHECKER] = "EIF signature checker error",
    [E_EIF_SIGNING] = "EIF signing error",
    [E_ATTESTATION] = "Attestation document verification failed",
};

const char *nitro_error_title(enum nitro_errno e)
{
    if ((unsigned)e >= E_NITRO_MAX || !titles[e])
        return titles[E_UNSPECIFIED];
    return titles[e];
}

enum nitro_errno nitro_errno_of_eif_open(int cl_code)
{
    switch (cl_code) {
    case CL_ENOTFOUND:
    case CL_EIO:
    case CL_EINVAL:
    case CL_ENOMEM: return E_FILE_OPERATION;
    default: return E_EIF_PARSING;
    }
}

enum nitro_errno nitro_errno_of_ca(int cl_code)
{
    switch (cl_code) {
    case CL_EPERM: return E_FILE_PERMISSIONS;
    case CL_EINVAL: return E_INVALID_ARGUMENT;
    case CL_ENOTFOUND:
    case CL_EIO:
    case CL_EEXIST:
    case CL_EFORMAT:
    case CL_ELIMIT: return E_FILE_OPERATION;
    default: return E_UNSPECIFIED;
    }
}
