/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_allocator.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/fileio.h"
#include "base/num.h"
#include "rt_util.h"

#define FILE_MAX (64 * 1024)

void rt_allocator_defaults(const struct rt_cpuset *online, uint64_t mem_total_mib,
                           uint64_t pid_max, uint64_t threads_max, struct rt_allocator *a)
{
    memset(a, 0, sizeof(*a));
    a->pool = *online;
    /* A quarter of the memory stays the host's: enough for the parent's own
     * services on any machine that can run enclaves at all, and what makes
     * the kernel's OOM killer act inside the enclaves' cgroup before the
     * host's. */
    a->memory_mib = mem_total_mib - mem_total_mib / 4;
    /* Half of the tasks the kernel allows (pid_max, or threads-max when that
     * is lower) stays the host's: a fork bomb in every enclave at once still
     * leaves the parent thousands of PIDs. */
    uint64_t tasks = threads_max && threads_max < pid_max ? threads_max : pid_max;
    a->pids_max = tasks / 2 > 64 ? tasks / 2 : 64;
    snprintf(a->cgroup_parent, sizeof(a->cgroup_parent), "cloister");
}

static uint64_t read_u64(const char *path, uint64_t fallback)
{
    char buf[64];
    uint64_t v;
    if (rt_read_str(path, buf, sizeof(buf), NULL) == 0 && num_parse_u64(buf, UINT64_MAX / 2, &v) == 0)
        return v;
    return fallback;
}

static uint64_t mem_total_mib(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    unsigned long long kib = 0;
    char line[256];
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib / 1024;
}

