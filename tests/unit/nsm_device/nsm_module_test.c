/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NSM module: every operation and every error through raw CBOR
 * requests, the enclave constructor's registers (normal and debug mode),
 * the documents it signs, and the PCR bank underneath.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cbor.h>
#include <openssl/x509.h>

#include "attest_ca/attest_ca.h"
#include "attest_ca/attest_issue.h"
#include "cose/cose.h"
#include "base/hex.h"
#include "nsm_device/hostconf.h"
#include "nsm_device/nsm_bank.h"
#include "nsm_device/nsm_module.h"
#include "nsm/nsm_proto.h"
#include "eif/pcr.h"

/* AWS's PCR3 example (the user guide's role ARN; tkhq/qos test, recomputed). */
#define ROLE_ARN "arn:aws:iam::123456789012:role/Webserver"
#define ROLE_PCR3 "78fce75db17cd4e0a3fb8dad3ad128ca5e77edbb2b2c7f75329dccd99aa5f6ef" \
                  "4fc1f1a452e315b9e98f9e312e6921e6"
/* A zero PCR extended with 01 02 03 once, and ten times (nsm-check). */
#define EXT1 "cb178fcd3f328244c05c6248723fd068b3a1dda878e1ab8be911098f199958ad" \
             "d55d0c27f04826d27b44d949a650694e"
#define EXT10 "6323f1f718269f5f627840c0084b28c1288a2124c2ea4462cc7a438d4d3b1ff6" \
              "f0bcda05edea3ed314a4ef00f8d9bd3f"

static const uint8_t ZERO[48];

struct fx {
    struct nsm_module *m;
    struct eif_measurements em;
    struct hostconf host;
    uint8_t resp[NSM_RESPONSE_MAX];
    size_t resp_len;
    struct nsm_response r;
    X509 *leaf;
};

static uint64_t fixed_clock(void *ctx)
{
    return *(uint64_t *)ctx;
}
/* a fixed time inside the leaf's validity, set once the leaf exists */
static uint64_t clock_value;

static void fill(uint8_t pcr[48], uint8_t v)
{
    memset(pcr, v, 48);
}

static struct nsm_module *make(struct fx *f, bool debug, bool with_role, bool signed_eif)
{
    memset(&f->em, 0, sizeof(f->em));
    fill(f->em.pcr0, 0x10);
    fill(f->em.pcr1, 0x11);
    fill(f->em.pcr2, 0x12);
    if (signed_eif) {
        fill(f->em.pcr8, 0x18);
        f->em.has_pcr8 = true;
    }
    hostconf_defaults(&f->host);
    strcpy(f->host.instance_id, "i-0123456789abcdef0");
    if (with_role)
        strcpy(f->host.parent_role_arn, ROLE_ARN);
    struct attest_signer *s = NULL;
    struct cl_error err = {0};
    assert_int_equal(attest_signer_new_ephemeral(&s, &err), 0);
    size_t der_len;
    const uint8_t *der = attest_signer_leaf_der(s, &der_len);
    X509_free(f->leaf);
    f->leaf = d2i_X509(NULL, &der, (long)der_len);
    assert_non_null(f->leaf);
    struct nsm_enclave_config cfg = {.measurements = &f->em, .debug_mode = debug,
                                     .host = &f->host, .enclave_id = 0x019b8596b1a90001ULL};
    nsm_module_free(f->m);
    f->m = NULL;
    if (nsm_module_new_enclave(&cfg, s, &f->m, &err) != 0)
        fail_msg("%s", err.reason);
    clock_value = (uint64_t)time(NULL) * 1000 + 123;
    nsm_module_set_clock(f->m, fixed_clock, &clock_value);
    return f->m;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nsm_module_free(f->m);
    X509_free(f->leaf);
    free(f);
    return 0;
}

