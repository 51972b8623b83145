/* SPDX-License-Identifier: Apache-2.0 */
#include "init_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void init_list_free(struct init_list *l)
{
    if (!l || !l->v)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int list_from(struct init_list *out, const char *const *items, size_t n)
{
    out->v = calloc(n + 1, sizeof(char *));
    out->n = 0;
    if (!out->v)
        return -1;
    for (size_t i = 0; i < n; i++) {
        out->v[i] = strdup(items[i]);
        if (!out->v[i]) {
            init_list_free(out);
            return -1;
        }
        out->n++;
    }
    return 0;
}

int init_default_env(struct init_list *out)
{
    static const char *const env[] = { "PATH=" INIT_DEFAULT_PATH };
    return list_from(out, env, 1);
}

int init_default_cmd(struct init_list *out)
{
    static const char *const cmd[] = { "sh" };
    return list_from(out, cmd, 1);
}

int init_split_lines(const char *buf, size_t len, struct init_list *out, const char **why)
{
    out->v = NULL;
    out->n = 0;
    if (len > INIT_CONFIG_MAX_BYTES) {
        *why = "file too large";
        return -1;
    }
    if (memchr(buf, '\0', len)) {
        *why = "NUL byte in file";
        return -1;
    }
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n')
            lines++;
    if (len > 0 && buf[len - 1] != '\n')
        lines++;                        /* a last line without newline */
    if (lines > INIT_CONFIG_MAX_LINES) {
        *why = "too many lines";
        return -1;
    }
    out->v = calloc(lines + 1, sizeof(char *));
    if (!out->v) {
        *why = "out of memory";
        return -1;
    }
    size_t start = 0;
    for (size_t i = 0; i <= len && out->n < lines; i++) {
        if (i == len || buf[i] == '\n') {
            out->v[out->n] = strndup(buf + start, i - start);
            if (!out->v[out->n]) {
                init_list_free(out);
                *why = "out of memory";
                return -1;
            }
            out->n++;
            start = i + 1;
        }
    }
    return 0;
}

int init_read_list(const char *path, struct init_list *out, const char **why)
{
    out->v = NULL;
    out->n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        *why = "cannot open";
        return -1;
    }
    char *buf = NULL;
    int rc = -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        *why = "cannot stat";
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        errno = EINVAL;
        goto out;
    }
    if ((unsigned long long)st.st_size > INIT_CONFIG_MAX_BYTES) {
        *why = "file too large";
        errno = EFBIG;
        goto out;
    }
    /* Read up to the bound + 1 whatever stat said: the size may change. */
    buf = malloc(INIT_CONFIG_MAX_BYTES + 1);
    if (!buf) {
        *why = "out of memory";
        goto out;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, INIT_CONFIG_MAX_BYTES + 1 - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *why = "cannot read";
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > INIT_CONFIG_MAX_BYTES) {
            *why = "file too large";
            errno = EFBIG;
            goto out;
        }
    }
    rc = init_split_lines(buf, len, out, why);
    if (rc < 0)
        errno = EINVAL;
out:
    free(buf);
    close(fd);
    return rc;
}

const char *init_search_path(const struct init_list *env)
{
    const char *path = NULL;
    /* The last PATH= wins, as with putenv'ing each entry in order. */
    for (size_t i = 0; env && i < env->n; i++)
        if (strncmp(env->v[i], "PATH=", 5) == 0)
            path = env->v[i] + 5;
    return path ? path : INIT_DEFAULT_PATH;
}
