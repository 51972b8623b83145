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
#include <unistd.h>

#include "base/num.h"
#include "rt_cpus.h"
#include "rt_util.h"

#define MAX_DIRS 4

struct rt_cgroup {
    char *dirs[MAX_DIRS];     /* every directory created for the enclave */
    size_t ndirs;
    char *mem_dir;            /* aliases into dirs[] (not owned separately) */
    int mem_version;          /* 1 or 2; 0 when no memory cgroup */
    int oom_fd;
    int oom_ctl_fd;           /* v1: memory.oom_control kept open for the eventfd */
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

static char *add_dir(struct rt_cgroup *cg, const char *path)
{
    for (size_t i = 0; i < cg->ndirs; i++)
        if (!strcmp(cg->dirs[i], path))
            return cg->dirs[i];
    if (cg->ndirs == MAX_DIRS)
        return NULL;
    char *d = strdup(path);
    if (d)
        cg->dirs[cg->ndirs++] = d;
    return d;
}

/* <mnt>/cloister/<id>, creating cloister/ (and, for v1 cpuset, filling its
 * cpus/mems, which a new v1 cpuset starts without). */
static int make_dir(struct rt_cgroup *cg, const struct where *w, const char *ctl,
                    const char *id, char **out, struct cl_error *err)
{
    char parent[1200], dir[1400], path[1600], buf[4096];
    *out = NULL;
    snprintf(parent, sizeof(parent), "%s/cloister", w->mnt);
    if (mkdir(parent, 0755) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", parent);
    if (w->version == 1 && !strcmp(ctl, "cpuset")) {
        static const char *const knobs[] = { "cpuset.cpus", "cpuset.mems" };
        for (size_t i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "%s/%s", parent, knobs[i]);
            if (rt_read_str(path, buf, sizeof(buf), NULL) == 0 && buf[0])
                continue;
            char top[1200];
            snprintf(top, sizeof(top), "%s/%s", w->mnt, knobs[i]);
            if (rt_read_str(top, buf, sizeof(buf), err) < 0 || rt_write_str(path, buf, err) < 0)
                return CL_EIO;
        }
    }
    if (w->version == 2) {
        /* The root cgroup may enable controllers for its children even with
         * processes in it; cloister/ holds no process, so it may too. */
        char ctl_line[64];
        snprintf(ctl_line, sizeof(ctl_line), "+%s", ctl);
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", w->mnt);
        if (rt_write_str(path, ctl_line, err) < 0)
            return CL_EIO;
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", parent);
        if (rt_write_str(path, ctl_line, err) < 0)
            return CL_EIO;
    }
    snprintf(dir, sizeof(dir), "%s/%s", parent, id);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", dir);
    *out = add_dir(cg, dir);
    if (!*out) {
        rmdir(dir);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    return 0;
}

static void apply_cpus(struct rt_cgroup *cg, const char *id, const uint32_t *cpus, size_t n,
                       const char *v2_mnt)
{
    struct where w;
    struct cl_error e = { 0 };
    find_controller("cpuset", &w, v2_mnt);
    if (!w.version) {
        not_applied(cg, "cpuset: no cpuset controller available on this host");
        return;
    }
    char *dir;
    if (make_dir(cg, &w, "cpuset", id, &dir, &e) < 0) {
        not_applied(cg, "cpuset: %s", e.reason);
        return;
    }
    char list[RT_MAX_CPUS * 6 + 1], path[1600], mems[1024];
    rt_cpus_format(cpus, n, list, sizeof(list));
    snprintf(path, sizeof(path), "%s/cpuset.cpus", dir);
    if (rt_write_str(path, list, &e) < 0) {
        not_applied(cg, "cpuset: %s", e.reason);
        return;
    }
    if (w.version == 1) {
        char ppath[1600];
        snprintf(ppath, sizeof(ppath), "%s/cloister/cpuset.mems", w.mnt);
        snprintf(path, sizeof(path), "%s/cpuset.mems", dir);
        if (rt_read_str(ppath, mems, sizeof(mems), &e) < 0 || rt_write_str(path, mems, &e) < 0)
            not_applied(cg, "cpuset: %s", e.reason);
    }
}

static void apply_memory(struct rt_cgroup *cg, const char *id, uint64_t bytes, const char *v2_mnt)
{
    struct where w;
    struct cl_error e = { 0 };
    find_controller("memory", &w, v2_mnt);
    if (!w.version) {
        not_applied(cg, "memory: no memory controller available on this host");
        return;
    }
    char *dir;
    if (make_dir(cg, &w, "memory", id, &dir, &e) < 0) {
        not_applied(cg, "memory: %s", e.reason);
        return;
    }
    char path[1600], val[32];
    snprintf(val, sizeof(val), "%" PRIu64, bytes);
    if (w.version == 1) {
        snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir);
        if (rt_write_str(path, val, &e) < 0) {
            not_applied(cg, "memory: %s", e.reason);
            return;
        }
        /* Swap accounting only exists with swapaccount=1; without it there is
         * no swap to escape to through this cgroup either. */
        snprintf(path, sizeof(path), "%s/memory.memsw.limit_in_bytes", dir);
        if (access(path, F_OK) == 0 && rt_write_str(path, val, &e) < 0)
            not_applied(cg, "memory+swap: %s", e.reason);
        /* OOM notifications: an eventfd registered on memory.oom_control
         * (Documentation/admin-guide/cgroup-v1/memory.rst §9). */
        snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
        cg->oom_ctl_fd = open(path, O_RDONLY | O_CLOEXEC);
        cg->oom_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (cg->oom_ctl_fd >= 0 && cg->oom_fd >= 0) {
            char line[64];
            snprintf(line, sizeof(line), "%d %d", cg->oom_fd, cg->oom_ctl_fd);
            snprintf(path, sizeof(path), "%s/cgroup.event_control", dir);
            if (rt_write_str(path, line, NULL) < 0) {
                close(cg->oom_fd);
                cg->oom_fd = -1;
            }
        }
    } else {
        snprintf(path, sizeof(path), "%s/memory.max", dir);
        if (rt_write_str(path, val, &e) < 0) {
            not_applied(cg, "memory: %s", e.reason);
            return;
        }
        snprintf(path, sizeof(path), "%s/memory.swap.max", dir);
        if (access(path, F_OK) == 0 && rt_write_str(path, "0", &e) < 0)
            not_applied(cg, "memory+swap: %s", e.reason);
        /* One OOM kill ends the whole enclave anyway; let the kernel do it
         * at once (Documentation/admin-guide/cgroup-v2.rst, memory.oom.group). */
        snprintf(path, sizeof(path), "%s/memory.oom.group", dir);
        rt_write_str(path, "1", NULL);
        /* memory.events raises a file-modified event on change. */
        cg->oom_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        snprintf(path, sizeof(path), "%s/memory.events", dir);
        if (cg->oom_fd >= 0 && inotify_add_watch(cg->oom_fd, path, IN_MODIFY) < 0) {
            close(cg->oom_fd);
            cg->oom_fd = -1;
        }
    }
    cg->mem_dir = dir;
    cg->mem_version = w.version;
}

uint64_t rt_cgroup_pids_max(uint64_t pid_max)
{
    /* A quarter of the host's PIDs, between 256 and 32768 (a Nitro enclave
     * is a VM with PIDs of its own; 32768 is Linux's default pid_max). */
    uint64_t v = pid_max / 4;
    return v < 256 ? 256 : v > 32768 ? 32768 : v;
}

/* Without a limit a fork bomb inside an enclave takes every PID of the host
 * (kernel.pid_max is 32768 on many hosts) and no host process can fork any
 * more (security review S5). */
static void apply_pids(struct rt_cgroup *cg, const char *id, const char *v2_mnt)
{
    struct where w;
    struct cl_error e = { 0 };
    find_controller("pids", &w, v2_mnt);
    if (!w.version) {
        not_applied(cg, "pids: no pids controller available on this host");
        return;
    }
    char *dir;
    if (make_dir(cg, &w, "pids", id, &dir, &e) < 0) {
        not_applied(cg, "pids: %s", e.reason);
        return;
    }
    char buf[32], path[1600];
    uint64_t pid_max = 32768;
    if (rt_read_str("/proc/sys/kernel/pid_max", buf, sizeof(buf), NULL) == 0) {
        uint64_t v;
        if (num_parse_u64(buf, UINT32_MAX, &v) == 0 && v > 0)
            pid_max = v;
    }
    snprintf(buf, sizeof(buf), "%" PRIu64, rt_cgroup_pids_max(pid_max));
    snprintf(path, sizeof(path), "%s/pids.max", dir);
    if (rt_write_str(path, buf, &e) < 0)
        not_applied(cg, "pids: %s", e.reason);
}

int rt_cgroup_create(const char *enclave_id, const uint32_t *cpus, size_t ncpus,
                     uint64_t mem_bytes, struct rt_cgroup **out, struct cl_error *err)
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
    char v2[1024];
    find_v2(v2, sizeof(v2));
    apply_cpus(cg, enclave_id, cpus, ncpus, v2);
    apply_memory(cg, enclave_id, mem_bytes, v2);
    apply_pids(cg, enclave_id, v2);
    *out = cg;
    return 0;
}

