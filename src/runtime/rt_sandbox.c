/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_sandbox.h"
#include "rt_proc_view.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/num.h"
#include "rt_seccomp.h"
#include "rt_unpack.h"
#include "rt_util.h"
#include "vsock/vsock_core.h"

int rt_sandbox_used_image_init;

#define MSG_MAX 600
#define INIT_MAX (64u << 20)

/* ---- the child (host root in new namespaces until step 5) ------------- */

static int g_sync = -1;

static void child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void child_fail(const char *fmt, ...)
{
    char msg[MSG_MAX];
    int saved = errno;
    msg[0] = 'E';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    (void)saved;
    if (g_sync >= 0) {
        ssize_t w = send(g_sync, msg, strlen(msg), MSG_NOSIGNAL);
        (void)w;
    }
    _exit(1);
}

static void child_fail_errno(const char *what) __attribute__((noreturn));
static void child_fail_errno(const char *what)
{
    child_fail("%s: %s", what, strerror(errno));
}

static void wait_for(char want)
{
    char c;
    ssize_t r;
    do {
        r = recv(g_sync, &c, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r != 1 || c != want)
        _exit(1);  /* the monitor is gone or confused: nobody to report to */
}

static void say(const char *s)
{
    if (send(g_sync, s, strlen(s), MSG_NOSIGNAL) < 0)
        _exit(1);
}

/* Hands the filter's notification listener to the monitor ("L" + the fd). */
static void send_listener(int fd)
{
    if (vcore_send_msg(g_sync, (const uint8_t *)"L", 1, fd, MSG_NOSIGNAL) < 0)
        _exit(1);
    close(fd);
}

static void join(char *out, size_t cap, const char *a, const char *b)
{
    if (snprintf(out, cap, "%s/%s", a, b) >= (int)cap)
        child_fail("path too long: %s/%s", a, b);
}

/* A directory at root/name that is really a directory (a symbolic link or
 * a file the image put there is replaced: a mount must never follow an
 * image's link out of its root). */
static void ensure_dir(const char *root, const char *name, mode_t mode, uid_t owner)
{
    char p[4096];
    struct stat st;
    join(p, sizeof(p), root, name);
    if (lstat(p, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return;
        if (unlink(p) < 0)
            child_fail("cannot replace %s: %s", name, strerror(errno));
    }
    if (mkdir(p, mode) < 0)
        child_fail("cannot create %s: %s", name, strerror(errno));
    if (chown(p, owner, owner) < 0)
        child_fail("cannot chown %s: %s", name, strerror(errno));
}

static void do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
                     const char *data)
{
    if (mount(src, dst, type, flags, data) < 0)
        child_fail("cannot mount %s on %s: %s", src ? src : type ? type : "(remount)", dst, strerror(errno));
}

/* Bind a host file or directory onto root+path (made here). */
static void bind_into(const char *root, const char *host, const char *path, bool ro)
{
    char dst[4096];
    struct stat st;
    if (stat(host, &st) < 0)
        child_fail("cannot bind %s: %s", host, strerror(errno));
    join(dst, sizeof(dst), root, path[0] == '/' ? path + 1 : path);
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(dst, 0755) < 0 && errno != EEXIST)
            child_fail("cannot create %s: %s", path, strerror(errno));
    } else {
        int fd = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            child_fail("cannot create %s: %s", path, strerror(errno));
        close(fd);
    }
    do_mount(host, dst, NULL, MS_BIND, NULL);
    if (ro)
        do_mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

/* Binds host onto path inside the image's root, creating the missing
 * directories and the mount point without ever following a link of the
 * image (a link could point out of the root, at the host's files).
 * Returns false (nothing done) when the path is not safe to create. */
