/* SPDX-License-Identifier: Apache-2.0 */
#include "nsm_device/nsm_bank.h"

#include <string.h>


void nsm_bank_init(struct nsm_bank *b)
{
    memset(b, 0, sizeof(*b));
}

int nsm_bank_describe(const struct nsm_bank *b, unsigned index, bool *lock,
                      uint8_t out[static PCR_SIZE])
{
    if (index >= PCR_COUNT)
        return NSM_E_INVALID_INDEX;
    *lock = nsm_bank_is_locked(b, index);
    memcpy(out, b->pcr[index], PCR_SIZE);
    return NSM_E_SUCCESS;
}

int nsm_bank_extend(struct nsm_bank *b, unsigned index, const uint8_t *data, size_t len,
                    uint8_t *out)
{
    if (index >= PCR_COUNT)
        return NSM_E_INVALID_INDEX;
    if (nsm_bank_is_locked(b, index))
        return NSM_E_READ_ONLY_INDEX;
    if (data == NULL && len != 0)
        return NSM_E_INVALID_ARGUMENT;
    /* pcr_extend leaves the register unchanged when it fails. */
    if (pcr_extend(b->pcr[index], len ? data : (const uint8_t *)"", len, NULL) < 0)
        return NSM_E_INTERNAL_ERROR;
    if (out)
        memcpy(out, b->pcr[index], PCR_SIZE);
    return NSM_E_SUCCESS;
}

int nsm_bank_set(struct nsm_bank *b, unsigned index, const uint8_t value[static PCR_SIZE])
{
    if (index >= PCR_COUNT)
        return NSM_E_INVALID_INDEX;
    if (nsm_bank_is_locked(b, index))
        return NSM_E_READ_ONLY_INDEX;
    memcpy(b->pcr[index], value, PCR_SIZE);
    return NSM_E_SUCCESS;
}

int nsm_bank_lock(struct nsm_bank *b, unsigned index)
{
    if (index >= PCR_COUNT)
        return NSM_E_INVALID_INDEX;
    if (nsm_bank_is_locked(b, index))
        return NSM_E_READ_ONLY_INDEX;
    b->locked |= UINT32_C(1) << index;
    return NSM_E_SUCCESS;
}

int nsm_bank_lock_range(struct nsm_bank *b, unsigned range)
{
    if (range > PCR_COUNT)
        return NSM_E_INVALID_INDEX;
    for (unsigned i = 0; i < range; i++)
        b->locked |= UINT32_C(1) << i;
    return NSM_E_SUCCESS;
}

bool nsm_bank_is_locked(const struct nsm_bank *b, unsigned index)
{
    return index < PCR_COUNT && (b->locked >> index) & 1;
}

uint32_t nsm_bank_locked_mask(const struct nsm_bank *b)
{
    return b->locked;
}
