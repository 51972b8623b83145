/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wire formats of Cloister's emulated vsock (docs/vsock.md §3). Pure
 * functions over byte buffers: no I/O, libc only (the enclave's static init
 * compiles this file in).
 *
 * Every message is a fixed 24 bytes, big-endian, beginning with a 4-byte
 * magic and a 2-byte version (1); a message of any other length, magic,
 * version, or with a nonzero reserved field, is refused.
 *
 *   hello    "CLVS" ver flags=0 src_cid src_port dst_cid dst_port
 *            connector -> listener's mailbox, with the connection's fd (SCM_RIGHTS)
 *   request  "CLVQ" ver op cid port src_port reserved=0
 *            enclave -> its monitor's broker; CONNECT carries the connection's
 *            fd, LISTEN the enclave's unbound SOCK_DGRAM socket to bind
 *   response "CLVR" ver op status cid port reserved=0
 *            broker -> enclave, no fd
 */
#ifndef CLOISTER_VSOCK_PROTO_H
#define CLOISTER_VSOCK_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define VSOCK_MSG_LEN 24
#define VSOCK_PROTO_VERSION 1

/* Who connects to whom: written by the connecting side (or, for an enclave,
 * by its monitor on its behalf) and read by the accepting side. */
struct vsock_hello {
    uint32_t src_cid, src_port;
    uint32_t dst_cid, dst_port;
};

enum vsock_op {
    VSOCK_OP_CONNECT = 1,    /* cid/port: destination; src_port: wanted local port or ANY;
                                fd: the enclave's end of the connection to hand over */
    VSOCK_OP_LISTEN = 2,     /* cid: ANY or own CID; port: wanted port or ANY;
                                fd: the enclave's unbound SOCK_DGRAM socket to bind */
    VSOCK_OP_LOCAL_CID = 3,  /* no arguments (all zero) */
};

struct vsock_request {
    uint16_t op;             /* enum vsock_op */
    uint32_t cid, port, src_port;
};

struct vsock_response {
    uint16_t op;             /* the request's op */
    uint32_t status;         /* 0, or the errno value the client must report (1..4095) */
    uint32_t cid, port;      /* the enclave's own address for this socket */
};

void vsock_hello_encode(const struct vsock_hello *h, uint8_t out[VSOCK_MSG_LEN]);
void vsock_request_encode(const struct vsock_request *r, uint8_t out[VSOCK_MSG_LEN]);
void vsock_response_encode(const struct vsock_response *r, uint8_t out[VSOCK_MSG_LEN]);

/*
 * Decoders: 0 on success, -1 with *why set to a static reason on malformed
 * input (never reads beyond len). They check the shape only; whether the
 * addresses are acceptable is the caller's policy.
 */
int vsock_hello_decode(const uint8_t *buf, size_t len, struct vsock_hello *h, const char **why);
int vsock_request_decode(const uint8_t *buf, size_t len, struct vsock_request *r,
                         const char **why);
int vsock_response_decode(const uint8_t *buf, size_t len, struct vsock_response *r,
                          const char **why);

#endif
