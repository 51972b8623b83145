/* SPDX-License-Identifier: Apache-2.0 */
/* STS GetCallerIdentity: the form body and the XML answer (sts.h). */
#include "serve/sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util/kmsutil.h"

/* Decodes one x-www-form-urlencoded component ('+' is a space). malloc'd. */
static char *form_decode(const char *s, size_t n)
{
    char *tmp = malloc(n + 1);
    if (!tmp)
        return NULL;
    for (size_t i = 0; i < n; i++)
        tmp[i] = s[i] == '+' ? ' ' : s[i];
    tmp[n] = 0;
    int outlen = 0;
    char *d = curl_easy_unescape(NULL, tmp, (int)n, &outlen);
    free(tmp);
    if (!d)
        return NULL;
    char *r = (strlen(d) == (size_t)outlen) ? strdup(d) : NULL; /* no NULs */
    curl_free(d);
    return r;
}

int sts_action(const uint8_t *body, size_t len, struct kms_error *e)
{
    const char *s = (const char *)body;
    char *action = NULL, *version = NULL;
    size_t i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        size_t j = i;
        while (j < len && s[j] != '&')
            j++;
        const char *eq = memchr(s + i, '=', j - i);
        size_t kn = eq ? (size_t)(eq - (s + i)) : j - i;
        char *k = form_decode(s + i, kn);
        char *v = eq ? form_decode(eq + 1, (size_t)(s + j - eq - 1)) : strdup("");
        if (!k || !v) {
            kms_fail_sts(e, "MalformedInput", "MalformedInput",
                         "The request body is not valid form data");
            rc = -1;
        } else if (!strcmp(k, "Action") || !strcmp(k, "Version")) {
            char **slot = !strcmp(k, "Action") ? &action : &version;
            if (*slot) {
                kms_fail_sts(e, "MalformedInput", "MalformedInput", "Duplicate parameter");
                rc = -1;
            } else {
                *slot = v;
                v = NULL;
            }
        }
        free(k);
        free(v);
        i = j + 1;
    }
    if (rc == 0 && !action) {
        kms_fail_sts(e, "MissingAction", "MissingAction", "Missing Action");
        rc = -1;
    }
    if (rc == 0 && strcmp(action, "GetCallerIdentity") != 0) {
        kms_fail_sts(e, "InvalidAction", "InvalidAction",
                     "Could not find operation %.128s for version %.32s", action,
                     version ? version : "2011-06-15");
        rc = -1;
    }
    if (rc == 0 && version && strcmp(version, "2011-06-15") != 0) {
        kms_fail_sts(e, "InvalidAction", "InvalidAction",
                     "Could not find operation %.128s for version %.32s", action, version);
        rc = -1;
    }
    free(action);
    free(version);
    return rc;
}

static void add_escaped(struct ku_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            ku_buf_adds(b, "&amp;");
            break;
        case '<':
            ku_buf_adds(b, "&lt;");
            break;
        case '>':
            ku_buf_adds(b, "&gt;");
            break;
        case '"':
            ku_buf_adds(b, "&quot;");
            break;
        case '\'':
            ku_buf_adds(b, "&apos;");
            break;
        default:
            ku_buf_add(b, s, 1);
        }
    }
}

void sts_render(const struct kms_error *e, const struct ident_caller *caller,
                const char *request_id, struct http_response *resp)
{
    struct ku_buf b = { 0 };
    int status = 200;
    if (!caller) {
        const char *code = e->sts_code[0] ? e->sts_code : e->type;
        status = kms_error_sts_status(code);
        ku_buf_adds(&b, "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                        "  <Error>\n    <Type>");
        ku_buf_adds(&b, status >= 500 ? "Receiver" : "Sender");
        ku_buf_adds(&b, "</Type>\n    <Code>");
        add_escaped(&b, code);
        ku_buf_adds(&b, "</Code>\n    <Message>");
        add_escaped(&b, e->message);
        ku_buf_adds(&b, "</Message>\n  </Error>\n  <RequestId>");
        ku_buf_adds(&b, request_id);
        ku_buf_adds(&b, "</RequestId>\n</ErrorResponse>\n");
    } else {
        ku_buf_adds(
            &b, "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                "  <GetCallerIdentityResult>\n    <Arn>");
        add_escaped(&b, caller->arn);
        ku_buf_adds(&b, "</Arn>\n    <UserId>");
        add_escaped(&b, caller->user_id);
        ku_buf_adds(&b, "</UserId>\n    <Account>");
        add_escaped(&b, caller->account);
        ku_buf_adds(&b, "</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n"
                        "    <RequestId>");
        ku_buf_adds(&b, request_id);
        ku_buf_adds(&b, "</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n");
    }
    resp->status = status;
    resp->content_type = "text/xml";
    if (b.oom) {
        ku_buf_free(&b);
        resp->status = 500;
        return;
    }
    resp->body = b.p;
    resp->body_len = b.len;
}
