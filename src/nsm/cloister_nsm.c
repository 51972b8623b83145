/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloister-nsm: shell access to the Nitro Secure Module from inside an
 * enclave, on the libnsm API (include/cloister/nsm.h), so it works on the
 * real /dev/nsm of a Nitro enclave and on Cloister's emulated endpoint
 * alike ($CLOISTER_NSM_DEVICE overrides /dev/nsm).
 *
 *   cloister-nsm describe-pcr N                 JSON {"index","lock","data"}
 *   cloister-nsm extend-pcr N --data HEX        JSON {"index","data"} (new value)
 *   cloister-nsm lock-pcr N
 *   cloister-nsm lock-pcrs RANGE
 *   cloister-nsm describe                       JSON of DescribeNSM
 *   cloister-nsm attest [--public-key FILE] [--user-data HEX] [--nonce HEX] > doc.cose
 *   cloister-nsm random N [--raw]               N bytes, hex (or raw)
 *
 * Small and self-contained: libc, libcbor and jansson; no OpenSSL (it
 * links the NSM client objects, not libcloister). Exit status: 0, 1 usage,
 * 2 no NSM device, 3 the NSM answered an error, 4 local I/O error.
 * Errors are one line on stderr: "cloister-nsm: <what>: <why>".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <cloister/nsm.h>

#include "base/hex.h"
#include "base/num.h"
#include "nsm/nsm_dev.h"
#include "nsm/nsm_proto.h"

enum { EXIT_USAGE = 1, EXIT_DEVICE = 2, EXIT_NSM = 3, EXIT_IO = 4 };

#define MAX_INPUT 4096       /* nothing larger fits a request */
#define MAX_RANDOM 65536

static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cloister-nsm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

static int nsm_fail(const char *what, ErrorCode rc)
{
    const char *name = nsm_error_name((int)rc);
    return fail(EXIT_NSM, "%s: %s", what, name ? name : "unknown error");
}

static void usage(FILE *out)
{
    fputs("usage: cloister-nsm <command> [options]\n"
          "  describe-pcr N                       value and lock state of PCR N (JSON)\n"
          "  extend-pcr N --data HEX              PCR N = SHA384(PCR N || data) (JSON)\n"
          "  lock-pcr N                           make PCR N read-only\n"
          "  lock-pcrs RANGE                      make PCRs 0..RANGE-1 read-only\n"
          "  describe                             the module's description (JSON)\n"
          "  attest [--public-key FILE] [--user-data HEX] [--nonce HEX]\n"
          "                                       an attestation document (COSE) on stdout\n"
          "  random N [--raw]                     N random bytes, hex (or raw)\n"
          "The module is /dev/nsm, or $CLOISTER_NSM_DEVICE (a device or a Unix socket).\n",
          out);
}

/* Hex (either case) -> bytes; out holds MAX_INPUT. */
static int parse_hex(const char *opt, const char *s, uint8_t *out, size_t *len)
{
    size_t n = strlen(s);
    if (n % 2)
        return fail(EXIT_USAGE, "%s: odd number of hex digits", opt);
    if (n / 2 > MAX_INPUT)
        return fail(EXIT_USAGE, "%s: more than %d bytes", opt, MAX_INPUT);
    struct cl_error err = { 0 };
    if (hex_decode(out, MAX_INPUT, len, s, &err) < 0)
        return fail(EXIT_USAGE, "%s: %s", opt, err.reason);
    return 0;
}

/* The longest number an index or a byte count may be written with: a
 * u16 (the wire type) and 65536 have five digits; one leading zero is
 * tolerated, a longer zero-padded number is refused as it always was. */
#define NUMBER_MAX_CHARS 6

/* A PCR index or a byte count: decimal digits up to max; -1 otherwise. */
static long parse_index(const char *s, uint64_t max)
{
    uint64_t v;
    if (s == NULL || strlen(s) > NUMBER_MAX_CHARS)
        return -1;
    return num_parse_u64(s, max, &v) == 0 ? (long)v : -1;
}

