/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "nitro_cli/nitro_errors.h"
#include "base/fileio.h"
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
    long long deadline = timeout_s >= 0 ? rt_now_ms() + timeout_s * 1000 : -1;
    char buf[16384];
    int rc = 0;
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            long long left = deadline - rt_now_ms();
            if (left <= 0)
                break;
            wait = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int p = poll(&pfd, 1, wait);
        if (p < 0 && errno == EINTR)
            continue;
        if (p == 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cl_fail_errno(err, CL_EIO, "reading the console");
            rc = E_ENCLAVE_CONSOLE_READ;
            break;
        }
        if (n == 0)
            break;  /* the enclave ended */
        if (fd_write_all(STDOUT_FILENO, buf, (size_t)n, NULL) < 0) {
            cl_fail_errno(err, CL_EIO, "writing the console");
            rc = E_ENCLAVE_CONSOLE_WRITE_OUTPUT;
            break;
        }
    }
    close(fd);
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
    /* Cloister's own, only when they say something. */
    if (json_array_size(json_object_get(rec, "LimitsNotApplied")))
        json_object_set(o, "LimitsNotApplied", json_object_get(rec, "LimitsNotApplied"));
    if (json_object_get(rec, "StopReason"))
        json_object_set(o, "StopReason", json_object_get(rec, "StopReason"));
    return o;
}
