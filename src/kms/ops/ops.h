/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KMS operations, one handler each, named after the operation (the
 * serving layer's dispatch table, serve/dispatch.c, maps X-Amz-Target
 * names to them). Each reads its members (call/request.h), resolves and
 * checks its key (ops/key_ref.h), calls authorize() (call/authorize.h),
 * acts, and fills c->out; or records why it refused in c->err and returns
 * -1. Fields and bounds follow botocore's KMS model (docs/kms.md, "The
 * API").
 *
 * By family: keys.c (lifecycle), rotation.c, key_policies.c, tags.c,
 * aliases.c, crypto.c (encrypt, decrypt, re-encrypt), data_keys.c (data
 * keys, key pairs, random), signing.c (public key, sign, verify), mac.c
 * (HMAC keys), agreement.c (key agreement), key_usage.c (last use), grants.c
 * (grants; grant_token.c: ids and tokens), multi_region.c (ReplicateKey,
 * UpdatePrimaryRegion), imports.c (imported key material), custom_key_stores.c.
 */
#ifndef CLOISTER_KMS_OPS_OPS_H
#define CLOISTER_KMS_OPS_OPS_H

#include "call/call.h"

/* keys.c */
int op_create_key(struct call *c);
int op_describe_key(struct call *c);
int op_list_keys(struct call *c);
int op_enable_key(struct call *c);
int op_disable_key(struct call *c);
int op_schedule_key_deletion(struct call *c);
int op_cancel_key_deletion(struct call *c);
int op_update_key_description(struct call *c);

/* rotation.c */
int op_enable_key_rotation(struct call *c);
int op_disable_key_rotation(struct call *c);
int op_get_key_rotation_status(struct call *c);
int op_rotate_key_on_demand(struct call *c);
int op_list_key_rotations(struct call *c); /* key_rotations.c */

/* key_policies.c */
int op_get_key_policy(struct call *c);
int op_put_key_policy(struct call *c);
int op_list_key_policies(struct call *c);

/* tags.c */
int op_tag_resource(struct call *c);
int op_untag_resource(struct call *c);
int op_list_resource_tags(struct call *c);

/* aliases.c */
int op_create_alias(struct call *c);
int op_update_alias(struct call *c);
int op_delete_alias(struct call *c);
int op_list_aliases(struct call *c);

/* crypto.c */
int op_encrypt(struct call *c);
int op_decrypt(struct call *c);
int op_re_encrypt(struct call *c);

/* data_keys.c */
int op_generate_data_key(struct call *c);
int op_generate_data_key_without_plaintext(struct call *c);
int op_generate_data_key_pair(struct call *c);
int op_generate_data_key_pair_without_plaintext(struct call *c);
int op_generate_random(struct call *c);

/* signing.c */
int op_get_public_key(struct call *c);
int op_sign(struct call *c);
int op_verify(struct call *c);

/* mac.c */
int op_generate_mac(struct call *c);
int op_verify_mac(struct call *c);

/* agreement.c */
int op_derive_shared_secret(struct call *c);

/* imports.c */
int op_get_parameters_for_import(struct call *c);
int op_import_key_material(struct call *c);
int op_delete_imported_key_material(struct call *c);

/* key_usage.c */
int op_get_key_last_usage(struct call *c);
/* Notes the keys a successful cryptographic call used (GetKeyLastUsage). */
void key_usage_record(struct call *c);

/* grants.c */
int op_create_grant(struct call *c);
int op_list_grants(struct call *c);
int op_list_retirable_grants(struct call *c);
int op_retire_grant(struct call *c);
int op_revoke_grant(struct call *c);

/* multi_region.c */
int op_replicate_key(struct call *c);
int op_update_primary_region(struct call *c);

/* custom_key_stores.c: answered as for an account without any */
int op_create_custom_key_store(struct call *c);
int op_describe_custom_key_stores(struct call *c);
int op_connect_custom_key_store(struct call *c);
int op_disconnect_custom_key_store(struct call *c);
int op_update_custom_key_store(struct call *c);
int op_delete_custom_key_store(struct call *c);

#endif
