/* SPDX-License-Identifier: Apache-2.0 */
/* pipeline: a tiny rootfs through image_build() into an EIF that the EIF
 * reader re-measures to the same PCRs (and that this test measures again
 * from the sections' bytes); a second build is byte-identical; each
 * failing step has its exact error and leaves no output file behind. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <openssl/evp.h>

#include <cloister/eif.h>

#include "image/pipeline.h"
#include "tar_build.h"

#define KERNEL  "a stand-in kernel"
#define CMDLINE "console=ttyS0 quiet"

struct fixture {
    char *dir; /* everything below */
    char blobs[512], rootfs[512], out[512];
    int events[4];        /* counts per enum image_build_event */
    uint64_t done, total; /* the last progress report */
    char shrink[600];     /* a file to truncate at the first progress report */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = temp_dir("pipeline");
    char p[600];
    snprintf(f->blobs, sizeof(f->blobs), "%s/blobs", f->dir);
    snprintf(f->rootfs, sizeof(f->rootfs), "%s/rootfs", f->dir);
    snprintf(f->out, sizeof(f->out), "%s/out", f->dir);
    assert_int_equal(mkdir(f->blobs, 0755), 0);
    assert_int_equal(mkdir(f->rootfs, 0755), 0);
    assert_int_equal(mkdir(f->out, 0755), 0);
    snprintf(p, sizeof(p), "%s/bzImage", f->blobs);
    write_text(p, KERNEL);
    snprintf(p, sizeof(p), "%s/cmdline", f->blobs);
    write_text(p, "  " CMDLINE "\n"); /* trimmed into the EIF */
    snprintf(p, sizeof(p), "%s/bzImage.config", f->blobs);
    write_text(p, "#\n#\n# TestOS/x86_64 1.2.3-test Kernel Configuration\n");
    snprintf(p, sizeof(p), "%s/init", f->blobs);
    write_text(p, "#!init\n");
    snprintf(p, sizeof(p), "%s/bin", f->rootfs);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/bin/app", f->rootfs);
    write_text(p, "#!/bin/sh\necho app\n");
    assert_int_equal(chmod(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/z", f->rootfs);
    write_text(p, "the last file");
    char hard[600];
    snprintf(hard, sizeof(hard), "%s/bin/app-link", f->rootfs);
    snprintf(p, sizeof(p), "%s/bin/app", f->rootfs);
    assert_int_equal(link(p, hard), 0);
    snprintf(p, sizeof(p), "%s/app", f->rootfs);
    assert_int_equal(symlink("/bin/app", p), 0);
    /* fixed times: they are part of the image (the directory's last, as
     * making its entries moves it) */
    static const struct {
        const char *name;
        time_t t;
    } times[] = { { "app", 1700000004 }, { "bin/app", 1700000002 }, { "z", 1700000003 },
                  { "bin", 1700000001 } };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", f->rootfs, times[i].name);
        struct timespec ts[2] = { { times[i].t, 0 }, { times[i].t, 0 } };
        assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    remove_dir(f->dir);
    free(f);
    return 0;
}

static void on_event(void *ctx, enum image_build_event ev, const char *detail)
{
    struct fixture *f = ctx;
    f->events[ev]++;
    assert_true(ev == IMAGE_BUILD_WORKDIR_IGNORED ? detail != NULL : detail == NULL);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct fixture *f = ctx;
    assert_true(done >= f->done && done <= total);
    f->done = done;
    f->total = total;
    if (f->shrink[0]) {
        assert_int_equal(truncate(f->shrink, 1), 0);
        f->shrink[0] = '\0';
    }
}

static struct image_build_opts opts(struct fixture *f, const char *out_name)
{
    static const char *const env[] = { "A=1", "B=two words" };
    static char out[600];
    snprintf(out, sizeof(out), "%s/%s", f->out, out_name);
    memset(f->events, 0, sizeof(f->events));
    f->done = f->total = 0;
    return (struct image_build_opts){
        .source = IMAGE_SOURCE_ROOTFS,
        .source_ref = f->rootfs,
        .cmd = "/bin/app --serve",
        .env = env,
        .nenv = 2,
        .build_time = "2024-01-01T00:00:00+00:00",
        .blobs_dir = f->blobs,
        .output_path = out,
        .on_event = on_event,
        .on_progress = on_progress,
        .ctx = f,
    };
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    *len = (size_t)ftell(fp);
    rewind(fp);
    uint8_t *d = malloc(*len + 1);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, *len, fp), *len);
    fclose(fp);
    return d;
}

