/* SPDX-License-Identifier: Apache-2.0 */
#include "eif/eif_json.h"

#include "base/hex.h"
#include "eif/pcr.h"

static int add_pcr(json_t *o, const char *name, const uint8_t pcr[PCR_SIZE])
{
    char hex[2 * PCR_SIZE + 1];
    hex_encode(hex, pcr, PCR_SIZE);
    return json_object_set_new(o, name, json_string(hex));
}

json_t *eif_measurements_json(const struct eif_measurements *m)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "HashAlgorithm", json_string("Sha384 { ... }")) < 0 ||
        add_pcr(o, "PCR0", m->pcr0) < 0 || add_pcr(o, "PCR1", m->pcr1) < 0 ||
        add_pcr(o, "PCR2", m->pcr2) < 0 || (m->has_pcr8 && add_pcr(o, "PCR8", m->pcr8) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *eif_build_info_json(const struct eif_measurements *m)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "Measurements", eif_measurements_json(m)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
