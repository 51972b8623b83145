/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log: one JSON line per request, append-only, in the spirit of
 * CloudTrail. Each line's first member is "prev": the hex SHA-256 of the
 * previous line's bytes (64 zeros for the first line), so editing,
 * inserting or removing a line breaks the chain. A head file beside the log
 * (LOG.head: "<line count> <hash of the last line>") is rewritten after
 * every line, so cutting lines off the end is detected too. The head may
 * lag the log by one line after a crash between the two writes; that one
 * line is accepted (it is chained, so it cannot have been forged). A last
 * line torn by a crash (no newline) beyond the head's count is cut off when
 * the log is opened (audit_open); `audit verify` reports it.
 *
 * Lines are written with one write(2) each (O_APPEND), not fsync'd: the
 * store is what must survive power loss; the audit log survives a crash
 * of the process.
 *
 * Callers must never put plaintext, key material or secrets in an event.
 */
#ifndef CLOISTER_KMS_AUDIT_H
#define CLOISTER_KMS_AUDIT_H

#include <stddef.h>

#include <jansson.h>

#include <cloister/error.h>

struct audit; /* opaque; thread-safe */

/*
 * Opens path for appending (creating it), after cutting off a last line
 * torn by a crash (one without its newline, when the complete lines are at
 * least as many as the head records) and verifying the existing chain
 * (audit_verify): a broken chain refuses to open (fail closed), with the
 * reason.
 */
CL_MUST_USE int audit_open(const char *path, struct audit **out, struct cl_error *err);
void audit_close(struct audit *a);

/* Appends event (a JSON object; "prev" is put in front of its members). */
CL_MUST_USE int audit_append(struct audit *a, const json_t *event, struct cl_error *err);

/*
 * Checks the chain of the log at path and its head file. *lines gets the
 * number of lines. CL_ECHECKSUM with "line N: ..." when the chain is broken,
 * CL_EFORMAT when a line is not a JSON object with "prev", CL_ESTATE when
 * the log ends before the recorded head (truncation) or the head is missing.
 */
CL_MUST_USE int audit_verify(const char *path, size_t *lines, struct cl_error *err);

#endif
