/*
 * Unit tests for the HTTP/1.1 request parser: every strictness rule with its exact status,
 * valid requests parsed whole and grown one byte position at a time as a connection would,
 * the chunked decoder at every split point and one byte at a time, limits exactly at their
 * boundaries, and the URL helpers.
 */
#include "test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "net/http/http_parse.h"

static struct http_limits limits;
static struct http_field fields[128];

static int parse_n(const char *s, size_t len, struct http_head *h, int *status)
{
    return http_head_parse(s, len, &limits, h, fields, status);
}

/* The first field value as a C string in a static buffer ("(none)" when absent). */
static const char *field_str(const struct http_head *h, const char *name)
{
    static char out[256];
    const struct http_slice *v = http_head_field(h, name);
    if (!v) {
        return "(none)";
    }
    snprintf(out, sizeof out, "%.*s", (int)v->len, v->ptr);
    return out;
}

static bool slice_is(struct http_slice s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/*
 * The request must fail with status want, and every prefix must answer either "need more"
 * or the same status (the parser never changes its mind as bytes arrive).
 */
static bool rejects_n(const char *req, size_t len, int want)
{
    struct http_head h;
    int status = 0;
    int rc = parse_n(req, len, &h, &status);
    if (rc >= 0 || status != want) {
        fprintf(stderr, "  request %.60s...: rc %d status %d, want status %d\n", req, rc, status,
                want);
        return false;
    }
    for (size_t k = 0; k < len; k++) {
        status = 0;
        rc = parse_n(req, k, &h, &status);
        if (rc > 0 || (rc < 0 && status != want)) {
            fprintf(stderr, "  prefix %zu of %.60s: rc %d status %d\n", k, req, rc, status);
            return false;
        }
    }
    return true;
}

static bool rejects(const char *req, int want)
{
    return rejects_n(req, strlen(req), want);
}

/* Parse a complete request; returns the head length or a negative value. */
static int accepts(const char *req, struct http_head *h)
{
    int status = 0;
    int rc = parse_n(req, strlen(req), h, &status);
    if (rc <= 0) {
        fprintf(stderr, "  request %.60s...: rc %d status %d\n", req, rc, status);
    }
    return rc;
}

static bool same_slice(struct http_slice a, struct http_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool inside(struct http_slice s, const char *buf, size_t len)
{
    return s.len == 0 || (s.ptr >= buf && s.ptr + s.len <= buf + len);
}

static bool same_head(const struct http_head *a, const struct http_head *b, const char *buf,
                      size_t len)
{
    if (a->method != b->method || !same_slice(a->method_str, b->method_str) ||
        !same_slice(a->target, b->target) || !same_slice(a->path, b->path) ||
        !same_slice(a->query, b->query) || a->minor_version != b->minor_version ||
        a->nfields != b->nfields || a->content_length != b->content_length ||
        a->chunked != b->chunked || a->keep_alive != b->keep_alive ||
        a->expect_continue != b->expect_continue || a->upgrade != b->upgrade ||
        !same_slice(a->host, b->host)) {
        return false;
    }
    if (!inside(b->method_str, buf, len) || !inside(b->target, buf, len) ||
        !inside(b->query, buf, len) || !inside(b->host, buf, len)) {
        return false;
    }
    for (size_t i = 0; i < a->nfields; i++) {
        if (!same_slice(a->fields[i].name, b->fields[i].name) ||
            !same_slice(a->fields[i].value, b->fields[i].value) ||
            !inside(b->fields[i].name, buf, len) || !inside(b->fields[i].value, buf, len)) {
            return false;
        }
    }
    return true;
}

/*
 * Simulate the connection: the request arrives in two reads split at every position, and also
 * one byte per read; after each read the whole buffer (which may move as it grows) is
 * re-parsed. The result must be 0 until the head is complete and then the same head as the
 * one-shot parse. Returns the head length (or -1).
 */
static int split_ok(const char *req, size_t len)
{
    struct http_head want, got;
    struct http_field want_fields[128], got_fields[128];
    int status = 0;
    int n = http_head_parse(req, len, &limits, &want, want_fields, &status);
    if (n <= 0) {
        fprintf(stderr, "  whole request %.60s: rc %d status %d\n", req, n, status);
        return -1;
    }
    for (size_t split = 0; split <= len; split++) {
        struct buf b;
        buf_init(&b, len);
        size_t cuts[3] = {split, len, len};
        size_t have = 0;
        for (size_t c = 0; c < 2; c++) {
            if (buf_append(&b, req + have, cuts[c] - have) != 0) {
                buf_release(&b);
                return -1;
            }
            have = cuts[c];
            int rc = http_head_parse(b.data, b.len, &limits, &got, got_fields, &status);
            bool ok = have < (size_t)n ? rc == 0 : rc == n && same_head(&want, &got, b.data, b.len);
            if (!ok) {
                fprintf(stderr, "  split %zu read %zu of %.60s: rc %d\n", split, c, req, rc);
                buf_release(&b);
                return -1;
            }
        }
        buf_release(&b);
    }
    struct buf b;
    buf_init(&b, len);
    for (size_t i = 0; i < len; i++) {
        if (buf_putc(&b, req[i]) != 0) {
            buf_release(&b);
            return -1;
        }
        int rc = http_head_parse(b.data, b.len, &limits, &got, got_fields, &status);
        bool ok = i + 1 < (size_t)n ? rc == 0 : rc == n && same_head(&want, &got, b.data, b.len);
        if (!ok) {
            fprintf(stderr, "  byte %zu of %.60s: rc %d\n", i, req, rc);
            buf_release(&b);
            return -1;
        }
    }
    buf_release(&b);
    return n;
}

/* ---- valid requests ------------------------------------------------------------------ */

static void test_get_query(void)
{
    const char *req = "GET /search?q=hello%20world&page=2 HTTP/1.1\r\nHost: example.com\r\n"
                      "User-Agent:   test agent  \r\nAccept:\t*/*\r\n\r\n";
    struct http_head h;
    CHECK_EQ_INT(accepts(req, &h), (int)strlen(req));
    CHECK_EQ_INT(h.method, HTTP_GET);
    CHECK(slice_is(h.method_str, "GET"));
    CHECK(slice_is(h.target, "/search?q=hello%20world&page=2"));
    CHECK(slice_is(h.path, "/search"));
    CHECK(slice_is(h.query, "q=hello%20world&page=2"));
    CHECK_EQ_INT(h.minor_version, 1);
    CHECK_EQ_INT(h.nfields, 3);
    CHECK(h.fields == fields);
    CHECK_EQ_INT(h.content_length, -1);
    CHECK(!h.chunked);
    CHECK(h.keep_alive);
    CHECK(!h.expect_continue);
    CHECK(!h.upgrade);
    CHECK(slice_is(h.host, "example.com"));
    CHECK_EQ_STR(field_str(&h, "user-agent"), "test agent");
    CHECK_EQ_STR(field_str(&h, "ACCEPT"), "*/*");
    CHECK_EQ_STR(field_str(&h, "Cookie"), "(none)");
    CHECK(slice_is(h.fields[0].name, "Host"));
    CHECK_EQ_INT(split_ok(req, strlen(req)), (int)strlen(req));
}

static void test_no_query_and_methods(void)
{
    struct http_head h;
    CHECK(accepts("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n", &h) > 0);
    CHECK_EQ_INT(h.method, HTTP_DELETE);
    CHECK(slice_is(h.path, "/x"));
    CHECK_EQ_INT(h.query.len, 0);
    CHECK(accepts("PUT /x HTTP/1.1\r\nHost: h\r\n\r\n", &h) > 0);
    CHECK_EQ_INT(h.method, HTTP_PUT);
    CHECK(accepts("PATCH /x? HTTP/1.1\r\nHost: h\r\n\r\n", &h) > 0);
    CHECK_EQ_INT(h.method, HTTP_PATCH);
    CHECK(slice_is(h.path, "/x"));
    CHECK_EQ_INT(h.query.len, 0);
    /* Methods are case-sensitive tokens: unknown ones parse as HTTP_OTHER. */
    CHECK(accepts("get / HTTP/1.1\r\nHost: h\r\n\r\n", &h) > 0);
    CHECK_EQ_INT(h.method, HTTP_OTHER);
    CHECK(slice_is(h.method_str, "get"));
    CHECK(accepts("M-SEARCH / HTTP/1.1\r\nHost: h\r\n\r\n", &h) > 0);
    CHECK_EQ_INT(h.method, HTTP_OTHER);
}

static void test_post_content_length(void)
{
    const char *req = "POST /api/v1/items HTTP/1.1\r\nHost: localhost:8080\r\n"
                      "Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":12345}";
    size_t head_len = strlen(req) - 11;
    struct http_head h;
    CHECK_EQ_INT(accepts(req, &h), (int)head_len);
    CHECK_EQ_INT(h.method, HTTP_POST);
    CHECK_EQ_INT(h.content_length, 11);
    CHECK(!h.chunked);
    CHECK(slice_is(h.host, "localhost:8080"));
    CHECK_EQ_INT(split_ok(req, strlen(req)), (int)head_len);
    /* Equal duplicates are one length. */
    CHECK(accepts("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                  &h) > 0);
    CHECK_EQ_INT(h.content_length, 5);
    CHECK(accepts("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &h) > 0);
    CHECK_EQ_INT(h.content_length, 0);
    CHECK(accepts("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", &h) >
          0);
    CHECK(h.content_length == INT64_MAX);
}

/* Decode body[0..len) with reads split at the given points; returns the feed result. */
static int decode_split(const char *body, size_t len, size_t split, bool bytewise, size_t max_body,
                        struct buf *out, size_t *used, int *status)
{
    struct http_chunked ch;
    http_chunked_init(&ch, max_body);
    *used = 0;
    size_t pos = 0;
    int rc = 0;
    while (pos < len) {
        size_t n = bytewise ? 1 : (pos < split ? split - pos : len - pos);
        size_t u = 0;
        rc = http_chunked_feed(&ch, body + pos, n, &u, out, status);
        *used += u;
        if (rc != 0) {
            return rc;
        }
        if (u != n) {
            return -9999;
        }
        pos += n;
    }
    return rc;
}

/* Decode whole, at every split point and one byte at a time; all must give want_body. */
static bool chunked_ok(const char *body, size_t len, const char *want_body, size_t want_used)
{
    for (size_t split = 0; split <= len + 1; split++) {
        struct buf out;
        buf_init(&out, 1 << 20);
        size_t used = 0;
        int status = 0;
        bool bytewise = split == len + 1;
        int rc = decode_split(body, len, split, bytewise, 1 << 20, &out, &used, &status);
        bool ok = rc == 1 && used == want_used && out.len == strlen(want_body) &&
                  memcmp(out.data ? out.data : "", want_body, out.len) == 0;
        if (!ok) {
            fprintf(stderr, "  chunked split %zu%s: rc %d used %zu body '%s'\n", split,
                    bytewise ? " (bytewise)" : "", rc, used, out.data ? out.data : "");
        }
        buf_release(&out);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static void test_post_chunked(void)
{
    const char *req = "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"
                      "GET /next HTTP/1.1\r\n";
    struct http_head h;
    int n = accepts(req, &h);
    CHECK(n > 0);
    CHECK(h.chunked);
    CHECK_EQ_INT(h.content_length, -1);
    CHECK_EQ_INT(split_ok(req, strlen(req)), n);
    const char *body = req + n;
    size_t body_len = strlen(body);
    size_t framing = body_len - strlen("GET /next HTTP/1.1\r\n");
    CHECK(chunked_ok(body, body_len, "hello world", framing));
    CHECK(chunked_ok(body, framing, "hello world", framing));

    /* Case-insensitive coding name, uppercase hex, whitespace before CRLF or ';'. */
    CHECK(accepts("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", &h) > 0);
    CHECK(h.chunked);
    const char *b2 = "A\r\n0123456789\r\n1 \r\n!\r\n2 ; a=\"q\"\r\nab\r\n0000000000000000\r\n\r\n";
    CHECK(chunked_ok(b2, strlen(b2), "0123456789!ab", strlen(b2)));
    const char *empty = "0\r\n\r\n";
    CHECK(chunked_ok(empty, strlen(empty), "", strlen(empty)));
}

static void test_pipelined(void)
{
    const char *req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /b?c=d HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n";
    size_t first = strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    struct http_head h;
    int status = 0;
    CHECK_EQ_INT(parse_n(req, strlen(req), &h, &status), (int)first);
    CHECK(slice_is(h.path, "/a"));
    CHECK(h.keep_alive);
    CHECK_EQ_INT(split_ok(req, strlen(req)), (int)first);
    CHECK_EQ_INT(parse_n(req + first, strlen(req) - first, &h, &status),
                 (int)(strlen(req) - first));
    CHECK(slice_is(h.path, "/b"));
    CHECK(slice_is(h.query, "c=d"));
    CHECK(slice_is(h.host, "y"));
    CHECK(!h.keep_alive);
    CHECK_EQ_INT(split_ok(req + first, strlen(req) - first), (int)(strlen(req) - first));
}

static void test_head_options_http10(void)
{
    struct http_head h;
    const char *head_req = "HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(accepts(head_req, &h) > 0);
    CHECK_EQ_INT(h.method, HTTP_HEAD);
    CHECK_EQ_INT(split_ok(head_req, strlen(head_req)), (int)strlen(head_req));

    const char *opt = "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(accepts(opt, &h) > 0);
    CHECK_EQ_INT(h.method, HTTP_OPTIONS);
    CHECK(slice_is(h.target, "*"));
    CHECK(slice_is(h.path, "*"));
    CHECK_EQ_INT(h.query.len, 0);
    CHECK_EQ_INT(split_ok(opt, strlen(opt)), (int)strlen(opt));

    const char *old = "GET /old HTTP/1.0\r\nUser-Agent: x\r\n\r\n";
    CHECK(accepts(old, &h) > 0);
    CHECK_EQ_INT(h.minor_version, 0);
    CHECK(!h.keep_alive);
    CHECK_EQ_INT(h.host.len, 0);
    CHECK_EQ_INT(split_ok(old, strlen(old)), (int)strlen(old));
    CHECK(accepts("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h) > 0);
    CHECK(h.keep_alive);
    CHECK(accepts("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &h) > 0);
    CHECK(!h.keep_alive);
    CHECK(accepts("GET / HTTP/1.0\r\nHost: x\r\n\r\n", &h) > 0);
    CHECK(slice_is(h.host, "x"));
}

static void test_leading_empty_lines_and_lf(void)
{
    struct http_head h;
    const char *req = "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ_INT(accepts(req, &h), (int)strlen(req));
    CHECK(slice_is(h.path, "/"));
    CHECK_EQ_INT(split_ok(req, strlen(req)), (int)strlen(req));
    const char *req2 = "\r\n\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ_INT(accepts(req2, &h), (int)strlen(req2));
    /* A bare LF is accepted as a line end. */
    const char *lf = "GET /lf HTTP/1.1\nHost: x\nX: y\r\n\n";
    CHECK_EQ_INT(accepts(lf, &h), (int)strlen(lf));
    CHECK_EQ_STR(field_str(&h, "x"), "y");
    CHECK_EQ_INT(split_ok(lf, strlen(lf)), (int)strlen(lf));
    int status = 0;
    CHECK_EQ_INT(parse_n("\r\n\r\n", 4, &h, &status), 0);
    CHECK_EQ_INT(parse_n("", 0, &h, &status), 0);
}

static void test_absolute_form(void)
{
    struct http_head h;
    const char *req = "GET http://example.com:80/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n";
    CHECK(accepts(req, &h) > 0);
    CHECK(slice_is(h.path, "/p/q"));
    CHECK(slice_is(h.query, "x=1"));
    CHECK(slice_is(h.host, "example.com:80"));
    CHECK_EQ_INT(split_ok(req, strlen(req)), (int)strlen(req));
    CHECK(accepts("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", &h) > 0);
    CHECK(slice_is(h.path, "/"));
    CHECK_EQ_INT(h.query.len, 0);
    CHECK(accepts("GET http://example.com?a HTTP/1.1\r\nHost: example.com\r\n\r\n", &h) > 0);
    CHECK(slice_is(h.path, "/"));
    CHECK(slice_is(h.query, "a"));
    CHECK(rejects("GET http:///p HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET http://u@h/ HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET ftp://h/ HTTP/1.1\r\nHost: x\r\n\r\n", 400));
}

static void test_connection_expect_upgrade(void)
{
    struct http_head h;
    CHECK(accepts("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &h) > 0);
    CHECK(!h.keep_alive);
    CHECK(accepts("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo ,CLOSE\r\n\r\n", &h) > 0);
    CHECK(!h.keep_alive);
    CHECK(accepts("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n", &h) > 0);
    CHECK(h.keep_alive);
    CHECK(accepts("GET / HTTP/1.1\r\nHost: x\r\nConnection: a\r\nConnection: close\r\n\r\n", &h) >
          0);
    CHECK(!h.keep_alive);

    CHECK(accepts("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
                  &h) > 0);
    CHECK(h.expect_continue);
    CHECK(rejects("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continuez\r\n\r\n", 417));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nExpect: a-pony\r\n\r\n", 417));
    CHECK(accepts("PUT / HTTP/1.0\r\nExpect: a-pony\r\n\r\n", &h) > 0);
    CHECK(accepts("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &h) > 0);
    CHECK(!h.expect_continue);

    CHECK(accepts("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n"
                  "Upgrade: websocket\r\n\r\n",
                  &h) > 0);
    CHECK(h.upgrade);
    CHECK(h.keep_alive);
    CHECK(accepts("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n", &h) > 0);
    CHECK(!h.upgrade);
    CHECK(accepts("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", &h) > 0);
    CHECK(!h.upgrade);
}

/* ---- rejections, one rule each ------------------------------------------------------- */

static void test_framing_errors(void)
{
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 5\r\n\r\n",
                  400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12a\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", 400));
    CHECK(
        rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                  400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                  400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ncontent-length: 05x\r\n\r\n",
                  400));
}

static void test_transfer_encoding_errors(void)
{
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: x-custom\r\n\r\n", 501));
    CHECK(
        rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,chunked\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400));
    CHECK(rejects("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  400));
    CHECK(rejects("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400));
}

static void test_field_errors(void)
{
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n\tb\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nX(y): z\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nX\"y: z\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nX\xc3\xa9: z\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\n: z\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fz\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\nX: a\x1b[0m\r\n\r\n", 400));
    const char nul[] = "GET / HTTP/1.1\r\nHost: x\r\nX: a\0z\r\n\r\n";
    CHECK(rejects_n(nul, sizeof nul - 1, 400));
    /* HT and obs-text are allowed in values. */
    struct http_head h;
    CHECK(accepts("GET / HTTP/1.1\r\nHost: x\r\nX: a\tb \xc3\xa9\r\n\r\n", &h) > 0);
    CHECK_EQ_STR(field_str(&h, "x"), "a\tb \xc3\xa9");
    CHECK(accepts("GET / HTTP/1.1\r\nHost: x\r\nX:\r\nY:   \r\n\r\n", &h) > 0);
    CHECK_EQ_STR(field_str(&h, "x"), "");
    CHECK_EQ_STR(field_str(&h, "y"), "");
}

static void test_host_errors(void)
{
    CHECK(rejects("GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400));
    struct http_head h;
    CHECK(accepts("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", &h) > 0);
    CHECK(slice_is(h.host, "[::1]:8080"));
    CHECK(accepts("GET / HTTP/1.1\r\nHost:\r\n\r\n", &h) > 0);
    CHECK_EQ_INT(h.host.len, 0);
}

static void test_request_line_errors(void)
{
    CHECK(rejects("G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("G\xc3\x89T / HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects(" GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET /\r\n\r\n", 400));
    CHECK(rejects("GET\r\n\r\n", 400));
    CHECK(rejects("GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("OPTIONS *x HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("OPTIONS ** HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1x\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET / http/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/x.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505));
    CHECK(rejects("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505));
    CHECK(rejects("GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505));
    CHECK(rejects("GET / HTTP/3.0\r\n\r\n", 505));
}

static void test_bare_cr(void)
{
    CHECK(rejects("GET / HTTP/1.1\rHost: x\r\n\r\n", 400));
    CHECK(rejects("GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400));
    CHECK(rejects("GET / HTTP/1.1\r\nHost: x\r\n\rX\r\n", 400));
    CHECK(rejects("\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    CHECK(rejects("\r\n\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400));
    /* A CR at the end of the buffer may still be followed by LF. */
    struct http_head h;
    int status = 0;
    CHECK_EQ_INT(parse_n("GET / HTTP/1.1\r", 15, &h, &status), 0);
    CHECK_EQ_INT(parse_n("\r", 1, &h, &status), 0);
}

/* ---- limits -------------------------------------------------------------------------- */

static char *make_request_line(size_t line_len)
{
    /* "GET /aaa...a HTTP/1.1" with line_len bytes before the CRLF. */
    const char *tail = " HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t fixed = strlen("GET /") + strlen(" HTTP/1.1");
    char *s = malloc(line_len + strlen(tail) - strlen(" HTTP/1.1") + 1 + 64);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', line_len - fixed);
    memcpy(s + 5 + line_len - fixed, tail, strlen(tail) + 1);
    return s;
}

/* Field values are checked for CTLs a word at a time: a CTL (or DEL) at any offset of a long
 * value is refused, while HT and obs-text anywhere are allowed. */
static void test_value_ctl_positions(void)
{
    static const unsigned char bad[] = {0x00, 0x01, 0x0a, 0x0d, 0x1f, 0x7f};
    static const unsigned char good[] = {'\t', ' ', 0x20, 0x7e, 0x80, 0xff};
    for (size_t pos = 0; pos < 40; pos++) {
        for (int kind = 0; kind < 2; kind++) {
            const unsigned char *set = kind ? good : bad;
            for (size_t k = 0; k < 6; k++) {
                char req[128];
                int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX: v");
                memset(req + n, 'a', 40);
                req[n + pos] = (char)set[k];
                n += 40;
                memcpy(req + n, "z\r\n\r\n", 5);
                n += 5;
                struct http_head h;
                int status = 0;
                int rc = parse_n(req, (size_t)n, &h, &status);
                if (kind) {
                    CHECK_EQ_INT(rc, n);
                } else {
                    /* A CR or LF inside ends the line early: still refused. */
                    CHECK(rc < 0 && status == 400);
                }
            }
        }
    }
}

static void test_request_line_limit(void)
{
    struct http_head h;
    int status = 0;
    char *ok = make_request_line(8192);
    CHECK_EQ_INT(strchr(ok, '\r') - ok, 8192);
    CHECK_EQ_INT(accepts(ok, &h), (int)strlen(ok));
    CHECK_EQ_INT(h.target.len, 8192 - 4 - 9);
    /* Every prefix up to the CR needs more. */
    CHECK_EQ_INT(parse_n(ok, 8192, &h, &status), 0);
    CHECK_EQ_INT(parse_n(ok, 8193, &h, &status), 0);
    free(ok);

    char *big = make_request_line(8193);
    CHECK(rejects(big, 414));
    /* Proven as soon as 8193 bytes arrive without a line end. */
    status = 0;
    CHECK_EQ_INT(parse_n(big, 8192, &h, &status), 0);
    CHECK(parse_n(big, 8193, &h, &status) < 0);
    CHECK_EQ_INT(status, 414);
    free(big);

    char junk[9000];
    memset(junk, 'x', sizeof junk);
    status = 0;
    CHECK_EQ_INT(parse_n(junk, 8192, &h, &status), 0);
    CHECK(parse_n(junk, 8193, &h, &status) < 0);
    CHECK_EQ_INT(status, 414);
    /* Leading empty lines do not count toward the request line. */
    char lead[8300];
    memcpy(lead, "\r\n\r\n", 4);
    memset(lead + 4, 'x', sizeof lead - 4);
    CHECK_EQ_INT(parse_n(lead, 4 + 8192, &h, &status), 0);
    CHECK(parse_n(lead, 4 + 8193, &h, &status) < 0);
    CHECK_EQ_INT(status, 414);

    struct http_limits small = limits;
    small.max_line = 16;
    struct http_head h2;
    CHECK(http_head_parse("GET /123456789 HTTP/1.1\r\nHost: x\r\n\r\n", 36, &small, &h2, fields,
                          &status) < 0);
    CHECK_EQ_INT(status, 414);
}

/* A request with nfields fields (Host plus X-n fields). */
static char *make_fields(size_t nfields)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = buf_puts(&b, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (size_t i = 1; rc == 0 && i < nfields; i++) {
        rc = buf_printf(&b, "X-%zu: v\r\n", i);
    }
    if (rc == 0) {
        rc = buf_puts(&b, "\r\n");
    }
    CHECK_EQ_INT(rc, 0);
    return buf_detach(&b, NULL);
}

static void test_field_count_limit(void)
{
    struct http_head h;
    int status = 0;
    char *ok = make_fields(100);
    CHECK_EQ_INT(accepts(ok, &h), (int)strlen(ok));
    CHECK_EQ_INT(h.nfields, 100);
    CHECK_EQ_STR(field_str(&h, "x-99"), "v");
    free(ok);

    char *big = make_fields(101);
    CHECK(rejects(big, 431));
    /* Reported once the 101st field line is complete, before the head ends. */
    char *end = strstr(big, "X-100: v\r\n");
    size_t at = (size_t)(end - big) + strlen("X-100: v\r\n");
    CHECK_EQ_INT(parse_n(big, at - 1, &h, &status), 0);
    CHECK(parse_n(big, at, &h, &status) < 0);
    CHECK_EQ_INT(status, 431);
    free(big);

    struct http_limits small = limits;
    small.max_fields = 1;
    CHECK(http_head_parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, &small, &h, fields, &status) ==
          27);
    CHECK(http_head_parse("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n", 33, &small, &h, fields,
                          &status) < 0);
    CHECK_EQ_INT(status, 431);
}

/* A request whose head is exactly head_len bytes (one big field pads it). */
static char *make_head(size_t head_len)
{
    const char *start = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    size_t fixed = strlen(start) + strlen("\r\n\r\n");
    char *s = malloc(head_len + 1);
    memcpy(s, start, strlen(start));
    memset(s + strlen(start), 'p', head_len - fixed);
    memcpy(s + head_len - 4, "\r\n\r\n", 5);
    return s;
}

static void test_head_size_limit(void)
{
    struct http_head h;
    int status = 0;
    char *ok = make_head(32768);
    CHECK_EQ_INT(strlen(ok), 32768);
    CHECK_EQ_INT(accepts(ok, &h), 32768);
    free(ok);

    char *big = make_head(32769);
    CHECK(parse_n(big, 32769, &h, &status) < 0);
    CHECK_EQ_INT(status, 431);
    /* 32768 bytes without the end of the head already prove it. */
    CHECK_EQ_INT(parse_n(big, 32767, &h, &status), 0);
    CHECK(parse_n(big, 32768, &h, &status) < 0);
    CHECK_EQ_INT(status, 431);
    free(big);

    /* An endless run of empty lines is bounded by the head limit too. */
    char *crlf = malloc(40000);
    for (size_t i = 0; i < 40000; i += 2) {
        crlf[i] = '\r';
        crlf[i + 1] = '\n';
    }
    CHECK_EQ_INT(parse_n(crlf, 32766, &h, &status), 0);
    CHECK(parse_n(crlf, 40000, &h, &status) < 0);
    CHECK_EQ_INT(status, 431);
    free(crlf);

    /* A complete head followed by more bytes than max_head is still fine. */
    char *pipe = malloc(40000);
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    memcpy(pipe, req, strlen(req));
    memset(pipe + strlen(req), 'z', 40000 - strlen(req));
    CHECK_EQ_INT(parse_n(pipe, 40000, &h, &status), (int)strlen(req));
    free(pipe);

    /* NULL limits mean the defaults. */
    CHECK_EQ_INT(http_head_parse(req, strlen(req), NULL, &h, fields, &status), (int)strlen(req));
}

/* ---- chunked ------------------------------------------------------------------------- */

/* Feed whole and one byte at a time; both must fail with want (and never succeed). */
static bool chunked_rejects_n(const char *body, size_t len, size_t max_body, int want)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct buf out;
        buf_init(&out, 1 << 20);
        size_t used = 0;
        int status = 0;
        int rc = decode_split(body, len, len, bytewise, max_body, &out, &used, &status);
        buf_release(&out);
        if (rc >= 0 || status != want) {
            fprintf(stderr, "  chunked %.40s%s: rc %d status %d, want %d\n", body,
                    bytewise ? " (bytewise)" : "", rc, status, want);
            return false;
        }
    }
    return true;
}

static bool chunked_rejects(const char *body, int want)
{
    return chunked_rejects_n(body, strlen(body), 1 << 20, want);
}

static void test_chunked_errors(void)
{
    CHECK(chunked_rejects("\r\n", 400));
    CHECK(chunked_rejects(";ext\r\n", 400));
    CHECK(chunked_rejects("g\r\n", 400));
    CHECK(chunked_rejects("-5\r\nhello\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("0x5\r\nhello\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("+5\r\nhello\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("5 x\r\nhello\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("00000000000000005\r\nhello\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("10000000000000000\r\n", 400));
    CHECK(chunked_rejects("5\nhello\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("5\r\r\nhello\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("5\r\nhelloX\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("5\r\nhello\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("5\r\nhello\rX0\r\n\r\n", 400));
    CHECK(chunked_rejects("5\r\nhello0\r\n\r\n", 400));
    CHECK(chunked_rejects("5\r\nhelloX\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("5;a\x01\r\nhello\r\n0\r\n\r\n", 400));
    CHECK(chunked_rejects("0\r\nX: y\n\r\n", 400));
    CHECK(chunked_rejects("0\r\nX: \x01\r\n\r\n", 400));
    CHECK(chunked_rejects("0\r\n\rX", 400));
    CHECK(chunked_rejects("ffffffffffffffff\r\n", 413));

    /* max_body: exactly at the limit is fine, one byte more is 413 (at the size line). */
    struct buf out;
    buf_init(&out, 100);
    size_t used = 0;
    int status = 0;
    const char *ten = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    CHECK_EQ_INT(decode_split(ten, strlen(ten), 0, false, 10, &out, &used, &status), 1);
    CHECK_EQ_STR(out.data, "helloworld");
    buf_release(&out);
    CHECK(chunked_rejects_n("5\r\nhello\r\n6\r\n", 13, 10, 413));
    /* The body buffer's own cap answers 413 too. */
    struct http_chunked ch;
    http_chunked_init(&ch, 1 << 20);
    buf_init(&out, 3);
    CHECK(http_chunked_feed(&ch, "5\r\nhello\r\n", 10, &used, &out, &status) < 0);
    CHECK_EQ_INT(status, 413);
    /* Errors are sticky. */
    status = 0;
    CHECK(http_chunked_feed(&ch, "0\r\n\r\n", 5, &used, &out, &status) < 0);
    CHECK_EQ_INT(status, 413);
    buf_release(&out);
}

static void test_chunked_bounds(void)
{
    /* A size line of exactly 4096 bytes (before CRLF) is fine; 4097 is 400. */
    char line[5000];
    size_t n = 0;
    line[n++] = '3';
    line[n++] = ';';
    while (n < 4096) {
        line[n++] = 'e';
    }
    memcpy(line + n, "\r\nabc\r\n0\r\n\r\n", 13);
    CHECK(chunked_ok(line, strlen(line), "abc", strlen(line)));
    memmove(line + 3, line + 2, strlen(line + 2) + 1);
    line[2] = 'e';
    CHECK(chunked_rejects(line, 400));
    /* Trailers: 8192 bytes (lines with their CRLF) are fine, 8193 are 400. */
    char tr[9000];
    size_t t = 0;
    memcpy(tr, "0\r\n", 3);
    t = 3;
    memcpy(tr + t, "X-T: ", 5);
    t += 5;
    while (t < 3 + 8192 - 2) {
        tr[t++] = 'v';
    }
    memcpy(tr + t, "\r\n\r\n", 5);
    CHECK(chunked_ok(tr, strlen(tr), "", strlen(tr)));
    memmove(tr + 9, tr + 8, strlen(tr + 8) + 1);
    CHECK(chunked_rejects(tr, 400));
    /* Many short trailer lines count too. */
    struct buf many;
    buf_init(&many, 1 << 20);
    int rc = buf_puts(&many, "0\r\n");
    for (int i = 0; rc == 0 && i < 2000; i++) {
        rc = buf_puts(&many, "A: b\r\n");
    }
    rc = rc ? rc : buf_puts(&many, "\r\n");
    CHECK_EQ_INT(rc, 0);
    CHECK(chunked_rejects(many.data, 400));
    buf_release(&many);

    /* A 16-digit size is accepted (and then bounded by max_body). */
    const char *b16 = "0000000000000003\r\nabc\r\n0\r\n\r\n";
    CHECK(chunked_ok(b16, strlen(b16), "abc", strlen(b16)));

    /* After completion, feeding returns 1 and consumes nothing; NULL body discards. */
    struct http_chunked ch;
    http_chunked_init(&ch, 100);
    size_t used = 0;
    int status = 0;
    CHECK_EQ_INT(http_chunked_feed(&ch, "3\r\nabc\r\n0\r\n\r\nGET", 16, &used, NULL, &status), 1);
    CHECK_EQ_INT(used, 13);
    CHECK_EQ_INT(http_chunked_feed(&ch, "GET", 3, &used, NULL, &status), 1);
    CHECK_EQ_INT(used, 0);
    /* Data arriving in pieces. */
    http_chunked_init(&ch, 100);
    struct buf out;
    buf_init(&out, 100);
    CHECK_EQ_INT(http_chunked_feed(&ch, "a\r\n0123", 7, &used, &out, &status), 0);
    CHECK_EQ_INT(used, 7);
    CHECK_EQ_INT(http_chunked_feed(&ch, "456789", 6, &used, &out, &status), 0);
    CHECK_EQ_INT(http_chunked_feed(&ch, "\r\n0\r\n", 5, &used, &out, &status), 0);
    CHECK_EQ_INT(http_chunked_feed(&ch, "\r\n", 2, &used, &out, &status), 1);
    CHECK_EQ_STR(out.data, "0123456789");
    buf_release(&out);
}

/* ---- helpers ------------------------------------------------------------------------- */

static void test_url_decode(void)
{
    struct buf out;
    buf_init(&out, 64);
    CHECK_EQ_INT(http_url_decode("a%20b+c", 7, false, &out), 5);
    CHECK_EQ_STR(out.data, "a b+c");
    buf_reset(&out);
    CHECK_EQ_INT(http_url_decode("a%20b+c", 7, true, &out), 5);
    CHECK_EQ_STR(out.data, "a b c");
    buf_reset(&out);
    CHECK_EQ_INT(http_url_decode("%c3%A9%2F", 9, false, &out), 3);
    CHECK_EQ_STR(out.data, "\xc3\xa9/");
    buf_reset(&out);
    CHECK_EQ_INT(http_url_decode("", 0, false, &out), 0);
    CHECK_EQ_STR(out.data, "");
    /* Appends; on error out is unchanged. */
    CHECK_EQ_INT(http_url_decode("ab", 2, false, &out), 2);
    CHECK_EQ_INT(http_url_decode("cd%zz", 5, false, &out), SB_E_INVAL);
    CHECK_EQ_STR(out.data, "ab");
    CHECK_EQ_INT(http_url_decode("%4", 2, false, &out), SB_E_INVAL);
    CHECK_EQ_INT(http_url_decode("%", 1, false, &out), SB_E_INVAL);
    CHECK_EQ_INT(http_url_decode("x%00", 4, false, &out), SB_E_INVAL);
    CHECK_EQ_INT(http_url_decode("x\0y", 3, false, &out), SB_E_INVAL);
    CHECK_EQ_INT(http_url_decode("%4g", 3, false, &out), SB_E_INVAL);
    CHECK_EQ_INT(http_url_decode("abcdef\0", 7, false, &out), SB_E_INVAL);
    CHECK_EQ_STR(out.data, "ab");
    CHECK_EQ_INT(out.len, 2);
    /* Plain runs around escapes, at both ends; '+' is plain outside a form. */
    buf_reset(&out);
    const char *mixed = "/api/v1/agents/0190a%2Db+c%41";
    CHECK_EQ_INT(http_url_decode(mixed, strlen(mixed), false, &out), 25);
    CHECK_EQ_STR(out.data, "/api/v1/agents/0190a-b+cA");
    buf_reset(&out);
    CHECK_EQ_INT(http_url_decode(mixed, strlen(mixed), true, &out), 25);
    CHECK_EQ_STR(out.data, "/api/v1/agents/0190a-b cA");
    buf_reset(&out);
    CHECK_EQ_INT(http_url_decode("+x+", 3, true, &out), 3);
    CHECK_EQ_STR(out.data, " x ");
    buf_release(&out);
    buf_init(&out, 3);
    CHECK_EQ_INT(http_url_decode("abcd", 4, false, &out), SB_E_TOOBIG);
    CHECK_EQ_INT(out.len, 0);
    buf_release(&out);
}

static void test_query_next(void)
{
    const char *q = "a=1&b=&c&&d=x=y&=z&";
    struct http_slice query = {q, strlen(q)}, k, v;
    size_t pos = 0;
    CHECK_EQ_INT(http_query_next(query, &pos, &k, &v), 1);
    CHECK(slice_is(k, "a") && slice_is(v, "1"));
    CHECK_EQ_INT(http_query_next(query, &pos, &k, &v), 1);
    CHECK(slice_is(k, "b") && slice_is(v, ""));
    CHECK_EQ_INT(http_query_next(query, &pos, &k, &v), 1);
    CHECK(slice_is(k, "c") && v.len == 0);
    CHECK_EQ_INT(http_query_next(query, &pos, &k, &v), 1);
    CHECK(slice_is(k, "d") && slice_is(v, "x=y"));
    CHECK_EQ_INT(http_query_next(query, &pos, &k, &v), 1);
    CHECK(slice_is(k, "") && slice_is(v, "z"));
    CHECK_EQ_INT(http_query_next(query, &pos, &k, &v), 0);
    CHECK_EQ_INT(http_query_next(query, &pos, &k, &v), 0);
    struct http_slice empty = {"", 0};
    pos = 0;
    CHECK_EQ_INT(http_query_next(empty, &pos, &k, &v), 0);
}

static void test_misc(void)
{
    struct http_limits d;
    http_limits_default(&d);
    CHECK_EQ_INT(d.max_line, 8192);
    CHECK_EQ_INT(d.max_head, 32768);
    CHECK_EQ_INT(d.max_fields, 100);
    CHECK_EQ_INT(d.max_body, 1024 * 1024);
    CHECK_EQ_STR(http_status_text(200), "OK");
    CHECK_EQ_STR(http_status_text(404), "Not Found");
    CHECK_EQ_STR(http_status_text(414), "URI Too Long");
    CHECK_EQ_STR(http_status_text(431), "Request Header Fields Too Large");
    CHECK_EQ_STR(http_status_text(505), "HTTP Version Not Supported");
    CHECK_EQ_STR(http_status_text(299), "Unknown");
    struct http_slice s = {"Content-Length", 14};
    CHECK(http_slice_eq_nocase(s, "content-length"));
    CHECK(http_slice_eq_nocase(s, "CONTENT-LENGTH"));
    CHECK(!http_slice_eq_nocase(s, "content-lengt"));
    CHECK(!http_slice_eq_nocase(s, "content-lengthx"));
    struct http_slice e = {"", 0};
    CHECK(http_slice_eq_nocase(e, ""));
    /* Errors are negative SB_E_* values. */
    struct http_head h;
    int status = 0;
    CHECK_EQ_INT(parse_n("GET / HTTP/2.0\r\n\r\n", 18, &h, &status), SB_E_PROTO);
}

int main(void)
{
    http_limits_default(&limits);
    test_get_query();
    test_no_query_and_methods();
    test_post_content_length();
    test_post_chunked();
    test_pipelined();
    test_head_options_http10();
    test_leading_empty_lines_and_lf();
    test_absolute_form();
    test_connection_expect_upgrade();
    test_framing_errors();
    test_transfer_encoding_errors();
    test_field_errors();
    test_host_errors();
    test_request_line_errors();
    test_bare_cr();
    test_value_ctl_positions();
    test_request_line_limit();
    test_field_count_limit();
    test_head_size_limit();
    test_chunked_errors();
    test_chunked_bounds();
    test_url_decode();
    test_query_next();
    test_misc();
    return test_done();
}
