/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Framing of Cloister's emulated NSM transport (docs/nsm.md, "Transports"):
 * a Unix stream socket between an enclave and its monitor; each request is
 * a 4-byte big-endian length then the CBOR request (at most
 * NSM_REQUEST_MAX bytes), each response a 4-byte big-endian length then
 * the CBOR response (at most NSM_RESPONSE_MAX).
 * One request, one response, in order.
 *
 * Linked into the enclave-side client (libnsm.so, cloister-nsm), so it
 * depends on libc only and returns bare codes: 0 or a negative CL_E* code,
 * with errno preserved for CL_EIO. The server side with reasons is
 * nsm_endpoint.h.
 */
#ifndef CLOISTER_NSM_FRAME_H
#define CLOISTER_NSM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define NSM_FRAME_HEADER 4

/* Writes one frame (len <= UINT32_MAX). On a socket it never raises SIGPIPE
 * (MSG_NOSIGNAL); on any other descriptor it is a plain write().
 * 0, CL_EINVAL (too long), CL_EIO (errno set). */
int nsm_frame_write(int fd, const uint8_t *buf, size_t len);

/*
 * Reads one frame into buf (cap bytes). Returns 0 with *len set;
 * 1 when the peer closed the connection before a new frame began (a clean
 * end); CL_ELIMIT when the announced length exceeds cap (*len gets the
 * announced length and the payload is NOT read: the stream cannot be
 * resynchronised, close it); CL_EFORMAT when the stream ends inside a
 * frame; CL_EIO on a read error (errno set).
 */
int nsm_frame_read(int fd, uint8_t *buf, size_t cap, size_t *len);

/* Connects a new Unix stream socket (close-on-exec) to path. Returns the
 * descriptor, or a negative CL_E* code (CL_EINVAL: path too long; CL_EIO,
 * errno set). */
int nsm_frame_connect(const char *path);

/* One request/response exchange over a connected socket. The response
 * must fit resp_cap (else CL_ELIMIT; the connection is then unusable). A
 * closed connection is CL_EIO with errno ECONNRESET. */
int nsm_frame_transact(int fd, const uint8_t *req, size_t req_len, uint8_t *resp,
                       size_t resp_cap, size_t *resp_len);

#endif
