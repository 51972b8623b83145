/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The workshop's parent-side client (client.py in
 * aws-samples/aws-nitro-enclaves-workshop), in C on Cloister's SDK:
 *
 *   client --prepare --values values.txt --alias my-enclave-key
 *       picks one value at random, encrypts it with the KMS key, writes
 *       string.encrypted (base64), prints the last four digits and the
 *       ciphertext;
 *   client --submit --ciphertext string.encrypted --alias my-enclave-key [--cid CID]
 *       sends {access_key_id, secret_access_key, token, region, ciphertext}
 *       to the enclave on vsock port 5000 and prints the enclave's JSON reply.
 *
 * Credentials, region and endpoint come from the environment and the AWS
 * files (aws_env.h). The CID defaults to that of the first enclave that
 * `cloister describe-enclaves` lists, as the workshop does with jq.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cloister/kms.h>
#include <cloister/vsock.h>

#include "aws_env.h"

#define ENCLAVE_PORT 5000
#define REPLY_MAX 4096
#define REPLY_TIMEOUT_MS 60000

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("client: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static char *read_text(const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || n > max) {
        free(buf);
        errno = EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Picks a non-empty line of path uniformly at random. */
static char *pick_value(const char *path)
{
    char *text = read_text(path, 1 << 20);
    if (!text)
        return NULL;
    char *lines[4096];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\r\n", &save); l && n < 4096;
         l = strtok_r(NULL, "\r\n", &save))
        if (*l)
            lines[n++] = l;
    char *chosen = NULL;
    uint32_t r;
    if (n > 0 && getrandom(&r, sizeof(r), 0) == sizeof(r))
        chosen = strdup(lines[r % n]);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return chosen;
}

static int prepare(const char *values, const char *alias, const char *out_path)
{
    int rc = 1;
    struct aws_env env;
    struct cl_error err = { 0 };
    struct kms_client *kms = NULL;
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    char *value = NULL, *key_id = NULL, *default_url = NULL;

    if (aws_env_load(&env, &err) < 0)
        return fail("%s", err.reason);
    value = pick_value(values);
    if (!value) {
        fail("cannot pick a value from '%s': %s", values, strerror(errno ? errno : EINVAL));
        goto out;
    }
    struct kms_client_config cfg = {
        .region = env.region,
        .endpoint_url = env.endpoint_url,
        .ca_bundle = env.ca_bundle,
        .access_key_id = env.access_key_id,
        .secret_access_key = env.secret_access_key,
        .session_token = env.session_token,
    };
    if (!env.endpoint_url) {
        /* AWS's regional endpoint, directly (the parent has a network). */
        if (asprintf(&default_url, "https://kms.%s.amazonaws.com/", env.region) < 0) {
            default_url = NULL;
            fail("out of memory");
            goto out;
        }
        cfg.endpoint_url = default_url;
    }
    if (asprintf(&key_id, "alias/%s", alias) < 0) {
        key_id = NULL;
        fail("out of memory");
        goto out;
    }
    if (kms_client_new(&cfg, &kms, &err) < 0 || kms_encrypt(kms, key_id, (const uint8_t *)value, strlen(value), NULL, &ct,
                             &ct_len, &err) < 0) {
        fail("%s", err.reason);
        goto out;
    }
    /* Base64 of the CiphertextBlob, as the workshop's client writes it. */
    char *b64 = malloc(4 * ((ct_len + 2) / 3) + 1);
    if (!b64) {
        fail("out of memory");
        goto out;
    }
    EVP_EncodeBlock((unsigned char *)b64, ct, (int)ct_len);
    FILE *f = fopen(out_path, "w");
    if (!f || fputs(b64, f) < 0 || fclose(f) != 0) {
        fail("cannot write '%s': %s", out_path, strerror(errno));
        free(b64);
        goto out;
    }
    size_t len = strlen(value);
    printf("Selected value ends in: %s\n", len >= 4 ? value + len - 4 : value);
    printf("Encrypted value (base64, written to %s):\n%s\n", out_path, b64);
    free(b64);
    rc = 0;
out:
    if (value)
        OPENSSL_cleanse(value, strlen(value));
    free(value);
    free(key_id);
    free(default_url);
    free(ct);
    kms_client_free(kms);
    aws_env_release(&env);
    return rc;
}

/* CID of the first enclave `cloister describe-enclaves` lists. */
static long first_enclave_cid(void)
{
    const char *cli = getenv("CLOISTER_CLI");
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s describe-enclaves", cli && *cli ? cli : "cloister");
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    json_error_t jerr;
    json_t *list = json_loadf(p, 0, &jerr);
    int status = pclose(p);
    long cid = -1;
    if (status == 0 && json_is_array(list) && json_array_size(list) > 0)
        cid = (long)json_integer_value(json_object_get(json_array_get(list, 0), "EnclaveCID"));
    json_decref(list);
    return cid > 0 ? cid : -1;
}

