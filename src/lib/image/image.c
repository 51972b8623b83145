/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct image and what every source shares: its life cycle, the default
 * ImageName/ImageVersion, and "PATH:TAG" references (image_internal.h).
 * The sources themselves are source_*.c, the config rules image_config.c.
 */
#include "image/image.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cloister/eif.h>

#include "image/image_internal.h"

void image_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void image_free(struct image *img)
{
    if (!img)
        return;
    image_tree_free(img->tree);
    image_strv_free(img->cmd, img->ncmd);
    image_strv_free(img->env, img->nenv);
    free(img->workdir);
    json_decref(img->config);
    free(img->default_name);
    free(img->default_version);
    free(img);
}

int image_new(const char *spool_dir, struct image **out, struct cl_error *err)
{
    struct image *img = calloc(1, sizeof(*img));
    if (!img)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    int rc = image_tree_new(spool_dir, &img->tree, err);
    if (rc < 0) {
        free(img);
        return rc;
    }
#if defined(__aarch64__)
    img->eif_flags = EIF_FLAG_ARCH_ARM64;
#endif
    *out = img;
    return 0;
}

int image_set_defaults(struct image *img, const char *name, const char *digest,
                       struct cl_error *err)
{
    const char *colon = digest ? strchr(digest, ':') : NULL;
    img->default_name = strdup(name);
    img->default_version = strdup(colon ? colon + 1 : (digest ? digest : "1.0"));
    if (!img->default_name || !img->default_version)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return 0;
}

char *image_base_name(const char *path, const char *strip_ext)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    size_t l = strlen(copy);
    while (l > 1 && copy[l - 1] == '/')
        copy[--l] = '\0';
    char *b = strdup(basename(copy));
    free(copy);
    if (b && strip_ext) {
        size_t bl = strlen(b), el = strlen(strip_ext);
        if (bl > el && !strcmp(b + bl - el, strip_ext))
            b[bl - el] = '\0';
    }
    return b;
}

char *image_name_before_colon(const char *ref)
{
    const char *c = strchr(ref, ':');
    return c ? strndup(ref, (size_t)(c - ref)) : strdup(ref);
}

int image_split_ref(const char *ref, char **path, char **tag, struct cl_error *err)
{
    *tag = NULL;
    struct stat st;
    const char *colon = strrchr(ref, ':');
    if (stat(ref, &st) == 0 || !colon || strchr(colon, '/')) {
        *path = strdup(ref);
    } else {
        *path = strndup(ref, (size_t)(colon - ref));
        *tag = strdup(colon + 1);
        if (!*tag) {
            free(*path);
            return cl_fail(err, CL_ENOMEM, "out of memory");
        }
    }
    if (!*path) {
        free(*tag);
        return cl_fail(err, CL_ENOMEM, "out of memory");
    }
    return 0;
}

int image_split_archive_ref(const char *ref, char **path, char **tag, struct cl_error *err)
{
    int rc = image_split_ref(ref, path, tag, err);
    if (rc < 0)
        return rc;
    struct stat sb;
    if (stat(*path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        rc = cl_fail(err, CL_ENOTFOUND, "'%s' is not a file", *path);
        free(*path);
        free(*tag);
        *path = *tag = NULL;
    }
    return rc;
}
