/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --docker-archive FILE: a `docker save` tarball, read member by member
 * (blob_store.c): manifest.json -> the entry's Config and Layers, in the
 * legacy layout (<id>/layer.tar, <id>.json) and in Docker 25's OCI one
 * (blobs/sha256/<hex>). "FILE:TAG" picks the entry whose RepoTags hold TAG
 * (or a name ending in ":TAG"). docs/build-enclave.md gives the defaults
 * and their sources.
 */
#include "image/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"
#include "image/image_layer.h"

/* The last of RepoTags that is tag or ends in ":tag", or NULL. */
static const char *repo_tag_matching(json_t *tags, const char *tag)
{
    const char *found = NULL;
    for (size_t j = 0; j < json_array_size(tags); j++) {
        const char *t = json_string_value(json_array_get(tags, j));
        const char *c = t ? strrchr(t, ':') : NULL;
        if (t && (!strcmp(t, tag) || (c && !strcmp(c + 1, tag))))
            found = t;
    }
    return found;
}

/* The manifest.json entry tag names, or the only one. */
static int pick_entry(json_t *manifest, const char *tag, json_t **out, struct cl_error *err)
{
    if (!json_is_array(manifest) || json_array_size(manifest) == 0)
        return cl_fail(err, CL_EFORMAT, "manifest.json is not a non-empty array");
    size_t n = json_array_size(manifest);
    if (tag) {
        for (size_t i = 0; i < n; i++) {
            if (repo_tag_matching(json_object_get(json_array_get(manifest, i), "RepoTags"), tag)) {
                *out = json_array_get(manifest, i);
                return 0;
            }
        }
        return cl_fail(err, CL_ENOTFOUND, "no image tagged '%s' in manifest.json", tag);
    }
    if (n == 1) {
        *out = json_array_get(manifest, 0);
        return 0;
    }
    return cl_fail(err, CL_EINVAL, "the archive holds %zu images; name one as FILE:TAG", n);
}

/*
 * The digest a member name carries, if any: the image ID is the config's
 * sha256 ("<hex>.json" before Docker 25, "blobs/sha256/<hex>" since), and
 * Docker 25 names layers by their digest too; legacy layer names carry none.
 */
static const char *digest_in_name(const char *name, bool config, char out[static 80])
{
    const char *b = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    size_t bl = strlen(b);
    bool carries =
        config ? (bl == 64 && strstr(name, "sha256/")) || (bl == 69 && !strcmp(b + 64, ".json"))
               : bl == 64 && strstr(name, "blobs/sha256/");
    if (!carries)
        return NULL;
    snprintf(out, 80, "sha256:%.64s", b);
    return out;
}

static int apply_layers(struct image *img, const struct blob_store *st, json_t *layers,
                        struct cl_error *err)
{
    for (size_t i = 0; i < json_array_size(layers); i++) {
        const char *l = json_string_value(json_array_get(layers, i));
        if (!l)
            return cl_fail(err, CL_EFORMAT, "manifest.json: Layers[%zu] is not a string", i);
        char digest[80];
        int rc = blob_store_apply_layer(st, l, digest_in_name(l, false, digest), (unsigned)i + 1,
                                        img->tree, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_docker_archive(struct image *img, const char *path, const char *tag,
                               struct cl_error *err)
{
    struct blob_store st = { .kind = BLOB_STORE_ARCHIVE, .path = path, .dirfd = -1 };
    json_t *manifest = NULL, *config = NULL, *entry = NULL;
    char *name = NULL;
    int rc = blob_store_read_json(&st, "manifest.json", NULL, &manifest, NULL, err);
    if (rc == CL_ENOTFOUND) {
        cl_error_clear(err);
        rc = cl_fail(err, CL_EFORMAT, "not a docker save archive (no manifest.json)");
    }
    if (rc == 0)
        rc = pick_entry(manifest, tag, &entry, err);
    if (rc < 0)
        goto out;
    const char *cfg = json_string_value(json_object_get(entry, "Config"));
    json_t *layers = json_object_get(entry, "Layers");
    if (!cfg || !json_is_array(layers)) {
        rc = cl_fail(err, CL_EFORMAT, "manifest.json: an entry needs Config and Layers");
        goto out;
    }
    if (json_array_size(layers) > IMAGE_MAX_LAYERS) {
        rc = cl_fail(err, CL_ELIMIT, "more than %d layers", IMAGE_MAX_LAYERS);
        goto out;
    }
    char cdigest[80], id[65];
    rc = blob_store_read_json(&st, cfg, digest_in_name(cfg, true, cdigest), &config, id, err);
    if (rc == 0)
        rc = image_apply_config(img, config, err);
    if (rc == 0)
        rc = apply_layers(img, &st, layers, err);
    if (rc < 0)
        goto out;
    json_t *tags = json_object_get(entry, "RepoTags");
    const char *t0 = json_string_value(json_array_get(tags, 0));
    if (tag && t0 && repo_tag_matching(tags, tag))
        t0 = repo_tag_matching(tags, tag); /* the name: the tag asked for */
    name = t0 ? image_name_before_colon(t0) : image_base_name(path, ".tar");
    if (!name) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    img->config = json_incref(config);
    /* ImageVersion: the image ID, which is the config's sha256. */
    rc = image_set_defaults(img, name, id, err);
out:
    free(name);
    json_decref(manifest);
    json_decref(config);
    return rc;
}

int image_from_docker_archive(const char *ref, const char *spool_dir, struct image **out,
                              struct cl_error *err)
{
    *out = NULL;
    char *path = NULL, *tag = NULL;
    struct image *img = NULL;
    int rc = image_split_archive_ref(ref, &path, &tag, err);
    if (rc < 0)
        return rc;
    rc = image_new(spool_dir, &img, err);
    if (rc == 0)
        rc = load_docker_archive(img, path, tag, err);
    if (rc < 0)
        cl_error_prefix(err, "docker archive '%s'", path);
    free(path);
    free(tag);
    if (rc < 0)
        image_free(img);
    else
        *out = img;
    return rc;
}
