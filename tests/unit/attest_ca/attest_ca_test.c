/* SPDX-License-Identifier: Apache-2.0 */
/* The local attestation CA: files and modes, refusal to overwrite, signers
 * issued from it, rotation, refusal of exposed or damaged keys, and the
 * creation on first use (once, also when processes race). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cloister/attestation.h>

#include "attest_ca/attest_ca.h"
#include "attest_ca/attest_issue.h"
#include "base/fileio.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/attest_ca_test_XXXXXX");
    assert_non_null(mkdtemp(dir));
    strcat(dir, "/ca"); /* init creates it */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static char *path(const char *rel)
{
    static char p[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, rel);
    return p[i];
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    return st.st_mode & 07777;
}

static X509 *read_cert(const char *p)
{
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static bool file_contains(const char *p, const char *needle)
{
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(file_read_all(p, 1 << 20, &d, &n, NULL), 0);
    bool found = strstr((char *)d, needle) != NULL;
    free(d);
    return found;
}

static uint8_t *issue(struct attest_signer *s, size_t *len)
{
    static uint8_t pcrs[32][48];
    struct attest_doc_fields f = {
        .module_id = "i-0000000000000000-enc0000000000000000",
        .timestamp_ms = (uint64_t)time(NULL) * 1000,
        .pcrs = (const uint8_t(*)[48])pcrs,
        .pcr_mask = 0xffff,
    };
    uint8_t *doc = NULL;
    assert_int_equal(attest_doc_issue(s, &f, &doc, len, NULL), 0);
    return doc;
}

static int verify_with_root(const char *root_pem, const uint8_t *doc, size_t len, struct cl_error *err)
{
    struct attest_verifier *v = NULL;
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_verifier_add_root_file(v, root_pem, NULL), 0);
    int rc = attest_verify(v, doc, len, NULL, NULL, err);
    attest_verifier_free(v);
    return rc;
}

static void init_creates_the_layout(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    if (attest_ca_init(dir, false, &err) < 0)
        fail_msg("init: %s", err.reason);
    assert_int_equal(mode_of(dir), 0755);
    assert_int_equal(mode_of(path("root.pem")), 0644);
    assert_int_equal(mode_of(path("intermediate.pem")), 0644);
    assert_int_equal(mode_of(path("private")), 0700);
    assert_int_equal(mode_of(path("private/root.key")), 0600);
    assert_int_equal(mode_of(path("private/intermediate.pem")), 0600);
    /* private keys only in the private directory */
    assert_false(file_contains(path("root.pem"), "PRIVATE KEY"));
    assert_false(file_contains(path("intermediate.pem"), "PRIVATE KEY"));
    assert_true(file_contains(path("private/root.key"), "PRIVATE KEY"));
    assert_true(file_contains(path("private/intermediate.pem"), "PRIVATE KEY"));

    X509 *root = read_cert(path("root.pem")), *inter = read_cert(path("intermediate.pem"));
    assert_int_equal(X509_check_issued(root, root), X509_V_OK);
    assert_int_equal(X509_check_issued(root, inter), X509_V_OK);
    assert_int_equal(X509_check_ca(root), 1);
    assert_int_equal(X509_check_ca(inter), 1);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(root)), 384);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(inter)), 384);
    int64_t nb, na;
    assert_int_equal(attest_ca_cert_times(root, &nb, &na), 0);
    assert_true(na - nb >= 29LL * 365 * 86400);
    assert_int_equal(attest_ca_cert_times(inter, &nb, &na), 0);
    assert_int_equal(na - nb, ATTEST_CA_INTERMEDIATE_SECONDS + 3600);
    X509_free(root);
    X509_free(inter);

    struct attest_ca_info info;
    assert_int_equal(attest_ca_info(dir, &info, NULL), 0);
    assert_int_equal(strlen(info.root_sha256), 64);
    assert_non_null(strstr(info.root_subject, "O=Cloister"));
}

