/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <cloister/eif.h>
#include <cloister/vsock.h>

#include "base/num.h"
#include "attest_ca/attest_issue.h"
#include "eif/eif_json.h"
#include "nsm_device/hostconf.h"
#include "base/log.h"
#include "nsm_device/nsm_endpoint.h"
#include "nsm_device/nsm_module.h"
#include "rt_cgroup.h"
#include "rt_console.h"
#include "rt_cpus.h"
#include "nitro_cli/nitro_errors.h"
#include "rt_sandbox.h"
#include "rt_state.h"
#include "rt_util.h"
#include "vsock_broker/vsock_broker.h"

#define MIB (1024ull * 1024ull)
#define MAX_NSM_CONNECTIONS 64

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
    int nsm_listen, console_listen, console_rd, console_wr, heartbeat_fd;
    int epfd, sigfd;
    pid_t init_pid;
    bool ready, stopping, stopped;
    uint64_t oom_base;
    long long retention_deadline;
};

static atomic_int nsm_connections;

/* ---- status to run-enclave ------------------------------------------ */

static void status_send(struct monitor *m, json_t *j)
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

static int status_error(struct monitor *m, int e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int status_error(struct monitor *m, int e, const char *fmt, ...)
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
    status_send(m, j);
    return e;
}

/* ---- arguments ------------------------------------------------------- */

static int parse_args(struct monitor *m, int argc, char **argv)
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
        if (!v)
            return status_error(m, E_INVALID_ARGUMENT, "monitor: %s needs a value", a);
        i++;
        if (!strcmp(a, "--eif"))
            m->eif_path = v;
        else if (!strcmp(a, "--memory") && num_parse_u64(v, UINT64_MAX / MIB, &n) == 0 && n > 0)
            m->memory_mib = n;
        else if (!strcmp(a, "--cpu-count") && num_parse_u64(v, RT_MAX_CPUS, &n) == 0 && n > 0)
            m->cpu_count = (uint32_t)n;
        else if (!strcmp(a, "--cpu-ids")) {
            if (rt_cpus_parse(v, &m->cpu_ids, &err) < 0 || m->cpu_ids.n == 0)
                return status_error(m, E_INVALID_ARGUMENT, "monitor: bad --cpu-ids '%s'", v);
        } else if (!strcmp(a, "--cid") && num_parse_u64(v, UINT32_MAX - 1, &n) == 0)
            m->want_cid = n;
        else if (!strcmp(a, "--name"))
            m->want_name = v;
        else if (!strcmp(a, "--ca-dir"))
            m->ca_dir = v;
        else if (!strcmp(a, "--status-fd") && num_parse_u64(v, INT_MAX, &n) == 0)
            m->status_fd = (int)n;
        else
            return status_error(m, E_INVALID_ARGUMENT, "monitor: bad argument %s %s", a, v);
    }
    if (m->status_fd >= 0)
        fcntl(m->status_fd, F_SETFD, FD_CLOEXEC);
    if (!m->eif_path || !m->memory_mib || (!m->cpu_count && !m->cpu_ids.n))
        return status_error(m, E_MISSING_ARGUMENT, "monitor: --eif, --memory and CPUs are required");
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

static json_t *new_record(struct monitor *m, const char *name)
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

static void save_record(struct monitor *m)
{
    struct cl_error err = { 0 };
    if (m->rec && rt_state_write(m->st, m->rec, &err) < 0)
        log_error("%s: cannot write the record: %s", m->id, err.reason);
}

static void set_state(struct monitor *m, const char *state)
{
    json_object_set_new(m->rec, "State", json_string(state));
    save_record(m);
}

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

/* ---- sockets ----------------------------------------------------------- */

static int ep_add(struct monitor *m, enum tag t, int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.u64 = ((uint64_t)t << 32) | (uint32_t)fd };
    return epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- start ------------------------------------------------------------- */

static const char *exe_dir(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    return buf;
}

