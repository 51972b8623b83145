/* SPDX-License-Identifier: Apache-2.0 */
#include "vsock/vsock_proto.h"

#include "base/byteorder.h"
#include <string.h>

static const uint8_t MAGIC_HELLO[4] = { 'C', 'L', 'V', 'S' };
static const uint8_t MAGIC_REQUEST[4] = { 'C', 'L', 'V', 'Q' };
static const uint8_t MAGIC_RESPONSE[4] = { 'C', 'L', 'V', 'R' };

static void head(uint8_t *out, const uint8_t magic[4], uint16_t second)
{
    memcpy(out, magic, 4);
    be16_store(out + 4, VSOCK_PROTO_VERSION);
    be16_store(out + 6, second);
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
    if (be16_load(buf + 4) != VSOCK_PROTO_VERSION) {
        *why = "unsupported version";
        return -1;
    }
    return 0;
}

void vsock_hello_encode(const struct vsock_hello *h, uint8_t out[VSOCK_MSG_LEN])
{
    head(out, MAGIC_HELLO, 0);
    be32_store(out + 8, h->src_cid);
    be32_store(out + 12, h->src_port);
    be32_store(out + 16, h->dst_cid);
    be32_store(out + 20, h->dst_port);
}

int vsock_hello_decode(const uint8_t *buf, size_t len, struct vsock_hello *h, const char **why)
{
    if (check_head(buf, len, MAGIC_HELLO, why) < 0)
        return -1;
    if (be16_load(buf + 6) != 0) {
        *why = "unknown flags";
        return -1;
    }
    h->src_cid = be32_load(buf + 8);
    h->src_port = be32_load(buf + 12);
    h->dst_cid = be32_load(buf + 16);
    h->dst_port = be32_load(buf + 20);
    return 0;
}

void vsock_request_encode(const struct vsock_request *r, uint8_t out[VSOCK_MSG_LEN])
{
    head(out, MAGIC_REQUEST, r->op);
    be32_store(out + 8, r->cid);
    be32_store(out + 12, r->port);
    be32_store(out + 16, r->src_port);
    be32_store(out + 20, 0);
}

int vsock_request_decode(const uint8_t *buf, size_t len, struct vsock_request *r,
                         const char **why)
{
    if (check_head(buf, len, MAGIC_REQUEST, why) < 0)
        return -1;
    r->op = be16_load(buf + 6);
    r->cid = be32_load(buf + 8);
    r->port = be32_load(buf + 12);
    r->src_port = be32_load(buf + 16);
    if (be32_load(buf + 20) != 0) {
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
    be32_store(out + 8, r->status);
    be32_store(out + 12, r->cid);
    be32_store(out + 16, r->port);
    be32_store(out + 20, 0);
}

int vsock_response_decode(const uint8_t *buf, size_t len, struct vsock_response *r,
                          const char **why)
{
    if (check_head(buf, len, MAGIC_RESPONSE, why) < 0)
        return -1;
    r->op = be16_load(buf + 6);
    r->status = be32_load(buf + 8);
    r->cid = be32_load(buf + 12);
    r->port = be32_load(buf + 16);
    if (be32_load(buf + 20) != 0) {
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