/* Sends a request struct, decodes the response into f->r. */
static void call(struct fx *f, const struct nsm_request *q)
{
    uint8_t req[NSM_REQUEST_MAX * 2];
    size_t n = 0;
    assert_int_equal(nsm_request_encode(q, req, sizeof(req), &n), 0);
    struct cl_error err = {0};
    int rc = nsm_module_handle(f->m, req, n, f->resp, sizeof(f->resp), &f->resp_len, &err);
    if (rc != 0)
        fail_msg("handle: %s", err.reason);
    assert_int_equal(nsm_response_decode(f->resp, f->resp_len, &f->r), NSM_E_SUCCESS);
}

static void call_raw(struct fx *f, const uint8_t *req, size_t n)
{
    struct cl_error err = {0};
    assert_int_equal(nsm_module_handle(f->m, req, n, f->resp, sizeof(f->resp), &f->resp_len, &err),
                     0);
    assert_int_equal(nsm_response_decode(f->resp, f->resp_len, &f->r), NSM_E_SUCCESS);
}

static void expect_error(struct fx *f, enum nsm_error_code code)
{
    if (f->r.op != NSM_OP_ERROR || f->r.error != code)
        fail_msg("expected Error(%s), got op %d error %d", nsm_error_name(code), f->r.op,
                 f->r.error);
}

static void describe(struct fx *f, uint16_t index)
{
    struct nsm_request q = {.op = NSM_OP_DESCRIBE_PCR, .index = index};
    call(f, &q);
}

static void expect_pcr(struct fx *f, uint16_t index, bool lock, const uint8_t v[48])
{
    describe(f, index);
    assert_int_equal(f->r.op, NSM_OP_DESCRIBE_PCR);
    assert_int_equal(f->r.lock, lock);
    assert_int_equal(f->r.data.len, 48);
    if (memcmp(f->r.data.data, v, 48) != 0) {
        char h[97];
        hex_encode(h, f->r.data.data, 48);
        fail_msg("PCR%u = %s", index, h);
    }
}

static void expect_pcr_hex(struct fx *f, uint16_t index, bool lock, const char *hex)
{
    uint8_t v[48];
    size_t n;
    assert_int_equal(hex_decode(v, sizeof(v), &n, hex, NULL), 0);
    assert_int_equal(n, 48);
    expect_pcr(f, index, lock, v);
}

/* ---- the enclave constructor ---- */

static void test_enclave_registers(void **state)
{
    struct fx *f = *state;
    make(f, false, true, true);
    assert_string_equal(nsm_module_id(f->m), "i-0123456789abcdef0-enc019b8596b1a90001");
    expect_pcr(f, 0, true, f->em.pcr0);
    expect_pcr(f, 1, true, f->em.pcr1);
    expect_pcr(f, 2, true, f->em.pcr2);
    expect_pcr_hex(f, 3, true, ROLE_PCR3);
    uint8_t pcr4[48];
    assert_int_equal(pcr_from_zero(pcr4, "i-0123456789abcdef0", 19, NULL), 0);
    expect_pcr(f, 4, true, pcr4);
    for (uint16_t i = 5; i < 16; i++)
        expect_pcr(f, i, true, i == 8 ? f->em.pcr8 : ZERO);
    for (uint16_t i = 16; i < 32; i++)
        expect_pcr(f, i, false, ZERO);
}

static void test_enclave_debug_mode(void **state)
{
    struct fx *f = *state;
    make(f, true, true, true);
    /* PCR0/1/2/8 zero in the bank itself, PCR3/4 kept */
    expect_pcr(f, 0, true, ZERO);
    expect_pcr(f, 1, true, ZERO);
    expect_pcr(f, 2, true, ZERO);
    expect_pcr(f, 8, true, ZERO);
    expect_pcr_hex(f, 3, true, ROLE_PCR3);
    uint8_t pcr4[48];
    assert_int_equal(pcr_from_zero(pcr4, "i-0123456789abcdef0", 19, NULL), 0);
    expect_pcr(f, 4, true, pcr4);
}

static void test_enclave_no_role_unsigned(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    expect_pcr(f, 3, true, ZERO);
    expect_pcr(f, 8, true, ZERO);
    expect_pcr(f, 0, true, f->em.pcr0);
}