static int boot_timeout_ms(struct monitor *m)
{
    const char *env = getenv("CLOISTER_BOOT_TIMEOUT_MS");
    if (env && *env) {
        uint64_t v;
        if (num_parse_u64(env, 24ll * 3600 * 1000, &v) == 0 && v > 0)
            return (int)v;
    }
    /* nitro-cli's calculate_necessary_timeout: 90 s per started 6 GiB of
     * EIF plus 90 s per started 100 GiB of memory. */
    uint64_t size = eif_file_size(m->eif);
    uint64_t a = (size + (6ull << 30) - 1) / (6ull << 30);
    uint64_t b = (m->memory_mib + 100 * 1024 - 1) / (100 * 1024);
    if (a == 0)
        a = 1;
    if (b == 0)
        b = 1;
    return (int)(90000 * (a + b));
}

/*
 * The bytes measured must be the bytes unpacked. eif_open() measures the
 * file now and the sandbox reads the ramdisks from it again later: whoever
 * can write the file (its owner when run-enclave is run for them by root, a
 * group, FUSE) could swap the ramdisks in between, and the enclave would
 * run code its PCRs do not describe (security review S3). A file only root
 * can change is used in place (through our descriptor, so a rename of the
 * path changes nothing); any other is first copied into a sealed memfd,
 * which nobody can write any more. Writes *path_out ("/proc/self/fd/N")
 * and *fd_out (kept open for the monitor's life); leaves them alone when
 * the file cannot be opened (eif_open then reports it).
 */
static bool only_root_can_write(int fd, const struct stat *st)
{
    if (st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)))
        return false;
    /* an access ACL may grant write to others */
    if (fgetxattr(fd, "system.posix_acl_access", NULL, 0) >= 0 || errno == ERANGE)
        return false;
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0)
        return false;
    /* file systems whose content another party serves */
    switch ((unsigned long)fs.f_type) {
    case 0x65735546UL: /* FUSE */
    case 0x6969UL:     /* NFS */
    case 0xFF534D42UL: /* CIFS */
    case 0xFE534D42UL: /* SMB2 */
    case 0x01021997UL: /* 9P */
        return false;
    default:
        return true;
    }
}

static int stable_eif(struct monitor *m, char *path_out, size_t cap, int *fd_out)
{
    int fd = open(m->eif_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    if (!only_root_can_write(fd, &st)) {
        int mfd = memfd_create("cloister-eif", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0) {
            close(fd);
            return status_error(m, E_FILE_OPERATION, "cannot copy '%s': memfd: %s", m->eif_path,
                                strerror(errno));
        }
        for (;;) {
            ssize_t n = sendfile(mfd, fd, NULL, 1 << 30);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                int e = errno;
                close(fd);
                close(mfd);
                return status_error(m, E_FILE_OPERATION, "cannot copy '%s': %s", m->eif_path,
                                    strerror(e));
            }
            if (n == 0)
                break;
        }
        close(fd);
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
            int e = errno;
            close(mfd);
            return status_error(m, E_FILE_OPERATION, "cannot seal the copy of '%s': %s",
                                m->eif_path, strerror(e));
        }
        fd = mfd;
    }
    snprintf(path_out, cap, "/proc/self/fd/%d", fd);
    *fd_out = fd;
    return 0;
}

