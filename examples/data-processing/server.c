/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The workshop's enclave-side server (server.py in
 * aws-samples/aws-nitro-enclaves-workshop), in C on Cloister's SDK.
 *
 * Listens on vsock port 5000. Each connection carries one JSON request
 * {access_key_id, secret_access_key, token, region, ciphertext}; the server
 * decrypts the ciphertext through KMS with attestation (the enclave's NSM
 * document travels as the Recipient, so KMS's key policy can check PCR0),
 * prints the plaintext on the console (the intentional leak the workshop
 * shows in debug mode), and answers {"last_four": "..."} or {"error": "..."}.
 *
 * The parent supplies credentials, region and ciphertext, never the key
 * service's identity: the endpoint name and CA bundle are the SDK's
 * defaults, fixed by what this image carries (/etc/ssl/certs).
 *
 * Built a second time with -DRETURN_WHOLE_PLAINTEXT for the workshop's
 * "modified enclave" step: that server answers with the whole plaintext, and
 * its image therefore has another PCR0 and PCR2 (PCR1 unchanged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cloister/kms.h>
#include <cloister/vsock.h>

#define LISTEN_PORT 5000
#define REQUEST_MAX 8192

static void reply(int fd, json_t *answer)
{
    char *text = json_dumps(answer, JSON_COMPACT);
    if (text) {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t n = write(fd, text + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        OPENSSL_cleanse(text, len);
    }
    free(text);
    json_decref(answer);
}

static json_t *error_reply(const char *why)
{
    char msg[700];
    snprintf(msg, sizeof(msg), "KMS Error. Decryption Failed. %s", why);
    return json_pack("{s:s}", "error", msg);
}

/* Reads one JSON request: until it parses, EOF, or REQUEST_MAX bytes. */
static json_t *read_request(int fd)
{
    char buf[REQUEST_MAX + 1];
    size_t got = 0;
    json_t *req = NULL;
    while (!req && got < REQUEST_MAX) {
        ssize_t n = read(fd, buf + got, REQUEST_MAX - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        json_error_t jerr;
        req = json_loads(buf, 0, &jerr);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return req;
}

static json_t *handle(json_t *req)
{
    const char *akid = json_string_value(json_object_get(req, "access_key_id"));
    const char *secret = json_string_value(json_object_get(req, "secret_access_key"));
    const char *token = json_string_value(json_object_get(req, "token"));
    const char *region = json_string_value(json_object_get(req, "region"));
    const char *ciphertext = json_string_value(json_object_get(req, "ciphertext"));
    if (!akid || !secret || !region || !ciphertext)
        return error_reply("the request needs access_key_id, secret_access_key, region and "
                           "ciphertext");

    json_t *answer = NULL;
    struct cl_error err = { 0 };
    struct kms_client *kms = NULL;
    uint8_t *blob = NULL, *plain = NULL;
    size_t plain_len = 0;
    size_t b64_len = strlen(ciphertext);
    blob = malloc(b64_len / 4 * 3 + 3);
    int blob_len = blob ? EVP_DecodeBlock(blob, (const unsigned char *)ciphertext, (int)b64_len)
                        : -1;
    if (blob_len < 0 || b64_len % 4 != 0) {
        answer = error_reply("the ciphertext is not valid base64");
        goto out;
    }
    /* EVP_DecodeBlock counts padding as zero bytes: drop them. */
    if (b64_len >= 1 && ciphertext[b64_len - 1] == '=')
        blob_len--;
    if (b64_len >= 2 && ciphertext[b64_len - 2] == '=')
        blob_len--;

    struct kms_client_config cfg = {
        .region = region,
        .access_key_id = akid,
        .secret_access_key = secret,
        .session_token = token,
    };
    if (kms_client_new(&cfg, &kms, &err) < 0 ||
        kms_decrypt(kms, blob, (size_t)blob_len, NULL, NULL, NULL, true, &plain, &plain_len,
                    &err) < 0) {
        fprintf(stderr, "server: decrypt failed: %s\n", err.reason);
        answer = error_reply(err.reason);
        goto out;
    }
    char *text = strndup((const char *)plain, plain_len);
    if (!text) {
        answer = error_reply("out of memory");
        goto out;
    }
    /* The workshop's deliberate leak: visible on the console in debug mode only. */
    printf("Decrypted plaintext: %s\n", text);
    fflush(stdout);
#ifdef RETURN_WHOLE_PLAINTEXT
    answer = json_pack("{s:s}", "last_four", text);
#else
    size_t len = strlen(text);
    answer = json_pack("{s:s}", "last_four", len >= 4 ? text + len - 4 : text);
#endif
    OPENSSL_cleanse(text, strlen(text));
    free(text);
out:
    if (plain)
        OPENSSL_cleanse(plain, plain_len);
    free(plain);
    free(blob);
    kms_client_free(kms);
    return answer;
}

int main(void)
{
    struct cl_error err = { 0 };
    int listener = vsock_socket(&err);
    if (listener < 0 || vsock_bind_listen(listener, VSOCK_CID_ANY, LISTEN_PORT, 16, &err) < 0) {
        fprintf(stderr, "server: cannot listen on vsock port %d: %s\n", LISTEN_PORT,
                err.reason);
        return 1;
    }
    printf("server: listening on vsock port %d\n", LISTEN_PORT);
    fflush(stdout);
    for (;;) {
        uint32_t cid, port;
        cl_error_clear(&err);
        int fd = vsock_accept(listener, &cid, &port, &err);
        if (fd < 0) {
            fprintf(stderr, "server: accept failed: %s\n", err.reason);
            continue;
        }
        json_t *req = read_request(fd);
        json_t *answer = req ? handle(req) : error_reply("the request is not JSON");
        /* The request held credentials: wipe the secret before freeing it. */
        json_t *secret = req ? json_object_get(req, "secret_access_key") : NULL;
        if (json_is_string(secret))
            OPENSSL_cleanse((char *)json_string_value(secret), json_string_length(secret));
        json_decref(req);
        reply(fd, answer);
        close(fd);
    }
}
