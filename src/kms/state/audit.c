/* SPDX-License-Identifier: Apache-2.0 */
/* The hash-chained audit log and its head file (audit.h). */
#include "state/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "util/kmsutil.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_LINE_MAX (1 << 20)

struct audit {
    pthread_mutex_t lock;
    int fd;
    int head_fd;
    unsigned long long count;
    char last[65];
};

static char *head_path(const char *path)
{
    size_t n = strlen(path);
    char *h = malloc(n + 6);
    if (h)
        snprintf(h, n + 6, "%s.head", path);
    return h;
}

/* Reads "<count> <hash>" from the head file; CL_ENOTFOUND when absent. */
static int read_head(const char *path, unsigned long long *count, char hash[65],
                     struct cl_error *err)
{
    char *hp = head_path(path);
    if (!hp)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    uint8_t *data = NULL;
    size_t len = 0;
    struct cl_error e2 = {0};
    int rc = file_read_all(hp, 4096, &data, &len, &e2);
    if (rc < 0) {
        rc = (errno == ENOENT) ? cl_fail(err, CL_ENOTFOUND, "no head file %s", hp)
                               : cl_fail(err, rc, "%s", e2.reason);
        free(hp);
        return rc;
    }
    char h[65] = "";
    if (sscanf((char *)data, "%20llu %64s", count, h) != 2 || strlen(h) != 64)
        rc = cl_fail(err, CL_EFORMAT, "head file %s is malformed", hp);
    else
        memcpy(hash, h, 65);
    free(data);
    free(hp);
    return rc;
}

int audit_verify(const char *path, size_t *lines, struct cl_error *err)
{
    *lines = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) {
            unsigned long long c;
            char h[65];
            /* no log and no head: nothing was ever logged */
            if (read_head(path, &c, h, NULL) == CL_ENOTFOUND)
                return 0;
            return cl_fail(err, CL_ESTATE, "the audit log %s is missing but its head file exists",
                           path);
        }
        return cl_fail_errno(err, CL_EIO, "cannot open %s", path);
    }
    char prev[65] = ZERO_HASH;
    char at_head[65] = "";
    unsigned long long head_count = 0;
    char head_hash[65] = "";
    int hrc = read_head(path, &head_count, head_hash, err);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    size_t no = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        no++;
        if (line[n - 1] != '\n') {
            rc = cl_fail(err, CL_EFORMAT, "line %zu: incomplete (no newline)", no);
            goto out;
        }
        line[--n] = 0;
        json_error_t je;
        json_t *ev = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        const char *p = ev ? json_string_value(json_object_get(ev, "prev")) : NULL;
        if (!p) {
            json_decref(ev);
            rc = cl_fail(err, CL_EFORMAT, "line %zu: not a JSON object with \"prev\"", no);
            goto out;
        }
        if (strcmp(p, prev) != 0) {
            rc = cl_fail(err, CL_ECHECKSUM,
                         "line %zu: chain broken (prev %.16s... but line %zu hashes to %.16s...)", no,
                         p, no - 1, prev);
            json_decref(ev);
            goto out;
        }
        json_decref(ev);
        ku_sha256_hex(line, (size_t)n, prev);
        if (hrc == 0 && no == head_count)
            memcpy(at_head, prev, 65);
    }
    if (ferror(f)) {
        rc = cl_fail_errno(err, CL_EIO, "cannot read %s", path);
        goto out;
    }
    if (hrc == CL_ENOTFOUND && no == 0) {
        cl_error_clear(err);
    } else if (hrc < 0) {
        rc = cl_fail(err, CL_ESTATE, "the audit log has %zu lines but no valid head file", no);
    } else if (no < head_count) {
        rc = cl_fail(err, CL_ESTATE, "truncated: the log has %zu lines, the head records %llu", no,
                     head_count);
    } else if (no > head_count + 1) {
        rc = cl_fail(err, CL_ESTATE, "the log has %zu lines, more than the head's %llu (+1)", no,
                     head_count);
    } else if (head_count > 0 && strcmp(at_head, head_hash) != 0) {
        rc = cl_fail(err, CL_ECHECKSUM, "line %llu does not match the hash recorded in the head",
                     head_count);
    }
    *lines = no;
