/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the instance metadata service's request handling
 * (imds_handle, src/kms/imds/imds.h) with a role whose credentials come
 * from a real SQLite store in a temporary directory. An input is
 *
 *   METHOD PATH\n<Name>: <value>\n...
 *
 * (PATH in origin or absolute form). Every answer must carry one of the
 * statuses the service gives and a body; a crash, a leak or a sanitizer
 * report is the failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz_store.h"
#include "imds/imds.h"
#include "serve/http.h"
#include "state/identities.h"
#include "state/store.h"
#include "state/tlsgen.h"
#include "util/kmsutil.h"

#define MAX_HEADERS 16

static char g_dir[64];
static struct store *g_store;
static struct imds_creds *g_creds;
static struct imds_identity g_identity;
static struct imds *g_imds;

static void cleanup(void)
{
    imds_stop(g_imds);
    imds_creds_free(g_creds);
    imds_identity_clear(&g_identity);
    store_close(g_store);
    fuzz_dir_remove(g_dir);
}

static void setup(void)
{
    g_store = fuzz_store_open("imds_fuzz", g_dir);
    json_t *keys = NULL;
    if (ident_principal_create(g_store, "111122223333", "Role", "role", NULL, &keys, NULL) < 0)
        abort();
    json_decref(keys);
    struct imds_creds_opts co = { .store = g_store, .account = "111122223333",
                                  .role_name = "Role", .session_name = "i-0123456789abcdef0",
                                  .duration_s = 900, .refresh_s = 600 };
    struct imds_identity_opts io = { .key_dir = g_dir, .instance_id = "i-0123456789abcdef0",
                                     .account = "111122223333", .region = "us-east-1",
                                     .availability_zone = "us-east-1a", .private_ip = "127.0.0.1",
                                     .pending_time = 0 };
    if (imds_creds_new(&co, &g_creds, NULL) < 0 || tlsgen_identity_ensure(g_dir, NULL) < 0 ||
        imds_identity_make(&io, &g_identity, NULL) < 0)
        abort();
    struct imds_opts mo = { .instance_id = "i-0123456789abcdef0", .account = "111122223333",
                            .region = "us-east-1", .availability_zone = "us-east-1a",
                            .role_name = "Role", .creds = g_creds, .identity = &g_identity };
    if (imds_new(&mo, &g_imds, NULL) < 0)
        abort();
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    if (size > 8192)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *nl = strchr(text, '\n'), *sp = strchr(text, ' ');
    if (nl)
        *nl = 0;
    if (!sp || (nl && sp > nl)) {
        free(text);
        return 0;
    }
    *sp = 0;
    struct sigv4_header h[MAX_HEADERS];
    size_t n = 0;
    for (char *p = nl ? nl + 1 : NULL; p && *p && n < MAX_HEADERS;) {
        char *end = strchr(p, '\n');
        if (end)
            *end = 0;
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = 0;
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            h[n++] = (struct sigv4_header){ p, v };
        }
        p = end ? end + 1 : NULL;
    }
    struct http_request req = { .method = text, .path = sp + 1, .headers = h, .n_headers = n };
    struct http_response resp = { 0 };
    imds_handle(g_imds, &req, &resp);
    static const int statuses[] = { 200, 400, 401, 403, 404, 405, 500 };
    bool known = false;
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        known = known || resp.status == statuses[i];
    if (!known || !resp.body)
        abort();
    ku_wipe_free(resp.body);
    free(text);
    return 0;
}
