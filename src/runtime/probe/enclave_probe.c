/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-enclave-probe: a test program run INSIDE enclaves by
 * tests/integration/test_runtime*.py. Each check tries one thing an
 * enclave must not be able to do (or must be able to do) and prints one
 * line on stdout, which the tests read through `cloister console`:
 *
 *     PROBE <check> ok                      the call succeeded
 *     PROBE <check> fail <ERRNO NAME> ...   it failed, with errno's name
 *
 * then "PROBE-DONE" and, unless --exit, it sleeps so that the enclave
 * stays up while the test reads its console. Dynamically linked on
 * purpose: its vsock calls are plain AF_VSOCK socket calls that the
 * runtime's preload library maps onto the emulation.
 *
 * Usage: cloister-enclave-probe [--exit] CHECK[=ARG]...
 *   tcp=HOST:PORT  connect over TCP          udp=HOST:PORT  send a UDP datagram
 *   resolve=NAME   getaddrinfo               read=PATH      open and read a file
 *   procs          list /proc's processes    ptrace         PTRACE_ATTACH to PID 1
 *   mount          mount a tmpfs             unshare        unshare(CLONE_NEWUSER / NEWNET)
 *   clone-ns       clone with CLONE_NEWNET   module         finit_module / init_module
 *   hostvsock      socket(AF_VSOCK) and connect to the host (CID 2) by raw system calls
 *   hostvsock-hi   the same with bit 32 of the family set (a seccomp argument trick)
 *   raw            socket(AF_INET, SOCK_RAW) packet   socket(AF_PACKET)
 *   bpf            bpf(BPF_MAP_CREATE)       keyctl         add_key
 *   netlink        socket(AF_NETLINK, SOCK_DGRAM, P) for every protocol P 0..31
 *                  ("netlink-P"), a uevent socket bound to group 1 ("uevent-bind",
 *                  with a bit-32 protocol too: "netlink-hi"), and a route dump over
 *                  SOCK_RAW, as glibc and iproute2 open it ("route-links" names the links)
 *   caps           print CapEff/CapBnd/NoNewPrivs/Seccomp and the uid
 *   vsock=CID:PORT connect over vsock and read a line
 *   listen=PORT    listen on vsock, answer "hello from <cid>" to every connection (forever)
 *   eat=MIB        allocate and touch MIB MiB
 *   run=PROG       run PROG (with its args split on ','), print its stdout as hex
 *   sendrun=PORT:PROG  the same, but send the hex line to the parent (vsock CID 3, PORT)
 *   hostname       print the host name
 *   tty            isatty() of stdin, stdout, stderr and whether /dev/console opens as one
 *   sleep=MS       sleep MS milliseconds      spam=BYTES     write BYTES of 'x' lines
 *   exit=N         exit with status N now     kill=SIG       kill itself with signal SIG
 *   say=TEXT       printf TEXT and a newline, never flushed: shows only if stdout is
 *                  line-buffered, as it is on a terminal
 *   cat=PATH       print every line of PATH as "FILE PATH LINE", then "PROBE cat ok PATH"
 *   forkbomb=MS    fork children that wait until fork fails ("PROBE forkbomb fail
 *                  EAGAIN count=N"), hold them MS milliseconds, then end them
 *   nsmloop=P:S    P processes ask /dev/nsm for attestation documents for S seconds,
 *                  in the background ("PROBE nsmloop ok docs=N" from each at its end)
 *   flood=S        write console lines as fast as the console takes them for S seconds
 *   wait           wait for every child (the nsmloop processes)
 *   kernel         perf_event_open, io_uring_setup, userfaultfd ("perf", "io_uring",
 *                  "userfaultfd"), and getpid through the x32 ABI in a child
 *                  ("x32 ok", "x32 fail ERRNO" or "x32 killed SIGNAME")
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/vm_sockets.h>

static void report(const char *check, int rc, const char *extra)
{
    if (rc >= 0)
        printf("PROBE %s ok%s%s\n", check, extra ? " " : "", extra ? extra : "");
    else
        printf("PROBE %s fail %s%s%s\n", check, strerrorname_np(errno) ? strerrorname_np(errno) : "?",
               extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/* socket(family) and a connect to the host's CID 2, by raw system calls:
 * the result of whichever fails first. */
static int host_vsock(long family)
{
    int fd = (int)syscall(SYS_socket, family, SOCK_STREAM, 0);
    if (fd < 0)
        return fd;
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = 2, .svm_port = 9999 };
    int rc = (int)syscall(SYS_connect, fd, &sa, sizeof(sa));
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int split_hostport(const char *arg, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || (size_t)(colon - arg) >= cap)
        return -1;
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    *port = atoi(colon + 1);
    return 0;
}

static void check_tcp(const char *arg, int type, const char *name)
{
    char host[256];
    int port;
    if (split_hostport(arg, host, sizeof(host), &port) < 0) {
        errno = EINVAL;
        report(name, -1, arg);
        return;
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, type, 0);
    int rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc == 0 && type == SOCK_DGRAM)
        rc = send(fd, "x", 1, 0) == 1 ? 0 : -1;
    report(name, rc, arg);
    if (fd >= 0)
        close(fd);
}

static void check_resolve(const char *name)
{
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(name, "80", NULL, &res);
    if (rc == 0) {
        freeaddrinfo(res);
        report("resolve", 0, name);
    } else {
        printf("PROBE resolve fail %s %s\n", gai_strerror(rc), name);
        fflush(stdout);
    }
}

static void check_read(const char *path)
{
    char buf[64];
    int fd = open(path, O_RDONLY);
    int rc = fd < 0 ? -1 : (int)read(fd, buf, sizeof(buf));
    report("read", rc < 0 ? -1 : 0, path);
    if (fd >= 0)
        close(fd);
}

static void check_stat(const char *path)
{
    struct stat st;
    int rc = lstat(path, &st);
    char extra[400];
    snprintf(extra, sizeof(extra), "%s", path);
    if (rc == 0) {
        const char *type = S_ISREG(st.st_mode)    ? "reg"
                           : S_ISDIR(st.st_mode)  ? "dir"
                           : S_ISLNK(st.st_mode)  ? "lnk"
                           : S_ISCHR(st.st_mode)  ? "chr"
                           : S_ISBLK(st.st_mode)  ? "blk"
                           : S_ISFIFO(st.st_mode) ? "fifo"
                                                  : "other";
        snprintf(extra, sizeof(extra), "%s type=%s mode=%04o rdev=%u,%u", path, type,
                 (unsigned)(st.st_mode & 07777), major(st.st_rdev), minor(st.st_rdev));
    }
    report("stat", rc, extra);
}

static void check_procs(void)
{
    DIR *d = opendir("/proc");
    char line[4096] = "";
    size_t off = 0;
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        n++;
        off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s:%s", off ? "," : "", de->d_name, comm);
        if (off >= sizeof(line))
            break;
    }
    if (d)
        closedir(d);
    printf("PROBE procs ok count=%d %s\n", n, line);
    fflush(stdout);
}