static void init_refuses_to_overwrite(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    struct attest_ca_info before, after;
    assert_int_equal(attest_ca_info(dir, &before, NULL), 0);
    assert_int_equal(attest_ca_init(dir, false, &err), CL_EEXIST);
    char want[256];
    snprintf(want, sizeof(want),
             "an attestation CA already exists in '%s' (use --force to replace it)", dir);
    assert_string_equal(err.reason, want);
    assert_int_equal(attest_ca_info(dir, &after, NULL), 0);
    assert_string_equal(before.root_sha256, after.root_sha256);
    /* --force replaces it */
    assert_int_equal(attest_ca_init(dir, true, NULL), 0);
    assert_int_equal(attest_ca_info(dir, &after, NULL), 0);
    assert_string_not_equal(before.root_sha256, after.root_sha256);
}

static void signer_from_ca_round_trip(void **state)
{
    (void)state;
    struct attest_signer *s = NULL, *eph = NULL;
    struct cl_error err = { 0 };
    if (attest_signer_new_from_ca(dir, &s, &err) < 0)
        fail_msg("signer: %s", err.reason);
    size_t len = 0;
    uint8_t *doc = issue(s, &len);
    assert_int_equal(verify_with_root(path("root.pem"), doc, len, NULL), 0);
    /* the root in the document is root.pem */
    char *pem = NULL;
    assert_int_equal(attest_signer_root_pem(s, &pem, NULL), 0);
    assert_true(file_contains(path("root.pem"), pem + 28)); /* past the BEGIN line */
    free(pem);
    /* and another CA's root does not verify it */
    assert_int_equal(attest_signer_new_ephemeral(&eph, NULL), 0);
    assert_int_equal(attest_signer_root_pem(eph, &pem, NULL), 0);
    struct attest_verifier *v = NULL;
    assert_int_equal(attest_verifier_new(&v, NULL), 0);
    assert_int_equal(attest_verifier_add_root_pem(v, pem, strlen(pem), NULL), 0);
    assert_int_equal(attest_verify(v, doc, len, NULL, NULL, &err), CL_ECHAIN);
    attest_verifier_free(v);
    free(pem);
    free(doc);
    attest_signer_free(s);
    attest_signer_free(eph);
}

static void rotation(void **state)
{
    (void)state;
    bool rotated = true;
    struct attest_ca_info a, b;
    struct attest_signer *s = NULL;
    assert_int_equal(attest_signer_new_from_ca(dir, &s, NULL), 0);
    size_t len = 0;
    uint8_t *old_doc = issue(s, &len);
    attest_signer_free(s);

    assert_int_equal(attest_ca_info(dir, &a, NULL), 0);
    assert_int_equal(attest_ca_rotate(dir, false, &rotated, NULL), 0);
    assert_false(rotated); /* 30 days left: not due */
    assert_int_equal(attest_ca_rotate(dir, true, &rotated, NULL), 0);
    assert_true(rotated);
    assert_int_equal(attest_ca_info(dir, &b, NULL), 0);
    assert_string_equal(a.root_sha256, b.root_sha256);
    /* documents signed under the previous intermediate still verify */
    assert_int_equal(verify_with_root(path("root.pem"), old_doc, len, NULL), 0);
    free(old_doc);

    /* an intermediate with 1 day left is replaced when a signer is made */
    EVP_PKEY *rkey = NULL, *ikey = NULL;
    X509 *root = read_cert(path("root.pem")), *inter = NULL;
    FILE *f = fopen(path("private/root.key"), "r");
    rkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(rkey);
    assert_int_equal(attest_ca_generate_key(&ikey, NULL), 0);
    assert_int_equal(attest_ca_make_intermediate(ikey, "short", rkey, root, (int64_t)time(NULL),
                                                 86400 - 3600, &inter, NULL), 0);
    f = fopen(path("private/intermediate.pem"), "w");
    PEM_write_PrivateKey(f, ikey, NULL, NULL, 0, NULL, NULL);
    PEM_write_X509(f, inter);
    fclose(f);
    assert_int_equal(attest_signer_new_from_ca(dir, &s, NULL), 0);
    assert_int_equal(attest_ca_info(dir, &b, NULL), 0);
    assert_true(b.intermediate_not_after - (int64_t)time(NULL) > 29 * 86400);
    old_doc = issue(s, &len);
    assert_int_equal(verify_with_root(path("root.pem"), old_doc, len, NULL), 0);
    assert_int_equal(mode_of(path("private/intermediate.pem")), 0600);
    free(old_doc);
    attest_signer_free(s);
    EVP_PKEY_free(rkey);
    EVP_PKEY_free(ikey);
    X509_free(root);
    X509_free(inter);
}