static int open_and_check_eif(struct monitor *m)
{
    struct cl_error err = { 0 };
    char stable[64];
    int stable_fd = -1, src;
    if ((src = stable_eif(m, stable, sizeof(stable), &stable_fd)) != 0)
        return src;
    int orc = eif_open(stable_fd >= 0 ? stable : m->eif_path, &m->eif, &err);
    if (stable_fd >= 0)
        close(stable_fd);  /* eif_open holds its own descriptor of the same file */
    if (orc < 0) {
        if (err.code == CL_ENOTFOUND || err.code == CL_EIO || err.code == CL_EINVAL)
            return status_error(m, E_FILE_OPERATION, "%s", err.reason);
        return status_error(m, E_EIF_PARSING, "%s", err.reason);
    }
    if (!eif_crc_ok(m->eif))
        return status_error(m, E_EIF_PARSING,
                            "the CRC of '%s' does not match (stored %08x, computed %08x)",
                            m->eif_path, eif_crc_stored(m->eif), eif_crc_computed(m->eif));
    if (eif_check_signature(m->eif, time(NULL), &err) < 0)
        return status_error(m, E_EIF_SIGNATURE_CHECKER, "%s", err.reason);
    /* nitro-cli (PR #198): memory >= 4 x the EIF's size. */
    uint64_t size = eif_file_size(m->eif);
    uint64_t min_mib = (4 * size + MIB - 1) / MIB;
    if (m->memory_mib < min_mib)
        return status_error(m, E_INSUFFICIENT_MEMORY_REQUESTED,
                            "User provided `memory` is %" PRIu64 " MB, but based on the EIF file "
                            "size, the minimum memory should be %" PRIu64 " MB",
                            m->memory_mib, min_mib);
    if (eif_ramdisk_count(m->eif) == 0)
        return status_error(m, E_EIF_PARSING, "the EIF has no ramdisk");
    return 0;
}

static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".eif"))
        len -= 4;
    return strndup(base, len);
}

static int allocate(struct monitor *m)
{
    struct cl_error err = { 0 };
    json_t *records = NULL;
    int rc = 0;
    char *base = m->want_name ? strdup(m->want_name) : default_name(m->eif_path);
    char name[300];
    if (!base)
        return status_error(m, E_UNSPECIFIED, "out of memory");
    if (rt_state_open(true, &m->st, &err) < 0) {
        free(base);
        return status_error(m, E_FILE_OPERATION, "%s", err.reason);
    }
    if (rt_state_lock(m->st, &err) < 0) {
        free(base);
        return status_error(m, E_LOCK_ACQUIRE, "%s", err.reason);
    }
    if (rt_state_list(m->st, &records, &err) < 0) {
        rc = status_error(m, E_READ_FROM_DISK, "%s", err.reason);
        goto out;
    }
    uint32_t slot;
    if (rt_state_allocate(records, m->want_cid, base, &m->cid, name, sizeof(name), &slot, &err) < 0) {
        if (err.code == CL_EEXIST)
            rc = status_error(m, E_IOCTL_ENCLAVE_START, "%s", err.reason);
        else
            rc = status_error(m, E_ENCLAVE_NAMING, "%s", err.reason);
        goto out;
    }
    m->uid_base = RT_UID_BASE + slot * RT_UID_RANGE;
    if (m->cpu_ids.n) {
        m->ncpus = m->cpu_ids.n;
        memcpy(m->cpus, m->cpu_ids.ids, m->ncpus * sizeof(uint32_t));
    } else {
        struct rt_cpuset online;
        if (rt_cpus_online(&online, &err) < 0) {
            rc = status_error(m, E_CPU_ERROR, "%s", err.reason);
            goto out;
        }
        if (rt_state_pick_cpus(records, online.ids, online.n, m->cpu_count, m->cpus, &err) < 0) {
            rc = status_error(m, E_INSUFFICIENT_CPUS,
                              "User provided `cpu-count` is %u, which is more than the configured "
                              "CPU pool size (the %zu online CPUs).", m->cpu_count, online.n);
            goto out;
        }
        m->ncpus = m->cpu_count;
    }
    m->enclave_uid = nsm_module_new_enclave_id();
    nsm_module_format_id(m->id, m->host.instance_id, m->enclave_uid);
    m->rec = new_record(m, name);
    if (rt_state_enclave_dir(m->st, m->id, m->dir, sizeof(m->dir), &err) < 0 ||
        rt_state_write(m->st, m->rec, &err) < 0) {
        json_decref(m->rec);
        m->rec = NULL;
        rc = status_error(m, E_FILE_OPERATION, "%s", err.reason);
        goto out;
    }
out:
    rt_state_unlock(m->st);
    json_decref(records);
    free(base);
    return rc;
}

