/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the NSM request decoder and the module behind it.
 * Every input is answered; the answer must be one well-formed response of
 * at most 0x3000 bytes (the module never crashes and never emits what a
 * client could not decode). The input is also fed to the response decoder
 * (the client side of the same protocol).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_ca/attest_issue.h"
#include "nsm_device/hostconf.h"
#include "nsm_device/nsm_module.h"
#include "nsm/nsm_proto.h"

static struct nsm_module *module;
static struct nsm_bank initial;

static void setup(void)
{
    struct attest_signer *signer = NULL;
    struct hostconf host;
    struct eif_measurements em;
    memset(&em, 0x5a, sizeof(em));
    em.has_pcr8 = true;
    hostconf_defaults(&host);
    if (attest_signer_new_ephemeral(&signer, NULL) < 0)
        abort();
    struct nsm_enclave_config cfg = {.measurements = &em, .host = &host, .enclave_id = 1};
    if (nsm_module_new_enclave(&cfg, signer, &module, NULL) < 0)
        abort();
    initial = *nsm_module_bank(module);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (module == NULL)
        setup();
    /* each input starts from a freshly started enclave's bank */
    *nsm_module_bank(module) = initial;

    static uint8_t resp[NSM_RESPONSE_MAX];
    size_t resp_len = 0;
    struct cl_error err = {0};
    int rc = nsm_module_handle(module, data, size, resp, sizeof(resp), &resp_len, &err);
    if (rc < 0 && rc != CL_ECRYPTO && rc != CL_EIO)
        abort();
    if (resp_len == 0 || resp_len > NSM_RESPONSE_MAX)
        abort();
    struct nsm_response r;
    if (nsm_response_decode(resp, resp_len, &r) != NSM_E_SUCCESS)
        abort();

    /* a successful decode means the module answered that operation */
    struct nsm_request q;
    int code = nsm_request_decode(data, size, &q);
    if (code == NSM_E_SUCCESS) {
        if (r.op != q.op && r.op != NSM_OP_ERROR)
            abort();
    } else if (r.op != NSM_OP_ERROR || (int)r.error != code) {
        abort();
    }

    (void)nsm_response_decode(data, size, &r);
    return 0;
}
