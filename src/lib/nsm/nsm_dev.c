/* SPDX-License-Identifier: Apache-2.0 */
/* The enclave-side NSM transports; see nsm_dev.h. */
#include "nsm/nsm_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cloister/error.h>

#include "nsm/nsm_frame.h"
#include "nsm/nsm_proto.h"

_Static_assert(sizeof(struct nsm_message) == 32, "struct nsm_message is two iovecs");

static pthread_mutex_t socket_lock = PTHREAD_MUTEX_INITIALIZER;

const char *nsm_dev_path(void)
{
    const char *env = getenv(NSM_DEV_ENV);
    return env && *env ? env : NSM_DEV_PATH;
}

int nsm_dev_open(const char *path)
{
    struct stat st;
    if (path == NULL)
        path = nsm_dev_path();
    if (stat(path, &st) < 0)
        return -1;
    if (S_ISCHR(st.st_mode))
        return open(path, O_RDWR | O_CLOEXEC);
    if (S_ISSOCK(st.st_mode)) {
        int fd = nsm_frame_connect(path);
        if (fd == CL_EINVAL)
            errno = ENAMETOOLONG;
        return fd < 0 ? -1 : fd; /* CL_EIO: errno set by socket/connect */
    }
    errno = ENODEV;
    return -1;
}

static int socket_transact(int fd, const uint8_t *req, size_t req_len, uint8_t *resp,
                           size_t resp_cap, size_t *resp_len)
{
    pthread_mutex_lock(&socket_lock);
    int rc = nsm_frame_transact(fd, req, req_len, resp, resp_cap, resp_len);
    int e = errno;
    pthread_mutex_unlock(&socket_lock);
    if (rc == 0)
        return 0;
    if (rc == CL_ELIMIT)
        return -EMSGSIZE;
    if (rc == CL_EFORMAT)
        return -EPROTO;
    return -(e ? e : EIO);
}

int nsm_dev_transact(int fd, const uint8_t *req, size_t req_len, uint8_t *resp,
                     size_t resp_cap, size_t *resp_len)
{
    struct stat st;
    if (fd < 0 || resp == NULL || resp_len == NULL || resp_cap < NSM_RESPONSE_MAX)
        return -EINVAL;
    /* uapi: a request over NSM_REQUEST_MAX_SIZE is EMSGSIZE. */
    if (req_len > NSM_REQUEST_MAX)
        return -EMSGSIZE;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISSOCK(st.st_mode))
        return socket_transact(fd, req, req_len, resp, NSM_RESPONSE_MAX, resp_len);

    struct nsm_message msg = {
        .request = {.iov_base = (void *)req, .iov_len = req_len},
        .response = {.iov_base = resp, .iov_len = NSM_RESPONSE_MAX},
    };
    int r;
    do
        r = ioctl(fd, NSM_IOCTL, &msg);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    /* The driver writes back min(buffer, device response) (drivers/misc/nsm.c). */
    if (msg.response.iov_len > NSM_RESPONSE_MAX)
        return -EPROTO;
    *resp_len = msg.response.iov_len;
    return 0;
}