static void test_enclave_id(void **state)
{
    (void)state;
    char id[NSM_MODULE_ID_MAX + 1];
    nsm_module_format_id(id, "i-0000000000000000", 0xabcULL);
    assert_string_equal(id, "i-0000000000000000-enc0000000000000abc");
    uint64_t a = nsm_module_new_enclave_id();
    assert_true(a != 0);
    /* the top 48 bits are the time in ms: after 2023, before 2100 */
    uint64_t ms = a >> 16;
    assert_true(ms > 1672531200000ULL && ms < 4102444800000ULL);

    /* a zero enclave id gets a fresh one; a bad instance id is refused */
    struct eif_measurements em = {0};
    struct hostconf host;
    hostconf_defaults(&host);
    struct nsm_enclave_config cfg = {.measurements = &em, .host = &host};
    struct nsm_module *m = NULL;
    struct cl_error err = {0};
    assert_int_equal(nsm_module_new_enclave(&cfg, NULL, &m, &err), 0);
    assert_int_equal(strlen(nsm_module_id(m)), strlen("i-0000000000000000-enc") + 16);
    assert_memory_equal(nsm_module_id(m), "i-0000000000000000-enc", 22);
    nsm_module_free(m);
    strcpy(host.instance_id, "bogus");
    assert_int_equal(nsm_module_new_enclave(&cfg, NULL, &m, &err), CL_EINVAL);
    assert_string_equal(err.reason, "invalid instance id 'bogus'");
    assert_null(m);
    cl_error_clear(&err);
    assert_int_equal(nsm_module_new("", NULL, &m, &err), CL_EINVAL);
    assert_string_equal(err.reason, "module_id must be 1 to 54 bytes");
}

/* ---- operations ---- */

static void test_extend(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    static const uint8_t d[] = {1, 2, 3};
    struct nsm_request q = {.op = NSM_OP_EXTEND_PCR, .index = 16, .data = {d, 3}};
    call(f, &q);
    assert_int_equal(f->r.op, NSM_OP_EXTEND_PCR);
    char h[97];
    hex_encode(h, f->r.data.data, 48);
    assert_string_equal(h, EXT1);
    for (int i = 1; i < 10; i++)
        call(f, &q);
    hex_encode(h, f->r.data.data, 48);
    assert_string_equal(h, EXT10);
    expect_pcr_hex(f, 16, false, EXT10);
    /* every user register extends the same way */
    for (uint16_t i = 17; i < 32; i++) {
        q.index = i;
        call(f, &q);
        hex_encode(h, f->r.data.data, 48);
        assert_string_equal(h, EXT1);
    }
}

static void test_extend_errors(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    static const uint8_t d[] = {1};
    struct nsm_request q = {.op = NSM_OP_EXTEND_PCR, .index = 0, .data = {d, 1}};
    for (uint16_t i = 0; i < 16; i++) {
        q.index = i;
        call(f, &q);
        expect_error(f, NSM_E_READ_ONLY_INDEX);
    }
    expect_pcr(f, 0, true, f->em.pcr0); /* unchanged */
    q.index = 32;
    call(f, &q);
    expect_error(f, NSM_E_INVALID_INDEX);
    q.index = 65535;
    call(f, &q);
    expect_error(f, NSM_E_INVALID_INDEX);
}

static void test_describe_errors(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    describe(f, 32);
    expect_error(f, NSM_E_INVALID_INDEX);
    describe(f, 1000);
    expect_error(f, NSM_E_INVALID_INDEX);
}

static void test_lock(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    struct nsm_request q = {.op = NSM_OP_LOCK_PCR, .index = 16};
    call(f, &q);
    assert_int_equal(f->r.op, NSM_OP_LOCK_PCR);
    expect_pcr(f, 16, true, ZERO);
    call(f, &q);
    expect_error(f, NSM_E_READ_ONLY_INDEX); /* already locked (QEMU) */
    static const uint8_t d[] = {1};
    struct nsm_request e = {.op = NSM_OP_EXTEND_PCR, .index = 16, .data = {d, 1}};
    call(f, &e);
    expect_error(f, NSM_E_READ_ONLY_INDEX);
    for (uint16_t i = 0; i < 16; i++) { /* nsm-check: locking 0-15 must fail */
        q.index = i;
        call(f, &q);
        expect_error(f, NSM_E_READ_ONLY_INDEX);
    }
    q.index = 32;
    call(f, &q);
    expect_error(f, NSM_E_INVALID_INDEX);
}

