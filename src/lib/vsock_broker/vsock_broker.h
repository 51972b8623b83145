/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's side of Cloister's emulated vsock (docs/vsock.md §3-4): one
 * broker per enclave, run by that enclave's monitor, outside the sandbox.
 *
 * Inside the enclave every vsock connect and listen is a request to this
 * broker (the library and the preload library do it): the broker stamps the
 * enclave's true CID and port on every connection it forwards, refuses any
 * destination but the parent (CID 3), and makes the enclave's listeners
 * reachable from the parent only. Data never passes through the broker: it
 * hands over socket fds (SCM_RIGHTS) and the two programs talk directly.
 *
 * What the runtime does with it:
 *
 *   vsock_broker_new(run_dir, cid, &b, &err);     before the enclave's init starts
 *   bind-mount vsock_broker_host_dir(b) onto VSOCK_ENCLAVE_DIR ("/dev/cloister-vsock")
 *     in the enclave (the directory holds the broker's socket; read-only is fine);
 *   add vsock_broker_fd(b) to the monitor's epoll (EPOLLIN) and call
 *     vsock_broker_dispatch(b, &err) whenever it is readable (never blocks);
 *   the ready heartbeat: the enclave's connection to (3, 9000) comes to this
 *     broker, not to a parent listener; add vsock_broker_heartbeat_fd(b) to the
 *     epoll and, when readable, vsock_broker_accept_heartbeat() gives the
 *     connected fd: read 0xB7, write 0xB7, close (or let
 *     vsock_broker_wait_heartbeat() do all of that);
 *   vsock_broker_free(b) when the enclave has ended.
 *
 * Not thread-safe: one thread drives a broker (several brokers may run in
 * one process, e.g. in tests).
 */
#ifndef CLOISTER_VSOCK_BROKER_H
#define CLOISTER_VSOCK_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include <cloister/error.h>
#include <cloister/vsock.h>

struct vsock_broker;   /* opaque */

/* Counters, for describe-style diagnostics and tests. */
struct vsock_broker_stats {
    uint64_t connects;      /* connections forwarded to the parent */
    uint64_t refused;       /* connects refused (not the parent, nothing listening, ...) */
    uint64_t listens;       /* listeners made */
    uint64_t malformed;     /* requests dropped as malformed */
};

/*
 * Creates the broker of enclave cid (4 .. 0xFFFFFFFE) under run_dir (NULL:
 * $CLOISTER_RUN_DIR, else /run/cloister). It makes, removing stale
 * leftovers of an earlier enclave with the same CID:
 *   run_dir/vsock/3/              parent listeners (01777, shared)
 *   run_dir/vsock/<cid>/          the enclave's listeners, reachable by the parent (0755)
 *   run_dir/vsock/ctl/            (0700) so that no other host user reaches a broker
 *   run_dir/vsock/ctl/<cid>/      the host directory to bind-mount into the enclave (0755)
 *   run_dir/vsock/ctl/<cid>/broker  the broker's socket (0666, SOCK_SEQPACKET)
 * CL_EEXIST if a live broker already serves cid. *out is owned by the caller
 * (vsock_broker_free()).
 */
CL_MUST_USE int vsock_broker_new(const char *run_dir, uint32_t cid, struct vsock_broker **out,
                                 struct cl_error *err);

/* Closes every fd and removes every file and directory the broker made. NULL ok. */
void vsock_broker_free(struct vsock_broker *b);

uint32_t vsock_broker_cid(const struct vsock_broker *b);

/* The host directory to bind-mount at VSOCK_ENCLAVE_DIR. Owned by b. */
const char *vsock_broker_host_dir(const struct vsock_broker *b);

/* An fd (an epoll fd) that is readable when the broker has work. Owned by b. */
int vsock_broker_fd(const struct vsock_broker *b);

/* Does all pending work without blocking. Errors of single requests are
 * answered to the enclave, not returned; a negative return means the broker
 * itself failed (e.g. epoll_wait). */
CL_MUST_USE int vsock_broker_dispatch(struct vsock_broker *b, struct cl_error *err);

/*
 * The heartbeat. Until a heartbeat connection has been accepted, the
 * enclave's connections to (VSOCK_CID_PARENT, VSOCK_HEARTBEAT_PORT) come
 * here; afterwards (3, 9000) is an ordinary parent port again, as on Nitro
 * where the enclave process listens on it only while the enclave boots.
 *
 * vsock_broker_heartbeat_fd(): readable when such a connection waits (owned by b).
 * vsock_broker_accept_heartbeat(): *fd = the connection (the caller owns and
 * closes it; blocking, close-on-exec), or -1 when none is waiting yet.
 */
int vsock_broker_heartbeat_fd(const struct vsock_broker *b);
CL_MUST_USE int vsock_broker_accept_heartbeat(struct vsock_broker *b, int *fd,
                                              struct cl_error *err);

/*
 * Convenience for a monitor without its own loop (and for tests): serves the
 * broker until the enclave's heartbeat arrives, reads 0xB7, answers 0xB7.
 * CL_ETIMEOUT after timeout_ms (negative: no limit); CL_EFORMAT if the
 * enclave sent another byte or closed first.
 */
CL_MUST_USE int vsock_broker_wait_heartbeat(struct vsock_broker *b, int timeout_ms,
                                            struct cl_error *err);

/* Serves the broker until stop_fd becomes readable (e.g. an eventfd or a
 * pipe; -1: forever). For a monitor that runs the broker in its own thread. */
CL_MUST_USE int vsock_broker_run(struct vsock_broker *b, int stop_fd, struct cl_error *err);

void vsock_broker_get_stats(const struct vsock_broker *b, struct vsock_broker_stats *st);

/*
 * Removes what a broker for cid left behind after its monitor died
 * (run_dir/vsock/<cid>/ and run_dir/vsock/ctl/<cid>/). CL_EEXIST if a live
 * broker still answers there.
 */
int vsock_broker_cleanup(const char *run_dir, uint32_t cid, struct cl_error *err);

#endif