static void check_caps(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256], out[1024] = "";
    size_t off = 0;
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapBnd:", 7) || !strncmp(line, "CapPrm:", 7) ||
            !strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp:", 8)) {
            line[strcspn(line, "\n")] = '\0';
            for (char *p = line; *p; p++)
                if (*p == '\t')
                    *p = ' ';
            off += (size_t)snprintf(out + off, sizeof(out) - off, "%s;", line);
        }
    }
    if (f)
        fclose(f);
    snprintf(out + off, sizeof(out) - off, "uid=%d gid=%d", getuid(), getgid());
    report("caps", 0, out);
}

static int vsock_connect_to(unsigned cid, unsigned port)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void check_vsock(const char *arg)
{
    unsigned cid = 0, port = 0;
    if (sscanf(arg, "%u:%u", &cid, &port) != 2) {
        errno = EINVAL;
        report("vsock", -1, arg);
        return;
    }
    int fd = vsock_connect_to(cid, port);
    if (fd < 0) {
        report("vsock", -1, arg);
        return;
    }
    char buf[128] = "";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    char extra[300];
    snprintf(extra, sizeof(extra), "%s reply=%s", arg, buf);
    report("vsock", 0, extra);
    close(fd);
}

static void serve_vsock(const char *arg)
{
    unsigned port = (unsigned)atoi(arg);
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc == 0)
        rc = listen(fd, 8);
    report("listen", rc, arg);
    printf("PROBE-DONE\n");
    fflush(stdout);
    if (rc < 0)
        return;
    unsigned cid = 0;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        cid = sa.svm_cid;
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "hello from %u\n", cid);
        ssize_t w = write(c, msg, (size_t)n);
        (void)w;
        close(c);
    }
}

