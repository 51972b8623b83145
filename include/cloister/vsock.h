/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock for enclave programs and parent programs, the same code on a real
 * Nitro instance and under Cloister.
 *
 * Addressing is vsock's (Linux <linux/vm_sockets.h>): a (CID, port) pair,
 * the parent instance is CID 3, enclaves have CIDs >= 4, CID 0 is the
 * hypervisor (nitro-cli's console lives at (0, 10000 + enclave CID)).
 *
 * Transport, chosen once per process (vsock_transport()):
 *  - REAL: Linux AF_VSOCK. Used inside a real Nitro enclave (/dev/nsm is a
 *    character device) and on a real Nitro parent (/dev/nitro_enclaves is a
 *    character device), in both cases only if socket(AF_VSOCK) works.
 *  - EMULATED: Cloister's emulation over Unix sockets (docs/vsock.md): in a
 *    Cloister enclave (VSOCK_ENCLAVE_BROKER, or $CLOISTER_VSOCK_BROKER, is a
 *    socket) every connect and listen goes through the enclave's monitor,
 *    which only lets the enclave reach its parent; on the host, parent
 *    programs meet under $CLOISTER_RUN_DIR/vsock (default /run/cloister).
 *  $CLOISTER_VSOCK_TRANSPORT=real|emulated overrides the detection.
 *
 * All sockets are SOCK_STREAM (Nitro has no vsock datagrams). A connected
 * socket is an ordinary stream fd: read, write, send, recv, poll, epoll,
 * shutdown (half-close) and close work as on AF_VSOCK. Under the emulation
 * a listening fd is readable (poll/epoll POLLIN) when a connection waits.
 *
 * Every function returns 0 (or an fd) on success, or a negative CL_E* code
 * with err filled and errno set to the system error a real AF_VSOCK socket
 * would give: ECONNRESET when nothing listens at the address (as Linux's
 * virtio and loopback vsock transports report a refused connection),
 * EHOSTUNREACH when an enclave tries to reach anything but its parent,
 * EADDRINUSE, EADDRNOTAVAIL, EAGAIN (non-blocking accept with nothing
 * pending), EINVAL.
 *
 * Thread-safe. Usable from static programs: the functions need libc only.
 */
#ifndef CLOISTER_VSOCK_H
#define CLOISTER_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <cloister/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* <linux/vm_sockets.h> values, repeated so that callers need no kernel headers. */
#define VSOCK_CID_ANY 0xFFFFFFFFu        /* VMADDR_CID_ANY: bind to every local CID */
#define VSOCK_CID_HYPERVISOR 0u          /* VMADDR_CID_HYPERVISOR */
#define VSOCK_CID_LOCAL 1u               /* VMADDR_CID_LOCAL */
#define VSOCK_CID_HOST 2u                /* VMADDR_CID_HOST */
#define VSOCK_CID_PARENT 3u              /* the parent instance of a Nitro enclave */
#define VSOCK_PORT_ANY 0xFFFFFFFFu       /* VMADDR_PORT_ANY: pick a free port */

/* The enclave's ready signal (AWS init: connect (3, 9000), send 0xB7, read 0xB7). */
#define VSOCK_HEARTBEAT_PORT 9000u
#define VSOCK_HEARTBEAT_BYTE 0xB7
/* nitro-cli console: vsock (CID 0, port 10000 + enclave CID). */
#define VSOCK_CONSOLE_PORT_BASE 10000u

/* Inside a Cloister enclave: the directory the monitor bind-mounts (read-only
 * for the enclave) and, in it, the monitor's broker socket. */
#define VSOCK_ENCLAVE_DIR "/dev/cloister-vsock"
#define VSOCK_ENCLAVE_BROKER VSOCK_ENCLAVE_DIR "/broker"
/* Inside a Cloister enclave: where the monitor mounts the preload library
 * (build/lib/libcloister-preload.so) and points LD_PRELOAD. */
#define VSOCK_ENCLAVE_PRELOAD "/usr/lib/cloister/libcloister-preload.so"

enum vsock_transport {
    VSOCK_TRANSPORT_REAL = 1,            /* Linux AF_VSOCK */
    VSOCK_TRANSPORT_HOST = 2,            /* emulation, parent side (CID 3) */
    VSOCK_TRANSPORT_ENCLAVE = 3,         /* emulation, inside a Cloister enclave */
};

/* The transport of this process (detected once, then cached). */
enum vsock_transport vsock_transport(void);

/* A name for a transport: "real", "emulated-host", "emulated-enclave". */
const char *vsock_transport_name(enum vsock_transport t);

/*
 * A new, unconnected vsock stream socket (close-on-exec, blocking; the
 * caller may set O_NONBLOCK with fcntl). The caller owns the fd and closes
 * it with vsock_close() (close() works too but keeps a small record of the
 * fd's addresses until the fd number is reused).
 */
CL_MUST_USE int vsock_socket(struct cl_error *err);

/*
 * Connects fd (from vsock_socket(), unconnected) to (cid, port). On success
 * fd is a connected stream socket. Under the emulation the connection is
 * made at once (there is no EINPROGRESS); when the listener's queue is full a
 * non-blocking fd fails with EAGAIN and a blocking one waits up to the
 * connect timeout (2 s, as Linux vsock), then fails with ETIMEDOUT.
 */
CL_MUST_USE int vsock_connect(int fd, uint32_t cid, uint32_t port, struct cl_error *err);

/*
 * Binds fd to (cid, port) and listens. cid is VSOCK_CID_ANY or this side's
 * own CID (3 on the parent; the parent may also listen on CID 0, the
 * hypervisor's, as Cloister's monitors do for the console); port may be
 * VSOCK_PORT_ANY (see vsock_getsockname()). backlog is a hint.
 */
CL_MUST_USE int vsock_bind_listen(int fd, uint32_t cid, uint32_t port, int backlog,
                                  struct cl_error *err);

/*
 * Accepts one connection on a listening fd. Returns the new connected fd
 * (close-on-exec, blocking; the caller owns it) and the peer's true address
 * in *peer_cid and *peer_port (either may be NULL). Blocks unless fd is
 * O_NONBLOCK (then EAGAIN when nothing is pending).
 */
CL_MUST_USE int vsock_accept(int fd, uint32_t *peer_cid, uint32_t *peer_port, struct cl_error *err);

/* This end's address of a bound, listening or connected fd. */
CL_MUST_USE int vsock_getsockname(int fd, uint32_t *cid, uint32_t *port, struct cl_error *err);

/* The peer's address of a connected fd. */
CL_MUST_USE int vsock_getpeername(int fd, uint32_t *cid, uint32_t *port, struct cl_error *err);

/* This side's CID: 3 on the parent, the enclave's CID inside an enclave. */
CL_MUST_USE int vsock_local_cid(uint32_t *cid, struct cl_error *err);

/* Closes fd, forgetting its addresses (and removing a listener's socket file). */
int vsock_close(int fd);

/*
 * The enclave's ready heartbeat, as AWS's init sends it: connect to
 * (VSOCK_CID_PARENT, VSOCK_HEARTBEAT_PORT), send VSOCK_HEARTBEAT_BYTE, read
 * one byte back and require it to be VSOCK_HEARTBEAT_BYTE.
 */
CL_MUST_USE int vsock_send_heartbeat(struct cl_error *err);

#ifdef __cplusplus
}
#endif

#endif