static bool bind_into_image(const char *root, const char *host, const char *path, bool ro)
{
    char rel[4096];
    if (snprintf(rel, sizeof(rel), "%s", path[0] == '/' ? path + 1 : path) >= (int)sizeof(rel))
        return false;
    int dir = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0)
        return false;
    char *save = NULL, *comp = strtok_r(rel, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        if (!strcmp(comp, "..") || !strcmp(comp, ".")) {
            close(dir);
            return false;
        }
        int fd;
        if (next) {
            if (mkdirat(dir, comp, 0755) < 0 && errno != EEXIST) {
                close(dir);
                return false;
            }
            fd = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else {
            /* O_NONBLOCK: a FIFO the image put there must not block us */
            int f = openat(dir, comp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
            if (f >= 0)
                close(f);
            fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            struct stat st;
            if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
                close(fd);
                fd = -1;
            }
        }
        close(dir);
        if (fd < 0)
            return false;
        dir = fd;
        comp = next;
    }
    char target[64];
    snprintf(target, sizeof(target), "/proc/self/fd/%d", dir);
    bool ok = mount(host, target, NULL, MS_BIND, NULL) == 0;
    close(dir);
    if (ok && ro) {
        /* the mount now sits on the path, which holds no link of the image */
        char dst[4096];
        join(dst, sizeof(dst), root, path[0] == '/' ? path + 1 : path);
        do_mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
    }
    return ok;
}

static uint8_t *slurp_fd(int fd, size_t max, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max)
        return NULL;
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return NULL;
    size_t off = 0;
    while (off < (size_t)st.st_size) {
        ssize_t r = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        off += (size_t)r;
    }
    *len = off;
    return buf;
}

/*
 * Is this init Cloister's? Identical to the blob, or carrying its name.
 * Both files are read in pieces through two small buffers, never whole:
 * on a host where every newly touched page costs a fault (virtual
 * machines), reading two 700 KiB inits into fresh memory took longer than
 * unpacking the image (bench/runtime.sh).
 */
static bool is_cloister_init(int fd, const char *blob)
{
    static const char marker[] = "cloister-init";
    enum { PIECE = 32u << 10, KEEP = sizeof(marker) - 2 };
    struct stat st, bst;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > INIT_MAX)
        return false;
    int bfd = open(blob, O_RDONLY | O_CLOEXEC);
    bool same = bfd >= 0 && fstat(bfd, &bst) == 0 && S_ISREG(bst.st_mode) &&
                bst.st_size == st.st_size;
    bool named = false, ok = true;
    /* img keeps the last KEEP bytes of the previous piece in front, so
     * that a name across two pieces is found */
    uint8_t *img = malloc(KEEP + PIECE), *b = malloc(PIECE);
    size_t kept = 0;
    for (off_t off = 0; ok && img && b && off < st.st_size && !named;) {
        size_t n = (size_t)(st.st_size - off < PIECE ? st.st_size - off : PIECE);
        ok = fd_pread_exact(fd, img + kept, n, off, NULL) == 0;
        if (ok && same)
            same = fd_pread_exact(bfd, b, n, off, NULL) == 0 && memcmp(img + kept, b, n) == 0;
        named = ok && memmem(img, kept + n, marker, sizeof(marker) - 1) != NULL;
        size_t have = kept + n;
        kept = have < KEEP ? have : KEEP;
        memmove(img, img + have - kept, kept);
        off += (off_t)n;
    }
    bool yes = img && b && ok && (same || named);
    free(img);
    free(b);
    if (bfd >= 0)
        close(bfd);
    return yes;
}

/* Copies tmp/name into root/name for init (owned by enclave root, 0644). */
static void copy_config(const char *tmp, const char *root, const char *name, uid_t owner,
                        const char *const *extra)
{
    char src[4096], dst[4096];
    join(src, sizeof(src), tmp, name);
    join(dst, sizeof(dst), root, name);
    size_t len = 0;
    uint8_t *data = NULL;
    /* O_NONBLOCK: opening a FIFO the image calls cmd or env would wait for
     * a writer forever (slurp_fd then refuses anything but a regular file) */
    int sfd = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (sfd >= 0) {
        data = slurp_fd(sfd, 1u << 20, &len);
        close(sfd);
        if (!data)
            child_fail("the image's /%s is not a readable file under 1 MiB", name);
    } else if (errno != ENOENT) {
        child_fail("cannot open the image's /%s: %s", name, strerror(errno));
    }
    if (!data && !(extra && extra[0]))
        return;  /* init applies AWS's defaults to a missing file */
    unlink(dst);
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        child_fail("cannot create /%s in the root: %s", name, strerror(errno));
    bool ok = true;
    if (!data) {
        /* AWS init's default environment, plus our lines. */
        static const char def[] = "PATH=/sbin:/usr/sbin:/bin:/usr/bin\n";
        ok = write(fd, def, sizeof(def) - 1) == (ssize_t)(sizeof(def) - 1);
    } else {
        ok = write(fd, data, len) == (ssize_t)len;
        if (ok && len > 0 && data[len - 1] != '\n')
            ok = write(fd, "\n", 1) == 1;
    }
    for (size_t i = 0; ok && extra && extra[i]; i++) {
        size_t l = strlen(extra[i]);
        ok = write(fd, extra[i], l) == (ssize_t)l && write(fd, "\n", 1) == 1;
    }
    free(data);
    if (!ok || fchown(fd, owner, owner) < 0)
        child_fail("cannot write /%s in the root: %s", name, strerror(errno));
    close(fd);
}