static void refuses_exposed_or_damaged_keys(void **state)
{
    (void)state;
    struct attest_signer *s = NULL;
    struct cl_error err = { 0 };
    char want[512];

    assert_int_equal(chmod(path("private"), 0755), 0);
    assert_int_equal(attest_signer_new_from_ca(dir, &s, &err), CL_EPERM);
    snprintf(want, sizeof(want), "'%s' is accessible to other users (mode 0755, expected 0700)", path("private"));
    assert_string_equal(err.reason, want);
    cl_error_clear(&err);
    assert_int_equal(chmod(path("private"), 0700), 0);

    assert_int_equal(chmod(path("private/intermediate.pem"), 0640), 0);
    assert_int_equal(attest_signer_new_from_ca(dir, &s, &err), CL_EPERM);
    snprintf(want, sizeof(want), "'%s' is accessible to other users (mode 0640, expected 0600)",
             path("private/intermediate.pem"));
    assert_string_equal(err.reason, want);
    cl_error_clear(&err);
    assert_int_equal(chmod(path("private/intermediate.pem"), 0600), 0);

    /* an intermediate that the root did not sign */
    struct attest_signer *eph = NULL;
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(attest_ca_generate_key(&k, NULL), 0);
    assert_int_equal(attest_ca_make_root(k, "impostor", now, 86400 * 60, &x, NULL), 0);
    uint8_t *saved = NULL;
    size_t saved_len = 0;
    assert_int_equal(file_read_all(path("private/intermediate.pem"), 1 << 20, &saved, &saved_len, NULL), 0);
    FILE *f = fopen(path("private/intermediate.pem"), "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    PEM_write_X509(f, x);
    fclose(f);
    assert_int_equal(attest_signer_new_from_ca(dir, &s, &err), CL_EFORMAT);
    assert_non_null(strstr(err.reason, "is not signed by"));
    cl_error_clear(&err);
    /* a key that does not match its certificate */
    assert_int_equal(attest_signer_new_ephemeral(&eph, NULL), 0);
    f = fopen(path("private/intermediate.pem"), "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fwrite(saved, 1, saved_len, f); /* the real key and certificate follow; the first key is read */
    fclose(f);
    assert_int_equal(attest_signer_new_from_ca(dir, &s, &err), CL_EFORMAT);
    snprintf(want, sizeof(want), "the key in '%s' does not match its certificate", path("private/intermediate.pem"));
    assert_non_null(strstr(err.reason, want));
    cl_error_clear(&err);
    assert_int_equal(file_write_atomic(path("private/intermediate.pem"), saved, saved_len, 0600, NULL), 0);
    assert_int_equal(attest_signer_new_from_ca(dir, &s, NULL), 0);
    attest_signer_free(s);
    attest_signer_free(eph);
    free(saved);
    EVP_PKEY_free(k);
    X509_free(x);
}

static void missing_ca(void **state)
{
    (void)state;
    struct attest_signer *s = NULL;
    struct cl_error err = { 0 };
    char want[256];
    assert_int_equal(attest_signer_new_from_ca("/nonexistent/cloister-ca", &s, &err), CL_ENOTFOUND);
    snprintf(want, sizeof(want),
             "no attestation CA in '/nonexistent/cloister-ca' (run `cloister attestation-ca init`)");
    assert_string_equal(err.reason, want);
    assert_null(s);
}

/* A directory beside the group's CA: <base>/<name>. */
static char *beside(const char *name)
{
    static char p[2][256];
    static int i;
    i = (i + 1) % 2;
    snprintf(p[i], sizeof(p[i]), "%.*s/%s", (int)(strrchr(dir, '/') - dir), dir, name);
    return p[i];
}

static void ensure_creates_only_when_there_is_none(void **state)
{
    (void)state;
    struct cl_error err = { 0 };
    struct attest_ca_info first, again;
    bool created = false;
    char d[256], f[300];
    snprintf(d, sizeof(d), "%s", beside("ensure"));
    if (attest_ca_ensure(d, &created, &err) < 0)
        fail_msg("ensure: %s", err.reason);
    assert_true(created);
    assert_int_equal(attest_ca_info(d, &first, NULL), 0);
    assert_int_equal(attest_ca_ensure(d, &created, NULL), 0);
    assert_false(created);
    assert_int_equal(attest_ca_info(d, &again, NULL), 0);
    assert_string_equal(first.root_sha256, again.root_sha256);

    /* half a CA (a root key, no root.pem) is left as it is */
    snprintf(d, sizeof(d), "%s", beside("half"));
    assert_int_equal(mkdir(d, 0755), 0);
    snprintf(f, sizeof(f), "%s/private", d);
    assert_int_equal(mkdir(f, 0700), 0);
    snprintf(f, sizeof(f), "%s/private/root.key", d);
    assert_int_equal(file_write_atomic(f, "x", 1, 0600, NULL), 0);
    assert_int_equal(attest_ca_ensure(d, &created, NULL), 0);
    assert_false(created);
    snprintf(f, sizeof(f), "%s/root.pem", d);
    assert_int_equal(access(f, F_OK), -1);

    /* so is a relying party's copy of root.pem, which cannot sign */
    snprintf(d, sizeof(d), "%s", beside("copy"));
    assert_int_equal(mkdir(d, 0755), 0);
    snprintf(f, sizeof(f), "%s/root.pem", d);
    uint8_t *pem = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(beside("ensure/root.pem"), 65536, &pem, &len, NULL), 0);
    assert_int_equal(file_write_atomic(f, pem, len, 0644, NULL), 0);
    free(pem);
    assert_int_equal(attest_ca_ensure(d, &created, NULL), 0);
    assert_false(created);
    struct attest_signer *s = NULL;
    assert_int_equal(attest_signer_new_from_ca(d, &s, &err), CL_ENOTFOUND);
    char want[700];
    snprintf(want, sizeof(want), "'%s' holds a root.pem but not the CA's private keys (%s/private)", d, d);
    assert_string_equal(err.reason, want);
}

/* Four processes that start ensure together make one CA between them, a
 * whole one (its intermediate is signed by its root). */
static void ensure_racing_processes_make_one_ca(void **state)
{
    (void)state;
    char d[256];
    snprintf(d, sizeof(d), "%s", beside("race"));
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0)
                _exit(3);
            bool created = false;
            _exit(attest_ca_ensure(d, &created, NULL) < 0 ? 2 : created ? 1 : 0);
        }
    }
    close(go[0]);
    close(go[1]); /* all start now */
    int made = 0;
    for (int i = 0; i < 4; i++) {
        int st;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
        made += WEXITSTATUS(st);
    }
    assert_int_equal(made, 1);
    struct attest_signer *s = NULL;
    assert_int_equal(attest_signer_new_from_ca(d, &s, NULL), 0);
    attest_signer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_creates_the_layout),
        cmocka_unit_test(init_refuses_to_overwrite),
        cmocka_unit_test(signer_from_ca_round_trip),
        cmocka_unit_test(rotation),
        cmocka_unit_test(refuses_exposed_or_damaged_keys),
        cmocka_unit_test(missing_ca),
        cmocka_unit_test(ensure_creates_only_when_there_is_none),
        cmocka_unit_test(ensure_racing_processes_make_one_ca),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