/* Everything the enclave used goes; the record last. */
static void teardown(struct monitor *m, bool remove_record)
{
    if (m->init_pid > 0) {
        kill(m->init_pid, SIGKILL);
        while (waitpid(m->init_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        m->init_pid = -1;
    }
    vsock_broker_free(m->vsock);
    m->vsock = NULL;
    rt_cgroup_free(m->cg);
    m->cg = NULL;
    if (m->console)
        rt_console_close_clients(m->console);
    if (remove_record && m->st && m->id[0])
        rt_state_remove(m->st, m->id, NULL);
}

static int start(struct monitor *m)
{
    struct cl_error err = { 0 };
    char path[4200], exe[4096], blob[4200];

    /* cgroups first: the sandbox puts init there before it unpacks. */
    if (rt_cgroup_create(m->id, m->cpus, m->ncpus, m->memory_mib * MIB, &m->cg, &err) < 0)
        return status_error(m, E_UNSPECIFIED, "cgroups: %s", err.reason);
    json_t *in = json_object_get(m->rec, "Internal");
    json_object_set_new(in, "Cgroups", rt_cgroup_paths_json(m->cg));
    json_t *na = rt_cgroup_not_applied_json(m->cg);
    if (json_array_size(na))
        json_object_set_new(m->rec, "LimitsNotApplied", na);
    else
        json_decref(na);
    save_record(m);
    m->oom_base = rt_cgroup_oom_kills(m->cg);

    /* The NSM of this enclave, from our own measurement. */
    struct attest_signer *signer = NULL;
    if (attest_signer_new_from_ca(m->ca_dir, &signer, &err) < 0)
        return status_error(m, E_ENCLAVE_BOOT_FAILURE,
                            "attestation CA%s%s: %s (create one with `cloister attestation-ca init`)",
                            m->ca_dir ? " " : "", m->ca_dir ? m->ca_dir : "", err.reason);
    struct nsm_enclave_config ncfg = {
        .measurements = eif_measurements(m->eif),
        .debug_mode = m->debug,
        .host = &m->host,
        .enclave_id = m->enclave_uid,
    };
    if (nsm_module_new_enclave(&ncfg, signer, &m->nsm, &err) < 0)
        return status_error(m, E_ENCLAVE_BOOT_FAILURE, "NSM: %s", err.reason);
    if (nsm_module_set_rotation(m->nsm, m->ca_dir, &err) < 0)
        return status_error(m, E_ENCLAVE_BOOT_FAILURE, "NSM: %s", err.reason);

    if (rt_path(path, sizeof(path), &err, "%s/nsm.sock", m->dir) < 0 ||
        (m->nsm_listen = rt_unix_listen(path, 0666, &err)) < 0)
        return status_error(m, E_SOCKET, "%s", err.reason);
    char nsm_path[4200];
    snprintf(nsm_path, sizeof(nsm_path), "%s", path);

    m->console = rt_console_new();
    int pfd[2];
    if (!m->console || pipe2(pfd, O_CLOEXEC) < 0)
        return status_error(m, E_UNSPECIFIED, "console: %s", strerror(errno));
    m->console_rd = pfd[0];
    m->console_wr = pfd[1];
    fcntl(m->console_rd, F_SETFL, O_NONBLOCK);
    if (m->debug) {
        if (rt_path(path, sizeof(path), &err, "%s/console.sock", m->dir) < 0 ||
            (m->console_listen = rt_unix_listen(path, 0600, &err)) < 0)
            return status_error(m, E_SOCKET, "%s", err.reason);
    }

    /* vsock: this enclave's broker (docs/vsock.md); the heartbeat comes to it. */
    if (vsock_broker_new(rt_state_dir(m->st), m->cid, &m->vsock, &err) < 0)
        return status_error(m, E_SOCKET, "vsock: %s", err.reason);
    m->heartbeat_fd = vsock_broker_heartbeat_fd(m->vsock);

    /* init: $CLOISTER_INIT_BLOB, else the blobs beside this program. */
    const char *init_blob = getenv("CLOISTER_INIT_BLOB");
    if (!init_blob || !*init_blob) {
        if (!exe_dir(exe, sizeof(exe)))
            return status_error(m, E_BLOBS_PATH_NOT_SET, "cannot find the monitor's directory");
        snprintf(blob, sizeof(blob), "%s/../share/cloister/blobs/init", exe);
        init_blob = blob;
    }
    if (access(init_blob, R_OK) < 0)
        return status_error(m, E_BLOBS_PATH_NOT_SET, "the init blob '%s' is missing", init_blob);

    if (rt_path(path, sizeof(path), &err, "%s/root", m->dir) < 0)
        return status_error(m, E_FILE_OPERATION, "%s", err.reason);
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return status_error(m, E_FILE_OPERATION, "cannot create %s: %s", path, strerror(errno));

    /* The broker's directory, and the preload library that maps AF_VSOCK
     * onto it for unmodified dynamically linked programs. */
    struct rt_bind binds[2];
    size_t nbinds = 0;
    const char *extra_env[2] = { NULL, NULL };
    binds[nbinds++] = (struct rt_bind){ vsock_broker_host_dir(m->vsock), VSOCK_ENCLAVE_DIR, true };
    char preload[4200];
    if (exe_dir(exe, sizeof(exe)) &&
        snprintf(preload, sizeof(preload), "%s/../lib/%s", exe, RT_PRELOAD_LIBRARY) < (int)sizeof(preload) &&
        access(preload, R_OK) == 0) {
        binds[nbinds++] = (struct rt_bind){ preload, RT_PRELOAD_ENCLAVE_PATH, true };
        extra_env[0] = "LD_PRELOAD=" RT_PRELOAD_ENCLAVE_PATH;
    }

    struct rt_sandbox_config cfg = {
        .eif = m->eif,
        .mount_dir = path,
        .memory_mib = m->memory_mib,
        .uid_base = m->uid_base,
        .nsm_socket = nsm_path,
        .init_blob = init_blob,
        .binds = binds,
        .nbinds = nbinds,
        .extra_env = extra_env,
        .hostname = "enclave",
        .console_fd = m->console_wr,
        .timeout_ms = boot_timeout_ms(m),
    };
    pid_t pid;
    if (rt_sandbox_start(&cfg, m->cg, &pid, &err) < 0) {
        if (err.code == CL_EFORMAT)
            return status_error(m, E_EIF_PARSING, "%s", err.reason);
        return status_error(m, E_ENCLAVE_BOOT_FAILURE, "%s", err.reason);
    }
    m->init_pid = pid;
    close(m->console_wr);
    m->console_wr = -1;
    json_object_set_new(in, "EnclavePID", json_integer(pid));
    json_object_set_new(in, "EnclaveStartTime", json_integer((json_int_t)rt_proc_start_time(pid)));
    json_object_set_new(in, "ImageInit", json_boolean(rt_sandbox_used_image_init));
    save_record(m);
    return 0;
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

static int run_loop(struct monitor *m)
{
    long long boot_deadline = rt_now_ms() + boot_timeout_ms(m);
    struct epoll_event evs[16];
    for (;;) {
        int timeout = -1;
        long long now = rt_now_ms();
        if (!m->ready && !m->stopped)
            timeout = boot_deadline > now ? (int)(boot_deadline - now) : 0;
        if (m->stopped && m->init_pid < 0)
            timeout = m->retention_deadline > now ? (int)(m->retention_deadline - now) : 0;
        if (m->cg && rt_cgroup_oom_fd(m->cg) < 0 && !m->stopped && (timeout < 0 || timeout > 1000))
            timeout = 1000;  /* no OOM notification on this host: poll the counter */
        int n = epoll_wait(m->epfd, evs, 16, timeout);
        if (n < 0 && errno != EINTR)
            return status_error(m, E_EPOLL, "epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            enum tag t = (enum tag)(evs[i].data.u64 >> 32);
            int fd = (int)(uint32_t)evs[i].data.u64;
            switch (t) {
            case T_SIGNAL: {
                struct signalfd_siginfo si;
                while (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                    if (si.ssi_signo == SIGCHLD) {
                        int st;
                        pid_t p;
                        while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
                            if (p == m->init_pid) {
                                m->init_pid = -1;
                                log_info("%s: init ended (%s %d)", m->id,
                                         WIFEXITED(st) ? "status" : "signal",
                                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                            }
                        }
                    } else {
                        log_info("%s: terminating (signal %u)", m->id, si.ssi_signo);
                        m->stopping = true;
                    }
                }
                break;
            }
            case T_NSM_LISTEN:
                nsm_accept(m);
                break;
            case T_CONSOLE_LISTEN:
                for (int c; (c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0;) {
                    if (rt_console_add_client(m->console, c) < 0)
                        continue;
                    if (m->init_pid < 0)
                        rt_console_drop_client(m->console, c);  /* stopped: the output so far, then EOF */
                    else
                        ep_add(m, T_CONSOLE_CLIENT, c, EPOLLRDHUP);
                }
                break;
            case T_CONSOLE_PIPE:
                console_read(m);
                break;
            case T_CONSOLE_CLIENT:
                epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, NULL);
                rt_console_drop_client(m->console, fd);
                break;
            case T_OOM:
                rt_cgroup_oom_ack(m->cg);
                stop_for_oom(m);
                break;
            case T_HEARTBEAT_LISTEN:
                for (;;) {
                    int c = -1;
                    struct cl_error e = { 0 };
                    if (vsock_broker_accept_heartbeat(m->vsock, &c, &e) < 0 || c < 0)
                        break;
                    ep_add(m, T_HEARTBEAT_CONN, c, EPOLLIN);
                }
                break;
            case T_HEARTBEAT_CONN:
                heartbeat_serve(m, fd);
                break;
            case T_VSOCK: {
                struct cl_error e = { 0 };
                if (vsock_broker_dispatch(m->vsock, &e) < 0)
                    log_error("%s: vsock broker: %s", m->id, e.reason);
                break;
            }
            }
        }
        if (m->cg && !m->stopped)
            stop_for_oom(m);

        if (m->ready && m->status_fd >= 0) {
            set_state(m, "RUNNING");
            json_t *info = json_object();
            const char *keys[] = { "EnclaveName", "EnclaveID", "ProcessID", "EnclaveCID",
                                   "NumberOfCPUs", "CPUIDs", "MemoryMiB" };
            for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
                json_object_set(info, keys[k], json_object_get(m->rec, keys[k]));
            status_send(m, info);
        }
        if (m->stopping) {
            if (m->status_fd >= 0)
                status_error(m, E_ENCLAVE_BOOT_FAILURE, "the enclave was terminated while booting");
            set_state(m, "TERMINATING");
            teardown(m, true);
            return 0;
        }
        if (m->init_pid < 0 && !m->stopped) {
            /* init ended: so does the enclave (AWS's init reboots here). */
            if (m->status_fd >= 0) {
                char tail[1500];
                rt_console_tail(m->console, tail, sizeof(tail));
                status_error(m, E_ENCLAVE_BOOT_FAILURE,
                             "the enclave's init exited before its ready heartbeat%s%s",
                             tail[0] ? "; its last output:\n" : "", tail);
            }
            /* Drain what is left of the console for connected clients. */
            if (m->console_rd >= 0)
                console_read(m);
            teardown(m, true);
            return 0;
        }
        if (m->stopped && m->init_pid < 0 && m->retention_deadline == 0) {
            if (m->status_fd >= 0)
                status_error(m, E_ENCLAVE_BOOT_FAILURE, "%s",
                             rt_rec_str(m->rec, "StopReason"));
            if (m->console_rd >= 0)
                console_read(m);
            /* Stopped: nothing runs any more, but the record stays (State
             * STOPPED and StopReason) for describe-enclaves, until
             * terminate-enclave or the retention time. */
            teardown(m, false);
            json_t *in = json_object_get(m->rec, "Internal");
            json_object_set_new(in, "EnclavePID", json_integer(0));
            set_state(m, "STOPPED");
            const char *env = getenv("CLOISTER_STOPPED_RETENTION");
            uint64_t s;
            if (!env || !*env || num_parse_u64(env, 7 * 24 * 3600, &s) != 0)
                s = RT_STOPPED_RETENTION_S;
            m->retention_deadline = rt_now_ms() + (long long)s * 1000 + 1;
        }
        if (m->stopped && m->init_pid < 0 && rt_now_ms() >= m->retention_deadline) {
            teardown(m, true);
            return 0;
        }
        if (!m->ready && !m->stopped && m->init_pid > 0 && rt_now_ms() >= boot_deadline) {
            status_error(m, E_ENCLAVE_BOOT_FAILURE,
                         "no ready heartbeat from the enclave within %d ms", boot_timeout_ms(m));
            teardown(m, true);
            return 0;
        }
    }
}

int rt_monitor_main(int argc, char **argv)
{
    struct monitor m;
    memset(&m, 0, sizeof(m));
    m.status_fd = -1;
    m.nsm_listen = m.console_listen = m.console_rd = m.console_wr = m.heartbeat_fd = -1;
    m.epfd = m.sigfd = -1;
    m.init_pid = -1;
    log_init("cloister-monitor");
    signal(SIGPIPE, SIG_IGN);
    umask(022);

    int rc = parse_args(&m, argc, argv);
    if (rc)
        return rc;
    struct cl_error err = { 0 };
    if (geteuid() != 0)
        return status_error(&m, E_FILE_PERMISSIONS,
                            "running enclaves needs root (namespaces, cgroups, the CA's keys)");
    if (hostconf_load(&m.host, NULL, &err) < 0)
        return status_error(&m, E_FILE_OPERATION, "host configuration: %s", err.reason);

    /* Signals: handled in the loop through a signalfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);

    if ((rc = open_and_check_eif(&m)) != 0)
        goto out;
    if ((rc = allocate(&m)) != 0)
        goto out;
    m.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    m.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (m.sigfd < 0 || m.epfd < 0) {
        rc = status_error(&m, E_EPOLL, "signalfd/epoll: %s", strerror(errno));
        goto fail;
    }
    if ((rc = start(&m)) != 0)
        goto fail;
    ep_add(&m, T_SIGNAL, m.sigfd, EPOLLIN);
    ep_add(&m, T_NSM_LISTEN, m.nsm_listen, EPOLLIN);
    if (m.console_listen >= 0)
        ep_add(&m, T_CONSOLE_LISTEN, m.console_listen, EPOLLIN);
    ep_add(&m, T_CONSOLE_PIPE, m.console_rd, EPOLLIN);
    if (rt_cgroup_oom_fd(m.cg) >= 0)
        ep_add(&m, T_OOM, rt_cgroup_oom_fd(m.cg), EPOLLIN);
    if (m.heartbeat_fd >= 0)
        ep_add(&m, T_HEARTBEAT_LISTEN, m.heartbeat_fd, EPOLLIN);
    ep_add(&m, T_VSOCK, vsock_broker_fd(m.vsock), EPOLLIN);
    rc = run_loop(&m);
    goto out;
fail:
    teardown(&m, true);
out:
    /* Threads serving NSM connections die with the process. */
    json_decref(m.rec);
    rt_state_free(m.st);
    return rc;
}
