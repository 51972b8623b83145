/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave's console, kept by its monitor. As on Nitro, where it is
 * /dev/console, the console is a terminal: a pseudo-terminal whose master
 * the monitor holds and whose slave is the enclave's /dev/console, stdin,
 * stdout and stderr, so programs see isatty() and line-buffer. What they
 * write goes into a ring of the last RT_CONSOLE_RING bytes (the older ones
 * are dropped and counted) and to every connected `console` client. A new
 * client first gets the line RT_CONSOLE_HELLO<dropped bytes>, then the
 * ring (the output so far: on Nitro, attaching right after run-enclave
 * shows the boot too), then live output. A client that cannot keep up (its
 * socket buffer full) is disconnected rather than slowing the enclave.
 *
 * Only debug-mode enclaves keep a console (as on Nitro, where a production
 * enclave's console is not readable): for the others the monitor reads the
 * pipe and discards what it reads.
 */
#ifndef CLOISTER_RT_CONSOLE_H
#define CLOISTER_RT_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cloister/error.h>

#define RT_CONSOLE_RING (256u * 1024u)
/* The first line a client reads, before the ring: "…dropped=<n>\n". */
#define RT_CONSOLE_HELLO "cloister-console 1 dropped="
#define RT_CONSOLE_MAX_CLIENTS 16

struct rt_console;  /* owns the ring and the client fds */

struct rt_console *rt_console_new(void);
void rt_console_free(struct rt_console *c);

/* Appends n bytes and forwards them to the clients. */
void rt_console_feed(struct rt_console *c, const char *buf, size_t n);

/* Takes ownership of fd (a connected stream socket): sends the ring, then
 * keeps it for live output. Returns 0, or -1 (fd closed) when full. */
int rt_console_add_client(struct rt_console *c, int fd);

/* Whether fd is one of the clients; then it is dropped (EOF/HUP from it). */
int rt_console_drop_client(struct rt_console *c, int fd);

/* Closes every client (the enclave ended): they see EOF. */
void rt_console_close_clients(struct rt_console *c);

/* Bytes that fell out of the ring so far. */
uint64_t rt_console_dropped(const struct rt_console *c);

/*
 * A raw pseudo-terminal for an enclave's console: *master (non-blocking,
 * the monitor's), *slave (the enclave's stdio; owned by owner, mode 0600)
 * and the slave's host path (/dev/pts/N) for the enclave's /dev/console.
 */
CL_MUST_USE int rt_console_open_pty(uid_t owner, int *master, int *slave, char *path, size_t cap,
                                    struct cl_error *err);

/* The last up to n bytes of the ring into buf (NUL-terminated); returns the length. */
size_t rt_console_tail(const struct rt_console *c, char *buf, size_t n);

#endif