static void test_lock_range(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    struct nsm_request q = {.op = NSM_OP_LOCK_PCRS, .range = 33};
    call(f, &q);
    expect_error(f, NSM_E_INVALID_INDEX);
    expect_pcr(f, 16, false, ZERO); /* nothing locked by the failed call */
    q.range = 20;
    call(f, &q);
    assert_int_equal(f->r.op, NSM_OP_LOCK_PCRS);
    expect_pcr(f, 19, true, ZERO);
    expect_pcr(f, 20, false, ZERO);
    q.range = 32;
    call(f, &q);
    assert_int_equal(f->r.op, NSM_OP_LOCK_PCRS);
    call(f, &q); /* again, when all are locked (nsm-check) */
    assert_int_equal(f->r.op, NSM_OP_LOCK_PCRS);
    q.range = 0;
    call(f, &q);
    assert_int_equal(f->r.op, NSM_OP_LOCK_PCRS);
    static const uint8_t d[] = {1};
    struct nsm_request e = {.op = NSM_OP_EXTEND_PCR, .index = 31, .data = {d, 1}};
    call(f, &e);
    expect_error(f, NSM_E_READ_ONLY_INDEX);
    struct nsm_request dn = {.op = NSM_OP_DESCRIBE_NSM};
    call(f, &dn);
    assert_int_equal(f->r.describe.locked_pcrs_len, 32);
    assert_int_equal(f->r.describe.locked_pcrs[31], 31);
}

static void test_describe_nsm(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    struct nsm_request q = {.op = NSM_OP_DESCRIBE_NSM};
    call(f, &q);
    const struct nsm_description *d = &f->r.describe;
    assert_int_equal(f->r.op, NSM_OP_DESCRIBE_NSM);
    assert_int_equal(d->version_major, 1);
    assert_int_equal(d->version_minor, 0);
    assert_int_equal(d->version_patch, 0);
    assert_int_equal(d->max_pcrs, 32);
    assert_int_equal(d->digest, NSM_DIGEST_SHA384);
    assert_int_equal(d->locked_pcrs_len, 16);
    for (int i = 0; i < 16; i++)
        assert_int_equal(d->locked_pcrs[i], i);
    assert_int_equal(d->module_id_len, strlen("i-0123456789abcdef0-enc019b8596b1a90001"));
    assert_memory_equal(d->module_id, "i-0123456789abcdef0-enc019b8596b1a90001",
                        d->module_id_len);
    /* after LockPCR 20 */
    struct nsm_request l = {.op = NSM_OP_LOCK_PCR, .index = 20};
    call(f, &l);
    call(f, &q);
    assert_int_equal(d->locked_pcrs_len, 17);
    assert_int_equal(d->locked_pcrs[16], 20);
}

static void test_get_random(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    struct nsm_request q = {.op = NSM_OP_GET_RANDOM};
    call(f, &q);
    assert_int_equal(f->r.op, NSM_OP_GET_RANDOM);
    assert_int_equal(f->r.random.len, 256);
    uint8_t first[256];
    memcpy(first, f->r.random.data, 256);
    call(f, &q);
    assert_int_equal(f->r.random.len, 256);
    assert_memory_not_equal(first, f->r.random.data, 256);
}

/* ---- attestation ---- */

struct doc {
    struct cose_sign1 *cose;
    cbor_item_t *payload;
};

static cbor_item_t *map_get(cbor_item_t *map, const char *key)
{
    struct cbor_pair *p = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map); i++)
        if (cbor_isa_string(p[i].key) && cbor_string_length(p[i].key) == strlen(key) &&
            !memcmp(cbor_string_handle(p[i].key), key, strlen(key)))
            return p[i].value;
    return NULL;
}

