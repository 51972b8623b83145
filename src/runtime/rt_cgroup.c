/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/num.h"
#include "rt_cpus.h"
#include "rt_util.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The controllers used; the first three are limits (a host without one is
 * told in "LimitsNotApplied"), the others give the monitor its share and
 * count the enclave's CPU time where the host has them. */
enum ctl { C_CPUSET, C_MEMORY, C_PIDS, C_CPU, C_CPUACCT, C_N };
static const char *const ctl_names[C_N] = { "cpuset", "memory", "pids", "cpu", "cpuacct" };

struct rt_cgroup {
    char *dirs[C_N];          /* the distinct <root>/<parent>/<id> directories */
    size_t ndirs;
    char *mnts[C_N];          /* their hierarchies' roots, in the same order */
    char *mem_leaf;           /* <id>/enclave of the memory controller */
    int mem_version;          /* 1 or 2; 0 when no memory cgroup */
    int oom_fd;
    int oom_ctl_fd;           /* v1: memory.oom_control kept open for the eventfd */
    bool monitor_in;          /* the monitor is in its leaves */
    json_t *not_applied;
};

/* Where a controller lives: a v1 mount of its own, or the unified hierarchy. */
struct where {
    int version;              /* 0 none, 1, 2 */
    char mnt[1024];
};

static void find_controller(const char *ctl, struct where *w, const char *v2_mnt)
{
    w->version = 0;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f) {
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
            /* id parent major:minor root mountpoint opts [optional...] - fstype source superopts */
            char *sep = strstr(line, " - ");
            if (!sep)
                continue;
            char fstype[64], source[256], superopts[1024];
            if (sscanf(sep + 3, "%63s %255s %1023s", fstype, source, superopts) != 3)
                continue;
            if (strcmp(fstype, "cgroup"))
                continue;
            bool has = false;
            char *save = NULL;
            for (char *tok = strtok_r(superopts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                if (!strcmp(tok, ctl))
                    has = true;
            if (!has)
                continue;
            char root[1024], mnt[1024];
            if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) != 2)
                continue;
            w->version = 1;
            snprintf(w->mnt, sizeof(w->mnt), "%s", mnt);
            break;
        }
        fclose(f);
    }
    if (w->version || !v2_mnt[0])
        return;
    char path[1200], buf[1024];
    snprintf(path, sizeof(path), "%s/cgroup.controllers", v2_mnt);
    if (rt_read_str(path, buf, sizeof(buf), NULL) < 0)
        return;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        if (!strcmp(tok, ctl)) {
            w->version = 2;
            snprintf(w->mnt, sizeof(w->mnt), "%s", v2_mnt);
        }
}

static void find_v2(char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        char *sep = strstr(line, " - ");
        char fstype[64], mnt[1024];
        if (!sep || sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
            continue;
        if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) == 1) {
            snprintf(out, cap, "%s", mnt);
            break;
        }
    }
    fclose(f);
}

static void not_applied(struct rt_cgroup *cg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void not_applied(struct rt_cgroup *cg, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(cg->not_applied, json_string(msg));
}

/* Records dir (and its hierarchy's root) once; the v2 hierarchy serves
 * several controllers from one directory. */
static char *add_dir(struct rt_cgroup *cg, const char *path, const char *mnt)
{
    for (size_t i = 0; i < cg->ndirs; i++)
        if (!strcmp(cg->dirs[i], path))
            return cg->dirs[i];
    char *d = strdup(path), *m = strdup(mnt);
    if (!d || !m) {
        free(d);
        free(m);
        return NULL;
    }
    cg->dirs[cg->ndirs] = d;
    cg->mnts[cg->ndirs++] = m;
    return d;
}

static int knob(const char *dir, const char *name, const char *value, struct cl_error *err)
{
    char path[1600];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return rt_write_str(path, value, err);
}

static int mkdir_cg(const char *dir, struct cl_error *err)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", dir);
    return 0;
}

