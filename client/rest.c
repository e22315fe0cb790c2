/*
 * Blocking HTTP/1.1 for the SDK's REST helper and logins: one request per connection
 * (Connection: close), the response read to EOF under a size cap and a deadline, then its
 * head parsed here (the server's parser in net/http only parses requests) and its body
 * decoded by Content-Length or chunked framing (http_chunked from net/http, reused).
 */
#include "sbc_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "net/http/http_parse.h"

#define SBC_MAX_RESPONSE (64u * 1024 * 1024)
#define SBC_MAX_HEAD (64u * 1024)

static bool name_is(const char *p, size_t len, const char *name)
{
    return strlen(name) == len && strncasecmp(p, name, len) == 0;
}

static bool value_has_token(const char *v, size_t len, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= len; i++) {
        if (strncasecmp(v + i, tok, tl) == 0) {
            return true;
        }
    }
    return false;
}

int sbc_http_parse_head(const char *buf, size_t len, struct sbc_http_head *out)
{
    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i + 4;
            break;
        }
    }
    if (!end) {
        return len > SBC_MAX_HEAD ? SB_ERR_PROTO : 0;
    }
    out->head_len = (size_t)(end - buf);
    if (out->head_len < 16 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
        !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11])) {
        return SB_ERR_PROTO;
    }
    out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    const char *p = (const char *)memchr(buf, '\n', out->head_len) + 1;
    while (p < end - 2) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol;
        if (line_end > p && line_end[-1] == '\r') {
            line_end--;
        }
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (!colon || colon == p) {
            return SB_ERR_PROTO;
        }
        size_t nl = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < line_end && (*v == ' ' || *v == '\t')) {
            v++;
        }
        const char *ve = line_end;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        size_t vl = (size_t)(ve - v);
        if (name_is(p, nl, "content-length")) {
            long long n = 0;
            if (vl == 0 || vl > 18) {
                return SB_ERR_PROTO;
            }
            for (size_t i = 0; i < vl; i++) {
                if (!isdigit((unsigned char)v[i])) {
                    return SB_ERR_PROTO;
                }
                n = n * 10 + (v[i] - '0');
            }
            out->content_length = n;
        } else if (name_is(p, nl, "transfer-encoding")) {
            out->chunked = value_has_token(v, vl, "chunked");
        } else if (name_is(p, nl, "sec-websocket-accept")) {
            out->accept = v;
            out->accept_len = vl;
        } else if (name_is(p, nl, "upgrade")) {
            out->upgrade_websocket = value_has_token(v, vl, "websocket");
        }
        p = eol + 1;
    }
    return 1;
}

int sbc_http_body(const char *buf, size_t len, const struct sbc_http_head *head,
                  struct sbc_str *out)
{
    const char *b = buf + head->head_len;
    size_t blen = len - head->head_len;
    if (head->chunked) {
        struct http_chunked ch;
        struct buf body;
        http_chunked_init(&ch, SBC_MAX_RESPONSE);
        buf_init(&body, SBC_MAX_RESPONSE);
        size_t consumed = 0;
        int status = 0;
        int rc = http_chunked_feed(&ch, b, blen, &consumed, &body, &status);
        if (rc == 1) {
            rc = sbc_str_append(out, body.data ? body.data : "", body.len);
        } else {
            rc = SB_ERR_PROTO;
        }
        buf_release(&body);
        return rc;
    }
    if (head->content_length >= 0) {
        if ((unsigned long long)head->content_length > blen) {
            return SB_ERR_PROTO; /* the connection closed early */
        }
        blen = (size_t)head->content_length;
    }
    return sbc_str_append(out, b, blen);
}

static void split_error(struct sb_response *resp)
{
    resp->error_code[0] = '\0';
    resp->error_message[0] = '\0';
    if (resp->status < 400 || !resp->body) {
        return;
    }
    json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
    json_t *e = root ? json_object_get(root, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!e && json_is_string(json_object_get(root, "error"))) {
        msg = json_string_value(json_object_get(root, "error"));
    }
    snprintf(resp->error_code, sizeof(resp->error_code), "%s", code ? code : "");
    snprintf(resp->error_message, sizeof(resp->error_message), "%s", msg ? msg : "");
    json_decref(root);
}

