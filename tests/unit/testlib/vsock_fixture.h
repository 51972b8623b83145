/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the emulated-vsock tests share: a private run directory
 * ($CLOISTER_RUN_DIR) with the emulation forced (no test ever opens a real
 * AF_VSOCK socket, even on a Nitro host), "becoming" an enclave behind a
 * broker (in a forked child), a thread serving a broker, and raw requests
 * to a broker served deterministically by this thread.
 */
#ifndef CLOISTER_TESTLIB_VSOCK_FIXTURE_H
#define CLOISTER_TESTLIB_VSOCK_FIXTURE_H

#include <pthread.h>
#include <stdint.h>

#include "vsock/vsock_proto.h"
#include "vsock_broker/vsock_broker.h"

/* The run directory of the current test. */
extern char tl_run_dir[64];

/* cmocka setup/teardown: a fresh run directory, CLOISTER_RUN_DIR set to it,
 * CLOISTER_VSOCK_TRANSPORT=emulated, no broker, the transport forgotten;
 * teardown removes the directory. */
int tl_vsock_setup(void **state);
int tl_vsock_teardown(void **state);

/* This process becomes an enclave whose broker socket is b's. */
void tl_become_enclave(const struct vsock_broker *b);

/* A thread serving b (vsock_broker_run) until tl_runner_stop(). */
struct tl_runner {
    struct vsock_broker *b;
    int stop[2];
    pthread_t thread;
    int rc;                 /* what vsock_broker_run() returned */
    struct cl_error err;
};
void tl_runner_start(struct tl_runner *r);
void tl_runner_stop(struct tl_runner *r);

/* A connection to b's socket (SOCK_SEQPACKET), as an enclave makes one. */
int tl_broker_connect(const struct vsock_broker *b);

/*
 * Sends request q (with fd attached unless -1) to b, has b serve it (the
 * request is in the socket before vsock_broker_dispatch() runs, so one call
 * serves it), and returns the decoded response; fails the test if there is
 * none, or if it carries an fd.
 */
struct vsock_response tl_broker_request(struct vsock_broker *b, const struct vsock_request *q,
                                        int fd);

#endif