/* A new v1 cpuset starts without CPUs or memory nodes: give it cpus (or,
 * when NULL, its parent's) and its parent's nodes. */
static int v1_cpuset_fill(const char *dir, const char *parent, const char *cpus, struct cl_error *err)
{
    static const char *const knobs[] = { "cpuset.cpus", "cpuset.mems" };
    char path[1600], buf[4096];
    for (size_t i = 0; i < 2; i++) {
        const char *val = i == 0 ? cpus : NULL;
        if (!val) {
            snprintf(path, sizeof(path), "%s/%s", parent, knobs[i]);
            if (rt_read_str(path, buf, sizeof(buf), err) < 0)
                return CL_EIO;
            val = buf;
        }
        if (knob(dir, knobs[i], val, err) < 0)
            return CL_EIO;
    }
    return 0;
}

/* v2: lets dir's children use ctl (a directory that holds no process may). */
static int v2_delegate(const char *dir, const char *ctl, struct cl_error *err)
{
    char line[64];
    snprintf(line, sizeof(line), "+%s", ctl);
    return knob(dir, "cgroup.subtree_control", line, err);
}

/* The host-wide parent <mnt>/<parent> with its cap for controller c. */
static int make_parent(struct rt_cgroup *cg, const struct where *w, enum ctl c,
                       const struct rt_allocator *alloc, char *parent, size_t cap,
                       struct cl_error *err)
{
    const char *ctl = ctl_names[c];
    snprintf(parent, cap, "%s/%s", w->mnt, alloc->cgroup_parent);
    if (mkdir_cg(parent, err) < 0)
        return CL_EIO;
    if (w->version == 2 && (v2_delegate(w->mnt, ctl, err) < 0 || v2_delegate(parent, ctl, err) < 0))
        return CL_EIO;
    char val[RT_MAX_CPUS * 6 + 32];
    struct cl_error e = { 0 };
    int rc = 0;
    switch (c) {
    case C_CPUSET:
        rt_cpus_format(alloc->pool.ids, alloc->pool.n, val, sizeof(val));
        rc = w->version == 1 ? v1_cpuset_fill(parent, w->mnt, val, &e) : knob(parent, "cpuset.cpus", val, &e);
        break;
    case C_MEMORY:
        snprintf(val, sizeof(val), "%" PRIu64, alloc->memory_mib * 1024 * 1024);
        rc = knob(parent, w->version == 1 ? "memory.limit_in_bytes" : "memory.max", val, &e);
        break;
    case C_PIDS:
        snprintf(val, sizeof(val), "%" PRIu64, alloc->pids_max);
        rc = knob(parent, "pids.max", val, &e);
        break;
    default:
        break;
    }
    if (rc < 0)
        not_applied(cg, "%s: the host-wide cap: %s", ctl, e.reason);
    return 0;
}

/* <parent>/<id> and its two leaves for controller c; *out is the <id> directory. */
static int make_dirs(struct rt_cgroup *cg, const struct where *w, enum ctl c, const char *parent,
                     const char *id, const char *cpus, char **out, struct cl_error *err)
{
    char dir[1400], leaf[1500];
    *out = NULL;
    snprintf(dir, sizeof(dir), "%s/%s", parent, id);
    if (mkdir_cg(dir, err) < 0)
        return CL_EIO;
    if (w->version == 1 && c == C_CPUSET && v1_cpuset_fill(dir, parent, cpus, err) < 0)
        return CL_EIO;
    if (w->version == 2 && v2_delegate(dir, ctl_names[c], err) < 0)
        return CL_EIO;
    static const char *const leaves[] = { "enclave", "monitor" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(leaf, sizeof(leaf), "%s/%s", dir, leaves[i]);
        if (mkdir_cg(leaf, err) < 0)
            return CL_EIO;
        if (w->version == 1 && c == C_CPUSET && v1_cpuset_fill(leaf, dir, NULL, err) < 0)
            return CL_EIO;
    }
    *out = add_dir(cg, dir, w->mnt);
    if (!*out)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return 0;
}

