/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave monitor's entry (rt_monitor.h): arguments, the status pipe to
 * run-enclave, the enclave's record; starting is rt_monitor_start.c's job,
 * serving rt_monitor_loop.c's.
 */
#include "rt_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <cloister/eif.h>

#include "attest_ca/attest_issue.h"
#include "base/log.h"
#include "base/num.h"
#include "eif/eif_json.h"
#include "nitro_cli/nitro_errors.h"
#include "nsm_device/hostconf.h"
#include "nsm_device/nsm_endpoint.h"
#include "nsm_device/nsm_module.h"
#include "rt_cgroup.h"
#include "rt_cpus.h"
#include "rt_state.h"
#include "rt_util.h"
#include "vsock_broker/vsock_broker.h"

#include "rt_monitor_internal.h"

/* ---- status to run-enclave ------------------------------------------ */

void mon_status_send(struct monitor *m, json_t *j)
{
    if (m->status_fd < 0) {
        json_decref(j);
        return;
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (text) {
        size_t len = strlen(text);
        ssize_t w = write(m->status_fd, text, len);
        w = write(m->status_fd, "\n", 1);
        (void)w;
        free(text);
    }
    close(m->status_fd);
    m->status_fd = -1;
}

int mon_status_error(struct monitor *m, int e, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_error("%s%s%s", m->id[0] ? m->id : "", m->id[0] ? ": " : "", msg);
    json_t *j = json_object();
    json_object_set_new(j, "Error", json_integer(e));
    json_object_set_new(j, "Message", json_string(msg));
    mon_status_send(m, j);
    return e;
}

/* ---- arguments ------------------------------------------------------- */

static int parse_args(struct monitor *m, int argc, char **argv, bool *detach)
{
    struct cl_error err = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "--debug")) {
            m->debug = true;
            continue;
        }
        if (!strcmp(a, "--detach")) {
            *detach = true;
            continue;
        }
        if (!v)
            return mon_status_error(m, E_INVALID_ARGUMENT, "monitor: %s needs a value", a);
        i++;
        if (!strcmp(a, "--eif"))
            m->eif_path = v;
        else if (!strcmp(a, "--memory") && num_parse_u64(v, UINT64_MAX / MIB, &n) == 0 && n > 0)
            m->memory_mib = n;
        else if (!strcmp(a, "--cpu-count") && num_parse_u64(v, RT_MAX_CPUS, &n) == 0 && n > 0)
            m->cpu_count = (uint32_t)n;
        else if (!strcmp(a, "--cpu-ids")) {
            if (rt_cpus_parse(v, &m->cpu_ids, &err) < 0 || m->cpu_ids.n == 0)
                return mon_status_error(m, E_INVALID_ARGUMENT, "monitor: bad --cpu-ids '%s'", v);
        } else if (!strcmp(a, "--cid") && num_parse_u64(v, UINT32_MAX - 1, &n) == 0)
            m->want_cid = n;
        else if (!strcmp(a, "--name"))
            m->want_name = v;
        else if (!strcmp(a, "--ca-dir"))
            m->ca_dir = v;
        else if (!strcmp(a, "--status-fd") && num_parse_u64(v, INT_MAX, &n) == 0)
            m->status_fd = (int)n;
        else
            return mon_status_error(m, E_INVALID_ARGUMENT, "monitor: bad argument %s %s", a, v);
    }
    if (m->status_fd >= 0)
        fcntl(m->status_fd, F_SETFD, FD_CLOEXEC);
    if (!m->eif_path || !m->memory_mib || (!m->cpu_count && !m->cpu_ids.n))
        return mon_status_error(m, E_MISSING_ARGUMENT, "monitor: --eif, --memory and CPUs are required");
    return 0;
}

/* ---- the record ------------------------------------------------------- */

