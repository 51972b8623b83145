/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libnsm-compatible C API (include/cloister/nsm.h): the ioctl's exact
 * layout and number, transport selection at nsm_lib_init(), every call
 * against a module served over the emulated endpoint, libnsm's buffer
 * conventions, and the client-side errors (InvalidResponse for a response
 * of another operation, InternalError for an undecodable one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <cloister/nsm.h>

#include "base/hex.h"
#include "nsm/nsm_dev.h"
#include "nsm_device/nsm_endpoint.h"
#include "nsm/nsm_frame.h"
#include "nsm_device/nsm_module.h"
#include "nsm/nsm_proto.h"

/* ---- the ioctl ABI ---- */

static void test_ioctl_layout(void **state)
{
    (void)state;
    /* uapi linux/nsm.h: struct nsm_raw { nsm_iovec request; nsm_iovec response; }
     * with nsm_iovec { __u64 addr; __u64 len; } == struct iovec on 64-bit */
    assert_int_equal(sizeof(struct nsm_message), 32);
    assert_int_equal(offsetof(struct nsm_message, request), 0);
    assert_int_equal(offsetof(struct nsm_message, response), 16);
    assert_int_equal(offsetof(struct nsm_message, request.iov_base), 0);
    assert_int_equal(offsetof(struct nsm_message, request.iov_len), 8);
    assert_int_equal(offsetof(struct nsm_message, response.iov_base), 16);
    assert_int_equal(offsetof(struct nsm_message, response.iov_len), 24);
    /* _IOWR(0x0A, 0, 32 bytes) */
    assert_int_equal((unsigned long)NSM_IOCTL, 0xC0200A00UL);
    assert_int_equal(_IOC_DIR(NSM_IOCTL), _IOC_READ | _IOC_WRITE);
    assert_int_equal(_IOC_TYPE(NSM_IOCTL), 0x0A);
    assert_int_equal(_IOC_NR(NSM_IOCTL), 0);
    assert_int_equal(_IOC_SIZE(NSM_IOCTL), 32);
}

static void test_abi_types(void **state)
{
    (void)state;
    /* ErrorCode and Digest are #[repr(C)] enums: int-sized, in order */
    assert_int_equal(sizeof(ErrorCode), sizeof(int));
    assert_int_equal(ERROR_CODE_SUCCESS, 0);
    assert_int_equal(ERROR_CODE_INVALID_ARGUMENT, 1);
    assert_int_equal(ERROR_CODE_INVALID_INDEX, 2);
    assert_int_equal(ERROR_CODE_INVALID_RESPONSE, 3);
    assert_int_equal(ERROR_CODE_READ_ONLY_INDEX, 4);
    assert_int_equal(ERROR_CODE_INVALID_OPERATION, 5);
    assert_int_equal(ERROR_CODE_BUFFER_TOO_SMALL, 6);
    assert_int_equal(ERROR_CODE_INPUT_TOO_LARGE, 7);
    assert_int_equal(ERROR_CODE_INTERNAL_ERROR, 8);
    assert_int_equal(DIGEST_SHA256, 0);
    assert_int_equal(DIGEST_SHA384, 1);
    assert_int_equal(DIGEST_SHA512, 2);
    /* NsmDescription as Rust lays out the #[repr(C)] struct */
    assert_int_equal(offsetof(NsmDescription, version_major), 0);
    assert_int_equal(offsetof(NsmDescription, version_patch), 4);
    assert_int_equal(offsetof(NsmDescription, module_id), 6);
    assert_int_equal(offsetof(NsmDescription, module_id_len), 108);
    assert_int_equal(offsetof(NsmDescription, max_pcrs), 112);
    assert_int_equal(offsetof(NsmDescription, locked_pcrs), 114);
    assert_int_equal(offsetof(NsmDescription, locked_pcrs_len), 244);
    assert_int_equal(offsetof(NsmDescription, digest), 248);
    assert_int_equal(sizeof(NsmDescription), 252);
}

/* ---- a module on a socketpair ---- */

struct server {
    struct nsm_module *m;
    int fd;
    pthread_t thread;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    nsm_endpoint_serve(s->m, s->fd, NULL);
    return NULL;
}

static int start(struct server *s)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    struct hostconf host;
    hostconf_defaults(&host);
    struct eif_measurements em = {0};
    memset(em.pcr0, 0xa0, 48);
    struct nsm_enclave_config cfg = {.measurements = &em, .host = &host, .enclave_id = 0x42};
    struct attest_signer *signer = NULL;
    if (attest_signer_new_ephemeral(&signer, NULL) < 0 ||
        nsm_module_new_enclave(&cfg, signer, &s->m, NULL) < 0)
        return -1;
    s->fd = sv[1];
    if (pthread_create(&s->thread, NULL, serve, s) != 0)
        return -1;
    return sv[0];
}

