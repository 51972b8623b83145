/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave side of the NSM transport, chosen when the device is opened
 * (docs/nsm.md, "Transports"):
 *  - a character device (the real /dev/nsm of a Nitro enclave): one ioctl
 *    per request, NSM_IOCTL with struct nsm_message (uapi linux/nsm.h
 *    NSM_IOCTL_RAW / struct nsm_raw; the out-of-tree driver's
 *    struct nsm_message {struct iovec request; struct iovec response;} has
 *    the same layout and number on 64-bit);
 *  - a Unix socket (Cloister's emulated endpoint): nsm_frame.h framing.
 * The path is $CLOISTER_NSM_DEVICE when set and not empty, else /dev/nsm.
 *
 * Linked into libnsm.so and cloister-nsm: libc only, bare return codes.
 */
#ifndef CLOISTER_NSM_DEV_H
#define CLOISTER_NSM_DEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#define NSM_DEV_PATH "/dev/nsm"
#define NSM_DEV_ENV "CLOISTER_NSM_DEVICE"

/* The ioctl argument (aws-nitro-enclaves-nsm-api src/driver/mod.rs
 * NsmMessage; aws-nitro-enclaves-sdk-bootstrap nsm-driver/nsm.c). */
struct nsm_message {
    struct iovec request;  /* CBOR request, <= 0x1000 bytes */
    struct iovec response; /* buffer of 0x3000 bytes; iov_len updated by the driver */
};

#define NSM_IOCTL_MAGIC 0x0A
/* _IOWR(0x0A, 0, struct nsm_message) = 0xC0200A00 on 64-bit Linux. */
#define NSM_IOCTL _IOWR(NSM_IOCTL_MAGIC, 0, struct nsm_message)

/* The device path in use: $CLOISTER_NSM_DEVICE or /dev/nsm. */
const char *nsm_dev_path(void);

/* Opens path (NULL: nsm_dev_path()): a character device is opened O_RDWR,
 * a Unix socket is connected. Returns a descriptor (close-on-exec), or -1
 * with errno set (ENODEV when path is neither). */
int nsm_dev_open(const char *path);

/*
 * One exchange on a descriptor from nsm_dev_open(); the transport is
 * chosen by what fd is (fstat). Returns 0 with the response in resp /
 * *resp_len (resp_cap >= NSM_RESPONSE_MAX), or -errno: -EMSGSIZE for a
 * request over 0x1000 bytes (as the kernel answers), other -errno values
 * for transport failures. Socket exchanges are serialised process-wide,
 * as the kernel driver serialises ioctls.
 */
int nsm_dev_transact(int fd, const uint8_t *req, size_t req_len, uint8_t *resp,
                     size_t resp_cap, size_t *resp_len);

#endif
