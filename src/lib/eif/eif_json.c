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

/* MetadataDescribeInfo (see the header). */
static json_t *describe_info(json_t *meta)
{
    json_t *j = json_object(), *b = json_object_get(meta, "BuildMetadata");
    static const char *const fields[] = { "BuildTime", "BuildTool", "BuildToolVersion",
                                          "OperatingSystem", "KernelVersion" };
    if (!j)
        return NULL;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        json_object_set(j, fields[i], json_object_get(b, fields[i]));
    json_object_set(j, "DockerInfo", json_object_get(meta, "DockerInfo"));
    json_t *custom = json_object_get(meta, "CustomMetadata");
    if (json_is_object(custom)) {
        const char *key;
        json_t *v;
        json_object_foreach(custom, key, v) {
            /* a JSON object cannot hold a key twice: the built-in value is kept */
            if (!json_object_get(j, key))
                json_object_set(j, key, v);
        }
    } else if (custom && !json_is_null(custom)) {
        /* serde cannot flatten a non-object; show it rather than fail */
        json_object_set(j, "CustomMetadata", custom);
    }
    return j;
}

int eif_metadata_describe_json(const struct eif *e, json_t **out, struct cl_error *err)
{
    *out = NULL;
    const char *text = eif_metadata_json(e);
    if (!text)
        return 0;
    json_t *meta = json_loads(text, 0, NULL);
    if (!meta)
        return cl_fail(err, CL_EFORMAT, "malformed metadata");
    json_t *o = json_object();
    json_t *info = describe_info(meta);
    int rc = 0;
    if (!o || !info || json_object_set(o, "ImageName", json_object_get(meta, "ImageName")) < 0 ||
        json_object_set(o, "ImageVersion", json_object_get(meta, "ImageVersion")) < 0 ||
        json_object_set(o, "Metadata", info) < 0) {
        json_decref(o);
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
    } else {
        *out = o;
    }
    json_decref(info);
    json_decref(meta);
    return rc;
}