/* OOM kills end the enclave: the kernel counts them in the enclave's leaf
 * (the victim's cgroup), whichever limit was hit, the enclave's or the
 * host-wide one. */
static void watch_oom(struct rt_cgroup *cg, const char *dir, int version)
{
    char leaf[1500], path[1600];
    snprintf(leaf, sizeof(leaf), "%s/enclave", dir);
    if (version == 1) {
        /* An eventfd registered on memory.oom_control, which the kernel
         * signals when this cgroup or an ancestor is out of memory
         * (Documentation/admin-guide/cgroup-v1/memory.rst §9). */
        snprintf(path, sizeof(path), "%s/memory.oom_control", leaf);
        cg->oom_ctl_fd = open(path, O_RDONLY | O_CLOEXEC);
        cg->oom_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (cg->oom_ctl_fd >= 0 && cg->oom_fd >= 0) {
            char line[64];
            snprintf(line, sizeof(line), "%d %d", cg->oom_fd, cg->oom_ctl_fd);
            if (knob(leaf, "cgroup.event_control", line, NULL) < 0) {
                close(cg->oom_fd);
                cg->oom_fd = -1;
            }
        }
    } else {
        /* One OOM kill ends the whole enclave anyway; let the kernel do it
         * at once, sparing the monitor's leaf
         * (Documentation/admin-guide/cgroup-v2.rst, memory.oom.group). */
        knob(leaf, "memory.oom.group", "1", NULL);
        /* memory.events raises a file-modified event on change. */
        cg->oom_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        snprintf(path, sizeof(path), "%s/memory.events", leaf);
        if (cg->oom_fd >= 0 && inotify_add_watch(cg->oom_fd, path, IN_MODIFY) < 0) {
            close(cg->oom_fd);
            cg->oom_fd = -1;
        }
    }
    cg->mem_leaf = strdup(leaf);
    cg->mem_version = cg->mem_leaf ? version : 0;
}

uint64_t rt_cgroup_pids_max(uint64_t pid_max, uint64_t host_max)
{
    /* A quarter of the host's PIDs, between 256 and 32768 (a Nitro enclave
     * is a VM with PIDs of its own; 32768 is Linux's default pid_max), and
     * never more than all enclaves together may have. */
    uint64_t v = pid_max / 4;
    v = v < 256 ? 256 : v > 32768 ? 32768 : v;
    return host_max && v > host_max ? host_max : v;
}

