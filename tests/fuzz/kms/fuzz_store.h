/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the key service's stateful fuzz targets share: a real SQLite store
 * in a fresh temporary directory (in /dev/shm when it can, for speed), and
 * its removal at exit.
 */
#ifndef CLOISTER_FUZZ_STORE_H
#define CLOISTER_FUZZ_STORE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "state/store.h"

/* Makes dir (NAME.XXXXXX) and opens dir/kms.db in it; aborts on failure. */
static inline struct store *fuzz_store_open(const char *name, char dir[64])
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, 64, "%s/%s.XXXXXX", base, name);
    if (!mkdtemp(dir))
        abort();
    char path[128];
    uint8_t master[32] = { 1 };
    snprintf(path, sizeof(path), "%s/kms.db", dir);
    struct store *st = NULL;
    if (store_open(path, master, &st, NULL) < 0)
        abort();
    return st;
}

static inline void fuzz_dir_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