static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        child_fail_errno("socket for the loopback");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        child_fail_errno("SIOCGIFFLAGS lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        child_fail_errno("SIOCSIFFLAGS lo");
    close(s);
}

static void build_dev(const char *root, const struct rt_sandbox_config *cfg)
{
    char dev[4096], p[4096];
    ensure_dir(root, "dev", 0755, cfg->uid_base);
    join(dev, sizeof(dev), root, "dev");
    do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m,nr_inodes=256");
    /* Device nodes of the enclave's own tmpfs (made while this process is
     * still root of the host's user namespace, so the kernel honours them):
     * a bind of the host's devtmpfs nodes would show the host's memory size
     * in the enclave's mountinfo (devtmpfs's size= option). /dev/vsock is a
     * stand-in (a null device) on which the vsock supervisor answers
     * IOCTL_VM_SOCKETS_GET_LOCAL_CID (docs/vsock.md §6). */
    static const struct { const char *name; unsigned major, minor; } nodes[] = {
        { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 },
        { "urandom", 1, 9 }, { "tty", 5, 0 }, { "vsock", 1, 3 },
    };
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        join(p, sizeof(p), dev, nodes[i].name);
        if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0 || chmod(p, 0666) < 0)
            child_fail("cannot make /dev/%s: %s", nodes[i].name, strerror(errno));
    }
    bind_into(root, cfg->nsm_socket, "/dev/nsm", false);
    static const char *const links[][2] = {
        { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
        { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        join(p, sizeof(p), dev, links[i][1]);
        if (symlink(links[i][0], p) < 0)
            child_fail("cannot link /dev/%s: %s", links[i][1], strerror(errno));
    }
    join(p, sizeof(p), dev, "shm");
    if (mkdir(p, 01777) < 0)
        child_fail_errno("mkdir /dev/shm");
    char opts[128];
    snprintf(opts, sizeof(opts), "mode=1777,size=%llum", (unsigned long long)cfg->memory_mib);
    do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts);
    for (size_t i = 0; i < cfg->nbinds; i++)
        if (!strncmp(cfg->binds[i].enclave, "/dev/", 5))
            bind_into(root, cfg->binds[i].host, cfg->binds[i].enclave, cfg->binds[i].readonly);
    /* Nothing may be created in /dev afterwards. */
    do_mount("tmpfs", dev, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
             "mode=0755,size=1m,nr_inodes=256");
}

/* The files of /proc that describe the whole machine (its memory, CPUs,
 * load, uptime) are lxcfs's, which answers each reader from its cgroups
 * and PID namespace: the enclave's limits and its own uptime, as a VM
 * would show (docs/runtime.md, "What /proc shows"). */
static void bind_proc_view(const char *proc, const char *view)
{
    char src[4096], dst[4096];
    for (size_t i = 0; rt_proc_view_files[i]; i++) {
        struct stat st;
        join(src, sizeof(src), view, rt_proc_view_files[i]);
        join(dst, sizeof(dst), proc, rt_proc_view_files[i]);
        if (stat(src, &st) == 0 && lstat(dst, &st) == 0 && S_ISREG(st.st_mode))
            do_mount(src, dst, NULL, MS_BIND, NULL);
    }
}