/* The request head (and body) of a blocking exchange into req; 0 or SB_ERR_NOMEM. */
static int build_request(struct sbc_str *req, const struct sbc_url *url, const char *method,
                         const char *path, const char *token, const char *accept, const char *body,
                         long long if_match)
{
    int rc = 0;
    bool v6 = strchr(url->host, ':') != NULL;
    bool default_port = strcmp(url->port, url->tls ? "443" : "80") == 0;
    rc |= sbc_str_printf(req, "%s %s%s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n", method, url->prefix, path,
                         v6 ? "[" : "", url->host, v6 ? "]" : "", default_port ? "" : ":",
                         default_port ? "" : url->port);
    rc |= sbc_str_printf(req,
                         "User-Agent: libswitchboard/" SB_VERSION_STRING
                         "\r\nAccept: %s\r\nConnection: close\r\n",
                         accept);
    if (token && *token) {
        rc |= sbc_str_printf(req, "Authorization: Bearer %s\r\n", token);
    }
    if (if_match > 0) {
        rc |= sbc_str_printf(req, "If-Match: %lld\r\n", if_match);
    }
    if (body) {
        rc |= sbc_str_printf(req, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                             strlen(body));
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
               strcmp(method, "PUT") == 0) {
        rc |= sbc_str_puts(req, "Content-Length: 0\r\n");
    }
    rc |= sbc_str_puts(req, "\r\n");
    if (body) {
        rc |= sbc_str_puts(req, body);
    }
    return rc != 0 ? SB_ERR_NOMEM : 0;
}

int sbc_http_exchange(const struct sbc_url *url, SSL_CTX *ctx, const char *method, const char *path,
                      const char *token, const char *body, long long if_match, int timeout_ms,
                      struct sb_response *resp, char *err, size_t errlen)
{
    memset(resp, 0, sizeof(*resp));
    int64_t deadline = sbc_now_ms() + timeout_ms;
    struct sbc_str req;
    sbc_str_init(&req, SBC_MAX_RESPONSE);
    int rc = build_request(&req, url, method, path, token, "application/json", body, if_match);
    if (rc != 0) {
        sbc_str_release(&req);
        snprintf(err, errlen, "request too large or out of memory");
        return SB_ERR_NOMEM;
    }

    struct sbc_conn c;
    sbc_conn_init(&c);
    rc = sbc_conn_open_blocking(&c, url, ctx, deadline, err, errlen);
    if (rc < 0) {
        goto out_req;
    }
    rc = sbc_conn_write_all(&c, req.data, req.len, deadline);
    if (rc < 0) {
        snprintf(err, errlen, "sending the request failed: %s",
                 rc == SB_ERR_TIMEOUT ? "timed out" : c.err);
        goto out_conn;
    }
    struct sbc_str in;
    sbc_str_init(&in, SBC_MAX_RESPONSE);
    char chunk[16384];
    for (;;) {
        ssize_t n = sbc_conn_read_some(&c, chunk, sizeof(chunk), deadline);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            rc = (int)n;
            snprintf(err, errlen, "reading the response failed: %s",
                     rc == SB_ERR_TIMEOUT ? "timed out" : c.err);
            goto out_in;
        }
        rc = sbc_str_append(&in, chunk, (size_t)n);
        if (rc < 0) {
            snprintf(err, errlen, "response too large");
            goto out_in;
        }
        /* Stop at a complete Content-Length body even if the server keeps the socket. */
        struct sbc_http_head h;
        if (sbc_http_parse_head(in.data, in.len, &h) == 1 && !h.chunked && h.content_length >= 0 &&
            in.len - h.head_len >= (size_t)h.content_length) {
            break;
        }
    }
    struct sbc_http_head head;
    if (sbc_http_parse_head(in.data ? in.data : "", in.len, &head) != 1) {
        rc = SB_ERR_PROTO;
        snprintf(err, errlen, "malformed HTTP response from %s:%s", url->host, url->port);
        goto out_in;
    }
    struct sbc_str b;
    sbc_str_init(&b, SBC_MAX_RESPONSE);
    rc = sbc_http_body(in.data, in.len, &head, &b);
    if (rc == 0) {
        rc = sbc_str_append(&b, "", 0); /* make sure there is a NUL-terminated body */
    }
    if (rc < 0) {
        sbc_str_release(&b);
        snprintf(err, errlen, "malformed HTTP response body");
        goto out_in;
    }
    resp->status = head.status;
    resp->body = b.data;
    resp->body_len = b.len;
    split_error(resp);
out_in:
    sbc_str_release(&in);
out_conn:
    sbc_conn_close(&c);
out_req:
    sbc_str_release(&req);
    return rc;
}

/* Pass the body bytes of a 200 response in buf[0..len) to sink (decoding chunks with ch when
 * the response is chunked). Returns 1 when the body is complete, 0 for more, or an error. */
static int download_feed(const struct sbc_http_head *h, struct http_chunked *ch, struct buf *tmp,
                         const char *buf, size_t len, long long *left,
                         int (*sink)(const char *, size_t, void *), void *user)
{
    if (h->chunked) {
        size_t consumed = 0;
        int status = 0;
        int rc = http_chunked_feed(ch, buf, len, &consumed, tmp, &status);
        if (rc < 0) {
            return SB_ERR_PROTO;
        }
        if (tmp->len && sink(tmp->data, tmp->len, user) < 0) {
            return SB_ERR_INVAL;
        }
        buf_reset(tmp);
        return rc;
    }
    if (*left >= 0 && (long long)len > *left) {
        len = (size_t)*left;
    }
    if (len && sink(buf, len, user) < 0) {
        return SB_ERR_INVAL;
    }
    if (*left >= 0) {
        *left -= (long long)len;
        return *left == 0;
    }
    return 0;
}

