/* SPDX-License-Identifier: Apache-2.0 */
#include "vsock/vsock_proto.h"

#include <string.h>

static const uint8_t MAGIC_HELLO[4] = { 'C', 'L', 'V', 'S' };
static const uint8_t MAGIC_REQUEST[4] = { 'C', 'L', 'V', 'Q' };
static const uint8_t MAGIC_RESPONSE[4] = { 'C', 'L', 'V', 'R' };

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void head(uint8_t *out, const uint8_t magic[4], uint16_t second)
{
    memcpy(out, magic, 4);
    put16(out + 4, VSOCK_PROTO_VERSION);
    put16(out + 6, second);
}

/* The common checks: exact length, magic, version. */
static int check_head(const uint8_t *buf, size_t len, const uint8_t magic[4], const char **why)
{
    if (len != VSOCK_MSG_LEN) {
        *why = len < VSOCK_MSG_LEN ? "message too short" : "message too long";
        return -1;
    }
    if (memcmp(buf, magic, 4) != 0) {
        *why = "bad magic";
        return -1;
    }
    if (get16(buf + 4) != VSOCK_PROTO_VERSION) {
        *why = "unsupported version";
        return -1;
    }
    return 0;
}

void vsock_hello_encode(const struct vsock_hello *h, uint8_t out[VSOCK_MSG_LEN])
{
    head(out, MAGIC_HELLO, 0);
    put32(out + 8, h->src_cid);
    put32(out + 12, h->src_port);
    put32(out + 16, h->dst_cid);
    put32(out + 20, h->dst_port);
}

int vsock_hello_decode(const uint8_t *buf, size_t len, struct vsock_hello *h, const char **why)
{
    if (check_head(buf, len, MAGIC_HELLO, why) < 0)
        return -1;
    if (get16(buf + 6) != 0) {
        *why = "unknown flags";
        return -1;
    }
    h->src_cid = get32(buf + 8);
    h->src_port = get32(buf + 12);
    h->dst_cid = get32(buf + 16);
    h->dst_port = get32(buf + 20);
    return 0;
}

void vsock_request_encode(const struct vsock_request *r, uint8_t out[VSOCK_MSG_LEN])
{
    head(out, MAGIC_REQUEST, r->op);
    put32(out + 8, r->cid);
    put32(out + 12, r->port);
    put32(out + 16, r->src_port);
    put32(out + 20, 0);
}

int vsock_request_decode(const uint8_t *buf, size_t len, struct vsock_request *r,
                         const char **why)
{
    if (check_head(buf, len, MAGIC_REQUEST, why) < 0)
        return -1;
    r->op = get16(buf + 6);
    r->cid = get32(buf + 8);
    r->port = get32(buf + 12);
    r->src_port = get32(buf + 16);
    if (get32(buf + 20) != 0) {
        *why = "nonzero reserved field";
        return -1;
    }
    switch (r->op) {
    case VSOCK_OP_CONNECT:
    case VSOCK_OP_LISTEN:
        if (r->op == VSOCK_OP_LISTEN && r->src_port != 0) {
            *why = "nonzero src_port in LISTEN";
            return -1;
        }
        return 0;
    case VSOCK_OP_LOCAL_CID:
        if (r->cid || r->port || r->src_port) {
            *why = "arguments in LOCAL_CID";
            return -1;
        }
        return 0;
    default:
        *why = "unknown operation";
        return -1;
    }
}

void vsock_response_encode(const struct vsock_response *r, uint8_t out[VSOCK_MSG_LEN])
{
    head(out, MAGIC_RESPONSE, r->op);
    put32(out + 8, r->status);
    put32(out + 12, r->cid);
    put32(out + 16, r->port);
    put32(out + 20, 0);
}

int vsock_response_decode(const uint8_t *buf, size_t len, struct vsock_response *r,
                          const char **why)
{
    if (check_head(buf, len, MAGIC_RESPONSE, why) < 0)
        return -1;
    r->op = get16(buf + 6);
    r->status = get32(buf + 8);
    r->cid = get32(buf + 12);
    r->port = get32(buf + 16);
    if (get32(buf + 20) != 0) {
        *why = "nonzero reserved field";
        return -1;
    }
    if (r->op < VSOCK_OP_CONNECT || r->op > VSOCK_OP_LOCAL_CID) {
        *why = "unknown operation";
        return -1;
    }
    if (r->status >= 4096) {
        *why = "status out of range";
        return -1;
    }
    return 0;
}
