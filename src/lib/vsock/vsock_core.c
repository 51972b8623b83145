/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cloister's emulated vsock engine; the design and the confinement argument
 * are in docs/vsock.md. This file: the table of emulated sockets, transport
 * detection and paths; vsock_mailbox.c: mailboxes and hellos;
 * vsock_ops.c: socket, bind, listen, connect, accept, close. In short:
 *  - a listener is a "mailbox", a SOCK_DGRAM Unix socket bound at
 *    $RUN/vsock/<cid>/<port> (on the host) or made by the enclave's monitor
 *    (inside an enclave, which never sees $RUN);
 *  - a connector makes a socketpair, keeps one end and posts the other end
 *    to the mailbox with a 24-byte hello naming both addresses; the data then
 *    flows over the socketpair, directly between the two processes;
 *  - inside an enclave the connector asks its monitor's broker instead,
 *    which stamps the true source address and refuses any destination but
 *    the parent.
 */
#include "vsock/vsock_core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vsock/vsock_core_internal.h"
#include "vsock/vsock_sys.h"

int vcore_sys_close(int fd)
{
    return sys_ret(syscall(SYS_close, fd));
}

/* ---- the address table: pages of entries, never freed ------------------ */

#define PAGE_ENTRIES 1024
#define PAGE_COUNT 4096              /* fds below 4 Mi are tracked */

static struct vcore_entry *pages[PAGE_COUNT];
static volatile int table_lock;

static void lock(void)
{
    while (__atomic_test_and_set(&table_lock, __ATOMIC_ACQUIRE))
        sched_yield();
}

static void unlock(void)
{
    __atomic_clear(&table_lock, __ATOMIC_RELEASE);
}

int vcore_get(int fd, struct vcore_entry *e)
{
    if (fd < 0 || fd / PAGE_ENTRIES >= PAGE_COUNT)
        return 0;
    /*
     * Untracked fds, by far the most common, are answered without the
     * lock: pages are never freed, and a signal handler's close() then
     * cannot deadlock on a lock its own thread holds.
     */
    struct vcore_entry *page = __atomic_load_n(&pages[fd / PAGE_ENTRIES], __ATOMIC_ACQUIRE);
    if (!page || __atomic_load_n(&page[fd % PAGE_ENTRIES].kind, __ATOMIC_RELAXED) == VCORE_KIND_NONE)
        return 0;
    int found = 0;
    lock();
    struct vcore_entry *p = pages[fd / PAGE_ENTRIES];
    if (p && p[fd % PAGE_ENTRIES].kind != VCORE_KIND_NONE) {
        *e = p[fd % PAGE_ENTRIES];
        found = 1;
    }
    unlock();
    return found;
}

int vcore_set(int fd, const struct vcore_entry *e)
{
    if (fd < 0)
        return -EBADF;
    if (fd / PAGE_ENTRIES >= PAGE_COUNT)
        return -ENOMEM;
    int rc = 0;
    lock();
    struct vcore_entry **slot = &pages[fd / PAGE_ENTRIES];
    if (!*slot)
        __atomic_store_n(slot, calloc(PAGE_ENTRIES, sizeof(struct vcore_entry)), __ATOMIC_RELEASE);
    if (*slot)
        (*slot)[fd % PAGE_ENTRIES] = *e;
    else
        rc = -ENOMEM;
    unlock();
    return rc;
}

void vcore_forget(int fd)
{
    if (fd < 0 || fd / PAGE_ENTRIES >= PAGE_COUNT)
        return;
    struct vcore_entry *page = __atomic_load_n(&pages[fd / PAGE_ENTRIES], __ATOMIC_ACQUIRE);
    if (!page || __atomic_load_n(&page[fd % PAGE_ENTRIES].kind, __ATOMIC_RELAXED) == VCORE_KIND_NONE)
        return;   /* the common case, without the lock */
    lock();
    struct vcore_entry *p = pages[fd / PAGE_ENTRIES];
    if (p)
        memset(&p[fd % PAGE_ENTRIES], 0, sizeof(*p));
    unlock();
}

/* ---- transport detection ------------------------------------------------ */

static int cached_transport;          /* 0: not yet detected */

void vcore_reset(void)
{
    cached_transport = 0;
    vcore_forget_local_cid();
}

const char *vcore_broker_path(void)
{
    const char *p = getenv("CLOISTER_VSOCK_BROKER");
    return p && *p ? p : "/dev/cloister-vsock/broker";
}

