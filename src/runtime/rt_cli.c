/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/num.h"
#include "nitro_cli/nitro_errors.h"
#include "rt_console.h"
#include "rt_trace.h"
#include "rt_util.h"

int rt_cli_find(json_t *records, const char *id, const char *name, json_t **rec,
                struct cl_error *err)
{
    size_t i;
    json_t *r;
    *rec = NULL;
    json_array_foreach(records, i, r) {
        const char *v = rt_rec_str(r, id ? "EnclaveID" : "EnclaveName");
        if (v && !strcmp(v, id ? id : name)) {
            *rec = r;
            return 0;
        }
    }
    if (id) {
        cl_fail(err, CL_ENOTFOUND, "No enclave with ID '%s' is running (no record under %s).",
                id, rt_run_dir());
        return E_SOCKET_PATH_NOT_FOUND;
    }
    cl_fail(err, CL_ENOTFOUND, "No enclave named '%s' is running.", name);
    return E_ENCLAVE_NAMING;
}

/* The monitor's first line: RT_CONSOLE_HELLO<dropped>; what follows it in
 * buf[0..*n) is output, moved to the front. -1: not there yet. */
static int take_hello(char *buf, size_t *n, unsigned long long *dropped)
{
    char *nl = memchr(buf, '\n', *n);
    if (!nl)
        return *n > 64 ? 0 : -1;
    *nl = '\0';
    size_t hl = strlen(RT_CONSOLE_HELLO);
    uint64_t v = 0;
    if (!strncmp(buf, RT_CONSOLE_HELLO, hl) && num_parse_u64(buf + hl, UINT64_MAX, &v) == 0)
        *dropped = v;
    size_t used = (size_t)(nl - buf) + 1;
    memmove(buf, nl + 1, *n - used);
    *n -= used;
    return 0;
}

/* Copies the console socket fd to stdout until EOF or timeout_s seconds. */
static int copy_console(int fd, long long timeout_s, struct cl_error *err)
{
    long long deadline = timeout_s >= 0 ? rt_now_ms() + timeout_s * 1000 : -1;
    char buf[16384];
    size_t have = 0;
    bool hello = false;
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            long long left = deadline - rt_now_ms();
            if (left <= 0)
                return 0;
            wait = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int p = poll(&pfd, 1, wait);
        if (p < 0 && errno == EINTR)
            continue;
        if (p == 0)
            continue;
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cl_fail_errno(err, CL_EIO, "reading the console");
            return E_ENCLAVE_CONSOLE_READ;
        }
        if (n == 0)
            return 0;  /* the enclave ended */
        have += (size_t)n;
        unsigned long long dropped = 0;
        if (!hello) {
            if (take_hello(buf, &have, &dropped) < 0)
                continue;
            hello = true;
            if (dropped)
                fprintf(stderr, "The first %llu bytes of the enclave's output are no longer kept "
                        "(its console keeps the last %u KiB).\n", dropped, RT_CONSOLE_RING / 1024);
        }
        if (fd_write_all(STDOUT_FILENO, buf, have, NULL) < 0) {
            cl_fail_errno(err, CL_EIO, "writing the console");
            return E_ENCLAVE_CONSOLE_WRITE_OUTPUT;
        }
        have = 0;
    }
}

int rt_cli_console(struct rt_state *st, json_t *rec, long long timeout_s, struct cl_error *err)
{
    const char *id = rt_rec_str(rec, "EnclaveID");
    const char *flags = rt_rec_str(rec, "Flags");
    if (!flags || strcmp(flags, "DEBUG_MODE")) {
        cl_fail(err, CL_EPERM, "The enclave %s was not started in debug mode (--debug-mode): "
                "its console cannot be read.", id);
        return E_ENCLAVE_CONSOLE_CONNECTION;
    }
    char dir[4096], path[4200];
    if (rt_state_enclave_dir(st, id, dir, sizeof(dir), err) < 0 ||
        rt_path(path, sizeof(path), err, "%s/console.sock", dir) < 0)
        return E_ENCLAVE_CONSOLE_CONNECTION;
    printf("Connecting to the console for enclave %lld...\n", rt_rec_int(rec, "EnclaveCID"));
    fflush(stdout);
    int fd = rt_unix_connect(path, err);
    if (fd < 0)
        return E_ENCLAVE_CONSOLE_CONNECTION;
    printf("Successfully connected to the console.\n");
    fflush(stdout);
    int rc = copy_console(fd, timeout_s, err);
    close(fd);
    /* The enclave ended (the monitor keeps why before it closes the console). */
    json_t *trace = NULL;
    if (rc == 0 && rt_trace_find(st, id, NULL, &trace, NULL) == 0 && trace)
        fprintf(stderr, "The enclave %s ended at %s: %s.\n", id, rt_rec_str(trace, "EndTime"),
                rt_rec_str(trace, "Reason"));
    json_decref(trace);
    return rc;
}

