/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KMS client's attested calls (src/lib/kms_client/kms_client.c, the
 * Recipient): each call makes a fresh RSA-2048 key, asks the NSM (a module
 * served on an emulated /dev/nsm by a thread of this test) for a document
 * carrying it, and sends it as Recipient; the scripted peer verifies that
 * document against the module's root, encrypts CiphertextForRecipient to
 * its public key (the CMS KMS answers), and the client opens it. Also what
 * is refused: an envelope for another key, an answer without the envelope,
 * a malformed one, and no NSM at all.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cloister/attestation.h>
#include <cloister/kms.h>

#include "attest_ca/attest_issue.h"
#include "base/base64.h"
#include "cms/cms.h"
#include "nsm_device/hostconf.h"
#include "nsm_device/nsm_endpoint.h"
#include "nsm_device/nsm_module.h"
#include "testlib/https_peer.h"
#include "testlib/kms_peer.h"
#include "testlib/testlib.h"

static char dir[64];
static struct tl_tls tls;

/* ---- an NSM module on a Unix socket, $CLOISTER_NSM_DEVICE ------------------ */

static struct {
    int listen_fd, stop[2];
    pthread_t thread;
    struct nsm_module *m;
    char path[160];
    char *root_pem; /* the module's signing root, to verify its documents */
} nsm;

static void *nsm_serve(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = { { .fd = nsm.listen_fd, .events = POLLIN },
                               { .fd = nsm.stop[0], .events = POLLIN } };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        int c = accept4(nsm.listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        nsm_endpoint_serve(nsm.m, c, NULL);
        close(c);
    }
    return NULL;
}

