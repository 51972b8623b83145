/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker_inspect_info() (docker_inspect.h): the image inspect answer read
 * through bollard-stubs 1.49.1-rc.28.4.0's ImageInspect model and written
 * back, as nitro-cli 1.5 does. The tables below are that model's fields
 * (github.com/fussybeaver/bollard, codegen/swagger/src/models.rs at
 * v0.19.4) and how serde reads each:
 *
 *   OPTIONAL       Option<T> with skip_serializing_if = "Option::is_none":
 *                  absent or null -> left out
 *   REQUIRED       a plain T: absent or null -> the answer is refused
 *   NULL_IS_EMPTY  deserialize_nonoptional_vec/_map: absent -> refused,
 *                  null -> [] / {}
 *
 * Fields the model does not have are dropped (serde ignores unknown keys).
 * The keys come out sorted when the metadata is written (serde_json's Map
 * is a BTreeMap in nitro-cli's build), which image_metadata_json() does.
 */
#include "image/docker_inspect.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum kind {
    K_STR,
    K_INT, /* i64 */
    K_BOOL,
    K_STRV,   /* Vec<String> */
    K_STRMAP, /* HashMap<String, String> */
    K_SETMAP, /* HashMap<String, HashMap<(), ()>>: every value {} */
    K_ENUM,   /* a string among values; "" is None (NoneAsEmptyString) */
    K_OBJ,    /* a struct: sub */
    K_OBJV,   /* Vec of a struct: sub */
};
enum need { OPTIONAL, REQUIRED, NULL_IS_EMPTY };

struct field {
    const char *key;
    enum kind kind;
    enum need need;
    const struct field *sub;   /* K_OBJ, K_OBJV */
    const char *const *values; /* K_ENUM */
};

#define F(k, kind)                    \
    {                                 \
        k, kind, OPTIONAL, NULL, NULL \
    }
#define R(k, kind)                    \
    {                                 \
        k, kind, REQUIRED, NULL, NULL \
    }
#define OBJ(k, need, sub)         \
    {                             \
        k, K_OBJ, need, sub, NULL \
    }
#define OBJV(k, need, sub)         \
    {                              \
        k, K_OBJV, need, sub, NULL \
    }
#define END                               \
    {                                     \
        NULL, K_STR, OPTIONAL, NULL, NULL \
    }

