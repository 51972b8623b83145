/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the supervisor does to the process whose system call it serves: reads
 * and writes its memory (the socket address and option buffers it passed),
 * takes copies of its descriptors and installs new ones in its table. All
 * of it needs ptrace access to the target (the monitor is root; `cloister
 * exec` is the target's parent and of its user).
 *
 * A notification names its target by PID, which may be reused once the
 * target is gone: every use of a PID is followed by a check that the
 * notification is still pending (SECCOMP_IOCTL_NOTIF_ID_VALID), as the
 * kernel's seccomp_unotify(2) describes.
 */
#include "vsock_notify/vsock_notify_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL   /* uapi linux/pidfd.h, Linux 6.9 */
#endif

bool vn_valid(const struct vn_call *c)
{
    uint64_t id = c->id;
    return ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* The thread group (process) of thread tid, from /proc; tid if unknown. */
static pid_t tgid_of(pid_t tid)
{
    char path[64], line[128];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
    FILE *f = fopen(path, "re");
    pid_t tgid = tid;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Tgid: %d", &tgid) == 1)
            break;
    if (f)
        fclose(f);
    return tgid;
}

int vn_getfd(struct vn_call *c, int fd)
{
    if (c->pidfd < 0) {
        /* The notification names a thread; a pidfd names a process (or a
         * thread with PIDFD_THREAD, Linux 6.9). */
        c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, PIDFD_THREAD);
        if (c->pidfd < 0 && errno == EINVAL)   /* before Linux 6.9: by its process */
            c->pidfd = (int)syscall(SYS_pidfd_open, tgid_of(c->pid), 0);
        if (c->pidfd < 0) {
            int e = errno;
            return vn_valid(c) ? -(e == ENOENT ? ESRCH : e) : -ENOENT;
        }
        if (!vn_valid(c))
            return -ENOENT;
    }
    int local = (int)syscall(SYS_pidfd_getfd, c->pidfd, fd, 0);
    if (local < 0) {
        int e = errno;
        return vn_valid(c) ? -(e == ENOENT ? ESRCH : e) : -ENOENT;
    }
    if (!vn_valid(c)) {
        close(local);
        return -ENOENT;
    }
    return local;
}

static int transfer(const struct vn_call *c, uint64_t addr, void *buf, size_t len, bool out)
{
    if (len == 0)
        return 0;
    if (addr == 0)
        return -EFAULT;
    struct iovec local = { buf, len };
    struct iovec remote = { (void *)(uintptr_t)addr, len };
    ssize_t n = out ? process_vm_writev(c->pid, &local, 1, &remote, 1, 0)
                    : process_vm_readv(c->pid, &local, 1, &remote, 1, 0);
    if (n != (ssize_t)len || !vn_valid(c))
        return -EFAULT;
    return 0;
}

int vn_read(const struct vn_call *c, uint64_t addr, void *buf, size_t len)
{
    return transfer(c, addr, buf, len, false);
}

int vn_write(const struct vn_call *c, uint64_t addr, const void *buf, size_t len)
{
    return transfer(c, addr, (void *)buf, len, true);
}

bool vn_cloexec(const struct vn_call *c, int fd)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)c->pid, fd);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return true;
    ssize_t n = read(f, buf, sizeof(buf) - 1);
    close(f);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    /* "pos:\t0\nflags:\t02000002\n...": octal, O_CLOEXEC among them */
    const char *flags = strstr(buf, "flags:");
    unsigned long v;
    return !flags || sscanf(flags, "flags: %lo", &v) != 1 || (v & O_CLOEXEC) != 0;
}

int vn_addfd(const struct vn_call *c, int src, int newfd, bool cloexec, bool send)
{
    struct seccomp_notif_addfd a = {
        .id = c->id,
        .flags = (newfd >= 0 ? SECCOMP_ADDFD_FLAG_SETFD : 0) | (send ? SECCOMP_ADDFD_FLAG_SEND : 0),
        .srcfd = (uint32_t)src,
        .newfd = newfd >= 0 ? (uint32_t)newfd : 0,
        .newfd_flags = cloexec ? O_CLOEXEC : 0,
    };
    int r = ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    return r < 0 ? -errno : r;
}

static void respond(const struct vn_call *c, long long val, int negerrno, uint32_t flags)
{
    struct seccomp_notif_resp r = { .id = c->id, .val = val, .error = negerrno, .flags = flags };
    /* ENOENT: the target went away or was interrupted; nothing to answer. */
    if (ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_SEND, &r) < 0 && errno != ENOENT)
        fprintf(stderr, "vsock supervisor: cannot answer a system call: %s\n", strerror(errno));
}

void vn_reply(const struct vn_call *c, long long val, int negerrno)
{
    respond(c, negerrno ? 0 : val, negerrno, 0);
}

void vn_continue(const struct vn_call *c)
{
    respond(c, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}