/* The enclave's own limit for controller c in dir. */
static void apply_limit(struct rt_cgroup *cg, enum ctl c, int version, const char *dir,
                        const char *cpus, uint64_t mem_bytes, const struct rt_allocator *alloc)
{
    struct cl_error e = { 0 };
    char val[64], path[1600];
    switch (c) {
    case C_CPUSET:
        if (version == 2 && knob(dir, "cpuset.cpus", cpus, &e) < 0)
            not_applied(cg, "cpuset: %s", e.reason);
        break;   /* v1: written with the directory */
    case C_MEMORY:
        snprintf(val, sizeof(val), "%" PRIu64, mem_bytes);
        if (knob(dir, version == 1 ? "memory.limit_in_bytes" : "memory.max", val, &e) < 0) {
            not_applied(cg, "memory: %s", e.reason);
            return;
        }
        /* v1 swap accounting only exists with swapaccount=1; without it
         * there is no swap to escape to through this cgroup either. */
        snprintf(path, sizeof(path), "%s/%s", dir,
                 version == 1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max");
        if (access(path, F_OK) == 0 && rt_write_str(path, version == 1 ? val : "0", &e) < 0)
            not_applied(cg, "memory+swap: %s", e.reason);
        watch_oom(cg, dir, version);
        break;
    case C_PIDS: {
        char buf[32];
        uint64_t pid_max = 32768, v;
        if (rt_read_str("/proc/sys/kernel/pid_max", buf, sizeof(buf), NULL) == 0 &&
            num_parse_u64(buf, UINT32_MAX, &v) == 0 && v > 0)
            pid_max = v;
        snprintf(val, sizeof(val), "%" PRIu64, rt_cgroup_pids_max(pid_max, alloc->pids_max));
        if (knob(dir, "pids.max", val, &e) < 0)
            not_applied(cg, "pids: %s", e.reason);
        break;
    }
    default:
        break;
    }
}

int rt_cgroup_create(const char *enclave_id, const uint32_t *cpus, size_t ncpus,
                     uint64_t mem_bytes, const struct rt_allocator *alloc,
                     struct rt_cgroup **out, struct cl_error *err)
{
    *out = NULL;
    struct rt_cgroup *cg = calloc(1, sizeof(*cg));
    if (!cg)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    cg->oom_fd = cg->oom_ctl_fd = -1;
    cg->not_applied = json_array();
    if (!cg->not_applied) {
        free(cg);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    char v2[1024], list[RT_MAX_CPUS * 6 + 1], parent[1200];
    find_v2(v2, sizeof(v2));
    rt_cpus_format(cpus, ncpus, list, sizeof(list));
    for (enum ctl c = 0; c < C_N; c++) {
        struct where w;
        struct cl_error e = { 0 };
        char *dir = NULL;
        find_controller(ctl_names[c], &w, v2);
        if (!w.version) {
            if (c <= C_PIDS)
                not_applied(cg, "%s: no %s controller available on this host", ctl_names[c], ctl_names[c]);
            continue;
        }
        if (make_parent(cg, &w, c, alloc, parent, sizeof(parent), &e) < 0 ||
            make_dirs(cg, &w, c, parent, enclave_id, list, &dir, &e) < 0) {
            if (e.code == CL_ENOMEM) {
                rt_cgroup_free(cg);
                return cl_fail(err, CL_ENOMEM, "out of memory");
            }
            if (c <= C_PIDS)
                not_applied(cg, "%s: %s", ctl_names[c], e.reason);
            continue;
        }
        apply_limit(cg, c, w.version, dir, list, mem_bytes, alloc);
    }
    *out = cg;
    return 0;
}

/* Writes pid into <dir>/<leaf>/cgroup.procs of every directory. */
static void move_into(struct rt_cgroup *cg, const char *leaf, pid_t pid)
{
    char path[1600], val[32];
    snprintf(val, sizeof(val), "%d", (int)pid);
    for (size_t i = 0; i < cg->ndirs; i++) {
        snprintf(path, sizeof(path), "%s/%s/cgroup.procs", cg->dirs[i], leaf);
        struct cl_error e = { 0 };
        if (rt_write_str(path, val, &e) < 0) {
            /* The limits of this directory do not hold for this process. */
            not_applied(cg, "%s/%s: %s", cg->dirs[i], leaf, e.reason);
            if (cg->mem_leaf && !strncmp(cg->mem_leaf, cg->dirs[i], strlen(cg->dirs[i])) &&
                !strcmp(leaf, "enclave")) {
                free(cg->mem_leaf);
                cg->mem_leaf = NULL;
                cg->mem_version = 0;
            }
        }
    }
}

int rt_cgroup_add_pid(struct rt_cgroup *cg, pid_t pid, struct cl_error *err)
{
    move_into(cg, "enclave", pid);
    (void)err;
    return 0;
}

void rt_cgroup_enter_monitor(struct rt_cgroup *cg)
{
    if (!cg)
        return;
    /* In the enclave's memory cgroup, an out-of-memory enclave must lose
     * its own processes, never the monitor that reports the end. */
    rt_write_str("/proc/self/oom_score_adj", "-1000", NULL);
    move_into(cg, "monitor", getpid());
    cg->monitor_in = true;
}

int rt_cgroup_oom_fd(const struct rt_cgroup *cg)
{
    return cg ? cg->oom_fd : -1;
}

void rt_cgroup_oom_ack(struct rt_cgroup *cg)
{
    if (!cg || cg->oom_fd < 0)
        return;
    char buf[4096];
    while (read(cg->oom_fd, buf, sizeof(buf)) > 0)
        ;
}

static uint64_t read_counter(const char *file, const char *key)
{
    char buf[4096];
    if (rt_read_str(file, buf, sizeof(buf), NULL) < 0)
        return 0;
    size_t klen = strlen(key);
    for (char *line = buf; line && *line; ) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, key, klen) && line[klen] == ' ')
            return strtoull(line + klen + 1, NULL, 10);
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

uint64_t rt_cgroup_oom_kills(const struct rt_cgroup *cg)
{
    if (!cg || !cg->mem_leaf)
        return 0;
    char path[1600];
    if (cg->mem_version == 1) {
        snprintf(path, sizeof(path), "%s/memory.oom_control", cg->mem_leaf);
        uint64_t n = read_counter(path, "oom_kill");
        if (n)
            return n;
        /* Kernels before 4.13 have no oom_kill line: under_oom is the hint. */
        return read_counter(path, "under_oom");
    }
    snprintf(path, sizeof(path), "%s/memory.events", cg->mem_leaf);
    return read_counter(path, "oom_kill");
}

json_t *rt_cgroup_paths_json(const struct rt_cgroup *cg)
{
    json_t *a = json_array();
    for (size_t i = 0; a && cg && i < cg->ndirs; i++)
        json_array_append_new(a, json_string(cg->dirs[i]));
    return a;
}

json_t *rt_cgroup_not_applied_json(const struct rt_cgroup *cg)
{
    return cg ? json_deep_copy(cg->not_applied) : json_array();
}

/* Kills what is in the cgroup dir (never this process) and removes it. */
static void remove_one(const char *dir)
{
    char file[1600], buf[65536];
    snprintf(file, sizeof(file), "%s/cgroup.kill", dir);
    if (access(file, F_OK) == 0)
        rt_write_str(file, "1", NULL);
    for (int attempt = 0; attempt < 50; attempt++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return;
        if (errno != EBUSY)
            return;
        snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
        if (rt_read_str(file, buf, sizeof(buf), NULL) == 0) {
            for (char *p = buf; *p; ) {
                long pid = strtol(p, &p, 10);
                if (pid > 0 && pid != (long)getpid())
                    kill((pid_t)pid, SIGKILL);
                while (*p == '\n')
                    p++;
                if (pid <= 0 && *p)
                    p++;
            }
        }
        usleep(20000);
    }
}

void rt_cgroup_remove_path(const char *path)
{
    /* Only our own directories: an enclave's (its ID has "-enc") in a
     * cgroup file system. */
    struct statfs fs;
    const char *base = path ? strrchr(path, '/') : NULL;
    if (!base || !strstr(base, "-enc") || statfs(path, &fs) < 0 ||
        (fs.f_type != CGROUP_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC))
        return;
    char leaf[1600];
    static const char *const leaves[] = { "enclave", "monitor" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(leaf, sizeof(leaf), "%s/%s", path, leaves[i]);
        remove_one(leaf);
    }
    remove_one(path);
}

void rt_cgroup_free(struct rt_cgroup *cg)
{
    if (!cg)
        return;
    if (cg->oom_fd >= 0)
        close(cg->oom_fd);
    if (cg->oom_ctl_fd >= 0)
        close(cg->oom_ctl_fd);
    char self[32], path[1200];
    snprintf(self, sizeof(self), "%d", (int)getpid());
    for (size_t i = 0; i < cg->ndirs; i++) {
        /* The monitor goes back to the hierarchy's root, which may hold
         * processes in v1 and v2 alike, before its leaf goes. */
        if (cg->monitor_in) {
            snprintf(path, sizeof(path), "%s/cgroup.procs", cg->mnts[i]);
            rt_write_str(path, self, NULL);
        }
        rt_cgroup_remove_path(cg->dirs[i]);
        free(cg->dirs[i]);
        free(cg->mnts[i]);
    }
    free(cg->mem_leaf);
    json_decref(cg->not_applied);
    free(cg);
}