static bool is_chr(const char *path)
{
    struct stat st;
    return sys_stat(path, &st, true) == 0 && S_ISCHR(st.st_mode);
}

static bool af_vsock_works(void)
{
    int fd = sys_socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    vcore_sys_close(fd);
    return true;
}

static int detect(void)
{
    const char *force = getenv("CLOISTER_VSOCK_TRANSPORT");
    if (force && strcmp(force, "real") == 0)
        return VCORE_REAL;
    bool emulate = force && strcmp(force, "emulated") == 0;
    /*
     * Real AF_VSOCK only on Nitro: inside an enclave the NSM driver makes
     * /dev/nsm a character device; on a parent the Nitro Enclaves driver
     * makes /dev/nitro_enclaves one. /dev/vsock alone proves nothing (any
     * VM guest or KVM host has it), and under Cloister host AF_VSOCK would
     * escape the enclave's confinement.
     */
    if (!emulate && (is_chr("/dev/nsm") || is_chr("/dev/nitro_enclaves")) && af_vsock_works())
        return VCORE_REAL;
    struct stat st;
    if (sys_stat(vcore_broker_path(), &st, true) == 0 && S_ISSOCK(st.st_mode))
        return VCORE_ENCLAVE;
    return VCORE_HOST;
}

int vcore_transport(void)
{
    int t = __atomic_load_n(&cached_transport, __ATOMIC_ACQUIRE);
    if (t == 0) {
        t = detect();
        __atomic_store_n(&cached_transport, t, __ATOMIC_RELEASE);
    }
    return t;
}

const char *vcore_run_dir(void)
{
    const char *d = getenv("CLOISTER_RUN_DIR");
    return d && *d ? d : VCORE_DEFAULT_RUN_DIR;
}

uint32_t vcore_random_port(void)
{
    uint32_t r = 0;
    if (sys_getrandom(&r, sizeof(r)) != (long)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u;
    }
    /* Linux vsock_auto_bind: LAST_RESERVED_PORT + 1 + random below U32_MAX - 1023. */
    return 1024u + r % (0xFFFFFFFFu - 1024u);
}

/* ---- paths --------------------------------------------------------------- */

int vcore_cid_dir(const char *run_dir, uint32_t cid, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/" VCORE_DIR "/%u", run_dir, cid);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * The sockaddr_un of dir/name. sun_path holds 107 characters; a longer path
 * goes through /proc/self/fd/<dirfd>/name, which the kernel resolves like
 * any path (the caller closes *dirfd when it is not -1).
 */
int vcore_sun_of(const char *dir, const char *name, struct sockaddr_un *sa, socklen_t *salen,
                 int *dirfd)
{
    *dirfd = -1;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, name);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(sa->sun_path)) {
        int d = sys_openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (d < 0)
            return d;
        n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", d, name);
        if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
            vcore_sys_close(d);
            return -ENAMETOOLONG;
        }
        *dirfd = d;
    }
    *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    return 0;
}

int vcore_mkdir_mode(const char *path, mode_t mode)
{
    int rc = sys_mkdir(path, mode);
    if (rc == 0)
        return sys_chmod(path, mode);  /* mkdir's mode is filtered by the umask */
    if (rc != -EEXIST)
        return rc;
    struct stat st;
    if ((rc = sys_stat(path, &st, false)) < 0)
        return rc;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int vcore_ensure_host_dirs(const char *run_dir, const char **why)
{
    char path[PATH_MAX];
    int rc = vcore_mkdir_mode(run_dir, 0755);
    if (rc < 0) {
        *why = "cannot create the run directory";
        return rc;
    }
    if (snprintf(path, sizeof(path), "%s/" VCORE_DIR, run_dir) >= (int)sizeof(path))
        return *why = "run directory path too long", -ENAMETOOLONG;
    if ((rc = vcore_mkdir_mode(path, 0755)) < 0) {
        *why = "cannot create the vsock directory";
        return rc;
    }
    if (vcore_cid_dir(run_dir, 3, path, sizeof(path)) < 0)
        return *why = "run directory path too long", -ENAMETOOLONG;
    /* Parent programs of every user listen here; sticky like /tmp. */
    if ((rc = vcore_mkdir_mode(path, 01777)) < 0) {
        *why = "cannot create the parent's vsock directory";
        return rc;
    }
    return 0;
}