static bool plain_name(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* One key's value into a; 0 or CL_EFORMAT. */
static int set_key(struct rt_allocator *a, const struct rt_cpuset *online, const char *name,
                   size_t line, const char *key, const char *val, bool *had_count, bool *had_pool,
                   struct cl_error *err)
{
    uint64_t v;
    if (!strcmp(key, "memory_mib")) {
        if (num_parse_u64(val, UINT64_MAX / (1024 * 1024), &v) < 0 || v == 0)
            return cl_fail(err, CL_EFORMAT, "%s:%zu: memory_mib must be a positive number of MiB, not '%s'",
                           name, line, val);
        a->memory_mib = v;
        return 0;
    }
    if (!strcmp(key, "pids_max")) {
        if (num_parse_u64(val, 1u << 30, &v) < 0 || v < 16)
            return cl_fail(err, CL_EFORMAT, "%s:%zu: pids_max must be a number of at least 16, not '%s'",
                           name, line, val);
        a->pids_max = v;
        return 0;
    }
    if (!strcmp(key, "cgroup_parent")) {
        if (strlen(val) > RT_CGROUP_PARENT_MAX || !plain_name(val))
            return cl_fail(err, CL_EFORMAT,
                           "%s:%zu: cgroup_parent must be one name of letters, digits, '-', '_' or '.' "
                           "(at most %d), not '%s'", name, line, RT_CGROUP_PARENT_MAX, val);
        snprintf(a->cgroup_parent, sizeof(a->cgroup_parent), "%s", val);
        return 0;
    }
    if (!strcmp(key, "cpu_count")) {
        if (num_parse_u64(val, RT_MAX_CPUS, &v) < 0 || v == 0)
            return cl_fail(err, CL_EFORMAT, "%s:%zu: cpu_count must be a positive number, not '%s'",
                           name, line, val);
        if (v > online->n)
            return cl_fail(err, CL_EFORMAT, "%s:%zu: cpu_count is %llu, but only %zu CPUs are online",
                           name, line, (unsigned long long)v, online->n);
        /* The last CPUs: CPU 0 (and its low neighbours) stay the host's
         * first, as nitro-cli's allocator keeps CPU 0 for the parent. */
        a->pool.n = (size_t)v;
        memcpy(a->pool.ids, online->ids + (online->n - v), v * sizeof(uint32_t));
        *had_count = true;
        return 0;
    }
    if (!strcmp(key, "cpu_pool")) {
        struct rt_cpuset set;
        struct cl_error e = { 0 };
        if (rt_cpus_parse(val, &set, &e) < 0 || set.n == 0)
            return cl_fail(err, CL_EFORMAT, "%s:%zu: cpu_pool must be a CPU list such as 2,3,6-9, not '%s'",
                           name, line, val);
        for (size_t i = 0; i < set.n; i++)
            if (!rt_cpus_contains(online, set.ids[i]))
                return cl_fail(err, CL_EFORMAT, "%s:%zu: cpu_pool names CPU %u, which is not online",
                               name, line, set.ids[i]);
        a->pool = set;
        *had_pool = true;
        return 0;
    }
    return cl_fail(err, CL_EFORMAT,
                   "%s:%zu: unknown key '%s' (memory_mib, cpu_count, cpu_pool, pids_max, cgroup_parent)",
                   name, line, key);
}

int rt_allocator_parse(const char *text, size_t len, const char *name,
                       const struct rt_cpuset *online, struct rt_allocator *a, struct cl_error *err)
{
    yaml_parser_t p;
    yaml_document_t doc;
    int rc = 0;
    if (!yaml_parser_initialize(&p))
        return cl_fail(err, CL_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        rc = cl_fail(err, CL_EFORMAT, "%s:%zu: not YAML: %s", name, p.problem_mark.line + 1,
                     p.problem ? p.problem : "parse error");
        yaml_parser_delete(&p);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    bool had_count = false, had_pool = false;
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             rc == 0 && pr < root->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
            yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
            size_t line = k ? k->start_mark.line + 1 : 0;
            if (!k || !v || k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE) {
                rc = cl_fail(err, CL_EFORMAT, "%s:%zu: every entry must be 'key: value'", name, line);
                break;
            }
            rc = set_key(a, online, name, line, (const char *)k->data.scalar.value,
                         (const char *)v->data.scalar.value, &had_count, &had_pool, err);
        }
        if (rc == 0 && had_count && had_pool)
            rc = cl_fail(err, CL_EFORMAT, "%s: cpu_count and cpu_pool conflict: set only one", name);
    } else if (root) {
        rc = cl_fail(err, CL_EFORMAT, "%s: must be a mapping of keys to values", name);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

int rt_allocator_load(struct rt_allocator *a, struct cl_error *err)
{
    struct rt_cpuset online;
    int rc = rt_cpus_online(&online, err);
    if (rc < 0)
        return rc;
    rt_allocator_defaults(&online, mem_total_mib(), read_u64("/proc/sys/kernel/pid_max", 32768),
                          read_u64("/proc/sys/kernel/threads-max", 0), a);
    const char *path = getenv("CLOISTER_ALLOCATOR");
    if (!path || !*path)
        path = RT_ALLOCATOR_FILE;
    uint8_t *text = NULL;
    size_t len = 0;
    struct cl_error e = { 0 };
    if (file_read_all(path, FILE_MAX, &text, &len, &e) < 0) {
        if (e.code == CL_ENOTFOUND && !getenv("CLOISTER_ALLOCATOR"))
            return 0;   /* no file: the defaults */
        return cl_fail(err, e.code == CL_ELIMIT ? CL_EFORMAT : e.code, "%s", e.reason);
    }
    snprintf(a->path, sizeof(a->path), "%s", path);
    rc = rt_allocator_parse((const char *)text, len, path, &online, a, err);
    free(text);
    return rc;
}

int rt_allocator_check_cpus(const struct rt_allocator *a, uint64_t cpu_count, const uint32_t *ids,
                            size_t n, struct cl_error *err)
{
    char list[RT_MAX_CPUS * 6 + 1], pool[RT_MAX_CPUS * 6 + 600];
    rt_cpus_format(a->pool.ids, a->pool.n, list, sizeof(list));
    if (a->path[0])
        snprintf(pool, sizeof(pool), "The CPU pool of %s is %s (%zu CPUs).", a->path, list, a->pool.n);
    else
        snprintf(pool, sizeof(pool), "Cloister enclaves share the %zu online CPUs of this host.", a->pool.n);
    if (!ids) {
        if (cpu_count > a->pool.n)
            return cl_fail(err, CL_ELIMIT,
                           "User provided `cpu-count` is %llu, which is more than the configured CPU "
                           "pool size.\n%s", (unsigned long long)cpu_count, pool);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!rt_cpus_contains(&a->pool, ids[i]))
            return cl_fail(err, CL_ENOTFOUND,
                           "User provided `cpu-ids` contains CPU %u, which is not available in the pool.%s%s",
                           ids[i], a->path[0] ? "\n" : "", a->path[0] ? pool : "");
    return 0;
}
