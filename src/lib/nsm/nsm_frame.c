/* SPDX-License-Identifier: Apache-2.0 */
/* Length-prefixed frames of the emulated NSM transport; see nsm_frame.h. */
#include "nsm/nsm_frame.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cloister/error.h>

#include "base/byteorder.h"

/* send() with MSG_NOSIGNAL on sockets, so a vanished peer is an error and
 * not a SIGPIPE that kills the enclave's application; write() otherwise. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return CL_EIO;
        }
        if (w == 0) {
            errno = EPIPE;
            return CL_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes: 0, 1 if EOF came before the first byte,
 * CL_EFORMAT if EOF came later, CL_EIO on error. */
static int read_all(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return CL_EIO;
        }
        if (r == 0)
            return got == 0 ? 1 : CL_EFORMAT;
        got += (size_t)r;
    }
    return 0;
}

int nsm_frame_write(int fd, const uint8_t *buf, size_t len)
{
    if (len > UINT32_MAX || (buf == NULL && len != 0))
        return CL_EINVAL;
    uint8_t frame[NSM_FRAME_HEADER + 4096];
    be32_store(frame, (uint32_t)len);
    /* Small frames go out in one write, so a request is one segment. */
    if (len <= sizeof(frame) - NSM_FRAME_HEADER) {
        if (len)
            memcpy(frame + NSM_FRAME_HEADER, buf, len);
        return write_all(fd, frame, NSM_FRAME_HEADER + len);
    }
    int rc = write_all(fd, frame, NSM_FRAME_HEADER);
    return rc < 0 ? rc : write_all(fd, buf, len);
}

int nsm_frame_read(int fd, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t h[NSM_FRAME_HEADER];
    int rc = read_all(fd, h, sizeof(h));
    if (rc != 0)
        return rc;
    size_t n = be32_load(h);
    *len = n;
    if (n > cap)
        return CL_ELIMIT;
    rc = read_all(fd, buf, n);
    return rc == 1 ? CL_EFORMAT : rc;
}

int nsm_frame_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(sa.sun_path))
        return CL_EINVAL;
    memcpy(sa.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return CL_EIO;
    int r;
    do
        r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return CL_EIO;
    }
    return fd;
}

int nsm_frame_transact(int fd, const uint8_t *req, size_t req_len, uint8_t *resp,
                       size_t resp_cap, size_t *resp_len)
{
    int rc = nsm_frame_write(fd, req, req_len);
    if (rc < 0)
        return rc;
    rc = nsm_frame_read(fd, resp, resp_cap, resp_len);
    if (rc == 1) {
        errno = ECONNRESET;
        return CL_EIO;
    }
    return rc;
}
