/* SPDX-License-Identifier: Apache-2.0 */
/* The traces of ended enclaves; see rt_trace.h. */
#include "rt_trace.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/fileio.h"
#include "rt_util.h"

void rt_end_reason(const struct rt_end *end, char *buf, size_t cap)
{
    const char *who = end->command ? "its command" : "its init";
    if (end->out_of_memory) {
        snprintf(buf, cap, "out of memory: the enclave exceeded its %llu MiB limit",
                 (unsigned long long)end->memory_mib);
    } else if (end->signal > 0) {
        const char *name = sigabbrev_np(end->signal);
        snprintf(buf, cap, "%s was killed by signal %d%s%s%s", who, end->signal,
                 name ? " (SIG" : "", name ? name : "", name ? ")" : "");
    } else {
        snprintf(buf, cap, "%s exited with status %d", who, end->exit_status);
    }
}

/* <run>/ended, or <run>/ended/<id> (an ID is one path component). */
static int trace_dir(const struct rt_state *st, const char *id, char *buf, size_t cap,
                     struct cl_error *err)
{
    if (!id)
        return rt_path(buf, cap, err, "%s/ended", rt_state_dir(st));
    if (!*id || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
        return cl_fail(err, CL_EINVAL, "invalid enclave ID '%s'", id);
    return rt_path(buf, cap, err, "%s/ended/%s", rt_state_dir(st), id);
}

static json_t *trace_json(json_t *rec, const struct rt_end *end)
{
    char reason[200], when[32];
    rt_end_reason(end, reason, sizeof(reason));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *t = json_object();
    static const char *const keys[] = { "EnclaveName", "EnclaveID", "EnclaveCID", "Flags" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        json_object_set(t, keys[i], json_object_get(rec, keys[i]) ? json_object_get(rec, keys[i])
                                                                  : json_null());
    json_object_set_new(t, "EndTime", json_string(when));
    json_object_set_new(t, "Reason", json_string(reason));
    json_object_set_new(t, "ExitStatus",
                        end->exit_status >= 0 && !end->out_of_memory
                            ? json_integer(end->exit_status)
                            : json_null());
    const char *sig = end->signal > 0 ? sigabbrev_np(end->signal) : NULL;
    char signame[32];
    snprintf(signame, sizeof(signame), "SIG%s", sig ? sig : "");
    json_object_set_new(t, "Signal", sig ? json_string(signame) : json_null());
    json_object_set_new(t, "OutOfMemory", json_boolean(end->out_of_memory));
    return t;
}

struct kept {
    char name[256];
    time_t mtime;
};

static int by_age(const void *a, const void *b)
{
    const struct kept *x = a, *y = b;
    return x->mtime < y->mtime ? 1 : x->mtime > y->mtime ? -1 : strcmp(x->name, y->name);
}

/* The traces, newest first (*n of them; the caller frees *out). */
static int list_traces(const struct rt_state *st, struct kept **out, size_t *n,
                       struct cl_error *err)
{
    char dir[4200], p[4500];
    *out = NULL;
    *n = 0;
    int rc = trace_dir(st, NULL, dir, sizeof(dir), err);
    if (rc < 0)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : cl_fail_errno(err, CL_EIO, "cannot read %s", dir);
    size_t cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        struct stat sb;
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof((*out)->name) ||
            snprintf(p, sizeof(p), "%s/%s/trace.json", dir, de->d_name) >= (int)sizeof(p) ||
            stat(p, &sb) < 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct kept *k = realloc(*out, cap * sizeof(*k));
            if (!k) {
                closedir(d);
                free(*out);
                *out = NULL;
                *n = 0;
                return cl_fail(err, CL_ENOMEM, "out of memory");
            }
            *out = k;
        }
        snprintf((*out)[*n].name, sizeof((*out)[*n].name), "%s", de->d_name);
        (*out)[(*n)++].mtime = sb.st_mtime;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof(**out), by_age);
    return 0;
}

