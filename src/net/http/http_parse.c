/*
 * HTTP/1.1 request heads and chunked bodies, without I/O and without allocation.
 *
 * The head parser is stateless: the connection re-parses its whole buffer each time bytes
 * arrive (heads are small and capped, so the quadratic worst case is bounded by max_head).
 * Being stateless keeps it simple to reason about: every check is positional, in buffer
 * order, so a prefix of a buffer either needs more bytes or fails with the same status as
 * the whole buffer would at that position. The head limit is applied by parsing at most
 * max_head bytes: if those do not hold a complete head, the head is too large (431). The
 * request-line limit is checked byte by byte while looking for the line end (414).
 *
 * Policy decisions beyond the header's contract:
 * - Leading empty lines (CRLF or LF) before the request line are skipped and counted in the
 *   head's length (RFC 9112 §2.2); they count toward max_head.
 * - The request-target is origin-form ("/..."), "*" for OPTIONS, or absolute-form with an
 *   http/https scheme, whose path becomes path ("/" when empty) and whose authority becomes
 *   host (RFC 9112 §3.2.2: it overrides the Host field, which must still be present once).
 *   Target bytes must be visible ASCII other than '#'.
 * - Transfer-Encoding: exactly one "chunked" is accepted. A syntactically valid list of
 *   codings we do not implement ("gzip", "gzip, chunked") is 501. Anything else is 400: an
 *   empty or non-token element, parameters, "identity", "chunked" repeated or not last, more
 *   than one Transfer-Encoding field, or Transfer-Encoding in an HTTP/1.0 request.
 * - Content-Length must be digits only; a comma list ("5, 5") is 400 too.
 * - Expect: "100-continue" in HTTP/1.1 sets expect_continue; any other expectation is 417
 *   (RFC 9110 §10.1.1). HTTP/1.0 requests ignore Expect, as the RFC requires.
 * - An absolute-form target's authority is the host and the Host field is ignored beyond
 *   its syntax (RFC 9112 §3.2.2: the origin server MUST ignore it).
 * - The Host value may contain only reg-name, IP-literal and port characters.
 * - Chunked framing requires CRLF everywhere (a bare LF is 400), allows whitespace between
 *   the size and ';' or CRLF, and counts trailer bytes (lines with their CRLF) up to 8 KiB.
 */
#include "net/http/http_parse.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "base/limits.h"

void http_limits_default(struct http_limits *out)
{
    out->max_line = SB_LIMIT_REQUEST_LINE;
    out->max_head = SB_LIMIT_HEADER_BYTES;
    out->max_fields = SB_LIMIT_HEADER_FIELDS;
    out->max_body = SB_LIMIT_BODY;
}

/* RFC 9110 tchar: the characters of methods, field names and coding names. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Does p[0..n) hold a CTL (is_ctl)? Eight bytes at a time: a word with no byte under 0x20
 * and none equal to 0x7f has none (bytes from 0x80 up are obs-text and pass); a word that may
 * (a TAB, which values allow, or a CTL) is checked byte by byte. */
