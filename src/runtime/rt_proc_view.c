/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_proc_view.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/fileio.h"

#define FUSE_SUPER_MAGIC 0x65735546

const char *const rt_proc_view_files[] = {
    "meminfo", "cpuinfo", "stat", "uptime", "loadavg", "swaps", "diskstats", NULL,
};

int rt_proc_view_find(char *out, size_t cap, struct cl_error *err)
{
    const char *dir = getenv("CLOISTER_LXCFS");
    if (!dir || !*dir)
        dir = RT_LXCFS_DIR;
    char meminfo[4096];
    struct statfs fs;
    if (snprintf(out, cap, "%s/proc", dir) >= (int)cap ||
        snprintf(meminfo, sizeof(meminfo), "%s/meminfo", out) >= (int)sizeof(meminfo))
        return cl_fail(err, CL_ENOTFOUND, "the lxcfs path %s is too long", dir);
    if (statfs(out, &fs) < 0 || fs.f_type != FUSE_SUPER_MAGIC || access(meminfo, R_OK) < 0)
        return cl_fail(err, CL_ENOTFOUND,
                       "proc: no lxcfs at %s: the enclave's /proc/meminfo, cpuinfo, stat, uptime and "
                       "loadavg are the host's", dir);
    return 0;
}

int rt_proc_view_boot_id(const char *path, struct cl_error *err)
{
    uint8_t b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return cl_fail_errno(err, CL_EIO, "getrandom");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    char text[40];
    snprintf(text, sizeof(text),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return cl_fail_errno(err, CL_EIO, "cannot create %s", path);
    int rc = fd_write_all(fd, text, 37, err);
    close(fd);
    return rc;
}