static const struct field OCI_PLATFORM[] = {
    F("architecture", K_STR), F("os", K_STR),      F("os.version", K_STR),
    F("os.features", K_STRV), F("variant", K_STR), END,
};
static const struct field OCI_DESCRIPTOR[] = {
    F("mediaType", K_STR),
    F("digest", K_STR),
    F("size", K_INT),
    F("urls", K_STRV),
    F("annotations", K_STRMAP),
    F("data", K_STR),
    OBJ("platform", OPTIONAL, OCI_PLATFORM),
    F("artifactType", K_STR),
    END,
};
static const struct field SUMMARY_SIZE[] = { R("Total", K_INT), R("Content", K_INT), END };
static const struct field IMAGE_DATA_SIZE[] = { R("Unpacked", K_INT), END };
static const struct field IMAGE_DATA[] = {
    OBJ("Platform", REQUIRED, OCI_PLATFORM),
    { "Containers", K_STRV, NULL_IS_EMPTY, NULL, NULL },
    OBJ("Size", REQUIRED, IMAGE_DATA_SIZE),
    END,
};
static const struct field ATTESTATION_DATA[] = { R("For", K_STR), END };
static const char *const SUMMARY_KINDS[] = { "image", "attestation", "unknown", NULL };
static const struct field MANIFEST_SUMMARY[] = {
    R("ID", K_STR),
    OBJ("Descriptor", REQUIRED, OCI_DESCRIPTOR),
    R("Available", K_BOOL),
    OBJ("Size", REQUIRED, SUMMARY_SIZE),
    { "Kind", K_ENUM, OPTIONAL, NULL, SUMMARY_KINDS },
    OBJ("ImageData", OPTIONAL, IMAGE_DATA),
    OBJ("AttestationData", OPTIONAL, ATTESTATION_DATA),
    END,
};
static const struct field HEALTH_CONFIG[] = {
    F("Test", K_STRV),
    F("Interval", K_INT),
    F("Timeout", K_INT),
    F("Retries", K_INT),
    F("StartPeriod", K_INT),
    F("StartInterval", K_INT),
    END,
};
static const struct field IMAGE_CONFIG[] = {
    F("Hostname", K_STR),
    F("Domainname", K_STR),
    F("User", K_STR),
    F("AttachStdin", K_BOOL),
    F("AttachStdout", K_BOOL),
    F("AttachStderr", K_BOOL),
    F("ExposedPorts", K_SETMAP),
    F("Tty", K_BOOL),
    F("OpenStdin", K_BOOL),
    F("StdinOnce", K_BOOL),
    F("Env", K_STRV),
    F("Cmd", K_STRV),
    OBJ("Healthcheck", OPTIONAL, HEALTH_CONFIG),
    F("ArgsEscaped", K_BOOL),
    F("Image", K_STR),
    F("Volumes", K_SETMAP),
    F("WorkingDir", K_STR),
    F("Entrypoint", K_STRV),
    F("NetworkDisabled", K_BOOL),
    F("MacAddress", K_STR),
    F("OnBuild", K_STRV),
    F("Labels", K_STRMAP),
    F("StopSignal", K_STR),
    F("StopTimeout", K_INT),
    F("Shell", K_STRV),
    END,
};
static const struct field DRIVER_DATA[] = {
    R("Name", K_STR),
    { "Data", K_STRMAP, NULL_IS_EMPTY, NULL, NULL },
    END,
};
static const struct field ROOT_FS[] = { R("Type", K_STR), F("Layers", K_STRV), END };
static const struct field INSPECT_METADATA[] = { F("LastTagTime", K_STR), END };
static const struct field IMAGE_INSPECT[] = {
    F("Id", K_STR),
    OBJ("Descriptor", OPTIONAL, OCI_DESCRIPTOR),
    OBJV("Manifests", OPTIONAL, MANIFEST_SUMMARY),
    F("RepoTags", K_STRV),
    F("RepoDigests", K_STRV),
    F("Parent", K_STR),
    F("Comment", K_STR),
    F("Created", K_STR),
    F("DockerVersion", K_STR),
    F("Author", K_STR),
    OBJ("Config", OPTIONAL, IMAGE_CONFIG),
    F("Architecture", K_STR),
    F("Variant", K_STR),
    F("Os", K_STR),
    F("OsVersion", K_STR),
    F("Size", K_INT),
    F("VirtualSize", K_INT),
    OBJ("GraphDriver", OPTIONAL, DRIVER_DATA),
    OBJ("RootFS", OPTIONAL, ROOT_FS),
    OBJ("Metadata", OPTIONAL, INSPECT_METADATA),
    END,
};

/* A field's path for the messages ("Config.Cmd", "Manifests[0].ID"); a
 * path too long for its buffer is cut, it only names the field. */
static void field_path(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void field_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static int bad(struct cl_error *err, const char *path, const char *what)
{
    return cl_fail(err, CL_EFORMAT, "the image inspect's '%s' %s", path, what);
}

static int project(const struct field *fields, json_t *in, const char *path, json_t **out,
                   struct cl_error *err);
static int project_array(const struct field *sub, json_t *v, const char *path, json_t **out,
                         struct cl_error *err);

/* Every element of an array or value of an object passes check. */
static bool all_strings(json_t *v)
{
    size_t i;
    const char *k;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
        return true;
    }
    json_object_foreach(v, k, e) if (!json_is_string(e)) return false;
    return true;
}