static bool has_ctl(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t del = x ^ (0x7f * ones);
        if (((x - 0x20 * ones) & ~x & highs) == 0 && ((del - ones) & ~del & highs) == 0) {
            continue;
        }
        for (size_t k = i; k < i + 8; k++) {
            if (is_ctl((unsigned char)p[k])) {
                return true;
            }
        }
    }
    for (; i < n; i++) {
        if (is_ctl((unsigned char)p[i])) {
            return true;
        }
    }
    return false;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool http_slice_eq_nocase(struct http_slice a, const char *b)
{
    size_t n = strlen(b);
    if (a.len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower(a.ptr[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

const struct http_slice *http_head_field(const struct http_head *head, const char *name)
{
    for (size_t i = 0; i < head->nfields; i++) {
        if (http_slice_eq_nocase(head->fields[i].name, name)) {
            return &head->fields[i].value;
        }
    }
    return NULL;
}

static int fail(int *status, int code)
{
    *status = code;
    return code == 413 ? SB_E_TOOBIG : SB_E_PROTO;
}

/* ---- head ---------------------------------------------------------------------------- */

enum line_rc { LINE_OK, LINE_MORE, LINE_BARE_CR, LINE_TOO_LONG };

/*
 * Find the end of the line starting at buf[start]. On LINE_OK, *end is the index of the line
 * end (CR or LF) and *next the index after it. A line with more than max content bytes is
 * LINE_TOO_LONG as soon as its (max+1)th byte is seen; a CR not followed by LF is LINE_BARE_CR.
 */
static enum line_rc find_line(const char *buf, size_t start, size_t len, size_t max, size_t *end,
                              size_t *next)
{
    /* memchr for the terminators (vectorised in libc) instead of a test per byte: the first
     * LF within the line's bounds, then the first CR before it. */
    size_t avail = len - start;
    size_t window = max < avail ? max + 1 : avail;
    const char *p = buf + start;
    const char *lf = memchr(p, '\n', window);
    const char *cr = memchr(p, '\r', lf ? (size_t)(lf - p) : window);
    if (cr) {
        size_t i = (size_t)(cr - buf);
        if (i + 1 == len) {
            return LINE_MORE;
        }
        if (buf[i + 1] != '\n') {
            return LINE_BARE_CR;
        }
        *end = i;
        *next = i + 2;
        return LINE_OK;
    }
    if (lf) {
        *end = (size_t)(lf - buf);
        *next = *end + 1;
        return LINE_OK;
    }
    return avail > max ? LINE_TOO_LONG : LINE_MORE;
}

static enum http_method method_from(struct http_slice m)
{
    static const struct {
        const char *name;
        enum http_method method;
    } methods[] = {
        {"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
        {"PUT", HTTP_PUT},         {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE},
        {"OPTIONS", HTTP_OPTIONS},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strlen(methods[i].name) == m.len && memcmp(methods[i].name, m.ptr, m.len) == 0) {
            return methods[i].method;
        }
    }
    return HTTP_OTHER;
}

static bool has_prefix_nocase(const char *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    if (n < k) {
        return false;
    }
    struct http_slice s = {p, k};
    return http_slice_eq_nocase(s, prefix);
}

/* Split the target into path and query; for absolute-form take the authority as host. */
static int split_target(struct http_head *out)
{
    static const char root[] = "/";
    const char *t = out->target.ptr;
    size_t n = out->target.len;
    size_t path_start = 0;

    if (t[0] == '*') {
        if (n != 1 || out->method != HTTP_OPTIONS) {
            return -1;
        }
        out->path = out->target;
        out->query = (struct http_slice){t + n, 0};
        return 0;
    }
    if (t[0] != '/') {
        size_t scheme;
        if (has_prefix_nocase(t, n, "http://")) {
            scheme = 7;
        } else if (has_prefix_nocase(t, n, "https://")) {
            scheme = 8;
        } else {
            return -1;
        }
        size_t a = scheme;
        while (a < n && t[a] != '/' && t[a] != '?') {
            if (t[a] == '@') {
                return -1; /* userinfo is deprecated and a phishing vector */
            }
            a++;
        }
        if (a == scheme) {
            return -1;
        }
        out->host = (struct http_slice){t + scheme, a - scheme};
        path_start = a;
    }
    size_t q = path_start;
    while (q < n && t[q] != '?') {
        q++;
    }
    if (q == path_start) {
        out->path = (struct http_slice){root, 1};
    } else {
        out->path = (struct http_slice){t + path_start, q - path_start};
    }
    if (q < n) {
        out->query = (struct http_slice){t + q + 1, n - q - 1};
    } else {
        out->query = (struct http_slice){t + n, 0};
    }
    return 0;
}

/* method SP request-target SP HTTP-version; returns 0 or the status to answer. */
static int parse_request_line(const char *p, size_t n, struct http_head *out)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i])) {
        i++;
    }
    if (i == 0 || i == n || p[i] != ' ') {
        return 400;
    }
    out->method_str = (struct http_slice){p, i};
    out->method = method_from(out->method_str);

    size_t t = ++i;
    while (i < n && p[i] != ' ') {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            return 400;
        }
        i++;
    }
    if (i == t || i == n) {
        return 400;
    }
    out->target = (struct http_slice){p + t, i - t};
    i++;

    const char *v = p + i;
    if (n - i != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9') {
        return 400;
    }
    if (v[5] != '1' || v[7] > '1') {
        return 505;
    }
    out->minor_version = v[7] - '0';
    return split_target(out) < 0 ? 400 : 0;
}

