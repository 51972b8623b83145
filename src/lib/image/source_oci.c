/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --oci-layout DIR and --oci-archive FILE: an OCI image layout, as a
 * directory or as a tar of one (the OCI image spec's image-layout.md,
 * image-index.md, manifest.md). oci-layout -> index.json -> a manifest
 * (through nested indexes: the entry for this host's platform) -> the
 * config and the layers, every blob checked against its digest
 * (blob_store.c). "PATH:TAG" picks the manifest whose
 * org.opencontainers.image.ref.name annotation is TAG.
 */
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "image/image_layer.h"

#define MT_OCI_INDEX   "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define REF_NAME       "org.opencontainers.image.ref.name"

static const char *host_goarch(void)
{
#if defined(__aarch64__)
    return "arm64";
#else
    return "amd64";
#endif
}

/* Picks a manifest descriptor from an index: by tag, else the only one,
 * else (platform lists) the one for this host. */
static int pick_manifest(json_t *index, const char *tag, bool nested, json_t **out,
                         struct cl_error *err)
{
    json_t *m = json_object_get(index, "manifests");
    if (!json_is_array(m) || json_array_size(m) == 0)
        return cl_fail(err, CL_EFORMAT, "index.json has no manifests");
    size_t n = json_array_size(m);
    if (tag && !nested) {
        for (size_t i = 0; i < n; i++) {
            json_t *ann = json_object_get(json_array_get(m, i), "annotations");
            const char *rn = json_string_value(json_object_get(ann, REF_NAME));
            if (rn && !strcmp(rn, tag)) {
                *out = json_array_get(m, i);
                return 0;
            }
        }
        return cl_fail(err, CL_ENOTFOUND, "no image tagged '%s' in the index", tag);
    }
    if (n == 1) {
        *out = json_array_get(m, 0);
        return 0;
    }
    if (nested) {
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_object_get(json_array_get(m, i), "platform");
            const char *arch = json_string_value(json_object_get(p, "architecture"));
            const char *os = json_string_value(json_object_get(p, "os"));
            if (arch && !strcmp(arch, host_goarch()) && (!os || !strcmp(os, "linux"))) {
                *out = json_array_get(m, i);
                return 0;
            }
        }
        return cl_fail(err, CL_ENOTFOUND, "no linux/%s image in the index", host_goarch());
    }
    return cl_fail(err, CL_EINVAL, "the index holds %zu images; name one as PATH:TAG", n);
}

static bool layer_media_ok(const char *mt)
{
    static const char *const ok[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    };
    if (!mt)
        return false;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!strcmp(mt, ok[i]))
            return true;
    return false;
}

/* From index.json's descriptor for tag (image-index.md), through nested
 * indexes (platform lists), to a manifest; *out a new reference. */
static int resolve_manifest(const struct blob_store *st, json_t *index, const char *tag,
                            json_t **out, struct cl_error *err)
{
    *out = NULL;
    json_t *desc = NULL, *nested = NULL;
    int rc = pick_manifest(index, tag, false, &desc, err);
    char path[512];
    for (int depth = 0; rc == 0; depth++) {
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        const char *dg = json_string_value(json_object_get(desc, "digest"));
        rc = blob_digest_path(dg, path, sizeof(path), err);
        if (rc < 0)
            break;
        json_t *doc = NULL;
        rc = blob_store_read_json(st, path, dg, &doc, NULL, err);
        if (rc < 0)
            break;
        if (!mt || (strcmp(mt, MT_OCI_INDEX) && strcmp(mt, MT_DOCKER_LIST))) {
            *out = doc;
            break;
        }
        json_decref(nested); /* the next descriptor comes from doc */
        nested = doc;
        if (depth >= 4) {
            rc = cl_fail(err, CL_ELIMIT, "indexes nested too deep");
            break;
        }
        rc = pick_manifest(nested, NULL, true, &desc, err);
    }
    json_decref(nested);
    return rc;
}