/* Keeps the newest RT_TRACE_MAX traces younger than RT_TRACE_MAX_AGE_S. */
static void prune(struct rt_state *st)
{
    struct kept *k = NULL;
    size_t n = 0;
    if (list_traces(st, &k, &n, NULL) < 0)
        return;
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++)
        if (i >= RT_TRACE_MAX || now - k[i].mtime > RT_TRACE_MAX_AGE_S)
            rt_trace_remove(st, k[i].name, NULL);
    free(k);
}

int rt_trace_write(struct rt_state *st, json_t *rec, const struct rt_end *end,
                   const char *console, size_t console_len, struct cl_error *err)
{
    char top[4200], dir[4200], p[4500];
    int rc = trace_dir(st, NULL, top, sizeof(top), err);
    if (rc == 0)
        rc = trace_dir(st, rt_rec_str(rec, "EnclaveID"), dir, sizeof(dir), err);
    if (rc < 0)
        return rc;
    if ((mkdir(top, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
        return cl_fail_errno(err, CL_EIO, "cannot create %s", dir);
    if (console && console_len) {
        if (console_len > RT_TRACE_CONSOLE) {
            console += console_len - RT_TRACE_CONSOLE;
            console_len = RT_TRACE_CONSOLE;
        }
        if ((rc = rt_path(p, sizeof(p), err, "%s/console", dir)) < 0 ||
            (rc = file_write_atomic(p, console, console_len, 0600, err)) < 0)
            return rc;
    }
    json_t *t = trace_json(rec, end);
    char *text = json_dumps(t, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(t);
    if (!text)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    /* trace.json last: a trace is there once it is whole */
    if ((rc = rt_path(p, sizeof(p), err, "%s/trace.json", dir)) == 0)
        rc = file_write_atomic(p, text, strlen(text), 0600, err);
    free(text);
    if (rc == 0)
        prune(st);
    return rc;
}

static int load_trace(const struct rt_state *st, const char *id, json_t **trace,
                      struct cl_error *err)
{
    char dir[4200], p[4500];
    int rc = trace_dir(st, id, dir, sizeof(dir), err);
    if (rc < 0 || (rc = rt_path(p, sizeof(p), err, "%s/trace.json", dir)) < 0)
        return rc;
    json_error_t je;
    *trace = json_load_file(p, 0, &je);
    return 0;
}

int rt_trace_find(struct rt_state *st, const char *id, const char *name, json_t **trace,
                  struct cl_error *err)
{
    *trace = NULL;
    if (id)
        return load_trace(st, id, trace, err);
    struct kept *k = NULL;
    size_t n = 0;
    int rc = list_traces(st, &k, &n, err);
    for (size_t i = 0; rc == 0 && i < n && !*trace; i++) {
        json_t *t = NULL;
        rc = load_trace(st, k[i].name, &t, err);
        const char *nm = rt_rec_str(t, "EnclaveName");
        if (nm && !strcmp(nm, name))
            *trace = t;
        else
            json_decref(t);
    }
    free(k);
    return rc;
}

int rt_trace_console(struct rt_state *st, json_t *trace, char **buf, size_t *len,
                     struct cl_error *err)
{
    char dir[4200], p[4500];
    *buf = NULL;
    *len = 0;
    int rc = trace_dir(st, rt_rec_str(trace, "EnclaveID"), dir, sizeof(dir), err);
    if (rc < 0 || (rc = rt_path(p, sizeof(p), err, "%s/console", dir)) < 0)
        return rc;
    uint8_t *data = NULL;
    rc = file_read_all(p, RT_TRACE_CONSOLE, &data, len, err);
    if (rc == CL_ENOTFOUND) {
        *len = 0;
        return 0;
    }
    *buf = (char *)data;
    return rc;
}

int rt_trace_remove(struct rt_state *st, const char *id, struct cl_error *err)
{
    char dir[4200];
    int rc = trace_dir(st, id, dir, sizeof(dir), err);
    return rc < 0 ? rc : rt_rm_rf(dir, err);
}