/* field-name ":" OWS field-value OWS; returns 0 or 400. */
static int parse_field(const char *p, size_t n, struct http_field *f)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i])) {
        i++;
    }
    if (i == 0 || i == n || p[i] != ':') {
        return 400;
    }
    f->name = (struct http_slice){p, i};
    i++;
    while (i < n && is_ows(p[i])) {
        i++;
    }
    size_t e = n;
    while (e > i && is_ows(p[e - 1])) {
        e--;
    }
    if (has_ctl(p + i, e - i)) {
        return 400;
    }
    f->value = (struct http_slice){p + i, e - i};
    return 0;
}

/* Parse a decimal Content-Length; -1 when it is not all digits or overflows int64. */
static int64_t parse_length(struct http_slice v)
{
    if (v.len == 0) {
        return -1;
    }
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.ptr[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        int d = c - '0';
        if (n > (INT64_MAX - d) / 10) {
            return -1;
        }
        n = n * 10 + d;
    }
    return n;
}

/*
 * Call fn on each element of a comma-separated list with OWS trimmed (empty elements
 * included, as zero-length slices). Stops early when fn returns non-zero and returns that.
 */
static int list_each(struct http_slice v, int (*fn)(struct http_slice elem, void *arg), void *arg)
{
    size_t i = 0;
    for (;;) {
        size_t s = i;
        while (i < v.len && v.ptr[i] != ',') {
            i++;
        }
        size_t a = s, b = i;
        while (a < b && is_ows(v.ptr[a])) {
            a++;
        }
        while (b > a && is_ows(v.ptr[b - 1])) {
            b--;
        }
        int rc = fn((struct http_slice){v.ptr + a, b - a}, arg);
        if (rc != 0) {
            return rc;
        }
        if (i >= v.len) {
            return 0;
        }
        i++;
    }
}

struct conn_tokens {
    bool close, keep_alive, upgrade;
};

static int conn_token(struct http_slice elem, void *arg)
{
    struct conn_tokens *ct = arg;
    if (http_slice_eq_nocase(elem, "close")) {
        ct->close = true;
    } else if (http_slice_eq_nocase(elem, "keep-alive")) {
        ct->keep_alive = true;
    } else if (http_slice_eq_nocase(elem, "upgrade")) {
        ct->upgrade = true;
    }
    return 0;
}

struct te_state {
    size_t elems;
    bool chunked_seen;
};

static int te_elem(struct http_slice elem, void *arg)
{
    struct te_state *te = arg;
    if (elem.len == 0 || te->chunked_seen) {
        return 400; /* empty element, or anything after "chunked" */
    }
    for (size_t i = 0; i < elem.len; i++) {
        if (!is_tchar((unsigned char)elem.ptr[i])) {
            return 400;
        }
    }
    if (http_slice_eq_nocase(elem, "identity")) {
        return 400;
    }
    if (http_slice_eq_nocase(elem, "chunked")) {
        te->chunked_seen = true;
    }
    te->elems++;
    return 0;
}

/* 0 when the Transfer-Encoding value is exactly "chunked", else 400 or 501. */
static int check_te(struct http_slice v)
{
    struct te_state te = {0, false};
    int rc = list_each(v, te_elem, &te);
    if (rc != 0) {
        return rc;
    }
    return te.elems == 1 && te.chunked_seen ? 0 : 501;
}

