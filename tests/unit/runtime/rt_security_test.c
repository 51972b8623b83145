/* SPDX-License-Identifier: Apache-2.0 */
/* Regression tests of the security review (docs/security-review.md):
 * the enclave's seccomp filter against 64-bit argument tricks (S2), and the
 * NSM socket's peer check that keeps other host users out (S1), the PID
 * limit (S5). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "rt_allocator.h"
#include "rt_cgroup.h"
#include "rt_seccomp.h"
#include "rt_state.h"
#include "rt_util.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* Runs fn in a child; returns its exit status (or 200 + signal). */
static int in_child(int (*fn)(void *), void *arg)
{
    pid_t p = fork();
    if (p == 0)
        _exit(fn(arg));
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

/* The enclave's filter in this process, its supervisor's listener closed. */
static int load_filter(void)
{
    struct cl_error err = { 0 };
    int notify_fd;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || rt_seccomp_load(&notify_fd, &err) < 0)
        return -1;
    close(notify_fd);
    return 0;
}

/* 0 when socket(family) fails with want; the bit of the case otherwise. */
static int socket_refused(long family, int want, int bit)
{
    long fd = syscall(SYS_socket, family, (long)SOCK_STREAM, 0L);
    if (fd >= 0) {
        close((int)fd);
        return bit;
    }
    return errno == want ? 0 : bit;
}

static int seccomp_child(void *arg)
{
    (void)arg;
    /* AF_VSOCK goes to the supervisor; with none (its listener closed) the
     * kernel fails the call with ENOSYS: host vsock is never reached. */
    if (load_filter() < 0)
        return 100;
    int bad = 0;
    bad |= socket_refused(AF_VSOCK, ENOSYS, 1);
    /* The kernel reads the family as an int: the high half is dropped, so
     * this is an AF_VSOCK socket too and must be caught the same way. */
    bad |= socket_refused((long)((1ULL << 32) | AF_VSOCK), ENOSYS, 2);
    bad |= socket_refused((long)((0xffffffffULL << 32) | AF_VSOCK), ENOSYS, 4);
    bad |= socket_refused((long)((1ULL << 32) | AF_PACKET), EPERM, 8);
    /* ordinary sockets still work */
    long fd = syscall(SYS_socket, (long)AF_UNIX, (long)SOCK_STREAM, 0L);
    if (fd < 0)
        bad |= 16;
    else
        close((int)fd);
    return bad;
}

/* 0 when socket(AF_NETLINK, type, proto) gives want (0: a socket). */
static int netlink_case(long type, long proto, int want, int bit)
{
    long fd = syscall(SYS_socket, (long)AF_NETLINK, type, proto);
    if (fd >= 0)
        close((int)fd);
    return (fd >= 0 ? 0 : errno) == want ? 0 : bit;
}

static int netlink_child(void *arg)
{
    (void)arg;
    if (load_filter() < 0)
        return 100;
    int bad = 0;
    bad |= netlink_case(SOCK_RAW, NETLINK_ROUTE, 0, 1);            /* glibc, iproute2 */
    bad |= netlink_case(SOCK_DGRAM, NETLINK_ROUTE, 0, 2);
    bad |= netlink_case(SOCK_DGRAM, NETLINK_KOBJECT_UEVENT, EPERM, 4);
    bad |= netlink_case(SOCK_RAW, NETLINK_SOCK_DIAG, EPERM, 8);
    bad |= netlink_case(SOCK_DGRAM, (long)((1ULL << 32) | NETLINK_ROUTE), EPERM, 16);
    /* raw sockets of other families stay refused */
    long fd = syscall(SYS_socket, (long)AF_INET, (long)SOCK_RAW, 1L);
    if (fd >= 0 || errno != EPERM)
        bad |= 32;
    if (fd >= 0)
        close((int)fd);
    return bad;
}

static void test_seccomp_netlink_route_only(void **state)
{
    (void)state;
    assert_int_equal(in_child(netlink_child, NULL), 0);
}

static void test_seccomp_vsock_high_bits(void **state)
{
    (void)state;
    /* bit 2/4/8: the filter compared all 64 bits of an int argument */
    assert_int_equal(in_child(seccomp_child, NULL), 0);
}

struct peer_case {
    const char *path;
    uid_t uid;
};

static int connect_as(void *arg)
{
    struct peer_case *c = arg;
    if (c->uid != 0 && (setresgid(c->uid, c->uid, c->uid) < 0 || setresuid(c->uid, c->uid, c->uid) < 0))
        return 100;
    struct cl_error err = { 0 };
    int fd = rt_unix_connect(c->path, &err);
    if (fd < 0)
        return 101;
    char b;
    /* wait until the parent has looked at us and closed */
    while (read(fd, &b, 1) > 0)
        ;
    close(fd);
    return 0;
}

/* Accepts one connection from a child running as uid, returns the verdict. */
static bool verdict_for(int lfd, const char *path, uid_t uid, uid_t base)
{
    struct peer_case c = { path, uid };
    pid_t p = fork();
    if (p == 0)
        _exit(connect_as(&c));
    int fd = -1;
    for (int i = 0; i < 5000 && fd < 0; i++) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            usleep(1000);
    }
    assert_true(fd >= 0);
    bool ok = rt_peer_is_enclave_or_root(fd, base, RT_UID_RANGE);
    close(fd);
    int st = 0;
    waitpid(p, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return ok;
}

