/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister run-enclave`: nitro-cli's run-enclave (docs/runtime.md;
 * aws-nitro-enclaves-cli src/common/commands_parser.rs).
 *
 *   run-enclave --eif-path F (--cpu-count N | --cpu-ids ID...) --memory M
 *               [--enclave-cid CID] [--enclave-name NAME] [--debug-mode]
 *               [--attach-console]
 *   run-enclave --config FILE [--attach-console]
 *
 * The flags are checked here; the enclave itself is started by a new
 * monitor process (cloister-monitor, beside this program; src/runtime),
 * which re-measures the image, starts the sandbox, waits for init's ready
 * heartbeat and reports back on a pipe. This command returns then, with
 * the EnclaveRunInfo JSON, or with the monitor's error (and nothing left
 * behind). Cloister extension: --ca-dir DIR (or $CLOISTER_CA_DIR) names
 * the attestation CA that signs the enclave's documents.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest_ca/attest_ca.h"
#include "base/num.h"
#include "cli.h"
#include "commands.h"
#include "base/fileio.h"
#include "rt_cli.h"
#include "rt_allocator.h"
#include "rt_cpus.h"
#include "rt_monitor.h"
#include "rt_state.h"
#include "rt_trace.h"
#include "rt_util.h"

#define STATUS_MAX 65536

struct run_args {
    const char *eif_path;
    bool has_cid;
    uint64_t cid;
    uint64_t memory_mib;
    bool has_cpu_count;
    uint64_t cpu_count;
    uint32_t cpu_ids[RT_MAX_CPUS];
    size_t ncpu_ids;
    bool has_cpu_ids;
    bool debug;
    bool attach;
    const char *name;
    const char *ca_dir;
    json_t *config;   /* owns the strings above when --config */
};

static void usage(FILE *f)
{
    const char *p = cli_prog();
    int w = (int)strlen(p) + 20; /* under "--eif-path" */
    fprintf(f,
            "Usage: %s run-enclave --eif-path FILE (--cpu-count N | --cpu-ids ID...)\n"
            "%*s--memory MiB [--enclave-cid CID] [--enclave-name NAME]\n"
            "%*s[--debug-mode] [--attach-console] [--ca-dir DIR]\n"
            "       %s run-enclave --config FILE [--attach-console]\n",
            p, w, "", w, "", p);
}

static int invalid(const char *param, const char *value)
{
    return cli_fail(E_INVALID_ARGUMENT, "The parameter `%s` is not a valid integer (`%s`)", param, value);
}

/* nitro-cli's parse_memory: digits, then "", M, G or T (either case). */
static int parse_memory(const char *s, uint64_t *mib)
{
    size_t digits = strspn(s, "0123456789");
    char num[32];
    if (digits == 0 || digits >= sizeof(num))
        return invalid("memory", s);
    memcpy(num, s, digits);
    num[digits] = '\0';
    const char *unit = s + digits;
    uint64_t mult;
    if (!strcmp(unit, "") || !strcmp(unit, "M") || !strcmp(unit, "m"))
        mult = 1;
    else if (!strcmp(unit, "G") || !strcmp(unit, "g"))
        mult = 1024;
    else if (!strcmp(unit, "T") || !strcmp(unit, "t"))
        mult = 1024 * 1024;
    else
        return invalid("memory", s);
    uint64_t n;
    if (num_parse_u64(num, UINT64_MAX / 1024 / 1024 / 1024, &n) != 0)
        return invalid("memory", s);
    *mib = n * mult;
    return 0;
}

/* CID rules of nitro-cli's parse_enclave_cid. */
static int check_cid(uint64_t cid)
{
    if (cid == 0) {
        fprintf(stderr, "The enclave CID will be auto-generated as the provided CID is 0\n");
        return 0;
    }
    if (cid <= 2 || cid == UINT32_MAX)
        return cli_fail(E_INVALID_ARGUMENT, "CID %" PRIu64 " is a well-known CID, not to be used for enclaves", cid);
    if (cid == RT_PARENT_CID)
        return cli_fail(E_INVALID_ARGUMENT,
                        "CID %" PRIu64 " is the CID of the parent VM, not to be used for enclaves", cid);
    if (cid > UINT32_MAX)
        return cli_fail(E_INVALID_ARGUMENT,
                        "CID %" PRIu64 " is higher than the maximum supported (u32 max) for a vsock device", cid);
    return 0;
}

static int parse_u64(const char *param, const char *v, uint64_t max, uint64_t *out)
{
    if (num_parse_u64(v, max, out) != 0)
        return invalid(param, v);
    return 0;
}

/* --config FILE: RunEnclavesArgs as serde reads it. */
static int load_config(const char *path, struct run_args *a)
{
    uint8_t *data = NULL;
    size_t len = 0;
    struct cl_error err = { 0 };
    if (file_read_all(path, 1u << 20, &data, &len, &err) < 0)
        return cli_fail(E_FILE_OPERATION, "Failed to open config file: %s", err.reason);
    json_error_t je;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    free(data);
    if (!j)
        return cli_fail(E_SERDE, "Invalid JSON format for config file: %s at line %d column %d",
                        je.text, je.line, je.column);
    a->config = j;
    if (!json_is_object(j))
        return cli_fail(E_SERDE, "Invalid JSON format for config file: expected a JSON object");
    static const char *const known[] = { "eif_path", "enclave_cid", "memory_mib", "cpu_ids",
                                         "debug_mode", "attach_console", "cpu_count", "enclave_name" };
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok |= !strcmp(key, known[i]);
        if (!ok)
            return cli_fail(E_SERDE, "Invalid JSON format for config file: unknown field `%s`", key);
    }
#define FIELD_ERR(k, what) cli_fail(E_SERDE, "Invalid JSON format for config file: `%s` %s", k, what)
    v = json_object_get(j, "eif_path");
    if (!v)
        return FIELD_ERR("eif_path", "is missing");
    if (!json_is_string(v))
        return FIELD_ERR("eif_path", "must be a string");
    a->eif_path = json_string_value(v);
    v = json_object_get(j, "memory_mib");
    if (!v)
        return FIELD_ERR("memory_mib", "is missing");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return FIELD_ERR("memory_mib", "must be an unsigned integer");
    a->memory_mib = (uint64_t)json_integer_value(v);
    v = json_object_get(j, "enclave_cid");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return FIELD_ERR("enclave_cid", "must be an unsigned integer");
        a->has_cid = true;
        a->cid = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(j, "cpu_count");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
            return FIELD_ERR("cpu_count", "must be an unsigned 32-bit integer");
        a->has_cpu_count = true;
        a->cpu_count = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(j, "cpu_ids");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v) || json_array_size(v) > RT_MAX_CPUS)
            return FIELD_ERR("cpu_ids", "must be an array of CPU ids");
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            if (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > UINT32_MAX)
                return FIELD_ERR("cpu_ids", "must be an array of unsigned 32-bit integers");
            a->cpu_ids[a->ncpu_ids++] = (uint32_t)json_integer_value(c);
        }
        a->has_cpu_ids = true;
    }
    static const char *const bools[] = { "debug_mode", "attach_console" };
    for (size_t i = 0; i < 2; i++) {
        v = json_object_get(j, bools[i]);
        if (v && !json_is_boolean(v))
            return FIELD_ERR(bools[i], "must be true or false");
    }
    a->debug = json_is_true(json_object_get(j, "debug_mode"));
    a->attach = a->attach || json_is_true(json_object_get(j, "attach_console"));
    v = json_object_get(j, "enclave_name");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return FIELD_ERR("enclave_name", "must be a string");
        a->name = json_string_value(v);
    }
#undef FIELD_ERR
    if (!a->has_cpu_count && !a->has_cpu_ids)
        return cli_fail(E_MISSING_ARGUMENT, "Missing both `cpu-count` and `cpu-ids`");
    if (a->has_cpu_count && a->has_cpu_ids)
        return cli_fail(E_CONFLICTING_ARGUMENT, "`cpu-count` and `cpu-ids` cannot be used together");
    a->debug = a->debug || a->attach;
    return 0;
}

static int parse_flags(int argc, char **argv, struct run_args *a, bool *help)
{
    const char *config = NULL, *memory = NULL, *cpu_count = NULL, *cid = NULL;
    const char *seen[16];
    size_t nseen = 0;
    int rc;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            *help = true;
            return 0;
        }
        static const char *const flags[] = { "--eif-path", "--cpu-count", "--cpu-ids", "--memory",
                                             "--enclave-cid", "--enclave-name", "--debug-mode",
                                             "--attach-console", "--config", "--ca-dir" };
        bool known = false;
        for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            known |= !strcmp(f, flags[k]);
        if (!known)
            return cli_fail(E_INVALID_ARGUMENT, "Found argument '%s' which wasn't expected", f);
        for (size_t k = 0; k < nseen; k++)
            if (!strcmp(seen[k], f))
                return cli_fail(E_INVALID_ARGUMENT, "The argument '%s' was provided more than once", f);
        if (nseen < 16)
            seen[nseen++] = f;
        if (!strcmp(f, "--debug-mode")) {
            a->debug = true;
            continue;
        }
        if (!strcmp(f, "--attach-console")) {
            a->attach = true;
            continue;
        }
        if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))
            return cli_fail(E_MISSING_ARGUMENT, "User did not provide a value for `%s`.", f + 2);
        if (!strcmp(f, "--cpu-ids")) {
            /* num_args(1..): every value up to the next flag */
            a->has_cpu_ids = true;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) {
                const char *v = argv[++i];
                uint64_t n;
                if (num_parse_u64(v, UINT32_MAX, &n) != 0)
                    return invalid("cpu-id", v);
                if (a->ncpu_ids == RT_MAX_CPUS)
                    return cli_fail(E_INVALID_ARGUMENT, "too many CPU ids");
                a->cpu_ids[a->ncpu_ids++] = (uint32_t)n;
            }
            continue;
        }
        const char *v = argv[++i];
        if (!strcmp(f, "--eif-path"))
            a->eif_path = v;
        else if (!strcmp(f, "--cpu-count"))
            cpu_count = v;
        else if (!strcmp(f, "--memory"))
            memory = v;
        else if (!strcmp(f, "--enclave-cid"))
            cid = v;
        else if (!strcmp(f, "--enclave-name"))
            a->name = v;
        else if (!strcmp(f, "--config"))
            config = v;
        else if (!strcmp(f, "--ca-dir"))
            a->ca_dir = v;
    }
    if (config) {
        /* --config conflicts with everything but --attach-console (and our --ca-dir). */
        const char *other = a->eif_path ? "eif-path" : cpu_count ? "cpu-count" : a->has_cpu_ids ? "cpu-ids"
                            : memory ? "memory" : cid ? "enclave-cid" : a->name ? "enclave-name"
                            : a->debug ? "debug-mode" : NULL;
        if (other)
            return cli_fail(E_CONFLICTING_ARGUMENT, "User provided both `config` and `%s`.", other);
        return load_config(config, a);
    }
    if (cpu_count && a->has_cpu_ids)
        return cli_fail(E_CONFLICTING_ARGUMENT, "User provided both `cpu-count` and `cpu-ids`.");
    if (!cpu_count && !a->has_cpu_ids)
        return cli_fail(E_MISSING_ARGUMENT, "User did not provide the `cpu-count` argument.");
    if (!a->eif_path)
        return cli_fail(E_MISSING_ARGUMENT, "User did not provide the `eif-path` argument.");
    if (!memory)
        return cli_fail(E_MISSING_ARGUMENT, "User did not provide the `memory` argument.");
    /* nitro-cli's order: cpu-count, eif-path, enclave-cid, memory, cpu-ids. */
    if (cpu_count) {
        a->has_cpu_count = true;
        if ((rc = parse_u64("cpu-count", cpu_count, UINT32_MAX, &a->cpu_count)) != 0)
            return rc;
    }
    if (cid) {
        a->has_cid = true;
        if (num_parse_u64(cid, UINT64_MAX, &a->cid) != 0)
            return invalid("enclave-cid", cid);
    }
    if ((rc = parse_memory(memory, &a->memory_mib)) != 0)
        return rc;
    a->debug = a->debug || a->attach;
    return 0;
}

static int validate(struct run_args *a)
{
    int rc;
    if (a->has_cid && (rc = check_cid(a->cid)) != 0)
        return rc;
    if (a->memory_mib == 0)
        return cli_fail(E_INSUFFICIENT_MEMORY_REQUESTED,
                        "User provided `memory` is 0 MB, and memory should be greater than 0 MB.");
    struct rt_allocator alloc;
    struct cl_error err = { 0 };
    if (rt_allocator_load(&alloc, &err) < 0)
        return cli_fail_lib(err.code == CL_EFORMAT ? E_INVALID_CPU_CONFIGURATION : E_FILE_OPERATION, &err);
    if (a->has_cpu_count) {
        if (a->cpu_count == 0)
            return cli_fail(E_INVALID_ARGUMENT, "The parameter `cpu-count` must be at least 1");
    } else {
        if (a->ncpu_ids == 0)
            return cli_fail(E_MISSING_ARGUMENT, "User did not provide a value for `cpu-ids`.");
        for (size_t i = 0; i < a->ncpu_ids; i++)
            for (size_t j = i + 1; j < a->ncpu_ids; j++)
                if (a->cpu_ids[i] == a->cpu_ids[j])
                    return cli_fail(E_INVALID_CPU_CONFIGURATION,
                                    "User provided `cpu-ids` contains same CPU(s) (CPU(s) %u) multiple times.",
                                    a->cpu_ids[i]);
    }
    if (rt_allocator_check_cpus(&alloc, a->cpu_count, a->has_cpu_count ? NULL : a->cpu_ids,
                                a->ncpu_ids, &err) < 0)
        return cli_fail_lib(err.code == CL_ELIMIT ? E_INSUFFICIENT_CPUS : E_NO_SUCH_CPU_AVAILABLE, &err);
    if (a->name) {
        size_t len = strlen(a->name);
        bool ok = len > 0 && len <= 128;
        for (size_t i = 0; ok && i < len; i++)
            ok = (unsigned char)a->name[i] >= 0x20 && a->name[i] != 0x7f;
        if (!ok)
            return cli_fail(E_ENCLAVE_NAMING,
                            "The enclave name must be 1 to 128 printable characters.");
    }
    int fd = open(a->eif_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(E_FILE_OPERATION, "File: '%s', failing operation: 'Open' (%s).",
                        a->eif_path, strerror(errno));
    close(fd);
    return 0;
}

static int monitor_path(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash || (size_t)(slash - buf) + 2 + strlen(RT_MONITOR_PROGRAM) > cap)
        return -1;
    strcpy(slash + 1, RT_MONITOR_PROGRAM);
    return access(buf, X_OK);
}

/*
 * Starts the monitor, detached (its own session, not our child), with the
 * status pipe as fd 3; returns the read end. posix_spawn (no copy of this
 * process's page tables, unlike fork) starts it in a new session; the
 * monitor then forks once itself (--detach), so that it is neither our
 * child nor a session leader, as a double fork here would leave it, and
 * its first process exits; we wait for that one.
 */
static int spawn_monitor(const char *prog, char *const *args, int *status_rd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return cli_fail(E_PROCESS_SPAWN, "pipe: %s", strerror(errno));
    char logpath[4200];
    struct cl_error err = { 0 };
    rt_mkdir_p(rt_run_dir(), 0755, &err);
    snprintf(logpath, sizeof(logpath), "%s/monitor.log", rt_run_dir());
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int rc = null < 0 ? errno : ENOMEM;
    int log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    pid_t pid = -1;
    if (null >= 0 && posix_spawn_file_actions_init(&fa) == 0) {
        if (posix_spawnattr_init(&attr) == 0) {
            if (posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID) == 0 &&
                posix_spawn_file_actions_adddup2(&fa, null, 0) == 0 &&
                posix_spawn_file_actions_adddup2(&fa, null, 1) == 0 &&
                posix_spawn_file_actions_adddup2(&fa, log >= 0 ? log : null, 2) == 0 &&
                posix_spawn_file_actions_adddup2(&fa, p[1], 3) == 0) {
                fflush(NULL);
                rc = posix_spawn(&pid, prog, &fa, &attr, args, environ);
            }
            posix_spawnattr_destroy(&attr);
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    if (null >= 0)
        close(null);
    if (log >= 0)
        close(log);
    close(p[1]);
    int st = 0;
    if (rc == 0)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    if (rc != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        close(p[0]);
        return cli_fail(E_DAEMONIZE, "cannot start the monitor %s%s%s", prog, rc ? ": " : "",
                        rc ? strerror(rc) : "");
    }
    *status_rd = p[0];
    return 0;
}

static int read_status(int fd, json_t **out)
{
    char *buf = malloc(STATUS_MAX);
    size_t len = 0;
    if (!buf)
        return cli_fail(E_UNSPECIFIED, "out of memory");
    for (;;) {
        ssize_t n = read(fd, buf + len, STATUS_MAX - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == STATUS_MAX - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    *out = len ? json_loads(buf, 0, NULL) : NULL;
    free(buf);
    if (!*out)
        return cli_fail(E_ENCLAVE_BOOT_FAILURE,
                        "the enclave's monitor ended without a report (see %s/monitor.log)", rt_run_dir());
    return 0;
}

/* --attach-console: the enclave's console, or what was kept of it if it
 * ended (the monitor kept it before it said so). */
static int attach_console(const char *id, bool ended)
{
    struct cl_error err = { 0 };
    struct rt_state *st = NULL;
    json_t *records = NULL, *rec = NULL, *trace = NULL;
    int rc = 0;
    if (rt_state_open(false, &st, &err) < 0 || rt_state_list(st, &records, &err) < 0) {
        rc = cli_fail_lib(E_READ_FROM_DISK, &err);
        goto out;
    }
    if (!ended && rt_cli_find(records, id, NULL, &rec, NULL) == 0)
        rc = rt_cli_console(st, rec, -1, &err);
    else if (rt_trace_find(st, id, NULL, &trace, &err) == 0 && trace)
        rc = rt_cli_console_ended(st, trace, &err);
    else
        rc = rt_cli_find(records, id, NULL, &rec, &err);  /* its error */
    if (rc > 0)
        rc = cli_fail_lib((enum nitro_errno)rc, &err);
out:
    json_decref(trace);
    json_decref(records);
    rt_state_free(st);
    return rc;
}

/*
 * The first run-enclave of a host makes the attestation CA when the CA
 * directory holds none, and says so once, with the root's fingerprint
 * (the trust anchor relying parties are given; `attestation-ca show` tells
 * it again). Not as another user than root: the monitor refuses those
 * (E18), and a CA is root's.
 */
static int ensure_ca(const char *ca_dir)
{
    struct cl_error err = { 0 };
    bool created = false;
    const char *dir = ca_dir ? ca_dir : ATTEST_CA_DEFAULT_DIR;
    if (geteuid() != 0)
        return 0;
    if (attest_ca_ensure(dir, &created, &err) < 0) {
        cl_error_prefix(&err, "cannot create the attestation CA");
        return cli_fail_lib(nitro_errno_of_ca(err.code), &err);
    }
    if (!created)
        return 0;
    struct attest_ca_info info;
    if (attest_ca_info(dir, &info, &err) < 0)
        return cli_fail_lib(nitro_errno_of_ca(err.code), &err);
    fprintf(stderr, "Created the attestation CA in %s: its root certificate %s/root.pem has the "
            "SHA-256 fingerprint %s\n", dir, dir, info.root_sha256);
    return 0;
}

int cmd_run_enclave(int argc, char **argv)
{
    struct run_args a;
    memset(&a, 0, sizeof(a));
    bool help = false;
    int rc = parse_flags(argc, argv, &a, &help);
    json_t *status = NULL;
    if (rc != 0)
        goto out;
    if (help) {
        usage(stdout);
        goto out;
    }
    if ((rc = validate(&a)) != 0)
        goto out;
    if (!a.ca_dir && getenv("CLOISTER_CA_DIR") && *getenv("CLOISTER_CA_DIR"))
        a.ca_dir = getenv("CLOISTER_CA_DIR");
    if ((rc = ensure_ca(a.ca_dir)) != 0)
        goto out;

    char prog[4096];
    if (monitor_path(prog, sizeof(prog)) < 0) {
        rc = cli_fail(E_PROCESS_SPAWN, "cannot find %s beside this program", RT_MONITOR_PROGRAM);
        goto out;
    }
    char *eif_abs = realpath(a.eif_path, NULL);
    if (!eif_abs) {
        rc = cli_fail(E_FILE_OPERATION, "File: '%s', failing operation: 'Open' (%s).",
                      a.eif_path, strerror(errno));
        goto out;
    }
    char mem[32], cpus[RT_MAX_CPUS * 11 + 1], cid[32], count[32];
    snprintf(mem, sizeof(mem), "%" PRIu64, a.memory_mib);
    snprintf(cid, sizeof(cid), "%" PRIu64, a.has_cid ? a.cid : 0);
    snprintf(count, sizeof(count), "%" PRIu64, a.cpu_count);
    cpus[0] = '\0';
    for (size_t i = 0, off = 0; i < a.ncpu_ids; i++)
        off += (size_t)snprintf(cpus + off, sizeof(cpus) - off, "%s%u", i ? "," : "", a.cpu_ids[i]);
    char *args[24];
    size_t n = 0;
    args[n++] = RT_MONITOR_PROGRAM;
    args[n++] = "--eif";
    args[n++] = eif_abs;
    args[n++] = "--memory";
    args[n++] = mem;
    args[n++] = a.has_cpu_count ? "--cpu-count" : "--cpu-ids";
    args[n++] = a.has_cpu_count ? count : cpus;
    args[n++] = "--cid";
    args[n++] = cid;
    if (a.name) {
        args[n++] = "--name";
        args[n++] = (char *)a.name;
    }
    if (a.ca_dir) {
        args[n++] = "--ca-dir";
        args[n++] = (char *)a.ca_dir;
    }
    if (a.debug)
        args[n++] = "--debug";
    args[n++] = "--status-fd";
    args[n++] = "3";
    args[n++] = "--detach";
    args[n] = NULL;

    fprintf(stderr, "Start allocating memory...\n");
    int fd;
    rc = spawn_monitor(prog, args, &fd);
    free(eif_abs);
    if (rc != 0)
        goto out;
    if ((rc = read_status(fd, &status)) != 0)
        goto out;
    json_t *e = json_object_get(status, "Error");
    if (e) {
        long long code = json_integer_value(e);
        const char *msg = json_string_value(json_object_get(status, "Message"));
        rc = cli_fail(code > 0 && code < E_NITRO_MAX ? (enum nitro_errno)code : E_UNSPECIFIED, "%s",
                      msg ? msg : "the monitor failed");
        goto out;
    }
    /* "Started enclave with enclave-cid: 16, memory: 512 MiB, cpu-ids: [1, 3]" */
    char list[RT_MAX_CPUS * 12 + 3];
    size_t off = 0;
    list[off++] = '[';
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "CPUIDs"), i, c)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%lld", i ? ", " : "",
                                (long long)json_integer_value(c));
    snprintf(list + off, sizeof(list) - off, "]");
    fprintf(stderr, "Started enclave with enclave-cid: %lld, memory: %lld MiB, cpu-ids: %s\n",
            (long long)json_integer_value(json_object_get(status, "EnclaveCID")),
            (long long)json_integer_value(json_object_get(status, "MemoryMiB")), list);
    /* An enclave whose command ended well within the start window (the
     * monitor says why): still nitro-cli's output, and a note. */
    json_t *ended = json_incref(json_object_get(status, "Ended"));
    json_object_del(status, "Ended");
    const char *id = json_string_value(json_object_get(status, "EnclaveID"));
    json_t *rec_for_console = json_incref(status);
    rc = cli_print_json(status);
    status = NULL;
    if (ended)
        fprintf(stderr, "The enclave %s already ended: %s.\n", id, json_string_value(ended));
    if (rc == 0 && a.attach)
        rc = attach_console(id, ended != NULL);
    json_decref(ended);
    json_decref(rec_for_console);
out:
    json_decref(status);
    json_decref(a.config);
    return rc;
}