static void check_eat(const char *arg)
{
    size_t mib = (size_t)atol(arg);
    printf("PROBE eat start %zu\n", mib);
    fflush(stdout);
    for (size_t i = 0; i < mib; i++) {
        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            report("eat", -1, arg);
            return;
        }
        memset(p, 0xa5, 1 << 20);
    }
    report("eat", 0, arg);
}

static void check_run(const char *arg, int port)
{
    char *copy = strdup(arg);
    char *argv[32];
    int n = 0;
    for (char *tok = strtok(copy, ","); tok && n < 31; tok = strtok(NULL, ","))
        argv[n++] = tok;
    argv[n] = NULL;
    int p[2];
    if (n == 0 || pipe(p) < 0) {
        report("run", -1, arg);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    FILE *out = stdout;
    int vfd = -1;
    if (port >= 0) {
        vfd = vsock_connect_to(3 /* the parent */, (unsigned)port);
        out = vfd >= 0 ? fdopen(vfd, "w") : NULL;
        if (!out) {
            report("sendrun", -1, arg);
            return;
        }
    }
    fprintf(out, "PROBE run-output ");
    unsigned char buf[4096];
    ssize_t r;
    while ((r = read(p[0], buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < r; i++)
            fprintf(out, "%02x", buf[i]);
    fprintf(out, "\n");
    if (out != stdout)
        fclose(out);
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    char extra[64];
    snprintf(extra, sizeof(extra), "status=%d", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    report("run", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : (errno = ECHILD, -1), extra);
    free(copy);
}

static void check_tty(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    char extra[128];
    snprintf(extra, sizeof(extra), "stdin=%d stdout=%d stderr=%d console=%d", isatty(0),
             isatty(1), isatty(2), fd >= 0 && isatty(fd));
    report("tty", fd < 0 ? -1 : 0, extra);
    if (fd >= 0)
        close(fd);
}

/* BYTES of output in 64-byte lines, through stdio as programs write. */
static void spam(size_t bytes)
{
    for (size_t done = 0; done + 64 <= bytes; done += 64)
        printf("%063zu\n", done / 64);
    fflush(stdout);
}

/* The netlink protocols an enclave may open (only NETLINK_ROUTE) and may
 * not, the host's device events first among them. */
static void check_netlink(void)
{
    char name[32];
    for (int proto = 0; proto < 32; proto++) {
        snprintf(name, sizeof(name), "netlink-%d", proto);
        int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, proto);
        report(name, fd, NULL);
        if (fd >= 0)
            close(fd);
    }
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
    report("uevent-bind", fd < 0 ? fd : bind(fd, (struct sockaddr *)&sa, sizeof(sa)), NULL);
    if (fd >= 0)
        close(fd);
    /* the protocol is an int: bit 32 set must not slip a uevent socket past */
    fd = (int)syscall(SYS_socket, AF_NETLINK, SOCK_DGRAM, (long)((1ULL << 32) | NETLINK_KOBJECT_UEVENT));
    report("netlink-hi", fd, NULL);
    if (fd >= 0)
        close(fd);
    /* RTM_GETLINK dump: the links of the enclave's own network namespace */
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct { struct nlmsghdr h; struct ifinfomsg i; } req = {
        .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
        .i = { .ifi_family = AF_UNSPEC },
    };
    char links[256] = "";
    int rc = fd < 0 ? -1 : (int)send(fd, &req, sizeof(req), 0);
    for (bool done = rc < 0; !done;) {
        static char buf[16384];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            rc = -1;
            break;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            struct ifinfomsg *ifi = NLMSG_DATA(h);
            int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));
            for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == IFLA_IFNAME && strlen(links) + strlen(RTA_DATA(a)) + 2 < sizeof(links)) {
                    strcat(links, links[0] ? "," : "");
                    strcat(links, RTA_DATA(a));
                }
        }
    }
    report("route-links", rc, links);
    if (fd >= 0)
        close(fd);
}

