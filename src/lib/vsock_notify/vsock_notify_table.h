/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's emulated sockets, by socket inode: a program's fd numbers
 * change with dup, fork and exec, the socket underneath does not. Entries of
 * sockets that no longer exist are pruned from the kernel's list of live Unix
 * sockets (/proc/self/net/unix of the supervisor's network namespace), when
 * the table has doubled since the last prune. Internal to vsock_notify/.
 */
#ifndef CLOISTER_VSOCK_NOTIFY_TABLE_H
#define CLOISTER_VSOCK_NOTIFY_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "vsock/vsock_core.h"

struct vn_table;

struct vn_table *vn_table_new(void);
/* Frees the table (prune first to remove dead listeners' socket files). */
void vn_table_free(struct vn_table *t);

/* The entry of socket inode ino, or NULL. Valid until the next put/del/prune. */
struct vcore_entry *vn_table_get(struct vn_table *t, uint64_t ino);
/* Records (a copy of) e for the socket sock (the supervisor's descriptor of
 * it, which it keeps); own: the supervisor made it, in its own network
 * namespace. -ENOMEM. */
int vn_table_put(struct vn_table *t, int sock, bool own, const struct vcore_entry *e);
void vn_table_del(struct vn_table *t, uint64_t ino);
/* Drops the entries of dead sockets when the table has grown enough (or
 * always, with force); a dead parent listener's socket file is removed. */
void vn_table_prune(struct vn_table *t, bool force);

#endif