int rt_cgroup_add_pid(struct rt_cgroup *cg, pid_t pid, struct cl_error *err)
{
    char path[1600], val[32];
    snprintf(val, sizeof(val), "%d", (int)pid);
    for (size_t i = 0; i < cg->ndirs; i++) {
        snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dirs[i]);
        struct cl_error e = { 0 };
        if (rt_write_str(path, val, &e) < 0) {
            /* The limits of this directory do not hold for the enclave. */
            not_applied(cg, "%s: %s", cg->dirs[i], e.reason);
            if (cg->mem_dir == cg->dirs[i]) {
                cg->mem_dir = NULL;
                cg->mem_version = 0;
            }
        }
    }
    (void)err;
    return 0;
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
    if (!cg || !cg->mem_dir)
        return 0;
    char path[1600];
    if (cg->mem_version == 1) {
        snprintf(path, sizeof(path), "%s/memory.oom_control", cg->mem_dir);
        uint64_t n = read_counter(path, "oom_kill");
        if (n)
            return n;
        /* Kernels before 4.13 have no oom_kill line: under_oom is the hint. */
        return read_counter(path, "under_oom");
    }
    snprintf(path, sizeof(path), "%s/memory.events", cg->mem_dir);
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

void rt_cgroup_remove_path(const char *path)
{
    /* Only our own directories: <mnt>/cloister/<id>. */
    if (!path || !strstr(path, "/cloister/"))
        return;
    char file[1600], buf[65536];
    snprintf(file, sizeof(file), "%s/cgroup.kill", path);
    if (access(file, F_OK) == 0)
        rt_write_str(file, "1", NULL);
    for (int attempt = 0; attempt < 50; attempt++) {
        if (rmdir(path) == 0 || errno == ENOENT)
            return;
        if (errno != EBUSY)
            return;
        snprintf(file, sizeof(file), "%s/cgroup.procs", path);
        if (rt_read_str(file, buf, sizeof(buf), NULL) == 0) {
            for (char *p = buf; *p; ) {
                long pid = strtol(p, &p, 10);
                if (pid > 0)
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

void rt_cgroup_free(struct rt_cgroup *cg)
{
    if (!cg)
        return;
    if (cg->oom_fd >= 0)
        close(cg->oom_fd);
    if (cg->oom_ctl_fd >= 0)
        close(cg->oom_ctl_fd);
    for (size_t i = 0; i < cg->ndirs; i++) {
        rt_cgroup_remove_path(cg->dirs[i]);
        free(cg->dirs[i]);
    }
    json_decref(cg->not_applied);
    free(cg);
}
