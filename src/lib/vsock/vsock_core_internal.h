/* SPDX-License-Identifier: Apache-2.0 */
/* What the vsock engine's files share beyond vsock_core.h. Internal to vsock/. */
#ifndef CLOISTER_VSOCK_CORE_INTERNAL_H
#define CLOISTER_VSOCK_CORE_INTERNAL_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The broker's socket inside an enclave ($CLOISTER_VSOCK_BROKER or the
 * monitor's fixed path). */
const char *vcore_broker_path(void);

/* The address of dir/name; a path too long for sun_path goes through
 * /proc/self/fd/<dirfd>, *dirfd then to be closed after use (else -1).
 * 0 or -errno. */
int vcore_sun_of(const char *dir, const char *name, struct sockaddr_un *sa, socklen_t *salen,
                 int *dirfd);

/* mkdir with exactly mode (not filtered by the umask); an existing
 * directory is fine. 0 or -errno. */
int vcore_mkdir_mode(const char *path, mode_t mode);

/* Forgets the CID vcore_local_cid() learnt (vcore_reset()). */
void vcore_forget_local_cid(void);

#endif
