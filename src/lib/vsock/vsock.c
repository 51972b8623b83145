/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <cloister/vsock.h>: real AF_VSOCK on Nitro, the emulation (vsock_core.c)
 * everywhere else. Uses only cl_fail() and cl_fail_errno() from error.h so
 * that the enclave's static init can link it with its own small versions.
 */
#include <cloister/vsock.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock/vsock_core.h"

enum vsock_transport vsock_transport(void)
{
    return (enum vsock_transport)vcore_transport();
}

const char *vsock_transport_name(enum vsock_transport t)
{
    switch (t) {
    case VSOCK_TRANSPORT_REAL: return "real";
    case VSOCK_TRANSPORT_HOST: return "emulated-host";
    case VSOCK_TRANSPORT_ENCLAVE: return "emulated-enclave";
    }
    return "unknown";
}

static bool real(void)
{
    return vcore_transport() == VCORE_REAL;
}

/* The CL_E* code for a -errno of the emulation. */
static int code_of(int rc)
{
    if (rc == -EINVAL || rc == -ENOTSOCK || rc == -EISCONN || rc == -EBADF || rc == -ENOTCONN)
        return CL_EINVAL;
    if (rc == -EHOSTUNREACH || rc == -EACCES || rc == -EPERM)
        return CL_EPERM;
    if (rc == -EADDRINUSE)
        return CL_EEXIST;
    if (rc == -ENOMEM)
        return CL_ENOMEM;
    return CL_EIO;
}

/* A failure of the emulation: errno from rc, the reason from why. */
static int fail_core(struct cl_error *err, int rc, const char *what, const char *why)
{
    errno = -rc;
    return cl_fail_errno(err, code_of(rc), "%s: %s", what, why ? why : "failed");
}

static int fail_real(struct cl_error *err, const char *what)
{
    return cl_fail_errno(err, code_of(-errno), "%s", what);
}

int vsock_socket(struct cl_error *err)
{
    if (real()) {
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return fd < 0 ? fail_real(err, "vsock socket") : fd;
    }
    const char *why = NULL;
    int fd = vcore_socket(SOCK_CLOEXEC, &why);
    return fd < 0 ? fail_core(err, fd, "vsock socket", why) : fd;
}

static void vm_addr(struct sockaddr_vm *sa, uint32_t cid, uint32_t port)
{
    memset(sa, 0, sizeof(*sa));
    sa->svm_family = AF_VSOCK;
    sa->svm_cid = cid;
    sa->svm_port = port;
}

int vsock_connect(int fd, uint32_t cid, uint32_t port, struct cl_error *err)
{
    if (real()) {
        struct sockaddr_vm sa;
        vm_addr(&sa, cid, port);
        int rc;
        do
            rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        while (rc < 0 && errno == EINTR);
        if (rc < 0)
            return cl_fail_errno(err, code_of(-errno), "vsock connect to (%u, %u)", cid, port);
        return 0;
    }
    const char *why = NULL;
    int rc = vcore_connect(fd, cid, port, &why);
    if (rc < 0) {
        errno = -rc;
        return cl_fail_errno(err, code_of(rc), "vsock connect to (%u, %u): %s", cid, port, why);
    }
    return 0;
}

int vsock_bind_listen(int fd, uint32_t cid, uint32_t port, int backlog, struct cl_error *err)
{
    if (real()) {
        struct sockaddr_vm sa;
        vm_addr(&sa, cid, port);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            return fail_real(err, "vsock bind");
        if (listen(fd, backlog) < 0)
            return fail_real(err, "vsock listen");
        return 0;
    }
    const char *why = NULL;
    int rc = vcore_bind(fd, cid, port, &why);
    if (rc == 0)
        rc = vcore_listen(fd, &why);
    if (rc < 0) {
        errno = -rc;
        return cl_fail_errno(err, code_of(rc), "vsock listen on (%u, %u): %s", cid, port, why);
    }
    return 0;
}