static void open_doc(struct fx *f, struct doc *d)
{
    assert_int_equal(f->r.op, NSM_OP_ATTESTATION);
    struct cl_error err = {0};
    if (cose_sign1_parse(f->r.document.data, f->r.document.len, &d->cose, &err) != 0)
        fail_msg("parse: %s", err.reason);
    EVP_PKEY *key = X509_get0_pubkey(f->leaf);
    if (cose_sign1_verify(d->cose, key, &err) != 0)
        fail_msg("verify: %s", err.reason);
    size_t n;
    const uint8_t *p = cose_sign1_payload(d->cose, &n);
    struct cbor_load_result res;
    d->payload = cbor_load(p, n, &res);
    assert_non_null(d->payload);
    assert_int_equal(res.read, n);
    assert_true(cbor_isa_map(d->payload));
    /* keys in the real module's order */
    static const char *const order[] = {"module_id", "digest", "timestamp", "pcrs",
                                        "certificate", "cabundle", "public_key",
                                        "user_data", "nonce"};
    assert_int_equal(cbor_map_size(d->payload), 9);
    struct cbor_pair *pairs = cbor_map_handle(d->payload);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(cbor_string_length(pairs[i].key), strlen(order[i]));
        assert_memory_equal(cbor_string_handle(pairs[i].key), order[i], strlen(order[i]));
    }
}

static void close_doc(struct doc *d)
{
    cose_sign1_free(d->cose);
    cbor_decref(&d->payload);
}

static void expect_doc_pcr(struct doc *d, unsigned index, const uint8_t v[48])
{
    cbor_item_t *pcrs = map_get(d->payload, "pcrs");
    struct cbor_pair *p = cbor_map_handle(pcrs);
    for (size_t i = 0; i < cbor_map_size(pcrs); i++)
        if (cbor_get_int(p[i].key) == index) {
            assert_int_equal(cbor_bytestring_length(p[i].value), 48);
            assert_memory_equal(cbor_bytestring_handle(p[i].value), v, 48);
            return;
        }
    fail_msg("PCR%u not in the document", index);
}

static void expect_opt(struct doc *d, const char *key, const uint8_t *v, size_t n)
{
    cbor_item_t *it = map_get(d->payload, key);
    assert_non_null(it);
    if (v == NULL) {
        assert_true(cbor_is_null(it));
        return;
    }
    assert_true(cbor_isa_bytestring(it));
    assert_int_equal(cbor_bytestring_length(it), n);
    if (n)
        assert_memory_equal(cbor_bytestring_handle(it), v, n);
}