static void stop(struct server *s, int client)
{
    nsm_lib_exit(client);
    pthread_join(s->thread, NULL);
    close(s->fd);
    nsm_module_free(s->m);
}

static void test_api_calls(void **state)
{
    (void)state;
    struct server s;
    int fd = start(&s);
    assert_true(fd >= 0);

    bool lock = false;
    uint8_t pcr[64];
    uint32_t len = sizeof(pcr);
    assert_int_equal(nsm_describe_pcr(fd, 0, &lock, pcr, &len), ERROR_CODE_SUCCESS);
    assert_true(lock);
    assert_int_equal(len, 48);
    uint8_t a0[48];
    memset(a0, 0xa0, 48);
    assert_memory_equal(pcr, a0, 48);

    len = sizeof(pcr);
    assert_int_equal(nsm_describe_pcr(fd, 32, &lock, pcr, &len), ERROR_CODE_INVALID_INDEX);

    static const uint8_t d[] = {1, 2, 3};
    len = sizeof(pcr);
    assert_int_equal(nsm_extend_pcr(fd, 16, d, 3, pcr, &len), ERROR_CODE_SUCCESS);
    char h[97];
    hex_encode(h, pcr, 48);
    assert_string_equal(h, "cb178fcd3f328244c05c6248723fd068b3a1dda878e1ab8be911098f199958ad"
                           "d55d0c27f04826d27b44d949a650694e");
    len = sizeof(pcr);
    assert_int_equal(nsm_extend_pcr(fd, 3, d, 3, pcr, &len), ERROR_CODE_READ_ONLY_INDEX);
    assert_int_equal(nsm_extend_pcr(fd, 16, NULL, 3, pcr, &len), ERROR_CODE_INVALID_ARGUMENT);

    assert_int_equal(nsm_lock_pcr(fd, 16), ERROR_CODE_SUCCESS);
    assert_int_equal(nsm_lock_pcr(fd, 16), ERROR_CODE_READ_ONLY_INDEX);
    assert_int_equal(nsm_lock_pcr(fd, 40), ERROR_CODE_INVALID_INDEX);
    assert_int_equal(nsm_lock_pcrs(fd, 33), ERROR_CODE_INVALID_INDEX);
    assert_int_equal(nsm_lock_pcrs(fd, 18), ERROR_CODE_SUCCESS);

    NsmDescription desc;
    memset(&desc, 0xee, sizeof(desc));
    assert_int_equal(nsm_get_description(fd, &desc), ERROR_CODE_SUCCESS);
    assert_int_equal(desc.version_major, 1);
    assert_int_equal(desc.max_pcrs, 32);
    assert_int_equal(desc.digest, DIGEST_SHA384);
    assert_int_equal(desc.locked_pcrs_len, 18);
    assert_int_equal(desc.locked_pcrs[17], 17);
    assert_string_equal((char *)desc.module_id, "i-0000000000000000-enc0000000000000042");
    assert_int_equal(desc.module_id_len, 38);
    assert_int_equal(nsm_get_description(fd, NULL), ERROR_CODE_INVALID_ARGUMENT);

    uint8_t rnd[300];
    uintptr_t rlen = sizeof(rnd);
    assert_int_equal(nsm_get_random(fd, rnd, &rlen), ERROR_CODE_SUCCESS);
    assert_int_equal(rlen, 256); /* up to 256 per call */
    rlen = 16;
    assert_int_equal(nsm_get_random(fd, rnd, &rlen), ERROR_CODE_SUCCESS);
    assert_int_equal(rlen, 16);
    rlen = 0;
    assert_int_equal(nsm_get_random(fd, rnd, &rlen), ERROR_CODE_INVALID_ARGUMENT);
    rlen = 16;
    assert_int_equal(nsm_get_random(fd, NULL, &rlen), ERROR_CODE_INVALID_ARGUMENT);
    assert_int_equal(nsm_get_random(-1, rnd, &rlen), ERROR_CODE_INVALID_ARGUMENT);

    static uint8_t doc[16384];
    uint32_t dlen = sizeof(doc);
    static const uint8_t nonce[] = {7, 7};
    assert_int_equal(nsm_get_attestation_doc(fd, NULL, 0, nonce, 2, NULL, 0, doc, &dlen),
                     ERROR_CODE_SUCCESS);
    assert_true(dlen > 1000);
    static const uint8_t head[] = {0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0};
    assert_memory_equal(doc, head, sizeof(head));
    /* libnsm's buffer rules: a short buffer gets a truncated copy */
    uint32_t full = dlen;
    dlen = 10;
    memset(doc, 0, 16);
    assert_int_equal(nsm_get_attestation_doc(fd, NULL, 0, NULL, 0, NULL, 0, doc, &dlen),
                     ERROR_CODE_BUFFER_TOO_SMALL);
    assert_int_equal(dlen, 10);
    assert_memory_equal(doc, head, sizeof(head));
    dlen = 100;
    assert_int_equal(nsm_get_attestation_doc(fd, NULL, 0, NULL, 0, NULL, 0, NULL, &dlen),
                     ERROR_CODE_BUFFER_TOO_SMALL);
    assert_int_equal(dlen, 0);
    (void)full;
    /* oversized fields: the module's InputTooLarge, and beyond a request
     * the library's own */
    static uint8_t big[5000];
    dlen = sizeof(doc);
    assert_int_equal(nsm_get_attestation_doc(fd, big, 1025, NULL, 0, NULL, 0, doc, &dlen),
                     ERROR_CODE_INPUT_TOO_LARGE);
    assert_int_equal(nsm_get_attestation_doc(fd, big, 1024, big, 1024, big, 1024, doc, &dlen),
                     ERROR_CODE_SUCCESS);
    assert_int_equal(nsm_get_attestation_doc(fd, big, 5000, NULL, 0, NULL, 0, doc, &dlen),
                     ERROR_CODE_INPUT_TOO_LARGE);
    len = sizeof(pcr);
    assert_int_equal(nsm_extend_pcr(fd, 20, big, 4090, pcr, &len), ERROR_CODE_INPUT_TOO_LARGE);
    /* describe with a too-small buffer */
    len = 8;
    assert_int_equal(nsm_describe_pcr(fd, 1, &lock, pcr, &len), ERROR_CODE_BUFFER_TOO_SMALL);
    assert_int_equal(len, 8);
    stop(&s, fd);
}

