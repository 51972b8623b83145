/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host configuration: what a Nitro host's platform knows about the
 * parent instance and puts into every enclave's NSM (docs/nsm.md, "Host
 * configuration"):
 *   instance_id      -> PCR4 = SHA384(0^48 || instance_id), and the
 *                       module_id "<instance_id>-enc<16 hex>"
 *   parent_role_arn  -> PCR3 = SHA384(0^48 || role ARN); zero when none
 *
 * One file, read alike by everything that builds a module (`cloister
 * attest`, the runtime): /etc/cloister/host.conf, or the file named by
 * $CLOISTER_HOST_CONFIG. Format, one setting per line:
 *
 *     # comment
 *     instance_id = i-0123456789abcdef0
 *     parent_role_arn = arn:aws:iam::123456789012:role/Webserver
 *
 * Blank lines and lines starting with '#' are ignored; spaces and tabs
 * around keys and values are trimmed; no quoting. Unknown keys, repeated
 * keys, lines without '=', NUL bytes and invalid values are errors that
 * name the file and line.
 * Defaults: instance_id "i-0000000000000000" (nitro-cli's fallback when
 * the instance's board_asset_tag is missing), no parent role (PCR3 zero).
 */
#ifndef CLOISTER_HOSTCONF_H
#define CLOISTER_HOSTCONF_H

#include <stdbool.h>
#include <stddef.h>

#include <cloister/error.h>

#define HOSTCONF_DEFAULT_PATH "/etc/cloister/host.conf"
#define HOSTCONF_ENV "CLOISTER_HOST_CONFIG"
#define HOSTCONF_DEFAULT_INSTANCE_ID "i-0000000000000000"
#define HOSTCONF_INSTANCE_ID_MAX 34 /* "i-" + at most 32 hex digits */
#define HOSTCONF_ROLE_ARN_MAX 2048  /* IAM's limit on an ARN */
#define HOSTCONF_FILE_MAX 65536

struct hostconf {
    char instance_id[HOSTCONF_INSTANCE_ID_MAX + 1];
    char parent_role_arn[HOSTCONF_ROLE_ARN_MAX + 1]; /* "" when none */
};

/* The defaults above. */
void hostconf_defaults(struct hostconf *hc);

/*
 * Parses the text of a configuration file (len bytes; NUL bytes are
 * rejected). name is used in error messages ("<name>:<line>: ...").
 * *hc starts from the defaults; on failure it holds the defaults.
 */
CL_MUST_USE int hostconf_parse(const char *text, size_t len, const char *name, struct hostconf *hc,
                               struct cl_error *err);

/* Reads and parses path (at most HOSTCONF_FILE_MAX bytes). */
CL_MUST_USE int hostconf_load_file(const char *path, struct hostconf *hc, struct cl_error *err);

/*
 * The configuration of this host: the file named by $CLOISTER_HOST_CONFIG
 * when it is set and not empty (it must exist), else
 * HOSTCONF_DEFAULT_PATH when it exists, else the defaults.
 * *path_used (may be NULL) gets the file read, or NULL for the defaults.
 */
CL_MUST_USE int hostconf_load(struct hostconf *hc, const char **path_used, struct cl_error *err);

/* Validators, exposed for callers that take the values elsewhere:
 * "i-" followed by 1 to 32 lowercase hex digits. */
bool hostconf_instance_id_valid(const char *s);
/* arn:<partition>:iam::<12 digits>:role/<path and name>, where the name
 * uses IAM's characters [A-Za-z0-9+=,.@_/-], at most 2048 bytes. */
bool hostconf_role_arn_valid(const char *s);

#endif
