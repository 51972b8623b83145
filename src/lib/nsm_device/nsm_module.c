/* SPDX-License-Identifier: Apache-2.0 */
/* The NSM service object; see nsm_module.h. */
#include "nsm_device/nsm_module.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>

#include "nsm/nsm_proto.h"
#include "eif/pcr.h"

struct nsm_module {
    pthread_mutex_t lock;
    char module_id[NSM_MODULE_ID_MAX + 1];
    struct nsm_bank bank;
    struct attest_signer *signer; /* owned */
    char *rotation_dir;           /* owned; NULL: no rotation */
    bool indefinite_map;
    uint64_t (*now_ms)(void *ctx);
    void *now_ctx;
};

static uint64_t real_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int nsm_module_new(const char *module_id, struct attest_signer *signer,
                   struct nsm_module **out, struct cl_error *err)
{
    *out = NULL;
    size_t n = module_id ? strlen(module_id) : 0;
    if (n == 0 || n > NSM_MODULE_ID_MAX) {
        attest_signer_free(signer);
        return cl_fail(err, CL_EINVAL, "module_id must be 1 to %d bytes", NSM_MODULE_ID_MAX);
    }
    struct nsm_module *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        attest_signer_free(signer);
        return cl_fail(err, CL_ENOMEM, "cannot allocate the NSM module");
    }
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        attest_signer_free(signer);
        return cl_fail(err, CL_ENOMEM, "cannot create the NSM module's mutex");
    }
    memcpy(m->module_id, module_id, n + 1);
    nsm_bank_init(&m->bank);
    m->signer = signer;
    m->indefinite_map = true;
    m->now_ms = real_now_ms;
    *out = m;
    return 0;
}

void nsm_module_free(struct nsm_module *m)
{
    if (m == NULL)
        return;
    attest_signer_free(m->signer);
    free(m->rotation_dir);
    pthread_mutex_destroy(&m->lock);
    OPENSSL_cleanse(m, sizeof(*m));
    free(m);
}

uint64_t nsm_module_new_enclave_id(void)
{
    uint16_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (uint16_t)(clock() & 0xffff);
    uint64_t ms = real_now_ms(NULL) & ((UINT64_C(1) << 48) - 1);
    uint64_t id = ms << 16 | rnd;
    return id ? id : 1;
}

void nsm_module_format_id(char out[static NSM_MODULE_ID_MAX + 1], const char *instance_id,
                          uint64_t enclave_id)
{
    snprintf(out, NSM_MODULE_ID_MAX + 1, "%.*s-enc%016" PRIx64, HOSTCONF_INSTANCE_ID_MAX,
             instance_id, enclave_id);
}

int nsm_module_new_enclave(const struct nsm_enclave_config *cfg, struct attest_signer *signer,
                           struct nsm_module **out, struct cl_error *err)
{
    *out = NULL;
    if (cfg == NULL || cfg->measurements == NULL || cfg->host == NULL) {
        attest_signer_free(signer);
        return cl_fail(err, CL_EINVAL, "nsm_module_new_enclave: missing argument");
    }
    const struct hostconf *host = cfg->host;
    if (!hostconf_instance_id_valid(host->instance_id)) {
        attest_signer_free(signer);
        return cl_fail(err, CL_EINVAL, "invalid instance id '%.40s'", host->instance_id);
    }
    char id[NSM_MODULE_ID_MAX + 1];
    uint64_t enclave_id = cfg->enclave_id ? cfg->enclave_id : nsm_module_new_enclave_id();
    nsm_module_format_id(id, host->instance_id, enclave_id);

    struct nsm_module *m = NULL;
    int rc = nsm_module_new(id, signer, &m, err);
    if (rc < 0)
        return rc;

    /* The platform's registers (docs/nsm.md, "An enclave's module").
     * A debug-mode enclave keeps PCR0/1/2/8 at zero in its bank, so that
     * DescribePCR and its documents agree; PCR3/PCR4 are set in both modes,
     * as real debug-mode documents show. */
    const struct eif_measurements *em = cfg->measurements;
    uint8_t v[PCR_SIZE];
    if (!cfg->debug_mode) {
        nsm_bank_set(&m->bank, 0, em->pcr0);
        nsm_bank_set(&m->bank, 1, em->pcr1);
        nsm_bank_set(&m->bank, 2, em->pcr2);
        if (em->has_pcr8)
            nsm_bank_set(&m->bank, 8, em->pcr8);
    }
    if (host->parent_role_arn[0] != '\0') {
        rc = pcr_from_zero(v, host->parent_role_arn, strlen(host->parent_role_arn), err);
        if (rc < 0)
            goto fail;
        nsm_bank_set(&m->bank, 3, v);
    }
    rc = pcr_from_zero(v, host->instance_id, strlen(host->instance_id), err);
    if (rc < 0)
        goto fail;
    nsm_bank_set(&m->bank, 4, v);
    /* Locked once the enclave starts (nsm-check: locked_pcrs == {0..15}). */
    nsm_bank_lock_range(&m->bank, 16);
    *out = m;
    return 0;
fail:
    nsm_module_free(m);
    return rc;
}