int rt_cli_console_ended(struct rt_state *st, json_t *trace, struct cl_error *err)
{
    const char *id = rt_rec_str(trace, "EnclaveID"), *flags = rt_rec_str(trace, "Flags");
    if (!flags || strcmp(flags, "DEBUG_MODE")) {
        cl_fail(err, CL_EPERM, "The enclave %s was not started in debug mode (--debug-mode): its "
                "console was not kept. It ended at %s: %s.", id, rt_rec_str(trace, "EndTime"),
                rt_rec_str(trace, "Reason"));
        return E_ENCLAVE_CONSOLE_CONNECTION;
    }
    char *buf = NULL;
    size_t len = 0;
    if (rt_trace_console(st, trace, &buf, &len, err) < 0)
        return E_ENCLAVE_CONSOLE_READ;
    int rc = 0;
    if (len && fd_write_all(STDOUT_FILENO, buf, len, NULL) < 0) {
        cl_fail_errno(err, CL_EIO, "writing the console");
        rc = E_ENCLAVE_CONSOLE_WRITE_OUTPUT;
    }
    free(buf);
    if (rc == 0)
        fprintf(stderr, "The enclave %s ended at %s: %s.\n", id, rt_rec_str(trace, "EndTime"),
                rt_rec_str(trace, "Reason"));
    return rc;
}

/*
 * Removes the record of a monitor that is gone, under the runtime
 * directory's lock. Best effort: without the lock the record is left for
 * the next rt_state_list(), which cleans stale records itself; the
 * enclave is gone either way.
 */
static void clean_stale_record(struct rt_state *st, json_t *rec)
{
    if (rt_state_lock(st, NULL) < 0)
        return;
    rt_state_clean_stale(st, rec);
    rt_state_unlock(st);
}

int rt_cli_terminate(struct rt_state *st, json_t *rec, struct cl_error *err)
{
    pid_t pid = (pid_t)rt_rec_int(rec, "ProcessID");
    long long start = rt_rec_internal_int(rec, "ProcessStartTime");
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    /* Still the same process? (pid reuse) */
    if (pfd < 0 || !rt_proc_alive(pid, start > 0 ? (unsigned long long)start : 0)) {
        if (pfd >= 0)
            close(pfd);
        clean_stale_record(st, rec);
        return 0;
    }
    if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
        cl_fail_errno(err, CL_EPERM, "cannot signal the monitor %d", (int)pid);
        close(pfd);
        return E_ENCLAVE_PROCESS_CONNECTION_FAILURE;
    }
    struct pollfd p = { .fd = pfd, .events = POLLIN };
    int r;
    do {
        r = poll(&p, 1, 30000);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        /* It does not answer: kill it and clean up after it. */
        kill(pid, SIGKILL);
        poll(&p, 1, 5000);
        clean_stale_record(st, rec);
    }
    close(pfd);
    return 0;
}

json_t *rt_cli_terminate_json(json_t *rec)
{
    json_t *o = json_object();
    json_object_set(o, "EnclaveName", json_object_get(rec, "EnclaveName"));
    json_object_set(o, "EnclaveID", json_object_get(rec, "EnclaveID"));
    json_object_set_new(o, "Terminated", json_true());
    return o;
}

json_t *rt_cli_describe_json(json_t *rec, bool metadata)
{
    static const char *const keys[] = { "EnclaveName", "EnclaveID", "ProcessID", "EnclaveCID",
                                        "NumberOfCPUs", "CPUIDs", "MemoryMiB", "State", "Flags",
                                        "Measurements" };
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        json_object_set(o, keys[i], json_object_get(rec, keys[i]) ? json_object_get(rec, keys[i]) : json_null());
    if (metadata) {
        static const char *const meta[] = { "ImageName", "ImageVersion", "Metadata" };
        for (size_t i = 0; i < 3; i++)
            json_object_set(o, meta[i], json_object_get(rec, meta[i]) ? json_object_get(rec, meta[i]) : json_null());
    }
    /* Cloister's own, only when it says something. */
    if (json_array_size(json_object_get(rec, "LimitsNotApplied")))
        json_object_set(o, "LimitsNotApplied", json_object_get(rec, "LimitsNotApplied"));
    return o;
}