static int read_file(const char *path, uint8_t *out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(EXIT_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t n = fread(out, 1, MAX_INPUT, f);
    int bad = ferror(f);
    int more = !bad && fgetc(f) != EOF;
    fclose(f);
    if (bad)
        return fail(EXIT_IO, "cannot read '%s'", path);
    if (more)
        return fail(EXIT_USAGE, "'%s' is larger than %d bytes", path, MAX_INPUT);
    *len = n;
    return 0;
}

static int write_stdout(const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(EXIT_IO, "cannot write to stdout: %s", strerror(errno));
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int print_json(json_t *j)
{
    if (j == NULL)
        return fail(EXIT_IO, "out of memory");
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (s == NULL)
        return fail(EXIT_IO, "out of memory");
    int rc = write_stdout(s, strlen(s));
    if (rc == 0)
        rc = write_stdout("\n", 1);
    free(s);
    return rc;
}

static int open_nsm(int32_t *fd)
{
    *fd = nsm_lib_init();
    if (*fd < 0)
        return fail(EXIT_DEVICE, "cannot open the NSM at %s: %s", nsm_dev_path(),
                    strerror(errno));
    return 0;
}

static int cmd_describe_pcr(int argc, char **argv)
{
    if (argc != 2)
        return fail(EXIT_USAGE, "usage: describe-pcr N");
    long idx = parse_index(argv[1], UINT16_MAX);
    if (idx < 0)
        return fail(EXIT_USAGE, "invalid PCR index '%s'", argv[1]);
    int32_t fd;
    int rc = open_nsm(&fd);
    if (rc)
        return rc;
    bool lock = false;
    uint8_t data[64];
    uint32_t len = sizeof(data);
    ErrorCode e = nsm_describe_pcr(fd, (uint16_t)idx, &lock, data, &len);
    nsm_lib_exit(fd);
    if (e != ERROR_CODE_SUCCESS)
        return nsm_fail("describe-pcr", e);
    char hex[2 * 64 + 1];
    hex_encode(hex, data, len);
    return print_json(json_pack("{s:i, s:b, s:s}", "index", (int)idx, "lock", lock, "data", hex));
}

static int cmd_extend_pcr(int argc, char **argv)
{
    static uint8_t data[MAX_INPUT];
    size_t data_len = 0;
    const char *hex = NULL;
    long idx = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc && hex == NULL) {
            hex = argv[++i];
        } else if (idx == -1 && argv[i][0] != '-') {
            idx = parse_index(argv[i], UINT16_MAX);
            if (idx < 0)
                return fail(EXIT_USAGE, "invalid PCR index '%s'", argv[i]);
        } else {
            return fail(EXIT_USAGE, "usage: extend-pcr N --data HEX");
        }
    }
    if (idx < 0 || hex == NULL)
        return fail(EXIT_USAGE, "usage: extend-pcr N --data HEX");
    int rc = parse_hex("--data", hex, data, &data_len);
    if (rc)
        return rc;
    int32_t fd;
    if ((rc = open_nsm(&fd)))
        return rc;
    uint8_t pcr[64];
    uint32_t len = sizeof(pcr);
    ErrorCode e = nsm_extend_pcr(fd, (uint16_t)idx, data, (uint32_t)data_len, pcr, &len);
    nsm_lib_exit(fd);
    if (e != ERROR_CODE_SUCCESS)
        return nsm_fail("extend-pcr", e);
    char out[2 * 64 + 1];
    hex_encode(out, pcr, len);
    return print_json(json_pack("{s:i, s:s}", "index", (int)idx, "data", out));
}

static int cmd_lock(int argc, char **argv, bool range)
{
    if (argc != 2)
        return fail(EXIT_USAGE, range ? "usage: lock-pcrs RANGE" : "usage: lock-pcr N");
    long v = parse_index(argv[1], UINT16_MAX);
    if (v < 0)
        return fail(EXIT_USAGE, "invalid %s '%s'", range ? "range" : "PCR index", argv[1]);
    int32_t fd;
    int rc = open_nsm(&fd);
    if (rc)
        return rc;
    ErrorCode e = range ? nsm_lock_pcrs(fd, (uint16_t)v) : nsm_lock_pcr(fd, (uint16_t)v);
    nsm_lib_exit(fd);
    if (e != ERROR_CODE_SUCCESS)
        return nsm_fail(range ? "lock-pcrs" : "lock-pcr", e);
    return 0;
}

static int cmd_describe(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return fail(EXIT_USAGE, "usage: describe");
    int32_t fd;
    int rc = open_nsm(&fd);
    if (rc)
        return rc;
    NsmDescription d;
    memset(&d, 0, sizeof(d));
    ErrorCode e = nsm_get_description(fd, &d);
    nsm_lib_exit(fd);
    if (e != ERROR_CODE_SUCCESS)
        return nsm_fail("describe", e);
    static const char *const digests[] = {"SHA256", "SHA384", "SHA512"};
    json_t *locked = json_array();
    for (uint32_t i = 0; i < d.locked_pcrs_len && locked; i++)
        json_array_append_new(locked, json_integer(d.locked_pcrs[i]));
    /* module_id is text from the module: jansson escapes it, and refuses
     * invalid UTF-8 (then it is printed as null). */
    json_t *mid = json_stringn((const char *)d.module_id, d.module_id_len);
    return print_json(json_pack("{s:i, s:i, s:i, s:o, s:i, s:o, s:s}",
                                "version_major", d.version_major, "version_minor",
                                d.version_minor, "version_patch", d.version_patch,
                                "module_id", mid ? mid : json_null(), "max_pcrs", d.max_pcrs,
                                "locked_pcrs", locked,
                                "digest", (unsigned)d.digest < 3 ? digests[d.digest] : "unknown"));
}