static void test_attestation(void **state)
{
    struct fx *f = *state;
    make(f, false, true, true);
    struct nsm_request q = {.op = NSM_OP_ATTESTATION};
    call(f, &q);
    struct doc d;
    open_doc(f, &d);
    cbor_item_t *mid = map_get(d.payload, "module_id");
    assert_memory_equal(cbor_string_handle(mid), "i-0123456789abcdef0-enc019b8596b1a90001",
                        cbor_string_length(mid));
    assert_int_equal(cbor_get_int(map_get(d.payload, "timestamp")), clock_value);
    cbor_item_t *digest = map_get(d.payload, "digest");
    assert_memory_equal(cbor_string_handle(digest), "SHA384", 6);
    assert_int_equal(cbor_map_size(map_get(d.payload, "pcrs")), 16);
    expect_doc_pcr(&d, 0, f->em.pcr0);
    expect_doc_pcr(&d, 1, f->em.pcr1);
    expect_doc_pcr(&d, 2, f->em.pcr2);
    expect_doc_pcr(&d, 8, f->em.pcr8);
    expect_opt(&d, "public_key", NULL, 0);
    expect_opt(&d, "user_data", NULL, 0);
    expect_opt(&d, "nonce", NULL, 0);
    /* the certificate is the signer's leaf; the cabundle starts at a root */
    cbor_item_t *cert = map_get(d.payload, "certificate");
    unsigned char *der = NULL;
    int der_len = i2d_X509(f->leaf, &der);
    assert_int_equal(cbor_bytestring_length(cert), der_len);
    assert_memory_equal(cbor_bytestring_handle(cert), der, der_len);
    OPENSSL_free(der);
    assert_true(cbor_array_size(map_get(d.payload, "cabundle")) >= 1);
    close_doc(&d);

    /* with fields, after locking PCR16 and extending PCR17 */
    static const uint8_t e[] = {9};
    struct nsm_request ext = {.op = NSM_OP_EXTEND_PCR, .index = 16, .data = {e, 1}};
    call(f, &ext);
    uint8_t pcr16[48];
    memcpy(pcr16, f->r.data.data, 48);
    struct nsm_request lk = {.op = NSM_OP_LOCK_PCR, .index = 16};
    call(f, &lk);
    ext.index = 17;
    call(f, &ext);
    static const uint8_t ud[] = "user", nonce[] = "nonce", pk[] = {0x30, 0x01, 0x00};
    static const uint8_t empty[1];
    q.user_data = (struct nsm_bytes){ud, 4};
    q.nonce = (struct nsm_bytes){nonce, 5};
    q.public_key = (struct nsm_bytes){pk, 3};
    call(f, &q);
    open_doc(f, &d);
    assert_int_equal(cbor_map_size(map_get(d.payload, "pcrs")), 17); /* 17 is not locked */
    expect_doc_pcr(&d, 16, pcr16);
    expect_opt(&d, "public_key", pk, 3);
    expect_opt(&d, "user_data", ud, 4);
    expect_opt(&d, "nonce", nonce, 5);
    close_doc(&d);

    /* empty but present fields stay empty byte strings */
    q.user_data = (struct nsm_bytes){empty, 0};
    q.nonce = (struct nsm_bytes){NULL, 0};
    call(f, &q);
    open_doc(f, &d);
    expect_opt(&d, "user_data", empty, 0);
    expect_opt(&d, "nonce", NULL, 0);
    close_doc(&d);
}

static void test_attestation_debug(void **state)
{
    struct fx *f = *state;
    make(f, true, true, true);
    struct nsm_request q = {.op = NSM_OP_ATTESTATION};
    call(f, &q);
    struct doc d;
    open_doc(f, &d);
    expect_doc_pcr(&d, 0, ZERO);
    expect_doc_pcr(&d, 1, ZERO);
    expect_doc_pcr(&d, 2, ZERO);
    expect_doc_pcr(&d, 8, ZERO);
    uint8_t pcr3[48];
    size_t n;
    assert_int_equal(hex_decode(pcr3, 48, &n, ROLE_PCR3, NULL), 0);
    expect_doc_pcr(&d, 3, pcr3);
    close_doc(&d);
}

static void test_attestation_map_form(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    struct nsm_request q = {.op = NSM_OP_ATTESTATION};
    struct doc d;
    size_t n;
    call(f, &q); /* default: indefinite, as AWS since mid-2025 */
    open_doc(f, &d);
    assert_int_equal(cose_sign1_payload(d.cose, &n)[0], 0xbf);
    close_doc(&d);
    nsm_module_set_indefinite_map(f->m, false);
    call(f, &q);
    open_doc(f, &d);
    assert_int_equal(cose_sign1_payload(d.cose, &n)[0], 0xa9);
    close_doc(&d);
}

static void test_attestation_limits(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    static uint8_t big[1025];
    memset(big, 0x41, sizeof(big));
    /* 1024 of each: accepted, and the document fits the response */
    struct nsm_request q = {.op = NSM_OP_ATTESTATION, .user_data = {big, 1024},
                            .nonce = {big, 1024}, .public_key = {big, 1024}};
    call(f, &q);
    assert_int_equal(f->r.op, NSM_OP_ATTESTATION);
    struct nsm_bytes *fields[] = {&q.user_data, &q.nonce, &q.public_key};
    for (int i = 0; i < 3; i++) {
        q.user_data = q.nonce = q.public_key = (struct nsm_bytes){NULL, 0};
        *fields[i] = (struct nsm_bytes){big, 1025};
        call(f, &q);
        expect_error(f, NSM_E_INPUT_TOO_LARGE);
    }
}

