/* SPDX-License-Identifier: Apache-2.0 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *program = "cloister";
static enum log_level threshold = LOG_LEVEL_WARN;
static const char *const names[] = { "error", "warn", "info", "debug" };

void log_init(const char *name)
{
    program = name;
    const char *env = getenv("CLOISTER_LOG");
    if (!env)
        return;
    for (int i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++)
        if (!strcmp(env, names[i]))
            threshold = (enum log_level)i;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    /* One fprintf per line, so lines from several threads do not interleave. */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s: %s\n", program, names[level], line);
}