/* ---- a peer that answers what it is told to ---- */

struct fake {
    int fd;
    const uint8_t *resp;
    size_t resp_len;
    pthread_t thread;
};

static void *fake_serve(void *arg)
{
    struct fake *f = arg;
    uint8_t req[NSM_REQUEST_MAX];
    size_t n;
    if (nsm_frame_read(f->fd, req, sizeof(req), &n) == 0)
        nsm_frame_write(f->fd, f->resp, f->resp_len);
    return NULL;
}

static ErrorCode lock_with_answer(const char *resp_hex)
{
    uint8_t resp[256];
    size_t n;
    assert_int_equal(hex_decode(resp, sizeof(resp), &n, resp_hex, NULL), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct fake f = {.fd = sv[1], .resp = resp, .resp_len = n};
    pthread_create(&f.thread, NULL, fake_serve, &f);
    ErrorCode rc = nsm_lock_pcr(sv[0], 16);
    pthread_join(f.thread, NULL);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static void test_client_errors(void **state)
{
    (void)state;
    /* the right answer */
    assert_int_equal(lock_with_answer("674c6f636b504352"), ERROR_CODE_SUCCESS);
    /* another operation's answer: InvalidResponse */
    assert_int_equal(lock_with_answer("684c6f636b50435273"), ERROR_CODE_INVALID_RESPONSE);
    /* an unknown error name is undecodable */
    assert_int_equal(lock_with_answer("a1654572726f72684e6f6e73656e7365"),
                     ERROR_CODE_INTERNAL_ERROR);
    /* an error passes through */
    assert_int_equal(lock_with_answer("a1654572726f7270496e76616c69644f7065726174696f6e"),
                     ERROR_CODE_INVALID_OPERATION);
    /* undecodable: InternalError */
    assert_int_equal(lock_with_answer("ff"), ERROR_CODE_INTERNAL_ERROR);
    /* the peer hangs up without answering: InternalError */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    assert_int_equal(nsm_lock_pcr(sv[0], 16), ERROR_CODE_INTERNAL_ERROR);
    close(sv[0]);
    /* not a descriptor */
    assert_int_equal(nsm_lock_pcr(-1, 16), ERROR_CODE_INTERNAL_ERROR);
}

/* ---- transport selection ---- */

static void test_lib_init(void **state)
{
    (void)state;
    char dir[] = "/tmp/nsm_api_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sock[128], file[128];
    snprintf(sock, sizeof(sock), "%s/nsm.sock", dir);
    snprintf(file, sizeof(file), "%s/plain", dir);

    /* a Unix socket: connected */
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, sock);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(l, 1), 0);
    setenv("CLOISTER_NSM_DEVICE", sock, 1);
    assert_string_equal(nsm_dev_path(), sock);
    int32_t fd = nsm_lib_init();
    assert_true(fd >= 0);
    int peer = accept(l, NULL, NULL);
    assert_true(peer >= 0);
    close(peer);
    nsm_lib_exit(fd);

    /* a character device: opened, and its ioctl used (/dev/null refuses it) */
    setenv("CLOISTER_NSM_DEVICE", "/dev/null", 1);
    fd = nsm_lib_init();
    assert_true(fd >= 0);
    assert_int_equal(nsm_lock_pcr(fd, 16), ERROR_CODE_INTERNAL_ERROR);
    uint8_t resp[NSM_RESPONSE_MAX];
    size_t rl;
    static const uint8_t req[] = {0x60};
    assert_int_equal(nsm_dev_transact(fd, req, 1, resp, sizeof(resp), &rl), -ENOTTY);
    static uint8_t big[NSM_REQUEST_MAX + 1];
    assert_int_equal(nsm_dev_transact(fd, big, sizeof(big), resp, sizeof(resp), &rl),
                     -EMSGSIZE);
    nsm_lib_exit(fd);

    /* anything else: -1 */
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    setenv("CLOISTER_NSM_DEVICE", file, 1);
    errno = 0;
    assert_int_equal(nsm_lib_init(), -1);
    assert_int_equal(errno, ENODEV);
    setenv("CLOISTER_NSM_DEVICE", "/nonexistent/nsm", 1);
    assert_int_equal(nsm_lib_init(), -1);
    assert_int_equal(errno, ENOENT);
    /* unset or empty: /dev/nsm */
    setenv("CLOISTER_NSM_DEVICE", "", 1);
    assert_string_equal(nsm_dev_path(), "/dev/nsm");
    unsetenv("CLOISTER_NSM_DEVICE");
    assert_string_equal(nsm_dev_path(), "/dev/nsm");

    close(l);
    unlink(sock);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ioctl_layout),
        cmocka_unit_test(test_abi_types),
        cmocka_unit_test(test_api_calls),
        cmocka_unit_test(test_client_errors),
        cmocka_unit_test(test_lib_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
