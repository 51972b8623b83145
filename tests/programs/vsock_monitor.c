/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test program: a stand-in for the runtime's monitor, serving the vsock
 * broker of one enclave CID (src/lib/vsock_broker.h).
 *
 *   vsock_monitor RUN_DIR CID [--heartbeat]
 *
 * Prints "BROKER <host dir>" once the broker is up; with --heartbeat, waits
 * for the enclave's ready heartbeat and prints "READY". Serves until stdin
 * reaches EOF, then removes everything and prints "STATS connects=N
 * refused=N listens=N malformed=N".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsock_broker/vsock_broker.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: vsock_monitor RUN_DIR CID [--heartbeat]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct cl_error err = { 0 };
    struct vsock_broker *b = NULL;
    if (vsock_broker_new(argv[1], (uint32_t)strtoul(argv[2], NULL, 0), &b, &err) < 0) {
        fprintf(stderr, "ERROR %s\n", err.reason);
        return 1;
    }
    printf("BROKER %s\n", vsock_broker_host_dir(b));
    if (argc > 3 && strcmp(argv[3], "--heartbeat") == 0) {
        if (vsock_broker_wait_heartbeat(b, 60000, &err) < 0) {
            fprintf(stderr, "ERROR %s\n", err.reason);
            vsock_broker_free(b);
            return 1;
        }
        printf("READY\n");
    }
    int rc = vsock_broker_run(b, STDIN_FILENO, &err);
    struct vsock_broker_stats st;
    vsock_broker_get_stats(b, &st);
    vsock_broker_free(b);
    printf("STATS connects=%llu refused=%llu listens=%llu malformed=%llu\n",
           (unsigned long long)st.connects, (unsigned long long)st.refused,
           (unsigned long long)st.listens, (unsigned long long)st.malformed);
    if (rc < 0) {
        fprintf(stderr, "ERROR %s\n", err.reason);
        return 1;
    }
    return 0;
}