static void check_cat(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        report("cat", -1, path);
        return;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        printf("FILE %s %s\n", path, line);
    }
    fclose(f);
    report("cat", 0, path);
}

static void check_forkbomb(int hold_ms)
{
    int sync[2];
    if (pipe(sync) < 0) {
        report("forkbomb", -1, "pipe");
        return;
    }
    long count = 0;
    pid_t pid;
    for (;;) {
        pid = fork();
        if (pid == 0) {
            char b;
            close(sync[1]);
            (void)!read(sync[0], &b, 1);   /* until the parent closes its end */
            _exit(0);
        }
        if (pid < 0)
            break;
        count++;
    }
    int e = errno;
    char extra[64];
    snprintf(extra, sizeof(extra), "count=%ld", count);
    errno = e;
    report("forkbomb", -1, extra);
    usleep((useconds_t)hold_ms * 1000);
    close(sync[1]);
    close(sync[0]);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
}

/* {"Attestation": {"user_data": null, "nonce": null, "public_key": null}},
 * as nsm-api encodes the request, behind the emulation's 4-byte length. */
static const unsigned char ATTESTATION_REQUEST[] =
    "\xa1\x6b" "Attestation" "\xa3\x69" "user_data" "\xf6\x65" "nonce" "\xf6\x6a" "public_key" "\xf6";

static int read_full(int fd, unsigned char *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static void nsm_loop(int seconds)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/nsm" };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        report("nsmloop", -1, NULL);
        _exit(1);
    }
    size_t len = sizeof(ATTESTATION_REQUEST) - 1;
    unsigned char frame[4 + sizeof(ATTESTATION_REQUEST)], resp[0x3000];
    frame[0] = 0;
    frame[1] = 0;
    frame[2] = (unsigned char)(len >> 8);
    frame[3] = (unsigned char)len;
    memcpy(frame + 4, ATTESTATION_REQUEST, len);
    time_t end = time(NULL) + seconds;
    long docs = 0;
    while (time(NULL) < end) {
        unsigned char head[4];
        if (write(fd, frame, 4 + len) != (ssize_t)(4 + len) || read_full(fd, head, 4) < 0)
            break;
        size_t n = ((size_t)head[0] << 24) | ((size_t)head[1] << 16) | ((size_t)head[2] << 8) | head[3];
        if (n > sizeof(resp) || read_full(fd, resp, n) < 0)
            break;
        docs++;
    }
    char extra[64];
    snprintf(extra, sizeof(extra), "docs=%ld", docs);
    report("nsmloop", docs > 0 ? 0 : -1, extra);
    _exit(0);
}

static void check_nsmloop(const char *arg)
{
    int procs = atoi(arg);
    const char *colon = strchr(arg, ':');
    int seconds = colon ? atoi(colon + 1) : 1;
    for (int i = 0; i < procs; i++)
        if (fork() == 0)
            nsm_loop(seconds);
}

static void flood(int seconds)
{
    static const char line[] = "flood flood flood flood flood flood flood flood flood flood flood\n";
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end)
        for (int i = 0; i < 256; i++)
            (void)!write(1, line, sizeof(line) - 1);
}

