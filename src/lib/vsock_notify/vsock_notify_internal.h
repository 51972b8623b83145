/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's insides, shared by its files: the server, one
 * notification in hand (a "call") and the calls made on the target process
 * for it. Internal to vsock_notify/.
 */
#ifndef CLOISTER_VSOCK_NOTIFY_INTERNAL_H
#define CLOISTER_VSOCK_NOTIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vsock_notify/vsock_notify.h"
#include "vsock_notify/vsock_notify_table.h"

struct vn_parked;

struct vn_server {
    int listener;            /* the filter's notification fd */
    int ep;                  /* epoll: the listener and parked accepts' mailboxes */
    struct vn_table *table;
    struct vn_parked *parked;
    const struct vsock_notify_redirect *redirects;
    size_t n_redirects;
};

/* One notification in hand. */
struct vn_call {
    struct vn_server *s;
    uint64_t id;
    pid_t pid;               /* in the supervisor's PID namespace */
    int pidfd;               /* -1 until needed */
    int nr;                  /* system call number */
    uint64_t args[6];
};

/* ---- the target (vsock_notify_target.c); -errno on failure ---------------- */

/* Still waiting for an answer (not interrupted, not dead)? */
bool vn_valid(const struct vn_call *c);
/* A copy of the target's descriptor fd (close-on-exec). -ENOENT only when
 * the notification is gone (the pid may name another process by now): any
 * other failure still needs an answer. */
int vn_getfd(struct vn_call *c, int fd);
/* Copies len bytes from / to the target's memory at addr. -EFAULT. */
int vn_read(const struct vn_call *c, uint64_t addr, void *buf, size_t len);
int vn_write(const struct vn_call *c, uint64_t addr, const void *buf, size_t len);
/* Is the target's fd close-on-exec? */
bool vn_cloexec(const struct vn_call *c, int fd);
/* Installs src in the target: at newfd (replacing it) or the lowest free
 * number (newfd < 0); with send, as the system call's result, atomically.
 * Returns the target's fd number. */
int vn_addfd(const struct vn_call *c, int src, int newfd, bool cloexec, bool send);

/* Answers: a result (error 0) or -errno; or lets the kernel run the call. */
void vn_reply(const struct vn_call *c, long long val, int negerrno);
void vn_continue(const struct vn_call *c);

/* ---- the calls (vsock_notify_calls.c) -------------------------------------- */

/* Serves one notification (answers it, or parks it). */
void vn_handle(struct vn_call *c);
/* Tries an accept (again, when parked): 1 while it must wait, 0 once answered. */
int vn_retry_accept(struct vn_call *c, int mbox);

/* ---- redirects (vsock_notify_redirect.c) ---------------------------------- */

/* A connect of the call to one of the server's redirected addresses: made
 * to its target, and the call answered (true); false: not one of them. */
bool vn_redirected(struct vn_call *c, int local);

/* ---- parking (vsock_notify.c) ---------------------------------------------- */

/* Keeps a blocking accept on mbox (the supervisor's copy of the listener)
 * until a connection arrives or the call goes away. Takes c and mbox. */
void vn_park(struct vn_call *c, int mbox);

#endif
