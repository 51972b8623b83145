/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister build-enclave`: nitro-cli's build-enclave (research/eif-and-cli.md
 * §5.1, §5.2, §7.2), with image sources that need no Docker daemon.
 *
 *   cloister build-enclave --output-file OUT.eif
 *       ( --docker-uri URI | --docker-archive FILE[:TAG] | --oci-layout DIR[:TAG]
 *       | --oci-archive FILE[:TAG] | --rootfs DIR --cmd CMD )
 *       [--cmd CMD] [--env KEY=VALUE]... [--name N] [--version V]
 *       [--metadata JSON-FILE] [--signing-certificate PEM --private-key PEM]
 *       [--blobs DIR] [--build-time SECONDS|RFC3339]
 *
 * The image is read once: the tree is listed in memory, and the two cpio
 * ramdisks are streamed straight into the EIF writer (eif_writer_*), which
 * hashes on two threads and renames the finished file into place, so a
 * failure leaves no output file and no temporary behind.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cloister/eif.h>

#include "base/num.h"
#include "cli.h"
#include "eif/eif_json.h"
#include "commands.h"
#include "base/fileio.h"
#include "base/hex.h"
#include "image/image.h"
#include "image/ramdisk.h"

#ifndef CLOISTER_VERSION
#define CLOISTER_VERSION "0.0.0"
#endif

#define CMDLINE_MAX (64 * 1024)
#define PROGRESS_MIN (64ull << 20) /* a bar only for inputs this large */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: cloister build-enclave --output-file FILE SOURCE [OPTIONS]\n"
            "Builds an enclave image file (EIF) from a container image or a directory.\n\n"
            "SOURCE (exactly one):\n"
            "    --docker-uri URI          an image of a local Docker daemon (pulled if needed)\n"
            "    --docker-archive FILE     a `docker save` tarball (FILE:TAG picks one image)\n"
            "    --oci-layout DIR          an OCI image layout (DIR:TAG picks one image)\n"
            "    --oci-archive FILE        a tar of an OCI image layout (FILE:TAG)\n"
            "    --rootfs DIR              a directory holding the image's root (needs --cmd)\n\n"
            "OPTIONS:\n"
            "    --output-file FILE        where the EIF goes (required)\n"
            "    --cmd CMD                 the command: a JSON array or words split on spaces\n"
            "    --env KEY=VALUE           sets an environment variable (repeatable)\n"
            "    --name NAME               ImageName of the metadata\n"
            "    --version VERSION         ImageVersion of the metadata\n"
            "    --metadata FILE           custom JSON metadata (at most 4096 bytes)\n"
            "    --signing-certificate PEM sign the image (with --private-key; adds PCR8)\n"
            "    --private-key PEM         EC P-256, P-384 or P-521 key\n"
            "    --blobs DIR               kernel, cmdline and init (env NITRO_CLI_BLOBS)\n"
            "    --build-time TIME         BuildTime: seconds since the epoch or RFC 3339\n"
            "                              (default SOURCE_DATE_EPOCH, else 0)\n");
}

struct progress {
    bool on;
    int last;
};

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    struct progress *p = ctx;
    if (!p->on || total == 0)
        return;
    int pct = (int)(done * 100 / total);
    if (pct == p->last)
        return;
    p->last = pct;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %llu/%llu MiB", bar, pct, (unsigned long long)(done >> 20),
            (unsigned long long)(total >> 20));
    if (pct == 100)
        fputc('\n', stderr);
}

static int writer_sink(void *ctx, const void *buf, size_t len, struct cl_error *err)
{
    return eif_writer_write(ctx, buf, len, err);
}

/* <dir of the executable>/../share/cloister/blobs */
static char *default_blobs_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *out = NULL;
    if (asprintf(&out, "%s/../share/cloister/blobs", exe) < 0)
        return NULL;
    return out;
}

/* --build-time: decimal seconds (formatted as chrono's to_rfc3339) or an
 * RFC 3339 text taken as it is once it parses. */
static int build_time_text(const char *arg, char out[static 40], struct cl_error *err)
{
    uint64_t secs;
    if (num_parse_u64(arg, 253402300799ull, &secs) == 0) /* 9999-12-31T23:59:59Z */
        return image_rfc3339((int64_t)secs, out, err);
    struct tm tm = {0};
    const char *rest = strptime(arg, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest && *rest == '.') {
        rest++;
        if (*rest < '0' || *rest > '9')
            rest = NULL;
        while (rest && *rest >= '0' && *rest <= '9')
            rest++;
    }
    bool zone_ok = rest && (!strcmp(rest, "Z") ||
                            ((rest[0] == '+' || rest[0] == '-') && strlen(rest) == 6 &&
                             rest[1] >= '0' && rest[1] <= '9' && rest[2] >= '0' && rest[2] <= '9' &&
                             rest[3] == ':' && rest[4] >= '0' && rest[4] <= '9' &&
                             rest[5] >= '0' && rest[5] <= '9'));
    if (!zone_ok || strlen(arg) >= 40)
        return cl_fail(err, CL_EINVAL,
                       "--build-time '%s': expected seconds since the epoch or RFC 3339 "
                       "(1970-01-01T00:00:00+00:00)",
                       arg);
    snprintf(out, 40, "%s", arg);
    return 0;
}

/* Error number for a failure loading the image. */
static enum nitro_errno image_errno(const char *source)
{
    return !strcmp(source, "docker-uri") ? E_DOCKER_IMAGE_PULL : E_EIF_BUILDING;
}

enum { O_DOCKER_URI = 1, O_DOCKER_DIR, O_DOCKER_ARCHIVE, O_OCI_LAYOUT, O_OCI_ARCHIVE, O_ROOTFS,
       O_OUTPUT, O_NAME, O_VERSION, O_METADATA, O_CERT, O_KEY, O_BLOBS, O_BUILD_TIME, O_CMD,
       O_ENV, O_HELP, O_COUNT };

int cmd_build_enclave(int argc, char **argv)
{
    static const struct option opts[] = {
        {"docker-uri", required_argument, NULL, O_DOCKER_URI},
        {"docker-dir", required_argument, NULL, O_DOCKER_DIR},
        {"docker-archive", required_argument, NULL, O_DOCKER_ARCHIVE},
        {"oci-layout", required_argument, NULL, O_OCI_LAYOUT},
        {"oci-archive", required_argument, NULL, O_OCI_ARCHIVE},
        {"rootfs", required_argument, NULL, O_ROOTFS},
        {"output-file", required_argument, NULL, O_OUTPUT},
        {"name", required_argument, NULL, O_NAME},
        {"version", required_argument, NULL, O_VERSION},
        {"metadata", required_argument, NULL, O_METADATA},
        {"signing-certificate", required_argument, NULL, O_CERT},
        {"private-key", required_argument, NULL, O_KEY},
        {"blobs", required_argument, NULL, O_BLOBS},
        {"build-time", required_argument, NULL, O_BUILD_TIME},
        {"cmd", required_argument, NULL, O_CMD},
        {"env", required_argument, NULL, O_ENV},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *val[O_COUNT] = {0};
    const char **envs = calloc((size_t)argc + 1, sizeof(*envs));
    size_t nenvs = 0;
    int ret = 0;
    struct cl_error err = {0};
    struct image *img = NULL;
    struct image_tree *boot = NULL, *cust = NULL;
    struct eif_writer *w = NULL;
    json_t *custom = NULL;
    char *blobs_alloc = NULL, *kernel = NULL, *cfgpath = NULL, *initpath = NULL, *cmdpath = NULL;
    char *os = NULL, *kver = NULL, *meta = NULL;
    uint8_t *cmdline = NULL;
    if (!envs)
        return cli_fail(E_UNSPECIFIED, "out of memory");

    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        if (c == 'h' || c == O_HELP) {
            usage(stdout);
            goto out;
        }
        if (c == ':') {
            ret = cli_fail(E_MISSING_ARGUMENT, "%s requires a value", argv[optind - 1]);
            goto out;
        }
        if (c == '?' || c <= 0 || c >= O_COUNT) {
            ret = cli_fail(E_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
            goto out;
        }
        if (c == O_ENV) {
            envs[nenvs++] = optarg;
            continue;
        }
        if (val[c]) {
            ret = cli_fail(E_INVALID_ARGUMENT, "--%s was given more than once", opts[c - 1].name);
            goto out;
        }
        val[c] = optarg;
    }
    if (optind < argc) {
        ret = cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
        goto out;
    }

    /* One source. */
    static const int sources[] = {O_DOCKER_URI, O_DOCKER_ARCHIVE, O_OCI_LAYOUT, O_OCI_ARCHIVE,
                                  O_ROOTFS};
    int source = 0;
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
        if (!val[sources[i]])
            continue;
        if (source) {
            ret = cli_fail(E_CONFLICTING_ARGUMENT, "--%s and --%s cannot be used together",
                           opts[source - 1].name, opts[sources[i] - 1].name);
            goto out;
        }
        source = sources[i];
    }
    if (val[O_DOCKER_DIR]) {
        ret = cli_fail(E_DOCKER_IMAGE_BUILD,
                       "--docker-dir: Cloister does not build Dockerfiles; build the image "
                       "with your tools and pass it as --docker-archive FILE (docker save), "
                       "--oci-layout DIR or --oci-archive FILE");
        goto out;
    }
    if (!source) {
        ret = cli_fail(E_MISSING_ARGUMENT, "one of --docker-uri, --docker-archive, --oci-layout, "
                                           "--oci-archive or --rootfs is required");
        goto out;
    }
    if (!val[O_OUTPUT]) {
        ret = cli_fail(E_MISSING_ARGUMENT, "--output-file is required");
        goto out;
    }
    if (source == O_ROOTFS && !val[O_CMD]) {
        ret = cli_fail(E_MISSING_ARGUMENT, "--cmd is required with --rootfs (a directory has no "
                                           "image config to take the command from)");
        goto out;
    }
    if (!val[O_CERT] != !val[O_KEY]) {
        ret = cli_fail(E_MISSING_ARGUMENT, "--signing-certificate and --private-key go together");
        goto out;
    }

    /* BuildTime: --build-time, else SOURCE_DATE_EPOCH, else 0
     * (https://reproducible-builds.org/specs/source-date-epoch/). */
    char when[40];
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    uint64_t epoch = 0;
    if (sde && *sde) {
        if (num_parse_u64(sde, 253402300799ull, &epoch) != 0) {
            ret = cli_fail(E_INVALID_ARGUMENT,
                           "SOURCE_DATE_EPOCH '%s' is not a number of seconds since the epoch", sde);
            goto out;
        }
    }
    if (val[O_BUILD_TIME] ? build_time_text(val[O_BUILD_TIME], when, &err) < 0
                          : image_rfc3339((int64_t)epoch, when, &err) < 0) {
        ret = cli_fail_lib(E_INVALID_ARGUMENT, &err);
        goto out;
    }

    /* Blobs: --blobs, $NITRO_CLI_BLOBS, <bin>/../share/cloister/blobs. */
    const char *blobs = val[O_BLOBS];
    if (!blobs && getenv("NITRO_CLI_BLOBS") && *getenv("NITRO_CLI_BLOBS"))
        blobs = getenv("NITRO_CLI_BLOBS");
    if (!blobs)
        blobs = blobs_alloc = default_blobs_dir();
    struct stat st;
    if (!blobs || stat(blobs, &st) < 0 || !S_ISDIR(st.st_mode)) {
        ret = cli_fail(E_BLOBS_PATH_NOT_SET,
                       "'%s' is not a directory (give the blobs with --blobs DIR or NITRO_CLI_BLOBS)",
                       blobs ? blobs : "?");
        goto out;
    }
    if (asprintf(&kernel, "%s/bzImage", blobs) < 0 || asprintf(&cfgpath, "%s/bzImage.config", blobs) < 0 ||
        asprintf(&initpath, "%s/init", blobs) < 0 || asprintf(&cmdpath, "%s/cmdline", blobs) < 0) {
        ret = cli_fail(E_UNSPECIFIED, "out of memory");
        goto out;
    }
    const char *required[] = {kernel, cmdpath, cfgpath, initpath};
    for (size_t i = 0; i < 4; i++) {
        if (stat(required[i], &st) < 0 || !S_ISREG(st.st_mode)) {
            ret = cli_fail(E_EIF_BUILDING, "missing blob '%s'", required[i]);
            goto out;
        }
    }
    size_t cmdline_len = 0;
    if (file_read_all(cmdpath, CMDLINE_MAX, &cmdline, &cmdline_len, &err) < 0) {
        ret = cli_fail_lib(E_EIF_BUILDING, &err);
        goto out;
    }
    /* nitro-cli: cmdline.trim(), no NUL (research §1.6). */
    uint8_t *cl = cmdline;
    while (cmdline_len && (cl[cmdline_len - 1] == '\n' || cl[cmdline_len - 1] == ' ' ||
                           cl[cmdline_len - 1] == '\t' || cl[cmdline_len - 1] == '\r'))
        cmdline_len--;
    while (cmdline_len && (*cl == '\n' || *cl == ' ' || *cl == '\t' || *cl == '\r')) {
        cl++;
        cmdline_len--;
    }
    if (image_kernel_info(cfgpath, &os, &kver, &err) < 0) {
        ret = cli_fail_lib(E_EIF_BUILDING, &err);
        goto out;
    }
    if (val[O_METADATA] && image_custom_metadata(val[O_METADATA], &custom, &err) < 0) {
        ret = cli_fail_lib(E_EIF_BUILDING, &err);
        goto out;
    }

    fprintf(stderr, "Start building the Enclave Image...\n");

    int rc;
    const char *src = opts[source - 1].name;
    switch (source) {
    case O_ROOTFS:
        rc = image_from_rootfs(val[source], &img, &err);
        break;
    case O_DOCKER_ARCHIVE:
        rc = image_from_docker_archive(val[source], NULL, &img, &err);
        break;
    case O_OCI_LAYOUT:
        rc = image_from_oci_layout(val[source], NULL, &img, &err);
        break;
    case O_OCI_ARCHIVE:
        rc = image_from_oci_archive(val[source], NULL, &img, &err);
        break;
    default:
        rc = image_from_docker_daemon(val[source], NULL, NULL, &img, &err);
        if (rc == 0 && !img->pulled)
            fprintf(stderr, "Using the locally available Docker image...\n");
        break;
    }
    if (rc < 0) {
        ret = cli_fail_lib(image_errno(src), &err);
        goto out;
    }
    if (val[O_CMD] && image_set_cmd(img, val[O_CMD], &err) < 0) {
        ret = cli_fail_lib(E_INVALID_ARGUMENT, &err);
        goto out;
    }
    for (size_t i = 0; i < nenvs; i++)
        if (image_set_env(img, envs[i], &err) < 0) {
            ret = cli_fail_lib(E_INVALID_ARGUMENT, &err);
            goto out;
        }
    if (!img->has_cmd) {
        ret = cli_fail(E_EIF_BUILDING,
                       "the image config has neither Cmd nor Entrypoint; give the command with --cmd");
        goto out;
    }

    struct image_meta im = {
        .name = val[O_NAME] ? val[O_NAME] : img->default_name,
        .version = val[O_VERSION] ? val[O_VERSION] : img->default_version,
        .build_time = when,
        .build_tool = "cloister",
        .build_tool_version = CLOISTER_VERSION,
        .os = os,
        .kernel_version = kver,
        .docker_info = img->config,
        .custom = custom,
    };
    if (image_metadata_json(&im, &meta, &err) < 0) {
        ret = cli_fail_lib(E_EIF_BUILDING, &err);
        goto out;
    }

    if (ramdisk_bootstrap_tree(blobs, &boot, &err) < 0 ||
        ramdisk_customer_tree(img->tree, img->cmd, img->ncmd, img->env, img->nenv, &cust, &err) < 0) {
        ret = cli_fail_lib(E_EIF_BUILDING, &err);
        goto out;
    }
    /* img->tree is empty now (moved into cust); image_free() frees it. */

    struct eif_build_params p = {
        .kernel_path = kernel,
        .cmdline = cl,
        .cmdline_len = cmdline_len,
        .metadata_json = meta,
        .signing_cert_path = val[O_CERT],
        .private_key_path = val[O_KEY],
        .flags = img->eif_flags,
    };
    if (eif_writer_new(val[O_OUTPUT], &p, &w, &err) < 0) {
        ret = cli_fail_lib(val[O_CERT] && (err.code == CL_ECRYPTO || err.code == CL_EUNSUPPORTED)
                               ? E_EIF_SIGNING
                               : E_EIF_BUILDING,
                           &err);
        goto out;
    }
    struct progress pr = {.on = isatty(STDERR_FILENO) == 1, .last = -1};
    struct image_tree *trees[2] = {boot, cust};
    for (int i = 0; i < 2; i++) {
        /* Every entry's mtime is SOURCE_DATE_EPOCH (default 0), never the
         * files' own: the same input and the same SOURCE_DATE_EPOCH give the
         * same bytes (https://reproducible-builds.org/specs/source-date-epoch/).
         * The mtimes are measured, so a build that sets SOURCE_DATE_EPOCH
         * must keep it to keep its PCRs (docs/build-enclave.md). */
        struct ramdisk_opts ro = {.mtime = epoch, .progress = progress_cb, .progress_ctx = &pr};
        pr.last = -1;
        if (i == 0)
            ro.progress = NULL;
        if (i == 1 && pr.on) {
            struct image_entry *list = NULL;
            size_t n = 0;
            if (image_tree_list(cust, &list, &n, NULL) == 0)
                pr.on = image_entries_content_size(list, n) >= PROGRESS_MIN;
            image_entries_free(list, n);
        }
        if (eif_writer_begin_ramdisk(w, &err) < 0 ||
            ramdisk_write(trees[i], &ro, writer_sink, w, &err) < 0 ||
            eif_writer_end_ramdisk(w, &err) < 0) {
            if (pr.on && pr.last >= 0 && pr.last < 100)
                fputc('\n', stderr);
            ret = cli_fail_lib(E_EIF_BUILDING, &err);
            goto out;
        }
    }
    struct eif_measurements m;
    if (eif_writer_finish(w, &m, &err) < 0) {
        ret = cli_fail_lib(val[O_CERT] && err.code != CL_EIO ? E_EIF_SIGNING : E_EIF_BUILDING, &err);
        goto out;
    }
    fprintf(stderr, "Enclave Image successfully created.\n");

    /* research §5.2: {"Measurements": {HashAlgorithm, PCR0, PCR1, PCR2[, PCR8]}} */
    ret = cli_print_json(eif_build_info_json(&m));
out:
    eif_writer_free(w);
    image_tree_free(boot);
    image_tree_free(cust);
    image_free(img);
    json_decref(custom);
    free(blobs_alloc);
    free(kernel);
    free(cfgpath);
    free(initpath);
    free(cmdpath);
    free(cmdline);
    free(os);
    free(kver);
    free(meta);
    free(envs);
    return ret;
}
