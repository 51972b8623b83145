/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build context of --docker-dir DIR: the tar of DIR that goes with
 * POST /build, made as nitro-cli makes it (its docker.rs build_tarball:
 * the tar crate's append_dir_all, which follows symbolic links), minus
 * what is not safe:
 *
 *   - every file and directory below DIR, with its permission bits
 *     (setuid, setgid, sticky included) and mtime in whole seconds; owner
 *     0:0 (COPY and ADD make every file root's unless told otherwise, so
 *     the host's uids would only leak);
 *   - a symbolic link is followed as nitro-cli follows it (the entry is
 *     what it points to, under the link's name), but only when it leads
 *     to a file or directory inside DIR; one that points out of DIR,
 *     nowhere, or to one of its own parent directories is refused,
 *     where nitro-cli would send a file of the host, fail, or never end;
 *   - FIFOs, sockets and devices are refused (nitro-cli would block on
 *     a FIFO or read a device);
 *   - no .dockerignore: nitro-cli sends the whole directory, and the
 *     daemon applies .dockerignore only to the Dockerfile and to
 *     .dockerignore itself, so honouring it would build another image
 *     than nitro-cli from the same directory.
 *
 * Nothing is read from outside DIR: a link's target is checked with
 * realpath and then opened below DIR one component at a time with
 * O_NOFOLLOW, so a tree changed meanwhile fails instead of escaping.
 */
#ifndef CLOISTER_IMAGE_DOCKER_CONTEXT_H
#define CLOISTER_IMAGE_DOCKER_CONTEXT_H

#include <cloister/error.h>

#define DOCKER_CONTEXT_DEPTH_MAX 128 /* directories below DIR */

/*
 * Writes the context of dir to fd as a pax (ustar-compatible) tar. Failures
 * are prefixed "build context '<dir>': " and name the entry:
 * "symlink 'a/b' -> '../x' points out of the context", "symlink 'l' -> 'x'
 * cannot be followed: No such file or directory", "symlink 'l' -> '..'
 * makes a loop", "'p' is a FIFO (a context holds files, directories and
 * symbolic links)", "'f' changed while it was read". A dir that cannot be
 * opened is CL_ENOTFOUND "cannot open '<dir>' as a directory: <why>".
 */
CL_MUST_USE int docker_context_write(const char *dir, int fd, struct cl_error *err);

#endif