/* SHA384(48 zero bytes || SHA384(parts...)): a PCR over those bytes. */
static void pcr_of(const uint8_t *const *part, const size_t *len, size_t n, uint8_t out[48])
{
    uint8_t inner[96] = { 0 };
    unsigned l = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha384(), NULL), 1);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(EVP_DigestUpdate(md, part[i], len[i]), 1);
    assert_int_equal(EVP_DigestFinal_ex(md, inner + 48, &l), 1);
    assert_int_equal(EVP_Digest(inner, 96, out, &l, EVP_sha384(), NULL), 1);
    EVP_MD_CTX_free(md);
}

/* Nothing but `keep` (may be NULL) in the output directory. */
static void output_dir_holds_only(struct fixture *f, const char *keep)
{
    DIR *d = opendir(f->out);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!keep || strcmp(de->d_name, keep))
            fail_msg("'%s' left in the output directory", de->d_name);
    }
    closedir(d);
}

static void build_and_remeasure(void **state)
{
    struct fixture *f = *state;
    struct image_build_opts o = opts(f, "a.eif");
    struct image_build_result r;
    struct cl_error err = { 0 };
    assert_int_equal(image_build(&o, &r, &err), 0);
    assert_int_equal(r.failed_step, 0);
    assert_false(r.measurements.has_pcr8);
    assert_int_equal(f->events[IMAGE_BUILD_READING_IMAGE], 1);
    assert_int_equal(f->events[IMAGE_BUILD_USING_LOCAL_IMAGE], 0);
    assert_int_equal(f->events[IMAGE_BUILD_WORKDIR_IGNORED], 0); /* a rootfs has no config */
    /* all the file data, the hard-linked bin/app counted once */
    assert_int_equal(f->done, f->total);

    struct eif *e = NULL;
    assert_int_equal(eif_open(o.output_path, &e, &err), 0);
    assert_true(eif_crc_ok(e));
    const struct eif_measurements *m = eif_measurements(e);
    assert_memory_equal(m->pcr0, r.measurements.pcr0, 48);
    assert_memory_equal(m->pcr1, r.measurements.pcr1, 48);
    assert_memory_equal(m->pcr2, r.measurements.pcr2, 48);
    assert_int_equal(eif_ramdisk_count(e), 2);

    /* PCR0 = kernel, trimmed cmdline, both ramdisks; PCR1 = the same up to
     * the bootstrap ramdisk; PCR2 = the customer ramdisk */
    uint8_t *rd[2];
    size_t rdl[2];
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(eif_read_ramdisk(e, i, &rd[i], &rdl[i], &err), 0);
    const uint8_t *parts[] = { (const uint8_t *)KERNEL, (const uint8_t *)CMDLINE, rd[0], rd[1] };
    size_t lens[] = { strlen(KERNEL), strlen(CMDLINE), rdl[0], rdl[1] };
    uint8_t pcr[48];
    pcr_of(parts, lens, 4, pcr);
    assert_memory_equal(pcr, r.measurements.pcr0, 48);
    pcr_of(parts, lens, 3, pcr);
    assert_memory_equal(pcr, r.measurements.pcr1, 48);
    pcr_of(parts + 3, lens + 3, 1, pcr);
    assert_memory_equal(pcr, r.measurements.pcr2, 48);

    /* the customer ramdisk: the tree under rootfs/ in the export walk's
     * order with its own times, what Docker and linuxkit add with linuxkit's
     * time, then cmd and env */
    struct archive *a = archive_read_new();
    archive_read_support_format_cpio(a);
    assert_int_equal(archive_read_open_memory(a, rd[1], rdl[1]), ARCHIVE_OK);
    struct archive_entry *ae;
    char got[2048] = "";
    while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ae);
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s %lld\n", name,
                 (long long)archive_entry_mtime(ae));
        if (!strcmp(name, "cmd") || !strcmp(name, "env")) {
            char data[64] = "";
            assert_true(archive_read_data(a, data, sizeof(data) - 1) > 0);
            assert_string_equal(data, !strcmp(name, "cmd") ? "/bin/app\n--serve\n"
                                                           : "A=1\nB=two words\n");
        }
    }
    archive_read_free(a);
    assert_string_equal(got, "rootfs 1492533000\n"
                             "rootfs/app 1700000004\n"
                             "rootfs/bin/ 1700000001\n"
                             "rootfs/bin/app 1700000002\n"
                             "rootfs/bin/app-link 1700000002\n"
                             "rootfs/dev/ 1492533000\n"
                             "rootfs/dev/pts/ 1492533000\n"
                             "rootfs/dev/shm/ 1492533000\n"
                             "rootfs/etc/ 1492533000\n"
                             "rootfs/etc/hosts 1492533000\n"
                             "rootfs/etc/mtab 1492533000\n"
                             "rootfs/etc/resolv.conf 1492533000\n"
                             "rootfs/proc/ 1492533000\n"
                             "rootfs/sys/ 1492533000\n"
                             "rootfs/z 1700000003\n"
                             "rootfs 1492533000\n"
                             "rootfs/dev 1492533000\n"
                             "rootfs/run 1492533000\n"
                             "rootfs/sys 1492533000\n"
                             "rootfs/var 1492533000\n"
                             "rootfs/proc 1492533000\n"
                             "rootfs/tmp 1492533000\n"
                             "cmd 1492533000\n"
                             "env 1492533000\n");

    char want[1024];
    snprintf(want, sizeof(want),
             "{\"ImageName\":\"rootfs\",\"ImageVersion\":\"1.0\",\"BuildMetadata\":{"
             "\"BuildTime\":\"2024-01-01T00:00:00+00:00\",\"BuildTool\":\"cloister\","
             "\"BuildToolVersion\":\"%s\",\"OperatingSystem\":\"TestOS\","
             "\"KernelVersion\":\"1.2.3\"},\"DockerInfo\":null,\"CustomMetadata\":null}",
             CLOISTER_VERSION);
    assert_string_equal(eif_metadata_json(e), want);
    free(rd[0]);
    free(rd[1]);
    eif_free(e);
    output_dir_holds_only(f, "a.eif");
    unlink(o.output_path);
}

