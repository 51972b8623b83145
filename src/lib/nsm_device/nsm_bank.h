/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NSM's PCR bank: 32 SHA-384 registers and their locks
 * (docs/nsm.md, "The module"). Extend is PCR = SHA384(PCR || data)
 * (pcr.h); a locked register never changes again. A module locks 0-15 once
 * its enclave starts (nsm-check asserts locked_pcrs == {0..15}).
 *
 * Results are in the protocol's vocabulary (enum nsm_error_code of
 * nsm_proto.h), because each one is exactly what the module answers:
 * NSM_E_INVALID_INDEX for index >= 32, NSM_E_READ_ONLY_INDEX for a locked
 * register, NSM_E_INTERNAL_ERROR when SHA-384 cannot run.
 * Not thread-safe: the module serialises access.
 */
#ifndef CLOISTER_NSM_BANK_H
#define CLOISTER_NSM_BANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsm/nsm_proto.h"
#include "eif/pcr.h"

struct nsm_bank {
    uint8_t pcr[PCR_COUNT][PCR_SIZE];
    uint32_t locked; /* bit i: PCR i is locked */
};

/* All registers zero and unlocked. */
void nsm_bank_init(struct nsm_bank *b);

/* DescribePCR: the value and lock state of register index. */
int nsm_bank_describe(const struct nsm_bank *b, unsigned index, bool *lock,
                      uint8_t out[static PCR_SIZE]);

/* ExtendPCR: PCR = SHA384(PCR || data); out (may be NULL) gets the new value. */
int nsm_bank_extend(struct nsm_bank *b, unsigned index, const uint8_t *data, size_t len,
                    uint8_t *out);

/* Sets an unlocked register to a value (the platform's initial PCR0-4/8). */
int nsm_bank_set(struct nsm_bank *b, unsigned index, const uint8_t value[static PCR_SIZE]);

/* LockPCR: a locked register answers READ_ONLY_INDEX (as QEMU; nsm-check
 * only requires an error for the already locked 0-15). */
int nsm_bank_lock(struct nsm_bank *b, unsigned index);

/* LockPCRs: locks [0, range); range <= 32, already locked ones are fine
 * (nsm-check: range 32 succeeds when all are locked, 33 fails). */
int nsm_bank_lock_range(struct nsm_bank *b, unsigned range);

bool nsm_bank_is_locked(const struct nsm_bank *b, unsigned index);
uint32_t nsm_bank_locked_mask(const struct nsm_bank *b);

#endif