const char *nsm_module_id(const struct nsm_module *m)
{
    return m->module_id;
}

struct nsm_bank *nsm_module_bank(struct nsm_module *m)
{
    return &m->bank;
}

void nsm_module_set_indefinite_map(struct nsm_module *m, bool indefinite)
{
    m->indefinite_map = indefinite;
}

int nsm_module_set_rotation(struct nsm_module *m, const char *ca_dir, struct cl_error *err)
{
    char *copy = NULL;
    if (ca_dir) {
        copy = strdup(ca_dir);
        if (copy == NULL)
            return cl_fail(err, CL_ENOMEM, "cannot copy the CA directory name");
    }
    pthread_mutex_lock(&m->lock);
    free(m->rotation_dir);
    m->rotation_dir = copy;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

void nsm_module_set_clock(struct nsm_module *m, uint64_t (*now_ms)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&m->lock);
    m->now_ms = now_ms ? now_ms : real_now_ms;
    m->now_ctx = ctx;
    pthread_mutex_unlock(&m->lock);
}

/* Replaces the leaf when it is close to expiry. Returns 0, or the reason
 * the rotation failed (the old leaf is kept while it is still valid). */
static int maybe_rotate(struct nsm_module *m, struct cl_error *err)
{
    if (m->rotation_dir == NULL)
        return 0;
    int64_t now = (int64_t)time(NULL);
    if (m->signer && attest_signer_not_after(m->signer) - now > NSM_MODULE_ROTATE_SECONDS)
        return 0;
    struct attest_signer *fresh = NULL;
    int rc = attest_signer_new_from_ca(m->rotation_dir, &fresh, err);
    if (rc < 0) {
        cl_error_prefix(err, "rotating the attestation leaf");
        return rc;
    }
    attest_signer_free(m->signer);
    m->signer = fresh;
    return 0;
}

static int answer_error(enum nsm_error_code code, uint8_t *resp, size_t cap, size_t *len)
{
    struct nsm_response r = {.op = NSM_OP_ERROR, .error = code};
    /* An error response is at most 27 bytes; cap >= NSM_RESPONSE_MAX. */
    return nsm_response_encode(&r, resp, cap, len);
}

static int do_attestation(struct nsm_module *m, const struct nsm_request *q, uint8_t *resp,
                          size_t cap, size_t *len, struct cl_error *err)
{
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    int rc = maybe_rotate(m, err);
    if (rc < 0 && (m->signer == NULL ||
                   attest_signer_not_after(m->signer) <= (int64_t)time(NULL))) {
        answer_error(NSM_E_INTERNAL_ERROR, resp, cap, len);
        return rc;
    }
    int rotate_rc = rc;
    if (m->signer == NULL) {
        answer_error(NSM_E_INTERNAL_ERROR, resp, cap, len);
        return cl_fail(err, CL_ESTATE, "this NSM module has no attestation signer");
    }
    struct attest_doc_fields f = {
        .module_id = m->module_id,
        .timestamp_ms = m->now_ms(m->now_ctx),
        .pcrs = (const uint8_t(*)[48])m->bank.pcr,
        .pcr_mask = nsm_bank_locked_mask(&m->bank),
        .public_key = q->public_key.data, .public_key_len = q->public_key.len,
        .user_data = q->user_data.data, .user_data_len = q->user_data.len,
        .nonce = q->nonce.data, .nonce_len = q->nonce.len,
        .indefinite_map = m->indefinite_map,
    };
    rc = attest_doc_issue(m->signer, &f, &doc, &doc_len, err);
    if (rc < 0) {
        cl_error_prefix(err, "issuing an attestation document");
        answer_error(NSM_E_INTERNAL_ERROR, resp, cap, len);
        return rc;
    }
    struct nsm_response r = {.op = NSM_OP_ATTESTATION, .document = {doc, doc_len}};
    if (nsm_response_encode(&r, resp, NSM_RESPONSE_MAX, len) < 0) {
        /* Larger than the 0x3000 bytes of the response buffer: the inputs
         * were too large for it (QEMU answers the same). */
        answer_error(NSM_E_INPUT_TOO_LARGE, resp, cap, len);
    }
    free(doc);
    return rotate_rc;
}

