/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The proxy's data path: event loops that move bytes between an accepted
 * (vsock) connection and a TCP connection to the remote, both ways.
 *
 * Each worker thread runs one epoll loop; connections are spread across
 * workers round-robin, so `--num_workers` is the number of event loops, not
 * a cap on connections (AWS's proxy uses a thread per connection from a
 * pool of that size). Bytes move with splice(2) through a pipe per
 * direction (zero-copy where the kernel allows it; plain read/write where it
 * does not), so memory per connection is bounded by two pipe buffers.
 * End-of-stream on one side is passed on as a half-close (shutdown SHUT_WR)
 * of the other, and a connection ends when both directions have ended.
 */
#ifndef CLOISTER_PROXY_FORWARD_H
#define CLOISTER_PROXY_FORWARD_H

#include <sys/socket.h>

#include <cloister/error.h>

struct forwarder;

/* Starts `workers` event-loop threads (>= 1). *out owned; forwarder_free. */
CL_MUST_USE int forwarder_new(unsigned workers, struct forwarder **out, struct cl_error *err);

/*
 * Hands a connection to a worker: client_fd (owned from now on, closed on
 * every path) is forwarded to a new TCP connection to addr. The TCP connect
 * completes asynchronously; if it fails, client_fd is closed.
 */
int forwarder_add(struct forwarder *f, int client_fd, const struct sockaddr *addr,
                  socklen_t addr_len, struct cl_error *err);

/* Stops the workers and closes every connection. NULL is allowed. */
void forwarder_free(struct forwarder *f);

#endif