static bool all_empty_objects(json_t *v)
{
    const char *k;
    json_t *e;
    if (!json_is_object(v))
        return false;
    json_object_foreach(v, k, e) if (!json_is_object(e) || json_object_size(e) != 0) return false;
    return true;
}

static bool is_enum_value(const char *s, const char *const *values)
{
    for (; *values; values++)
        if (!strcmp(s, *values))
            return true;
    return false;
}

/* One present, non-null value of field f into *out (NULL: left out). */
static int convert(const struct field *f, json_t *v, const char *path, json_t **out,
                   struct cl_error *err)
{
    *out = NULL;
    bool ok = true;
    const char *what = "";
    switch (f->kind) {
    case K_STR:
        ok = json_is_string(v);
        what = "is not a string";
        break;
    case K_INT:
        ok = json_is_integer(v);
        what = "is not an integer";
        break;
    case K_BOOL:
        ok = json_is_boolean(v);
        what = "is not a boolean";
        break;
    case K_STRV:
        ok = json_is_array(v) && all_strings(v);
        what = "is not an array of strings";
        break;
    case K_STRMAP:
        ok = json_is_object(v) && all_strings(v);
        what = "is not an object of strings";
        break;
    case K_SETMAP:
        ok = all_empty_objects(v);
        what = "is not an object of empty objects";
        break;
    case K_ENUM:
        ok = json_is_string(v) &&
             (!json_string_length(v) || is_enum_value(json_string_value(v), f->values));
        what = "is not one of its values";
        if (ok && !json_string_length(v))
            return 0; /* "" is None: left out */
        break;
    case K_OBJ:
        return project(f->sub, v, path, out, err);
    case K_OBJV:
        return project_array(f->sub, v, path, out, err);
    }
    if (!ok)
        return bad(err, path, what);
    *out = json_incref(v); /* checked whole: shared, not copied */
    return 0;
}

/* A Vec of structs: each element projected. */
static int project_array(const struct field *sub, json_t *v, const char *path, json_t **out,
                         struct cl_error *err)
{
    if (!json_is_array(v))
        return bad(err, path, "is not an array");
    json_t *a = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char p[256];
        field_path(p, sizeof(p), "%s[%zu]", path, i);
        json_t *o = NULL;
        int rc = a ? project(sub, e, p, &o, err) : cl_fail(err, CL_ENOMEM, "out of memory");
        if (rc == 0 && json_array_append_new(a, o) < 0)
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
        if (rc < 0) {
            json_decref(a);
            return rc;
        }
    }
    *out = a;
    return 0;
}

static int project(const struct field *fields, json_t *in, const char *path, json_t **out,
                   struct cl_error *err)
{
    *out = NULL;
    if (!json_is_object(in))
        return bad(err, *path ? path : "(top)", "is not an object");
    json_t *o = json_object();
    if (!o)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = 0;
    for (const struct field *f = fields; f->key && rc == 0; f++) {
        char p[256];
        field_path(p, sizeof(p), "%s%s%s", path, *path ? "." : "", f->key);
        json_t *v = json_object_get(in, f->key), *c = NULL;
        if (!v && f->need != OPTIONAL)
            rc = bad(err, p, "is missing");
        else if (json_is_null(v) && f->need == REQUIRED)
            rc = bad(err, p, "is null");
        else if (json_is_null(v) && f->need == NULL_IS_EMPTY &&
                 !(c = f->kind == K_STRV ? json_array() : json_object()))
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
        else if (v && !json_is_null(v))
            rc = convert(f, v, p, &c, err);
        if (rc == 0 && c && json_object_set_new(o, f->key, c) < 0)
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
    }
    if (rc < 0)
        json_decref(o);
    else
        *out = o;
    return rc;
}

int docker_inspect_info(json_t *inspect, json_t **out, struct cl_error *err)
{
    return project(IMAGE_INSPECT, inspect, "", out, err);
}
