/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave monitor: one process per enclave (`cloister-monitor`, started
 * by `cloister run-enclave`), outside the sandbox, host root, alive as long
 * as its enclave. It
 *  - re-measures the EIF itself (never trusts the CLI's numbers), refuses
 *    a bad CRC or a bad signature, checks memory >= 4 x the EIF's size;
 *  - takes a CID, a name and a uid range under the runtime directory's
 *    lock and writes the enclave's record (rt_state.h);
 *  - creates the cgroups (rt_cgroup.h), the NSM endpoint socket served with
 *    the NSM module (nsm_module.h / nsm_endpoint.h) built from its own
 *    measurements, the console, the vsock broker;
 *  - starts init in the sandbox (rt_sandbox.h) and waits for its ready
 *    heartbeat, then tells run-enclave (the status pipe) and serves the
 *    enclave until init exits, an OOM kill stops it, or it is told to
 *    terminate (SIGTERM from terminate-enclave);
 *  - at the end kills what is left, removes its cgroups, sockets and record.
 *
 * The status pipe carries one JSON line: the EnclaveRunInfo plus "CPUIDs"
 * etc. on success, or {"Error": <nitro-cli E-number>, "Message": "..."}.
 */
#ifndef CLOISTER_RT_MONITOR_H
#define CLOISTER_RT_MONITOR_H

/* Program entry of cloister-monitor (argv as run-enclave builds it). */
int rt_monitor_main(int argc, char **argv);

/* How run-enclave finds the monitor: beside its own executable. */
#define RT_MONITOR_PROGRAM "cloister-monitor"

/* The vsock preload library (VSOCK's cloister-preload target, in the build's
 * or install's lib/ beside bin/), and where the enclave sees it. */
#define RT_PRELOAD_LIBRARY "libcloister-preload.so"
#define RT_PRELOAD_ENCLAVE_PATH "/usr/lib/cloister/libcloister-preload.so"

/* After the heartbeat, run-enclave waits this long before it reports the
 * enclave as running, so that a command that fails at once is reported as
 * such (with its reason) rather than as a running enclave that vanishes. */
#define RT_START_WINDOW_MS 500

#endif
