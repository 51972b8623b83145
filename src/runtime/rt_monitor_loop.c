/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's event loop (rt_monitor.h): one epoll set for signals, the
 * NSM endpoint (a thread per connection), the console, the heartbeat, the
 * vsock broker and OOM notifications, until the enclave ends.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <cloister/vsock.h>

#include "base/log.h"
#include "base/num.h"
#include "nitro_cli/nitro_errors.h"
#include "nsm_device/nsm_endpoint.h"
#include "nsm_device/nsm_module.h"
#include "rt_cgroup.h"
#include "rt_console.h"
#include "rt_state.h"
#include "rt_trace.h"
#include "rt_util.h"
#include "vsock_broker/vsock_broker.h"

#include "rt_monitor_internal.h"

/* NSM connections an enclave may hold at once, one thread each. */
#define MAX_NSM_CONNECTIONS 64

static atomic_int nsm_connections;

/* ---- NSM --------------------------------------------------------------- */

struct nsm_conn {
    struct nsm_module *nsm;
    int fd;
    char id[NSM_MODULE_ID_MAX + 1];
};

static void nsm_log(void *ctx, const struct cl_error *e)
{
    log_warn("%s: NSM: %s", (const char *)ctx, e->reason);
}

static void *nsm_thread(void *arg)
{
    struct nsm_conn *c = arg;
    struct cl_error err = { 0 };
    if (nsm_endpoint_serve_log(c->nsm, c->fd, nsm_log, c->id, &err) < 0)
        log_info("%s: NSM connection ended: %s", c->id, err.reason);
    close(c->fd);
    free(c);
    atomic_fetch_sub(&nsm_connections, 1);
    return NULL;
}

static void nsm_accept(struct monitor *m)
{
    for (;;) {
        int fd = accept4(m->nsm_listen, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        /* nsm.sock is 0666 (any uid of the enclave uses /dev/nsm) at a
         * public path: refuse other host users, who could otherwise get
         * documents with their own public_key signed as this enclave, or
         * extend and lock its PCR16-31 (docs/security-review.md S1). */
        if (!rt_peer_is_enclave_or_root(fd, m->uid_base, RT_UID_RANGE)) {
            log_info("%s: NSM: refused a connection from outside the enclave", m->id);
            close(fd);
            continue;
        }
        if (atomic_fetch_add(&nsm_connections, 1) >= MAX_NSM_CONNECTIONS) {
            atomic_fetch_sub(&nsm_connections, 1);
            close(fd);
            continue;
        }
        struct nsm_conn *c = calloc(1, sizeof(*c));
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (c) {
            c->nsm = m->nsm;
            c->fd = fd;
            snprintf(c->id, sizeof(c->id), "%s", m->id);
        }
        if (!c || pthread_create(&t, &attr, nsm_thread, c) != 0) {
            free(c);
            close(fd);
            atomic_fetch_sub(&nsm_connections, 1);
        }
        pthread_attr_destroy(&attr);
    }
}

/* ---- the loop ---------------------------------------------------------- */

static void console_read(struct monitor *m)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(m->console_rd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* EIO: the pseudo-terminal has no slave open any more */
            if (n == 0 || errno == EIO) {
                epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->console_rd, NULL);
                close(m->console_rd);
                m->console_rd = -1;
            }
            return;
        }
        /* Production enclaves keep no console once booted (Nitro has none to
         * read); what init says before its heartbeat is kept for E36. */
        if (m->debug || !m->ready)
            rt_console_feed(m->console, buf, (size_t)n);
    }
}