static void a_second_build_gives_the_same_bytes(void **state)
{
    struct fixture *f = *state;
    struct image_build_result r1, r2, r3;
    struct image_build_opts o = opts(f, "one.eif");
    assert_int_equal(image_build(&o, &r1, NULL), 0);
    size_t l1, l2;
    uint8_t *b1 = slurp(o.output_path, &l1);
    o = opts(f, "two.eif");
    assert_int_equal(image_build(&o, &r2, NULL), 0);
    uint8_t *b2 = slurp(o.output_path, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    assert_memory_equal(&r1.measurements, &r2.measurements, sizeof(r1.measurements));
    /* a file's own time is part of the image, as in nitro-cli's ramdisk */
    char p[600];
    snprintf(p, sizeof(p), "%s/bin/app", f->rootfs);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    struct utimbuf t = { .actime = 1, .modtime = 1 };
    assert_int_equal(utime(p, &t), 0);
    o = opts(f, "three.eif");
    assert_int_equal(image_build(&o, &r3, NULL), 0);
    assert_memory_not_equal(r1.measurements.pcr2, r3.measurements.pcr2, 48);
    assert_memory_equal(r1.measurements.pcr1, r3.measurements.pcr1, 48);
    t.modtime = st.st_mtime;
    assert_int_equal(utime(p, &t), 0);
    free(b1);
    free(b2);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s.eif", f->out, (const char *[]){ "one", "two", "three" }[i]);
        unlink(p);
    }
}

/* Builds o, expecting it to fail at step with code and (when not NULL)
 * reason, leaving nothing in the output directory but keep. */
