/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command started as glibc's execvpe starts it (init_exec.h): AWS's
 * init calls execvpe (aws-nitro-enclaves-sdk-bootstrap init/init.c), and
 * glibc's execvpe runs a name with a '/' as it is, otherwise tries each
 * directory of PATH in order, and runs a file the kernel refuses with
 * ENOEXEC as `/bin/sh FILE ARGS...`. What differs is said, not done: the
 * messages name the file and the reason, where AWS's init prints
 * "execvpe: NAME: <strerror>" and exits with the errno.
 */
#include "init_exec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether the ':'-separated list has the element dir[0..n). */
static bool path_lists(const char *list, const char *dir, size_t n)
{
    for (const char *p = list;;) {
        const char *end = strchrnul(p, ':');
        if ((size_t)(end - p) == n && memcmp(p, dir, n) == 0)
            return true;
        if (*end == '\0')
            return false;
        p = end + 1;
    }
}

char *init_exec_path(const struct init_list *env)
{
    const char *image = init_search_path(env);
    size_t len = strlen(image);
    /* At worst every default directory is added, each after a ':'. */
    char *out = malloc(len + sizeof(INIT_DEFAULT_PATH) + 1);
    if (!out)
        return NULL;
    memcpy(out, image, len + 1);
    for (const char *p = INIT_DEFAULT_PATH;;) {
        const char *end = strchrnul(p, ':');
        size_t n = (size_t)(end - p);
        if (!path_lists(image, p, n)) {
            out[len++] = ':';
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return out;
}

/* A regular file is there (for "its interpreter is missing"). */
static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * execve(path); if the kernel says ENOEXEC, /bin/sh with the file and the
 * arguments after argv[0], as glibc's execvpe. Returns only on failure:
 * execve's errno, and in *sh_err /bin/sh's when it was tried (else 0).
 */
static int try_exec(char *path, char *const argv[], char *const envp[], int *sh_err)
{
    static char bin_sh[] = "/bin/sh";
    *sh_err = 0;
    execve(path, argv, envp);
    int e = errno;
    if (e != ENOEXEC)
        return e;
    size_t argc = 0;
    while (argv[argc])
        argc++;
    /* {"/bin/sh", path, argv[1..argc), NULL}: argc + 2 slots (argc >= 1) */
    char **sh = calloc(argc + 2, sizeof(*sh));
    if (!sh) {
        *sh_err = ENOMEM;
        return e;
    }
    sh[0] = bin_sh;
    sh[1] = path;
    for (size_t i = 1; i < argc; i++)
        sh[i + 1] = argv[i];
    execve(bin_sh, sh, envp);
    *sh_err = errno;
    free(sh);
    return e;
}

/* The line for a file that was found (or named with a '/') but did not run;
 * returns the exit status. */
static int report(const char *path, int e, int sh_err, char *msg, size_t msgsz)
{
    if (e == ENOEXEC) {
        snprintf(msg, msgsz, "init: cannot run '%s': %s; running it with /bin/sh: %s", path,
                 strerror(e), strerror(sh_err));
        return INIT_EXEC_NOT_RUNNABLE;
    }
    if (e == ENOENT && is_file(path))
        /* The kernel's ENOENT for a file that is there: a "#!" interpreter
         * or the ELF program interpreter (the dynamic loader) is missing. */
        snprintf(msg, msgsz,
                 "init: cannot run '%s': %s (the file exists: the interpreter its #! line "
                 "names, or its dynamic loader, is missing)",
                 path, strerror(e));
    else
        snprintf(msg, msgsz, "init: cannot run '%s': %s", path, strerror(e));
    return e == ENOENT || e == ENOTDIR ? INIT_EXEC_NOT_FOUND : INIT_EXEC_NOT_RUNNABLE;
}

/* The first candidate of the search that was found but did not run. */
struct found {
    char *path; /* owned; NULL: none yet */
    int err, sh_err;
};

int init_exec(char *const argv[], char *const envp[], const char *search_path, char *msg,
              size_t msgsz)
{
    const char *file = argv[0];
    int sh_err;
    if (file[0] == '\0') {
        snprintf(msg, msgsz, "init: cannot run '': %s", strerror(ENOENT));
        return INIT_EXEC_NOT_FOUND;
    }
    if (strchr(file, '/')) {
        char *path = strdup(file);
        if (!path) {
            snprintf(msg, msgsz, "init: cannot run '%s': %s", file, strerror(ENOMEM));
            return INIT_EXEC_NOT_RUNNABLE;
        }
        int e = try_exec(path, argv, envp, &sh_err);
        int st = report(path, e, sh_err, msg, msgsz);
        free(path);
        return st;
    }
    size_t flen = strlen(file);
    struct found first = { 0 };
    for (const char *p = search_path;;) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        /* An empty element is the working directory (/): the name alone. */
        char *cand = malloc(dlen + 1 + flen + 1);
        if (!cand) {
            free(first.path);
            snprintf(msg, msgsz, "init: cannot run '%s': %s", file, strerror(ENOMEM));
            return INIT_EXEC_NOT_RUNNABLE;
        }
        memcpy(cand, p, dlen);
        size_t at = dlen;
        if (dlen)
            cand[at++] = '/';
        memcpy(cand + at, file, flen + 1);
        int e = try_exec(cand, argv, envp, &sh_err);
        bool missing = e == ENOTDIR || e == ESTALE || e == ENODEV || e == ETIMEDOUT ||
                       (e == ENOENT && !is_file(cand));
        bool not_runnable = !missing && (e == EACCES || e == ENOEXEC || e == ENOENT);
        if (!missing && !not_runnable) {
            /* found, and something else went wrong: glibc stops here too */
            free(first.path);
            int st = report(cand, e, sh_err, msg, msgsz);
            free(cand);
            return st;
        }
        if (not_runnable && !first.path)
            first = (struct found){ cand, e, sh_err };
        else
            free(cand);
        if (*end == '\0')
            break;
        p = end + 1;
    }
    if (first.path) {
        int st = report(first.path, first.err, first.sh_err, msg, msgsz);
        free(first.path);
        return st;
    }
    snprintf(msg, msgsz, "init: cannot run '%s': %s (searched PATH %s)", file, strerror(ENOENT),
             search_path);
    return INIT_EXEC_NOT_FOUND;
}
