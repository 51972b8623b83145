/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-enclave's pipeline (pipeline.h): the four stages in order, each a
 * function below, with what they hand on held in struct build.
 */
#include "image/pipeline.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "image/docker_daemon.h"
#include "image/image.h"
#include "image/ramdisk.h"

#define CMDLINE_MAX (64 * 1024)
#define BUILD_TOOL  "cloister"

struct build {
    const struct image_build_opts *o;
    struct image_build_result *res;
    /* 1. inputs */
    char *kernel_path;
    uint8_t *cmdline_file;  /* as read */
    const uint8_t *cmdline; /* trimmed, inside cmdline_file */
    size_t cmdline_len;
    char *os, *kernel_version; /* from bzImage.config */
    json_t *custom;            /* the custom metadata, or NULL */
    /* 2. image */
    struct image *img;
    char *metadata; /* the metadata section's JSON */
    /* 3. the EIF, with the ramdisks written into it */
    struct eif_writer *w;
    bool writer_failed; /* a ramdisk stopped because the EIF writer did */
};

/* Records where the build failed when rc says it did; returns rc. */
static int at(struct build *b, enum image_build_step step, int rc)
{
    if (rc < 0)
        b->res->failed_step = step;
    return rc;
}

static void notify(const struct build *b, enum image_build_event ev, const char *detail)
{
    if (b->o->on_event)
        b->o->on_event(b->o->ctx, ev, detail);
}

static char *blob_path(const char *dir, const char *name)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

static bool is_blank(uint8_t c)
{
    return c == '\n' || c == ' ' || c == '\t' || c == '\r';
}

/* nitro-cli trims the cmdline blob and stores it without a NUL
 * (docs/build-enclave.md, "Blobs"). */
static void trim_cmdline(struct build *b, size_t len)
{
    const uint8_t *c = b->cmdline_file;
    while (len && is_blank(c[len - 1]))
        len--;
    while (len && is_blank(*c)) {
        c++;
        len--;
    }
    b->cmdline = c;
    b->cmdline_len = len;
}

/* Stage 1: the blobs every EIF needs, and the custom metadata. */
static int read_inputs(struct build *b, struct cl_error *err)
{
    const struct image_build_opts *o = b->o;
    static const char *const required[] = { "bzImage", "cmdline", "bzImage.config", "init" };
    char *path[4] = { 0 };
    int rc = 0;
    for (size_t i = 0; i < 4 && rc == 0; i++) {
        struct stat st;
        if (!(path[i] = blob_path(o->blobs_dir, required[i])))
            rc = cl_fail(err, CL_ENOMEM, "out of memory");
        else if (stat(path[i], &st) < 0 || !S_ISREG(st.st_mode))
            rc = cl_fail(err, CL_ENOTFOUND, "missing blob '%s'", path[i]);
    }
    size_t len = 0;
    if (rc == 0)
        rc = file_read_all(path[1], CMDLINE_MAX, &b->cmdline_file, &len, err);
    if (rc == 0) {
        trim_cmdline(b, len);
        rc = image_kernel_info(path[2], &b->os, &b->kernel_version, err);
    }
    if (rc == 0 && o->custom_metadata_path)
        rc = image_custom_metadata(o->custom_metadata_path, &b->custom, err);
    b->kernel_path = path[0];
    for (size_t i = 1; i < 4; i++)
        free(path[i]);
    return at(b, IMAGE_BUILD_INPUTS, rc);
}

static int read_source(struct build *b, struct cl_error *err)
{
    const char *ref = b->o->source_ref;
    switch (b->o->source) {
    case IMAGE_SOURCE_ROOTFS:
        return image_from_rootfs(ref, &b->img, err);
    case IMAGE_SOURCE_DOCKER_ARCHIVE:
        return image_from_docker_archive(ref, NULL, &b->img, err);
    case IMAGE_SOURCE_OCI_LAYOUT:
        return image_from_oci_layout(ref, NULL, &b->img, err);
    case IMAGE_SOURCE_OCI_ARCHIVE:
        return image_from_oci_archive(ref, NULL, &b->img, err);
    case IMAGE_SOURCE_DOCKER_DAEMON:
        return image_from_docker_daemon(ref, NULL, NULL, &b->img, err);
    }
    return cl_fail(err, CL_EINVAL, "unknown image source %d", (int)b->o->source);
}

static int apply_overrides(struct build *b, struct cl_error *err)
{
    int rc = b->o->cmd ? image_set_cmd(b->img, b->o->cmd, err) : 0;
    for (size_t i = 0; i < b->o->nenv && rc == 0; i++)
        rc = image_set_env(b->img, b->o->env[i], err);
    return rc;
}

static int make_metadata(struct build *b, struct cl_error *err)
{
    const struct image_build_opts *o = b->o;
    struct image_meta m = {
        .name = o->name ? o->name : b->img->default_name,
        .version = o->version ? o->version : b->img->default_version,
        .build_time = o->build_time,
        .build_tool = BUILD_TOOL,
        .build_tool_version = CLOISTER_VERSION,
        .os = b->os,
        .kernel_version = b->kernel_version,
        .docker_info = b->img->config,
        .custom = b->custom,
    };
    return image_metadata_json(&m, &b->metadata, err);
}

/*
 * Before a Docker daemon source is read, the daemon must hold the image, as
 * nitro-cli makes sure of before it reads one: --docker-dir builds it, else
 * it is pulled unless the daemon has it ("Using the locally available
 * Docker image...").
 */