static int submit(const char *ciphertext_path, long cid)
{
    int rc = 1, fd = -1;
    struct aws_env env;
    struct cl_error err = { 0 };
    char *ciphertext = NULL, *msg = NULL;
    if (aws_env_load(&env, &err) < 0)
        return fail("%s", err.reason);
    ciphertext = read_text(ciphertext_path, 64 * 1024);
    if (!ciphertext) {
        fail("cannot read '%s': %s", ciphertext_path, strerror(errno));
        goto out;
    }
    ciphertext[strcspn(ciphertext, "\r\n")] = '\0';
    if (cid < 0 && (cid = first_enclave_cid()) < 0) {
        fail("no running enclave (cloister describe-enclaves lists none)");
        goto out;
    }
    json_t *req = json_pack("{s:s, s:s, s:s?, s:s, s:s}", "access_key_id", env.access_key_id,
                            "secret_access_key", env.secret_access_key, "token",
                            env.session_token, "region", env.region, "ciphertext", ciphertext);
    msg = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!msg) {
        fail("out of memory");
        goto out;
    }
    fd = vsock_socket(&err);
    if (fd < 0 || vsock_connect(fd, (uint32_t)cid, ENCLAVE_PORT, &err) < 0) {
        fail("cannot connect to the enclave (CID %ld, port %d): %s", cid, ENCLAVE_PORT,
             err.reason);
        goto out;
    }
    size_t len = strlen(msg), off = 0;
    while (off < len) {
        ssize_t n = write(fd, msg + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail("cannot send to the enclave: %s", strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char reply[REPLY_MAX + 1];
    size_t got = 0;
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int pr = poll(&pfd, 1, REPLY_TIMEOUT_MS);
        if (pr == 0) {
            fail("the enclave did not answer within %d s", REPLY_TIMEOUT_MS / 1000);
            goto out;
        }
        ssize_t n = read(fd, reply + got, REPLY_MAX - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fail("cannot read the enclave's reply: %s", strerror(errno));
            goto out;
        }
        if (n == 0 || (got += (size_t)n) == REPLY_MAX)
            break;
    }
    reply[got] = '\0';
    json_error_t jerr;
    json_t *answer = json_loads(reply, 0, &jerr);
    if (!answer) {
        fail("the enclave's reply is not JSON: %.200s", reply);
        goto out;
    }
    char *pretty = json_dumps(answer, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    printf("%s\n", pretty ? pretty : reply);
    free(pretty);
    rc = json_object_get(answer, "error") ? 2 : 0;
    json_decref(answer);
out:
    if (fd >= 0)
        close(fd);
    if (msg)
        OPENSSL_cleanse(msg, strlen(msg));
    free(msg);
    free(ciphertext);
    aws_env_release(&env);
    return rc;
}

static void usage(FILE *out)
{
    fputs("usage: client --prepare --values FILE --alias ALIAS [--output string.encrypted]\n"
          "       client --submit --ciphertext FILE --alias ALIAS [--cid CID]\n",
          out);
}

int main(int argc, char **argv)
{
    bool do_prepare = false, do_submit = false;
    const char *values = NULL, *alias = NULL, *ciphertext = NULL;
    const char *output = "string.encrypted";
    long cid = -1;
    static const struct option opts[] = {
        { "prepare", no_argument, NULL, 'p' },   { "submit", no_argument, NULL, 's' },
        { "values", required_argument, NULL, 'v' }, { "alias", required_argument, NULL, 'a' },
        { "ciphertext", required_argument, NULL, 'c' },
        { "output", required_argument, NULL, 'o' }, { "cid", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },      { 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'p': do_prepare = true; break;
        case 's': do_submit = true; break;
        case 'v': values = optarg; break;
        case 'a': alias = optarg; break;
        case 'c': ciphertext = optarg; break;
        case 'o': output = optarg; break;
        case 'i': {
            char *end;
            cid = strtol(optarg, &end, 10);
            if (!*optarg || *end || cid < 4)
                return fail("invalid --cid '%s'", optarg);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (do_prepare == do_submit) {
        usage(stderr);
        return fail("give exactly one of --prepare and --submit");
    }
    if (!alias)
        return fail("--alias is required");
    if (do_prepare) {
        if (!values)
            return fail("--prepare needs --values");
        return prepare(values, alias, output);
    }
    if (!ciphertext)
        return fail("--submit needs --ciphertext");
    return submit(ciphertext, cid);
}
