/*
 * libFuzzer target for the HTTP/1.1 request parser (src/net/http/http_parse.c).
 *
 * The input is what a peer could send on one connection: it is parsed as a request head; when
 * the head is complete and chunked, the rest is fed to the chunked decoder. Besides crashes
 * and sanitizer reports, the target checks the parser's invariants and aborts when one
 * breaks, because a fuzzer only notices what crashes:
 * - an error carries one of the documented statuses; "need more" only below max_head bytes;
 * - a complete head lies within the input and max_head, its slices point into it, and the
 *   same head parsed alone gives the same length while its prefix one byte shorter needs more;
 * - the query iterates to its end, and percent-decoding never overruns;
 * - the chunked body decoded in one call equals the body decoded one byte at a time, with the
 *   same result, status and consumed byte count.
 * The function is also compiled into tests/unit/http/test_http_corpus.c, which replays
 * fuzz/corpus/http/ in every test run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "net/http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_BODY (64 * 1024)

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int fuzz_slice_inside(struct http_slice s, const char *buf, size_t len)
{
    return s.len == 0 || (s.ptr >= buf && s.len <= len && s.ptr - buf <= (ptrdiff_t)(len - s.len));
}

static void fuzz_query(struct http_slice query)
{
    size_t pos = 0, count = 0;
    struct http_slice key, value;
    while (http_query_next(query, &pos, &key, &value) == 1) {
        FUZZ_ASSERT(count++ <= query.len);
        FUZZ_ASSERT(pos <= query.len);
        struct buf out;
        buf_init(&out, query.len + 1);
        int rc = http_url_decode(key.ptr, key.len, true, &out);
        FUZZ_ASSERT(rc < 0 || (size_t)rc <= key.len);
        buf_reset(&out);
        rc = http_url_decode(value.ptr, value.len, false, &out);
        FUZZ_ASSERT(rc < 0 || ((size_t)rc == out.len && out.data[out.len] == '\0'));
        buf_release(&out);
    }
}

/* Decode the chunked body in data[0..len) in one call, then one byte at a time; compare. */
static void fuzz_chunked(const char *data, size_t len)
{
    struct http_chunked whole, bytes;
    struct buf body_whole, body_bytes;
    buf_init(&body_whole, FUZZ_MAX_BODY);
    buf_init(&body_bytes, FUZZ_MAX_BODY);
    http_chunked_init(&whole, FUZZ_MAX_BODY);
    http_chunked_init(&bytes, FUZZ_MAX_BODY);

    size_t used_whole = 0;
    int status_whole = 0;
    int rc_whole = http_chunked_feed(&whole, data, len, &used_whole, &body_whole, &status_whole);
    FUZZ_ASSERT(used_whole <= len);
    FUZZ_ASSERT(rc_whole >= 0 || status_whole == 400 || status_whole == 413);
    FUZZ_ASSERT(rc_whole != 0 || used_whole == len);

    size_t used_bytes = 0;
    int status_bytes = 0, rc_bytes = 0;
    for (size_t i = 0; i < len; i++) {
        size_t used = 0;
        rc_bytes = http_chunked_feed(&bytes, data + i, 1, &used, &body_bytes, &status_bytes);
        used_bytes += used;
        if (rc_bytes != 0) {
            break;
        }
        FUZZ_ASSERT(used == 1);
    }
    FUZZ_ASSERT(rc_bytes == rc_whole);
    FUZZ_ASSERT(used_bytes == used_whole);
    FUZZ_ASSERT(rc_whole >= 0 || status_bytes == status_whole);
    FUZZ_ASSERT(body_whole.len == body_bytes.len);
    FUZZ_ASSERT(body_whole.len == 0 ||
                memcmp(body_whole.data, body_bytes.data, body_whole.len) == 0);
    buf_release(&body_whole);
    buf_release(&body_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct http_limits limits;
    http_limits_default(&limits);
    limits.max_body = FUZZ_MAX_BODY;
    static struct http_field fields[100], fields2[100];
    struct http_head head, again;
    int status = 0;

    int rc = http_head_parse(buf, size, &limits, &head, fields, &status);
    if (rc < 0) {
        FUZZ_ASSERT(status == 400 || status == 414 || status == 431 || status == 501 ||
                    status == 505);
        return 0;
    }
    if (rc == 0) {
        FUZZ_ASSERT(size < limits.max_head);
        return 0;
    }
    size_t n = (size_t)rc;
    FUZZ_ASSERT(n <= size && n <= limits.max_head);
    FUZZ_ASSERT(head.nfields <= limits.max_fields);
    FUZZ_ASSERT(head.minor_version == 0 || head.minor_version == 1);
    FUZZ_ASSERT(head.method_str.len > 0 && fuzz_slice_inside(head.method_str, buf, n));
    FUZZ_ASSERT(head.target.len > 0 && fuzz_slice_inside(head.target, buf, n));
    FUZZ_ASSERT(fuzz_slice_inside(head.path, buf, n) ||
                (head.path.len == 1 && head.path.ptr[0] == '/'));
    FUZZ_ASSERT(fuzz_slice_inside(head.query, buf, n));
    FUZZ_ASSERT(fuzz_slice_inside(head.host, buf, n));
    for (size_t i = 0; i < head.nfields; i++) {
        FUZZ_ASSERT(head.fields[i].name.len > 0 && fuzz_slice_inside(head.fields[i].name, buf, n));
        FUZZ_ASSERT(fuzz_slice_inside(head.fields[i].value, buf, n));
    }
    FUZZ_ASSERT(!(head.chunked && head.content_length >= 0));

    FUZZ_ASSERT(http_head_parse(buf, n, &limits, &again, fields2, &status) == rc);
    FUZZ_ASSERT(again.nfields == head.nfields && again.content_length == head.content_length);
    FUZZ_ASSERT(http_head_parse(buf, n - 1, &limits, &again, fields2, &status) == 0);

    fuzz_query(head.query);
    if (head.chunked) {
        fuzz_chunked(buf + n, size - n);
    }
    return 0;
}
