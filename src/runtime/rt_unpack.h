/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unpacks an EIF ramdisk (cpio "newc", as linuxkit and build-enclave write
 * it; gzip accepted too, as the kernel's initramfs loader does) into a
 * directory, safely, with libarchive:
 * - names are relative (a leading "/" or "./" is dropped), never contain
 *   "..", and are never written through a symbolic link
 *   (ARCHIVE_EXTRACT_SECURE_*);
 * - device nodes and sockets are skipped (the monitor makes /dev itself);
 *   set-user-ID and set-group-ID bits are dropped (no_new_privs voids them
 *   anyway);
 * - owners are shifted into the enclave's uid range: uid u of the archive
 *   becomes host uid uid_base + u (u >= 65536 becomes nobody, 65534), so
 *   that enclave root owns what the image says root owns.
 * Later ramdisks overwrite earlier entries, as the kernel's loader does.
 */
#ifndef CLOISTER_RT_UNPACK_H
#define CLOISTER_RT_UNPACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cloister/error.h>

struct eif;

/* Unpacks buf into dir (which must exist). CL_EFORMAT on a broken archive. */
int rt_unpack_cpio(const uint8_t *buf, size_t len, const char *dir, uid_t uid_base,
                   struct cl_error *err);
/* The same for ramdisk index of eif, streamed from the EIF (never held
 * whole); a ramdisk that cannot be read is CL_EFORMAT too. */
int rt_unpack_eif_ramdisk(const struct eif *eif, size_t index, const char *dir, uid_t uid_base,
                          struct cl_error *err);

#endif
