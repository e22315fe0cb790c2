/*
 * HTTP/1.1 request parsing, I/O-free: bytes in, a parsed request head or a body out. No
 * globals, no server types, no allocation in the head parser, so the SDK can reuse it and
 * fuzzers can drive it.
 *
 * Use: the connection keeps unparsed bytes in a buffer and calls http_head_parse() on the
 * whole buffer each time bytes arrive. When it returns > 0 the head is complete; its slices
 * point into the caller's buffer. The body then follows: Content-Length bytes, or chunked
 * framing decoded incrementally with struct http_chunked.
 *
 * Strictness (RFC 9112 and request-smuggling defences): CR LF line endings (a bare LF is
 * tolerated only as a line end, never inside a line); obs-fold, whitespace between a field
 * name and the colon, a field name that is not a token, both Content-Length and
 * Transfer-Encoding, more than one Content-Length (unless all equal), a Content-Length that
 * is not all digits, a Transfer-Encoding other than exactly "chunked", a missing Host in
 * HTTP/1.1, or more than one Host are all errors with status 400. Only HTTP/1.0 and 1.1 are
 * accepted (505 otherwise). A request line longer than max_line answers 414; a head over
 * max_head bytes or max_fields fields answers 431. These limit errors are reported as soon
 * as the buffer proves them, even before the head is complete.
 */
#ifndef SB_NET_HTTP_PARSE_H
#define SB_NET_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum http_method {
    HTTP_OTHER = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
};

struct http_slice {
    const char *ptr;
    size_t len;
};

struct http_field {
    struct http_slice name;  /* as sent; compare case-insensitively */
    struct http_slice value; /* leading and trailing whitespace removed */
};

struct http_limits {
    size_t max_line;   /* request line, bytes without CRLF (default 8192) */
    size_t max_head;   /* whole head including request line and final CRLF (default 32768) */
    size_t max_fields; /* header fields (default 100) */
    size_t max_body;   /* decoded body bytes (default 1 MiB) */
};

/* The defaults of DESIGN §8. */
void http_limits_default(struct http_limits *out);

struct http_head {
    enum http_method method;
    struct http_slice method_str;
    struct http_slice target;  /* request-target as sent */
    struct http_slice path;    /* target up to '?' (not decoded) */
    struct http_slice query;   /* after '?', empty if none */
    int minor_version;         /* 0 or 1 */
    struct http_field *fields; /* caller's array given to http_head_parse */
    size_t nfields;
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* after Connection and version defaults */
    bool expect_continue;   /* Expect: 100-continue */
    bool upgrade;           /* Connection contains "upgrade" and an Upgrade field is present */
    struct http_slice host;
};

/*
 * Parse a request head at the start of buf[0..len). fields must have room for
 * limits->max_fields entries. Returns the head's length in bytes (> 0) when complete, 0 when
 * more bytes are needed, or a negative SB_E_* error with *status set to the HTTP status to
 * answer (400, 414, 431, 501 for an unsupported transfer coding, 505). After an error the
 * connection must be closed after the response.
 */
int http_head_parse(const char *buf, size_t len, const struct http_limits *limits,
                    struct http_head *out, struct http_field *fields, int *status);

/* The value of the first field named name (case-insensitive), or NULL. */
const struct http_slice *http_head_field(const struct http_head *head, const char *name);

/* True when a and the C string b are equal ignoring ASCII case. */
bool http_slice_eq_nocase(struct http_slice a, const char *b);

/* Incremental decoder of a chunked request body (chunk extensions ignored, trailers skipped). */
struct http_chunked {
    int state;          /* private */
    uint64_t remaining; /* private: bytes left in the current chunk */
    size_t size_digits; /* private */
    size_t line_len;    /* private: length of the current size/trailer line */
    size_t max_body;    /* decoded bytes allowed */
    uint64_t decoded;   /* private: body bytes announced by chunk sizes so far */
};

void http_chunked_init(struct http_chunked *self, size_t max_body);

/*
 * Feed data[0..len). Decoded body bytes are appended to body (NULL discards them). *consumed is set
 * to the bytes used (the rest belongs to the next request). Returns 1 when the body is complete, 0
 * when more input is needed, or a negative SB_E_* error with *status set (400 for bad framing or a
 * bad chunk size, 413 when the body would exceed max_body).
 */
int http_chunked_feed(struct http_chunked *self, const char *data, size_t len, size_t *consumed,
                      struct buf *body, int *status);

/* Percent-decode s[0..len) into out (NUL-terminated); '+' is a space when form is true.
 * The decoded bytes are appended to out (pass an empty buffer to get just them); on error out
 * is left as it was. Returns the decoded length or SB_E_INVAL for a bad escape or an embedded
 * NUL (SB_E_TOOBIG when out's cap is reached). */
int http_url_decode(const char *s, size_t len, bool form, struct buf *out);

/*
 * Iterate over the query string's key=value pairs: *pos starts at 0. Returns 1 with the raw
 * (still encoded) key and value slices, or 0 at the end.
 */
int http_query_next(struct http_slice query, size_t *pos, struct http_slice *key,
                    struct http_slice *value);

/* Reason phrase for a status code ("Not Found"); "Unknown" when not known. */
const char *http_status_text(int status);

#endif
