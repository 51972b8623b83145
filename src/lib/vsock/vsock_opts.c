/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket options of emulated vsock sockets (docs/vsock.md §6): what
 * getsockopt and setsockopt answer for an AF_VSOCK socket whose fd is really
 * a Unix socket. The callers (the seccomp supervisor, the public API) copy
 * the option value between the program and these functions.
 */
#include "vsock/vsock_core.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <string.h>
#include <sys/time.h>

/* SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW carries a 64-bit timeval (kernel >= 5.1). */
struct timeval64 {
    int64_t tv_sec, tv_usec;
};

#ifndef SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW
#define SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW 8
#endif
#ifndef SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD
#define SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD 6
#endif

void vcore_entry_init(struct vcore_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->kind = VCORE_KIND_VSOCK;
    e->state = VCORE_NEW;
    e->lcid = VMADDR_CID_ANY;
    e->lport = VMADDR_PORT_ANY;
    /* Linux vsock's defaults: 256 KiB buffers, 128-byte minimum, 2 s connect timeout. */
    e->buf_size = 262144;
    e->buf_min = 128;
    e->buf_max = 262144;
    e->connect_timeout_us = 2000000;
}

static int put(void *val, socklen_t *len, const void *v, socklen_t vlen)
{
    if (*len < vlen)
        return -EINVAL;
    memcpy(val, v, vlen);
    *len = vlen;
    return 0;
}

int vcore_sockopt_get(const struct vcore_entry *e, int level, int name, void *val, socklen_t *len)
{
    if (level == SOL_SOCKET) {
        int v;
        switch (name) {
        case SO_DOMAIN: v = AF_VSOCK; return put(val, len, &v, sizeof(v));
        case SO_TYPE: v = SOCK_STREAM; return put(val, len, &v, sizeof(v));
        case SO_PROTOCOL: v = 0; return put(val, len, &v, sizeof(v));
        case SO_ACCEPTCONN:
            v = e->state == VCORE_LISTENING;
            return put(val, len, &v, sizeof(v));
        case SO_ERROR:
            v = e->so_error;
            return put(val, len, &v, sizeof(v));
        }
        return 1;
    }
    if (level != AF_VSOCK)
        return -EOPNOTSUPP;
    uint64_t u;
    switch (name) {
    case SO_VM_SOCKETS_BUFFER_SIZE: u = e->buf_size; return put(val, len, &u, sizeof(u));
    case SO_VM_SOCKETS_BUFFER_MIN_SIZE: u = e->buf_min; return put(val, len, &u, sizeof(u));
    case SO_VM_SOCKETS_BUFFER_MAX_SIZE: u = e->buf_max; return put(val, len, &u, sizeof(u));
    case SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD: {
        struct timeval tv = { .tv_sec = (time_t)(e->connect_timeout_us / 1000000),
                              .tv_usec = (suseconds_t)(e->connect_timeout_us % 1000000) };
        return put(val, len, &tv, sizeof(tv));
    }
    case SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW: {
        struct timeval64 tv = { (int64_t)(e->connect_timeout_us / 1000000),
                                (int64_t)(e->connect_timeout_us % 1000000) };
        return put(val, len, &tv, sizeof(tv));
    }
    }
    return -ENOPROTOOPT;
}

/* A timeval option as microseconds; -EINVAL short, -EDOM out of range. */
static int timeout_us(const void *val, socklen_t len, bool wide, uint64_t *us)
{
    int64_t sec, usec;
    if (wide) {
        struct timeval64 tv;
        if (len < sizeof(tv))
            return -EINVAL;
        memcpy(&tv, val, sizeof(tv));
        sec = tv.tv_sec, usec = tv.tv_usec;
    } else {
        struct timeval tv;
        if (len < sizeof(tv))
            return -EINVAL;
        memcpy(&tv, val, sizeof(tv));
        sec = tv.tv_sec, usec = tv.tv_usec;
    }
    if (sec < 0 || usec < 0 || usec >= 1000000)
        return -EDOM;
    *us = (uint64_t)sec * 1000000 + (uint64_t)usec;
    return 0;
}

int vcore_sockopt_set(struct vcore_entry *e, int level, int name, const void *val, socklen_t len)
{
    if (level == SOL_SOCKET)
        return 1;
    if (level != AF_VSOCK)
        return -EOPNOTSUPP;
    uint64_t u;
    switch (name) {
    case SO_VM_SOCKETS_BUFFER_SIZE:
    case SO_VM_SOCKETS_BUFFER_MIN_SIZE:
    case SO_VM_SOCKETS_BUFFER_MAX_SIZE:
        if (len < sizeof(u))
            return -EINVAL;
        memcpy(&u, val, sizeof(u));
        if (name == SO_VM_SOCKETS_BUFFER_SIZE)
            e->buf_size = u;
        else if (name == SO_VM_SOCKETS_BUFFER_MIN_SIZE)
            e->buf_min = u;
        else
            e->buf_max = u;
        /* Linux keeps min <= size <= max by moving the bounds. */
        if (e->buf_min > e->buf_size)
            e->buf_min = e->buf_size;
        if (e->buf_max < e->buf_size)
            e->buf_max = e->buf_size;
        return 0;
    case SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD:
    case SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW:
        return timeout_us(val, len, name == SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &e->connect_timeout_us);
    }
    return -ENOPROTOOPT;
}
