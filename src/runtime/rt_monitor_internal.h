/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's state and what its three files share: rt_monitor.c (the
 * status pipe, arguments, the record, main), rt_monitor_start.c (checking
 * the image, allocating, starting the sandbox, tearing down) and
 * rt_monitor_loop.c (the event loop: NSM, console, heartbeat, vsock,
 * signals, OOM). Internal to the runtime.
 */
#ifndef CLOISTER_RT_MONITOR_INTERNAL_H
#define CLOISTER_RT_MONITOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "nsm_device/hostconf.h"
#include "nsm_device/nsm_module.h"
#include "rt_allocator.h"
#include "rt_cpus.h"
#include "rt_monitor.h"

#define MIB (1024ull * 1024ull)

/* epoll tags: kind in the high 32 bits, fd in the low. */
enum tag { T_SIGNAL = 1, T_NSM_LISTEN, T_CONSOLE_LISTEN, T_CONSOLE_PIPE, T_CONSOLE_CLIENT,
           T_OOM, T_HEARTBEAT_LISTEN, T_HEARTBEAT_CONN, T_VSOCK };

struct monitor {
    /* from the command line */
    const char *eif_path;
    uint64_t memory_mib;
    uint32_t cpu_count;
    struct rt_cpuset cpu_ids;       /* n == 0 when --cpu-count */
    uint64_t want_cid;
    const char *want_name;
    bool debug;
    const char *ca_dir;
    int status_fd;

    struct eif *eif;
    struct hostconf host;
    struct rt_allocator alloc;      /* the host's share for all enclaves */
    struct rt_state *st;
    json_t *rec;                    /* this enclave's record */
    char id[NSM_MODULE_ID_MAX + 1];
    uint64_t enclave_uid;           /* the 16 hex digits of the ID */
    char dir[4096];
    uint32_t cid;
    uid_t uid_base;
    uint32_t cpus[RT_MAX_CPUS];
    size_t ncpus;

    struct rt_cgroup *cg;
    struct nsm_module *nsm;
    struct rt_console *console;
    struct vsock_broker *vsock;
    int nsm_listen, console_listen, heartbeat_fd;
    int console_rd, console_wr;     /* the console's pseudo-terminal: master, slave */
    char console_path[64];          /* the slave's host path, the enclave's /dev/console */
    int init_status_rd;             /* init reports its command's end here */
    int epfd, sigfd;
    pid_t init_pid;
    pid_t vsock_pid;          /* the vsock supervisor (rt_vsock_supervisor.h) */
    int init_status;                /* init's wait status, once it ended */
    bool ready, stopping, oom;
    long long ready_ms;             /* when the heartbeat came */
    uint64_t oom_base;
};

/* The status pipe to run-enclave: one JSON line (taken), then closed. */
void mon_status_send(struct monitor *m, json_t *j);
/* Logs and sends {"Error": e, "Message": ...}; returns e. */
int mon_status_error(struct monitor *m, int e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The enclave's record (rt_state.h): a new one, written back, its State. */
json_t *mon_new_record(struct monitor *m, const char *name);
void mon_save_record(struct monitor *m);
void mon_set_state(struct monitor *m, const char *state);

/* Adds fd to the loop's epoll set under tag t. */
int mon_ep_add(struct monitor *m, enum tag t, int fd, uint32_t events);

/* rt_monitor_start.c: open and re-measure the EIF, take a CID, name and
 * uid range, start init in the sandbox; undo it all. Each start step
 * returns 0 or the E-number it reported on the status pipe. */
int mon_open_and_check_eif(struct monitor *m);
int mon_allocate(struct monitor *m);
int mon_start(struct monitor *m);
void mon_teardown(struct monitor *m, bool remove_record);
/* How long init has to send its heartbeat. */
int mon_boot_timeout_ms(struct monitor *m);

/* rt_monitor.c: the attestation signer of the CA in m->ca_dir
 * (attest_signer_new_from_ca), made by a thread while the EIF is measured;
 * this waits for it. 0 or the CA's error; *signer is the caller's. */
int mon_signer_take(struct monitor *m, struct attest_signer **signer, struct cl_error *err);

/* rt_monitor_loop.c: serves the enclave until it ends; 0 or an E-number. */
int mon_run_loop(struct monitor *m);

#endif