static int group_setup(void **state)
{
    (void)state;
    tl_mkdtemp(dir, sizeof(dir), "kms-recipient");
    static const char *const dns[] = { "kms.test.local", NULL };
    tl_tls_make(&tls, dir, "kms", dns);
    struct hostconf host;
    hostconf_defaults(&host);
    struct eif_measurements em = { 0 };
    memset(em.pcr0, 0xa0, 48);
    struct nsm_enclave_config cfg = { .measurements = &em, .host = &host, .enclave_id = 0x42 };
    struct attest_signer *signer = NULL;
    if (attest_signer_new_ephemeral(&signer, NULL) < 0 ||
        attest_signer_root_pem(signer, &nsm.root_pem, NULL) < 0 ||
        nsm_module_new_enclave(&cfg, signer, &nsm.m, NULL) < 0)
        return -1;
    tl_path(nsm.path, sizeof(nsm.path), dir, "nsm.sock");
    nsm.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, nsm.path);
    if (bind(nsm.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(nsm.listen_fd, 4) < 0 || pipe(nsm.stop) < 0 ||
        pthread_create(&nsm.thread, NULL, nsm_serve, NULL) != 0)
        return -1;
    setenv("CLOISTER_NSM_DEVICE", nsm.path, 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    close(nsm.stop[1]);
    pthread_join(nsm.thread, NULL);
    close(nsm.stop[0]);
    close(nsm.listen_fd);
    nsm_module_free(nsm.m);
    free(nsm.root_pem);
    unsetenv("CLOISTER_NSM_DEVICE");
    tl_tls_free(&tls);
    tl_rmtree(dir);
    return 0;
}

/* ---- the key service's side -------------------------------------------------- */

enum answer { ENVELOPE, ENVELOPE_FOR_ANOTHER_KEY, PLAINTEXT_ONLY, NOT_CMS };

/* Runs in the peer's thread: no cmocka asserts here, only a record of
 * what was wrong (checked by the test after the join). */
struct service {
    enum answer answer;
    const char *plaintext;
    int calls, verified;
    char problem[256];
    uint8_t spki_hash[8][32]; /* of each call's Recipient key */
};

static void problem(struct service *s, const char *what)
{
    if (!s->problem[0])
        snprintf(s->problem, sizeof(s->problem), "call %d: %s", s->calls, what);
}

/* The Recipient's document, verified against the module's root; its
 * public key (SPKI DER, malloc'd) or NULL. */
static uint8_t *recipient_key(struct service *s, json_t *req, size_t *len)
{
    json_t *r = json_object_get(req, "Recipient");
    const char *alg = json_string_value(json_object_get(r, "KeyEncryptionAlgorithm"));
    const char *b64 = json_string_value(json_object_get(r, "AttestationDocument"));
    if (!alg || strcmp(alg, "RSAES_OAEP_SHA_256") != 0 || !b64 || json_object_size(r) != 2)
        return problem(s, "no Recipient of the expected shape"), NULL;
    uint8_t *doc = NULL, *key = NULL;
    size_t doc_len = 0, klen = 0, plen = 0;
    struct attest_verifier *v = NULL;
    struct attest_doc *d = NULL;
    if (base64_decode(b64, strlen(b64), 1 << 16, &doc, &doc_len, NULL) < 0 ||
        attest_verifier_new(&v, NULL) < 0 ||
        attest_verifier_add_root_pem(v, nsm.root_pem, strlen(nsm.root_pem), NULL) < 0 ||
        attest_verify(v, doc, doc_len, NULL, &d, NULL) < 0) {
        problem(s, "the attestation document does not verify");
    } else {
        const uint8_t *pcr0 = attest_doc_pcr(d, 0, &plen);
        const uint8_t *pk = attest_doc_public_key(d, &klen);
        if (!pcr0 || plen != 48 || pcr0[0] != 0xa0 || pcr0[47] != 0xa0 || !pk)
            problem(s, "the document's PCR0 or public key is not the module's");
        else if ((key = malloc(klen)))
            memcpy(key, pk, klen), *len = klen, s->verified++;
    }
    attest_doc_free(d);
    attest_verifier_free(v);
    free(doc);
    return key;
}

/* CiphertextForRecipient of s->plaintext for the key spki (or another). */
static char *envelope(struct service *s, const uint8_t *spki, size_t len)
{
    const uint8_t *p = spki;
    EVP_PKEY *pub = s->answer == ENVELOPE_FOR_ANOTHER_KEY ? EVP_RSA_gen(2048)
                                                           : d2i_PUBKEY(NULL, &p, (long)len);
    uint8_t *cms = NULL;
    size_t cms_len = 0;
    char *b64 = NULL;
    if (!pub || EVP_PKEY_get_bits(pub) != 2048)
        problem(s, "the Recipient key is not RSA-2048");
    else if (cms_envelope_encrypt(pub, (const uint8_t *)s->plaintext, strlen(s->plaintext), &cms,
                                  &cms_len, NULL) < 0)
        problem(s, "cannot make the envelope");
    else
        b64 = base64_encode(cms, cms_len);
    EVP_PKEY_free(pub);
    free(cms);
    return b64;
}

static void serve_recipient(void *ctx, const struct tl_http_request *req, int *status, char **body)
{
    struct service *s = ctx;
    json_error_t je;
    json_t *j = json_loadb(req->body, req->body_len, 0, &je);
    size_t len = 0;
    uint8_t *spki = j ? recipient_key(s, j, &len) : NULL;
    if (spki && s->calls < 8)
        EVP_Digest(spki, len, s->spki_hash[s->calls], NULL, EVP_sha256(), NULL);
    char *cfr = spki ? envelope(s, spki, len) : NULL;
    char target[64] = "";
    tl_http_header(req->head, "X-Amz-Target", target, sizeof(target));
    json_t *a = json_object();
    if (s->answer == NOT_CMS)
        json_object_set_new(a, "CiphertextForRecipient", json_string("MIIBAAAA"));
    else if (s->answer == PLAINTEXT_ONLY)
        json_object_set_new(a, "Plaintext", json_string("c2VjcmV0"));
    else if (cfr)
        json_object_set_new(a, "CiphertextForRecipient", json_string(cfr));
    if (!strcmp(target, "TrentService.GenerateDataKey"))
        json_object_set_new(a, "CiphertextBlob", json_string("YmxvYg=="));
    *status = 200;
    *body = json_dumps(a, JSON_COMPACT);
    s->calls++;
    json_decref(a);
    json_decref(j);
    free(cfr);
    free(spki);
}

/* ---- the tests ---------------------------------------------------------------- */

static void attested_calls_open_the_envelope(void **state)
{
    (void)state;
    struct service s = { .answer = ENVELOPE, .plaintext = "0123456789abcdef0123456789abcdef" };
    struct tl_https_peer p;
    struct kms_client *c = tl_kms_tcp_peer(&p, &tls, serve_recipient, &s, 3, NULL);
    struct cl_error err = { 0 };
    uint8_t *pt = NULL, *ct = NULL;
    size_t plen = 0, clen = 0;
    if (kms_decrypt(c, (const uint8_t *)"blob", 4, NULL, NULL, NULL, true, &pt, &plen, &err) != 0)
        fail_msg("attested decrypt: %s", err.reason);
    assert_int_equal(plen, 32);
    assert_memory_equal(pt, s.plaintext, 32);
    free(pt);
    assert_int_equal(kms_generate_data_key(c, "k", "AES_256", true, &ct, &clen, &pt, &plen, &err),
                     0);
    assert_memory_equal(ct, "blob", 4);
    assert_memory_equal(pt, s.plaintext, 32);
    free(ct);
    free(pt);
    assert_int_equal(kms_generate_random(c, 32, true, &pt, &err), 0);
    assert_memory_equal(pt, s.plaintext, 32);
    free(pt);
    tl_https_join(&p);
    if (s.problem[0])
        fail_msg("%s", s.problem);
    assert_int_equal(s.verified, 3);
    /* a fresh key for every call */
    assert_memory_not_equal(s.spki_hash[0], s.spki_hash[1], 32);
    assert_memory_not_equal(s.spki_hash[1], s.spki_hash[2], 32);
    static const char *const ops[] = { "Decrypt", "GenerateDataKey", "GenerateRandom" };
    for (int i = 0; i < 3; i++) {
        json_t *j = tl_check_kms_request(&p.req[i], ops[i]);
        assert_non_null(json_object_get(j, "Recipient"));
        json_decref(j);
    }
    tl_kms_peer_done(&p, c);
}

/* DeriveSharedSecret with a Recipient: the secret only from the envelope. */
static void attested_derive_shared_secret(void **state)
{
    (void)state;
    struct service s = { .answer = ENVELOPE, .plaintext = "0123456789abcdef0123456789abcdef" };
    struct tl_https_peer p;
    struct kms_client *c = tl_kms_tcp_peer(&p, &tls, serve_recipient, &s, 1, NULL);
    struct cl_error err = { 0 };
    uint8_t *secret = NULL;
    size_t len = 0;
    if (kms_derive_shared_secret(c, "k", (const uint8_t *)"spki", 4, true, &secret, &len, &err) !=
        0)
        fail_msg("attested derive: %s", err.reason);
    assert_int_equal(len, 32);
    assert_memory_equal(secret, s.plaintext, 32);
    free(secret);
    tl_https_join(&p);
    if (s.problem[0])
        fail_msg("%s", s.problem);
    assert_int_equal(s.verified, 1);
    json_t *j = tl_check_kms_request(&p.req[0], "DeriveSharedSecret");
    assert_string_equal(tl_json_str(j, "KeyAgreementAlgorithm"), "ECDH");
    assert_string_equal(tl_json_str(j, "PublicKey"), "c3BraQ==");
    assert_non_null(json_object_get(j, "Recipient"));
    json_decref(j);
    tl_kms_peer_done(&p, c);
    /* an answer with SharedSecret but no envelope is refused */
    struct service plain = { .answer = PLAINTEXT_ONLY, .plaintext = "secret" };
    c = tl_kms_tcp_peer(&p, &tls, serve_recipient, &plain, 1, NULL);
    cl_error_clear(&err);
    assert_int_equal(
        kms_derive_shared_secret(c, "k", (const uint8_t *)"spki", 4, true, &secret, &len, &err),
        CL_EFORMAT);
    assert_string_equal(err.reason, "the KMS response has no CiphertextForRecipient");
    assert_null(secret);
    tl_kms_peer_done(&p, c);
}

static void attested_answer_refusals(void **state)
{
    (void)state;
    static const struct { enum answer a; int code; const char *reason; } c[] = {
        { ENVELOPE_FOR_ANOTHER_KEY, CL_ECRYPTO, "cannot unwrap the content-encryption key" },
        { PLAINTEXT_ONLY, CL_EFORMAT, "the KMS response has no CiphertextForRecipient" },
        { NOT_CMS, CL_EFORMAT, "not a CMS EnvelopedData with one key-id RSA recipient" },
    };
    for (int i = 0; i < 3; i++) {
        struct service s = { .answer = c[i].a, .plaintext = "secret" };
        struct tl_https_peer p;
        struct kms_client *k = tl_kms_tcp_peer(&p, &tls, serve_recipient, &s, 1, NULL);
        uint8_t *pt = (uint8_t *)&pt;
        size_t plen = 9;
        struct cl_error err = { 0 };
        int rc = kms_decrypt(k, (const uint8_t *)"blob", 4, NULL, NULL, NULL, true, &pt, &plen,
                             &err);
        if (rc != c[i].code || strcmp(err.reason, c[i].reason) != 0)
            fail_msg("answer %d: got %d '%s', want %d '%s'", i, rc, err.reason, c[i].code,
                     c[i].reason);
        assert_null(pt);
        assert_int_equal(plen, 0);
        tl_kms_peer_done(&p, k);
    }
}

/* Without an NSM nothing is sent: the client points at a port that refuses
 * connections, so a request would fail otherwise. */
static void no_nsm_no_request(void **state)
{
    (void)state;
    char missing[160];
    tl_path(missing, sizeof(missing), dir, "no-nsm");
    setenv("CLOISTER_NSM_DEVICE", missing, 1);
    uint16_t port;
    int refusing = tl_tcp_refusing(&port);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
    struct kms_client_config cfg = { .region = "us-east-1", .ca_bundle = tls.ca_file,
                                     .endpoint_url = url, .access_key_id = TL_KMS_AKID,
                                     .secret_access_key = TL_KMS_SECRET };
    struct kms_client *c = NULL;
    assert_int_equal(kms_client_new(&cfg, &c, NULL), 0);
    uint8_t *pt = NULL, *ct = NULL;
    size_t plen = 0, clen = 0;
    struct cl_error err = { 0 };
    assert_int_equal(kms_decrypt(c, (const uint8_t *)"b", 1, NULL, NULL, NULL, true, &pt, &plen,
                                 &err), CL_EIO);
    assert_string_equal(err.reason, "cannot open the Nitro Secure Module");
    cl_error_clear(&err);
    assert_int_equal(kms_generate_data_key(c, "k", NULL, true, &ct, &clen, &pt, &plen, &err),
                     CL_EIO);
    assert_string_equal(err.reason, "cannot open the Nitro Secure Module");
    cl_error_clear(&err);
    assert_int_equal(kms_generate_random(c, 8, true, &pt, &err), CL_EIO);
    assert_string_equal(err.reason, "cannot open the Nitro Secure Module");
    kms_client_free(c);
    close(refusing);
    setenv("CLOISTER_NSM_DEVICE", nsm.path, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attested_calls_open_the_envelope),
        cmocka_unit_test(attested_derive_shared_secret),
        cmocka_unit_test(attested_answer_refusals),
        cmocka_unit_test(no_nsm_no_request),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