static void test_no_signer(void **state)
{
    (void)state;
    struct nsm_module *m = NULL;
    struct cl_error err = {0};
    assert_int_equal(nsm_module_new("mod", NULL, &m, &err), 0);
    uint8_t req[64], resp[NSM_RESPONSE_MAX];
    size_t n, rn;
    struct nsm_request q = {.op = NSM_OP_ATTESTATION};
    assert_int_equal(nsm_request_encode(&q, req, sizeof(req), &n), 0);
    assert_int_equal(nsm_module_handle(m, req, n, resp, sizeof(resp), &rn, &err), CL_ESTATE);
    assert_string_equal(err.reason, "this NSM module has no attestation signer");
    struct nsm_response r;
    assert_int_equal(nsm_response_decode(resp, rn, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_ERROR);
    assert_int_equal(r.error, NSM_E_INTERNAL_ERROR);
    /* a bare module: nothing locked, all zero */
    struct nsm_request dp = {.op = NSM_OP_DESCRIBE_PCR, .index = 0};
    assert_int_equal(nsm_request_encode(&dp, req, sizeof(req), &n), 0);
    assert_int_equal(nsm_module_handle(m, req, n, resp, sizeof(resp), &rn, &err), 0);
    assert_int_equal(nsm_response_decode(resp, rn, &r), NSM_E_SUCCESS);
    assert_false(r.lock);
    /* too small a response buffer */
    cl_error_clear(&err);
    assert_int_equal(nsm_module_handle(m, req, n, resp, 100, &rn, &err), CL_EINVAL);
    assert_string_equal(err.reason,
                        "nsm_module_handle: the response buffer must hold 12288 bytes");
    nsm_module_free(m);
}

static void test_malformed(void **state)
{
    struct fx *f = *state;
    make(f, false, false, false);
    static const uint8_t junk[] = {0xff, 0x00, 0x13};
    call_raw(f, junk, sizeof(junk));
    expect_error(f, NSM_E_INVALID_OPERATION);
    call_raw(f, junk, 0);
    expect_error(f, NSM_E_INVALID_OPERATION);
    struct cl_error err = {0};
    assert_int_equal(nsm_module_handle(f->m, NULL, 10, f->resp, sizeof(f->resp), &f->resp_len,
                                       &err), 0);
    assert_int_equal(nsm_response_decode(f->resp, f->resp_len, &f->r), NSM_E_SUCCESS);
    expect_error(f, NSM_E_INVALID_OPERATION);
    static uint8_t big[NSM_REQUEST_MAX + 1];
    call_raw(f, big, sizeof(big));
    expect_error(f, NSM_E_INPUT_TOO_LARGE);
    /* {"DescribePCR": {"index": "x"}} */
    static const uint8_t badarg[] = {0xa1, 0x6b, 'D', 'e', 's', 'c', 'r', 'i', 'b', 'e', 'P',
                                     'C', 'R', 0xa1, 0x65, 'i', 'n', 'd', 'e', 'x', 0x61, 'x'};
    call_raw(f, badarg, sizeof(badarg));
    expect_error(f, NSM_E_INVALID_ARGUMENT);
    /* a module keeps working after bad input */
    expect_pcr(f, 0, true, f->em.pcr0);
}

/* ---- leaf rotation from the CA ---- */

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_rotation(void **state)
{
    (void)state;
    char dir[] = "/tmp/nsm_module_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ca[128], missing[128];
    snprintf(ca, sizeof(ca), "%s/ca", dir);
    snprintf(missing, sizeof(missing), "%s/none", dir);
    struct cl_error err = {0};
    if (attest_ca_init(ca, false, &err) < 0)
        fail_msg("%s", err.reason);

    uint8_t req[64], resp[NSM_RESPONSE_MAX];
    size_t n, rn;
    struct nsm_request q = {.op = NSM_OP_ATTESTATION};
    assert_int_equal(nsm_request_encode(&q, req, sizeof(req), &n), 0);
    struct nsm_response r;

    /* a module without a leaf and a CA it cannot reach: InternalError, and why */
    struct nsm_module *m = NULL;
    assert_int_equal(nsm_module_new("i-1-enc0000000000000001", NULL, &m, &err), 0);
    nsm_bank_lock_range(nsm_module_bank(m), 16); /* as an enclave's */
    assert_int_equal(nsm_module_set_rotation(m, missing, &err), 0);
    assert_true(nsm_module_handle(m, req, n, resp, sizeof(resp), &rn, &err) < 0);
    char expect[300];
    snprintf(expect, sizeof(expect),
             "rotating the attestation leaf: no attestation CA in '%s' (run `cloister "
             "attestation-ca init`)", missing);
    assert_string_equal(err.reason, expect);
    assert_int_equal(nsm_response_decode(resp, rn, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_ERROR);
    assert_int_equal(r.error, NSM_E_INTERNAL_ERROR);

    /* pointed at the CA, it takes a leaf from it and signs */
    cl_error_clear(&err);
    assert_int_equal(nsm_module_set_rotation(m, ca, &err), 0);
    if (nsm_module_handle(m, req, n, resp, sizeof(resp), &rn, &err) != 0)
        fail_msg("%s", err.reason);
    assert_int_equal(nsm_response_decode(resp, rn, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_ATTESTATION);

    /* a valid leaf is kept even when the CA goes away */
    assert_int_equal(nsm_module_set_rotation(m, missing, &err), 0);
    assert_int_equal(nsm_module_handle(m, req, n, resp, sizeof(resp), &rn, &err), 0);
    assert_int_equal(nsm_response_decode(resp, rn, &r), NSM_E_SUCCESS);
    assert_int_equal(r.op, NSM_OP_ATTESTATION);
    nsm_module_free(m);
    rm_rf(dir);
}

/* ---- the bank on its own ---- */

static void test_bank(void **state)
{
    (void)state;
    struct nsm_bank b;
    nsm_bank_init(&b);
    uint8_t v[48], out[48];
    bool lock;
    fill(v, 7);
    assert_int_equal(nsm_bank_set(&b, 5, v), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_describe(&b, 5, &lock, out), NSM_E_SUCCESS);
    assert_false(lock);
    assert_memory_equal(out, v, 48);
    assert_int_equal(nsm_bank_set(&b, 32, v), NSM_E_INVALID_INDEX);
    assert_int_equal(nsm_bank_lock(&b, 5), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_set(&b, 5, ZERO), NSM_E_READ_ONLY_INDEX);
    assert_int_equal(nsm_bank_extend(&b, 5, v, 1, NULL), NSM_E_READ_ONLY_INDEX);
    assert_int_equal(nsm_bank_lock(&b, 5), NSM_E_READ_ONLY_INDEX);
    assert_int_equal(nsm_bank_lock(&b, 32), NSM_E_INVALID_INDEX);
    assert_int_equal(nsm_bank_locked_mask(&b), 1u << 5);
    assert_int_equal(nsm_bank_extend(&b, 6, NULL, 0, out), NSM_E_SUCCESS);
    /* SHA384(0^48 || "") */
    uint8_t expect[48];
    assert_int_equal(pcr_from_zero(expect, "", 0, NULL), 0);
    assert_memory_equal(out, expect, 48);
    assert_int_equal(nsm_bank_extend(&b, 6, NULL, 3, out), NSM_E_INVALID_ARGUMENT);
    assert_int_equal(nsm_bank_extend(&b, 40, v, 1, out), NSM_E_INVALID_INDEX);
    assert_int_equal(nsm_bank_describe(&b, 40, &lock, out), NSM_E_INVALID_INDEX);
    assert_int_equal(nsm_bank_lock_range(&b, 33), NSM_E_INVALID_INDEX);
    assert_int_equal(nsm_bank_lock_range(&b, 32), NSM_E_SUCCESS);
    assert_int_equal(nsm_bank_locked_mask(&b), 0xffffffffu);
    assert_false(nsm_bank_is_locked(&b, 32));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enclave_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enclave_debug_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enclave_no_role_unsigned, setup, teardown),
        cmocka_unit_test(test_enclave_id),
        cmocka_unit_test_setup_teardown(test_extend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extend_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_nsm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation_debug, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation_map_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation_limits, setup, teardown),
        cmocka_unit_test(test_no_signer),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_bank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