static void heartbeat_serve(struct monitor *m, int fd)
{
    unsigned char b;
    ssize_t r;
    do {
        r = read(fd, &b, 1);
    } while (r < 0 && errno == EINTR);
    if (r == 1 && b == VSOCK_HEARTBEAT_BYTE && write(fd, &b, 1) == 1 && !m->ready) {
        m->ready = true;
        log_info("%s: heartbeat received", m->id);
    }
    epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

static void stop_for_oom(struct monitor *m)
{
    uint64_t kills = rt_cgroup_oom_kills(m->cg);
    if (kills <= m->oom_base || m->oom)
        return;
    log_warn("%s: out of memory (%" PRIu64 " OOM kills): stopping the enclave", m->id, kills - m->oom_base);
    m->oom = true;
    if (m->init_pid > 0)
        kill(m->init_pid, SIGKILL);
}

/* Reaps children (init's end is recorded) and notes a request to stop. */
static void on_signals(struct monitor *m)
{
    struct signalfd_siginfo si;
    while (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo != SIGCHLD) {
            log_info("%s: terminating (signal %u)", m->id, si.ssi_signo);
            m->stopping = true;
            continue;
        }
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
            if (p == m->init_pid) {
                m->init_pid = -1;
                m->init_status = st;
                log_info("%s: init ended (%s %d)", m->id, WIFEXITED(st) ? "status" : "signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            } else if (p == m->vsock_pid) {
                m->vsock_pid = -1;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                    log_warn("%s: the vsock supervisor failed (%s %d)", m->id,
                             WIFEXITED(st) ? "status" : "signal",
                             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            }
        }
    }
}

static void on_console_clients(struct monitor *m, int fd)
{
    for (int c; (c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0;) {
        if (rt_console_add_client(m->console, c) == 0)
            mon_ep_add(m, T_CONSOLE_CLIENT, c, EPOLLRDHUP);
    }
}

static void on_heartbeat_connections(struct monitor *m)
{
    for (;;) {
        int c = -1;
        struct cl_error e = { 0 };
        if (vsock_broker_accept_heartbeat(m->vsock, &c, &e) < 0 || c < 0)
            break;
        mon_ep_add(m, T_HEARTBEAT_CONN, c, EPOLLIN);
    }
}

static void on_event(struct monitor *m, enum tag t, int fd)
{
    struct cl_error e = { 0 };
    switch (t) {
    case T_SIGNAL: on_signals(m); break;
    case T_NSM_LISTEN: nsm_accept(m); break;
    case T_CONSOLE_LISTEN: on_console_clients(m, fd); break;
    case T_CONSOLE_PIPE: console_read(m); break;
    case T_CONSOLE_CLIENT:
        epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, NULL);
        rt_console_drop_client(m->console, fd);
        break;
    case T_OOM:
        rt_cgroup_oom_ack(m->cg);
        stop_for_oom(m);
        break;
    case T_HEARTBEAT_LISTEN: on_heartbeat_connections(m); break;
    case T_HEARTBEAT_CONN: heartbeat_serve(m, fd); break;
    case T_VSOCK:
        if (vsock_broker_dispatch(m->vsock, &e) < 0)
            log_error("%s: vsock broker: %s", m->id, e.reason);
        break;
    }
}

/* How long the loop may sleep: until the boot deadline, the end of the
 * start window, or the next OOM poll. -1: no limit. */
static int loop_timeout(const struct monitor *m, long long boot_deadline)
{
    long long now = rt_now_ms(), until = -1;
    if (!m->ready)
        until = boot_deadline;
    else if (m->status_fd >= 0)
        until = m->ready_ms + RT_START_WINDOW_MS;
    int timeout = until < 0 ? -1 : until > now ? (int)(until - now) : 0;
    if (m->cg && rt_cgroup_oom_fd(m->cg) < 0 && (timeout < 0 || timeout > 1000))
        timeout = 1000;  /* no OOM notification on this host: poll the counter */
    return timeout;
}

/* Booted: run-enclave gets the EnclaveRunInfo, the record says RUNNING.
 * ended: the enclave already ended well within the start window. */
static void report_running(struct monitor *m, const char *ended)
{
    mon_set_state(m, "RUNNING");
    json_t *info = json_object();
    const char *keys[] = { "EnclaveName", "EnclaveID", "ProcessID", "EnclaveCID",
                           "NumberOfCPUs", "CPUIDs", "MemoryMiB" };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        json_object_set(info, keys[k], json_object_get(m->rec, keys[k]));
    if (ended)
        json_object_set_new(info, "Ended", json_string(ended));
    mon_status_send(m, info);
}

/* How the enclave ended: init's report of its command ("exit N" or
 * "signal N" on the status pipe), else init's own wait status. */
static struct rt_end read_end(struct monitor *m)
{
    struct rt_end end = { .exit_status = -1, .out_of_memory = m->oom,
                          .memory_mib = m->memory_mib };
    char buf[64] = "";
    ssize_t n = m->init_status_rd >= 0 ? read(m->init_status_rd, buf, sizeof(buf) - 1) : -1;
    buf[n > 0 ? n : 0] = '\0';
    char *nl = strchr(buf, '\n');
    uint64_t v;
    if (nl) {
        *nl = '\0';
        const char *sp = strchr(buf, ' ');
        if (sp && num_parse_u64(sp + 1, 255, &v) == 0) {
            end.command = true;
            if (!strncmp(buf, "exit ", 5))
                end.exit_status = (int)v;
            else if (!strncmp(buf, "signal ", 7) && v > 0)
                end.signal = (int)v;
            else
                end.command = false;
        }
    }
    if (!end.command) {
        if (WIFEXITED(m->init_status))
            end.exit_status = WEXITSTATUS(m->init_status);
        else if (WIFSIGNALED(m->init_status))
            end.signal = WTERMSIG(m->init_status);
    }
    return end;
}

/*
 * The enclave ended by itself (init exited, or the memory cgroup killed
 * it): run-enclave hears why if it is still waiting, the end is logged and
 * kept (rt_trace.h; the console tail for a debug enclave), and everything
 * goes.
 */
static void enclave_ended(struct monitor *m)
{
    if (m->console_rd >= 0)
        console_read(m);  /* what is left of the console */
    struct rt_end end = read_end(m);
    char reason[200];
    rt_end_reason(&end, reason, sizeof(reason));
    /* an end the enclave did not choose is worth the log's default level */
    log_msg(end.command && end.exit_status == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
            "%s: the enclave ended: %s", m->id, reason);
    static char tail[RT_TRACE_CONSOLE + 1];
    size_t tlen = rt_console_tail(m->console, tail, sizeof(tail));
    const char *brief = tlen > 1500 ? tail + tlen - 1500 : tail;
    /* kept before anyone hears of the end, so that they find it */
    struct cl_error err = { 0 };
    if (rt_trace_write(m->st, m->rec, &end, m->debug ? tail : NULL, tlen, &err) < 0)
        log_error("%s: cannot keep the trace of its end: %s", m->id, err.reason);
    if (m->status_fd >= 0 && !m->ready) {
        mon_status_error(m, E_ENCLAVE_BOOT_FAILURE,
                         "the enclave's init exited before its ready heartbeat (%s)%s%s", reason,
                         tlen ? "; its last output:\n" : "", brief);
    } else if (m->status_fd >= 0 && end.command && end.exit_status == 0 && !end.out_of_memory) {
        report_running(m, reason);
    } else if (m->status_fd >= 0) {
        bool show = m->debug && tlen;
        mon_status_error(m, E_ENCLAVE_BOOT_FAILURE,
                         "the enclave ended %lld ms after it booted: %s%s%s",
                         rt_now_ms() - m->ready_ms, reason, show ? "; its last output:\n" : "",
                         show ? brief : "");
    }
    mon_teardown(m, true);
}

/* What the enclave's state asks for after a round of events: true when
 * the monitor is done (everything torn down). */
static bool enclave_done(struct monitor *m, long long boot_deadline)
{
    long long now = rt_now_ms();
    if (m->ready && !m->ready_ms)
        m->ready_ms = now;
    if (m->stopping) {
        if (m->status_fd >= 0)
            mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "the enclave was terminated while booting");
        mon_set_state(m, "TERMINATING");
        mon_teardown(m, true);
        return true;
    }
    if (m->init_pid < 0) {
        enclave_ended(m);
        return true;
    }
    /* An enclave that ends within the start window is reported to
     * run-enclave as such, not as running (docs/runtime.md). */
    if (m->ready && m->status_fd >= 0 && now >= m->ready_ms + RT_START_WINDOW_MS)
        report_running(m, NULL);
    if (!m->ready && now >= boot_deadline) {
        mon_status_error(m, E_ENCLAVE_BOOT_FAILURE,
                         "no ready heartbeat from the enclave within %d ms", mon_boot_timeout_ms(m));
        mon_teardown(m, true);
        return true;
    }
    return false;
}
int mon_run_loop(struct monitor *m)
{
    long long boot_deadline = rt_now_ms() + mon_boot_timeout_ms(m);
    struct epoll_event evs[16];
    for (;;) {
        int n = epoll_wait(m->epfd, evs, 16, loop_timeout(m, boot_deadline));
        if (n < 0 && errno != EINTR)
            return mon_status_error(m, E_EPOLL, "epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++)
            on_event(m, (enum tag)(evs[i].data.u64 >> 32), (int)(uint32_t)evs[i].data.u64);
        if (m->cg && !m->oom)
            stop_for_oom(m);
        if (enclave_done(m, boot_deadline))
            return 0;
    }
}