static json_t *cpu_array(const uint32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

json_t *mon_new_record(struct monitor *m, const char *name)
{
    json_t *r = json_object();
    json_object_set_new(r, "EnclaveName", json_string(name));
    json_object_set_new(r, "EnclaveID", json_string(m->id));
    json_object_set_new(r, "ProcessID", json_integer(getpid()));
    json_object_set_new(r, "EnclaveCID", json_integer(m->cid));
    json_object_set_new(r, "NumberOfCPUs", json_integer((json_int_t)m->ncpus));
    json_object_set_new(r, "CPUIDs", cpu_array(m->cpus, m->ncpus));
    json_object_set_new(r, "MemoryMiB", json_integer((json_int_t)m->memory_mib));
    json_object_set_new(r, "State", json_string("STARTING"));
    json_object_set_new(r, "Flags", json_string(m->debug ? "DEBUG_MODE" : "NONE"));
    json_object_set_new(r, "Measurements", eif_measurements_json(eif_measurements(m->eif)));
    /* the same projection as describe-eif; nulls for an EIF without metadata */
    json_t *meta = NULL;
    if (eif_metadata_describe_json(m->eif, &meta, NULL) == 0 && meta) {
        json_object_update(r, meta);
    } else {
        json_object_set_new(r, "ImageName", json_null());
        json_object_set_new(r, "ImageVersion", json_null());
        json_object_set_new(r, "Metadata", json_null());
    }
    json_decref(meta);
    json_t *in = json_object();
    json_object_set_new(in, "ProcessStartTime", json_integer((json_int_t)rt_proc_start_time(getpid())));
    json_object_set_new(in, "UidBase", json_integer((json_int_t)m->uid_base));
    json_object_set_new(in, "Cgroups", json_array());
    json_object_set_new(in, "EnclavePID", json_integer(0));
    json_object_set_new(in, "EnclaveStartTime", json_integer(0));
    json_object_set_new(in, "EifPath", json_string(m->eif_path));
    json_object_set_new(r, "Internal", in);
    return r;
}

void mon_save_record(struct monitor *m)
{
    struct cl_error err = { 0 };
    if (m->rec && rt_state_write(m->st, m->rec, &err) < 0)
        log_error("%s: cannot write the record: %s", m->id, err.reason);
}

void mon_set_state(struct monitor *m, const char *state)
{
    json_object_set_new(m->rec, "State", json_string(state));
    mon_save_record(m);
}

/* ---- the attestation signer -------------------------------------------- */

/*
 * Making the signer (the CA's intermediate key decoded and checked against
 * the root, a fresh leaf key and its certificate) is OpenSSL's first use of
 * EC keys in this process: about 5 ms, most of it first-use costs. It needs
 * nothing of the EIF, so a thread makes it on another CPU while the EIF is
 * measured and the enclave allocated. Started once the signals are blocked
 * (they must reach only the signalfd); joined before anything forks, and on
 * every way out (no exit while it is inside OpenSSL).
 */
static struct {
    pthread_t thread;
    bool started;
    const char *ca_dir;
    struct attest_signer *signer;
    int rc;
    struct cl_error err;
} signer_job;

static void *signer_run(void *arg)
{
    (void)arg;
    signer_job.rc =
        attest_signer_new_from_ca(signer_job.ca_dir, &signer_job.signer, &signer_job.err);
    return NULL;
}

static void signer_start(struct monitor *m)
{
    signer_job.ca_dir = m->ca_dir;
    signer_job.started = pthread_create(&signer_job.thread, NULL, signer_run, NULL) == 0;
}

static void signer_join(void)
{
    if (signer_job.started) {
        pthread_join(signer_job.thread, NULL);
        /* the thread's malloc arena would keep its freed pages resident
         * for the enclave's life (0.25 MiB); give them back */
        malloc_trim(0);
    }
    signer_job.started = false;
}

int mon_signer_take(struct monitor *m, struct attest_signer **signer, struct cl_error *err)
{
    *signer = NULL;
    if (!signer_job.started && !signer_job.signer && !signer_job.rc)
        return attest_signer_new_from_ca(m->ca_dir, signer, err);  /* no thread */
    signer_join();
    if (signer_job.rc < 0) {
        if (err)
            *err = signer_job.err;
        return signer_job.rc;
    }
    *signer = signer_job.signer;
    signer_job.signer = NULL;
    return 0;
}

/* ---- sockets ----------------------------------------------------------- */

int mon_ep_add(struct monitor *m, enum tag t, int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.u64 = ((uint64_t)t << 32) | (uint32_t)fd };
    return epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int rt_monitor_main(int argc, char **argv)
{
    struct monitor m;
    memset(&m, 0, sizeof(m));
    m.status_fd = -1;
    m.nsm_listen = m.console_listen = m.console_rd = m.console_wr = m.heartbeat_fd = -1;
    m.init_status_rd = -1;
    m.epfd = m.sigfd = -1;
    m.init_pid = -1;
    m.vsock_pid = -1;
    log_init("cloister-monitor");
    signal(SIGPIPE, SIG_IGN);
    umask(022);

    bool detach = false;
    int rc = parse_args(&m, argc, argv, &detach);
    if (rc)
        return rc;
    /* run-enclave started us in a session of our own and waits for this
     * process: one more fork leaves the monitor neither its child nor a
     * session leader (one that opened a terminal would get it as its
     * controlling terminal). */
    if (detach) {
        pid_t child = fork();
        if (child < 0)
            return mon_status_error(&m, E_DAEMONIZE, "fork: %s", strerror(errno));
        if (child > 0)
            _exit(0);
    }
    struct cl_error err = { 0 };
    if (geteuid() != 0)
        return mon_status_error(&m, E_FILE_PERMISSIONS,
                            "running enclaves needs root (namespaces, cgroups, the CA's keys)");
    if (hostconf_load(&m.host, NULL, &err) < 0)
        return mon_status_error(&m, E_FILE_OPERATION, "host configuration: %s", err.reason);

    /* Signals: handled in the loop through a signalfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signer_start(&m);

    if ((rc = mon_open_and_check_eif(&m)) != 0)
        goto out;
    if ((rc = mon_allocate(&m)) != 0)
        goto out;
    m.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    m.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (m.sigfd < 0 || m.epfd < 0) {
        rc = mon_status_error(&m, E_EPOLL, "signalfd/epoll: %s", strerror(errno));
        goto fail;
    }
    if ((rc = mon_start(&m)) != 0)
        goto fail;
    mon_ep_add(&m, T_SIGNAL, m.sigfd, EPOLLIN);
    mon_ep_add(&m, T_NSM_LISTEN, m.nsm_listen, EPOLLIN);
    if (m.console_listen >= 0)
        mon_ep_add(&m, T_CONSOLE_LISTEN, m.console_listen, EPOLLIN);
    mon_ep_add(&m, T_CONSOLE_PIPE, m.console_rd, EPOLLIN);
    if (rt_cgroup_oom_fd(m.cg) >= 0)
        mon_ep_add(&m, T_OOM, rt_cgroup_oom_fd(m.cg), EPOLLIN);
    if (m.heartbeat_fd >= 0)
        mon_ep_add(&m, T_HEARTBEAT_LISTEN, m.heartbeat_fd, EPOLLIN);
    mon_ep_add(&m, T_VSOCK, vsock_broker_fd(m.vsock), EPOLLIN);
    rc = mon_run_loop(&m);
    goto out;
fail:
    mon_teardown(&m, true);
out:
    signer_join();
    attest_signer_free(signer_job.signer);
    /* Threads serving NSM connections die with the process. */
    json_decref(m.rec);
    rt_state_free(m.st);
    return rc;
}
