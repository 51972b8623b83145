/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime directory: one record per enclave, shared by every `cloister`
 * command and every monitor, so that describe-enclaves, console and
 * terminate-enclave work from any shell.
 *
 *   $CLOISTER_RUN_DIR (default /run/cloister)
 *     lock                    flock(2)ed while allocating a CID / name / uid
 *                             range and while cleaning stale records
 *     enclaves/<EnclaveID>/   one directory per enclave, made by its monitor
 *       record.json           the record (atomically replaced on change)
 *       console.sock          the console (debug mode only; root only)
 *       root/                 mount point of the enclave's private tmpfs
 *                             (mounted only inside the enclave's mount ns)
 *     vsock/ctl/              the monitor's private tmpfs (its own mount ns):
 *                             nsm (the enclave's /dev/nsm), <cid>/broker
 *
 * A record is JSON: the describe-enclaves fields in nitro-cli's order
 * (EnclaveName, EnclaveID, ProcessID, EnclaveCID, NumberOfCPUs, CPUIDs,
 * MemoryMiB, State, Flags, Measurements, ImageName, ImageVersion, Metadata),
 * Cloister's LimitsNotApplied, and an "Internal" object
 * (ProcessStartTime, UidBase, Cgroups, EnclavePID) the commands use but
 * never print. ProcessID is the monitor's pid; a record whose monitor is
 * gone (pid absent, or reused: the start time differs) is stale, and the
 * next command that lists records removes it and what it names (cgroups,
 * sockets, directory).
 */
#ifndef CLOISTER_RT_STATE_H
#define CLOISTER_RT_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <cloister/error.h>

#define RT_DEFAULT_RUN_DIR "/run/cloister"
#define RT_FIRST_AUTO_CID 16
#define RT_PARENT_CID 3
#define RT_UID_BASE 0x80000000u   /* enclave root of slot n = host uid RT_UID_BASE + n * 65536 */
#define RT_UID_RANGE 65536u
#define RT_MAX_UID_SLOTS 16384u

struct rt_state;   /* the opened runtime directory; owns its lock fd */

/* $CLOISTER_RUN_DIR or the default; never NULL, owned by the environment. */
const char *rt_run_dir(void);

/*
 * Opens the runtime directory (creating it when create is true, mode 0755).
 * A missing directory with create false is not an error: the state is empty.
 */
CL_MUST_USE int rt_state_open(bool create, struct rt_state **out, struct cl_error *err);
void rt_state_free(struct rt_state *st);
const char *rt_state_dir(const struct rt_state *st);

CL_MUST_USE int rt_state_lock(struct rt_state *st, struct cl_error *err);
void rt_state_unlock(struct rt_state *st);

/*
 * Every live record, as a new JSON array (caller json_decref()s it). Stale
 * records are cleaned on the way (the lock is taken for that unless the
 * caller already holds it). Records still STARTING are included; callers
 * that print filter them.
 */
int rt_state_list(struct rt_state *st, json_t **records, struct cl_error *err);

/* Directory of an enclave's files: <run>/enclaves/<id>. */
int rt_state_enclave_dir(const struct rt_state *st, const char *enclave_id,
                         char *buf, size_t cap, struct cl_error *err);

/* Writes (atomically) the record into its enclave directory (created if needed). */
int rt_state_write(struct rt_state *st, json_t *record, struct cl_error *err);

/* Removes an enclave's directory and record. */
int rt_state_remove(struct rt_state *st, const char *enclave_id, struct cl_error *err);

/* Cleans what a stale record names (cgroups, directory). */
void rt_state_clean_stale(struct rt_state *st, json_t *record);

/* Accessors on a record. */
const char *rt_rec_str(json_t *rec, const char *key);       /* NULL if absent */
long long rt_rec_int(json_t *rec, const char *key);         /* -1 if absent */
long long rt_rec_internal_int(json_t *rec, const char *key);

/*
 * The allocation step of run-enclave, with the lock held by the caller:
 * - cid: 0 = the lowest free CID from 16; otherwise it must be free
 *   (CL_EEXIST);
 * - name: base name, made unique with _1, _2... as nitro-cli does;
 * - a free uid slot.
 */
CL_MUST_USE int rt_state_allocate(json_t *records, uint64_t want_cid, const char *base_name,
                                  uint32_t *cid, char *name, size_t name_cap, uint32_t *uid_slot,
                                  struct cl_error *err);

/*
 * CPUs for --cpu-count n: the n online CPUs with the fewest enclaves on them
 * (CPU 0, which the parent's kernel prefers, last among equals).
 */
int rt_state_pick_cpus(json_t *records, const uint32_t *online, size_t n_online,
                       size_t n, uint32_t *out, struct cl_error *err);

#endif