static void check_kernel(void)
{
    report("perf", (int)syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), NULL);
    report("io_uring", (int)syscall(SYS_io_uring_setup, 1, NULL), NULL);
    report("userfaultfd", (int)syscall(SYS_userfaultfd, 0), NULL);
    pid_t pid = fork();
    if (pid == 0) {
        long r = syscall(0x40000000L | SYS_getpid);   /* __X32_SYSCALL_BIT */
        _exit(r < 0 ? 100 + (errno & 0x7f) : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("PROBE x32 killed %s\n", sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
    else if (WEXITSTATUS(st) == 0)
        printf("PROBE x32 ok\n");
    else
        printf("PROBE x32 fail %s\n", strerrorname_np(WEXITSTATUS(st) - 100) ?: "?");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bool exit_after = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        char *eq = strchr(a, '=');
        const char *arg = eq ? eq + 1 : "";
        if (eq)
            *eq = '\0';
        if (!strcmp(a, "--exit"))
            exit_after = true;
        else if (!strcmp(a, "tcp"))
            check_tcp(arg, SOCK_STREAM, "tcp");
        else if (!strcmp(a, "udp"))
            check_tcp(arg, SOCK_DGRAM, "udp");
        else if (!strcmp(a, "resolve"))
            check_resolve(arg);
        else if (!strcmp(a, "read"))
            check_read(arg);
        else if (!strcmp(a, "stat"))
            check_stat(arg);
        else if (!strcmp(a, "procs"))
            check_procs();
        else if (!strcmp(a, "ptrace"))
            report("ptrace", (int)ptrace(PTRACE_ATTACH, 1, NULL, NULL), NULL);
        else if (!strcmp(a, "mount"))
            report("mount", mount("tmpfs", "/tmp", "tmpfs", 0, NULL), NULL);
        else if (!strcmp(a, "unshare")) {
            report("unshare-user", unshare(CLONE_NEWUSER), NULL);
            report("unshare-net", unshare(CLONE_NEWNET), NULL);
        } else if (!strcmp(a, "clone-ns")) {
            long pid = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, NULL, NULL, NULL, 0);
            if (pid == 0)
                _exit(0);
            if (pid > 0)
                waitpid((pid_t)pid, NULL, 0);
            report("clone-ns", pid < 0 ? -1 : 0, NULL);
        } else if (!strcmp(a, "module")) {
            int fd = open("/proc/self/exe", O_RDONLY);
            report("finit_module", (int)syscall(SYS_finit_module, fd, "", 0), NULL);
            report("init_module", (int)syscall(SYS_init_module, "\x7f" "ELF", (unsigned long)4, ""), NULL);
        } else if (!strcmp(a, "hostvsock"))
            report("hostvsock", host_vsock(AF_VSOCK), NULL);
        else if (!strcmp(a, "hostvsock-hi"))
            /* the family with high bits set: the kernel reads an int */
            report("hostvsock-hi", host_vsock((long)((1ULL << 32) | AF_VSOCK)), NULL);
        else if (!strcmp(a, "raw"))
            report("raw", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), NULL);
        else if (!strcmp(a, "packet"))
            report("packet", socket(AF_PACKET, SOCK_RAW, 0), NULL);
        else if (!strcmp(a, "bpf"))
            report("bpf", (int)syscall(SYS_bpf, 0, NULL, 0), NULL);
        else if (!strcmp(a, "netlink"))
            check_netlink();
        else if (!strcmp(a, "keyctl"))
            report("keyctl", (int)syscall(SYS_add_key, "user", "k", "v", 1, -2), NULL);
        else if (!strcmp(a, "caps"))
            check_caps();
        else if (!strcmp(a, "vsock"))
            check_vsock(arg);
        else if (!strcmp(a, "listen"))
            serve_vsock(arg);
        else if (!strcmp(a, "eat"))
            check_eat(arg);
        else if (!strcmp(a, "run"))
            check_run(arg, -1);
        else if (!strcmp(a, "sendrun")) {
            const char *colon = strchr(arg, ':');
            check_run(colon ? colon + 1 : "", colon ? atoi(arg) : -1);
        }
        else if (!strcmp(a, "say"))
            printf("%s\n", arg);
        else if (!strcmp(a, "tty"))
            check_tty();
        else if (!strcmp(a, "sleep"))
            usleep((useconds_t)atoi(arg) * 1000);
        else if (!strcmp(a, "spam"))
            spam((size_t)atol(arg));
        else if (!strcmp(a, "exit"))
            exit(atoi(arg));
        else if (!strcmp(a, "kernel"))
            check_kernel();
        else if (!strcmp(a, "cat"))
            check_cat(arg);
        else if (!strcmp(a, "forkbomb"))
            check_forkbomb(atoi(arg));
        else if (!strcmp(a, "nsmloop"))
            check_nsmloop(arg);
        else if (!strcmp(a, "flood"))
            flood(atoi(arg));
        else if (!strcmp(a, "wait"))
            while (wait(NULL) > 0 || errno == EINTR)
                ;
        else if (!strcmp(a, "kill"))
            kill(getpid(), atoi(arg));
        else if (!strcmp(a, "hostname")) {
            char h[256] = "";
            gethostname(h, sizeof(h));
            report("hostname", 0, h);
        } else {
            printf("PROBE %s unknown\n", a);
        }
    }
    printf("PROBE-DONE\n");
    fflush(stdout);
    if (!exit_after)
        for (;;)
            pause();
    return 0;
}