static void test_nsm_peer_check(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    char dir[] = "/tmp/rt_security_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/nsm.sock", dir);
    struct cl_error err = { 0 };
    int lfd = rt_unix_listen(path, 0666, &err);
    assert_true(lfd >= 0);
    chmod(dir, 0755);
    const uid_t base = RT_UID_BASE + 3 * RT_UID_RANGE;
    assert_true(verdict_for(lfd, path, 0, base));                       /* host root */
    assert_true(verdict_for(lfd, path, base, base));                    /* enclave root */
    assert_true(verdict_for(lfd, path, base + 1000, base));             /* enclave uid 1000 */
    assert_false(verdict_for(lfd, path, 65534, base));                  /* host nobody */
    assert_false(verdict_for(lfd, path, 1000, base));                   /* a host user */
    assert_false(verdict_for(lfd, path, base - 1, base));               /* the enclave below */
    assert_false(verdict_for(lfd, path, base + RT_UID_RANGE, base));    /* the enclave above */
    /* not a socket: no credentials */
    assert_false(rt_peer_is_enclave_or_root(-1, base, RT_UID_RANGE));
    close(lfd);
    unlink(path);
    rmdir(dir);
}

/* S5: the enclave's PID limit leaves most of the host's PIDs to the host,
 * and is never above what all enclaves together may have. */
static void test_pids_limit(void **state)
{
    (void)state;
    assert_int_equal(rt_cgroup_pids_max(32768, 16384), 8192);
    assert_int_equal(rt_cgroup_pids_max(4194304, 0), 32768);
    assert_int_equal(rt_cgroup_pids_max(300, 150), 150);
    assert_int_equal(rt_cgroup_pids_max(0, 100000), 256);
}

static struct rt_cpuset four_cpus(void)
{
    struct rt_cpuset online = { .n = 4, .ids = { 0, 1, 2, 3 } };
    return online;
}

/* The host-wide cap's defaults: every CPU, 3/4 of the memory, half of the tasks. */
static void test_allocator_defaults(void **state)
{
    (void)state;
    struct rt_cpuset online = four_cpus();
    struct rt_allocator a;
    rt_allocator_defaults(&online, 24104, 32768, 192735, &a);
    assert_int_equal(a.pool.n, 4);
    assert_int_equal(a.memory_mib, 18078);
    assert_int_equal(a.pids_max, 16384);
    assert_string_equal(a.cgroup_parent, "cloister");
    rt_allocator_defaults(&online, 1024, 4194304, 20000, &a);   /* threads-max is lower */
    assert_int_equal(a.pids_max, 10000);
}

/* nitro-cli's allocator.yaml is read as it is; Cloister's two keys too. */
static void test_allocator_file(void **state)
{
    (void)state;
    struct rt_cpuset online = four_cpus();
    struct rt_allocator a;
    struct cl_error err = { 0 };
    const char *nitro = "---\n# Enclave configuration file.\nmemory_mib: 512\ncpu_count: 2\n";
    rt_allocator_defaults(&online, 8192, 32768, 0, &a);
    assert_int_equal(rt_allocator_parse(nitro, strlen(nitro), "a.yaml", &online, &a, &err), 0);
    assert_int_equal(a.memory_mib, 512);
    assert_int_equal(a.pool.n, 2);
    assert_int_equal(a.pool.ids[0], 2);     /* the last CPUs: CPU 0 stays the host's */
    assert_int_equal(a.pool.ids[1], 3);
    const char *own = "memory_mib: 300\ncpu_pool: 1,3\npids_max: 200\ncgroup_parent: cl-test.1\n";
    assert_int_equal(rt_allocator_parse(own, strlen(own), "a.yaml", &online, &a, &err), 0);
    assert_int_equal(a.pool.n, 2);
    assert_int_equal(a.pool.ids[1], 3);
    assert_int_equal(a.pids_max, 200);
    assert_string_equal(a.cgroup_parent, "cl-test.1");

    static const struct { const char *text, *reason; } bad[] = {
        { "memory_mib: 0\n", "a.yaml:1: memory_mib must be a positive number of MiB, not '0'" },
        { "cpu_count: 2\ncpu_pool: 1\n", "a.yaml: cpu_count and cpu_pool conflict: set only one" },
        { "cpu_count: 5\n", "a.yaml:1: cpu_count is 5, but only 4 CPUs are online" },
        { "cpu_pool: 1,7\n", "a.yaml:1: cpu_pool names CPU 7, which is not online" },
        { "cpu_pool: x\n", "a.yaml:1: cpu_pool must be a CPU list such as 2,3,6-9, not 'x'" },
        { "\npids_max: 3\n", "a.yaml:2: pids_max must be a number of at least 16, not '3'" },
        { "cgroup_parent: ../x\n", "a.yaml:1: cgroup_parent must be one name of letters, digits, "
                                    "'-', '_' or '.' (at most 64), not '../x'" },
        { "memory: 5\n", "a.yaml:1: unknown key 'memory' (memory_mib, cpu_count, cpu_pool, pids_max, "
                          "cgroup_parent)" },
        { "cpu_pool: [1, 2]\n", "a.yaml:1: every entry must be 'key: value'" },
        { "- 1\n", "a.yaml: must be a mapping of keys to values" },
        { "a: [\n", "a.yaml:2: not YAML: did not find expected node content" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cl_error e = { 0 };
        assert_int_equal(rt_allocator_parse(bad[i].text, strlen(bad[i].text), "a.yaml", &online, &a, &e),
                         CL_EFORMAT);
        assert_string_equal(e.reason, bad[i].reason);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seccomp_vsock_high_bits),
        cmocka_unit_test(test_seccomp_netlink_route_only),
        cmocka_unit_test(test_nsm_peer_check),
        cmocka_unit_test(test_pids_limit),
        cmocka_unit_test(test_allocator_defaults),
        cmocka_unit_test(test_allocator_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