static void build_proc(const char *root, uid_t owner, const struct rt_sandbox_config *cfg)
{
    char proc[4096], p[4096], null[4096];
    ensure_dir(root, "proc", 0555, owner);
    join(null, sizeof(null), root, "dev/null");   /* the enclave's own (build_dev) */
    join(proc, sizeof(proc), root, "proc");
    /* This process is PID 1 of the new PID namespace: proc shows that one. */
    do_mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    /* Files that show host-wide state (other processes' timers and tasks,
     * keys, kernel memory) are masked as container runtimes do. */
    static const char *const masked[] = {
        "kcore", "keys", "timer_list", "sched_debug", "sysrq-trigger",
        "latency_stats", "timer_stats", "kallsyms", "kmsg", "kpagecount", "kpageflags",
    };
    for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
        join(p, sizeof(p), proc, masked[i]);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
            do_mount(null, p, NULL, MS_BIND, NULL);
    }
    static const char *const ro[] = { "sys", "irq", "bus", "fs", "sysvipc" };
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        join(p, sizeof(p), proc, ro[i]);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            do_mount(p, p, NULL, MS_BIND | MS_REC, NULL);
            do_mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        }
    }
    if (cfg->proc_view)
        bind_proc_view(proc, cfg->proc_view);
    /* A boot of its own: the host's boot_id would tell enclaves they share
     * a machine, and when it reboots. */
    if (cfg->boot_id) {
        join(p, sizeof(p), proc, "sys/kernel/random/boot_id");
        do_mount(cfg->boot_id, p, NULL, MS_BIND, NULL);
        do_mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    }
}

static void drop_capabilities(int last_cap)
{
    if (prctl(PR_SET_SECUREBITS,
              SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0) < 0)
        child_fail_errno("PR_SET_SECUREBITS");
    for (int c = 0; c <= last_cap; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail_errno("PR_CAPBSET_DROP");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        child_fail_errno("PR_CAP_AMBIENT_CLEAR_ALL");
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capset, &hdr, data) < 0)
        child_fail_errno("capset");
}

/* The image's ramdisks, unpacked in order into the private tmpfs at tmp. */
static void unpack_ramdisks(const struct rt_sandbox_config *cfg, const char *tmp)
{
    size_t n = eif_ramdisk_count(cfg->eif);
    for (size_t i = 0; i < n; i++) {
        struct cl_error e = { 0 };
        int rc = rt_unpack_eif_ramdisk(cfg->eif, i, tmp, cfg->uid_base, &e);
        if (rc < 0)
            child_fail("%scannot unpack ramdisk %zu: %s", rc == CL_EFORMAT ? "F " : "", i, e.reason);
    }
}

/* Init: the image's when it is Cloister's, else the blob. *image_init
 * says which. */
static int open_init(const struct rt_sandbox_config *cfg, const char *tmp, int *image_init)
{
    char p[4096];
    join(p, sizeof(p), tmp, "init");
    int init_fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    *image_init = init_fd >= 0 && is_cloister_init(init_fd, cfg->init_blob);
    if (!*image_init) {
        if (init_fd >= 0)
            close(init_fd);
        init_fd = open(cfg->init_blob, O_RDONLY | O_CLOEXEC);
        if (init_fd < 0)
            child_fail("cannot open the init blob %s: %s", cfg->init_blob, strerror(errno));
    }
    return init_fd;
}

/* The enclave's root at root: the binds, init's /cmd and /env, /dev,
 * /proc, /tmp, /run and /sys, the loopback network and the hostname. */
static void prepare_root(const struct rt_sandbox_config *cfg, const char *tmp, const char *root)
{
    char p[4096], opts[128];
    /* Binds into the image's own tree (the preload library); the extra
     * environment lines (LD_PRELOAD) only hold when they all succeeded. */
    bool image_binds_ok = true;
    for (size_t i = 0; i < cfg->nbinds; i++) {
        const char *e = cfg->binds[i].enclave;
        if (strncmp(e, "/dev/", 5) != 0 && strncmp(e, "/run/", 5) != 0)
            image_binds_ok &= bind_into_image(root, cfg->binds[i].host, e, cfg->binds[i].readonly);
    }
    copy_config(tmp, root, "cmd", cfg->uid_base, NULL);
    copy_config(tmp, root, "env", cfg->uid_base, image_binds_ok ? cfg->extra_env : NULL);

    /* The root must be a mount point for pivot_root. */
    do_mount(root, root, NULL, MS_BIND | MS_REC, NULL);
    build_dev(root, cfg);
    build_proc(root, cfg->uid_base, cfg);
    ensure_dir(root, "tmp", 01777, cfg->uid_base);
    ensure_dir(root, "run", 0755, cfg->uid_base);
    ensure_dir(root, "sys", 0555, cfg->uid_base);
    join(p, sizeof(p), root, "tmp");
    snprintf(opts, sizeof(opts), "mode=1777,size=%llum", (unsigned long long)cfg->memory_mib);
    do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts);
    join(p, sizeof(p), root, "run");
    snprintf(opts, sizeof(opts), "mode=0755,size=%llum,uid=%u,gid=%u",
             (unsigned long long)cfg->memory_mib, (unsigned)cfg->uid_base, (unsigned)cfg->uid_base);
    do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opts);
    for (size_t i = 0; i < cfg->nbinds; i++)
        if (!strncmp(cfg->binds[i].enclave, "/run/", 5))
            bind_into(root, cfg->binds[i].host, cfg->binds[i].enclave, cfg->binds[i].readonly);

    loopback_up();
    if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
        child_fail_errno("sethostname");
}

