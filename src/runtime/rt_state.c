/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "rt_cgroup.h"
#include "rt_util.h"
#include "vsock_broker/vsock_broker.h"

#define RECORD_MAX (1u << 20)

struct rt_state {
    char *dir;
    int lock_fd;     /* -1 when the directory does not exist */
    int locked;      /* nesting count */
};

const char *rt_run_dir(void)
{
    const char *d = getenv("CLOISTER_RUN_DIR");
    return d && *d ? d : RT_DEFAULT_RUN_DIR;
}

int rt_state_open(bool create, struct rt_state **out, struct cl_error *err)
{
    int rc = 0;
    *out = NULL;
    struct rt_state *st = calloc(1, sizeof(*st));
    if (!st)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    st->lock_fd = -1;
    st->dir = strdup(rt_run_dir());
    if (!st->dir) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    char path[4096];
    if (create) {
        if ((rc = rt_path(path, sizeof(path), err, "%s/enclaves", st->dir)) < 0 ||
            (rc = rt_mkdir_p(path, 0755, err)) < 0)
            goto out;
    }
    if ((rc = rt_path(path, sizeof(path), err, "%s/lock", st->dir)) < 0)
        goto out;
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (st->lock_fd < 0) {
        if (errno == ENOENT && !create) {
            /* No runtime directory yet: no enclave has ever run here. */
            goto out;
        }
        rc = cl_fail_errno(err, CL_EIO, "cannot open the lock %s", path);
        goto out;
    }
out:
    if (rc < 0)
        rt_state_free(st);
    else
        *out = st;
    return rc;
}

void rt_state_free(struct rt_state *st)
{
    if (!st)
        return;
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st->dir);
    free(st);
}

const char *rt_state_dir(const struct rt_state *st)
{
    return st->dir;
}

int rt_state_lock(struct rt_state *st, struct cl_error *err)
{
    if (st->lock_fd < 0)
        return 0;
    if (st->locked++ > 0)
        return 0;
    while (flock(st->lock_fd, LOCK_EX) < 0) {
        if (errno == EINTR)
            continue;
        st->locked = 0;
        return cl_fail_errno(err, CL_EIO, "cannot lock %s/lock", st->dir);
    }
    return 0;
}

void rt_state_unlock(struct rt_state *st)
{
    if (st->lock_fd < 0 || st->locked == 0)
        return;
    if (--st->locked == 0)
        flock(st->lock_fd, LOCK_UN);
}

int rt_state_enclave_dir(const struct rt_state *st, const char *enclave_id,
                         char *buf, size_t cap, struct cl_error *err)
{
    if (!enclave_id || !*enclave_id || strchr(enclave_id, '/') ||
        !strcmp(enclave_id, ".") || !strcmp(enclave_id, ".."))
        return cl_fail(err, CL_EINVAL, "invalid enclave ID '%s'", enclave_id ? enclave_id : "");
    return rt_path(buf, cap, err, "%s/enclaves/%s", st->dir, enclave_id);
}