static bool valid_host(struct http_slice h)
{
    for (size_t i = 0; i < h.len; i++) {
        unsigned char c = (unsigned char)h.ptr[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c != 0 && strchr("-._~!$&'()*+,;=:[]%", c) != NULL);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Framing, Host and connection semantics over the parsed fields; returns 0 or a status. */
static int check_fields(struct http_head *out)
{
    bool has_te = false, has_upgrade = false;
    size_t te_count = 0, host_count = 0;
    struct http_slice te_value = {NULL, 0}, host_value = {NULL, 0};
    struct conn_tokens ct = {false, false, false};

    for (size_t i = 0; i < out->nfields; i++) {
        const struct http_field *f = &out->fields[i];
        if (http_slice_eq_nocase(f->name, "content-length")) {
            int64_t n = parse_length(f->value);
            if (n < 0 || (out->content_length >= 0 && out->content_length != n)) {
                return 400;
            }
            out->content_length = n;
        } else if (http_slice_eq_nocase(f->name, "transfer-encoding")) {
            has_te = true;
            te_count++;
            te_value = f->value;
        } else if (http_slice_eq_nocase(f->name, "host")) {
            host_count++;
            host_value = f->value;
        } else if (http_slice_eq_nocase(f->name, "connection")) {
            list_each(f->value, conn_token, &ct);
        } else if (http_slice_eq_nocase(f->name, "expect")) {
            if (out->minor_version == 1) {
                if (!http_slice_eq_nocase(f->value, "100-continue")) {
                    return 417;
                }
                out->expect_continue = true;
            }
        } else if (http_slice_eq_nocase(f->name, "upgrade")) {
            has_upgrade = true;
        }
    }

    if (has_te) {
        if (out->content_length >= 0 || out->minor_version == 0 || te_count > 1) {
            return 400;
        }
        int rc = check_te(te_value);
        if (rc != 0) {
            return rc;
        }
        out->chunked = true;
    }
    if (host_count > 1 || (host_count == 0 && out->minor_version == 1)) {
        return 400;
    }
    if (host_count == 1) {
        if (!valid_host(host_value)) {
            return 400;
        }
        if (out->host.ptr == NULL) {
            out->host = host_value;
        }
    }
    if (out->minor_version == 1) {
        out->keep_alive = !ct.close;
    } else {
        out->keep_alive = ct.keep_alive && !ct.close;
    }
    out->upgrade = ct.upgrade && has_upgrade;
    return 0;
}

/* The head parser proper over buf[0..len); 0 = need more, > 0 = length, else -status. */
static int parse_head(const char *buf, size_t len, const struct http_limits *lim,
                      struct http_head *out)
{
    size_t pos = 0;
    for (;;) {
        if (pos == len) {
            return 0;
        }
        if (buf[pos] == '\n') {
            pos++;
        } else if (buf[pos] == '\r') {
            if (pos + 1 == len) {
                return 0;
            }
            if (buf[pos + 1] != '\n') {
                return -400;
            }
            pos += 2;
        } else {
            break;
        }
    }

    size_t end = 0, next = 0;
    switch (find_line(buf, pos, len, lim->max_line, &end, &next)) {
    case LINE_MORE:
        return 0;
    case LINE_BARE_CR:
        return -400;
    case LINE_TOO_LONG:
        return -414;
    case LINE_OK:
        break;
    }
    int st = parse_request_line(buf + pos, end - pos, out);
    if (st != 0) {
        return -st;
    }
    pos = next;

    for (;;) {
        switch (find_line(buf, pos, len, SIZE_MAX, &end, &next)) {
        case LINE_MORE:
        case LINE_TOO_LONG:
            return 0;
        case LINE_BARE_CR:
            return -400;
        case LINE_OK:
            break;
        }
        if (end == pos) {
            pos = next;
            break;
        }
        if (out->nfields >= lim->max_fields) {
            return -431;
        }
        if (is_ows(buf[pos])) {
            return -400; /* obs-fold, or whitespace before the first field */
        }
        if (parse_field(buf + pos, end - pos, &out->fields[out->nfields]) != 0) {
            return -400;
        }
        out->nfields++;
        pos = next;
    }

    st = check_fields(out);
    if (st != 0) {
        return -st;
    }
    return (int)pos;
}

int http_head_parse(const char *buf, size_t len, const struct http_limits *limits,
                    struct http_head *out, struct http_field *fields, int *status)
{
    struct http_limits defaults;
    if (!limits) {
        http_limits_default(&defaults);
        limits = &defaults;
    }
    memset(out, 0, sizeof *out);
    out->fields = fields;
    out->content_length = -1;

    /* A head that is not complete within max_head bytes is too large, whatever follows. */
    size_t max_head = limits->max_head > INT_MAX ? INT_MAX : limits->max_head;
    size_t avail = len < max_head ? len : max_head;
    int rc = parse_head(buf, avail, limits, out);
    if (rc < 0) {
        return fail(status, -rc);
    }
    if (rc == 0 && len >= max_head) {
        return fail(status, 431);
    }
    return rc;
}

/* ---- chunked body -------------------------------------------------------------------- */

enum chunk_state {
    CH_SIZE,         /* hex digits of the chunk size */
    CH_SIZE_WS,      /* whitespace after the size */
    CH_EXT,          /* chunk extensions, skipped */
    CH_SIZE_LF,      /* LF ending the size line */
    CH_DATA,         /* chunk data */
    CH_DATA_CR,      /* CR after the data */
    CH_DATA_LF,      /* LF after the data */
    CH_TRAILER,      /* at the start of a trailer line (or the final CRLF) */
    CH_TRAILER_LINE, /* inside a trailer field line, skipped */
    CH_TRAILER_LF,   /* LF ending a trailer line */
    CH_END_LF,       /* LF of the final CRLF */
    CH_DONE,
    CH_ERR_400,
    CH_ERR_413,
};

void http_chunked_init(struct http_chunked *self, size_t max_body)
{
    memset(self, 0, sizeof *self);
    self->state = CH_SIZE;
    self->max_body = max_body;
}

static int chunk_fail(struct http_chunked *self, int code, int *status)
{
    self->state = code == 413 ? CH_ERR_413 : CH_ERR_400;
    return fail(status, code);
}

/* One framing byte (any state but CH_DATA); returns 0 to go on, 1 when done, or a status. */
static int chunk_byte(struct http_chunked *self, char c)
{
    switch (self->state) {
    case CH_SIZE: {
        int d = hex_value(c);
        if (d >= 0) {
            if (self->size_digits == SB_LIMIT_CHUNK_DIGITS) {
                return 400;
            }
            self->remaining = (self->remaining << 4) | (uint64_t)d;
            self->size_digits++;
            break;
        }
        if (self->size_digits == 0) {
            return 400;
        }
        if (c == ';') {
            self->state = CH_EXT;
        } else if (is_ows(c)) {
            self->state = CH_SIZE_WS;
        } else if (c == '\r') {
            self->state = CH_SIZE_LF;
            return 0;
        } else {
            return 400;
        }
        break;
    }
    case CH_SIZE_WS:
        if (c == ';') {
            self->state = CH_EXT;
        } else if (c == '\r') {
            self->state = CH_SIZE_LF;
            return 0;
        } else if (!is_ows(c)) {
            return 400;
        }
        break;
    case CH_EXT:
        if (c == '\r') {
            self->state = CH_SIZE_LF;
            return 0;
        }
        if (is_ctl((unsigned char)c)) {
            return 400;
        }
        break;
    case CH_SIZE_LF:
        if (c != '\n') {
            return 400;
        }
        self->line_len = 0;
        if (self->remaining == 0) {
            self->state = CH_TRAILER;
            return 0;
        }
        if (self->remaining > self->max_body || self->decoded > self->max_body - self->remaining) {
            return 413;
        }
        self->decoded += self->remaining;
        self->state = CH_DATA;
        return 0;
    case CH_DATA_CR:
        if (c != '\r') {
            return 400;
        }
        self->state = CH_DATA_LF;
        return 0;
    case CH_DATA_LF:
        if (c != '\n') {
            return 400;
        }
        self->state = CH_SIZE;
        self->size_digits = 0;
        self->line_len = 0;
        self->remaining = 0;
        return 0;
    case CH_TRAILER:
        if (c == '\r') {
            self->state = CH_END_LF;
            return 0;
        }
        /* The byte starts a trailer line. */
        self->state = CH_TRAILER_LINE;
        /* fall through */
    case CH_TRAILER_LINE:
        if (c == '\r') {
            self->state = CH_TRAILER_LF;
        } else if (is_ctl((unsigned char)c)) {
            return 400;
        }
        break;
    case CH_TRAILER_LF:
        if (c != '\n') {
            return 400;
        }
        self->state = CH_TRAILER;
        break;
    case CH_END_LF:
        if (c != '\n') {
            return 400;
        }
        self->state = CH_DONE;
        return 1;
    default:
        return 400;
    }

    /* Bytes of the size line (before its CR) or of the trailer section (with CRLFs). */
    self->line_len++;
    bool in_trailer =
        self->state == CH_TRAILER || self->state == CH_TRAILER_LINE || self->state == CH_TRAILER_LF;
    if (self->line_len > (in_trailer ? SB_LIMIT_CHUNK_TRAILER : SB_LIMIT_CHUNK_LINE)) {
        return 400;
    }
    return 0;
}

int http_chunked_feed(struct http_chunked *self, const char *data, size_t len, size_t *consumed,
                      struct buf *body, int *status)
{
    *consumed = 0;
    if (self->state == CH_DONE) {
        return 1;
    }
    if (self->state == CH_ERR_400 || self->state == CH_ERR_413) {
        return fail(status, self->state == CH_ERR_413 ? 413 : 400);
    }
    size_t i = 0;
    while (i < len) {
        if (self->state == CH_DATA) {
            size_t n = len - i;
            if ((uint64_t)n > self->remaining) {
                n = (size_t)self->remaining;
            }
            if (body && buf_append(body, data + i, n) < 0) {
                *consumed = i;
                return chunk_fail(self, 413, status);
            }
            self->remaining -= n;
            i += n;
            if (self->remaining == 0) {
                self->state = CH_DATA_CR;
            }
            continue;
        }
        int rc = chunk_byte(self, data[i]);
        if (rc > 1) {
            *consumed = i;
            return chunk_fail(self, rc, status);
        }
        i++;
        if (rc == 1) {
            *consumed = i;
            return 1;
        }
    }
    *consumed = i;
    return 0;
}

/* ---- URLs and status texts ----------------------------------------------------------- */

int http_url_decode(const char *s, size_t len, bool form, struct buf *out)
{
    size_t orig = out->len;
    int rc = buf_append(out, "", 0); /* the result is NUL-terminated even when empty */
    for (size_t i = 0; rc == 0 && i < len; i++) {
        /* A run of bytes that decode to themselves goes in one append. */
        size_t run = i;
        while (run < len && s[run] != '%' && s[run] != '\0' && !(form && s[run] == '+')) {
            run++;
        }
        if (run > i) {
            rc = buf_append(out, s + i, run - i);
            i = run - 1;
            continue;
        }
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                rc = SB_E_INVAL;
                break;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (form && c == '+') {
            c = ' ';
        }
        if (c == '\0') {
            rc = SB_E_INVAL;
            break;
        }
        rc = buf_putc(out, c);
    }
    if (rc == 0 && out->len - orig > INT_MAX) {
        rc = SB_E_TOOBIG;
    }
    if (rc < 0) {
        out->len = orig;
        if (out->data) {
            out->data[orig] = '\0';
        }
        return rc;
    }
    return (int)(out->len - orig);
}

int http_query_next(struct http_slice query, size_t *pos, struct http_slice *key,
                    struct http_slice *value)
{
    while (*pos < query.len) {
        size_t start = *pos, end = start;
        while (end < query.len && query.ptr[end] != '&') {
            end++;
        }
        *pos = end < query.len ? end + 1 : end;
        if (end == start) {
            continue;
        }
        size_t eq = start;
        while (eq < end && query.ptr[eq] != '=') {
            eq++;
        }
        *key = (struct http_slice){query.ptr + start, eq - start};
        if (eq < end) {
            *value = (struct http_slice){query.ptr + eq + 1, end - eq - 1};
        } else {
            *value = (struct http_slice){query.ptr + end, 0};
        }
        return 1;
    }
    return 0;
}

const char *http_status_text(int status)
{
    static const struct {
        int status;
        const char *text;
    } texts[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {422, "Unprocessable Content"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (texts[i].status == status) {
            return texts[i].text;
        }
    }
    return "Unknown";
}