/* Makes root the process's / (pivot_root, the old root detached), with no
 * device node or set-id file honoured. */
static void enter_root(const char *root)
{
    if (chdir(root) < 0)
        child_fail_errno("chdir to the root");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        child_fail_errno("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        child_fail_errno("detaching the old root");
    if (chdir("/") < 0)
        child_fail_errno("chdir /");
    do_mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, NULL);
}

/*
 * The last steps before init: standard streams on /dev/null and the
 * console, every other descriptor closed at exec, no_new_privs, death with
 * the monitor, the seccomp filter, then init itself.
 */
static void exec_init(const struct rt_sandbox_config *cfg, int init_fd, int sync)
{
    if (dup2(cfg->console_fd, 0) < 0 || dup2(cfg->console_fd, 1) < 0 ||
        dup2(cfg->console_fd, 2) < 0)
        child_fail_errno("dup2");
    /* Every other descriptor of the monitor closes at exec, but the status
     * pipe, which init gets as fd 3 (and keeps from its command). */
    if (syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) < 0)
        child_fail_errno("close_range");
    if (cfg->status_fd >= 0 && (cfg->status_fd == 3 ? fcntl(3, F_SETFD, 0)
                                                    : dup2(cfg->status_fd, 3)) < 0)
        child_fail_errno("the status pipe");

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail_errno("PR_SET_NO_NEW_PRIVS");
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail_errno("PR_SET_PDEATHSIG");
    /* The monitor may have died before the death signal was armed. */
    struct pollfd pfd = { .fd = sync, .events = POLLIN };
    if (poll(&pfd, 1, 0) != 0)
        _exit(1);
    struct cl_error e = { 0 };
    int notify_fd;
    if (rt_seccomp_load(&notify_fd, &e) < 0)
        child_fail("%s", e.reason);
    /* From here on every vsock call waits for the monitor's supervisor. */
    send_listener(notify_fd);
    char *const argv[] = { "init", NULL };
    char *const envp[] = { "HOME=/", "TERM=linux",
                           cfg->status_fd >= 0 ? "CLOISTER_STATUS_FD=3" : NULL, NULL };
    syscall(SYS_execveat, init_fd, "", argv, envp, AT_EMPTY_PATH);
    child_fail_errno("cannot execute init");
}

static void child_main(const struct rt_sandbox_config *cfg, int sync)
{
    g_sync = sync;
    /* Die with the monitor (set again after the uid change, which clears it). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    wait_for('C');

    char buf[64];
    int last_cap = 40;
    uint64_t v;
    if (rt_read_str("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf), NULL) == 0 &&
        num_parse_u64(buf, 63, &v) == 0)
        last_cap = (int)v;

    if (unshare(CLONE_NEWCGROUP) < 0)
        child_fail_errno("unshare(CLONE_NEWCGROUP)");
    /* Nothing mounted from here on propagates back to the host. */
    do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);

    const char *tmp = cfg->mount_dir;
    char opts[128];
    snprintf(opts, sizeof(opts), "mode=0755,size=%llum", (unsigned long long)cfg->memory_mib);
    do_mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, opts);
    unpack_ramdisks(cfg, tmp);

    char root[4096];
    join(root, sizeof(root), tmp, "rootfs");
    struct stat st;
    if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode))
        child_fail("F the image has no rootfs/ directory (customer ramdisk)");
    int image_init;
    int init_fd = open_init(cfg, tmp, &image_init);
    prepare_root(cfg, tmp, root);
    enter_root(root);

    if (setgroups(0, NULL) < 0)
        child_fail_errno("setgroups");
    if (unshare(CLONE_NEWUSER) < 0)
        child_fail_errno("unshare(CLONE_NEWUSER)");
    say(image_init ? "U1" : "U0");
    wait_for('M');
    if (setresgid(0, 0, 0) < 0)
        child_fail_errno("setresgid");
    if (setresuid(0, 0, 0) < 0)
        child_fail_errno("setresuid");
    drop_capabilities(last_cap);
    exec_init(cfg, init_fd, sync);
}

