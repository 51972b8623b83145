/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine of Cloister's vsock (docs/vsock.md), shared by libcloister's
 * public API (vsock.c), the monitor's broker (vsock_broker.c), the seccomp
 * supervisor (vsock_notify/) and the enclave's static init. libc only, and
 * every socket call is a raw system call: a program's own seccomp-notified
 * calls are the supervisor's business, never the engine's.
 *
 * Error style (so that the static init needs no libcloister):
 * functions return >= 0 on success or -errno on failure, and point *why at a
 * static human reason. The public API turns that into a struct cl_error.
 *
 * Addresses of emulated sockets are kept in a per-process table indexed by
 * fd (what getsockname/getpeername answer from). It survives fork, not exec;
 * the supervisor keeps its own, by socket (vsock_notify_table.h).
 */
#ifndef CLOISTER_VSOCK_CORE_H
#define CLOISTER_VSOCK_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "vsock/vsock_proto.h"

/* Same values as enum vsock_transport in <cloister/vsock.h>. */
#define VCORE_REAL 1
#define VCORE_HOST 2
#define VCORE_ENCLAVE 3

#define VCORE_PARENT_CID 3u

/* Run directory layout (docs/vsock.md §2), relative to the run directory. */
#define VCORE_DIR "vsock"            /* $RUN/vsock/<cid>/<port>: mailboxes */
#define VCORE_CTL_DIR "vsock/ctl"    /* $RUN/vsock/ctl/<cid>/broker: 0700 */
#define VCORE_DEFAULT_RUN_DIR "/run/cloister"
#define VCORE_LOCK_NAME ".lock"

/* The transport of this process: detected once (docs/vsock.md §1). */
int vcore_transport(void);
/* Forgets the detected transport and cached CID (tests; not thread-safe). */
void vcore_reset(void);

/* $CLOISTER_RUN_DIR, or /run/cloister. Never NULL. */
const char *vcore_run_dir(void);

/* --- the per-process address table ------------------------------------ */

enum vcore_kind {
    VCORE_KIND_NONE = 0,
    VCORE_KIND_VSOCK = 1,      /* an emulated AF_VSOCK socket */
};
enum vcore_state {
    VCORE_NEW = 0,         /* socket() done */
    VCORE_BOUND = 1,       /* bind() recorded; the mailbox is made by listen() */
    VCORE_LISTENING = 2,   /* the fd is the mailbox */
    VCORE_CONNECTED = 3,
};

struct vcore_entry {
    uint8_t kind;          /* enum vcore_kind */
    uint8_t state;         /* enum vcore_state */
    bool has_path;         /* a host listener: its socket file is ours to remove */
    uint32_t lcid, lport;  /* local address (lport VSOCK_PORT_ANY until known) */
    uint32_t pcid, pport;  /* peer address (connected) */
    uint64_t path_dev, path_ino;
    pid_t owner;           /* the process that made the socket file */
    /* setsockopt(AF_VSOCK, ...) values, reported back by getsockopt */
    uint64_t buf_size, buf_min, buf_max, connect_timeout_us;
    int so_error;          /* SO_ERROR still to report (a refused non-blocking connect) */
};

/* A new socket's entry: unbound, Linux vsock's default options. */
void vcore_entry_init(struct vcore_entry *e);

/*
 * getsockopt/setsockopt of an emulated socket, for SOL_SOCKET and AF_VSOCK
 * levels (docs/vsock.md §6). Return 0 when answered (get: *len set to the
 * value's size), 1 when the Unix socket underneath answers it as well
 * (other SOL_SOCKET options), or -errno (-EINVAL for a short buffer,
 * -ENOPROTOOPT, -EOPNOTSUPP for other levels, -EDOM for a bad timeout).
 */
int vcore_sockopt_get(const struct vcore_entry *e, int level, int name, void *val, socklen_t *len);
int vcore_sockopt_set(struct vcore_entry *e, int level, int name, const void *val, socklen_t len);

/* Copies fd's entry into *e: 1 if fd is tracked, 0 if not. */
int vcore_get(int fd, struct vcore_entry *e);
/* Records *e for fd (replacing any). -ENOMEM, -EBADF for a negative fd. */
int vcore_set(int fd, const struct vcore_entry *e);
/* Forgets fd (no system call). */
void vcore_forget(int fd);

/* --- operations on emulated sockets (transport HOST or ENCLAVE) --------- */

/* A new unconnected socket: an AF_UNIX stream placeholder, tracked.
 * flags: SOCK_NONBLOCK and/or SOCK_CLOEXEC. Returns the fd. */
int vcore_socket(int flags, const char **why);

/* Records the local address (validated: cid ANY or our own). */
int vcore_bind(int fd, uint32_t cid, uint32_t port, const char **why);

