/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave init's two configuration files, /cmd and /env, as AWS's init
 * reads them (aws-nitro-enclaves-sdk-bootstrap init/init.c; see
 * docs/build-enclave.md, "The ramdisks"): one entry per line, the trailing '\n' stripped.
 * /cmd holds one argv element per line, /env one KEY=VALUE per line.
 *
 * Self-contained on purpose (libc only): init is a static blob.
 */
#ifndef CLOISTER_INIT_CONFIG_H
#define CLOISTER_INIT_CONFIG_H

#include <stddef.h>

/* Bounds: a cmd/env file larger than this, or with more entries, is refused. */
#define INIT_CONFIG_MAX_BYTES (1u << 20)
#define INIT_CONFIG_MAX_LINES 16384u

/* The environment when /env is missing (AWS init's DEFAULT_PATH_ENV); also
 * the PATH AWS's init searches the command in (init_exec.h). */
#define INIT_DEFAULT_PATH "/sbin:/usr/sbin:/bin:/usr/bin"

/* A NULL-terminated list of strings, all owned by the list. */
struct init_list {
    char **v;     /* v[n] == NULL */
    size_t n;
};

/*
 * Splits buf[0..len) into lines. A last line without '\n' counts; an empty
 * buffer gives zero entries. A NUL byte anywhere is refused (it cannot be
 * passed to execve). On success *out owns copies of every line.
 * Returns 0, or -1 with *why set to a static reason.
 */
int init_split_lines(const char *buf, size_t len, struct init_list *out, const char **why);

/*
 * Reads path into *out as above. Returns 0, 1 when the file does not exist
 * (out is then empty), or -1 with *why set (errno-style detail in errno).
 */
int init_read_list(const char *path, struct init_list *out, const char **why);

/* The environment for a missing /env: PATH only. */
int init_default_env(struct init_list *out);

/* The command for a missing /cmd: ["sh"]. */
int init_default_cmd(struct init_list *out);

/*
 * The PATH to search for argv[0]: the value of PATH in env if present, else
 * INIT_DEFAULT_PATH. Points into env or at a constant; never NULL.
 */
const char *init_search_path(const struct init_list *env);

void init_list_free(struct init_list *l);

#endif
