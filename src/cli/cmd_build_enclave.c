/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister build-enclave`: nitro-cli's build-enclave, with image sources
 * that need no Docker daemon (docs/build-enclave.md).
 *
 *   cloister build-enclave --output-file OUT.eif
 *       ( --docker-uri URI [--docker-dir DIR] | --docker-archive FILE[:TAG]
 *       | --oci-layout DIR[:TAG] | --oci-archive FILE[:TAG] | --rootfs DIR --cmd CMD )
 *       [--cmd CMD] [--env KEY=VALUE]... [--name N] [--version V]
 *       [--metadata JSON-FILE] [--signing-certificate PEM --private-key PEM]
 *       [--blobs DIR] [--build-time SECONDS|RFC3339]
 *
 * This file is the command line only: it parses the arguments, finds the
 * blobs and the build time, runs the library's pipeline (image_build(),
 * src/lib/image/pipeline.h), turns its failures into nitro-cli's error
 * numbers and prints nitro-cli's lines and JSON.
 */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/num.h"
#include "cli.h"
#include "commands.h"
#include "eif/eif_json.h"
#include "image/image.h"
#include "image/pipeline.h"

#define PROGRESS_MIN (64ull << 20) /* a bar only for inputs this large */

static void usage(FILE *f)
{
    fprintf(f, "Usage: %s build-enclave --output-file FILE SOURCE [OPTIONS]\n", cli_prog());
    fprintf(f,
            "Builds an enclave image file (EIF) from a container image or a directory.\n\n"
            "SOURCE (exactly one):\n"
            "    --docker-uri URI          an image of a local Docker daemon (pulled if needed)\n"
            "      [--docker-dir DIR]      ... built first from DIR's Dockerfile, tagged URI\n"
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

/* nitro-cli's progress lines on stderr, and a bar when stderr is a terminal. */
struct progress {
    bool on;
    int last;
};

static void on_event(void *ctx, enum image_build_event ev, const char *detail)
{
    (void)ctx;
    if (ev == IMAGE_BUILD_READING_IMAGE)
        fprintf(stderr, "Start building the Enclave Image...\n");
    else if (ev == IMAGE_BUILD_USING_LOCAL_IMAGE)
        fprintf(stderr, "Using the locally available Docker image...\n");
    else if (ev == IMAGE_BUILD_WORKDIR_IGNORED) /* Cloister's own note (docs/build-enclave.md) */
        fprintf(stderr,
                "Note: the image's WorkingDir '%s' is not used: the enclave's command starts "
                "in /, as on Nitro Enclaves.\n",
                detail);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct progress *p = ctx;
    if (!p->on || total < PROGRESS_MIN)
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
    struct tm tm = { 0 };
    const char *rest = strptime(arg, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest && *rest == '.') {
        rest++;
        if (*rest < '0' || *rest > '9')
            rest = NULL;
        while (rest && *rest >= '0' && *rest <= '9')
            rest++;
    }
    bool zone_ok =
        rest && (!strcmp(rest, "Z") ||
                 ((rest[0] == '+' || rest[0] == '-') && strlen(rest) == 6 && rest[1] >= '0' &&
                  rest[1] <= '9' && rest[2] >= '0' && rest[2] <= '9' && rest[3] == ':' &&
                  rest[4] >= '0' && rest[4] <= '9' && rest[5] >= '0' && rest[5] <= '9'));
    if (!zone_ok || strlen(arg) >= 40)
        return cl_fail(err, CL_EINVAL,
                       "--build-time '%s': expected seconds since the epoch or RFC 3339 "
                       "(1970-01-01T00:00:00+00:00)",
                       arg);
    snprintf(out, 40, "%s", arg);
    return 0;
}

enum {
    O_DOCKER_URI = 1,
    O_DOCKER_DIR,
    O_DOCKER_ARCHIVE,
    O_OCI_LAYOUT,
    O_OCI_ARCHIVE,
    O_ROOTFS,
    O_OUTPUT,
    O_NAME,
    O_VERSION,
    O_METADATA,
    O_CERT,
    O_KEY,
    O_BLOBS,
    O_BUILD_TIME,
    O_CMD,
    O_ENV,
    O_HELP,
    O_COUNT
};

/* In O_* order: OPTIONS[o - 1] is option o. */
static const struct option OPTIONS[] = {
    { "docker-uri", required_argument, NULL, O_DOCKER_URI },
    { "docker-dir", required_argument, NULL, O_DOCKER_DIR },
    { "docker-archive", required_argument, NULL, O_DOCKER_ARCHIVE },
    { "oci-layout", required_argument, NULL, O_OCI_LAYOUT },
    { "oci-archive", required_argument, NULL, O_OCI_ARCHIVE },
    { "rootfs", required_argument, NULL, O_ROOTFS },
    { "output-file", required_argument, NULL, O_OUTPUT },
    { "name", required_argument, NULL, O_NAME },
    { "version", required_argument, NULL, O_VERSION },
    { "metadata", required_argument, NULL, O_METADATA },
    { "signing-certificate", required_argument, NULL, O_CERT },
    { "private-key", required_argument, NULL, O_KEY },
    { "blobs", required_argument, NULL, O_BLOBS },
    { "build-time", required_argument, NULL, O_BUILD_TIME },
    { "cmd", required_argument, NULL, O_CMD },
    { "env", required_argument, NULL, O_ENV },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

/* The source options, in the order their conflicts are reported. */
static const struct {
    int opt;
    enum image_source_kind kind;
} SOURCES[] = {
    { O_DOCKER_URI, IMAGE_SOURCE_DOCKER_DAEMON },
    { O_DOCKER_ARCHIVE, IMAGE_SOURCE_DOCKER_ARCHIVE },
    { O_OCI_LAYOUT, IMAGE_SOURCE_OCI_LAYOUT },
    { O_OCI_ARCHIVE, IMAGE_SOURCE_OCI_ARCHIVE },
    { O_ROOTFS, IMAGE_SOURCE_ROOTFS },
};

struct args {
    const char *val[O_COUNT]; /* each option's value (NULL: not given), --env apart */
    const char **envs;        /* the --env values, in order */
    size_t nenvs;
    bool help;
    int source; /* index into SOURCES */
};

/* getopt over argv into a; 0, or the error number it printed. */
static int parse_args(int argc, char **argv, struct args *a)
{
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":h", OPTIONS, NULL)) != -1;) {
        if (c == 'h' || c == O_HELP) {
            a->help = true;
            return 0;
        }
        if (c == ':')
            return cli_fail(E_MISSING_ARGUMENT, "%s requires a value", argv[optind - 1]);
        if (c == '?' || c <= 0 || c >= O_COUNT)
            return cli_fail(E_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        if (c == O_ENV) {
            a->envs[a->nenvs++] = optarg;
            continue;
        }
        if (a->val[c])
            return cli_fail(E_INVALID_ARGUMENT, "--%s was given more than once",
                            OPTIONS[c - 1].name);
        a->val[c] = optarg;
    }
    if (optind < argc)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* The options that go together or exclude each other; 0, or the error
 * number it printed. */
static int check_args(struct args *a)
{
    const char *const *val = a->val;
    a->source = -1;
    for (int i = 0; i < (int)(sizeof(SOURCES) / sizeof(SOURCES[0])); i++) {
        if (!val[SOURCES[i].opt])
            continue;
        if (a->source >= 0)
            return cli_fail(E_CONFLICTING_ARGUMENT, "--%s and --%s cannot be used together",
                            OPTIONS[SOURCES[a->source].opt - 1].name,
                            OPTIONS[SOURCES[i].opt - 1].name);
        a->source = i;
    }
    /* --docker-dir builds the image that --docker-uri names, as nitro-cli's
     * (which requires --docker-uri and builds when --docker-dir is given). */
    if (val[O_DOCKER_DIR] && a->source >= 0 && SOURCES[a->source].opt != O_DOCKER_URI)
        return cli_fail(E_CONFLICTING_ARGUMENT, "--docker-dir and --%s cannot be used together",
                        OPTIONS[SOURCES[a->source].opt - 1].name);
    if (val[O_DOCKER_DIR] && a->source < 0)
        return cli_fail(E_MISSING_ARGUMENT,
                        "--docker-dir needs --docker-uri TAG, the tag of the image it builds");
    if (a->source < 0)
        return cli_fail(E_MISSING_ARGUMENT, "one of --docker-uri, --docker-archive, --oci-layout, "
                                            "--oci-archive or --rootfs is required");
    if (!val[O_OUTPUT])
        return cli_fail(E_MISSING_ARGUMENT, "--output-file is required");
    if (SOURCES[a->source].opt == O_ROOTFS && !val[O_CMD])
        return cli_fail(E_MISSING_ARGUMENT, "--cmd is required with --rootfs (a directory has no "
                                            "image config to take the command from)");
    if (!val[O_CERT] != !val[O_KEY])
        return cli_fail(E_MISSING_ARGUMENT, "--signing-certificate and --private-key go together");
    return 0;
}

/*
 * BuildTime: --build-time, else SOURCE_DATE_EPOCH, else 0
 * (https://reproducible-builds.org/specs/source-date-epoch/). 0, or the
 * error number it printed.
 */
static int build_time(const char *arg, char when[static 40])
{
    struct cl_error err = { 0 };
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    long long epoch = 0;
    if (sde && *sde) {
        uint64_t v;
        if (num_parse_u64(sde, 253402300799ull, &v) != 0)
            return cli_fail(E_INVALID_ARGUMENT,
                            "SOURCE_DATE_EPOCH '%s' is not a number of seconds since the epoch",
                            sde);
        epoch = (long long)v;
    }
    if (arg ? build_time_text(arg, when, &err) < 0 : image_rfc3339(epoch, when, &err) < 0)
        return cli_fail_lib(E_INVALID_ARGUMENT, &err);
    return 0;
}

/* The blobs directory: --blobs, $NITRO_CLI_BLOBS, <bin>/../share/cloister/blobs.
 * *alloc holds what the caller frees. 0, or the error number it printed. */
static int find_blobs(const char *arg, const char **blobs, char **alloc)
{
    const char *env = getenv("NITRO_CLI_BLOBS");
    *blobs = arg;
    if (!*blobs && env && *env)
        *blobs = env;
    if (!*blobs)
        *blobs = *alloc = default_blobs_dir();
    struct stat st;
    if (!*blobs || stat(*blobs, &st) < 0 || !S_ISDIR(st.st_mode))
        return cli_fail(
            E_BLOBS_PATH_NOT_SET,
            "'%s' is not a directory (give the blobs with --blobs DIR or NITRO_CLI_BLOBS)",
            *blobs ? *blobs : "?");
    return 0;
}

/* nitro-cli's error number for a failed build. */
static enum nitro_errno build_errno(const struct image_build_opts *o,
                                    const struct image_build_result *r, const struct cl_error *err)
{
    bool signing = o->signing_cert_path != NULL;
    switch (r->failed_step) {
    case IMAGE_BUILD_DOCKER_PULL:
        return E_DOCKER_IMAGE_PULL;
    case IMAGE_BUILD_DOCKER_BUILD:
        return E_DOCKER_IMAGE_BUILD;
    case IMAGE_BUILD_OVERRIDES:
        return E_INVALID_ARGUMENT;
    case IMAGE_BUILD_EIF_OPEN:
        return signing && (err->code == CL_ECRYPTO || err->code == CL_EUNSUPPORTED)
                   ? E_EIF_SIGNING
                   : E_EIF_BUILDING;
    case IMAGE_BUILD_EIF_FINISH:
        return signing && err->code != CL_EIO ? E_EIF_SIGNING : E_EIF_BUILDING;
    default:
        return E_EIF_BUILDING;
    }
}

/* Runs the pipeline and prints its outcome as nitro-cli does. */
static int build(const struct args *a, const char *blobs, const char *when)
{
    struct progress pr = { .on = isatty(STDERR_FILENO) == 1, .last = -1 };
    struct image_build_opts o = {
        .source = SOURCES[a->source].kind,
        .source_ref = a->val[SOURCES[a->source].opt],
        .docker_dir = a->val[O_DOCKER_DIR],
        .cmd = a->val[O_CMD],
        .env = a->envs,
        .nenv = a->nenvs,
        .name = a->val[O_NAME],
        .version = a->val[O_VERSION],
        .build_time = when,
        .custom_metadata_path = a->val[O_METADATA],
        .blobs_dir = blobs,
        .signing_cert_path = a->val[O_CERT],
        .private_key_path = a->val[O_KEY],
        .output_path = a->val[O_OUTPUT],
        .on_event = on_event,
        .on_progress = on_progress,
        .ctx = &pr,
    };
    struct image_build_result r;
    struct cl_error err = { 0 };
    if (image_build(&o, &r, &err) < 0) {
        if (pr.on && pr.last >= 0 && pr.last < 100)
            fputc('\n', stderr); /* end the bar's line before the error */
        return cli_fail_lib(build_errno(&o, &r, &err), &err);
    }
    fprintf(stderr, "Enclave Image successfully created.\n");
    /* {"Measurements": {HashAlgorithm, PCR0, PCR1, PCR2[, PCR8]}} */
    return cli_print_json(eif_build_info_json(&r.measurements));
}

int cmd_build_enclave(int argc, char **argv)
{
    struct args a = { .envs = calloc((size_t)argc + 1, sizeof(*a.envs)) };
    if (!a.envs)
        return cli_fail(E_UNSPECIFIED, "out of memory");
    const char *blobs = NULL;
    char *blobs_alloc = NULL, when[40];
    int ret = parse_args(argc, argv, &a);
    if (ret == 0 && a.help) {
        usage(stdout);
        goto out;
    }
    if (ret == 0)
        ret = check_args(&a);
    if (ret == 0)
        ret = build_time(a.val[O_BUILD_TIME], when);
    if (ret == 0)
        ret = find_blobs(a.val[O_BLOBS], &blobs, &blobs_alloc);
    if (ret == 0)
        ret = build(&a, blobs, when);
out:
    free(blobs_alloc);
    free(a.envs);
    return ret;
}
