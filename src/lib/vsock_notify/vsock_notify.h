/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock for every program: the vsock system calls of a process tree are sent
 * to a supervisor by seccomp user notification (SECCOMP_RET_USER_NOTIF) and
 * served there on Cloister's emulated vsock (docs/vsock.md §6). The programs
 * need no library: static, dynamic, Go, musl alike.
 *
 * The sandbox (inside an enclave) and `cloister exec` (on the parent) add the
 * rules to their filter; the process that holds the filter's listener calls
 * vsock_notify_serve(). Which side is served is the serving process's own
 * vsock transport (vsock_core.h): the enclave side when it reaches a broker
 * ($CLOISTER_VSOCK_BROKER), else the parent. A server for an enclave must run
 * in the enclave's network namespace: every socket it hands over is made
 * there.
 */
#ifndef CLOISTER_VSOCK_NOTIFY_H
#define CLOISTER_VSOCK_NOTIFY_H

#include <stddef.h>
#include <sys/socket.h>

#include <seccomp.h>

#include <cloister/error.h>

/* The character device that stands in for /dev/vsock (the enclave's
 * /dev/vsock is a bind of /dev/null): IOCTL_VM_SOCKETS_GET_LOCAL_CID on it
 * answers the emulated CID. */
#define VSOCK_NOTIFY_DEV_MAJOR 1
#define VSOCK_NOTIFY_DEV_MINOR 3

/*
 * Adds to ctx the rules that notify: socket(AF_VSOCK, ...); connect, bind,
 * listen, accept, accept4, getsockname, getpeername on any fd; getsockopt at
 * level AF_VSOCK and of SO_DOMAIN, SO_TYPE, SO_PROTOCOL, SO_ERROR,
 * SO_ACCEPTCONN; setsockopt at level AF_VSOCK; the GET_LOCAL_CID ioctl.
 * socketpair(AF_VSOCK) fails with EOPNOTSUPP, as on Linux.
 */
int vsock_notify_add_rules(scmp_filter_ctx ctx, struct cl_error *err);

/*
 * A connect() of a served process's stream socket to `from` (an address and
 * port) is made to `to` instead, by the supervisor on the process's socket:
 * how `cloister exec` leads code that hard-codes the instance metadata
 * address (169.254.169.254:80) to the metadata service on loopback. An IPv6
 * socket reaches an IPv4 `to` through its v4-mapped address.
 */
struct vsock_notify_redirect {
    struct sockaddr_storage from, to;
    socklen_t from_len, to_len;
};

/*
 * Serves the notifications of listener until no process uses the filter any
 * more (0), or the listener fails (-1, err). Every notification is answered;
 * calls on sockets that are not emulated vsock ones continue in the kernel,
 * except the connects of redirects[0..n).
 */
int vsock_notify_serve(int listener, const struct vsock_notify_redirect *redirects, size_t n,
                       struct cl_error *err);

#endif