/* Makes the bound (or, for an unbound one, port ANY) socket listen: the fd
 * becomes the mailbox of its address. */
int vcore_listen(int fd, const char **why);

/* Connects at once (fd keeps its number, flags and close-on-exec). */
int vcore_connect(int fd, uint32_t cid, uint32_t port, const char **why);

/* Accepts one connection on a listening fd; flags SOCK_NONBLOCK and/or
 * SOCK_CLOEXEC apply to the new fd; VCORE_DONTWAIT gives -EAGAIN instead of
 * waiting, whatever the fd's O_NONBLOCK. Returns the new fd. */
#define VCORE_DONTWAIT 0x1
int vcore_accept(int fd, int flags, uint32_t *peer_cid, uint32_t *peer_port, const char **why);

/* Forgets fd, removes a listener's socket file (only in the process that
 * made it), then closes fd. Returns close()'s result (-errno). */
int vcore_close(int fd);

/* Removes the socket file of e's listener if this process made it and it
 * is still that socket (a host listener that has been closed). */
void vcore_remove_listener_file(const struct vcore_entry *e);

/* Our own CID (3 on the host; asked of the broker in an enclave). */
int vcore_local_cid(uint32_t *cid, const char **why);

/* --- building blocks shared with the broker ----------------------------- */

/* "<run>/vsock/<cid>" into buf. -ENAMETOOLONG. */
int vcore_cid_dir(const char *run_dir, uint32_t cid, char *buf, size_t len);

/* Creates run_dir/vsock (0755) and run_dir/vsock/3 (01777, where parent
 * programs of any user listen) when missing. */
int vcore_ensure_host_dirs(const char *run_dir, const char **why);

/*
 * Makes a mailbox: a SOCK_DGRAM Unix socket with SO_PASSCRED bound at
 * dir/<port> (mode 0666), under dir/.lock so that concurrent binders cannot
 * both take a port; a socket file nobody is bound to any more is replaced.
 * *port: wanted port or VSOCK_PORT_ANY (then a free random one >= 1024 is
 * chosen and returned). On success *fd is the mailbox (close-on-exec,
 * blocking) and *dev, *ino identify its socket file. -EADDRINUSE.
 */
int vcore_mailbox_open(const char *dir, uint32_t *port, int *fd, uint64_t *dev, uint64_t *ino,
                       const char **why);

/* As vcore_mailbox_open() for a socket the caller made (an unbound AF_UNIX
 * SOCK_DGRAM socket, e.g. an enclave's), which is bound in place. */
int vcore_mailbox_bind(const char *dir, int sock, uint32_t *port, uint64_t *dev, uint64_t *ino,
                       const char **why);

/*
 * Hands conn_fd to the mailbox at dir/<port> with hello h. flags:
 * MSG_DONTWAIT or 0 (then waits while the mailbox is full, at most
 * timeout_us if not 0, then -ETIMEDOUT). Nothing bound there gives
 * -ECONNRESET (what Linux vsock reports for a refused connect).
 */
int vcore_send_hello(const char *dir, uint32_t port, const struct vsock_hello *h, int conn_fd,
                     int flags, uint64_t timeout_us, const char **why);

/*
 * Receives one hello and its fd from a mailbox. flags: MSG_DONTWAIT or 0;
 * MSG_CMSG_CLOEXEC is always used. On success *conn_fd is a connected
 * AF_UNIX stream socket and *uid, *pid the sender's kernel-checked
 * credentials. -EPROTO for a malformed message (its fds are closed; the
 * caller goes on to the next one), -EAGAIN, other -errno.
 */
int vcore_recv_hello(int mbox, int flags, struct vsock_hello *h, int *conn_fd, uid_t *uid,
                     pid_t *pid, const char **why);

/* Linux vsock's LAST_RESERVED_PORT: ports up to it need privilege to bind. */
#define VCORE_LAST_RESERVED_PORT 1023u

/* A random port in [1024, 0xFFFFFFFE], as Linux vsock's autobind picks. */
uint32_t vcore_random_port(void);

/* sendmsg/recvmsg of one fixed message with at most one fd (SEQPACKET). */
int vcore_send_msg(int sock, const uint8_t *buf, size_t len, int fd, int flags);
/* Returns the length received; *fd -1 when none came; extra fds are closed. */
int vcore_recv_msg(int sock, uint8_t *buf, size_t len, int *fd, int flags);

/* 0 if fd is an AF_UNIX SOCK_STREAM socket that is not listening, else -EPROTO. */
int vcore_check_stream(int fd);

/* 0 if fd is an unbound AF_UNIX SOCK_DGRAM socket, else -EPROTO. */
int vcore_check_unbound_dgram(int fd);

/* Raw system calls (no interposition). */
int vcore_sys_close(int fd);

#endif
