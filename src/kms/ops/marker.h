/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Marker of the List* operations, one format for all: opaque to the
 * client (AWS documents it only as "the value of NextMarker from the
 * truncated response"), so a marker that is not one this server answered
 * for the same list is refused with InvalidMarkerException instead of
 * silently answering an empty or wrong page.
 *
 * A marker is the base64 of an 8-byte check (SHA-256 of the list's scope
 * and the item) followed by the last item returned. The check is not a
 * secret: a forged marker can only pick where a list the caller may read
 * resumes.
 */
#ifndef CLOISTER_KMS_OPS_MARKER_H
#define CLOISTER_KMS_OPS_MARKER_H

#include <jansson.h>

#include <cloister/error.h>

#include "call/call.h"

/* Sets out["NextMarker"]: the marker resuming the list `scope` (the
 * operation, and the key when the list is one key's) after item `last`. */
void marker_set_next(json_t *out, const char *scope, const char *last);

/*
 * The item after which the request's marker resumes the list `scope`:
 * *last is NULL when marker is NULL, else malloc'd (caller frees).
 * InvalidMarkerException when marker was not made for this scope.
 */
CL_MUST_USE int marker_read(struct call *c, const char *scope, const char *marker, char **last);

#endif