const char *rt_rec_str(json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

long long rt_rec_int(json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

long long rt_rec_internal_int(json_t *rec, const char *key)
{
    return rt_rec_int(json_object_get(rec, "Internal"), key);
}

int rt_state_write(struct rt_state *st, json_t *record, struct cl_error *err)
{
    char dir[4096], path[4200];
    int rc = rt_state_enclave_dir(st, rt_rec_str(record, "EnclaveID"), dir, sizeof(dir), err);
    if (rc < 0)
        return rc;
    if (mkdir(dir, 0711) < 0 && errno != EEXIST)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", dir);
    if ((rc = rt_path(path, sizeof(path), err, "%s/record.json", dir)) < 0)
        return rc;
    char *text = json_dumps(record, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return cl_fail(err, CL_ENOMEM, "cannot serialize the record");
    rc = file_write_atomic(path, text, strlen(text), 0644, err);
    free(text);
    return rc;
}

int rt_state_remove(struct rt_state *st, const char *enclave_id, struct cl_error *err)
{
    char dir[4096];
    int rc = rt_state_enclave_dir(st, enclave_id, dir, sizeof(dir), err);
    if (rc < 0)
        return rc;
    return rt_rm_rf(dir, err);
}

void rt_state_clean_stale(struct rt_state *st, json_t *record)
{
    json_t *internal = json_object_get(record, "Internal");
    /* The enclave's init died with its monitor (PR_SET_PDEATHSIG, then the
     * PID namespace), but make sure before the cgroups go. */
    long long init_pid = rt_rec_int(internal, "EnclavePID");
    long long init_start = rt_rec_int(internal, "EnclaveStartTime");
    if (init_pid > 0 && init_start > 0 && rt_proc_alive((pid_t)init_pid, (unsigned long long)init_start))
        kill((pid_t)init_pid, SIGKILL);
    json_t *cg = json_object_get(internal, "Cgroups");
    size_t i;
    json_t *v;
    json_array_foreach(cg, i, v) {
        if (json_is_string(v))
            rt_cgroup_remove_path(json_string_value(v));
    }
    long long cid = rt_rec_int(record, "EnclaveCID");
    if (cid > 3 && cid < 0xFFFFFFFFll)
        vsock_broker_cleanup(st->dir, (uint32_t)cid, NULL);
    const char *id = rt_rec_str(record, "EnclaveID");
    if (id)
        rt_state_remove(st, id, NULL);
}

static json_t *read_record(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (file_read_all(path, RECORD_MAX, &data, &len, NULL) < 0)
        return NULL;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
    free(data);
    if (j && (!json_is_object(j) || !rt_rec_str(j, "EnclaveID") || rt_rec_int(j, "ProcessID") <= 0)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int list_locked(struct rt_state *st, json_t *arr, bool *found_stale, struct cl_error *err)
{
    char dir[4096];
    int rc = rt_path(dir, sizeof(dir), err, "%s/enclaves", st->dir);
    if (rc < 0)
        return rc;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return cl_fail_errno(err, CL_EIO, "cannot read %s", dir);
    }
    struct dirent *de;
    /* Sorted output: collect names first. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*names));
            if (!nn) {
                rc = cl_fail(err, CL_ENOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[4500];
        if (rt_path(path, sizeof(path), NULL, "%s/%s/record.json", dir, names[i]) < 0)
            continue;
        json_t *rec = read_record(path);
        if (!rec) {
            /* A directory without a readable record: a monitor between
             * mkdir and its first write, or the debris of a crash. Only
             * the latter is removed: it is older than a minute. */
            char edir[4400];
            struct stat sb;
            if (found_stale && rt_path(edir, sizeof(edir), NULL, "%s/%s", dir, names[i]) == 0 &&
                stat(edir, &sb) == 0 && time(NULL) - sb.st_mtime > 60 && access(path, F_OK) != 0)
                rt_rm_rf(edir, NULL);
            continue;
        }
        pid_t pid = (pid_t)rt_rec_int(rec, "ProcessID");
        long long start = rt_rec_internal_int(rec, "ProcessStartTime");
        if (!rt_proc_alive(pid, start > 0 ? (unsigned long long)start : 0)) {
            if (found_stale) {
                *found_stale = true;
                rt_state_clean_stale(st, rec);
            }
            json_decref(rec);
            continue;
        }
        if (json_array_append_new(arr, rec) < 0)
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int cmp_cid(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    long long cx = rt_rec_int(*x, "EnclaveCID"), cy = rt_rec_int(*y, "EnclaveCID");
    return cx < cy ? -1 : cx > cy;
}

int rt_state_list(struct rt_state *st, json_t **records, struct cl_error *err)
{
    *records = NULL;
    json_t *arr = json_array();
    if (!arr)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    if (st->lock_fd < 0) {
        *records = arr;
        return 0;
    }
    int rc = rt_state_lock(st, err);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    bool stale = false;
    rc = list_locked(st, arr, &stale, err);
    rt_state_unlock(st);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    /* In CID order, a stable order for describe-enclaves. */
    size_t n = json_array_size(arr);
    if (n > 1) {
        json_t **v = malloc(n * sizeof(*v));
        if (v) {
            for (size_t i = 0; i < n; i++)
                v[i] = json_incref(json_array_get(arr, i));
            qsort(v, n, sizeof(*v), cmp_cid);
            json_array_clear(arr);
            for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, v[i]);
            free(v);
        }
    }
    *records = arr;
    return 0;
}

static bool cid_used(json_t *records, uint64_t cid)
{
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        if (rt_rec_int(r, "EnclaveCID") == (long long)cid)
            return true;
    }
    return false;
}

static bool name_used(json_t *records, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        const char *n = rt_rec_str(r, "EnclaveName");
        if (n && !strcmp(n, name))
            return true;
    }
    return false;
}

int rt_state_allocate(json_t *records, uint64_t want_cid, const char *base_name,
                      uint32_t *cid, char *name, size_t name_cap, uint32_t *uid_slot,
                      struct cl_error *err)
{
    if (want_cid) {
        if (cid_used(records, want_cid))
            return cl_fail(err, CL_EEXIST, "the enclave CID %" PRIu64 " is already in use", want_cid);
        *cid = (uint32_t)want_cid;
    } else {
        uint64_t c = RT_FIRST_AUTO_CID;
        while (cid_used(records, c))
            c++;
        if (c >= UINT32_MAX)
            return cl_fail(err, CL_ELIMIT, "no free enclave CID");
        *cid = (uint32_t)c;
    }
    if (strlen(base_name) + 12 > name_cap)
        return cl_fail(err, CL_ELIMIT, "enclave name too long");
    snprintf(name, name_cap, "%s", base_name);
    for (unsigned k = 1; name_used(records, name); k++)
        snprintf(name, name_cap, "%s_%u", base_name, k);

    for (uint32_t s = 0; s < RT_MAX_UID_SLOTS; s++) {
        bool used = false;
        size_t i;
        json_t *r;
        json_array_foreach(records, i, r) {
            long long base = rt_rec_internal_int(r, "UidBase");
            if (base == (long long)RT_UID_BASE + (long long)s * RT_UID_RANGE)
                used = true;
        }
        if (!used) {
            *uid_slot = s;
            return 0;
        }
    }
    return cl_fail(err, CL_ELIMIT, "no free uid range for the enclave");
}

int rt_state_pick_cpus(json_t *records, const uint32_t *online, size_t n_online,
                       size_t n, uint32_t *out, struct cl_error *err)
{
    if (n > n_online)
        return cl_fail(err, CL_ELIMIT, "%zu CPUs requested, %zu online", n, n_online);
    size_t *load = calloc(n_online, sizeof(*load));
    unsigned char *taken = calloc(n_online, 1);
    if (!load || !taken) {
        free(load);
        free(taken);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        size_t j;
        json_t *c;
        json_array_foreach(json_object_get(r, "CPUIDs"), j, c) {
            for (size_t k = 0; k < n_online; k++)
                if (json_is_integer(c) && json_integer_value(c) == (json_int_t)online[k])
                    load[k]++;
        }
    }
    for (size_t got = 0; got < n; got++) {
        size_t best = n_online;
        for (size_t k = 0; k < n_online; k++) {
            if (taken[k])
                continue;
            if (best == n_online) {
                best = k;
                continue;
            }
            /* fewer enclaves first; among equals CPU 0 last, then lowest id */
            bool k0 = online[k] == 0, b0 = online[best] == 0;
            if (load[k] < load[best] || (load[k] == load[best] && b0 && !k0))
                best = k;
        }
        taken[best] = 1;
    }
    size_t m = 0;
    for (size_t k = 0; k < n_online; k++)
        if (taken[k])
            out[m++] = online[k];
    free(load);
    free(taken);
    return 0;
}
