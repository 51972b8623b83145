/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A private, in-process Unix endpoint joined to an already connected
 * stream fd, for libraries that insist on connecting a socket themselves.
 *
 * Why: libcurl 7.88 (Debian 12) ignores CURL_SOCKOPT_ALREADY_CONNECTED and
 * calls connect() on a socket handed to it (curl/curl#10626, fixed in 8.0),
 * so it cannot use a vsock connection made by vsock_connect(). Instead it
 * connects to this bridge's abstract Unix socket
 * (CURLOPT_ABSTRACT_UNIX_SOCKET), and a thread moves the bytes between that
 * connection and the vsock fd, passing half-closes through. The name is
 * random and the bridge accepts exactly one connection from this process's
 * user, then stops listening.
 */
#ifndef CLOISTER_SOCK_BRIDGE_H
#define CLOISTER_SOCK_BRIDGE_H

#include <cloister/error.h>

#define SOCK_BRIDGE_NAME_MAX 64

struct sock_bridge;

/*
 * Takes ownership of fd (closed by sock_bridge_free, also on failure) and
 * starts listening. *name gets the abstract socket name, without the leading
 * NUL, to give to the connecting library. *out owned by the caller.
 */
CL_MUST_USE int sock_bridge_start(int fd, char name[static SOCK_BRIDGE_NAME_MAX],
                                  struct sock_bridge **out, struct cl_error *err);

/* Stops the thread (if still running), closes everything. NULL allowed. */
void sock_bridge_free(struct sock_bridge *b);

#endif
