/* SPDX-License-Identifier: Apache-2.0 */
/* Serving a module on one connection; see nsm_endpoint.h. */
#include "nsm_device/nsm_endpoint.h"

#include <errno.h>
#include <stdlib.h>

#include "nsm/nsm_proto.h"

int nsm_endpoint_serve_log(struct nsm_module *m, int conn_fd,
                           void (*log)(void *ctx, const struct cl_error *e), void *ctx,
                           struct cl_error *err)
{
    int rc = 0;
    uint8_t *req = malloc(NSM_REQUEST_MAX);
    uint8_t *resp = malloc(NSM_RESPONSE_MAX);
    if (req == NULL || resp == NULL) {
        rc = cl_fail(err, CL_ENOMEM, "cannot allocate NSM buffers");
        goto out;
    }
    for (;;) {
        size_t len = 0, resp_len = 0;
        rc = nsm_frame_read(conn_fd, req, NSM_REQUEST_MAX, &len);
        if (rc == 1) {
            rc = 0; /* the enclave closed the connection */
            goto out;
        }
        if (rc == CL_ELIMIT) {
            struct nsm_response e = {.op = NSM_OP_ERROR, .error = NSM_E_INPUT_TOO_LARGE};
            if (nsm_response_encode(&e, resp, NSM_RESPONSE_MAX, &resp_len) == 0)
                (void)nsm_frame_write(conn_fd, resp, resp_len);
            rc = cl_fail(err, CL_ELIMIT,
                         "NSM request of %zu bytes, at most %d allowed; connection closed", len,
                         NSM_REQUEST_MAX);
            goto out;
        }
        if (rc == CL_EFORMAT) {
            rc = cl_fail(err, CL_EFORMAT, "NSM connection closed inside a frame");
            goto out;
        }
        if (rc < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot read an NSM request");
            goto out;
        }
        struct cl_error merr = {0};
        int hrc = nsm_module_handle(m, req, len, resp, NSM_RESPONSE_MAX, &resp_len, &merr);
        if (hrc == CL_EINVAL && resp_len == 0) {
            rc = cl_fail(err, CL_EINVAL, "%s", merr.reason);
            goto out;
        }
        if (hrc < 0 && log)
            log(ctx, &merr);
        rc = nsm_frame_write(conn_fd, resp, resp_len);
        if (rc < 0) {
            rc = cl_fail_errno(err, CL_EIO, "cannot write an NSM response");
            goto out;
        }
    }
out:
    free(req);
    free(resp);
    return rc;
}

int nsm_endpoint_serve(struct nsm_module *m, int conn_fd, struct cl_error *err)
{
    return nsm_endpoint_serve_log(m, conn_fd, NULL, NULL, err);
}