/* Applies the manifest's layers in order. */
static int apply_layers(struct image *img, const struct blob_store *st, json_t *manifest,
                        struct cl_error *err)
{
    json_t *layers = json_object_get(manifest, "layers");
    if (!json_is_array(layers))
        return cl_fail(err, CL_EFORMAT, "the manifest has no layers array");
    if (json_array_size(layers) > IMAGE_MAX_LAYERS)
        return cl_fail(err, CL_ELIMIT, "more than %d layers", IMAGE_MAX_LAYERS);
    char path[512];
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        const char *dg = json_string_value(json_object_get(l, "digest"));
        if (!layer_media_ok(mt))
            return cl_fail(err, CL_EUNSUPPORTED, "layer %zu: unsupported media type '%s'", i + 1,
                           mt ? mt : "(none)");
        int rc = blob_digest_path(dg, path, sizeof(path), err);
        if (rc == 0)
            rc = blob_store_apply_layer(st, path, dg, (unsigned)i + 1, img->tree, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_oci(struct image *img, const struct blob_store *st, const char *tag,
                    const char *label, const char *default_name, struct cl_error *err)
{
    json_t *layout = NULL, *index = NULL, *manifest = NULL, *config = NULL;
    int rc = blob_store_read_json(st, "oci-layout", NULL, &layout, NULL, err);
    if (rc < 0) {
        cl_error_clear(err);
        rc = cl_fail(err, CL_EFORMAT, "not an OCI image layout (no oci-layout file)");
        goto out;
    }
    const char *ver = json_string_value(json_object_get(layout, "imageLayoutVersion"));
    if (!ver || strncmp(ver, "1.", 2)) {
        rc = cl_fail(err, CL_EUNSUPPORTED, "unsupported imageLayoutVersion");
        goto out;
    }
    rc = blob_store_read_json(st, "index.json", NULL, &index, NULL, err);
    if (rc == 0)
        rc = resolve_manifest(st, index, tag, &manifest, err);
    if (rc < 0)
        goto out;
    const char *cdg =
        json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
    char path[512];
    rc = blob_digest_path(cdg, path, sizeof(path), err);
    if (rc < 0) {
        cl_error_prefix(err, "manifest config");
        goto out;
    }
    rc = blob_store_read_json(st, path, cdg, &config, NULL, err);
    if (rc == 0)
        rc = image_apply_config(img, config, err);
    if (rc == 0)
        rc = apply_layers(img, st, manifest, err);
    if (rc < 0)
        goto out;
    img->config = json_incref(config);
    rc = image_set_defaults(img, default_name, cdg, err);
out:
    if (rc < 0)
        cl_error_prefix(err, "%s", label);
    json_decref(layout);
    json_decref(index);
    json_decref(manifest);
    json_decref(config);
    return rc;
}

int image_from_oci_layout(const char *ref, const char *spool_dir, struct image **out,
                          struct cl_error *err)
{
    *out = NULL;
    char *path = NULL, *tag = NULL;
    struct image *img = NULL;
    int rc = image_split_ref(ref, &path, &tag, err);
    if (rc < 0)
        return rc;
    struct blob_store st = { .kind = BLOB_STORE_DIR,
                             .dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
    if (st.dirfd < 0) {
        rc = cl_fail_errno(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
                           "cannot open the OCI layout '%s'", path);
        goto out;
    }
    rc = image_new(spool_dir, &img, err);
    if (rc < 0)
        goto out;
    char *real = realpath(path, NULL);
    char *name = image_base_name(real ? real : path, NULL);
    free(real);
    if (!name) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    char label[PATH_MAX + 32];
    snprintf(label, sizeof(label), "OCI layout '%s'", path);
    rc = load_oci(img, &st, tag, label, name, err);
    free(name);
out:
    if (st.dirfd >= 0)
        close(st.dirfd);
    free(path);
    free(tag);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}

int image_from_oci_archive(const char *ref, const char *spool_dir, struct image **out,
                           struct cl_error *err)
{
    *out = NULL;
    char *path = NULL, *tag = NULL;
    struct image *img = NULL;
    int rc = image_split_archive_ref(ref, &path, &tag, err);
    if (rc < 0)
        return rc;
    struct blob_store st = { .kind = BLOB_STORE_ARCHIVE, .path = path, .dirfd = -1 };
    rc = image_new(spool_dir, &img, err);
    if (rc < 0)
        goto out;
    char *name = image_base_name(path, ".tar");
    if (!name) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    char label[PATH_MAX + 32];
    snprintf(label, sizeof(label), "OCI archive '%s'", path);
    rc = load_oci(img, &st, tag, label, name, err);
    free(name);
out:
    free(path);
    free(tag);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}