int sbc_http_download(const struct sbc_url *url, SSL_CTX *ctx, const char *path, const char *token,
                      const char *accept, int timeout_ms,
                      int (*sink)(const char *data, size_t len, void *user), void *user,
                      struct sb_response *resp, char *err, size_t errlen)
{
    memset(resp, 0, sizeof(*resp));
    struct sbc_str req;
    sbc_str_init(&req, SBC_MAX_RESPONSE);
    if (build_request(&req, url, "GET", path, token, accept, NULL, 0) != 0) {
        sbc_str_release(&req);
        snprintf(err, errlen, "request too large or out of memory");
        return SB_ERR_NOMEM;
    }
    struct sbc_conn c;
    sbc_conn_init(&c);
    struct sbc_str in;
    sbc_str_init(&in, SBC_MAX_RESPONSE);
    struct http_chunked ch;
    http_chunked_init(&ch, (size_t)1 << 50);
    struct buf tmp;
    buf_init(&tmp, SBC_MAX_RESPONSE);
    struct sbc_http_head head = {0};
    bool have_head = false, done = false;
    long long left = -1;
    /* The timeout is for silence: every arriving byte restarts it. */
    int rc = sbc_conn_open_blocking(&c, url, ctx, sbc_now_ms() + timeout_ms, err, errlen);
    if (rc == 0) {
        rc = sbc_conn_write_all(&c, req.data, req.len, sbc_now_ms() + timeout_ms);
        if (rc < 0) {
            snprintf(err, errlen, "sending the request failed: %s",
                     rc == SB_ERR_TIMEOUT ? "timed out" : c.err);
        }
    }
    char chunk[65536];
    while (rc == 0 && !done) {
        ssize_t n = sbc_conn_read_some(&c, chunk, sizeof(chunk), sbc_now_ms() + timeout_ms);
        if (n < 0) {
            rc = (int)n;
            snprintf(err, errlen, "reading the response failed: %s",
                     rc == SB_ERR_TIMEOUT ? "timed out" : c.err);
            break;
        }
        if (have_head && head.status == 200) {
            if (n == 0) {
                done = left < 0 && !head.chunked; /* close-delimited */
                if (!done) {
                    rc = SB_ERR_PROTO;
                    snprintf(err, errlen, "the server ended the response early");
                }
                break;
            }
            int f = download_feed(&head, &ch, &tmp, chunk, (size_t)n, &left, sink, user);
            if (f < 0) {
                rc = f;
                snprintf(err, errlen,
                         f == SB_ERR_PROTO ? "malformed response body"
                                           : "writing the output failed");
            }
            done = f == 1;
            continue;
        }
        if (n == 0) {
            break;
        }
        if (sbc_str_append(&in, chunk, (size_t)n) < 0) {
            rc = SB_ERR_PROTO;
            snprintf(err, errlen, "response too large");
            break;
        }
        if (have_head) {
            continue; /* an error body: read it whole */
        }
        int hr = sbc_http_parse_head(in.data, in.len, &head);
        if (hr < 0) {
            rc = SB_ERR_PROTO;
            snprintf(err, errlen, "malformed HTTP response from %s:%s", url->host, url->port);
        } else if (hr == 1) {
            have_head = true;
            if (head.status == 200) {
                left = head.chunked ? -1 : head.content_length;
                int f = left == 0 ? 1
                                  : download_feed(&head, &ch, &tmp, in.data + head.head_len,
                                                  in.len - head.head_len, &left, sink, user);
                if (f < 0) {
                    rc = f;
                    snprintf(err, errlen, "malformed response body");
                }
                done = f == 1;
            }
        }
    }
    if (rc == 0 && !have_head) {
        rc = SB_ERR_PROTO;
        snprintf(err, errlen, "malformed HTTP response from %s:%s", url->host, url->port);
    }
    if (rc == 0) {
        resp->status = head.status;
        if (head.status != 200) {
            struct sbc_str b;
            sbc_str_init(&b, SBC_MAX_RESPONSE);
            if (sbc_http_body(in.data, in.len, &head, &b) < 0 || sbc_str_append(&b, "", 0) < 0) {
                sbc_str_release(&b);
            } else {
                resp->body = b.data;
                resp->body_len = b.len;
            }
            split_error(resp);
        }
    }
    buf_release(&tmp);
    sbc_str_release(&in);
    sbc_conn_close(&c);
    sbc_str_release(&req);
    return rc;
}
