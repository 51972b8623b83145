/* SPDX-License-Identifier: Apache-2.0 */
#include "allowlist.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <yaml.h>

#include "base/fileio.h"
#include "resolver.h"

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int parse_port(const char *s, uint16_t *port)
{
    if (!s || !*s || strlen(s) > 5)
        return -1;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int parse_entry(yaml_document_t *doc, yaml_node_t *n, struct allowlist_entry *e,
                       struct cl_error *err)
{
    size_t line = n->start_mark.line + 1;
    if (n->type != YAML_MAPPING_NODE)
        return cl_fail(err, CL_EFORMAT, "line %zu: an allowlist entry must be a mapping "
                                        "{address: ..., port: ...}", line);
    const char *address = NULL, *port = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *key = scalar(yaml_document_get_node(doc, p->key));
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        const char *val = scalar(vn);
        if (!key)
            return cl_fail(err, CL_EFORMAT, "line %zu: allowlist keys must be scalars", line);
        const char **slot = !strcmp(key, "address") ? &address : !strcmp(key, "port") ? &port : NULL;
        if (!slot)
            return cl_fail(err, CL_EFORMAT, "line %zu: unknown key '%s' in an allowlist entry",
                           line, key);
        if (*slot)
            return cl_fail(err, CL_EFORMAT, "line %zu: duplicate key '%s'", line, key);
        if (!val || !*val)
            return cl_fail(err, CL_EFORMAT, "line %zu: '%s' must be a non-empty scalar", line,
                           key);
        *slot = val;
    }
    if (!address || !port)
        return cl_fail(err, CL_EFORMAT, "line %zu: an allowlist entry needs both address and port",
                       line);
    if (parse_port(port, &e->port) < 0)
        return cl_fail(err, CL_EFORMAT, "line %zu: invalid port '%s'", line, port);
    e->address = strdup(address);
    if (!e->address)
        return cl_fail(err, CL_ENOMEM, "out of memory");
    return 0;
}

int allowlist_parse(const char *yaml, size_t len, struct allowlist *out, struct cl_error *err)
{
    int rc = 0;
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_doc = false;
    memset(out, 0, sizeof(*out));

    if (!yaml_parser_initialize(&parser))
        return cl_fail(err, CL_ENOMEM, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = cl_fail(err, CL_EFORMAT, "line %zu: %s", parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "invalid YAML");
        goto out;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        rc = cl_fail(err, CL_EFORMAT, "the configuration must be a mapping with an 'allowlist' key");
        goto out;
    }
    yaml_node_t *list = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *key = scalar(yaml_document_get_node(&doc, p->key));
        if (!key || strcmp(key, "allowlist") != 0) {
            rc = cl_fail(err, CL_EFORMAT, "unknown top-level key '%s'", key ? key : "?");
            goto out;
        }
        if (list) {
            rc = cl_fail(err, CL_EFORMAT, "duplicate key 'allowlist'");
            goto out;
        }
        list = yaml_document_get_node(&doc, p->value);
    }
    if (!list) {
        rc = cl_fail(err, CL_EFORMAT, "the configuration has no 'allowlist' key");
        goto out;
    }
    /* `allowlist:` with nothing after it is an empty scalar: no entries. */
    if (list->type == YAML_SCALAR_NODE && list->data.scalar.length == 0)
        goto out;
    if (list->type != YAML_SEQUENCE_NODE) {
        rc = cl_fail(err, CL_EFORMAT, "line %zu: 'allowlist' must be a list",
                     list->start_mark.line + 1);
        goto out;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n > ALLOWLIST_MAX_ENTRIES) {
        rc = cl_fail(err, CL_ELIMIT, "the allowlist has %zu entries, at most %d allowed", n,
                     ALLOWLIST_MAX_ENTRIES);
        goto out;
    }
    out->entries = calloc(n ? n : 1, sizeof(*out->entries));
    if (!out->entries) {
        rc = cl_fail(err, CL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(&doc, list->data.sequence.items.start[i]);
        rc = parse_entry(&doc, item, &out->entries[i], err);
        if (rc < 0)
            goto out;
        out->count++;
    }
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0)
        allowlist_release(out);
    return rc;
}

int allowlist_load(const char *path, struct allowlist *out, struct cl_error *err)
{
    uint8_t *text;
    size_t len;
    int rc = file_read_all(path, ALLOWLIST_MAX_FILE, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = allowlist_parse((const char *)text, len, out, err);
    if (rc < 0)
        cl_error_prefix(err, "'%s'", path);
    free(text);
    return rc;
}

void allowlist_release(struct allowlist *al)
{
    for (size_t i = 0; i < al->count; i++)
        free(al->entries[i].address);
    free(al->entries);
    al->entries = NULL;
    al->count = 0;
}

int allowlist_allows(const struct allowlist *al, const char *remote_addr, const char *remote_ip,
                     uint16_t remote_port, int family)
{
    for (size_t i = 0; i < al->count; i++) {
        const struct allowlist_entry *e = &al->entries[i];
        if (e->port != remote_port)
            continue;
        if (!strcmp(e->address, remote_addr))
            return 1;
        if (resolver_any_ip_equals(e->address, family, remote_ip))
            return 1;
    }
    return 0;
}
