/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Why an enclave ended, kept after it is gone. describe-enclaves lists
 * running enclaves only (nitro-cli's semantics: scripts take `.[0]`), so
 * the end of an enclave is kept apart, in the runtime directory:
 *
 *   ended/<EnclaveID>/trace.json   EnclaveName, EnclaveID, EnclaveCID, Flags,
 *                                  EndTime (RFC 3339, UTC), Reason (a
 *                                  sentence), ExitStatus, Signal, OutOfMemory
 *   ended/<EnclaveID>/console      the last RT_TRACE_CONSOLE bytes of its
 *                                  console (debug-mode enclaves only)
 *
 * The monitor writes a trace when its enclave ends by itself (its command
 * exited or was killed, out of memory, init failed), never when
 * terminate-enclave ended it. At most RT_TRACE_MAX traces are kept, none
 * older than RT_TRACE_MAX_AGE_S; terminate-enclave removes them. ended/ is
 * root's alone (0700), like the console socket.
 */
#ifndef CLOISTER_RT_TRACE_H
#define CLOISTER_RT_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cloister/error.h>

#include "rt_state.h"

#define RT_TRACE_MAX 64
#define RT_TRACE_MAX_AGE_S (7 * 24 * 3600)
#define RT_TRACE_CONSOLE (64u * 1024u)

/* How an enclave ended. */
struct rt_end {
    bool command;          /* the fate below is its command's (else init's own) */
    int exit_status;       /* >= 0 when it exited */
    int signal;            /* > 0 when it was killed */
    bool out_of_memory;    /* the enclave's memory cgroup killed it */
    uint64_t memory_mib;   /* its limit, for the sentence */
};

/* "its command exited with status 3", "its command was killed by signal 9
 * (SIGKILL)", "out of memory: the enclave exceeded its 64 MiB limit"... */
void rt_end_reason(const struct rt_end *end, char *buf, size_t cap);

/*
 * Keeps the trace of the enclave of record rec (its console tail when
 * console is not NULL), then prunes old traces.
 */
CL_MUST_USE int rt_trace_write(struct rt_state *st, json_t *rec, const struct rt_end *end,
                               const char *console, size_t console_len, struct cl_error *err);

/*
 * The newest trace of the enclave with this ID or name (*trace NULL when
 * there is none; the caller json_decref()s it).
 */
CL_MUST_USE int rt_trace_find(struct rt_state *st, const char *id, const char *name,
                              json_t **trace, struct cl_error *err);

/* The kept console of trace's enclave (malloc'd; *len 0 and *buf NULL when none). */
CL_MUST_USE int rt_trace_console(struct rt_state *st, json_t *trace, char **buf, size_t *len,
                                 struct cl_error *err);

/* Removes one trace (by its EnclaveID), or all of them when id is NULL. */
int rt_trace_remove(struct rt_state *st, const char *id, struct cl_error *err);

#endif