int vsock_accept(int fd, uint32_t *peer_cid, uint32_t *peer_port, struct cl_error *err)
{
    if (real()) {
        struct sockaddr_vm sa;
        socklen_t len = sizeof(sa);
        int c;
        do
            c = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
        while (c < 0 && errno == EINTR);
        if (c < 0)
            return fail_real(err, "vsock accept");
        if (peer_cid)
            *peer_cid = sa.svm_cid;
        if (peer_port)
            *peer_port = sa.svm_port;
        return c;
    }
    const char *why = NULL;
    int c = vcore_accept(fd, SOCK_CLOEXEC, peer_cid, peer_port, &why);
    return c < 0 ? fail_core(err, c, "vsock accept", why) : c;
}

static int name_of(int fd, bool peer, uint32_t *cid, uint32_t *port, struct cl_error *err)
{
    if (real()) {
        struct sockaddr_vm sa;
        socklen_t len = sizeof(sa);
        int rc = peer ? getpeername(fd, (struct sockaddr *)&sa, &len)
                      : getsockname(fd, (struct sockaddr *)&sa, &len);
        if (rc < 0)
            return fail_real(err, peer ? "vsock getpeername" : "vsock getsockname");
        if (cid)
            *cid = sa.svm_cid;
        if (port)
            *port = sa.svm_port;
        return 0;
    }
    struct vcore_entry e;
    if (!vcore_get(fd, &e) || e.kind != VCORE_KIND_VSOCK)
        return fail_core(err, -ENOTSOCK, peer ? "vsock getpeername" : "vsock getsockname",
                         "not a vsock socket");
    if (peer && e.state != VCORE_CONNECTED)
        return fail_core(err, -ENOTCONN, "vsock getpeername", "socket is not connected");
    if (cid)
        *cid = peer ? e.pcid : e.lcid;
    if (port)
        *port = peer ? e.pport : e.lport;
    return 0;
}

int vsock_getsockname(int fd, uint32_t *cid, uint32_t *port, struct cl_error *err)
{
    return name_of(fd, false, cid, port, err);
}

int vsock_getpeername(int fd, uint32_t *cid, uint32_t *port, struct cl_error *err)
{
    return name_of(fd, true, cid, port, err);
}

int vsock_local_cid(uint32_t *cid, struct cl_error *err)
{
    const char *why = NULL;
    int rc = vcore_local_cid(cid, &why);
    return rc < 0 ? fail_core(err, rc, "vsock local CID", why) : 0;
}

int vsock_close(int fd)
{
    if (real())
        return close(fd);
    int rc = vcore_close(fd);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}

int vsock_send_heartbeat(struct cl_error *err)
{
    int rc;
    int fd = vsock_socket(err);
    if (fd < 0)
        return fd;
    rc = vsock_connect(fd, VSOCK_CID_PARENT, VSOCK_HEARTBEAT_PORT, err);
    if (rc < 0)
        goto out;
    uint8_t b = VSOCK_HEARTBEAT_BYTE;
    ssize_t n;
    do
        n = send(fd, &b, 1, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
        rc = cl_fail_errno(err, CL_EIO, "heartbeat: cannot send");
        goto out;
    }
    b = 0;
    do
        n = recv(fd, &b, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        rc = cl_fail_errno(err, CL_EIO, "heartbeat: cannot receive");
        goto out;
    }
    if (n == 0) {
        rc = cl_fail(err, CL_EIO, "heartbeat: the parent closed the connection");
        goto out;
    }
    if (b != VSOCK_HEARTBEAT_BYTE) {
        rc = cl_fail(err, CL_EFORMAT, "heartbeat: the parent answered 0x%02x, not 0x%02x", b,
                     VSOCK_HEARTBEAT_BYTE);
        goto out;
    }
    rc = 0;
out:
    vsock_close(fd);
    return rc;
}