static int cmd_attest(int argc, char **argv)
{
    static uint8_t pk[MAX_INPUT], ud[MAX_INPUT], nonce[MAX_INPUT];
    size_t pk_len = 0, ud_len = 0, nonce_len = 0;
    bool has_pk = false, has_ud = false, has_nonce = false;
    int rc;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (i + 1 >= argc)
            return fail(EXIT_USAGE, "usage: attest [--public-key FILE] [--user-data HEX] "
                                    "[--nonce HEX]");
        const char *val = argv[++i];
        if (!strcmp(opt, "--public-key") && !has_pk) {
            has_pk = true;
            rc = read_file(val, pk, &pk_len);
        } else if (!strcmp(opt, "--user-data") && !has_ud) {
            has_ud = true;
            rc = parse_hex(opt, val, ud, &ud_len);
        } else if (!strcmp(opt, "--nonce") && !has_nonce) {
            has_nonce = true;
            rc = parse_hex(opt, val, nonce, &nonce_len);
        } else {
            return fail(EXIT_USAGE, "usage: attest [--public-key FILE] [--user-data HEX] "
                                    "[--nonce HEX]");
        }
        if (rc)
            return rc;
    }
    if (isatty(STDOUT_FILENO))
        return fail(EXIT_USAGE, "attest writes a binary document: redirect stdout to a file");
    int32_t fd;
    if ((rc = open_nsm(&fd)))
        return rc;
    uint8_t *doc = malloc(NSM_RESPONSE_MAX);
    if (doc == NULL) {
        nsm_lib_exit(fd);
        return fail(EXIT_IO, "out of memory");
    }
    uint32_t doc_len = NSM_RESPONSE_MAX;
    ErrorCode e = nsm_get_attestation_doc(fd, has_ud ? ud : NULL, (uint32_t)ud_len,
                                          has_nonce ? nonce : NULL, (uint32_t)nonce_len,
                                          has_pk ? pk : NULL, (uint32_t)pk_len, doc, &doc_len);
    nsm_lib_exit(fd);
    if (e != ERROR_CODE_SUCCESS) {
        free(doc);
        return nsm_fail("attest", e);
    }
    rc = write_stdout(doc, doc_len);
    free(doc);
    return rc;
}

static int cmd_random(int argc, char **argv)
{
    bool raw = false;
    long n = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--raw") && !raw)
            raw = true;
        else if (n < 0 && (n = parse_index(argv[i], MAX_RANDOM)) >= 1)
            ;
        else
            return fail(EXIT_USAGE, "usage: random N [--raw] (1 <= N <= %d)", MAX_RANDOM);
    }
    if (n < 1)
        return fail(EXIT_USAGE, "usage: random N [--raw] (1 <= N <= %d)", MAX_RANDOM);
    if (raw && isatty(STDOUT_FILENO))
        return fail(EXIT_USAGE, "--raw writes binary: redirect stdout to a file");
    int32_t fd;
    int rc = open_nsm(&fd);
    if (rc)
        return rc;
    uint8_t *buf = malloc((size_t)n);
    char *hex = malloc(2 * (size_t)n + 2);
    if (buf == NULL || hex == NULL) {
        rc = fail(EXIT_IO, "out of memory");
        goto out;
    }
    /* GetRandom gives up to 256 bytes per call. */
    for (size_t got = 0; got < (size_t)n;) {
        uintptr_t len = (uintptr_t)((size_t)n - got);
        ErrorCode e = nsm_get_random(fd, buf + got, &len);
        if (e != ERROR_CODE_SUCCESS) {
            rc = nsm_fail("random", e);
            goto out;
        }
        if (len == 0) {
            rc = fail(EXIT_NSM, "random: the module returned no bytes");
            goto out;
        }
        got += len;
    }
    if (raw) {
        rc = write_stdout(buf, (size_t)n);
    } else {
        hex_encode(hex, buf, (size_t)n);
        hex[2 * n] = '\n';
        rc = write_stdout(hex, 2 * (size_t)n + 1);
    }
out:
    if (buf)
        explicit_bzero(buf, (size_t)n);
    if (hex)
        explicit_bzero(hex, 2 * (size_t)n + 2);
    free(buf);
    free(hex);
    nsm_lib_exit(fd);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    if (!strcmp(cmd, "describe-pcr"))
        return cmd_describe_pcr(argc, argv);
    if (!strcmp(cmd, "extend-pcr"))
        return cmd_extend_pcr(argc, argv);
    if (!strcmp(cmd, "lock-pcr"))
        return cmd_lock(argc, argv, false);
    if (!strcmp(cmd, "lock-pcrs"))
        return cmd_lock(argc, argv, true);
    if (!strcmp(cmd, "describe"))
        return cmd_describe(argc, argv);
    if (!strcmp(cmd, "attest"))
        return cmd_attest(argc, argv);
    if (!strcmp(cmd, "random"))
        return cmd_random(argc, argv);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return fail(EXIT_USAGE, "unknown command '%s'", cmd);
}
