/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NSM device's interface, definitions only (no code, libc only): where
 * the device is, and the ioctl that nsm_dev.c passes to the real /dev/nsm
 * and the preload library answers on the emulated one (docs/nsm.md,
 * "Transports"). uapi linux/nsm.h NSM_IOCTL_RAW / struct nsm_raw; the
 * out-of-tree driver's struct nsm_message {struct iovec request; struct
 * iovec response;} has the same layout and number on 64-bit.
 */
#ifndef CLOISTER_NSM_IOCTL_H
#define CLOISTER_NSM_IOCTL_H

#include <sys/ioctl.h>
#include <sys/uio.h>

/* The device: $CLOISTER_NSM_DEVICE when set and not empty, else /dev/nsm. */
#define NSM_DEV_PATH "/dev/nsm"
#define NSM_DEV_ENV  "CLOISTER_NSM_DEVICE"

/* The ioctl argument (aws-nitro-enclaves-nsm-api src/driver/mod.rs
 * NsmMessage; aws-nitro-enclaves-sdk-bootstrap nsm-driver/nsm.c). */
struct nsm_message {
    struct iovec request;  /* CBOR request, <= 0x1000 bytes */
    struct iovec response; /* buffer of 0x3000 bytes; iov_len updated by the driver */
};

#define NSM_IOCTL_MAGIC 0x0A
/* _IOWR(0x0A, 0, struct nsm_message) = 0xC0200A00 on 64-bit Linux. */
#define NSM_IOCTL _IOWR(NSM_IOCTL_MAGIC, 0, struct nsm_message)

#endif
