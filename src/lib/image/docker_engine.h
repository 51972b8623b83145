/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of the Docker Engine API over the daemon's Unix socket, for the
 * daemon sources of build-enclave (--docker-uri, --docker-dir): one HTTP
 * call at a time through libcurl, the answer kept in memory, written to a
 * file, or read as the stream of JSON messages that pulls and builds send.
 *
 * The API version is negotiated once, as the docker CLI does: GET /version
 * (unversioned) gives the daemon's ApiVersion, and every call then names
 * min(that, DOCKER_ENGINE_API_MAX) in its path ("/v1.41/images/..."). 1.49
 * is the version nitro-cli 1.5 asks for (its Docker client, bollard 0.19,
 * sends every call as /v1.49/ without negotiating), so on a daemon that
 * speaks it the answers are the ones nitro-cli reads, and an older daemon
 * such as Docker 20.10 (1.41) is still served (docs/build-enclave.md,
 * "The Docker daemon").
 */
#ifndef CLOISTER_IMAGE_DOCKER_ENGINE_H
#define CLOISTER_IMAGE_DOCKER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cloister/error.h>

#define DOCKER_ENGINE_API_MAX     "1.49" /* what nitro-cli 1.5 speaks */
#define DOCKER_ENGINE_API_MIN     "1.24" /* Docker 1.12; older daemons are refused */
#define DOCKER_ENGINE_DEFAULT     "/var/run/docker.sock"
#define DOCKER_ENGINE_ANSWER_MAX  (16u << 20) /* an answer kept in memory */
#define DOCKER_ENGINE_MESSAGE_MAX (1u << 20)  /* one JSON message of a stream */

struct docker_engine {
    char *socket;     /* owned: the daemon's socket path */
    char version[12]; /* the API version every call names: "1.41" */
};

/*
 * Finds the daemon (socket_path; else $DOCKER_HOST when it is unix://PATH;
 * else DOCKER_ENGINE_DEFAULT), checks that something listens there and
 * negotiates the API version. Failures: CL_ENOTFOUND "no Docker daemon is
 * reachable at <path> (<why>)", CL_EUNSUPPORTED for a DOCKER_HOST that is
 * not unix:// or a daemon older than DOCKER_ENGINE_API_MIN; hint (may be
 * NULL) is appended to those as "; <hint>". *out: docker_engine_free().
 */
CL_MUST_USE int docker_engine_open(const char *socket_path, const char *hint,
                                   struct docker_engine **out, struct cl_error *err);
void docker_engine_free(struct docker_engine *e);

/*
 * The API version to use with a daemon that speaks `server` ("1.41"):
 * min(server, DOCKER_ENGINE_API_MAX) into out; CL_EUNSUPPORTED below
 * DOCKER_ENGINE_API_MIN, CL_EFORMAT when server is not "<major>.<minor>".
 */
CL_MUST_USE int docker_engine_pick_version(const char *server, char out[static 12],
                                           struct cl_error *err);

/*
 * The stream of JSON messages a pull (POST /images/create) or a build
 * (POST /build) answers with: one object per line ("\r\n"-terminated).
 * Fed the bytes as they come; keeps the first "error" a message carries
 * (the daemon's reason for failing, which it sends with status 200).
 * Progress text and the rest are dropped, as nitro-cli drops them.
 */
struct docker_messages {
    char *line; /* the incomplete line so far */
    size_t len, cap;
    char *error; /* malloc'd, or NULL */
};
CL_MUST_USE int docker_messages_feed(struct docker_messages *m, const char *data, size_t n,
                                     struct cl_error *err);
/* The end of the stream: a last line without its newline is taken too. */
CL_MUST_USE int docker_messages_end(struct docker_messages *m, struct cl_error *err);
void docker_messages_clear(struct docker_messages *m);

/* One call. Strings are borrowed; the results are the caller's to free
 * with docker_call_clear(). */
struct docker_call {
    const char *method; /* "GET" or "POST" */
    const char *path;   /* after the version, query included: "/images/x/json" */
    /* the request body: upload_len bytes read from upload_fd (>= 0), else none */
    int upload_fd;
    uint64_t upload_len;
    const char *content_type;
    /* where a 2xx answer goes: download_fd (>= 0), else the message
     * stream when messages is set, else body */
    int download_fd;
    bool messages;
    /* results */
    long status;
    char *body; /* memory answers and every non-2xx answer, NUL-terminated */
    size_t len;
    struct docker_messages msgs;
    char *reason; /* docker_call_reason()'s text */
};

/*
 * Makes the call. 0 once the daemon answered, whatever the status (the
 * caller judges it); CL_EIO when the exchange itself failed, CL_ELIMIT
 * when an answer outgrows its bound.
 */
CL_MUST_USE int docker_engine_call(const struct docker_engine *e, struct docker_call *c,
                                   struct cl_error *err);
void docker_call_clear(struct docker_call *c);

/* What went wrong, from a failed call's answer: the daemon's "message"
 * (its JSON error body), else the body itself, else "HTTP <status>".
 * Borrowed from c. */
const char *docker_call_reason(struct docker_call *c);

#endif