static int dispatch(struct nsm_module *m, const uint8_t *req, size_t req_len, uint8_t *resp,
                    size_t cap, size_t *len, struct cl_error *err)
{
    struct nsm_request q;
    struct nsm_response r = {0};
    uint8_t pcr[PCR_SIZE];
    int code = nsm_request_decode(req, req_len, &q);
    if (code != NSM_E_SUCCESS)
        return answer_error(code, resp, cap, len);

    switch (q.op) {
    case NSM_OP_DESCRIBE_PCR:
        code = nsm_bank_describe(&m->bank, q.index, &r.lock, pcr);
        r.op = NSM_OP_DESCRIBE_PCR;
        r.data = (struct nsm_bytes){pcr, PCR_SIZE};
        break;
    case NSM_OP_EXTEND_PCR:
        code = nsm_bank_extend(&m->bank, q.index, q.data.data, q.data.len, pcr);
        r.op = NSM_OP_EXTEND_PCR;
        r.data = (struct nsm_bytes){pcr, PCR_SIZE};
        if (code == NSM_E_INTERNAL_ERROR) {
            answer_error(code, resp, cap, len);
            return cl_fail(err, CL_ECRYPTO, "SHA-384 failed while extending PCR%u", q.index);
        }
        break;
    case NSM_OP_LOCK_PCR:
        code = nsm_bank_lock(&m->bank, q.index);
        r.op = NSM_OP_LOCK_PCR;
        break;
    case NSM_OP_LOCK_PCRS:
        code = nsm_bank_lock_range(&m->bank, q.range);
        r.op = NSM_OP_LOCK_PCRS;
        break;
    case NSM_OP_DESCRIBE_NSM: {
        struct nsm_description *d = &r.describe;
        r.op = NSM_OP_DESCRIBE_NSM;
        d->version_major = NSM_MODULE_VERSION_MAJOR;
        d->version_minor = NSM_MODULE_VERSION_MINOR;
        d->version_patch = NSM_MODULE_VERSION_PATCH;
        d->module_id = m->module_id;
        d->module_id_len = strlen(m->module_id);
        d->max_pcrs = PCR_COUNT;
        for (unsigned i = 0; i < PCR_COUNT; i++)
            if (nsm_bank_is_locked(&m->bank, i))
                d->locked_pcrs[d->locked_pcrs_len++] = (uint16_t)i;
        d->digest = NSM_DIGEST_SHA384;
        break;
    }
    case NSM_OP_ATTESTATION:
        return do_attestation(m, &q, resp, cap, len, err);
    case NSM_OP_GET_RANDOM: {
        uint8_t rnd[NSM_RANDOM_LEN];
        ssize_t got;
        do
            got = getrandom(rnd, sizeof(rnd), 0);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t)sizeof(rnd)) {
            answer_error(NSM_E_INTERNAL_ERROR, resp, cap, len);
            return cl_fail_errno(err, CL_EIO, "getrandom failed");
        }
        r.op = NSM_OP_GET_RANDOM;
        r.random = (struct nsm_bytes){rnd, sizeof(rnd)};
        int rc = nsm_response_encode(&r, resp, cap, len);
        OPENSSL_cleanse(rnd, sizeof(rnd));
        return rc;
    }
    default:
        return answer_error(NSM_E_INVALID_OPERATION, resp, cap, len);
    }
    if (code != NSM_E_SUCCESS)
        return answer_error(code, resp, cap, len);
    return nsm_response_encode(&r, resp, cap, len);
}

int nsm_module_handle(struct nsm_module *m, const uint8_t *req, size_t req_len, uint8_t *resp,
                      size_t resp_cap, size_t *resp_len, struct cl_error *err)
{
    if (m == NULL || resp == NULL || resp_len == NULL || resp_cap < NSM_RESPONSE_MAX)
        return cl_fail(err, CL_EINVAL, "nsm_module_handle: the response buffer must hold %d bytes",
                       NSM_RESPONSE_MAX);
    if (req == NULL)
        req_len = 0;
    pthread_mutex_lock(&m->lock);
    int rc = dispatch(m, req ? req : (const uint8_t *)"", req_len, resp, NSM_RESPONSE_MAX,
                      resp_len, err);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
