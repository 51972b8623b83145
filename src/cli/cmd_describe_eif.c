/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister describe-eif --eif-path F`: nitro-cli's EifDescribeInfo
 * (docs/eif.md, "The commands"; aws-nitro-enclaves-cli src/lib.rs
 * describe_eif, image-format src/utils/eif_reader.rs get_certificate_info),
 * keys in its order:
 *
 *   EifVersion, Measurements, IsSigned, [SigningCertificate], CheckCRC,
 *   [SignatureCheck], [ImageName, ImageVersion, Metadata]
 *
 * A CRC mismatch is reported ("CheckCRC": false) with exit status 0; a file
 * that is not a well-formed EIF fails with E35.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cloister/eif.h>

#include "cli.h"
#include "commands.h"
#include "eif/eif_json.h"

/* Asn1Object's Display in rust-openssl: OBJ_obj2txt(no_name = 0), the long name. */
static json_t *obj_name(const ASN1_OBJECT *o)
{
    char buf[128];
    OBJ_obj2txt(buf, sizeof(buf), o, 0);
    return json_string(buf);
}

static json_t *time_json(const ASN1_TIME *t)
{
    /* Asn1TimeRef's Display: ASN1_TIME_print, "Mar  1 12:00:00 2024 GMT" */
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    json_t *j = NULL;
    if (b && ASN1_TIME_print(b, t)) {
        long n = BIO_get_mem_data(b, &p);
        j = json_stringn(p, (size_t)n);
    }
    BIO_free(b);
    return j ? j : json_string("");
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* SignCertificateInfo: IssuerName (a sorted map), Algorithm, NotBefore,
 * NotAfter, Signature as "AB:CD:...". */
static json_t *certificate_json(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *c = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!c)
        return NULL;
    json_t *issuer = json_object(), *j = json_object();
    const X509_NAME *name = X509_get_issuer_name(c);
    int n = X509_NAME_entry_count(name);
    /* later entries with the same key win, as BTreeMap::insert does */
    json_t *tmp = json_object();
    for (int i = 0; i < n; i++) {
        const X509_NAME_ENTRY *en = X509_NAME_get_entry(name, i);
        char key[128];
        unsigned char *utf8 = NULL;
        OBJ_obj2txt(key, sizeof(key), X509_NAME_ENTRY_get_object(en), 0);
        int ul = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(en));
        json_object_set_new(tmp, key, ul >= 0 ? json_stringn((char *)utf8, (size_t)ul)
                                              : json_string("error"));
        OPENSSL_free(utf8);
    }
    size_t nk = json_object_size(tmp), k = 0;
    const char **keys = calloc(nk ? nk : 1, sizeof(*keys));
    const char *key;
    json_t *v;
    json_object_foreach(tmp, key, v) keys[k++] = key;
    qsort(keys, nk, sizeof(*keys), cmp_keys);
    for (k = 0; k < nk; k++)
        json_object_set(issuer, keys[k], json_object_get(tmp, keys[k]));
    free(keys);
    json_decref(tmp);
    json_object_set_new(j, "IssuerName", issuer);

    const X509_ALGOR *alg = NULL;
    const ASN1_BIT_STRING *sig = NULL;
    X509_get0_signature(&sig, &alg, c);
    const ASN1_OBJECT *aobj = NULL;
    X509_ALGOR_get0(&aobj, NULL, NULL, alg);
    json_object_set_new(j, "Algorithm", obj_name(aobj));
    json_object_set_new(j, "NotBefore", time_json(X509_get0_notBefore(c)));
    json_object_set_new(j, "NotAfter", time_json(X509_get0_notAfter(c)));
    /* format!("{:02X?}", bytes) with "[]" removed and ", " -> ":" */
    int sl = ASN1_STRING_length(sig);
    const unsigned char *sd = ASN1_STRING_get0_data(sig);
    char *hex = malloc(sl > 0 ? (size_t)sl * 3 : 1);
    hex[0] = 0;
    for (int i = 0; i < sl; i++)
        sprintf(hex + 3 * i, i + 1 < sl ? "%02X:" : "%02X", sd[i]);
    json_object_set_new(j, "Signature", json_string(hex));
    free(hex);
    X509_free(c);
    return j;
}

int cmd_describe_eif(int argc, char **argv)
{
    static const struct option opts[] = {
        { "eif-path", required_argument, NULL, 'e' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1;) {
        switch (c) {
        case 'e':
            if (path)
                return cli_fail(E_INVALID_ARGUMENT, "--eif-path was given more than once");
            path = optarg;
            break;
        case 'h':
            printf("Usage: %s describe-eif --eif-path FILE\n", cli_prog());
            return 0;
        case ':':
            return cli_fail(E_MISSING_ARGUMENT, "%s requires a value", argv[optind - 1]);
        default:
            return cli_fail(E_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_fail(E_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
    if (!path)
        return cli_fail(E_MISSING_ARGUMENT, "--eif-path is required");

    struct cl_error err = { 0 };
    struct eif *e = NULL;
    if (eif_open(path, &e, &err) < 0)
        return cli_fail_lib(nitro_errno_of_eif_open(err.code), &err);
    int rc = 0;
    json_t *meta = NULL;
    if (eif_metadata_describe_json(e, &meta, &err) < 0) {
        rc = cli_fail_lib(err.code == CL_ENOMEM ? E_UNSPECIFIED : E_EIF_PARSING, &err);
        goto out;
    }
    json_t *out = json_object();
    json_object_set_new(out, "EifVersion", json_integer(eif_version(e)));
    json_object_set_new(out, "Measurements", eif_measurements_json(eif_measurements(e)));
    json_object_set_new(out, "IsSigned", json_boolean(eif_is_signed(e)));
    if (eif_is_signed(e)) {
        size_t len;
        const char *pem = eif_signing_cert_pem(e, &len);
        json_t *cert = certificate_json(pem, len);
        if (!cert) {
            json_decref(out);
            rc = cli_fail(E_EIF_PARSING, "the signing certificate cannot be parsed");
            goto out;
        }
        json_object_set_new(out, "SigningCertificate", cert);
    }
    json_object_set_new(out, "CheckCRC", json_boolean(eif_crc_ok(e)));
    if (eif_is_signed(e))
        json_object_set_new(out, "SignatureCheck", json_boolean(eif_signature_ok(e)));
    if (meta)
        json_object_update(out, meta);
    rc = cli_print_json(out);
out:
    json_decref(meta);
    eif_free(e);
    return rc;
}