/* ---- the monitor's side ------------------------------------------------ */

static int recv_msg(int fd, char *msg, size_t cap, long long deadline, int *passed)
{
    for (;;) {
        long long left = deadline - rt_now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        struct iovec iov = { msg, cap - 1 };
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf) };
        ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL;
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int))) {
            int got;
            memcpy(&got, CMSG_DATA(cm), sizeof(int));
            if (passed && *passed < 0)
                *passed = got;
            else
                close(got);
        }
        if (n < 0)
            return -errno;
        msg[n] = '\0';
        return (int)n;   /* 0: the child closed its end (exec succeeded, or died) */
    }
}

static int write_maps(pid_t pid, uid_t base, struct cl_error *err)
{
    char path[64], map[64];
    snprintf(map, sizeof(map), "0 %u %u\n", (unsigned)base, 65536u);
    snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
    int rc = rt_write_str(path, "deny", err);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
    if ((rc = rt_write_str(path, map, err)) < 0)
        return rc;
    snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
    return rt_write_str(path, map, err);
}

int rt_sandbox_start(const struct rt_sandbox_config *cfg, struct rt_cgroup *cg, pid_t *pid,
                     int *notify_fd, struct cl_error *err)
{
    int rc = 0;
    int sv[2];
    *pid = -1;
    *notify_fd = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return cl_fail_errno(err, CL_EIO, "socketpair");
    long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
    pid_t child = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
    if (child < 0) {
        rc = cl_fail_errno(err, CL_EPERM, "cannot create the enclave's namespaces (clone)");
        close(sv[0]);
        close(sv[1]);
        return rc;
    }
    if (child == 0) {
        close(sv[0]);
        child_main(cfg, sv[1]);
        _exit(1);
    }
    close(sv[1]);
    int sync = sv[0];
    long long deadline = rt_now_ms() + (cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000);
    char msg[MSG_MAX];
    if ((rc = rt_cgroup_add_pid(cg, child, err)) < 0)
        goto fail;
    if (send(sync, "C", 1, MSG_NOSIGNAL) != 1) {
        rc = cl_fail_errno(err, CL_EIO, "the enclave's init process is gone");
        goto fail;
    }
    int n = recv_msg(sync, msg, sizeof(msg), deadline, NULL);
    if (n <= 0 || msg[0] != 'U')
        goto child_error;
    rt_sandbox_used_image_init = msg[1] == '1';
    if ((rc = write_maps(child, cfg->uid_base, err)) < 0)
        goto fail;
    if (send(sync, "M", 1, MSG_NOSIGNAL) != 1) {
        rc = cl_fail_errno(err, CL_EIO, "the enclave's init process is gone");
        goto fail;
    }
    /* The vsock listener ("L"), then the end of the connection at exec. */
    n = recv_msg(sync, msg, sizeof(msg), deadline, notify_fd);
    if (n == 1 && msg[0] == 'L' && *notify_fd >= 0)
        n = recv_msg(sync, msg, sizeof(msg), deadline, NULL);
    if (n == 0 && *notify_fd >= 0) {
        close(sync);
        *pid = child;
        return 0;
    }
child_error:
    if (n == -ETIMEDOUT)
        rc = cl_fail(err, CL_ETIMEOUT, "the enclave's preparation timed out");
    else if (n > 1 && msg[0] == 'E' && msg[1] == 'F' && msg[2] == ' ')
        rc = cl_fail(err, CL_EFORMAT, "%s", msg + 3);
    else if (n > 1 && msg[0] == 'E')
        rc = cl_fail(err, CL_EIO, "%s", msg + 1);
    else
        rc = cl_fail(err, CL_EIO, "the enclave's init process died while being prepared");
fail:
    kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
        ;
    close(sync);
    if (*notify_fd >= 0)
        close(*notify_fd);
    *notify_fd = -1;
    return rc;
}
