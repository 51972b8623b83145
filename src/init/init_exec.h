/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How the enclave init starts the command: as AWS's init does, with glibc's
 * execvpe (aws-nitro-enclaves-sdk-bootstrap init/init.c; docs/runtime.md,
 * "How the command is started").
 *
 *   - a name containing '/' is run as it is; any other is searched in a
 *     PATH (init_exec_path());
 *   - a file the kernel refuses with ENOEXEC (a script without "#!" on its
 *     first line) is run as `/bin/sh FILE ARGS...`;
 *   - in the search, a candidate that is missing (ENOENT, ENOTDIR) or found
 *     but not runnable (EACCES, ...) is passed over, and the first found
 *     but not runnable one is what is reported when nothing ran; any other
 *     error stops the search.
 *
 * Self-contained on purpose (libc only): init is a static blob.
 */
#ifndef CLOISTER_INIT_EXEC_H
#define CLOISTER_INIT_EXEC_H

#include <stddef.h>

#include "init_config.h"

/* Exit statuses when nothing could be run, as shells use them. */
#define INIT_EXEC_NOT_FOUND    127 /* no such file (ENOENT, ENOTDIR) */
#define INIT_EXEC_NOT_RUNNABLE 126 /* found, but the kernel or /bin/sh refused it */

/*
 * The PATH the command is searched in: the image's (the last PATH= of env,
 * init_search_path()), then each directory of AWS init's default
 * (INIT_DEFAULT_PATH) that it does not list; INIT_DEFAULT_PATH alone when
 * env has no PATH. AWS's init searches its default alone, whatever the
 * image says, so this finds everything AWS's does. Returns a malloc'd
 * string (caller frees), or NULL when out of memory.
 */
char *init_exec_path(const struct init_list *env);

/*
 * Runs argv (argv[0] the name, argv kept as it is) with envp as the
 * environment, searching search_path when argv[0] has no '/'. Returns only
 * when nothing could be run: msg (size msgsz) then holds the one line to
 * print, without newline, and the result is the exit status
 * (INIT_EXEC_NOT_FOUND or INIT_EXEC_NOT_RUNNABLE). The lines, each one
 * line (docs/runtime.md has the table), PATH the file tried:
 *
 *   init: cannot run 'NAME': No such file or directory (searched PATH P)
 *   init: cannot run 'PATH': <strerror>
 *   init: cannot run 'PATH': No such file or directory (the file exists:
 *       the interpreter its #! line names, or its dynamic loader, is missing)
 *   init: cannot run 'PATH': Exec format error; running it with /bin/sh:
 *       <strerror of /bin/sh's exec>
 */
int init_exec(char *const argv[], char *const envp[], const char *search_path, char *msg,
              size_t msgsz);

#endif