out:
    free(line);
    fclose(f);
    return rc;
}

static int write_head(struct audit *a, struct cl_error *err)
{
    /* fixed width, so that one pwrite always replaces the whole record */
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%020llu %s\n", a->count, a->last);
    if (pwrite(a->head_fd, buf, (size_t)n, 0) != n)
        return cl_fail_errno(err, CL_EIO, "cannot write the audit head");
    return 0;
}

/*
 * A crash can tear the last line: Linux copies a buffered write(2) page by
 * page and stops early when a fatal signal (SIGKILL) is pending
 * (generic_perform_write), so a kill -9 can leave a line without its end.
 * That tail never entered the chain (the head is written after the whole
 * line), so it is cut off - but only when the complete lines are at least
 * as many as the head records: a log cut short by anyone else still fails
 * verification. A tail longer than any line is left for verification to
 * report.
 */
static int repair_torn_tail(const char *path, struct cl_error *err)
{
    int rc = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : cl_fail_errno(err, CL_EIO, "cannot open %s", path);
    char buf[65536];
    off_t pos = 0, complete = 0;
    unsigned long long newlines = 0;
    ssize_t n;
    while ((n = pread(fd, buf, sizeof(buf), pos)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                newlines++;
                complete = pos + i + 1;
            }
        }
        pos += n;
    }
    if (n < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot read %s", path);
        goto out;
    }
    unsigned long long head_count;
    char head_hash[65];
    if (complete == pos || pos - complete > AUDIT_LINE_MAX ||
        read_head(path, &head_count, head_hash, NULL) < 0 || newlines < head_count)
        goto out;
    if (ftruncate(fd, complete) < 0)
        rc = cl_fail_errno(err, CL_EIO, "cannot cut the torn last line of %s", path);
out:
    close(fd);
    return rc;
}

int audit_open(const char *path, struct audit **out, struct cl_error *err)
{
    *out = NULL;
    size_t lines = 0;
    int rc = repair_torn_tail(path, err);
    if (rc < 0)
        return rc;
    rc = audit_verify(path, &lines, err);
    if (rc < 0) {
        cl_error_prefix(err, "the audit log %s fails verification (move it aside to start a new one)",
                        path);
        return rc;
    }
    struct audit *a = calloc(1, sizeof(*a));
    char *hp = head_path(path);
    if (!a || !hp) {
        free(a);
        free(hp);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&a->lock, NULL);
    a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    a->head_fd = open(hp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    free(hp);
    if (a->fd < 0 || a->head_fd < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot open the audit log %s", path);
        audit_close(a);
        return rc;
    }
    /* continue the chain from the last line */
    memcpy(a->last, ZERO_HASH, 65);
    FILE *f = fopen(path, "r");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] == '\n')
                n--;
            ku_sha256_hex(line, (size_t)n, a->last);
        }
        free(line);
        fclose(f);
    }
    a->count = lines;
    rc = write_head(a, err);
    if (rc < 0) {
        audit_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void audit_close(struct audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    if (a->head_fd >= 0)
        close(a->head_fd);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int audit_append(struct audit *a, const json_t *event, struct cl_error *err)
{
    json_t *line = json_object();
    if (!line)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    pthread_mutex_lock(&a->lock);
    json_object_set_new(line, "prev", json_string(a->last));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)event, k, v)
    {
        if (strcmp(k, "prev") != 0)
            json_object_set(line, k, v);
    }
    int rc = 0;
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = strlen(text);
    if (n > AUDIT_LINE_MAX) {
        rc = cl_fail(err, CL_ELIMIT, "audit line too long");
        goto out;
    }
    char hash[65];
    ku_sha256_hex(text, n, hash);
    text[n] = '\n';  /* json_dumps' NUL becomes the newline; written as one write(2) */
    ssize_t w = write(a->fd, text, n + 1);
    if (w != (ssize_t)(n + 1)) {
        rc = cl_fail_errno(err, CL_EIO, "cannot append to the audit log");
        goto out;
    }
    memcpy(a->last, hash, 65);
    a->count++;
    rc = write_head(a, err);
out:
    pthread_mutex_unlock(&a->lock);
    free(text);
    json_decref(line);
    return rc;
}
