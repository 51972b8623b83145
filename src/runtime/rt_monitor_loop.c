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
            if (n == 0) {
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
    if (kills <= m->oom_base || m->stopped)
        return;
    log_warn("%s: out of memory (%" PRIu64 " OOM kills): stopping the enclave", m->id, kills - m->oom_base);
    m->stopped = true;
    char reason[200];
    snprintf(reason, sizeof(reason), "out of memory: the enclave exceeded its %" PRIu64 " MiB limit",
             m->memory_mib);
    json_object_set_new(m->rec, "StopReason", json_string(reason));
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
                log_info("%s: init ended (%s %d)", m->id, WIFEXITED(st) ? "status" : "signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            }
        }
    }
}

static void on_console_clients(struct monitor *m, int fd)
{
    for (int c; (c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0;) {
        if (rt_console_add_client(m->console, c) < 0)
            continue;
        if (m->init_pid < 0)
            rt_console_drop_client(m->console, c);  /* stopped: the output so far, then EOF */
        else
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

/* How long the loop may sleep: until the boot deadline, the end of a
 * stopped enclave's retention, or the next OOM poll. -1: no limit. */
static int loop_timeout(const struct monitor *m, long long boot_deadline)
{
    int timeout = -1;
    long long now = rt_now_ms();
    if (!m->ready && !m->stopped)
        timeout = boot_deadline > now ? (int)(boot_deadline - now) : 0;
    if (m->stopped && m->init_pid < 0)
        timeout = m->retention_deadline > now ? (int)(m->retention_deadline - now) : 0;
    if (m->cg && rt_cgroup_oom_fd(m->cg) < 0 && !m->stopped && (timeout < 0 || timeout > 1000))
        timeout = 1000;  /* no OOM notification on this host: poll the counter */
    return timeout;
}

/* Booted: run-enclave gets the EnclaveRunInfo, the record says RUNNING. */
static void report_running(struct monitor *m)
{
    mon_set_state(m, "RUNNING");
    json_t *info = json_object();
    const char *keys[] = { "EnclaveName", "EnclaveID", "ProcessID", "EnclaveCID",
                           "NumberOfCPUs", "CPUIDs", "MemoryMiB" };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        json_object_set(info, keys[k], json_object_get(m->rec, keys[k]));
    mon_status_send(m, info);
}

/*
 * Stopped (OOM): nothing runs any more, but the record stays (State STOPPED
 * and StopReason) for describe-enclaves, until terminate-enclave or the
 * retention time.
 */
static void keep_stopped_record(struct monitor *m)
{
    if (m->status_fd >= 0)
        mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "%s", rt_rec_str(m->rec, "StopReason"));
    if (m->console_rd >= 0)
        console_read(m);
    mon_teardown(m, false);
    json_t *in = json_object_get(m->rec, "Internal");
    json_object_set_new(in, "EnclavePID", json_integer(0));
    mon_set_state(m, "STOPPED");
    const char *env = getenv("CLOISTER_STOPPED_RETENTION");
    uint64_t s;
    if (!env || !*env || num_parse_u64(env, 7 * 24 * 3600, &s) != 0)
        s = RT_STOPPED_RETENTION_S;
    m->retention_deadline = rt_now_ms() + (long long)s * 1000 + 1;
}

/* What the enclave's state asks for after a round of events: true when
 * the monitor is done (everything torn down). */
static bool enclave_done(struct monitor *m, long long boot_deadline)
{
    if (m->ready && m->status_fd >= 0)
        report_running(m);
    if (m->stopping) {
        if (m->status_fd >= 0)
            mon_status_error(m, E_ENCLAVE_BOOT_FAILURE, "the enclave was terminated while booting");
        mon_set_state(m, "TERMINATING");
        mon_teardown(m, true);
        return true;
    }
    if (m->init_pid < 0 && !m->stopped) {
        /* init ended: so does the enclave (AWS's init reboots here). */
        if (m->status_fd >= 0) {
            char tail[1500];
            rt_console_tail(m->console, tail, sizeof(tail));
            mon_status_error(m, E_ENCLAVE_BOOT_FAILURE,
                             "the enclave's init exited before its ready heartbeat%s%s",
                             tail[0] ? "; its last output:\n" : "", tail);
        }
        /* Drain what is left of the console for connected clients. */
        if (m->console_rd >= 0)
            console_read(m);
        mon_teardown(m, true);
        return true;
    }
    if (m->stopped && m->init_pid < 0 && m->retention_deadline == 0)
        keep_stopped_record(m);
    if (m->stopped && m->init_pid < 0 && rt_now_ms() >= m->retention_deadline) {
        mon_teardown(m, true);
        return true;
    }
    if (!m->ready && !m->stopped && m->init_pid > 0 && rt_now_ms() >= boot_deadline) {
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
        if (m->cg && !m->stopped)
            stop_for_oom(m);
        if (enclave_done(m, boot_deadline))
            return 0;
    }
}
