/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave side of the NSM transport, chosen when the device is opened
 * (docs/nsm.md, "Transports"):
 *  - a character device (the real /dev/nsm of a Nitro enclave): one ioctl
 *    per request, NSM_IOCTL with struct nsm_message (nsm_ioctl.h, with the paths);
 *  - a Unix socket (Cloister's emulated endpoint): nsm_frame.h framing.
 * The path is $CLOISTER_NSM_DEVICE when set and not empty, else /dev/nsm.
 *
 * Linked into libnsm.so and cloister-nsm: libc only, bare return codes.
 */
#ifndef CLOISTER_NSM_DEV_H
#define CLOISTER_NSM_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "nsm/nsm_ioctl.h"

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
