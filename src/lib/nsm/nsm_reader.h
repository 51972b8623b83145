/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A token reader over libcbor's streaming decoder, for the NSM protocol's
 * decoders (nsm_proto_decode.c): one item head at a time, no allocation,
 * byte and text strings pointing into the input, every length checked by
 * libcbor against the bytes that are really there. Internal to nsm/.
 */
#ifndef CLOISTER_NSM_READER_H
#define CLOISTER_NSM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nsm_tok_kind {
    NT_UINT, NT_NEGINT, NT_BSTR, NT_TSTR, NT_BSTR_INDEF, NT_TSTR_INDEF,
    NT_ARRAY, NT_ARRAY_INDEF, NT_MAP, NT_MAP_INDEF, NT_TAG, NT_FLOAT,
    NT_NULL, NT_UNDEF, NT_BOOL, NT_BREAK,
};

struct nsm_tok {
    enum nsm_tok_kind kind;
    uint64_t u;          /* UINT, NEGINT, TAG, ARRAY/MAP size */
    const uint8_t *data; /* BSTR, TSTR: into the input */
    size_t len;
    bool b;
};

struct nsm_cursor {
    const uint8_t *buf;
    size_t len, pos;
};

struct nsm_map_iter {
    bool indefinite;
    uint64_t left;
};

/* Reads the next item head (a whole string for definite strings). False at
 * the end of input, on truncation and on malformed or reserved heads. */
bool nsm_rd_next(struct nsm_cursor *c, struct nsm_tok *t);

/* Skips one complete item whose head is t (used for unknown response
 * fields). Nesting is bounded so hostile input cannot recurse deeply. */
bool nsm_rd_skip_rest(struct nsm_cursor *c, const struct nsm_tok *t, int depth);

/* Map iteration over a definite or an indefinite map: nsm_rd_map_begin()
 * after the map head (false if head is not a map), then nsm_rd_map_next()
 * before each key: 1 a key was read into *key, 0 the map ended, -1
 * malformed. */
bool nsm_rd_map_begin(struct nsm_map_iter *it, const struct nsm_tok *head);
int nsm_rd_map_next(struct nsm_map_iter *it, struct nsm_cursor *c, struct nsm_tok *key);

#endif
