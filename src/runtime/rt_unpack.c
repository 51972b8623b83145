/* SPDX-License-Identifier: Apache-2.0 */
#include "rt_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_state.h"

static int64_t shift_id(int64_t id, uid_t base)
{
    if (id < 0 || id >= (int64_t)RT_UID_RANGE)
        id = 65534;
    return (int64_t)base + id;
}

int rt_unpack_cpio(const uint8_t *buf, size_t len, const char *dir, uid_t uid_base,
                   struct cl_error *err)
{
    int rc = 0;
    int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct archive *a = archive_read_new();
    struct archive *w = archive_write_disk_new();
    if (!a || !w) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    archive_read_support_format_cpio(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_none(a);
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
                                          ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    /* Owners are numeric: never look names up in the host's passwd. */
    if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
        rc = cl_fail(err, CL_EFORMAT, "ramdisk: %s", archive_error_string(a));
        goto out;
    }
    if (chdir(dir) < 0) {
        rc = cl_fail_errno(err, CL_EIO, "cannot enter %s", dir);
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = cl_fail(err, CL_EFORMAT, "ramdisk: %s", archive_error_string(a));
            goto out;
        }
        const char *name = archive_entry_pathname(e);
        if (!name) {
            rc = cl_fail(err, CL_EFORMAT, "ramdisk: an entry has no name");
            goto out;
        }
        while (name[0] == '/' || (name[0] == '.' && name[1] == '/'))
            name += name[0] == '/' ? 1 : 2;
        if (name[0] == '\0' || !strcmp(name, "."))
            continue;  /* the root itself */
        char *copy = strdup(name);
        if (!copy) {
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
            goto out;
        }
        archive_entry_set_pathname(e, copy);
        free(copy);
        const char *hl = archive_entry_hardlink(e);
        if (hl) {
            while (hl[0] == '/' || (hl[0] == '.' && hl[1] == '/'))
                hl += hl[0] == '/' ? 1 : 2;
            char *hcopy = strdup(hl);
            if (!hcopy) {
                rc = cl_fail(err, CL_ENOMEM, "out of memory");
                goto out;
            }
            archive_entry_set_hardlink(e, hcopy);
            free(hcopy);
        }
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK)
            continue;
        archive_entry_set_perm(e, archive_entry_perm(e) & 01777);
        archive_entry_set_uid(e, shift_id(archive_entry_uid(e), uid_base));
        archive_entry_set_gid(e, shift_id(archive_entry_gid(e), uid_base));
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        r = archive_write_header(w, e);
        if (r < ARCHIVE_WARN) {
            rc = cl_fail(err, CL_EFORMAT, "ramdisk entry '%s': %s",
                         archive_entry_pathname(e), archive_error_string(w));
            goto out;
        }
        if (archive_entry_size(e) > 0 && r >= ARCHIVE_WARN) {
            const void *blk;
            size_t sz;
            la_int64_t off;
            for (;;) {
                r = archive_read_data_block(a, &blk, &sz, &off);
                if (r == ARCHIVE_EOF)
                    break;
                if (r != ARCHIVE_OK) {
                    rc = cl_fail(err, CL_EFORMAT, "ramdisk: %s", archive_error_string(a));
                    goto out;
                }
                if (archive_write_data_block(w, blk, sz, off) != ARCHIVE_OK) {
                    rc = cl_fail(err, CL_EIO, "ramdisk entry '%s': %s",
                                 archive_entry_pathname(e), archive_error_string(w));
                    goto out;
                }
            }
        }
        if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
            rc = cl_fail(err, CL_EIO, "ramdisk entry '%s': %s",
                         archive_entry_pathname(e), archive_error_string(w));
            goto out;
        }
    }
    /* Directory modes and times are fixed up here. */
    if (archive_write_close(w) != ARCHIVE_OK) {
        rc = cl_fail(err, CL_EIO, "ramdisk: %s", archive_error_string(w));
        goto out;
    }
out:
    if (a)
        archive_read_free(a);
    if (w)
        archive_write_free(w);
    if (cwd >= 0) {
        if (fchdir(cwd) < 0 && rc == 0)
            rc = cl_fail_errno(err, CL_EIO, "cannot return to the working directory");
        close(cwd);
    }
    return rc;
}
