/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite store (store.h): keys and material versions wrapped by the
 * master key, aliases, tags, principals, access keys, pagination; state
 * that survives closing and reopening; the wrong master key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "util/kmsutil.h"
#include "state/store.h"

static uint8_t MK[32] = { 9, 9, 9 };

struct fx {
    char dir[64];
    char path[128];
    struct store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/kms_store_test.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/kms.db", f->dir);
    if (store_open(f->path, MK, &f->st, NULL) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void make_key(struct store *st, const char *id, const uint8_t *m)
{
    struct store_key k = { 0 };
    snprintf(k.id, sizeof(k.id), "%s", id);
    k.created = 1000.5;
    k.description = "d";
    k.usage = KEY_USAGE_ENCRYPT_DECRYPT;
    snprintf(k.key_spec, sizeof(k.key_spec), "SYMMETRIC_DEFAULT");
    snprintf(k.origin, sizeof(k.origin), "AWS_KMS");
    k.state = KEY_ENABLED;
    k.rotation_period_days = 365;
    k.policy = "{}";
    json_t *tags = json_pack("[{s:s, s:s}]", "TagKey", "t", "TagValue", "v");
    assert_int_equal(store_key_create(st, &k, m, 32, tags, NULL), 0);
    json_decref(tags);
}

static void test_keys_material_rotation(void **state)
{
    struct fx *f = *state;
    uint8_t m1[32] = { 1 }, m2[32] = { 2 };
    make_key(f->st, "11111111-1111-4111-8111-111111111111", m1);
    struct store_key k;
    assert_int_equal(store_key_get(f->st, "11111111-1111-4111-8111-111111111111", &k, NULL), 0);
    assert_int_equal(k.current_version, 1);
    assert_int_equal(k.state, KEY_ENABLED);
    assert_int_equal(k.usage, KEY_USAGE_ENCRYPT_DECRYPT);
    assert_true(k.created == 1000.5);
    uint32_t nv = 0;
    assert_int_equal(store_key_rotate(f->st, k.id, m2, 32, 5000, false, &nv, NULL), 0);
    assert_int_equal(nv, 2);
    assert_int_equal(store_key_rotate(f->st, k.id, m2, 32, 6000, true, &nv, NULL), 0);
    assert_int_equal(nv, 3);
    /* each rotation's type, oldest first; the first material only on request */
    json_t *rows = NULL;
    bool more = true;
    assert_int_equal(store_rotation_list(f->st, k.id, 0, false, 10, &rows, &more, NULL), 0);
    assert_false(more);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "Type")),
                        "AUTOMATIC");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "Type")),
                        "ON_DEMAND");
    json_decref(rows);
    assert_int_equal(store_rotation_list(f->st, k.id, 0, true, 2, &rows, &more, NULL), 0);
    assert_true(more);
    assert_int_equal(json_array_size(rows), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "Version")), 1);
    assert_null(json_object_get(json_array_get(rows, 0), "Type"));
    json_decref(rows);
    assert_int_equal(store_rotation_list(f->st, k.id, 2, true, 2, &rows, &more, NULL), 0);
    assert_false(more);
    assert_int_equal(json_array_size(rows), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "Version")), 3);
    json_decref(rows);
    uint8_t *m = NULL;
    size_t n = 0;
    assert_int_equal(store_material_get(f->st, k.id, 1, &m, &n, NULL), 0);
    assert_int_equal(n, 32);
    assert_memory_equal(m, m1, 32);
    free(m);
    assert_int_equal(store_material_get(f->st, k.id, 2, &m, &n, NULL), 0);
    assert_memory_equal(m, m2, 32);
    free(m);
    struct cl_error err = { 0 };
    assert_int_equal(store_material_get(f->st, k.id, 4, &m, &n, &err), CL_ENOTFOUND);
    assert_string_equal(err.reason,
                        "no material version 4 for key 11111111-1111-4111-8111-111111111111");
    /* the material is not stored in the clear */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT wrapped FROM key_material", -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        assert_int_equal(sqlite3_column_bytes(s, 0), 12 + 32 + 16);
        assert_null(memmem(sqlite3_column_blob(s, 0), 60, m1, 32));
    }
    sqlite3_finalize(s);
    /* and the journal mode is WAL, synchronous FULL */
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
    k.state = KEY_DISABLED;
    assert_int_equal(store_key_update(f->st, &k, NULL), 0);
    store_key_clear(&k);
    /* survives reopening; a wrong master key cannot unwrap */
    store_close(f->st);
    assert_int_equal(store_open(f->path, MK, &f->st, NULL), 0);
    assert_int_equal(store_key_get(f->st, "11111111-1111-4111-8111-111111111111", &k, NULL), 0);
    assert_int_equal(k.state, KEY_DISABLED);
    assert_int_equal(k.current_version, 3);
    store_key_clear(&k);
    struct store *other;
    uint8_t bad[32] = { 8 };
    assert_int_equal(store_open(f->path, bad, &other, NULL), 0);
    cl_error_clear(&err);
    assert_int_equal(
        store_material_get(other, "11111111-1111-4111-8111-111111111111", 1, &m, &n, &err),
        CL_ECRYPTO);
    assert_non_null(strstr(err.reason, "does not unwrap with the master key"));
    store_close(other);
    assert_int_equal(store_key_delete(f->st, "11111111-1111-4111-8111-111111111111", NULL), 0);
    assert_int_equal(store_key_get(f->st, "11111111-1111-4111-8111-111111111111", &k, NULL),
                     CL_ENOTFOUND);
    assert_int_equal(
        store_material_get(f->st, "11111111-1111-4111-8111-111111111111", 1, &m, &n, NULL),
        CL_ENOTFOUND);
}

