/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server side of Cloister's emulated NSM transport: the runtime's
 * monitor (or a test server) answers an enclave's requests on one
 * connection with a module (nsm_module.h). Framing: nsm_frame.h (a 4-byte
 * big-endian length, then CBOR; requests <= 0x1000, responses <= 0x3000).
 */
#ifndef CLOISTER_NSM_ENDPOINT_H
#define CLOISTER_NSM_ENDPOINT_H

#include <cloister/error.h>

#include "nsm/nsm_frame.h"
#include "nsm_device/nsm_module.h"

/*
 * Answers requests on conn_fd until the peer closes it; does not close
 * conn_fd. Returns 0 on a clean end (EOF between frames).
 * A frame announcing more than NSM_REQUEST_MAX bytes is answered with
 * {"Error":"InputTooLarge"} (what the kernel's EMSGSIZE becomes in libnsm)
 * and ends serving, since its payload is not read and the stream is lost:
 * CL_ELIMIT; the caller then closes conn_fd.
 * CL_EFORMAT when the stream ends inside a frame, CL_EIO on I/O errors.
 * Module failures (nsm_module_handle < 0) are answered with the module's
 * response and do not end the connection; when log is not NULL it is
 * called with each such failure's reason (for the monitor's log).
 */
int nsm_endpoint_serve(struct nsm_module *m, int conn_fd, struct cl_error *err);

int nsm_endpoint_serve_log(struct nsm_module *m, int conn_fd,
                           void (*log)(void *ctx, const struct cl_error *e), void *ctx,
                           struct cl_error *err);

#endif