static int prepare_docker_image(struct build *b, struct cl_error *err)
{
    const struct image_build_opts *o = b->o;
    if (o->source != IMAGE_SOURCE_DOCKER_DAEMON)
        return 0;
    if (o->docker_dir)
        return at(b, IMAGE_BUILD_DOCKER_BUILD,
                  docker_daemon_build(o->docker_dir, o->source_ref, NULL, NULL, err));
    bool pulled = false;
    int rc = at(b, IMAGE_BUILD_DOCKER_PULL, docker_daemon_pull(o->source_ref, NULL, &pulled, err));
    if (rc == 0 && !pulled)
        notify(b, IMAGE_BUILD_USING_LOCAL_IMAGE, NULL);
    return rc;
}

/* Stage 2: the image, with what it runs and what the EIF says about it. */
static int read_image(struct build *b, struct cl_error *err)
{
    int rc = prepare_docker_image(b, err);
    if (rc == 0)
        rc = at(b, IMAGE_BUILD_SOURCE, read_source(b, err));
    if (rc < 0)
        return rc;
    /* AWS's init starts the command in / whatever the image says (its
     * chroot, then chdir /); the image's builder may not expect that. */
    const char *wd = b->img->workdir;
    if (wd && *wd && strcmp(wd, "/") != 0)
        notify(b, IMAGE_BUILD_WORKDIR_IGNORED, wd);
    rc = at(b, IMAGE_BUILD_OVERRIDES, apply_overrides(b, err));
    if (rc == 0 && !b->img->has_cmd)
        rc = at(b, IMAGE_BUILD_COMMAND,
                cl_fail(err, CL_ENOTFOUND,
                        "the image config has neither Cmd nor Entrypoint; give the command "
                        "with --cmd"));
    if (rc == 0)
        rc = at(b, IMAGE_BUILD_METADATA, make_metadata(b, err));
    return rc;
}

static int writer_sink(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    struct build *b = ctx;
    int rc = eif_writer_write(b->w, buf, len, err);
    b->writer_failed = rc < 0;
    return rc;
}

/* A ramdisk's failure is the writer's when the sink failed, else the
 * layout's (a blob, a cmd or env line, a file that changed). */
static int ramdisk_at(struct build *b, int rc)
{
    return at(b, b->writer_failed ? IMAGE_BUILD_EIF_WRITE : IMAGE_BUILD_RAMDISKS, rc);
}

/*
 * Stage 3, the ramdisks: the bootstrap ramdisk from the blobs, the
 * customer ramdisk from the image's tree, its command and environment, each
 * streamed into the EIF as it is laid out (ramdisk.h: nitro-cli's layout,
 * the one stage that knows it).
 */
static int write_ramdisks(struct build *b, struct cl_error *err)
{
    const struct image_build_opts *o = b->o;
    struct image *img = b->img;
    struct ramdisk_progress progress = { o->on_progress, o->ctx };
    int rc = at(b, IMAGE_BUILD_EIF_WRITE, eif_writer_begin_ramdisk(b->w, err));
    if (rc == 0)
        rc = ramdisk_at(b, ramdisk_write_bootstrap(o->blobs_dir, writer_sink, b, err));
    if (rc == 0)
        rc = at(b, IMAGE_BUILD_EIF_WRITE, eif_writer_end_ramdisk(b->w, err));
    if (rc == 0)
        rc = at(b, IMAGE_BUILD_EIF_WRITE, eif_writer_begin_ramdisk(b->w, err));
    if (rc == 0)
        rc = ramdisk_at(b, ramdisk_write_customer(img->tree, img->cmd, img->ncmd, img->env,
                                                  img->nenv, &progress, writer_sink, b, err));
    if (rc == 0)
        rc = at(b, IMAGE_BUILD_EIF_WRITE, eif_writer_end_ramdisk(b->w, err));
    return rc;
}

/* Stage 4: kernel, cmdline and metadata, then the ramdisks (stage 3), then
 * the signature, the header and the rename. */
static int write_eif(struct build *b, struct cl_error *err)
{
    const struct image_build_opts *o = b->o;
    struct eif_build_params p = {
        .kernel_path = b->kernel_path,
        .cmdline = b->cmdline,
        .cmdline_len = b->cmdline_len,
        .metadata_json = b->metadata,
        .signing_cert_path = o->signing_cert_path,
        .private_key_path = o->private_key_path,
        .flags = b->img->eif_flags,
    };
    int rc = at(b, IMAGE_BUILD_EIF_OPEN, eif_writer_new(o->output_path, &p, &b->w, err));
    if (rc == 0)
        rc = write_ramdisks(b, err);
    if (rc == 0)
        rc = at(b, IMAGE_BUILD_EIF_FINISH, eif_writer_finish(b->w, &b->res->measurements, err));
    return rc;
}

int image_build(const struct image_build_opts *o, struct image_build_result *res,
                struct cl_error *err)
{
    memset(res, 0, sizeof(*res));
    struct build b = { .o = o, .res = res };
    int rc = read_inputs(&b, err);
    if (rc == 0) {
        notify(&b, IMAGE_BUILD_READING_IMAGE, NULL);
        rc = read_image(&b, err);
    }
    if (rc == 0)
        rc = write_eif(&b, err);

    eif_writer_free(b.w); /* removes the temporary file unless finished */
    image_free(b.img);
    free(b.metadata);
    json_decref(b.custom);
    free(b.os);
    free(b.kernel_version);
    free(b.cmdline_file);
    free(b.kernel_path);
    return rc;
}