/* State and usage are enums in memory and AWS's names in the database, so
 * stores written before the enums open unchanged; other text is refused. */
static void test_key_state_and_usage_columns(void **state)
{
    struct fx *f = *state;
    uint8_t m[32] = { 3 };
    make_key(f->st, "22222222-2222-4222-8222-222222222222", m);
    struct store_key k;
    assert_int_equal(store_key_get(f->st, "22222222-2222-4222-8222-222222222222", &k, NULL), 0);
    k.state = KEY_PENDING_DELETION;
    assert_int_equal(store_key_update(f->st, &k, NULL), 0);
    store_key_clear(&k);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT key_usage, state FROM keys WHERE id = "
                                        "'22222222-2222-4222-8222-222222222222'",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ENCRYPT_DECRYPT");
    assert_string_equal((const char *)sqlite3_column_text(s, 1), "PendingDeletion");
    sqlite3_finalize(s);
    /* a row as an older server wrote it, and one no server writes */
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO keys(id, created, key_usage, key_spec, origin, state,"
                     " policy, current_version) VALUES"
                     " ('33333333-3333-4333-8333-333333333333', 1, 'SIGN_VERIFY',"
                     "  'ECC_NIST_P256', 'AWS_KMS', 'Disabled', '{}', 1),"
                     " ('44444444-4444-4444-8444-444444444444', 1, 'SIGN_VERIFY',"
                     "  'ECC_NIST_P256', 'AWS_KMS', 'Creating', '{}', 1)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_key_get(f->st, "33333333-3333-4333-8333-333333333333", &k, NULL), 0);
    assert_int_equal(k.usage, KEY_USAGE_SIGN_VERIFY);
    assert_int_equal(k.state, KEY_DISABLED);
    store_key_clear(&k);
    struct cl_error err = { 0 };
    assert_int_equal(store_key_get(f->st, "44444444-4444-4444-8444-444444444444", &k, &err),
                     CL_EFORMAT);
    assert_string_equal(err.reason, "key 44444444-4444-4444-8444-444444444444 has an unknown "
                                    "usage 'SIGN_VERIFY' or state 'Creating'");
}

static void test_list_pagination_aliases_tags(void **state)
{
    struct fx *f = *state;
    uint8_t m[32] = { 0 };
    const char *ids[] = { "aaaaaaaa-0000-4000-8000-000000000001",
                          "bbbbbbbb-0000-4000-8000-000000000002",
                          "cccccccc-0000-4000-8000-000000000003" };
    for (int i = 0; i < 3; i++)
        make_key(f->st, ids[i], m);
    json_t *page = NULL;
    bool more = false;
    assert_int_equal(store_key_list(f->st, NULL, 2, &page, &more, NULL), 0);
    assert_int_equal(json_array_size(page), 2);
    assert_true(more);
    assert_string_equal(json_string_value(json_array_get(page, 1)), ids[1]);
    json_decref(page);
    assert_int_equal(store_key_list(f->st, ids[1], 2, &page, &more, NULL), 0);
    assert_int_equal(json_array_size(page), 1);
    assert_false(more);
    json_decref(page);

    assert_int_equal(store_alias_create(f->st, "alias/x", ids[0], 1, NULL), 0);
    assert_int_equal(store_alias_create(f->st, "alias/x", ids[1], 1, NULL), CL_EEXIST);
    assert_int_equal(store_alias_update(f->st, "alias/x", ids[2], 2, NULL), 0);
    char *t = NULL;
    assert_int_equal(store_alias_get(f->st, "alias/x", &t, NULL), 0);
    assert_string_equal(t, ids[2]);
    free(t);
    assert_int_equal(store_alias_update(f->st, "alias/none", ids[2], 2, NULL), CL_ENOTFOUND);
    assert_int_equal(store_alias_list(f->st, ids[2], NULL, 10, &page, &more, NULL), 0);
    assert_int_equal(json_array_size(page), 1);
    json_decref(page);
    assert_int_equal(store_alias_list(f->st, ids[0], NULL, 10, &page, &more, NULL), 0);
    assert_int_equal(json_array_size(page), 0);
    json_decref(page);
    /* deleting a key deletes its aliases and tags */
    assert_int_equal(store_key_delete(f->st, ids[2], NULL), 0);
    assert_int_equal(store_alias_get(f->st, "alias/x", &t, NULL), CL_ENOTFOUND);

    json_t *tags = json_pack("[{s:s,s:s},{s:s,s:s}]", "TagKey", "b", "TagValue", "2", "TagKey", "a",
                             "TagValue", "1");
    assert_int_equal(store_tags_set(f->st, ids[0], tags, NULL), 0);
    json_decref(tags);
    assert_int_equal(store_tags_list(f->st, ids[0], NULL, 50, &page, &more, NULL), 0);
    assert_int_equal(json_array_size(page), 3);
    assert_false(more);
    json_decref(page);
    json_t *rm = json_pack("[s]", "t");
    assert_int_equal(store_tags_remove(f->st, ids[0], rm, NULL), 0);
    json_decref(rm);
    assert_int_equal(store_tags_list(f->st, ids[0], NULL, 1, &page, &more, NULL), 0);
    assert_true(more);
    assert_string_equal(json_string_value(json_object_get(json_array_get(page, 0), "TagKey")), "a");
    json_decref(page);
}

static void test_principals_and_access_keys(void **state)
{
    struct fx *f = *state;
    struct store_principal p = { 0 };
    snprintf(p.arn, sizeof(p.arn), "arn:aws:iam::111122223333:role/r");
    snprintf(p.name, sizeof(p.name), "r");
    snprintf(p.kind, sizeof(p.kind), "role");
    snprintf(p.unique_id, sizeof(p.unique_id), "AROAEXAMPLE");
    assert_int_equal(store_principal_create(f->st, &p, 1, NULL), 0);
    struct cl_error err = { 0 };
    assert_int_equal(store_principal_create(f->st, &p, 1, &err), CL_EEXIST);
    assert_string_equal(err.reason, "principal arn:aws:iam::111122223333:role/r already exists");
    struct store_access_key k = { 0 };
    snprintf(k.akid, sizeof(k.akid), "ASIAEXAMPLE");
    snprintf(k.secret, sizeof(k.secret), "s3cr3t");
    snprintf(k.principal_arn, sizeof(k.principal_arn), "%s", p.arn);
    snprintf(k.caller_arn, sizeof(k.caller_arn), "arn:aws:sts::111122223333:assumed-role/r/s");
    snprintf(k.user_id, sizeof(k.user_id), "AROAEXAMPLE:s");
    k.has_session = true;
    memset(k.token_hash, 0xab, 32);
    k.expiration = 99;
    assert_int_equal(store_access_key_create(f->st, &k, 1, NULL), 0);
    struct store_access_key g;
    assert_int_equal(store_access_key_get(f->st, "ASIAEXAMPLE", &g, NULL), 0);
    assert_string_equal(g.secret, "s3cr3t");
    assert_string_equal(g.caller_arn, k.caller_arn);
    assert_true(g.has_session);
    assert_memory_equal(g.token_hash, k.token_hash, 32);
    assert_true(g.expiration == 99);
    store_access_key_clear(&g);
    assert_int_equal(store_access_key_get(f->st, "AKIANONE", &g, NULL), CL_ENOTFOUND);
    char *v = NULL;
    assert_int_equal(store_meta_get(f->st, "region", &v, NULL), CL_ENOTFOUND);
    assert_int_equal(store_meta_set(f->st, "region", "eu-west-1", NULL), 0);
    assert_int_equal(store_meta_get(f->st, "region", &v, NULL), 0);
    assert_string_equal(v, "eu-west-1");
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keys_material_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_state_and_usage_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_pagination_aliases_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_principals_and_access_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