static void expect_failure(struct fixture *f, struct image_build_opts *o,
                           enum image_build_step step, int code, const char *reason,
                           const char *keep)
{
    struct image_build_result r;
    struct cl_error err = { 0 };
    assert_int_equal(image_build(o, &r, &err), code);
    assert_int_equal(err.code, code);
    assert_int_equal(r.failed_step, step);
    if (reason)
        assert_string_equal(err.reason, reason);
    output_dir_holds_only(f, keep);
}

static void each_step_fails_with_its_error(void **state)
{
    struct fixture *f = *state;
    char want[1024], p[600];

    struct image_build_opts o = opts(f, "x.eif");
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope", f->dir);
    o.source_ref = missing;
    snprintf(want, sizeof(want), "cannot open the rootfs directory '%s': No such file or directory",
             missing);
    expect_failure(f, &o, IMAGE_BUILD_SOURCE, CL_ENOTFOUND, want, NULL);
    assert_int_equal(f->events[IMAGE_BUILD_READING_IMAGE], 1);

    o = opts(f, "x.eif");
    o.blobs_dir = f->rootfs; /* no bzImage there */
    snprintf(want, sizeof(want), "missing blob '%s/bzImage'", f->rootfs);
    expect_failure(f, &o, IMAGE_BUILD_INPUTS, CL_ENOTFOUND, want, NULL);
    assert_int_equal(f->events[IMAGE_BUILD_READING_IMAGE], 0); /* never started */

    o = opts(f, "x.eif");
    o.custom_metadata_path = missing;
    snprintf(want, sizeof(want), "cannot open '%s': No such file or directory", missing);
    expect_failure(f, &o, IMAGE_BUILD_INPUTS, CL_ENOTFOUND, want, NULL);

    o = opts(f, "x.eif");
    static const char *const bad_env[] = { "=x" };
    o.env = bad_env;
    o.nenv = 1;
    expect_failure(f, &o, IMAGE_BUILD_OVERRIDES, CL_EINVAL, "--env '=x': expected KEY=VALUE", NULL);

    o = opts(f, "x.eif");
    o.cmd = NULL; /* a directory has no config to give one */
    expect_failure(f, &o, IMAGE_BUILD_COMMAND, CL_ENOTFOUND,
                   "the image config has neither Cmd nor Entrypoint; give the command with --cmd",
                   NULL);

    o = opts(f, "x.eif");
    o.name = "not UTF-8 \xff";
    expect_failure(f, &o, IMAGE_BUILD_METADATA, CL_EINVAL, "metadata strings must be UTF-8", NULL);

    o = opts(f, "x.eif");
    o.cmd = "[\"a\\nb\"]";
    expect_failure(f, &o, IMAGE_BUILD_RAMDISKS, CL_EINVAL,
                   "command argument 'a\nb' contains a newline, which the cmd file cannot hold",
                   NULL);

    o = opts(f, "x.eif");
    snprintf(p, sizeof(p), "%s/no-such-dir/x.eif", f->out);
    o.output_path = p;
    expect_failure(f, &o, IMAGE_BUILD_EIF_OPEN, CL_EIO, NULL, NULL);

    /* a file that shrinks while the ramdisk is written: an existing output
     * file is left as it was */
    o = opts(f, "keep.eif");
    write_text(o.output_path, "old");
    snprintf(f->shrink, sizeof(f->shrink), "%s/z", f->rootfs);
    expect_failure(f, &o, IMAGE_BUILD_RAMDISKS, CL_ESTATE, "'z' changed while building",
                   "keep.eif");
    size_t len;
    uint8_t *kept = slurp(o.output_path, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(kept, "old", 3);
    free(kept);
    unlink(o.output_path);
    snprintf(p, sizeof(p), "%s/z", f->rootfs);
    write_text(p, "the last file");

    /* the rename into place fails: a directory is in the way */
    o = opts(f, "dir.eif");
    assert_int_equal(mkdir(o.output_path, 0755), 0);
    expect_failure(f, &o, IMAGE_BUILD_EIF_FINISH, CL_EIO, NULL, "dir.eif");
    assert_int_equal(rmdir(o.output_path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(build_and_remeasure, setup, teardown),
        cmocka_unit_test_setup_teardown(a_second_build_gives_the_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(each_step_fails_with_its_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
