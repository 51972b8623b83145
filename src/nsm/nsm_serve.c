/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-nsm-serve: serves one enclave's NSM module on a Unix socket,
 * the way the runtime's monitor does (nsm_endpoint_serve), without an
 * enclave around it. For tests and for developing enclave applications on
 * the host: point $CLOISTER_NSM_DEVICE at the socket and run the program.
 *
 *   cloister-nsm-serve --socket PATH [--eif-path EIF [--debug-mode]]
 *                      [--ca-dir DIR | --root-out PEM] [--enclave-id HEX]
 *                      [--definite-map]
 *
 * The module is nsm_module_new_enclave() over the image's measurements
 * (all zero without --eif-path) and the host configuration; its signer is
 * a fresh leaf of the CA in --ca-dir, or an ephemeral chain whose root is
 * written to --root-out. Prints "ready <module_id>" on stdout once it
 * listens; serves each connection on its own thread until SIGTERM/SIGINT.
 * Not installed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cloister/eif.h>
#include <cloister/error.h>

#include "attest_ca/attest_issue.h"
#include "base/fileio.h"
#include "nsm_device/hostconf.h"
#include "nsm_device/nsm_endpoint.h"
#include "nsm_device/nsm_module.h"

static struct nsm_module *module;

/* Only there so that the signal interrupts pselect() instead of killing. */
static void on_stop(int sig)
{
    (void)sig;
}

static void log_failure(void *ctx, const struct cl_error *e)
{
    (void)ctx;
    fprintf(stderr, "cloister-nsm-serve: module: %s\n", e->reason);
}

static void *serve_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct cl_error err = {0};
    if (nsm_endpoint_serve_log(module, fd, log_failure, NULL, &err) < 0)
        fprintf(stderr, "cloister-nsm-serve: connection: %s\n", err.reason);
    close(fd);
    return NULL;
}

static int die(const char *what, const struct cl_error *err)
{
    fprintf(stderr, "cloister-nsm-serve: %s: %s\n", what, err ? err->reason : strerror(errno));
    return 1;
}

/* The command line. */
struct serve_args {
    const char *sock, *eif_path, *ca_dir, *root_out;
    bool debug, definite;
    uint64_t enclave_id;
};

static int parse_args(int argc, char **argv, struct serve_args *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--debug-mode"))
            o->debug = true;
        else if (!strcmp(a, "--definite-map"))
            o->definite = true;
        else if (v && !strcmp(a, "--socket"))
            o->sock = argv[++i];
        else if (v && !strcmp(a, "--eif-path"))
            o->eif_path = argv[++i];
        else if (v && !strcmp(a, "--ca-dir"))
            o->ca_dir = argv[++i];
        else if (v && !strcmp(a, "--root-out"))
            o->root_out = argv[++i];
        else if (v && !strcmp(a, "--enclave-id")) {
            char *end;
            errno = 0;
            o->enclave_id = strtoull(argv[++i], &end, 16);   /* hex, as module ids show it */
            if (errno || *end || o->enclave_id == 0) {
                fprintf(stderr, "cloister-nsm-serve: invalid --enclave-id\n");
                return 1;
            }
        } else {
            fprintf(stderr, "usage: cloister-nsm-serve --socket PATH [--eif-path EIF "
                            "[--debug-mode]] [--ca-dir DIR | --root-out PEM] "
                            "[--enclave-id HEX] [--definite-map]\n");
            return 1;
        }
    }
    if (o->sock == NULL || (o->ca_dir && o->root_out)) {
        fprintf(stderr, "cloister-nsm-serve: --socket is required; --ca-dir and --root-out "
                        "exclude each other\n");
        return 1;
    }
    return 0;
}

/* The module of an enclave of this image on this host (the global module). */
static int make_module(const struct serve_args *o)
{
    struct cl_error err = {0};
    struct hostconf host;
    struct eif_measurements m = {0};
    struct attest_signer *signer = NULL;
    if (hostconf_load(&host, NULL, &err) < 0)
        return die("host configuration", &err);
    if (o->eif_path) {
        struct eif *e = NULL;
        if (eif_open(o->eif_path, &e, &err) < 0)
            return die(o->eif_path, &err);
        m = *eif_measurements(e);
        eif_free(e);
    }
    if (o->ca_dir) {
        if (attest_signer_new_from_ca(o->ca_dir, &signer, &err) < 0)
            return die("attestation CA", &err);
    } else {
        char *pem = NULL;
        if (attest_signer_new_ephemeral(&signer, &err) < 0 ||
            attest_signer_root_pem(signer, &pem, &err) < 0)
            return die("ephemeral signer", &err);
        if (o->root_out && file_write_atomic(o->root_out, pem, strlen(pem), 0644, &err) < 0)
            return die(o->root_out, &err);
        free(pem);
    }
    struct nsm_enclave_config cfg = {.measurements = &m, .debug_mode = o->debug, .host = &host,
                                     .enclave_id = o->enclave_id};
    if (nsm_module_new_enclave(&cfg, signer, &module, &err) < 0)
        return die("module", &err);
    nsm_module_set_indefinite_map(module, !o->definite);
    if (o->ca_dir && nsm_module_set_rotation(module, o->ca_dir, &err) < 0)
        return die("module", &err);
    return 0;
}

/* A listening Unix socket at path; -1 (printed) on failure. */
static int listen_at(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "cloister-nsm-serve: socket path too long\n");
        return -1;
    }
    strcpy(sa.sun_path, path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
        die(path, NULL);
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    return lfd;
}

/* Serves each connection on a thread of its own until SIGTERM/SIGINT,
 * which end pselect() with EINTR. */
static void serve(int lfd)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigaction sa_stop = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa_stop, NULL);
    sigaction(SIGINT, &sa_stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("ready %s\n", nsm_module_id(module));
    fflush(stdout);
    for (;;) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(lfd, &fds);
        struct timespec tick = {0, 200 * 1000 * 1000};
        sigset_t none;
        sigemptyset(&none);
        int r = pselect(lfd + 1, &fds, NULL, NULL, &tick, &none);
        if (r < 0 && errno == EINTR)
            return; /* a signal */
        if (r <= 0)
            continue;
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_thread, (void *)(intptr_t)c) != 0) {
            close(c);
            continue;
        }
        pthread_detach(t);
    }
}

int main(int argc, char **argv)
{
    struct serve_args o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc == 0)
        rc = make_module(&o);
    if (rc != 0)
        return rc;
    int lfd = listen_at(o.sock);
    if (lfd < 0)
        return 1;
    serve(lfd);
    close(lfd);
    unlink(o.sock);
    return 0;
}
